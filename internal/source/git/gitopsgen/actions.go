package gitopsgen

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// regular writes one first-parent commit that is neither a merge nor a
// scheduled app addition or removal: about 70% image bumps, 5% rollbacks,
// 2% reverts, 20% config changes and 3% dependency bumps. An action that
// has nothing to do falls back to a config change.
func (g *generator) regular() {
	switch r := g.rng.IntN(100); {
	case r < 70:
		g.imageBump()
	case r < 75:
		if !g.rollback() {
			g.configChange()
		}
	case r < 77:
		if !g.revert() {
			g.configChange()
		}
	case r < 97:
		g.configChange()
	default:
		if !g.dependencyBump() {
			g.configChange()
		}
	}
}

// subject returns the first line of a commit message.
func subject(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		return msg[:i]
	}
	return msg
}

// message joins a subject and a body (which ends with a newline, or is
// empty).
func message(subj, body string) string {
	if body == "" {
		return subj + "\n"
	}
	return subj + "\n\n" + body
}

// squash makes ci a squash-merged pull request: the subject gets "(#N)",
// GitHub commits it, and it was written a while before.
func (g *generator) squash(ci *commitInfo, subj string) string {
	ci.committer = githubMerge
	ci.authored = g.now.Add(-time.Duration(3+g.rng.IntN(240)) * time.Minute)
	return subj + " (#" + itoa(g.nextPR()) + ")"
}

func (g *generator) pickEnv() int {
	switch r := g.rng.IntN(10); {
	case r < 4:
		return envProd
	case r < 7:
		return envStaging
	default:
		return envDev
	}
}

// what names the components of a changed: the app, or "app (api, worker)".
func what(a *app, slots []int) string {
	if len(a.comps) == 1 {
		return a.name
	}
	names := make([]string, len(slots))
	for i, s := range slots {
		names[i] = a.comps[s].name
	}
	return a.name + " (" + strings.Join(names, ", ") + ")"
}

func (g *generator) sourceRepo(a *app) string {
	if len(g.opts.SourceSHAs) > 0 {
		return "acme/platform"
	}
	return "acme/" + a.name
}

// imageBump deploys a new build to dev or promotes one.
func (g *generator) imageBump() {
	a := g.pickApp()
	var ok bool
	switch x := g.rng.IntN(100); {
	case x < 45:
		ok = g.deployBuild(a)
	case x < 75:
		ok = g.promote(a, envDev, envStaging) || g.deployBuild(a)
	default:
		ok = g.promote(a, envStaging, envProd) || g.promote(a, envDev, envStaging) || g.deployBuild(a)
	}
	if !ok {
		g.configChange()
	}
}

// deployBuild deploys a new build of some components of a to dev.
func (g *generator) deployBuild(a *app) bool {
	const e = envDev
	st := &a.envs[e]
	before := *st
	slots := make([]int, 0, maxSlots)
	if n := len(a.comps); n > 1 && g.rng.IntN(2) == 0 {
		slots = append(slots, g.rng.IntN(n))
	} else {
		for s := range n {
			slots = append(slots, s)
		}
	}
	var changed []int
	for try := 0; try < 4 && len(changed) == 0; try++ {
		b := g.build(a, len(a.comps))
		for _, s := range slots {
			if b[s] != st.images[s] || !st.written {
				st.images[s] = b[s]
				a.hist[e][s].push(b[s])
				changed = append(changed, s)
			}
		}
	}
	if len(changed) == 0 {
		return false
	}
	st.written = true
	g.touchEnv(a, e)
	var ci commitInfo
	if a.style == StyleImageUpdater {
		ci = g.updaterCommit(a, e, &before, changed)
	} else {
		env := envName(e)
		label := st.images[changed[0]].label()
		var subj string
		switch a.msgStyle {
		case 0:
			subj = "chore(deploy): update " + what(a, changed) + " to " + label + " in " + env
		case 1:
			subj = "deploy(" + a.name + "): release " + label + " to " + env
		default:
			subj = "ci(" + a.name + "): bump " + env + " image to " + label
		}
		var body strings.Builder
		for _, s := range changed {
			body.WriteString("Image: " + st.images[s].ref() + "\n")
		}
		body.WriteString("Source: https://github.com/" + g.sourceRepo(a) + "/commit/" + g.lastSource + "\n")
		body.WriteString("Workflow run: https://github.com/acme/" + a.name + "/actions/runs/" + itoa(8_000_000_000+g.rng.IntN(1_000_000_000)) + "\n")
		ci = commitInfo{author: botShiplog, msg: message(subj, body.String())}
	}
	if !g.commit(ci) {
		return false
	}
	g.stats.ImageBumps++
	g.remember(subject(ci.msg), a, e, before)
	return true
}

