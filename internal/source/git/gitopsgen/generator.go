package gitopsgen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// generator holds the state of the repository being written: the apps, the
// current content of every path, and the fast-import stream.
type generator struct {
	opts  Options
	rng   *rand.Rand
	imp   *importer
	stats Stats
	err   error

	live    []*app // apps in the tree, in creation order
	names   []string
	nameIdx int
	used    map[string]bool
	globals map[fileKind]*fileSpec

	files map[string]*fileState // the tree of the commit being built

	index   int       // first-parent index of the commit being made
	now     time.Time // its committer time
	headAt  time.Time // committer time of main's tip
	mark    int       // last mark used
	head    int       // mark of main's tip
	pr      int       // last pull request number
	prUsed  bool      // refs/heads/pr was created and must be deleted
	events  map[int]event
	undo    []undoRecord
	docs    docsState
	pending pendingPR

	lastSource string // source SHA of the last build

	stamp   int // current changeset
	touched []*fileSpec
	t       text
	changes []change
}

// fileState is one path of the tree. Values are replaced, never changed, so
// that a pull request can keep the version it started from.
type fileState struct {
	content []byte
	refs    []ref
	style   Style
}

// change is one path written by a commit; nil content deletes it.
type change struct {
	path    string
	content []byte
	exec    bool
	state   *fileState
}

// pendingPR is the pull request whose branch is being written: the paths it
// changed and their versions at the branch point.
type pendingPR struct {
	active bool
	paths  []string
	before map[string]*fileState
}

// undoRecord remembers a recent first-parent commit that changed one app in
// one environment, so that it can be reverted.
type undoRecord struct {
	mark          int
	subject       string
	app           *app
	env           int
	before, after envState
	reverted      bool
}

const undoDepth = 32

// docsState is the revision of repository-wide files.
type docsState struct {
	readme   int
	runbook  []string // newest last
	workflow int
	renovate int
	quota    []int
}

type event int

const (
	eventAddApp event = iota + 1
	eventRemoveApp
)

func newGenerator(opts Options, imp *importer) *generator {
	g := &generator{
		opts:    opts,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		imp:     imp,
		used:    map[string]bool{},
		globals: map[fileKind]*fileSpec{},
		files:   map[string]*fileState{},
		events:  map[int]event{},
		now:     opts.Start.UTC().Truncate(time.Second),
		stamp:   1,
	}
	g.pr = 100 + g.rng.IntN(400)
	g.names = slices.Clone(appNames)
	g.rng.Shuffle(len(g.names), func(i, j int) { g.names[i], g.names[j] = g.names[j], g.names[i] })
	g.docs.quota = make([]int, len(teams))
	for i := range g.docs.quota {
		g.docs.quota[i] = 8 * (1 + g.rng.IntN(4))
	}
	g.docs.workflow = g.rng.IntN(3)
	return g
}

func (g *generator) isMerge(i int) bool {
	return g.opts.MergeEvery > 0 && i > 0 && i%g.opts.MergeEvery == 0
}

// schedule places the apps added and removed during the history: added
// between 10% and 90% of it, removed between 40% and 95%, never on a merge.
func (g *generator) schedule() {
	n := g.opts.Commits
	if n < 50 {
		return
	}
	place := func(pos int, ev event) {
		for pos < n && (pos < 1 || g.isMerge(pos) || g.events[pos] != 0) {
			pos++
		}
		if pos < n {
			g.events[pos] = ev
		}
	}
	adds := max(1, g.opts.Apps/10)
	for k := range adds {
		lo := n * (10 + 80*k/adds) / 100
		place(lo+g.rng.IntN(max(1, n*80/100/adds)), eventAddApp)
	}
	removals := 1 + g.rng.IntN(2)
	for k := range removals {
		lo := n * (40 + 55*k/removals) / 100
		place(lo+g.rng.IntN(max(1, n*55/100/removals)), eventRemoveApp)
	}
}

func (g *generator) run(ctx context.Context) error {
	g.schedule()
	g.initial()
	for g.index = 1; g.index < g.opts.Commits && g.err == nil; g.index++ {
		if g.index%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := g.imp.w.Write(nil); err != nil {
				return g.imp.failed(err)
			}
		}
		g.headAt = g.now
		g.advance()
		switch {
		case g.isMerge(g.index):
			g.pullRequest()
		case g.events[g.index] == eventAddApp:
			g.addApp()
		case g.events[g.index] == eventRemoveApp:
			if !g.removeApp() {
				g.regular()
			}
		default:
			g.regular()
		}
	}
	if g.err != nil {
		return g.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if g.prUsed {
		g.imp.str("reset refs/heads/pr\nfrom 0000000000000000000000000000000000000000\n\n")
	}
	head, err := g.imp.getMark(g.head)
	if err != nil {
		return err
	}
	g.stats.Head = head
	g.stats.Files = len(g.files)
	g.stats.Apps = len(g.live)
	return nil
}

