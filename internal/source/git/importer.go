package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/git/manifest"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Source is the event source kind of everything the importer records.
const Source = "git"

// Store is what the importer needs of a store.
type Store interface {
	Append(ctx context.Context, events ...delivery.Event) (store.AppendResult, error)
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error
	ManifestChanges(ctx context.Context, f store.ModelFilter) ([]delivery.ManifestChangeRecord, error)
	Deployments(ctx context.Context, f store.ModelFilter) ([]delivery.DeploymentRecord, error)
}

// SourceSpec maps images to the source repository they are built from.
type SourceSpec struct {
	ImageGlob string // path.Match pattern on the image name, e.g. ghcr.io/acme/*
	Repo      string // path (bare or not) or URL
}

// ParseSourceSpec reads IMAGE_GLOB=REPO.
func ParseSourceSpec(s string) (SourceSpec, error) {
	glob, repo, ok := strings.Cut(s, "=")
	if !ok || glob == "" || repo == "" {
		return SourceSpec{}, fmt.Errorf("--source %q: want IMAGE_GLOB=REPO", s)
	}
	if _, err := path.Match(glob, ""); err != nil {
		return SourceSpec{}, fmt.Errorf("--source %q: bad image glob: %w", s, err)
	}
	return SourceSpec{ImageGlob: glob, Repo: repo}, nil
}

// Options configure an import.
type Options struct {
	Repo        string // path or URL of the GitOps repository
	Branch      string // "" for the branch HEAD points at
	CacheDir    string // where URLs are cloned
	Rules       *manifest.Rules
	Bots        []string // extra bot identities, besides DefaultBots
	Sources     []SourceSpec
	BatchEvents int // events per store transaction (default 5000)
	MaxShipped  int // most source commits recorded per deployment (default 1000)
	Logger      *slog.Logger
}