// updaterCommit is argocd-image-updater's commit for changed slots of a in
// environment e.
func (g *generator) updaterCommit(a *app, e int, before *envState, changed []int) commitInfo {
	var b strings.Builder
	for _, s := range changed {
		old := "latest"
		if before.written {
			old = before.images[s].label()
		}
		b.WriteString("updates image " + a.comps[s].repo + " tag '" + old + "' to '" + a.envs[e].images[s].label() + "'\n")
	}
	return commitInfo{author: botUpdater, msg: message("build: automatic update of "+a.name+"-"+envName(e), b.String())}
}

// applyPromotion copies the images of environment from to environment to.
func (g *generator) applyPromotion(a *app, from, to int) (changed []int, before envState) {
	src, dst := &a.envs[from], &a.envs[to]
	before = *dst
	if !src.written {
		return nil, before
	}
	for s := range a.comps {
		if src.images[s] != dst.images[s] || !dst.written {
			dst.images[s] = src.images[s]
			a.hist[to][s].push(src.images[s])
			changed = append(changed, s)
		}
	}
	if len(changed) > 0 {
		dst.written = true
		g.touchEnv(a, to)
	}
	return changed, before
}

// promote has a bot promote what runs in one environment to the next.
func (g *generator) promote(a *app, from, to int) bool {
	changed, before := g.applyPromotion(a, from, to)
	if len(changed) == 0 {
		return false
	}
	dst := &a.envs[to]
	var ci commitInfo
	if a.style == StyleImageUpdater {
		ci = g.updaterCommit(a, to, &before, changed)
	} else {
		fe, te := envName(from), envName(to)
		label := dst.images[changed[0]].label()
		var subj string
		switch a.msgStyle {
		case 0:
			subj = "chore(deploy): promote " + what(a, changed) + " " + label + " to " + te
		case 1:
			subj = "deploy(" + a.name + "): promote " + label + " from " + fe + " to " + te
		default:
			subj = "ci(" + a.name + "): promote " + fe + " to " + te + " (" + label + ")"
		}
		ci = commitInfo{author: botShiplog}
		if to == envProd && g.rng.IntN(2) == 0 {
			subj = g.squash(&ci, subj)
		}
		var body strings.Builder
		body.WriteString("Promoted from " + fe + " after " + itoa(1+g.rng.IntN(6)) + "h without alerts.\n\n")
		for _, s := range changed {
			body.WriteString("Image: " + dst.images[s].ref() + "\n")
			if before.written {
				body.WriteString("Previous: " + before.images[s].ref() + "\n")
			}
		}
		ci.msg = message(subj, body.String())
	}
	if !g.commit(ci) {
		return false
	}
	g.stats.ImageBumps++
	g.stats.Promotions++
	g.remember(subject(ci.msg), a, to, before)
	return true
}

// promoteHuman is a person promoting staging to prod in a pull request.
func (g *generator) promoteHuman(a *app, author *ident) (string, bool) {
	if a.style == StyleImageUpdater {
		return "", false
	}
	changed, before := g.applyPromotion(a, envStaging, envProd)
	if len(changed) == 0 {
		return "", false
	}
	label := a.envs[envProd].images[changed[0]].label()
	subj := "release(" + a.name + "): promote " + label + " to prod"
	body := "Staging has run " + label + " since yesterday; the error rate is flat.\n"
	ok := g.commit(commitInfo{author: author, msg: message(subj, body)})
	if ok {
		g.remember(subj, a, envProd, before)
	}
	return subj, ok
}

var rollbackReasons = []string{
	"%s raised the 5xx rate on the public endpoints; going back to the last good image.",
	"Memory grows without bound since %s: OOM kills every 20 minutes.",
	"%s breaks requests from clients on the old API version.",
	"p99 latency doubled after %s.",
	"%s fails its readiness probe under load.",
}

