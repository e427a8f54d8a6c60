package kube

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Knative labels shiplog reads.
const (
	labelService       = "serving.knative.dev/service"
	labelConfiguration = "serving.knative.dev/configuration"
	labelRevision      = "serving.knative.dev/revision"
)

// knPrefix is the id prefix of every event about one Knative object of a
// kind ("service", "route" or "revision").
func knPrefix(cluster, namespace, kind, name string) string {
	return "knative/" + cluster + "/" + namespace + "/" + kind + "/" + name
}

// ServiceState is what has been recorded about one Knative Service (or a
// Route no Service owns): the fold, by Apply, of its recorded events.
type ServiceState struct {
	App, Env string
	// Split is the last traffic split recorded, sorted by revision and tag.
	Split []delivery.TrafficTarget
	// Live is the last deployment recorded (Op and Revision: the revision).
	Live LiveDeployment
	// Deployed holds the revisions that served their target share once.
	Deployed map[string]bool
	Removed  bool
}

// Apply folds one recorded event into the state.
func (s *ServiceState) Apply(e delivery.Event) {
	set(&s.App, e.App)
	set(&s.Env, e.Env)
	switch p := e.Payload.(type) {
	case *delivery.Traffic:
		s.Split = normSplit(p.Targets)
	case *delivery.Deployment:
		if e.Type == delivery.ServiceRemoved {
			s.Live, s.Removed = LiveDeployment{}, true
			return
		}
		s.Live = LiveDeployment{Op: p.Revision, Revision: p.Revision, Artifact: p.Artifact}
		s.Removed = false
		if s.Deployed == nil {
			s.Deployed = map[string]bool{}
		}
		s.Deployed[p.Revision] = true
	}
}

// normSplit returns a copy of a split sorted by revision, then tag.
func normSplit(ts []delivery.TrafficTarget) []delivery.TrafficTarget {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b delivery.TrafficTarget) int {
		return cmp.Or(strings.Compare(a.Revision, b.Revision), strings.Compare(a.Tag, b.Tag))
	})
	return out
}

// ArtifactFunc names what a Knative revision runs (its image, by digest
// when known), or "" when the revision is unknown.
type ArtifactFunc func(namespace, revision string) string

// ConvertService returns the events for what a Knative Service's status
// shows that prev has not recorded: traffic.changed when status.traffic
// (revision → percent, tag, latestRevision) differs from the recorded
// split, and a deployment (inferred from "knative") when a revision other
// than the live one serves at least the target share: service.deployed for
// the Service's first, service.rolledback for a revision that served its
// target share before, else service.upgraded. artifact, if not nil, names
// revisions' images; else the Service's template image names its latest
// created revision, and the revision name the others.
//
// Ids: "knative/<cluster>/<namespace>/service/<name>/traffic/<resourceVersion>"
// and ".../deployment/<revision>/<resourceVersion>".
func ConvertService(o Origin, svc *KService, prev *ServiceState, artifact ArtifactFunc, now time.Time) ([]delivery.Event, error) {
	image := ""
	if cs := svc.Spec.Template.Spec.Containers; len(cs) > 0 {
		image = cs[0].Image
	}
	return convertTraffic(o, "service", svc.Metadata, svc.Status, image, prev, artifact, now)
}

// ConvertRoute is ConvertService for a Route that no Service owns (a Route
// owned by a Service reports the Service's traffic: it is skipped). Its
// events name the Route as the service.
func ConvertRoute(o Origin, r *Route, prev *ServiceState, artifact ArtifactFunc, now time.Time) ([]delivery.Event, error) {
	if r.ownedByService() {
		return nil, nil
	}
	return convertTraffic(o, "route", r.Metadata, r.Status, "", prev, artifact, now)
}

func (r *Route) ownedByService() bool {
	for _, ref := range r.Metadata.OwnerReferences {
		if ref.Kind == "Service" && strings.HasPrefix(ref.APIVersion, "serving.knative.dev/") {
			return true
		}
	}
	return false
}