// Skip is one file the import could not read, and why.
type Skip struct {
	Commit string `json:"commit"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// AppEnv names an app in an environment.
type AppEnv struct {
	App string `json:"app"`
	Env string `json:"environment"`
}

// Summary reports what an import did.
type Summary struct {
	Repo           string         `json:"repo"`
	Branch         string         `json:"branch"`
	Head           string         `json:"head"`
	Incremental    bool           `json:"incremental"`
	ForcePushed    bool           `json:"force_pushed"`
	Shallow        bool           `json:"shallow"`
	CommitsScanned int            `json:"commits_scanned"`
	ImageChanges   int            `json:"image_changes"`
	Deployments    map[AppEnv]int `json:"-"`
	Rollbacks      int            `json:"rollbacks"`
	Reverts        int            `json:"reverts"`
	Removals       int            `json:"removals"`
	Rewritten      int            `json:"rewritten_commits"`
	Events         int            `json:"events_stored"`
	Skipped        []Skip         `json:"skipped"`
	Duration       time.Duration  `json:"-"`
}

// TotalDeployments adds up deployments over apps and environments.
func (s *Summary) TotalDeployments() int {
	n := 0
	for _, v := range s.Deployments {
		n += v
	}
	return n
}

// fileState is the last readable version of a file: its blob, content
// and references.
type fileState struct {
	blob    string
	content []byte
	refs    []manifest.Ref
}

type historyKey struct{ app, env, loc string }

// importer holds one import's state.
type importer struct {
	opts    Options
	st      Store
	repo    *Repo
	blobs   *blobReader
	bots    []string
	sources []*sourceRepo
	log     *slog.Logger

	files      map[string]*fileState
	live       map[AppEnv]int          // image references currently in the repo per app/env
	history    map[historyKey][]string // images deployed per location, oldest first
	lastImage  map[AppEnv]string       // latest image per app/env
	lastSource map[AppEnv]string       // latest source commit deployed per app/env
	emitted    map[string]bool         // source commits already recorded in this import
	unreadable map[string]bool         // blobs that could not be read or parsed
	boundary   map[string]bool         // shallow-clone boundary commits
	sum        *Summary
}

type sourceRepo struct {
	spec  SourceSpec
	repo  *Repo
	graph *graph
}

// CursorName is the store cursor that remembers the last imported commit.
func CursorName(repoID, branch string) string { return "git:" + repoID + "@" + branch }

// Import reads the branch's first-parent history and stores every image
// change and deployment. A second run reads only new commits; a force-pushed
// branch is re-read whole and the commits it dropped are marked rewritten.
// Files that cannot be read are skipped and reported; each commit's events
// are stored together or not at all.
func Import(ctx context.Context, st Store, opts Options) (*Summary, error) {
	start := time.Now()
	if opts.BatchEvents <= 0 {
		opts.BatchEvents = 5000
	}
	if opts.MaxShipped <= 0 {
		opts.MaxShipped = 1000
	}
	if opts.Rules == nil {
		opts.Rules, _ = manifest.NewRules(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	repo, err := Open(ctx, opts.Repo, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	branch, err := repo.Branch(ctx, opts.Branch)
	if err != nil {
		return nil, err
	}
	head, err := repo.RevParse(ctx, branch)
	if err != nil {
		return nil, err
	}
	im := &importer{
		opts: opts, st: st, repo: repo, log: opts.Logger,
		bots:  append(slices.Clone(DefaultBots), opts.Bots...),
		files: map[string]*fileState{}, live: map[AppEnv]int{}, history: map[historyKey][]string{},
		lastImage: map[AppEnv]string{}, lastSource: map[AppEnv]string{}, emitted: map[string]bool{}, unreadable: map[string]bool{},
		boundary: repo.ShallowBoundary(),
		sum:      &Summary{Repo: repo.ID, Branch: branch, Head: head, Shallow: repo.Shallow, Deployments: map[AppEnv]int{}},
	}
	for _, s := range opts.Sources {
		sr, err := Open(ctx, s.Repo, opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("source repository for %s: %w", s.ImageGlob, err)
		}
		g, err := loadGraph(ctx, sr)
		if err != nil {
			return nil, err
		}
		im.sources = append(im.sources, &sourceRepo{spec: s, repo: sr, graph: g})
	}
	im.blobs, err = repo.newBlobReader(ctx)
	if err != nil {
		return nil, err
	}
	defer im.blobs.close()

	cursorName := CursorName(repo.ID, branch)
	cursor, err := st.Cursor(ctx, cursorName)
	if err != nil {
		return nil, err
	}
	rangeSpec := []string{head}
	switch {
	case cursor == head:
		im.sum.Incremental = true
		im.sum.Duration = time.Since(start)
		return im.sum, nil
	case cursor != "" && repo.IsAncestor(ctx, cursor, head):
		im.sum.Incremental = true
		rangeSpec = []string{cursor + ".." + head}
		if err := im.resume(ctx, cursor); err != nil {
			return nil, err
		}
	case cursor != "":
		im.sum.ForcePushed = true
		if err := im.markRewritten(ctx, head, branch); err != nil {
			return nil, err
		}
	}
	if im.sum.CommitsScanned, err = repo.countCommits(ctx, rangeSpec); err != nil {
		return nil, err
	}

	// Three stages overlap: git log and the blob requests (ahead), reading
	// and diffing (here), and storing (the batch writer).
	pre, err := repo.newBlobReader(ctx)
	if err != nil {
		return nil, err
	}
	defer pre.close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	commits := make(chan *Commit, 512)
	walkErr := make(chan error, 1)
	go func() {
		defer close(commits)
		walkErr <- repo.walkLog(wctx, rangeSpec, func(c *Commit) error {
			for _, fc := range c.Files {
				if fc.NewBlob != "" {
					if err := pre.request(fc.NewBlob); err != nil {
						return err
					}
				}
			}
			if err := pre.flush(); err != nil {
				return err
			}
			select {
			case commits <- c:
				return nil
			case <-wctx.Done():
				return wctx.Err()
			}
		})
	}()
	w := newBatchWriter(ctx, st, cursorName)
	var pending []delivery.Event
	for c := range commits {
		if err == nil {
			for i := range c.Files {
				if fc := &c.Files[i]; fc.NewBlob != "" {
					content, rerr := pre.receive(fc.NewBlob)
					fc.content, fc.readErr = append([]byte(nil), content...), rerr // the reader reuses its buffer
					var pe *protocolError
					if errors.As(fc.readErr, &pe) {
						err = fc.readErr
					}
				}
			}
		}
		if err != nil {
			cancel() // drain: the walk stops
			continue
		}
		pending = append(pending, im.commit(c)...)
		if len(pending) >= opts.BatchEvents {
			if err = w.send(pending, c.SHA); err != nil {
				cancel()
			}
			pending = nil
		}
	}
	if werr := <-walkErr; err == nil && werr != nil {
		err = werr
	}
	if err == nil {
		err = w.send(pending, head)
	}
	n, werr := w.close()
	im.sum.Events = n
	if err := errors.Join(err, werr); err != nil {
		return im.sum, fmt.Errorf("import %s: %w", repo.ID, err)
	}
	im.sum.Duration = time.Since(start)
	return im.sum, nil
}

// commit turns one commit into events.
func (im *importer) commit(c *Commit) []delivery.Event {
	baseline := im.boundary[c.SHA] // a shallow clone's oldest commit: its files are the starting state
	var changes []imageChange
	for _, fc := range c.Files {
		oldRefs, ok := im.refsBefore(c, fc)
		if !ok {
			continue
		}
		var newRefs []manifest.Ref
		if fc.NewBlob != "" {
			refs, content, err := im.next(&fc)
			if err == nil && len(refs) == 0 && len(oldRefs) > 0 {
				// Every reference gone from a file that is still there: a
				// removal, or a file that no longer parses? Parse it all.
				_, err = manifest.ExtractStrict(fc.Path, content)
			}
			if err != nil {
				im.skip(c.SHA, fc.Path, err)
				continue // keep the last readable version as the file's state
			}
			newRefs = refs
			im.files[fc.Path] = &fileState{blob: fc.NewBlob, content: content, refs: refs}
		} else {
			delete(im.files, fc.Path)
		}
		for _, ch := range manifest.Diff(oldRefs, newRefs) {
			ref := ch.New
			if ref == nil {
				ref = ch.Old
			}
			app, env := im.opts.Rules.Detect(fc.Path, *ref)
			ae := AppEnv{app, env}
			switch ch.Op {
			case manifest.Added:
				im.live[ae]++
			case manifest.Removed:
				im.live[ae]--
			}
			if !baseline {
				changes = append(changes, imageChange{path: fc.Path, ch: ch, ref: *ref, ae: ae})
			} else if ch.New != nil {
				im.remember(ae, fc.Path+"#"+ch.New.Key, ch.New.Image)
			}
		}
	}
	if len(changes) == 0 {
		return nil
	}
	bot := isBot(c.AuthorName, c.AuthorEmail, im.bots)
	pr := prNumber(c.Subject, c.Body)
	revert := isRevert(c.Subject, c.Body)
	tr := trailers(c.Body)
	parent := ""
	if len(c.Parents) > 0 {
		parent = c.Parents[0]
	}
	var events []delivery.Event
	byApp := map[AppEnv][]imageChange{}
	var order []AppEnv
	for _, ch := range changes {
		im.sum.ImageChanges++
		mc := &delivery.ManifestChange{
			Repo: im.repo.ID, Commit: c.SHA, Path: ch.path, Location: ch.ref.Key, Op: opOf(ch.ch.Op),
			Author: c.AuthorName, AuthorEmail: c.AuthorEmail, Bot: bot, PR: pr, Revert: revert,
			Subject: c.Subject, ParentCommit: parent, CommittedTime: c.CommittedAt,
		}
		if ch.ch.Old != nil {
			mc.OldImage = ch.ch.Old.Image
		}
		if ch.ch.New != nil {
			mc.NewImage = ch.ch.New.Image
			mc.SourceCommit = im.sourceCommit(ch.ch.New, tr)
		}
		events = append(events, delivery.Event{Source: Source, ID: eventID("manifest", c.CommittedAt, im.repo.ID, c.SHA, ch.path, ch.ref.Key),
			Type: delivery.ManifestChanged, Time: c.CommittedAt, App: ch.ae.App, Env: ch.ae.Env, Payload: mc})
		if ch.ae.App == "" {
			continue // no app: the change is recorded, but is no deployment
		}
		if _, seen := byApp[ch.ae]; !seen {
			order = append(order, ch.ae)
		}
		byApp[ch.ae] = append(byApp[ch.ae], ch)
	}
	for _, ae := range order {
		events = append(events, im.deployment(c, ae, byApp[ae], tr, bot, pr, revert)...)
	}
	return events
}

// refsBefore returns the file's references before the commit; false when
// they cannot be known (the file is skipped).
func (im *importer) refsBefore(c *Commit, fc FileChange) ([]manifest.Ref, bool) {
	if fc.OldBlob == "" {
		return nil, true
	}
	if st := im.files[fc.Path]; st != nil {
		if st.blob == fc.OldBlob {
			return st.refs, true
		}
		if im.unreadable[fc.OldBlob] {
			return st.refs, true // the previous version was unreadable: compare with the last readable one
		}
	}
	refs, err := im.extract(fc.OldBlob, fc.Path)
	if err != nil {
		if st := im.files[fc.Path]; st != nil {
			return st.refs, true
		}
		if !errors.Is(err, ErrMissingObject) {
			return nil, true // an unreadable old version with no earlier one: treat as empty
		}
		im.skip(c.SHA, fc.Path, fmt.Errorf("previous version: %w", err))
		return nil, false
	}
	return refs, true
}

// next reads the new version of a changed file and its references: patched
// from the previous version when only reference values changed, else parsed.
// The content returned is the file's own copy.
func (im *importer) next(fc *FileChange) ([]manifest.Ref, []byte, error) {
	if fc.readErr != nil {
		im.markUnreadable(fc.NewBlob)
		return nil, nil, fc.readErr
	}
	content := fc.content
	if prev := im.files[fc.Path]; prev != nil && prev.blob == fc.OldBlob && prev.content != nil {
		if refs, ok := manifest.Patch(prev.content, prev.refs, content); ok {
			return refs, content, nil
		}
	}
	refs, err := manifest.Extract(fc.Path, content)
	if err != nil {
		im.markUnreadable(fc.NewBlob)
		return nil, content, err
	}
	return refs, content, nil
}

// extract reads and parses one blob.
func (im *importer) extract(blob, p string) ([]manifest.Ref, error) {
	content, err := im.blobs.read(blob)
	if err != nil {
		im.markUnreadable(blob)
		return nil, err
	}
	refs, err := manifest.Extract(p, content)
	if err != nil {
		im.markUnreadable(blob)
		return nil, err
	}
	return refs, nil
}

func (im *importer) skip(commit, p string, err error) {
	reason := err.Error()
	var fe *manifest.FileError
	if errors.As(err, &fe) {
		reason = fe.Reason
		if fe.Line > 0 {
			reason = fmt.Sprintf("line %d: %s", fe.Line, fe.Reason)
		}
	}
	im.sum.Skipped = append(im.sum.Skipped, Skip{Commit: commit, Path: p, Reason: reason})
}

func opOf(op manifest.Op) delivery.ManifestOp {
	switch op {
	case manifest.Added:
		return delivery.ManifestAdded
	case manifest.Removed:
		return delivery.ManifestRemoved
	}
	return delivery.ManifestUpdated
}

// imageChange is one image reference change in a commit.
type imageChange struct {
	path string
	ch   manifest.Change
	ref  manifest.Ref // the side that exists: new, else old
	ae   AppEnv
}

func (ic imageChange) loc() string { return ic.path + "#" + ic.ref.Key }

// deployment makes the service.* event of one app/env in one commit, and
// the commit.authored events of the source commits it shipped.
func (im *importer) deployment(c *Commit, ae AppEnv, chs []imageChange, tr map[string]string, bot bool, pr int64, revert bool) []delivery.Event {
	slices.SortFunc(chs, func(a, b imageChange) int { return strings.Compare(a.loc(), b.loc()) })
	primary := chs[0]
	added := 0
	rollback := false
	for _, ch := range chs {
		if ch.ch.New != nil && primary.ch.New == nil {
			primary = ch
		}
		if ch.ch.Op == manifest.Added {
			added++
		}
		if ch.ch.Op == manifest.Updated && ch.ch.New.Image != ch.ch.Old.Image {
			if im.wasDeployed(ae, ch.loc(), ch.ch.New.Image) ||
				(sameRepository(ch.ch.Old.Image, ch.ch.New.Image) && semverLess(ch.ch.New.Tag, ch.ch.Old.Tag)) {
				rollback = true
			}
		}
	}
	liveAfter := im.live[ae]
	var kind delivery.EventType
	switch {
	case primary.ch.New == nil && liveAfter <= 0:
		kind = delivery.ServiceRemoved
	case primary.ch.New == nil:
		return nil // a container removed beside others: recorded as a manifest change only
	case liveAfter-added <= 0:
		kind = delivery.ServiceDeployed
	case rollback:
		kind = delivery.ServiceRolledBack
	default:
		kind = delivery.ServiceUpgraded
	}
	d := &delivery.Deployment{Repo: im.repo.ID, ManifestCommit: c.SHA, InferredFrom: "git", Author: c.AuthorName, Bot: bot, PR: pr, Revert: revert}
	var events []delivery.Event
	if primary.ch.New != nil {
		d.Artifact = primary.ch.New.Image
		if primary.ch.Old != nil {
			d.PreviousArtifact = primary.ch.Old.Image
		} else {
			d.PreviousArtifact = im.lastImage[ae]
		}
		d.SourceCommit = im.sourceCommit(primary.ch.New, tr)
		var src *sourceRepo
		d.Changes, src = im.shipped(ae, primary.ch.New.Image, d.SourceCommit)
		if src != nil {
			events = append(events, im.commitEvents(src, d.Changes)...)
		}
		if d.SourceCommit != "" {
			im.lastSource[ae] = d.SourceCommit
		}
	} else {
		d.PreviousArtifact = primary.ch.Old.Image
	}
	for _, ch := range chs {
		if ch.ch.New != nil {
			im.remember(ae, ch.loc(), ch.ch.New.Image)
		}
	}
	switch kind {
	case delivery.ServiceRolledBack:
		im.sum.Rollbacks++
	case delivery.ServiceRemoved:
		im.sum.Removals++
	}
	if revert {
		im.sum.Reverts++
	}
	if kind != delivery.ServiceRemoved {
		im.sum.Deployments[ae]++
	}
	return append(events, delivery.Event{Source: Source, ID: eventID("deploy", c.CommittedAt, im.repo.ID, c.SHA, ae.App, ae.Env),
		Type: kind, Time: c.CommittedAt, App: ae.App, Env: ae.Env, Payload: d})
}

func sameRepository(a, b string) bool {
	ia, err1 := manifest.ParseImage(a)
	ib, err2 := manifest.ParseImage(b)
	return err1 == nil && err2 == nil && ia.Name() == ib.Name()
}

// remember records that image is deployed at a location of an app/env.
func (im *importer) remember(ae AppEnv, loc, image string) {
	k := historyKey{ae.App, ae.Env, loc}
	h := im.history[k]
	if len(h) == 0 || h[len(h)-1] != image {
		im.history[k] = append(h, image)
	}
	im.lastImage[ae] = image
}

// wasDeployed reports whether image was deployed at loc before the current value.
func (im *importer) wasDeployed(ae AppEnv, loc, image string) bool {
	h := im.history[historyKey{ae.App, ae.Env, loc}]
	if len(h) < 2 {
		return false
	}
	return slices.Contains(h[:len(h)-1], image)
}

// sourceCommit finds the source commit an image was built from: a
// provenance trailer on the manifest commit, else a SHA in the tag, resolved
// in the source repository when one is configured for the image.
func (im *importer) sourceCommit(ref *manifest.Ref, tr map[string]string) string {
	src := im.sourceFor(ref.Image)
	for _, k := range []string{TrailerSourceCommit, TrailerArgoReference} {
		if v := strings.ToLower(tr[k]); v != "" && isHex(v) && len(v) >= 7 {
			if src != nil {
				if full := src.graph.resolve(v); full != "" {
					return full
				}
			}
			return v
		}
	}
	for _, cand := range manifest.SourceSHAs(ref.Tag) {
		if src == nil {
			return cand.SHA
		}
		if full := src.graph.resolve(cand.SHA); full != "" {
			return full
		}
	}
	return ""
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// sourceFor returns the source repository configured for an image.
func (im *importer) sourceFor(image string) *sourceRepo {
	if len(im.sources) == 0 {
		return nil
	}
	name := image
	if img, err := manifest.ParseImage(image); err == nil {
		name = img.Name()
	}
	for _, s := range im.sources {
		if ok, _ := path.Match(s.spec.ImageGlob, name); ok {
			return s
		}
	}
	return nil
}

// shipped lists the source commits a deployment of sha shipped to ae: the
// commits in (previous deployed sha, sha], newest first. A first
// deployment ships only its own commit: years of history before it are not
// its changes. Without a source repository only sha itself is known.
func (im *importer) shipped(ae AppEnv, image, sha string) ([]string, *sourceRepo) {
	if sha == "" {
		return nil, nil
	}
	prev := im.lastSource[ae]
	src := im.sourceFor(image)
	if src == nil || src.graph.commits[sha] == nil {
		if sha == prev {
			return nil, nil
		}
		return []string{sha}, nil
	}
	if sha == prev {
		return nil, src
	}
	return src.graph.shipped(sha, prev, im.opts.MaxShipped), src
}

// commitEvents records source commits, once per import.
func (im *importer) commitEvents(src *sourceRepo, shas []string) []delivery.Event {
	var out []delivery.Event
	for _, sha := range shas {
		key := src.repo.ID + "@" + sha
		n := src.graph.commits[sha]
		if im.emitted[key] || n == nil {
			continue
		}
		im.emitted[key] = true
		out = append(out, delivery.Event{Source: Source, ID: eventID("commit", n.committedAt, src.repo.ID, sha), Type: delivery.CommitAuthored,
			Time: n.committedAt, Payload: &delivery.Commit{Repo: src.repo.ID, SHA: sha, Parents: n.parents, AuthorName: n.authorName,
				AuthorEmail: n.authorEmail, AuthoredAt: n.authoredAt, CommittedAt: n.committedAt, Subject: n.subject}})
	}
	return out
}

// eventID builds a stable event id: the kind, the commit's time, and a hash
// of what identifies the event (repository, commit, file, location …).
// Short, so the store's unique index stays small, and led by the time, so
// an import appends to that index in order instead of all over it.
func eventID(kind string, at time.Time, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s:%011x:%s", kind, at.Unix(), hex.EncodeToString(h.Sum(nil)[:12]))
}

func (im *importer) markUnreadable(blob string) { im.unreadable[blob] = true }

// resume restores the state at the cursor commit for an incremental import:
// the references in the tree at that commit, and the images and source
// commits deployed so far, from the store.
func (im *importer) resume(ctx context.Context, cursor string) error {
	out, err := runGit(ctx, im.repo.Dir, "ls-tree", "-r", "-z", "--full-tree", cursor)
	if err != nil {
		return err
	}
	for _, entry := range strings.Split(string(out), "\x00") {
		meta, p, ok := strings.Cut(entry, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			continue
		}
		refs, err := im.extract(f[2], p)
		if err != nil {
			continue
		}
		im.files[p] = &fileState{blob: f[2], refs: refs}
		for _, r := range refs {
			app, env := im.opts.Rules.Detect(p, r)
			im.live[AppEnv{app, env}]++
		}
	}
	mcs, err := im.st.ManifestChanges(ctx, store.ModelFilter{Repo: im.repo.ID})
	if err != nil {
		return err
	}
	for _, mc := range mcs {
		if mc.NewImage != "" {
			im.remember(AppEnv{mc.App, mc.Env}, mc.Path+"#"+mc.Location, mc.NewImage)
		}
	}
	deps, err := im.st.Deployments(ctx, store.ModelFilter{Repo: im.repo.ID})
	if err != nil {
		return err
	}
	for _, d := range deps {
		if d.SourceCommit != "" && !d.Rewritten {
			im.lastSource[AppEnv{d.App, d.Env}] = d.SourceCommit
		}
	}
	return nil
}

// markRewritten records the imported commits that a force-push removed
// from the branch.
func (im *importer) markRewritten(ctx context.Context, head, branch string) error {
	chain, err := im.repo.FirstParentChain(ctx, head)
	if err != nil {
		return err
	}
	onBranch := make(map[string]bool, len(chain))
	for _, s := range chain {
		onBranch[s] = true
	}
	mcs, err := im.st.ManifestChanges(ctx, store.ModelFilter{Repo: im.repo.ID})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var events []delivery.Event
	now := time.Now().UTC()
	for _, mc := range mcs {
		if onBranch[mc.Commit] || seen[mc.Commit] {
			continue
		}
		seen[mc.Commit] = true
		events = append(events, delivery.Event{Source: Source, ID: eventID("rewritten", mc.Time, im.repo.ID, mc.Commit), Type: delivery.ManifestRewritten,
			Time: now, Payload: &delivery.RewrittenCommit{Repo: im.repo.ID, Commit: mc.Commit, Branch: branch}})
	}
	im.sum.Rewritten = len(events)
	if len(events) == 0 {
		return nil
	}
	_, err = im.st.Append(ctx, events...)
	return err
}

// batchWriter appends batches of whole commits in the background, moving
// the cursor after each, so parsing and storing overlap.
type batchWriter struct {
	ctx    context.Context
	st     Store
	cursor string
	ch     chan batch
	done   chan struct{}
	n      int
	err    error
}

type batch struct {
	events []delivery.Event
	upTo   string
}

func newBatchWriter(ctx context.Context, st Store, cursor string) *batchWriter {
	w := &batchWriter{ctx: ctx, st: st, cursor: cursor, ch: make(chan batch, 2), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for b := range w.ch {
			if w.err != nil {
				continue
			}
			if len(b.events) > 0 {
				res, err := w.st.Append(w.ctx, b.events...)
				if err != nil {
					w.err = err
					continue
				}
				w.n += res.Appended
			}
			if err := w.st.SetCursor(w.ctx, w.cursor, b.upTo); err != nil {
				w.err = err
			}
		}
	}()
	return w
}

func (w *batchWriter) send(events []delivery.Event, upTo string) error {
	select {
	case w.ch <- batch{events: events, upTo: upTo}:
		return nil
	case <-w.done:
		return w.err
	}
}

func (w *batchWriter) close() (int, error) {
	close(w.ch)
	<-w.done
	return w.n, w.err
}