// rollback sets an image back to one deployed earlier in the same app and
// environment.
func (g *generator) rollback() bool {
	for range 8 {
		a := g.pickApp()
		e := g.pickEnv()
		s := g.rng.IntN(len(a.comps))
		st := &a.envs[e]
		h := &a.hist[e][s]
		if !st.written {
			continue
		}
		cur := st.images[s]
		target := -1
		for i := h.n - 1; i >= 0; i-- {
			if h.vals[i] == cur {
				continue
			}
			target = i
			if g.rng.IntN(10) < 7 {
				break
			}
		}
		if target < 0 {
			continue
		}
		before := *st
		to := h.vals[target]
		st.images[s] = to
		h.push(to)
		g.touchEnv(a, e)
		env := envName(e)
		author := g.human()
		ci := commitInfo{author: author}
		var subj string
		switch g.rng.IntN(3) {
		case 0:
			subj = "rollback(" + a.name + "): " + env + " to " + to.label()
		case 1:
			subj = "Roll back " + what(a, []int{s}) + " in " + env + " to " + to.label()
		default:
			subj = g.squash(&ci, "fix("+a.name+"): roll back "+env+" to "+to.label())
		}
		body := fmt.Sprintf(rollbackReasons[g.rng.IntN(len(rollbackReasons))], cur.label())
		body += "\n\nIncident: INC-" + itoa(1000+g.rng.IntN(9000)) + "\n"
		ci.msg = message(subj, body)
		if !g.commit(ci) {
			*st = before
			continue
		}
		g.stats.Rollbacks++
		g.remember(subj, a, e, before)
		return true
	}
	return false
}

var revertReasons = []string{
	"",
	"Broke the smoke tests in this environment.\n",
	"Needs a schema migration first; trying again next week.\n",
	"Wrong environment.\n",
}

// revert undoes a recent commit that changed one app in one environment,
// if nothing has changed it since.
func (g *generator) revert() bool {
	for i := len(g.undo) - 1; i >= 0; i-- {
		r := &g.undo[i]
		if r.reverted || !r.app.alive || r.app.envs[r.env] != r.after || r.before == r.after {
			continue
		}
		if i > 0 && g.rng.IntN(10) < 3 {
			continue // sometimes an older one
		}
		sha, err := g.imp.getMark(r.mark)
		if err != nil {
			g.err = err
			return true
		}
		a, e := r.app, r.env
		a.envs[e] = r.before
		for s := range a.comps {
			if r.before.written && r.before.images[s] != r.after.images[s] {
				a.hist[e][s].push(r.before.images[s])
			}
		}
		g.touchEnv(a, e)
		body := "This reverts commit " + sha + ".\n"
		if reason := revertReasons[g.rng.IntN(len(revertReasons))]; reason != "" {
			body += "\n" + reason
		}
		if !g.commit(commitInfo{author: g.human(), msg: message(`Revert "`+r.subject+`"`, body)}) {
			a.envs[e] = r.after
			continue
		}
		r.reverted = true
		g.stats.Reverts++
		return true
	}
	return false
}

// field is a setting of an app in an environment.
type field int

const (
	fReplicas field = iota
	fMinScale
	fMaxScale
	fTarget
	fConcurrency
	fCPU
	fMem
	fTimeout
	fLogLevel
	fFlags
	fRateLimit
	fCacheTTL
)

// styleFields lists the settings the files of a style show.
func styleFields(s Style) []field {
	switch s {
	case StyleKnative:
		return []field{fMinScale, fMaxScale, fTarget, fConcurrency, fCPU, fMem, fTimeout, fLogLevel, fFlags, fRateLimit, fCacheTTL}
	case StyleDeployment:
		return []field{fReplicas, fCPU, fMem, fTimeout, fLogLevel, fFlags, fRateLimit, fCacheTTL}
	case StyleKustomize:
		return []field{fReplicas, fMem, fLogLevel, fFlags, fRateLimit, fCacheTTL}
	case StyleHelm:
		return []field{fReplicas, fCPU, fMem, fLogLevel, fFlags}
	default:
		return []field{fReplicas, fLogLevel}
	}
}