// advance moves the clock to the next first-parent commit: minutes apart in
// working hours (UTC), hours apart at night, longer at weekends.
func (g *generator) advance() {
	var mean time.Duration
	switch wd, h := g.now.Weekday(), g.now.Hour(); {
	case wd == time.Saturday || wd == time.Sunday:
		mean = 4 * time.Hour
	case h >= 8 && h < 19:
		mean = 12 * time.Minute
	default:
		mean = 90 * time.Minute
	}
	gap := time.Duration(g.rng.ExpFloat64() * float64(mean))
	gap = min(max(gap, 40*time.Second), 20*time.Hour)
	g.now = g.now.Add(gap).Truncate(time.Second)
}

// touch adds files to the changeset of the next commit.
func (g *generator) touch(fs ...*fileSpec) {
	for _, f := range fs {
		if f.stamp != g.stamp {
			f.stamp = g.stamp
			g.touched = append(g.touched, f)
		}
	}
}

func (g *generator) touchEnv(a *app, e int) { g.touch(a.envFiles[e]...) }

func (g *generator) touchApp(a *app) {
	g.touch(a.baseFiles...)
	for e := range numEnvs {
		g.touch(a.envFiles[e]...)
	}
}

func (g *generator) touchGlobal(kinds ...fileKind) {
	for _, k := range kinds {
		g.touch(g.globals[k])
	}
}

// collect renders the changeset and returns the paths whose content
// changed. The changeset is emptied.
func (g *generator) collect() []change {
	out := g.changes[:0]
	for _, f := range g.touched {
		cur := g.files[f.path]
		if !g.render(f, &g.t) {
			if cur != nil {
				out = append(out, change{path: f.path})
			}
			continue
		}
		if cur != nil && bytes.Equal(cur.content, g.t.b) {
			continue
		}
		st := &fileState{content: bytes.Clone(g.t.b), style: f.style}
		if len(g.t.refs) > 0 {
			st.refs = slices.Clone(g.t.refs)
		}
		out = append(out, change{path: f.path, content: st.content, exec: f.kind == fkPromoteScript, state: st})
	}
	g.touched = g.touched[:0]
	g.stamp++
	g.changes = out
	return out
}

// commitInfo is the metadata of a commit.
type commitInfo struct {
	author    *ident
	committer *ident
	authored  time.Time // zero: the commit time
	msg       string
}

// commit writes the changeset as a commit: on main, or on the pull request
// branch while one is being written. It reports false, writing nothing,
// when the changeset changes no file.
func (g *generator) commit(ci commitInfo) bool {
	changes := g.collect()
	if len(changes) == 0 {
		return false
	}
	if g.pending.active {
		g.writeCommit("refs/heads/pr", ci, changes, 0)
		for _, c := range changes {
			if _, seen := g.pending.before[c.path]; !seen {
				g.pending.before[c.path] = g.files[c.path]
				g.pending.paths = append(g.pending.paths, c.path)
			}
			g.store(c)
		}
		g.stats.SideCommits++
		return true
	}
	g.head = g.writeCommit("refs/heads/main", ci, changes, 0)
	images := 0
	for _, c := range changes {
		images += g.count(g.files[c.path], c.state)
		g.store(c)
	}
	g.stats.Commits++
	g.stats.FileWrites += len(changes)
	if images == 0 {
		g.stats.ConfigChanges++
	}
	return true
}

// store makes a change part of the current tree.
func (g *generator) store(c change) {
	if c.state == nil {
		delete(g.files, c.path)
	} else {
		g.files[c.path] = c.state
	}
}

// count adds the image references changed between two versions of a file
// (nil: absent) to the stats, and returns how many.
func (g *generator) count(before, after *fileState) int {
	var b, a []ref
	var style Style
	if before != nil {
		b, style = before.refs, before.style
	}
	if after != nil {
		a, style = after.refs, after.style
	}
	n := 0
	for _, r := range a {
		i := slices.IndexFunc(b, func(x ref) bool { return x.key == r.key })
		if i < 0 || b[i].value != r.value {
			n++
		}
	}
	for _, r := range b {
		if !slices.ContainsFunc(a, func(x ref) bool { return x.key == r.key }) {
			n++
		}
	}
	g.stats.ImageChanges.add(style, n)
	return n
}

// startPR begins a pull request branch at main's tip.
func (g *generator) startPR() {
	g.imp.str("reset refs/heads/pr\nfrom :")
	g.imp.int(int64(g.head))
	g.imp.str("\n\n")
	g.prUsed = true
	g.pending = pendingPR{active: true, before: map[string]*fileState{}}
}

