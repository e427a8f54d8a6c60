package history

import (
	"slices"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Index holds the rows that link deployments across apps and
// environments: pull requests, CI runs and artifacts by commit, commits,
// Argo CD syncs by revision, and incidents. Build fills one from its
// input; a caller that keeps the model in memory keeps one up to date row
// by row (Add…, Remove… with the same pointer) and builds one app and
// environment at a time with BuildPartition.
//
// Rows sharing a key are kept in the store's order of their table (its
// time column, then its key), whatever order they were added in, so that
// every result is independent of arrival order.
//
// An Index is not safe for concurrent use while it changes; lookups alone
// may run concurrently.
type Index struct {
	bySHA     map[string]*CommitRows           // by Short(SHA)
	artDigest buckets[delivery.ArtifactRecord] // by digest
	artTag    buckets[delivery.ArtifactRecord] // by tag
	syncRev   buckets[delivery.SyncRecord]     // by revision
	incKey    buckets[delivery.IncidentRecord]
	incSuffix buckets[delivery.IncidentRecord]
	incAE     buckets[delivery.IncidentRecord] // incidents without an artifact, by app|env
	incRef    buckets[delivery.IncidentRecord] // by source/id
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		bySHA: map[string]*CommitRows{}, artDigest: newBuckets(delivery.CompareArtifacts), artTag: newBuckets(delivery.CompareArtifacts),
		syncRev: newBuckets(delivery.CompareSyncs),
		incKey:  newBuckets(delivery.CompareIncidents), incSuffix: newBuckets(delivery.CompareIncidents), incAE: newBuckets(delivery.CompareIncidents), incRef: newBuckets(delivery.CompareIncidents),
	}
}

// LinkKind says which lookup a Link key belongs to.
type LinkKind byte

// Lookups across apps and environments.
const (
	LinkCommit      LinkKind = 'c' // Short(SHA): pull requests (merge and head), CI runs, artifacts by source, commits
	LinkRevision    LinkKind = 'r' // an Argo CD sync revision (manifest commit)
	LinkDigest      LinkKind = 'd' // an artifact digest
	LinkTag         LinkKind = 't' // an artifact tag
	LinkIncident    LinkKind = 'i' // an incident's artifact key
	LinkIncidentSfx LinkKind = 's' // a suffix after '@' of an incident's artifact
	LinkIncidentAE  LinkKind = 'e' // app|env of incidents that name no artifact
)

// Link is one key of one lookup.
type Link struct {
	Kind LinkKind
	Key  string
}

// Deps receives the links a build looked up: a change to a row found
// under one of them may change what the build returns.
type Deps interface{ Looked(Link) }

// Lookup is an Index seen by one build, which records the links it looks
// up in deps (nil: not recorded).
type Lookup struct {
	x    *Index
	deps Deps
}

// With returns a Lookup on x recording into deps.
func (x *Index) With(deps Deps) Lookup { return Lookup{x: x, deps: deps} }

func (l Lookup) looked(kind LinkKind, key string) {
	if l.deps != nil {
		l.deps.Looked(Link{kind, key})
	}
}

// Short is the key commits are looked up by: their first 7 digits, all of
// a shorter id. Two ids that may name the same commit (equal, or one an
// abbreviation of at least 7 digits of the other) have the same Short.
func Short(sha string) string { return sha[:min(7, len(sha))] }

// CommitRows are the rows found by one Short(SHA), each list in table
// order. They are shared: callers must not change them.
type CommitRows struct {
	Merged    []*delivery.ChangeRecord      // pull requests merged as a commit with this Short
	Headed    []*delivery.ChangeRecord      // pull requests whose head commit has it
	Runs      []*delivery.PipelineRunRecord // CI runs of a commit with it
	Artifacts []*delivery.ArtifactRecord    // artifacts built from a commit with it
	Commits   []*delivery.CommitRecord
}

func (c *CommitRows) empty() bool {
	return len(c.Merged)+len(c.Headed)+len(c.Runs)+len(c.Artifacts)+len(c.Commits) == 0
}

