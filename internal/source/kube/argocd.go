package kube

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Origin says where observed objects come from, and the settings the
// conversions need.
type Origin struct {
	// Source is the events' source kind: "kube" for the Kubernetes API,
	// "argocd" for the Argo CD REST API.
	Source string
	// Cluster names the cluster (or Argo CD server); it is the events'
	// Cluster and part of their ids.
	Cluster string
	// Since is when watching began: sync operations that started or ended
	// before are marked Recovered, as they were not seen happen.
	Since time.Time
	// TargetPercent is the share of traffic a Knative revision must serve
	// to count as deployed (1–100; 0 means 100).
	TargetPercent int
	// ScaleSampleInterval is how often a revision's scale is sampled while
	// it is not zero, besides every change (0 means DefaultScaleSampleInterval).
	ScaleSampleInterval time.Duration
}

// DefaultScaleSampleInterval is the periodic scale sampling interval used
// when none is configured.
const DefaultScaleSampleInterval = time.Minute

func (o Origin) target() int {
	if o.TargetPercent <= 0 || o.TargetPercent > 100 {
		return 100
	}
	return o.TargetPercent
}

func (o Origin) interval() time.Duration {
	if o.ScaleSampleInterval <= 0 {
		return DefaultScaleSampleInterval
	}
	return o.ScaleSampleInterval
}

// appPrefix is the id prefix of every event about one Argo CD Application.
func appPrefix(cluster, namespace, name string) string {
	return "argocd/" + cluster + "/" + namespace + "/" + name
}

// AppState is what has been recorded about one Argo CD Application: the
// fold, by Apply, of the events recorded for it. ConvertApplication compares
// an Application with it. The zero value is an Application never recorded.
type AppState struct {
	App, Env, Namespace string // of the last event recorded

	Health         delivery.HealthStatus // last recorded health
	SyncStatus     string                // last recorded sync status
	SyncedRevision string                // status.sync.revision when last Synced

	// Live is the last deployment recorded, if not removed since.
	Live LiveDeployment
	// Deployed holds the revisions that were live once (rollback detection).
	Deployed map[string]bool
	// Removed is set once service.removed was recorded.
	Removed bool

	// ops maps successful operations (start stamp) newer than Live to
	// their revision key, to name the revision of a recorded deployment.
	ops map[string]string
	// recorded holds the sync event ids recorded, with their operation's
	// start, so that history entries are not sent again; Prune drops
	// operations older than the Application's oldest history entry.
	recorded map[string]time.Time
	// deleting is the deletionTimestamp last seen, for service.removed.
	deleting time.Time
}

// LiveDeployment is the deployment an Application or Knative Service was
// last recorded live with.
type LiveDeployment struct {
	Op       string // Argo CD: start stamp of the operation; Knative: revision
	Revision string // Argo CD: revision key (commit SHA or chart version); Knative: revision name
	Artifact string
}

// Apply folds one recorded event into the state.
func (s *AppState) Apply(e delivery.Event) {
	set(&s.App, e.App)
	set(&s.Env, e.Env)
	set(&s.Namespace, e.Namespace)
	switch p := e.Payload.(type) {
	case *delivery.Sync:
		if s.recorded == nil {
			s.recorded = map[string]time.Time{}
		}
		s.recorded[e.ID] = p.StartedAt
		if e.Type == delivery.SyncFinished && p.Phase == delivery.PhaseSucceeded {
			if s.ops == nil {
				s.ops = map[string]string{}
			}
			s.ops[stamp(p.StartedAt)] = revKey(p.Revision, p.Revisions)
		}
	case *delivery.Health:
		s.Health = p.Status
	case *delivery.SyncStatus:
		s.SyncStatus = p.Status
		if p.Status == "Synced" {
			s.SyncedRevision = p.Revision
		}
	case *delivery.Deployment:
		if e.Type == delivery.ServiceRemoved {
			s.Live, s.Removed = LiveDeployment{}, true
			return
		}
		op := opOfDeploymentID(e.ID)
		rev := cmp.Or(s.ops[op], p.ManifestCommit)
		s.Live = LiveDeployment{Op: op, Revision: rev, Artifact: p.Artifact}
		s.Removed = false
		if rev != "" {
			if s.Deployed == nil {
				s.Deployed = map[string]bool{}
			}
			s.Deployed[rev] = true
		}
		for k := range s.ops {
			if k <= op {
				delete(s.ops, k)
			}
		}
	}
}