func convertTraffic(o Origin, kind string, m Meta, st RouteStatus, image string, prev *ServiceState, artifact ArtifactFunc, now time.Time) ([]delivery.Event, error) {
	if prev == nil {
		prev = &ServiceState{}
	}
	if m.Name == "" {
		return nil, fmt.Errorf("knative %s: metadata.name: missing", kind)
	}
	wrap := func(err error) error { return fmt.Errorf("knative %s %s/%s: %w", kind, m.Namespace, m.Name, err) }
	split, err := splitOf(st.Traffic)
	if err != nil {
		return nil, wrap(err)
	}
	if split == nil {
		return nil, nil // no complete split yet
	}
	app, env := AppEnv(m.Labels, m.Name, m.Namespace)
	prefix := knPrefix(o.Cluster, m.Namespace, kind, m.Name)
	rv := cmp.Or(m.ResourceVersion, stamp(now))
	base := delivery.Event{Source: o.Source, Time: now, App: app, Env: env, Cluster: o.Cluster, Namespace: m.Namespace}
	var out []delivery.Event
	if !slices.Equal(split, prev.Split) {
		e := base
		e.ID, e.Type, e.Payload = prefix+"/traffic/"+rv, delivery.TrafficChanged, &delivery.Traffic{Service: m.Name, Targets: split}
		out = append(out, e)
	}
	if rev := servingRevision(split, o.target(), prev.Live.Revision); rev != "" && rev != prev.Live.Revision {
		kind := delivery.ServiceUpgraded
		switch {
		case prev.Deployed[rev]:
			kind = delivery.ServiceRolledBack
		case prev.Live.Revision == "" && len(prev.Deployed) == 0:
			kind = delivery.ServiceDeployed
		}
		a := ""
		if artifact != nil {
			a = artifact(m.Namespace, rev)
		}
		if a == "" && rev == st.LatestCreatedRevisionName {
			a = image
		}
		e := base
		e.ID, e.Type = prefix+"/deployment/"+rev+"/"+rv, kind
		e.Payload = &delivery.Deployment{Artifact: cmp.Or(a, rev), PreviousArtifact: prev.Live.Artifact, InferredFrom: "knative", Revision: rev}
		out = append(out, e)
	}
	for i := range out {
		if err := out[i].Validate(); err != nil {
			return nil, wrap(fmt.Errorf("%s %s: %w", out[i].Type, out[i].ID, err))
		}
	}
	return out, nil
}

// splitOf turns status.traffic into a sorted split, or nil while it is
// empty or does not add up to 100 (not yet reconciled).
func splitOf(ts []TrafficTarget) ([]delivery.TrafficTarget, error) {
	var out []delivery.TrafficTarget
	sum := int64(0)
	for i, t := range ts {
		if t.RevisionName == "" {
			return nil, fmt.Errorf("status.traffic[%d].revisionName: missing", i)
		}
		p := int64(0)
		if t.Percent != nil {
			p = *t.Percent
		}
		if p < 0 || p > 100 {
			return nil, fmt.Errorf("status.traffic[%d].percent: %d is not within 0–100", i, p)
		}
		sum += p
		out = append(out, delivery.TrafficTarget{Revision: t.RevisionName, Percent: int(p), Tag: t.Tag, Latest: t.LatestRevision != nil && *t.LatestRevision})
	}
	if len(out) == 0 || sum != 100 {
		return nil, nil
	}
	return normSplit(out), nil
}

// servingRevision returns the revision that serves at least target
// percent of the split (summed over its entries), preferring one other than
// live on a tie, or "".
func servingRevision(split []delivery.TrafficTarget, target int, live string) string {
	share := map[string]int{}
	for _, t := range split {
		share[t.Revision] += t.Percent
	}
	best := ""
	for _, rev := range slices.Sorted(maps.Keys(share)) {
		if share[rev] < target {
			continue
		}
		if best == "" || share[rev] > share[best] || share[rev] == share[best] && best == live {
			best = rev
		}
	}
	return best
}

// RemoveService returns service.removed for a Knative Service (or
// standalone Route) that no longer exists while a deployment of it is
// recorded live. kind is "service" or "route".
func RemoveService(o Origin, prev *ServiceState, kind, namespace, name string, now time.Time) []delivery.Event {
	if prev == nil || prev.Live.Revision == "" || prev.Removed {
		return nil
	}
	return []delivery.Event{{
		Source: o.Source, ID: knPrefix(o.Cluster, namespace, kind, name) + "/removed/" + prev.Live.Revision,
		Type: delivery.ServiceRemoved, Time: now, App: prev.App, Env: prev.Env, Cluster: o.Cluster, Namespace: namespace,
		Payload: &delivery.Deployment{PreviousArtifact: prev.Live.Artifact, InferredFrom: "knative", Revision: prev.Live.Revision},
	}}
}

// Names are the app, environment and Knative Service of a revision's events.
type Names struct {
	App, Env, Service string
}