// mutate changes one setting and describes the change.
func (g *generator) mutate(st *envState, f field) (kind, desc string) {
	other := func(vals []int, cur int) int {
		for {
			if v := vals[g.rng.IntN(len(vals))]; v != cur {
				return v
			}
		}
	}
	dir := func(old, cur int) string {
		if cur > old {
			return "raise "
		}
		return "lower "
	}
	switch f {
	case fReplicas:
		st.replicas = other([]int{1, 2, 3, 4, 6, 8}, st.replicas)
		return "chore", "scale to " + itoa(st.replicas) + " replicas"
	case fMinScale:
		old := st.minScale
		st.minScale = other([]int{0, 1, 2, 3, 4}, old)
		return "chore", dir(old, st.minScale) + "min-scale to " + itoa(st.minScale)
	case fMaxScale:
		old := st.maxScale
		st.maxScale = other([]int{3, 5, 10, 20, 30, 40, 60}, old)
		return "chore", dir(old, st.maxScale) + "max-scale to " + itoa(st.maxScale)
	case fTarget:
		st.target = other([]int{50, 70, 80, 100, 120, 150, 200}, st.target)
		return "perf", "tune concurrency target to " + itoa(st.target)
	case fConcurrency:
		st.concurrency = other([]int{0, 10, 50, 80, 100, 200}, st.concurrency)
		return "perf", "set containerConcurrency to " + itoa(st.concurrency)
	case fCPU:
		old := st.cpu
		st.cpu = other([]int{100, 200, 250, 500, 750, 1000, 1500, 2000}, old)
		return "fix", dir(old, st.cpu) + "CPU request to " + itoa(st.cpu) + "m"
	case fMem:
		old := st.mem
		st.mem = other([]int{128, 192, 256, 384, 512, 768, 1024, 1536, 2048}, old)
		return "fix", dir(old, st.mem) + "memory to " + itoa(st.mem) + "Mi"
	case fTimeout:
		old := st.timeout
		st.timeout = other([]int{15, 30, 60, 120, 300, 600}, old)
		return "fix", dir(old, st.timeout) + "request timeout to " + itoa(st.timeout) + "s"
	case fLogLevel:
		for {
			if l := logLevels[g.rng.IntN(len(logLevels))]; l != st.logLevel {
				st.logLevel = l
				return "chore", "set log level to " + l
			}
		}
	case fFlags:
		i := g.rng.IntN(len(featureFlags))
		st.flags ^= 1 << i
		if st.flags&(1<<i) != 0 {
			return "feat", "enable " + featureFlags[i]
		}
		return "fix", "disable " + featureFlags[i]
	case fRateLimit:
		old := st.rateLimit
		st.rateLimit = other([]int{50, 100, 150, 200, 300, 500, 1000}, old)
		return "feat", dir(old, st.rateLimit) + "rate limit to " + itoa(st.rateLimit) + " rps"
	default:
		st.cacheTTL = other([]int{30, 60, 120, 300, 600, 900, 1800}, st.cacheTTL)
		return "perf", "set cache TTL to " + itoa(st.cacheTTL) + "s"
	}
}

var configBodies = []string{
	"",
	"",
	"Traffic of the last two weeks needs it; see the capacity review.\n",
	"Asked for by on-call after last night's page.\n",
	"Matches the other environments.\n",
	"Keeps p99 latency within the SLO at peak.\n",
	"Follow-up to the incident review.\n",
}

// configChange is a person changing settings, docs or CI: no image.
func (g *generator) configChange() {
	author := g.human()
	for range 4 {
		var ok bool
		if g.rng.IntN(100) < 72 {
			_, ok = g.envConfig(g.pickApp(), g.pickEnv(), author)
		} else {
			_, ok = g.globalConfig(author)
		}
		if ok {
			return
		}
	}
	g.docsEdit(author)
}

// envConfig changes a setting of an app in one environment.
func (g *generator) envConfig(a *app, e int, author *ident) (string, bool) {
	st := &a.envs[e]
	before := *st
	fields := styleFields(a.style)
	kind, desc := g.mutate(st, fields[g.rng.IntN(len(fields))])
	g.touchEnv(a, e)
	ci := commitInfo{author: author}
	subj := kind + "(" + a.name + "): " + desc + " in " + envName(e)
	if !g.pending.active && g.rng.IntN(100) < 65 {
		subj = g.squash(&ci, subj)
	}
	ci.msg = message(subj, configBodies[g.rng.IntN(len(configBodies))])
	if !g.commit(ci) {
		*st = before
		return "", false
	}
	g.remember(subj, a, e, before)
	return subj, true
}

