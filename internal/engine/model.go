package engine

import (
	"cmp"
	"reflect"
	"slices"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// The engine keeps the derived model in memory and reads only what changed
// in the store since it last looked (store.ModelChanges). Rows are split
// into partitions, one per app and environment; the deployment history of
// a partition is rebuilt when one of its rows changes, or when a row it
// linked to in another partition does (a pull request, CI run, artifact,
// commit, sync or incident found through history.Index: each partition
// keeps the set of links its build looked up).

// modelTables are the tables the engine keeps.
const modelTables = store.TableCommits | store.TableChanges | store.TablePipelineRuns | store.TableArtifacts |
	store.TableManifestChanges | store.TableSyncs | store.TableHealth | store.TableSyncStatus | store.TableRevisions |
	store.TableTraffic | store.TableScale | store.TableDeployments | store.TableRewritten | store.TableIncidents

type appEnv struct{ app, env string }

func compareAE(a, b appEnv) int {
	return cmp.Or(strings.Compare(a.app, b.app), strings.Compare(a.env, b.env))
}

type (
	changeKey struct {
		repo string
		n    int64
	}
	runKey    struct{ source, id string }
	commitKey struct{ repo, sha string }
	syncKey   struct {
		cluster, application string
		started              int64
	}
	revKey struct{ cluster, ns, name string }
	incKey struct{ source, id string }
)

// rows are one partition's rows, each list in table order. A published
// view shares them: a refresh that changes a list copies it first.
type rows struct {
	deployments []*delivery.DeploymentRecord
	syncs       []*delivery.SyncRecord
	health      []*delivery.HealthRecord
	revisions   []*delivery.RevisionRecord
	manifests   []*delivery.ManifestChangeRecord
	statuses    []*delivery.SyncStatusRecord
	traffic     []*delivery.TrafficRecord // the records naming this app and environment
	// owned says which lists this refresh has already copied.
	owned uint8
}

const (
	ownDeployments uint8 = 1 << iota
	ownSyncs
	ownHealth
	ownRevisions
	ownManifests
	ownStatuses
	ownTraffic
)

func (r *rows) empty() bool {
	return len(r.deployments)+len(r.syncs)+len(r.health)+len(r.revisions)+len(r.manifests)+len(r.statuses)+len(r.traffic) == 0
}

// model is the engine's copy of the derived model. Only the refresh that
// holds the engine's write lock changes it.
type model struct {
	horizon int64
	loaded  bool
	idx     *history.Index

	changes   map[changeKey]*delivery.ChangeRecord
	runs      map[runKey]*delivery.PipelineRunRecord
	artifacts map[string]*delivery.ArtifactRecord
	commits   map[commitKey]*delivery.CommitRecord
	syncs     map[syncKey]*delivery.SyncRecord
	revisions map[revKey]*delivery.RevisionRecord
	incidents map[incKey]*delivery.IncidentRecord
	rewritten map[[2]string]bool // repo, commit
	// merged are the merged pull requests by merge time (compareMerged);
	// a refresh that changes it makes a new list.
	merged []*delivery.ChangeRecord
	// incidentList has the incidents in the store's order (by detection
	// time) and scale the Knative scale samples, also in the store's order
	// (by time), for the figures of a window across all apps. Published
	// views share them: a refresh appends in place (past the length views
	// hold) and copies a list before any other change.
	incidentList []*delivery.IncidentRecord
	scale        []delivery.ScaleRecord

	parts map[appEnv]*rows
	// traffic are the traffic records of each Knative namespace: when a
	// revision was routable depends on its namespace's whole history of
	// splits, whatever apps and environments the records name.
	traffic map[nsKey][]*delivery.TrafficRecord
	names   interner
	open    openSet // the work in flight
}

type nsKey struct{ cluster, ns string }

func newModel() *model {
	return &model{
		idx:     history.NewIndex(),
		changes: map[changeKey]*delivery.ChangeRecord{}, runs: map[runKey]*delivery.PipelineRunRecord{},
		artifacts: map[string]*delivery.ArtifactRecord{}, commits: map[commitKey]*delivery.CommitRecord{},
		syncs: map[syncKey]*delivery.SyncRecord{}, revisions: map[revKey]*delivery.RevisionRecord{},
		incidents: map[incKey]*delivery.IncidentRecord{}, rewritten: map[[2]string]bool{},
		parts: map[appEnv]*rows{}, traffic: map[nsKey][]*delivery.TrafficRecord{}, names: interner{}, open: newOpenSet(),
	}
}

// changeSet is what applying changes touched.
type changeSet struct {
	parts   map[appEnv]bool // partitions whose own rows changed
	links   []history.Link  // links of rows that changed (old and new versions)
	changes bool            // the merged pull requests changed
	// incidents and scale say whether the lists of incidents and of scale
	// samples changed.
	incidents, scale bool
	ns               map[nsKey]bool // namespaces whose traffic or revisions changed
}

func (c *changeSet) part(app, env string) { c.parts[appEnv{app, env}] = true }

func (m *model) part(app, env string, cs *changeSet) *rows {
	ae := appEnv{app, env}
	r := m.parts[ae]
	if r == nil {
		r = &rows{}
		m.parts[ae] = r
	}
	cs.parts[ae] = true
	return r
}

// own returns list, copied the first time this refresh changes it.
func own[T any](r *rows, bit uint8, list []T) []T {
	if r.owned&bit != 0 {
		return list
	}
	r.owned |= bit
	return slices.Clone(list)
}

// insertSorted inserts v in list (ordered by compare), replacing an
// element that compares equal (the same key).
func insertSorted[T any](list []*T, v *T, compare func(a, b *T) int) []*T {
	if len(list) == 0 || compare(list[len(list)-1], v) < 0 { // rows mostly come in order
		return append(list, v)
	}
	i, found := slices.BinarySearchFunc(list, v, compare)
	if found {
		list[i] = v
		return list
	}
	return slices.Insert(list, i, v)
}

// putOnce puts a row of a table whose rows are written once (keyed by
// what compare orders on): a row already there and equal is left alone,
// without marking its partition.
func putOnce[T any](m *model, cs *changeSet, app, env string, bit uint8, list func(*rows) *[]*T, v *T, compare func(a, b *T) int) {
	if p := m.parts[appEnv{app, env}]; p != nil {
		l := *list(p)
		if len(l) > 0 && compare(l[len(l)-1], v) >= 0 {
			if i, found := slices.BinarySearchFunc(l, v, compare); found && reflect.DeepEqual(l[i], v) {
				return
			}
		}
	}
	p := m.part(app, env, cs)
	*list(p) = insertSorted(own(p, bit, *list(p)), v, compare)
}

// removePtr removes v (by identity) from list, found by its order.
func removePtr[T any](list []*T, v *T, compare func(a, b *T) int) []*T {
	i, _ := slices.BinarySearchFunc(list, v, compare)
	for j := i; j < len(list) && compare(list[j], v) == 0; j++ {
		if list[j] == v {
			return slices.Delete(list, j, j+1)
		}
	}
	if j := slices.Index(list, v); j >= 0 { // not where its order says: should not happen
		return slices.Delete(list, j, j+1)
	}
	return list
}

// apply folds c into the model and says what it touched.
func (m *model) apply(c *store.ModelChanges) *changeSet {
	cs := &changeSet{parts: map[appEnv]bool{}, ns: map[nsKey]bool{}}
	for _, p := range m.parts {
		p.owned = 0
	}
	n := &m.names
	// Ids and references repeat across tables (a commit in its pull
	// request, CI run, artifact, manifest change and deployments): one copy
	// each per read.
	ids := interner{}
	var incOwned, scaleOwned bool // whether this refresh copied m.incidentList, m.scale
	var gone map[*delivery.ChangeRecord]bool
	var merged []*delivery.ChangeRecord
	for i := range c.Changes {
		r := &c.Changes[i]
		n.change(r)
		ids.all(&r.HeadSHA, &r.MergeSHA)
		k := changeKey{r.Repo, r.Number}
		m.open.change(k, r)
		old := m.changes[k]
		if old != nil && reflect.DeepEqual(old, r) {
			continue
		}
		if old != nil {
			m.idx.RemoveChange(old)
			cs.links = append(cs.links, history.ChangeLinks(old)...)
			if !old.MergedAt.IsZero() {
				if gone == nil {
					gone = map[*delivery.ChangeRecord]bool{}
				}
				gone[old] = true
			}
		}
		m.changes[k] = r
		m.idx.AddChange(r)
		cs.links = append(cs.links, history.ChangeLinks(r)...)
		if !r.MergedAt.IsZero() {
			merged = append(merged, r)
		}
	}
	if gone != nil || merged != nil {
		m.merged = mergeChanges(m.merged, gone, merged)
		cs.changes = true
	}
	for i := range c.PipelineRuns {
		// What policies and lead times read of a run.
		v := &c.PipelineRuns[i]
		r := &delivery.PipelineRunRecord{Source: n.s(v.Source), RunID: v.RunID, SHA: ids.s(v.SHA), StartedAt: v.StartedAt,
			FinishedAt: v.FinishedAt, Outcome: delivery.Outcome(n.s(string(v.Outcome)))}
		k := runKey{r.Source, r.RunID}
		m.open.run(k, v)
		old := m.runs[k]
		if old != nil && *old == *r {
			continue
		}
		if old != nil {
			m.idx.RemovePipelineRun(old)
			cs.links = append(cs.links, history.PipelineRunLinks(old)...)
		}
		m.runs[k] = r
		m.idx.AddPipelineRun(r)
		cs.links = append(cs.links, history.PipelineRunLinks(r)...)
	}
	for i := range c.Artifacts {
		// What policies and lead times read of an artifact.
		v := &c.Artifacts[i]
		r := &delivery.ArtifactRecord{Key: v.Key, Name: n.s(v.Name), Tag: v.Tag, Digest: ids.s(v.Digest), SourceCommit: ids.s(v.SourceCommit),
			PackagedAt: v.PackagedAt, PublishedAt: v.PublishedAt}
		old := m.artifacts[r.Key]
		if old != nil && *old == *r {
			continue
		}
		if old != nil {
			m.idx.RemoveArtifact(old)
			cs.links = append(cs.links, history.ArtifactLinks(old)...)
		}
		m.artifacts[r.Key] = r
		m.idx.AddArtifact(r)
		cs.links = append(cs.links, history.ArtifactLinks(r)...)
	}
	for i := range c.Commits {
		// Deployments read a commit's time only: the rest is not kept.
		r := &delivery.CommitRecord{Commit: delivery.Commit{Repo: n.s(c.Commits[i].Repo), SHA: ids.s(c.Commits[i].SHA),
			AuthoredAt: c.Commits[i].AuthoredAt, CommittedAt: c.Commits[i].CommittedAt}}
		k := commitKey{r.Repo, r.SHA}
		old := m.commits[k]
		if old != nil && old.AuthoredAt.Equal(r.AuthoredAt) && old.CommittedAt.Equal(r.CommittedAt) {
			continue
		}
		if old != nil {
			m.idx.RemoveCommit(old)
		}
		m.commits[k] = r
		m.idx.AddCommit(r)
		cs.links = append(cs.links, history.CommitLinks(r)...)
	}
	for i := range c.Incidents {
		r := &c.Incidents[i]
		n.incident(r)
		r.Artifact = ids.s(r.Artifact)
		k := incKey{r.Source, r.IncidentID}
		old := m.incidents[k]
		if old != nil && *old == *r {
			continue
		}
		if old != nil {
			m.idx.RemoveIncident(old)
			cs.links = append(cs.links, history.IncidentLinks(old)...)
			cs.part(old.App, old.Env)
		}
		m.incidentList, cs.incidents = putShared(m.incidentList, old, r, delivery.CompareIncidents, &incOwned), true
		m.incidents[k] = r
		m.idx.AddIncident(r)
		cs.links = append(cs.links, history.IncidentLinks(r)...)
		cs.part(r.App, r.Env)
	}
	for i := range c.Syncs {
		r := &c.Syncs[i]
		n.sync(r)
		r.Revision = ids.s(r.Revision)
		k := syncKey{r.Cluster, r.Application, r.StartedAt.UnixNano()}
		m.open.sync(k, r)
		old := m.syncs[k]
		if old != nil && *old == *r {
			continue
		}
		if old != nil {
			m.idx.RemoveSync(old)
			cs.links = append(cs.links, history.SyncLinks(old)...)
			p := m.part(old.App, old.Env, cs)
			p.syncs = removePtr(own(p, ownSyncs, p.syncs), old, delivery.CompareSyncs)
		}
		m.syncs[k] = r
		m.idx.AddSync(r)
		cs.links = append(cs.links, history.SyncLinks(r)...)
		p := m.part(r.App, r.Env, cs)
		p.syncs = insertSorted(own(p, ownSyncs, p.syncs), r, delivery.CompareSyncs)
	}
	for i := range c.Revisions {
		r := &c.Revisions[i]
		n.revision(r)
		ids.all(&r.Image, &r.Digest)
		k := revKey{r.Cluster, r.Namespace, r.Name}
		m.open.revision(k, r)
		old := m.revisions[k]
		if old != nil && *old == *r {
			continue
		}
		if old != nil {
			p := m.part(old.App, old.Env, cs)
			p.revisions = removePtr(own(p, ownRevisions, p.revisions), old, delivery.CompareRevisions)
		}
		cs.ns[nsKey{r.Cluster, r.Namespace}] = true
		m.revisions[k] = r
		p := m.part(r.App, r.Env, cs)
		p.revisions = insertSorted(own(p, ownRevisions, p.revisions), r, delivery.CompareRevisions)
	}
	// Rows written once: new, or read again.
	for i := range c.Health {
		r := &c.Health[i]
		n.health(r)
		r.Revision = ids.s(r.Revision)
		putOnce(m, cs, r.App, r.Env, ownHealth, func(p *rows) *[]*delivery.HealthRecord { return &p.health }, r, delivery.CompareHealth)
	}
	for i := range c.SyncStatus {
		r := &c.SyncStatus[i]
		n.status(r)
		r.Revision = ids.s(r.Revision)
		putOnce(m, cs, r.App, r.Env, ownStatuses, func(p *rows) *[]*delivery.SyncStatusRecord { return &p.statuses }, r, delivery.CompareSyncStatuses)
	}
	for i := range c.ManifestChanges {
		// What efficiency reads of a manifest change, with its key.
		v := &c.ManifestChanges[i]
		r := &delivery.ManifestChangeRecord{App: n.s(v.App), Env: n.s(v.Env), Time: v.Time, ManifestChange: delivery.ManifestChange{
			Repo: n.s(v.Repo), Commit: ids.s(v.Commit), Path: n.s(v.Path), Location: n.s(v.Location), Op: delivery.ManifestOp(n.s(string(v.Op))),
			Author: n.s(v.Author), Bot: v.Bot}}
		putOnce(m, cs, r.App, r.Env, ownManifests, func(p *rows) *[]*delivery.ManifestChangeRecord { return &p.manifests }, r, delivery.CompareManifestChanges)
	}
	for i := range c.Traffic {
		r := &c.Traffic[i]
		n.traffic(r)
		r.Revision = ids.s(r.Revision)
		k := nsKey{r.Cluster, r.Namespace}
		list := m.traffic[k]
		if len(list) > 0 && delivery.CompareTraffic(list[len(list)-1], r) >= 0 {
			if j, found := slices.BinarySearchFunc(list, r, delivery.CompareTraffic); found && *list[j] == *r {
				continue
			}
		}
		m.traffic[k] = insertSorted(list, r, delivery.CompareTraffic) // views hold routes made from it, not the list
		cs.ns[k] = true
		if r.App != "" {
			p := m.part(r.App, r.Env, cs)
			p.traffic = insertSorted(own(p, ownTraffic, p.traffic), r, delivery.CompareTraffic)
		}
	}
	for i := range c.Scale {
		r := c.Scale[i]
		n.all(&r.Cluster, &r.Namespace, &r.App, &r.Env, &r.Service)
		r.Revision = ids.s(r.Revision)
		if m.putScale(&r, &scaleOwned) {
			cs.scale = true
		}
	}
	for i := range c.Deployments {
		r := &c.Deployments[i]
		n.deployment(r)
		ids.all(&r.Artifact, &r.PreviousArtifact, &r.ManifestCommit, &r.SourceCommit, &r.Revision)
		for j := range r.Changes {
			r.Changes[j] = ids.s(r.Changes[j])
		}
		r.Rewritten = r.Rewritten || m.rewritten[[2]string{r.Repo, r.ManifestCommit}]
		putOnce(m, cs, r.App, r.Env, ownDeployments, func(p *rows) *[]*delivery.DeploymentRecord { return &p.deployments }, r, delivery.CompareDeployments)
	}
	// A commit that left its branch marks the deployments of it, whenever
	// they were read.
	var fresh map[[2]string]bool
	for _, r := range c.Rewritten {
		k := [2]string{r.Repo, r.Commit}
		if !m.rewritten[k] {
			m.rewritten[k] = true
			if fresh == nil {
				fresh = map[[2]string]bool{}
			}
			fresh[k] = true
		}
	}
	if fresh != nil {
		for ae, p := range m.parts {
			for i, d := range p.deployments {
				if !d.Rewritten && fresh[[2]string{d.Repo, d.ManifestCommit}] {
					cp := *d
					cp.Rewritten = true
					p.deployments = own(p, ownDeployments, p.deployments)
					p.deployments[i] = &cp
					cs.parts[ae] = true
				}
			}
		}
	}
	for ae, p := range m.parts {
		if p.empty() {
			delete(m.parts, ae)
			cs.parts[ae] = true
		}
	}
	return cs
}

// putShared puts v in list (ordered by compare) in place of old (nil:
// none), copying list first when this refresh has not yet (*owned false):
// published views share it. Appending in order needs no copy: views hold
// a shorter length.
func putShared[T any](list []*T, old, v *T, compare func(a, b *T) int, owned *bool) []*T {
	if old == nil && (len(list) == 0 || compare(list[len(list)-1], v) < 0) {
		return append(list, v)
	}
	if !*owned {
		list, *owned = slices.Clone(list), true
	}
	if old != nil {
		list = removePtr(list, old, compare)
	}
	return insertSorted(list, v, compare)
}

// putScale puts a scale sample in m.scale, in place of the one with the
// same key, if any, and says whether that changed it; like putShared, it
// copies the list before changing what views may hold.
func (m *model) putScale(r *delivery.ScaleRecord, owned *bool) bool {
	list := m.scale
	if len(list) == 0 || delivery.CompareScale(&list[len(list)-1], r) < 0 {
		m.scale = append(list, *r)
		return true
	}
	i, found := slices.BinarySearchFunc(list, r, func(a delivery.ScaleRecord, b *delivery.ScaleRecord) int { return delivery.CompareScale(&a, b) })
	if found && list[i] == *r {
		return false
	}
	if !*owned {
		list, *owned = slices.Clone(list), true
	}
	if found {
		list[i] = *r
	} else {
		list = slices.Insert(list, i, *r)
	}
	m.scale = list
	return true
}

// mergeChanges returns a new list of list without gone and with added.
func mergeChanges(list []*delivery.ChangeRecord, gone map[*delivery.ChangeRecord]bool, added []*delivery.ChangeRecord) []*delivery.ChangeRecord {
	slices.SortFunc(added, compareMerged)
	out := make([]*delivery.ChangeRecord, 0, len(list)+len(added))
	i := 0
	for _, c := range list {
		if gone[c] {
			continue
		}
		for i < len(added) && compareMerged(added[i], c) < 0 {
			out = append(out, added[i])
			i++
		}
		out = append(out, c)
	}
	return append(out, added[i:]...)
}

func compareMerged(a, b *delivery.ChangeRecord) int {
	return cmp.Or(a.MergedAt.Compare(b.MergedAt), strings.Compare(a.Repo, b.Repo), cmp.Compare(a.Number, b.Number))
}

// interner shares the strings that many rows repeat (apps, environments,
// repositories, sources, phases …): a million rows hold one copy each.
type interner map[string]string

func (n interner) s(v string) string {
	if v == "" {
		return ""
	}
	if w, ok := n[v]; ok {
		return w
	}
	n[v] = v
	return v
}

func (n interner) all(ps ...*string) {
	for _, p := range ps {
		*p = n.s(*p)
	}
}

func (n interner) change(r *delivery.ChangeRecord) {
	n.all(&r.Repo, &r.BaseRef)
	for i := range r.Labels {
		r.Labels[i] = n.s(r.Labels[i])
	}
	for i := range r.Approvers {
		r.Approvers[i] = n.s(r.Approvers[i])
	}
}

func (n interner) incident(r *delivery.IncidentRecord) {
	n.all(&r.Source, &r.App, &r.Env, &r.Service, &r.Severity)
}

func (n interner) sync(r *delivery.SyncRecord) {
	n.all(&r.Cluster, &r.Application, &r.App, &r.Env, &r.Message, &r.InitiatedBy)
	r.Phase = delivery.SyncPhase(n.s(string(r.Phase)))
}

func (n interner) revision(r *delivery.RevisionRecord) {
	n.all(&r.Cluster, &r.Namespace, &r.App, &r.Env, &r.Service, &r.Reason)
}

func (n interner) health(r *delivery.HealthRecord) {
	n.all(&r.Cluster, &r.Application, &r.App, &r.Env, &r.Message, &r.SyncStatus)
	r.Status = delivery.HealthStatus(n.s(string(r.Status)))
}

func (n interner) status(r *delivery.SyncStatusRecord) {
	n.all(&r.Cluster, &r.Application, &r.App, &r.Env, &r.Status)
}

func (n interner) traffic(r *delivery.TrafficRecord) {
	n.all(&r.Cluster, &r.Namespace, &r.Service, &r.App, &r.Env, &r.Tag)
}

func (n interner) deployment(r *delivery.DeploymentRecord) {
	n.all(&r.Source, &r.App, &r.Env, &r.Repo, &r.InferredFrom, &r.Author)
	r.Kind = delivery.EventType(n.s(string(r.Kind)))
}