// RevisionNames returns the names of a revision's events: its Service from
// the serving.knative.dev/service label (else configuration), and its app
// and environment by AppEnv over the revision's labels overlaid with its
// Service's (svcLabels, nil when unknown), the Service name and namespace.
func RevisionNames(m Meta, svcLabels map[string]string) Names {
	svc := cmp.Or(m.Labels[labelService], m.Labels[labelConfiguration])
	labels := maps.Clone(m.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, svcLabels)
	app, env := AppEnv(labels, cmp.Or(svc, m.Name), m.Namespace)
	return Names{App: app, Env: env, Service: svc}
}

// RevisionState is what has been recorded about one Knative Revision.
type RevisionState struct {
	Names
	Created  time.Time // creation time of the revision recorded (zero: not recorded)
	Ready    bool
	FailedAt time.Time // time of the last failure recorded
	Deleted  bool
	Scale    ScaleState // last scale sample recorded
}

func (s *RevisionState) scale() *ScaleState { return &s.Scale }

// Apply folds one recorded event (revision.* or scale.sampled) into the state.
func (s *RevisionState) Apply(e delivery.Event) {
	set(&s.App, e.App)
	set(&s.Env, e.Env)
	if e.Type == delivery.ScaleSampled {
		s.Scale.Apply(e)
		return
	}
	p, ok := e.Payload.(*delivery.Revision)
	if !ok {
		return
	}
	set(&s.Service, p.Service)
	switch e.Type {
	case delivery.RevisionCreated:
		s.Created, s.Deleted = e.Time, false
	case delivery.RevisionReady:
		s.Ready = true
	case delivery.RevisionFailed:
		s.FailedAt = e.Time
	case delivery.RevisionDeleted:
		s.Deleted = true
	}
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Image returns the revision's image and the digest it was resolved to
// (status.containerStatuses[].imageDigest, "" while unknown) and the
// image reference by digest when known, else as written.
func (r *Revision) Image() (image, digest, ref string) {
	name := ""
	if cs := r.Spec.Containers; len(cs) > 0 {
		image, name = cs[0].Image, cs[0].Name
	}
	for i, cs := range r.Status.ContainerStatuses {
		if i == 0 || cs.Name == name && name != "" {
			ref = cs.ImageDigest
		}
	}
	if _, d, ok := strings.Cut(ref, "@"); ok && digestPattern.MatchString(d) {
		digest = d
	} else {
		ref = ""
	}
	return image, digest, cmp.Or(ref, image)
}

// ConvertRevision returns the events for what a Knative Revision shows
// that prev has not recorded: revision.created (at its creation), .ready
// (when its Ready condition turned True), .failed (Ready False with a
// reason, at the condition's transition), each with the image and the
// digest it resolved to.
//
// Ids: "knative/<cluster>/<namespace>/revision/<name>/<created>/created",
// ".../ready", ".../failed/<time>" and ".../deleted".
func ConvertRevision(o Origin, rev *Revision, prev *RevisionState, names Names, now time.Time) ([]delivery.Event, error) {
	if prev == nil {
		prev = &RevisionState{}
	}
	m := rev.Metadata
	if m.Name == "" {
		return nil, fmt.Errorf("knative revision: metadata.name: missing")
	}
	wrap := func(err error) error { return fmt.Errorf("knative revision %s/%s: %w", m.Namespace, m.Name, err) }
	created, err := parseTime("metadata.creationTimestamp", m.CreationTimestamp)
	if err != nil {
		return nil, wrap(err)
	}
	if created.IsZero() {
		created = cmp.Or(prev.Created, now)
	}
	if prev.Deleted || !prev.Created.IsZero() && !prev.Created.Equal(created) {
		prev = &RevisionState{} // a new revision of the same name
	}
	image, digest, _ := rev.Image()
	prefix := knPrefix(o.Cluster, m.Namespace, "revision", m.Name) + "/" + stamp(created)
	var out []delivery.Event
	emit := func(id string, t delivery.EventType, at time.Time, reason, msg string) {
		out = append(out, delivery.Event{
			Source: o.Source, ID: id, Type: t, Time: at, App: names.App, Env: names.Env, Cluster: o.Cluster, Namespace: m.Namespace,
			Payload: &delivery.Revision{Name: m.Name, Service: names.Service, Image: image, Digest: digest, Reason: reason, Message: msg},
		})
	}
	if prev.Created.IsZero() {
		emit(prefix+"/created", delivery.RevisionCreated, created, "", "")
	}
	if ready, ok := rev.Status.Conditions.Get("Ready"); ok {
		at, err := parseTime("status.conditions[Ready].lastTransitionTime", ready.LastTransitionTime)
		if err != nil {
			return nil, wrap(err)
		}
		switch {
		case ready.Status == "True" && !prev.Ready:
			emit(prefix+"/ready", delivery.RevisionReady, cmp.Or(at, now), "", "")
		case ready.Status == "False" && ready.Reason != "" && (at.IsZero() && prev.FailedAt.IsZero() || !at.IsZero() && !at.Equal(prev.FailedAt)):
			at = cmp.Or(at, now)
			emit(prefix+"/failed/"+stamp(at), delivery.RevisionFailed, at, ready.Reason, ready.Message)
		}
	}
	for i := range out {
		if err := out[i].Validate(); err != nil {
			return nil, wrap(fmt.Errorf("%s %s: %w", out[i].Type, out[i].ID, err))
		}
	}
	return out, nil
}

// RemoveRevision returns revision.deleted for a Revision that no longer
// exists (garbage-collected or deleted) and whose creation is recorded.
func RemoveRevision(o Origin, prev *RevisionState, namespace, name string, now time.Time) []delivery.Event {
	if prev == nil || prev.Created.IsZero() || prev.Deleted {
		return nil
	}
	return []delivery.Event{{
		Source: o.Source, ID: knPrefix(o.Cluster, namespace, "revision", name) + "/" + stamp(prev.Created) + "/deleted",
		Type: delivery.RevisionDeleted, Time: now, App: prev.App, Env: prev.Env, Cluster: o.Cluster, Namespace: namespace,
		Payload: &delivery.Revision{Name: name, Service: prev.Service},
	}}
}

// ScaleState is the last scale sample recorded for one revision.
type ScaleState struct {
	Known           bool
	Actual, Desired int
	At              time.Time
}

// Apply folds one recorded scale.sampled event into the state.
func (s *ScaleState) Apply(e delivery.Event) {
	if p, ok := e.Payload.(*delivery.Scale); ok && (!s.Known || !e.Time.Before(s.At)) {
		*s = ScaleState{Known: true, Actual: p.Actual, Desired: p.Desired, At: e.Time}
	}
}

// Due returns how long until the next periodic sample of a revision whose
// last recorded sample is s, or 0 when none is due (scaled to zero).
func (s *ScaleState) Due(o Origin, now time.Time) time.Duration {
	if !s.Known || s.Actual == 0 {
		return 0
	}
	return max(s.At.Add(o.interval()).Sub(now), time.Millisecond)
}

// ConvertScale returns scale.sampled for a revision's replicas (from its
// PodAutoscaler's actualScale/desiredScale, or the Revision's
// actualReplicas/desiredReplicas) when they differ from the last sample
// recorded, or when the last sample is not zero and ScaleSampleInterval old.
// A negative or missing desired count (Knative's "not yet known") is taken
// as the actual one; no sample is taken while the actual count is unknown.
// version is the resourceVersion of the object read; it makes the id of a
// change stable: "knative/<cluster>/<namespace>/revision/<name>/scale/<version>";
// a periodic sample's id ends with its time instead.
func ConvertScale(o Origin, namespace, revision string, names Names, actual, desired *int32, version string, prev *ScaleState, now time.Time) ([]delivery.Event, error) {
	if prev == nil {
		prev = &ScaleState{}
	}
	if actual == nil || *actual < 0 {
		return nil, nil
	}
	a, d := int(*actual), int(*actual)
	if desired != nil && *desired >= 0 {
		d = int(*desired)
	}
	prefix := knPrefix(o.Cluster, namespace, "revision", revision) + "/scale/"
	id := ""
	switch {
	case !prev.Known || prev.Actual != a || prev.Desired != d:
		id = prefix + cmp.Or(version, stamp(now))
	case a > 0 && !now.Before(prev.At.Add(o.interval())):
		id = prefix + stamp(now)
	default:
		return nil, nil
	}
	e := delivery.Event{
		Source: o.Source, ID: id, Type: delivery.ScaleSampled, Time: now, App: names.App, Env: names.Env, Cluster: o.Cluster, Namespace: namespace,
		Payload: &delivery.Scale{Revision: revision, Service: names.Service, Actual: a, Desired: d},
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("knative revision %s/%s: scale: %w", namespace, revision, err)
	}
	return []delivery.Event{e}, nil
}