// sha returns the rows of short, made when add.
func (x *Index) sha(short string, add bool) *CommitRows {
	c := x.bySHA[short]
	if c == nil && add {
		c = &CommitRows{}
		x.bySHA[short] = c
	}
	return c
}

// drop forgets short's rows once none is left.
func (x *Index) drop(short string, c *CommitRows) {
	if c != nil && c.empty() {
		delete(x.bySHA, short)
	}
}

// insertRow inserts r in list (in table order, after equal rows).
func insertRow[T any](list []*T, r *T, compare func(a, b *T) int) []*T {
	i, _ := slices.BinarySearchFunc(list, r, func(e, t *T) int {
		if c := compare(e, t); c != 0 {
			return c
		}
		return -1
	})
	return slices.Insert(list, i, r)
}

// removeRow removes r (the same pointer) from list.
func removeRow[T any](list []*T, r *T) []*T {
	if i := slices.Index(list, r); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// buckets are rows by key, each list in table order.
type buckets[T any] struct {
	m   map[string][]*T
	cmp func(a, b *T) int
}

func newBuckets[T any](cmp func(a, b *T) int) buckets[T] {
	return buckets[T]{m: map[string][]*T{}, cmp: cmp}
}

func (b buckets[T]) add(k string, r *T) { b.m[k] = insertRow(b.m[k], r, b.cmp) }

func (b buckets[T]) remove(k string, r *T) {
	if list := removeRow(b.m[k], r); len(list) == 0 {
		delete(b.m, k)
	} else {
		b.m[k] = list
	}
}

func (b buckets[T]) get(k string) []*T { return b.m[k] }

// AddChange adds a pull request.
func (x *Index) AddChange(c *delivery.ChangeRecord) {
	if c.MergeSHA != "" {
		r := x.sha(Short(c.MergeSHA), true)
		r.Merged = insertRow(r.Merged, c, delivery.CompareChanges)
	}
	if c.HeadSHA != "" {
		r := x.sha(Short(c.HeadSHA), true)
		r.Headed = insertRow(r.Headed, c, delivery.CompareChanges)
	}
}

// RemoveChange removes a pull request added with AddChange (the same pointer).
func (x *Index) RemoveChange(c *delivery.ChangeRecord) {
	if c.MergeSHA != "" {
		k := Short(c.MergeSHA)
		if r := x.sha(k, false); r != nil {
			r.Merged = removeRow(r.Merged, c)
			x.drop(k, r)
		}
	}
	if c.HeadSHA != "" {
		k := Short(c.HeadSHA)
		if r := x.sha(k, false); r != nil {
			r.Headed = removeRow(r.Headed, c)
			x.drop(k, r)
		}
	}
}

// ChangeLinks are the links a pull request is found under.
func ChangeLinks(c *delivery.ChangeRecord) []Link {
	var out []Link
	if c.MergeSHA != "" {
		out = append(out, Link{LinkCommit, Short(c.MergeSHA)})
	}
	if c.HeadSHA != "" && (c.MergeSHA == "" || Short(c.HeadSHA) != Short(c.MergeSHA)) {
		out = append(out, Link{LinkCommit, Short(c.HeadSHA)})
	}
	return out
}

// AddPipelineRun adds a CI run.
func (x *Index) AddPipelineRun(r *delivery.PipelineRunRecord) {
	if r.SHA != "" {
		c := x.sha(Short(r.SHA), true)
		c.Runs = insertRow(c.Runs, r, delivery.ComparePipelineRuns)
	}
}

// RemovePipelineRun removes a CI run added with AddPipelineRun.
func (x *Index) RemovePipelineRun(r *delivery.PipelineRunRecord) {
	if r.SHA != "" {
		k := Short(r.SHA)
		if c := x.sha(k, false); c != nil {
			c.Runs = removeRow(c.Runs, r)
			x.drop(k, c)
		}
	}
}

// PipelineRunLinks are the links a CI run is found under.
func PipelineRunLinks(r *delivery.PipelineRunRecord) []Link {
	if r.SHA == "" {
		return nil
	}
	return []Link{{LinkCommit, Short(r.SHA)}}
}

// AddArtifact adds an artifact.
func (x *Index) AddArtifact(a *delivery.ArtifactRecord) {
	if a.SourceCommit != "" {
		c := x.sha(Short(a.SourceCommit), true)
		c.Artifacts = insertRow(c.Artifacts, a, delivery.CompareArtifacts)
	}
	if a.Digest != "" {
		x.artDigest.add(a.Digest, a)
	}
	if a.Tag != "" {
		x.artTag.add(a.Tag, a)
	}
}

// RemoveArtifact removes an artifact added with AddArtifact.
func (x *Index) RemoveArtifact(a *delivery.ArtifactRecord) {
	if a.SourceCommit != "" {
		k := Short(a.SourceCommit)
		if c := x.sha(k, false); c != nil {
			c.Artifacts = removeRow(c.Artifacts, a)
			x.drop(k, c)
		}
	}
	if a.Digest != "" {
		x.artDigest.remove(a.Digest, a)
	}
	if a.Tag != "" {
		x.artTag.remove(a.Tag, a)
	}
}

// ArtifactLinks are the links an artifact is found under.
func ArtifactLinks(a *delivery.ArtifactRecord) []Link {
	var out []Link
	if a.SourceCommit != "" {
		out = append(out, Link{LinkCommit, Short(a.SourceCommit)})
	}
	if a.Digest != "" {
		out = append(out, Link{LinkDigest, a.Digest})
	}
	if a.Tag != "" {
		out = append(out, Link{LinkTag, a.Tag})
	}
	return out
}

// AddCommit adds a commit.
func (x *Index) AddCommit(c *delivery.CommitRecord) {
	r := x.sha(Short(c.SHA), true)
	r.Commits = insertRow(r.Commits, c, delivery.CompareCommits)
}

// RemoveCommit removes a commit added with AddCommit.
func (x *Index) RemoveCommit(c *delivery.CommitRecord) {
	k := Short(c.SHA)
	if r := x.sha(k, false); r != nil {
		r.Commits = removeRow(r.Commits, c)
		x.drop(k, r)
	}
}

// CommitLinks are the links a commit is found under.
func CommitLinks(c *delivery.CommitRecord) []Link { return []Link{{LinkCommit, Short(c.SHA)}} }

// AddSync adds an Argo CD sync (found by revision).
func (x *Index) AddSync(s *delivery.SyncRecord) {
	if s.Revision != "" {
		x.syncRev.add(s.Revision, s)
	}
}

// RemoveSync removes a sync added with AddSync.
func (x *Index) RemoveSync(s *delivery.SyncRecord) {
	if s.Revision != "" {
		x.syncRev.remove(s.Revision, s)
	}
}

// SyncLinks are the links a sync is found under from other apps and
// environments.
func SyncLinks(s *delivery.SyncRecord) []Link {
	if s.Revision == "" {
		return nil
	}
	return []Link{{LinkRevision, s.Revision}}
}

// AddIncident adds an incident.
func (x *Index) AddIncident(inc *delivery.IncidentRecord) {
	x.incRef.add(inc.Source+"/"+inc.IncidentID, inc)
	for _, l := range IncidentLinks(inc) {
		x.incidentBucket(l).add(l.Key, inc)
	}
}

// RemoveIncident removes an incident added with AddIncident.
func (x *Index) RemoveIncident(inc *delivery.IncidentRecord) {
	x.incRef.remove(inc.Source+"/"+inc.IncidentID, inc)
	for _, l := range IncidentLinks(inc) {
		x.incidentBucket(l).remove(l.Key, inc)
	}
}

func (x *Index) incidentBucket(l Link) buckets[delivery.IncidentRecord] {
	switch l.Kind {
	case LinkIncident:
		return x.incKey
	case LinkIncidentSfx:
		return x.incSuffix
	}
	return x.incAE
}

// IncidentLinks are the links an incident is found under: by artifact
// (its key and each part after an '@'), or, naming none, by app and
// environment.
func IncidentLinks(inc *delivery.IncidentRecord) []Link {
	if inc.Artifact == "" {
		return []Link{{LinkIncidentAE, inc.App + "|" + inc.Env}}
	}
	out := []Link{{LinkIncident, artifactKey(inc.Artifact)}}
	for _, s := range atSuffixes(inc.Artifact) {
		out = append(out, Link{LinkIncidentSfx, s})
	}
	return out
}

// atSuffixes lists what follows each '@' of a.
func atSuffixes(a string) []string {
	var out []string
	for i := 0; i < len(a); i++ {
		if a[i] == '@' {
			out = append(out, a[i+1:])
		}
	}
	return out
}

// AddInput adds the linking rows of in.
func (x *Index) AddInput(in Input) {
	for i := range in.Changes {
		x.AddChange(&in.Changes[i])
	}
	for i := range in.PipelineRuns {
		x.AddPipelineRun(&in.PipelineRuns[i])
	}
	for i := range in.Artifacts {
		x.AddArtifact(&in.Artifacts[i])
	}
	for _, c := range in.Commits {
		x.AddCommit(&c)
	}
	for i := range in.Syncs {
		x.AddSync(&in.Syncs[i])
	}
	for i := range in.Incidents {
		x.AddIncident(&in.Incidents[i])
	}
}

// Lookups.

// SHA returns the rows found by a Short(SHA): pull requests, CI runs,
// artifacts and commits (nil when none).
func (l Lookup) SHA(short string) *CommitRows {
	l.looked(LinkCommit, short)
	return l.x.bySHA[short]
}

// ArtifactsByDigest returns the artifacts with this digest.
func (l Lookup) ArtifactsByDigest(digest string) []*delivery.ArtifactRecord {
	l.looked(LinkDigest, digest)
	return l.x.artDigest.get(digest)
}

// ArtifactsByTag returns the artifacts with this tag (any image name).
func (l Lookup) ArtifactsByTag(tag string) []*delivery.ArtifactRecord {
	l.looked(LinkTag, tag)
	return l.x.artTag.get(tag)
}

// SyncsByRevision returns the syncs of this revision, in table order.
func (l Lookup) SyncsByRevision(rev string) []*delivery.SyncRecord {
	l.looked(LinkRevision, rev)
	return l.x.syncRev.get(rev)
}

// incidentsFor returns, in table order, the incidents that may concern a
// deployment of artifact in ae: those attributed to the same artifact
// (any app), and those naming no artifact in ae.
func (l Lookup) incidentsFor(ae appEnv, artifact string) []*delivery.IncidentRecord {
	var out []*delivery.IncidentRecord
	get := func(kind LinkKind, key string) {
		l.looked(kind, key)
		var b buckets[delivery.IncidentRecord]
		switch kind {
		case LinkIncident:
			b = l.x.incKey
		case LinkIncidentSfx:
			b = l.x.incSuffix
		default:
			b = l.x.incAE
		}
		out = append(out, b.get(key)...)
	}
	get(LinkIncidentAE, ae.app+"|"+ae.env)
	if artifact != "" {
		k := artifactKey(artifact)
		get(LinkIncident, k)
		get(LinkIncidentSfx, k)
		for _, s := range atSuffixes(artifact) {
			get(LinkIncident, s)
		}
	}
	if len(out) < 2 {
		return out
	}
	slices.SortFunc(out, delivery.CompareIncidents)
	return slices.Compact(out)
}

// incidentsByRef returns the incidents with this source/id.
func (l Lookup) incidentsByRef(ref string) []*delivery.IncidentRecord {
	return l.x.incRef.get(ref)
}

// prefixOf reports whether stored id k names query id sha the way Build
// looks commits up: equal, or an abbreviation of it of at least 7 digits.
func prefixOf(k, sha string) bool {
	return k == sha || len(k) >= 7 && len(k) < len(sha) && strings.HasPrefix(sha, k)
}