// Prune forgets what the Application can no longer show again: sync
// events of operations older than its oldest history entry and its current
// operation. It also remembers a deletion in progress.
func (s *AppState) Prune(app *Application) {
	if t, err := parseTime("metadata.deletionTimestamp", app.Metadata.DeletionTimestamp); err == nil && !t.IsZero() {
		s.deleting = t
	}
	oldest := time.Time{}
	consider := func(v string) {
		if t, err := parseTime("", v); err == nil && !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if op := app.Status.OperationState; op != nil {
		consider(op.StartedAt)
	}
	for _, h := range app.Status.History {
		consider(cmp.Or(h.DeployStartedAt, h.DeployedAt))
	}
	for id, started := range s.recorded {
		if oldest.IsZero() || started.Before(oldest) {
			delete(s.recorded, id)
		}
	}
}

// opOfDeploymentID returns the operation start stamp in an Argo CD
// deployment id "<prefix>/<stamp>/deployment".
func opOfDeploymentID(id string) string {
	rest, ok := strings.CutSuffix(id, "/deployment")
	if !ok {
		return ""
	}
	return rest[strings.LastIndexByte(rest, '/')+1:]
}

// revKey is the revision of a sync: its single revision, or its revisions
// (multi-source) joined with ",".
func revKey(rev string, revs []string) string {
	if rev != "" || len(revs) == 0 {
		return rev
	}
	return strings.Join(revs, ",")
}

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// attempt is the id suffix of a failed attempt after n retries.
func attempt(n int64) string {
	if n <= 0 {
		return ""
	}
	return "/retry-" + strconv.FormatInt(n, 10)
}

// ConvertApplication returns the events for what an Argo CD Application
// shows that prev has not recorded:
//
//   - its operation (status.operationState): sync.started when it is seen
//     (Running or later), sync.finished when it ended (Succeeded, Failed,
//     Error), and a sync.finished Failed for each attempt that failed and is
//     being retried (phase Running, finishedAt set, retryCount > 0);
//   - each status.history entry not recorded: sync.started and
//     sync.finished Succeeded, Recovered;
//   - health.changed when status.health.status differs from the recorded
//     one, at health.lastTransitionTime (else now);
//   - syncstatus.changed when status.sync.status differs, at reconciledAt
//     (else now), with Drift when OutOfSync at the revision last Synced;
//   - a deployment (inferred from "argocd") once the operation Succeeded and
//     the Application is Healthy, unless it manages a Knative Service (the
//     Knative revisions tell its deployments) or the revision is the one
//     already live: service.deployed for the first, service.rolledback for
//     a revision live before, else service.upgraded.
//
// Ids are stable: "argocd/<cluster>/<namespace>/<name>/<operation start>/<phase>"
// (with "/retry-<n>" for a failed attempt after n retries), ".../health/…",
// ".../syncstatus/…", ".../<operation start>/deployment". Every event is
// validated; an error names the object and field.
func ConvertApplication(o Origin, app *Application, prev *AppState, now time.Time) ([]delivery.Event, error) {
	if prev == nil {
		prev = &AppState{}
	}
	name, ns := app.Metadata.Name, app.Metadata.Namespace
	if name == "" {
		return nil, fmt.Errorf("argo cd application: metadata.name: missing")
	}
	c := appConv{o: o, app: app, prev: prev, now: now, prefix: appPrefix(o.Cluster, ns, name), ids: map[string]bool{}}
	appName, env := AppEnv(app.Metadata.Labels, name, app.Spec.Destination.Namespace)
	c.base = delivery.Event{Source: o.Source, App: appName, Env: env, Cluster: o.Cluster, Namespace: app.Spec.Destination.Namespace}
	if err := c.operation(); err != nil {
		return nil, c.wrap(err)
	}
	if err := c.history(); err != nil {
		return nil, c.wrap(err)
	}
	if err := c.health(); err != nil {
		return nil, c.wrap(err)
	}
	if err := c.syncStatus(); err != nil {
		return nil, c.wrap(err)
	}
	if err := c.deployment(); err != nil {
		return nil, c.wrap(err)
	}
	for i := range c.out {
		if err := c.out[i].Validate(); err != nil {
			return nil, c.wrap(fmt.Errorf("%s %s: %w", c.out[i].Type, c.out[i].ID, err))
		}
	}
	return c.out, nil
}

// RemoveApplication returns service.removed for an Application that no
// longer exists, when a deployment of it is recorded live: at its deletion
// time when it was seen being deleted, else now. The id names the
// deployment it ends, so it is stable.
func RemoveApplication(o Origin, prev *AppState, namespace, name string, now time.Time) []delivery.Event {
	if prev == nil || prev.Live.Op == "" || prev.Removed {
		return nil
	}
	at := now
	if !prev.deleting.IsZero() {
		at = prev.deleting
	}
	return []delivery.Event{{
		Source: o.Source, ID: appPrefix(o.Cluster, namespace, name) + "/removed/" + prev.Live.Op,
		Type: delivery.ServiceRemoved, Time: at, App: prev.App, Env: prev.Env, Cluster: o.Cluster, Namespace: prev.Namespace,
		Payload: &delivery.Deployment{PreviousArtifact: prev.Live.Artifact, InferredFrom: "argocd"},
	}}
}

type appConv struct {
	o      Origin
	app    *Application
	prev   *AppState
	now    time.Time
	prefix string
	base   delivery.Event
	ids    map[string]bool
	out    []delivery.Event
	opAt   string // start stamp of the current operation
}

func (c *appConv) wrap(err error) error {
	return fmt.Errorf("argo cd application %s/%s: %w", c.app.Metadata.Namespace, c.app.Metadata.Name, err)
}

func (c *appConv) emit(id string, t delivery.EventType, at time.Time, p delivery.Payload) {
	if c.ids[id] {
		return
	}
	c.ids[id] = true
	if _, ok := c.prev.recorded[id]; ok {
		return
	}
	e := c.base
	e.ID, e.Type, e.Time, e.Payload = id, t, at, p
	c.out = append(c.out, e)
}

// opRevision is the revision an operation synced: its result once known,
// else what it asked for.
func opRevision(op *OperationState) (string, []string) {
	if r := op.SyncResult; r != nil && (r.Revision != "" || len(r.Revisions) > 0) {
		return r.Revision, r.Revisions
	}
	if s := op.Operation.Sync; s != nil {
		return s.Revision, s.Revisions
	}
	return "", nil
}

func (c *appConv) operation() error {
	op := c.app.Status.OperationState
	if op == nil || op.StartedAt == "" {
		return nil
	}
	started, err := parseTime("status.operationState.startedAt", op.StartedAt)
	if err != nil {
		return err
	}
	finished, err := parseTime("status.operationState.finishedAt", op.FinishedAt)
	if err != nil {
		return err
	}
	c.opAt = stamp(started)
	rev, revs := opRevision(op)
	sync := func(phase delivery.SyncPhase, at time.Time) *delivery.Sync {
		return &delivery.Sync{
			Application: c.app.Metadata.Name, StartedAt: started, Revision: rev, Revisions: revs, Phase: phase,
			InitiatedBy: op.Operation.InitiatedBy.Username, Automated: op.Operation.InitiatedBy.Automated,
			RetryCount: op.RetryCount, Recovered: at.Before(c.o.Since),
		}
	}
	// What a started event says does not depend on when it is first seen.
	st := sync(delivery.PhaseRunning, started)
	st.RetryCount = 0
	c.emit(c.prefix+"/"+c.opAt+"/Running", delivery.SyncStarted, started, st)
	phase := delivery.SyncPhase(op.Phase)
	switch phase {
	case delivery.PhaseRunning, delivery.PhaseTerminating:
		if finished.IsZero() || op.RetryCount <= 0 {
			return nil
		}
		// An attempt failed and the next is scheduled: Argo CD keeps the
		// operation Running, with the failure's finishedAt and message.
		p := sync(delivery.PhaseFailed, finished)
		p.FinishedAt, p.Message, p.RetryCount = finished, op.Message, op.RetryCount-1
		c.emit(c.prefix+"/"+c.opAt+"/Failed"+attempt(op.RetryCount-1), delivery.SyncFinished, finished, p)
	case delivery.PhaseSucceeded, delivery.PhaseFailed, delivery.PhaseError:
		if finished.IsZero() {
			return fmt.Errorf("status.operationState.finishedAt: missing for phase %s", phase)
		}
		p := sync(phase, finished)
		p.FinishedAt, p.Message = finished, op.Message
		id := c.prefix + "/" + c.opAt + "/" + string(phase)
		if phase != delivery.PhaseSucceeded {
			id += attempt(op.RetryCount)
		}
		c.emit(id, delivery.SyncFinished, finished, p)
	case "":
	default:
		return fmt.Errorf("status.operationState.phase: %q is not an Argo CD operation phase", op.Phase)
	}
	return nil
}

// historyEntry is a parsed status.history entry.
type historyEntry struct {
	HistoryEntry
	started, deployed time.Time
}

func (c *appConv) parsedHistory() ([]historyEntry, error) {
	out := make([]historyEntry, 0, len(c.app.Status.History))
	for i, h := range c.app.Status.History {
		deployed, err := parseTime(fmt.Sprintf("status.history[%d].deployedAt", i), h.DeployedAt)
		if err != nil {
			return nil, err
		}
		started, err := parseTime(fmt.Sprintf("status.history[%d].deployStartedAt", i), h.DeployStartedAt)
		if err != nil {
			return nil, err
		}
		if deployed.IsZero() {
			continue
		}
		if started.IsZero() {
			started = deployed
		}
		out = append(out, historyEntry{HistoryEntry: h, started: started, deployed: deployed})
	}
	slices.SortStableFunc(out, func(a, b historyEntry) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), a.deployed.Compare(b.deployed))
	})
	return out, nil
}