// mergePR writes the merge commit of the pull request branch into main:
// its tree is the branch's, written as changes against main's tip.
func (g *generator) mergePR(ci commitInfo) {
	p := g.pending
	g.pending = pendingPR{}
	var changes []change
	for _, path := range p.paths {
		before, after := p.before[path], g.files[path]
		switch {
		case after == nil && before == nil:
			continue
		case after == nil:
			changes = append(changes, change{path: path})
		case before != nil && bytes.Equal(before.content, after.content):
			continue
		default:
			changes = append(changes, change{path: path, content: after.content, exec: isScript(path), state: after})
		}
		g.count(before, after)
	}
	side := g.mark
	g.head = g.writeCommit("refs/heads/main", ci, changes, side)
	g.stats.Commits++
	g.stats.Merges++
	g.stats.FileWrites += len(changes)
}

func isScript(path string) bool { return path == "scripts/promote.sh" }

// writeCommit writes one commit command and returns its mark.
func (g *generator) writeCommit(ref string, ci commitInfo, changes []change, merge int) int {
	g.mark++
	im := g.imp
	im.str("commit ")
	im.str(ref)
	im.str("\nmark :")
	im.int(int64(g.mark))
	authored := ci.authored
	if authored.IsZero() {
		authored = g.now
	}
	committer := ci.committer
	if committer == nil {
		committer = ci.author
	}
	g.ident("\nauthor ", ci.author, authored)
	g.ident("\ncommitter ", committer, g.now)
	im.str("\ndata ")
	im.int(int64(len(ci.msg)))
	im.str("\n")
	im.str(ci.msg)
	im.str("\n")
	if merge > 0 {
		im.str("merge :")
		im.int(int64(merge))
		im.str("\n")
	}
	for _, c := range changes {
		if c.content == nil {
			im.str("D ")
			im.str(c.path)
			im.str("\n")
			continue
		}
		if c.exec {
			im.str("M 100755 inline ")
		} else {
			im.str("M 100644 inline ")
		}
		im.str(c.path)
		im.str("\n")
		im.data(c.content)
	}
	im.str("\n")
	return g.mark
}

func (g *generator) ident(prefix string, id *ident, at time.Time) {
	im := g.imp
	im.str(prefix)
	im.str(id.name)
	im.str(" <")
	im.str(id.email)
	im.str("> ")
	im.int(at.Unix())
	im.str(" ")
	im.str(id.tz)
}

// remember keeps a commit that changed one app in one environment as a
// candidate for a revert.
func (g *generator) remember(subject string, a *app, e int, before envState) {
	if g.pending.active {
		return
	}
	if len(g.undo) == undoDepth {
		copy(g.undo, g.undo[1:])
		g.undo = g.undo[:undoDepth-1]
	}
	g.undo = append(g.undo, undoRecord{mark: g.head, subject: subject, app: a, env: e, before: before, after: a.envs[e]})
}

// nextName returns an unused app name.
func (g *generator) nextName() string {
	for {
		i := g.nameIdx
		g.nameIdx++
		name := g.names[i%len(g.names)]
		if round := i / len(g.names); round > 0 {
			name += "-" + strconv.Itoa(round+1)
		}
		if !g.used[name] {
			g.used[name] = true
			return name
		}
	}
}

func (g *generator) human() *ident { return humans[g.rng.IntN(len(humans))] }

func (g *generator) pickApp() *app { return g.live[g.rng.IntN(len(g.live))] }

// nextPR returns the number of a new pull request.
func (g *generator) nextPR() int {
	g.pr += 1 + g.rng.IntN(3)
	return g.pr
}

// initial writes the first commit: every app and the repository-wide
// files.
func (g *generator) initial() {
	for _, style := range styleDeck(g.rng, g.opts.Apps) {
		g.addAppFiles(g.newApp(g.nextName(), style))
	}
	for _, gf := range []struct {
		path string
		kind fileKind
	}{
		{"README.md", fkRootReadme},
		{".github/CODEOWNERS", fkCodeowners},
		{".github/workflows/validate.yaml", fkWorkflow},
		{"renovate.json", fkRenovate},
		{"platform/namespaces.yaml", fkNamespaces},
		{"platform/resource-quotas.yaml", fkQuotas},
		{"docs/runbook.md", fkRunbook},
		{"Makefile", fkMakefile},
		{"scripts/promote.sh", fkPromoteScript},
	} {
		f := &fileSpec{path: gf.path, kind: gf.kind, env: -1}
		g.globals[gf.kind] = f
		g.touch(f)
	}
	g.docs.runbook = append(g.docs.runbook, g.now.Format("2006-01-02")+": first version, moved from the wiki.")
	for _, a := range g.live {
		g.touchApp(a)
	}
	g.commit(commitInfo{
		author: humans[g.rng.IntN(len(humans))],
		msg:    "Initial import of GitOps manifests\n\nMoved from the old deploy repository: one directory per app, one file or\noverlay per environment. Argo CD applications point here from today.\n",
	})
}

func (g *generator) addAppFiles(a *app) {
	appFiles(a)
	a.addedAt = g.index
	g.live = append(g.live, a)
}