var runbookEntries = []string{
	"document the release freeze before public holidays",
	"describe how to pause argocd-image-updater for one app",
	"add the escalation path for prod incidents",
	"explain how sync waves order a release",
	"note the minimum staging soak before prod",
	"describe an emergency scale-up",
	"link the dashboards of every team",
	"explain how to pin an image by digest",
	"describe how to rotate registry credentials",
	"add the checklist for onboarding an app",
	"describe what to do when Argo CD reports drift",
}

// docsEdit adds an entry to the runbook's changelog. It always changes the
// tree.
func (g *generator) docsEdit(author *ident) string {
	entry := runbookEntries[g.rng.IntN(len(runbookEntries))]
	line := g.now.Format("2006-01-02") + ": " + entry + "."
	if n := len(g.docs.runbook); n > 0 && g.docs.runbook[n-1] == line {
		line = g.now.Format("2006-01-02") + ": " + entry + ", again."
	}
	if len(g.docs.runbook) == 10 {
		g.docs.runbook = slices.Delete(g.docs.runbook, 0, 1)
	}
	g.docs.runbook = append(g.docs.runbook, line)
	g.touchGlobal(fkRunbook)
	ci := commitInfo{author: author}
	subj := "docs(runbook): " + entry
	if !g.pending.active && g.rng.IntN(2) == 0 {
		subj = g.squash(&ci, subj)
	}
	ci.msg = message(subj, "")
	g.commit(ci)
	return subj
}

var (
	appReadmeSubjects  = []string{"update README", "add on-call notes", "document dashboards and alerts", "describe how migrations run"}
	rootReadmeSubjects = []string{"update the README", "describe the repository layout", "clarify who may push to main", "add notes for new joiners"}
	renovateSchedules  = []string{"before 6am on monday", "every weekend", "before 8am on tuesday"}
)

// globalConfig changes a file that is not one app's environment: READMEs,
// CI, Renovate, quotas, ownership.
func (g *generator) globalConfig(author *ident) (string, bool) {
	ci := commitInfo{author: author}
	var subj string
	switch r := g.rng.IntN(100); {
	case r < 30:
		a := g.pickApp()
		a.readme++
		g.touch(a.baseFiles...)
		subj = "docs(" + a.name + "): " + appReadmeSubjects[g.rng.IntN(len(appReadmeSubjects))]
	case r < 45:
		g.docs.readme++
		g.touchGlobal(fkRootReadme)
		subj = "docs: " + rootReadmeSubjects[g.rng.IntN(len(rootReadmeSubjects))]
	case r < 60:
		g.docs.workflow++
		w := g.docs.workflow
		g.touchGlobal(fkWorkflow)
		subj = "ci: update validate workflow (actions/checkout v4." + itoa(1+w%3) + "." + itoa(w%7) + ")"
	case r < 72:
		g.docs.renovate++
		g.touchGlobal(fkRenovate)
		subj = "chore(renovate): schedule updates " + renovateSchedules[g.docs.renovate%3]
	case r < 90:
		i := g.rng.IntN(len(teams))
		old := g.docs.quota[i]
		g.docs.quota[i] = max(4, old+4*(g.rng.IntN(5)-2))
		if g.docs.quota[i] == old {
			g.docs.quota[i] = old + 4
		}
		dir := "raise "
		if g.docs.quota[i] < old {
			dir = "lower "
		}
		g.touchGlobal(fkQuotas)
		subj = "chore(platform): " + dir + teams[i] + " CPU quota to " + itoa(g.docs.quota[i])
	default:
		a := g.pickApp()
		t := teams[g.rng.IntN(len(teams))]
		if t == a.team {
			return "", false
		}
		a.team = t
		g.touchApp(a)
		g.touchGlobal(fkRootReadme, fkCodeowners, fkNamespaces)
		subj = "chore(" + a.name + "): transfer ownership to team " + t
	}
	if !g.pending.active && g.rng.IntN(100) < 60 {
		subj = g.squash(&ci, subj)
	}
	ci.msg = message(subj, "")
	return subj, g.commit(ci)
}