func (c *appConv) history() error {
	hist, err := c.parsedHistory()
	if err != nil {
		return err
	}
	for _, h := range hist {
		at := stamp(h.started)
		mk := func(phase delivery.SyncPhase) *delivery.Sync {
			p := &delivery.Sync{
				Application: c.app.Metadata.Name, StartedAt: h.started, Revision: h.Revision, Revisions: h.Revisions, Phase: phase,
				InitiatedBy: h.InitiatedBy.Username, Automated: h.InitiatedBy.Automated, Recovered: true,
			}
			if phase == delivery.PhaseSucceeded {
				p.FinishedAt = h.deployed
			}
			return p
		}
		c.emit(c.prefix+"/"+at+"/Running", delivery.SyncStarted, h.started, mk(delivery.PhaseRunning))
		c.emit(c.prefix+"/"+at+"/Succeeded", delivery.SyncFinished, h.deployed, mk(delivery.PhaseSucceeded))
	}
	return nil
}

func validHealth(s delivery.HealthStatus) bool {
	switch s {
	case delivery.Healthy, delivery.Progressing, delivery.Degraded, delivery.Suspended, delivery.Missing, delivery.Unknown:
		return true
	}
	return false
}

func (c *appConv) health() error {
	h := c.app.Status.Health
	hs := delivery.HealthStatus(h.Status)
	if hs == "" || hs == c.prev.Health {
		return nil
	}
	if !validHealth(hs) {
		return fmt.Errorf("status.health.status: %q is not an Argo CD health status", h.Status)
	}
	at, err := parseTime("status.health.lastTransitionTime", h.LastTransitionTime)
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = c.now
	}
	s := c.app.Status.Sync
	c.emit(c.prefix+"/health/"+string(hs)+"/"+stamp(at), delivery.HealthChanged, at, &delivery.Health{
		Application: c.app.Metadata.Name, Status: hs, Message: h.Message, SyncStatus: s.Status, Revision: revKey(s.Revision, s.Revisions),
	})
	return nil
}

func (c *appConv) syncStatus() error {
	s := c.app.Status.Sync
	if s.Status == "" || s.Status == c.prev.SyncStatus {
		return nil
	}
	switch s.Status {
	case "Synced", "OutOfSync", "Unknown":
	default:
		return fmt.Errorf("status.sync.status: %q is not one of Synced, OutOfSync, Unknown", s.Status)
	}
	rev := revKey(s.Revision, s.Revisions)
	lastSynced := c.prev.SyncedRevision
	if lastSynced == "" && c.prev.SyncStatus == "" {
		// First sight: the last successful sync is the newest history entry.
		if hist, err := c.parsedHistory(); err == nil && len(hist) > 0 {
			h := hist[len(hist)-1]
			lastSynced = revKey(h.Revision, h.Revisions)
		}
	}
	at, err := parseTime("status.reconciledAt", c.app.Status.ReconciledAt)
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = c.now
	}
	c.emit(c.prefix+"/syncstatus/"+s.Status+"/"+stamp(at), delivery.SyncStatusChanged, at, &delivery.SyncStatus{
		Application: c.app.Metadata.Name, Status: s.Status, Revision: rev,
		Drift: s.Status == "OutOfSync" && lastSynced != "" && rev == lastSynced,
	})
	return nil
}

// managesKnative reports whether the Application manages a Knative Service.
func (a *Application) managesKnative() bool {
	for _, r := range a.Status.Resources {
		if r.Group == "serving.knative.dev" && r.Kind == "Service" {
			return true
		}
	}
	return false
}