// dependencyBump is Renovate updating a third-party image: a sidecar, or a
// chart's Redis.
func (g *generator) dependencyBump() bool {
	var cands []*app
	for _, a := range g.live {
		if a.sidecar >= 0 || a.style == StyleHelm {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		return false
	}
	a := cands[g.rng.IntN(len(cands))]
	var pkg, old, next string
	if a.style == StyleHelm {
		pkg, old = "docker.io/bitnami/redis", redisVersion(a.redisRev)
		a.redisRev++
		next = redisVersion(a.redisRev)
		g.touch(a.baseFiles...)
	} else {
		sc := sidecars[a.sidecar]
		pkg, old = sc.repo, sc.version(a.sidecarRev)
		a.sidecarRev++
		next = sc.version(a.sidecarRev)
		g.touchApp(a)
	}
	ci := commitInfo{author: botRenovate}
	subj := g.squash(&ci, "chore(deps): update "+pkg+" docker tag to "+next)
	body := "This PR contains the following updates:\n\n| Package | Update | Change |\n|---|---|---|\n| " +
		pkg + " | patch | `" + old + "` -> `" + next + "` |\n\n---\n\nThis PR was generated by Mend Renovate.\n"
	ci.msg = message(subj, body)
	if !g.commit(ci) {
		return false
	}
	g.stats.DependencyBumps++
	return true
}

// addApp onboards a new app.
func (g *generator) addApp() {
	a := g.newApp(g.nextName(), drawStyle(g.rng))
	if a.style == StyleImageUpdater {
		for e := range numEnvs {
			// The updater writes the files at its first update: nothing has
			// been deployed from this repository yet.
			a.envs[e].written = false
			a.hist[e] = [maxSlots]history{}
		}
	}
	g.addAppFiles(a)
	g.touchApp(a)
	g.touchGlobal(fkRootReadme, fkCodeowners, fkNamespaces)
	ci := commitInfo{author: g.human()}
	subj := g.squash(&ci, "feat("+a.name+"): onboard "+a.name+" to Argo CD")
	ci.msg = message(subj, "Adds "+string(a.style)+" manifests for dev, staging and prod.\n\nOwner: team "+a.team+"\n")
	g.commit(ci)
	g.stats.AppsAdded++
}

// removeApp decommissions one of the initial apps.
func (g *generator) removeApp() bool {
	if len(g.live) <= 3 {
		return false
	}
	var cands []*app
	for _, a := range g.live {
		if a.addedAt == 0 {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		return false
	}
	a := cands[g.rng.IntN(len(cands))]
	a.alive = false
	g.live = slices.DeleteFunc(g.live, func(x *app) bool { return x == a })
	g.touchApp(a)
	g.touchGlobal(fkRootReadme, fkCodeowners, fkNamespaces)
	other := g.pickApp()
	ci := commitInfo{author: g.human()}
	subj := g.squash(&ci, "chore("+a.name+"): decommission "+a.name)
	ci.msg = message(subj, "Its traffic moved to "+other.name+"; Argo CD prunes the namespaces.\n")
	g.commit(ci)
	g.stats.AppsRemoved++
	return true
}

// pullRequest writes a pull request branch of one to three commits and
// merges it into main.
func (g *generator) pullRequest() {
	author := g.human()
	num := g.nextPR()
	start, end := g.headAt, g.now
	g.startPR()
	a := g.pickApp()
	kind := g.rng.IntN(100)
	n := 1
	switch {
	case kind < 55:
		n = 1 + g.rng.IntN(3)
	case kind < 80:
	default:
		n = 1 + g.rng.IntN(2)
	}
	var title, branch string
	for k := range n {
		g.now = start.Add(end.Sub(start) * time.Duration(k+1) / time.Duration(n+2)).Truncate(time.Second)
		var subj string
		ok := false
		switch {
		case kind < 55:
			subj, ok = g.envConfig(a, g.pickEnv(), author)
			if ok && k == 0 {
				branch = "tune-" + a.name
			}
		case kind < 80 && k == 0:
			subj, ok = g.promoteHuman(a, author)
			if ok {
				branch = "promote-" + a.name + "-prod"
			}
		}
		if !ok {
			subj = g.docsEdit(author)
			if k == 0 {
				branch = "docs-runbook-" + itoa(num)
			}
		}
		if k == 0 {
			title = subj
		}
	}
	g.now = end
	merger := author
	if g.rng.IntN(10) < 3 {
		merger = g.human()
	}
	g.mergePR(commitInfo{
		author:    merger,
		committer: githubMerge,
		msg:       "Merge pull request #" + itoa(num) + " from acme/" + branch + "\n\n" + title + "\n",
	})
}