// repoURL is the Git (or Helm) repository of the Application's first source.
func (a *Application) repoURL() string {
	if op := a.Status.OperationState; op != nil && op.SyncResult != nil && op.SyncResult.Source != nil && op.SyncResult.Source.RepoURL != "" {
		return op.SyncResult.Source.RepoURL
	}
	if a.Spec.Source != nil && a.Spec.Source.RepoURL != "" {
		return a.Spec.Source.RepoURL
	}
	if len(a.Spec.Sources) > 0 {
		return a.Spec.Sources[0].RepoURL
	}
	return ""
}

func (c *appConv) deployment() error {
	op := c.app.Status.OperationState
	if op == nil || c.opAt == "" || delivery.SyncPhase(op.Phase) != delivery.PhaseSucceeded ||
		delivery.HealthStatus(c.app.Status.Health.Status) != delivery.Healthy || c.app.managesKnative() ||
		c.prev.Live.Op == c.opAt || c.app.Metadata.DeletionTimestamp != "" {
		return nil
	}
	rev := revKey(opRevision(op))
	if rev == "" {
		return nil
	}
	// What was live before: the recorded deployment, else (first sight)
	// the newest history entry of an earlier operation.
	previous := c.prev.Live.Revision
	before := map[string]bool{}
	for r := range c.prev.Deployed {
		before[r] = true
	}
	hist, err := c.parsedHistory()
	if err != nil {
		return err
	}
	for _, h := range hist {
		if stamp(h.started) == c.opAt {
			continue
		}
		r := revKey(h.Revision, h.Revisions)
		before[r] = true
		if c.prev.Live.Op == "" {
			previous = r
		}
	}
	if rev == previous {
		return nil // the same revision synced again: nothing new became live
	}
	kind := delivery.ServiceUpgraded
	switch {
	case before[rev]:
		kind = delivery.ServiceRolledBack
	case previous == "" && c.prev.Live.Op == "" && len(before) == 0:
		kind = delivery.ServiceDeployed
	}
	finished, _ := parseTime("", op.FinishedAt)
	at := finished
	ltt, err := parseTime("status.health.lastTransitionTime", c.app.Status.Health.LastTransitionTime)
	if err != nil {
		return err
	}
	switch {
	case ltt.After(at):
		at = ltt
	case ltt.IsZero() && c.prev.Health != "" && c.prev.Health != delivery.Healthy && c.now.After(at):
		at = c.now // became Healthy just now
	}
	images := slices.Clone(c.app.Status.Summary.Images)
	slices.Sort(images)
	artifact := strings.Join(images, ",")
	if artifact == "" {
		artifact = rev
		if u := c.app.repoURL(); u != "" {
			artifact = u + "@" + rev
		}
	}
	p := &delivery.Deployment{
		Artifact: artifact, PreviousArtifact: c.prev.Live.Artifact, Repo: c.app.repoURL(),
		InferredFrom: "argocd", Author: op.Operation.InitiatedBy.Username,
	}
	if commitPattern.MatchString(rev) {
		p.ManifestCommit = rev
	}
	c.emit(c.prefix+"/"+c.opAt+"/deployment", kind, at, p)
	return nil
}

// set overwrites *dst with v when v is not empty.
func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
