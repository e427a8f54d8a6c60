package gitopsgen

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Environments, in promotion order.
const (
	envDev = iota
	envStaging
	envProd
	numEnvs
)

func envName(e int) string {
	switch e {
	case envDev:
		return "dev"
	case envStaging:
		return "staging"
	default:
		return "prod"
	}
}

// maxSlots is the most images an app deploys per environment: the
// components of a Helm umbrella chart.
const maxSlots = 3

// image is an image reference: repository, and a tag, a digest or both.
type image struct {
	repo, tag, digest string
}

// ref returns the reference as written in a manifest, repo[:tag][@digest].
func (im image) ref() string {
	s := im.repo
	if im.tag != "" {
		s += ":" + im.tag
	}
	if im.digest != "" {
		s += "@" + im.digest
	}
	return s
}

// label is what a commit message calls the image: its tag, else its short
// digest.
func (im image) label() string {
	if im.tag != "" {
		return im.tag
	}
	if len(im.digest) > 19 {
		return im.digest[:19]
	}
	return im.digest
}

// envState is everything about one app in one environment that changes over
// time. It is a comparable value: a revert restores a copy.
type envState struct {
	images      [maxSlots]image
	written     bool // image-updater: the write-back file exists
	replicas    int
	minScale    int
	maxScale    int
	target      int
	concurrency int
	cpu         int // millicores requested
	mem         int // MiB requested; the limit is twice that
	timeout     int // seconds
	logLevel    string
	flags       uint8 // bit i: featureFlags[i] enabled
	rateLimit   int   // requests per second
	cacheTTL    int   // seconds
}

// history keeps the last values deployed in one slot, oldest first.
type history struct {
	vals [8]image
	n    int
}

func (h *history) push(im image) {
	if h.n > 0 && h.vals[h.n-1] == im {
		return
	}
	if h.n == len(h.vals) {
		copy(h.vals[:], h.vals[1:])
		h.n--
	}
	h.vals[h.n] = im
	h.n++
}

// component is one deployed image of an app: the app itself, or a
// component of an umbrella chart.
type component struct {
	name, repo string
}

// tagPattern is how an app's CI tags its images.
type tagPattern int

const (
	patSHA       tagPattern = iota // sha-4d09b7b
	patSemverSHA                   // 3.6.0-4d09b7b
	patBranchTS                    // prod-4d09b7b-20240305T073303Z
	patFullSHA                     // 4d09b7bd1c2e3f405162738495a6b7c8d9e0f1a2
	patSemver                      // 3.6.0, v3.6.0
	patDigest                      // no tag: @sha256:…
)

// app is one deployed application and the files that describe it.
type app struct {
	name      string
	team      string
	system    string
	style     Style
	registry  string
	pattern   tagPattern
	pin       bool // tags are pinned with their digest
	vprefix   string
	shaLen    int
	branch    string
	semver    [3]int
	comps     []component
	container string
	port      int
	msgStyle  int // which of the deploy pipeline's message templates it uses
	// knative
	internal bool
	// deployment
	stateful    bool
	cron        bool
	migrate     bool // an init container runs migrations with the app image
	nameWithEnv bool // the workload is named <app>-<env>
	sidecar     int  // index in sidecars, or -1
	sidecarRev  int
	// kustomize
	newName string
	// helm
	redisRev int
	// image-updater
	iuHelm bool

	extraEnv []envVar
	envs     [numEnvs]envState
	hist     [numEnvs][maxSlots]history
	readme   int // README revision

	alive     bool
	addedAt   int // first-parent index of the commit that added the app
	envFiles  [numEnvs][]*fileSpec
	baseFiles []*fileSpec
}

type envVar struct{ name, value string }

// ident is a commit author or committer.
type ident struct {
	name, email, tz string
}

var (
	botShiplog  = &ident{"shiplog-bot[bot]", "183402719+shiplog-bot[bot]@users.noreply.github.com", "+0000"}
	botUpdater  = &ident{"argocd-image-updater", "noreply@argoproj.io", "+0000"}
	botRenovate = &ident{"renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com", "+0000"}
	githubMerge = &ident{"GitHub", "noreply@github.com", "+0000"}
)

var humans = []*ident{
	{"Ana Souza", "ana.souza@acme.example", "-0300"},
	{"Jonas Becker", "jonas.becker@acme.example", "+0100"},
	{"Priya Raman", "priya.raman@acme.example", "+0530"},
	{"Tom Hughes", "tom.hughes@acme.example", "+0000"},
	{"Mei Lin", "mei.lin@acme.example", "+0800"},
	{"Lucas Martin", "lucas.martin@acme.example", "+0100"},
	{"Sara Nilsson", "sara.nilsson@acme.example", "+0100"},
	{"Diego Alvarez", "diego.alvarez@acme.example", "-0500"},
	{"Kofi Mensah", "kofi.mensah@acme.example", "+0000"},
	{"Olga Petrova", "olga.petrova@acme.example", "+0200"},
}

var appNames = []string{
	"api", "web", "checkout", "payments", "orders", "inventory", "catalog", "search",
	"cart", "pricing", "shipping", "notifications", "accounts", "auth", "billing",
	"invoices", "ledger", "reporting", "analytics", "recommendations", "reviews",
	"media", "uploads", "gateway", "admin", "storefront", "mobile-bff", "partner-api",
	"fraud", "risk", "loyalty", "coupons", "subscriptions", "webhooks", "scheduler",
	"exporter", "importer", "geo", "tax", "returns", "warehouse", "fulfillment",
	"courier", "chat", "support", "identity", "profile", "feature-flags", "audit",
	"thumbnailer", "pdf-renderer", "mailer", "sms", "push", "translations", "currency",
	"vouchers", "quotes", "contracts", "onboarding", "referrals", "wishlist",
}

var teams = []string{"payments", "storefront", "platform", "growth", "logistics", "identity", "data", "core"}

var systems = []string{"shop", "backoffice", "platform", "logistics", "finance", "customer"}

var componentNames = []string{"api", "worker", "frontend", "consumer", "scheduler", "admin"}

var featureFlags = []string{
	"new-checkout-flow", "async-invoicing", "search-v2", "edge-cache", "strict-validation",
	"batch-writes", "otel-tracing", "read-replicas",
}

var logLevels = []string{"debug", "info", "warn"}

var registries = []string{
	"ghcr.io/acme", "ghcr.io/acme", "ghcr.io/acme", "registry.example.com/acme",
	"europe-west1-docker.pkg.dev/acme-prod/containers",
}

// sidecar is a third-party image deployed next to some apps.
type sidecar struct {
	name, repo string
	version    func(rev int) string
}

var sidecars = []sidecar{
	{"cloud-sql-proxy", "gcr.io/cloud-sql-connectors/cloud-sql-proxy", func(r int) string {
		return "2." + strconv.Itoa(8+r/4) + "." + strconv.Itoa(r%4)
	}},
	{"envoy", "docker.io/envoyproxy/envoy", func(r int) string {
		return "v1." + strconv.Itoa(28+r/5) + "." + strconv.Itoa(r%5)
	}},
	{"oauth2-proxy", "quay.io/oauth2-proxy/oauth2-proxy", func(r int) string {
		return "v7." + strconv.Itoa(5+r/3) + "." + strconv.Itoa(r%3)
	}},
}

func redisVersion(rev int) string {
	return "7.2." + strconv.Itoa(4+rev/6) + "-debian-12-r" + strconv.Itoa(9+rev)
}

// styleWeights are the shares of the styles among apps, in percent, in the
// order of Styles.
var styleWeights = []int{25, 25, 20, 15, 15}

// styleDeck returns the styles of n apps: each style's share rounded down,
// the rest given in the order of Styles, at least one app of each style when
// n >= 5, shuffled by rng.
func styleDeck(rng *rand.Rand, n int) []Style {
	styles := Styles()
	counts := make([]int, len(styles))
	total := 0
	for i, w := range styleWeights {
		counts[i] = n * w / 100
		if counts[i] == 0 && n >= len(styles) {
			counts[i] = 1
		}
		total += counts[i]
	}
	for i := 0; total < n; i = (i + 1) % len(styles) {
		counts[i]++
		total++
	}
	for i := len(styles) - 1; total > n; i-- {
		if counts[i] > 1 {
			counts[i]--
			total--
		}
	}
	deck := make([]Style, 0, n)
	for i, s := range styles {
		for range counts[i] {
			deck = append(deck, s)
		}
	}
	rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	return deck
}

// drawStyle draws the style of an app added later, by styleWeights.
func drawStyle(rng *rand.Rand) Style {
	r := rng.IntN(100)
	for i, w := range styleWeights {
		if r < w {
			return Styles()[i]
		}
		r -= w
	}
	return StyleImageUpdater
}

func pickPattern(rng *rand.Rand) tagPattern {
	switch r := rng.IntN(100); {
	case r < 25:
		return patSHA
	case r < 50:
		return patSemverSHA
	case r < 65:
		return patBranchTS
	case r < 75:
		return patFullSHA
	case r < 90:
		return patSemver
	default:
		return patDigest
	}
}

// newApp makes an app with everything drawn from rng, and its first build
// deployed everywhere.
func (g *generator) newApp(name string, style Style) *app {
	rng := g.rng
	a := &app{
		name:      name,
		team:      teams[rng.IntN(len(teams))],
		system:    systems[rng.IntN(len(systems))],
		style:     style,
		registry:  registries[rng.IntN(len(registries))],
		pattern:   pickPattern(rng),
		shaLen:    7 + rng.IntN(2),
		semver:    [3]int{rng.IntN(4), rng.IntN(20), rng.IntN(10)},
		container: name,
		port:      []int{8080, 8080, 8000, 3000, 9000}[rng.IntN(5)],
		msgStyle:  rng.IntN(3),
		sidecar:   -1,
		alive:     true,
	}
	if a.semver[0] == 0 && a.semver[1] == 0 {
		a.semver[1] = 1
	}
	a.pin = a.pattern != patDigest && rng.IntN(5) == 0
	if rng.IntN(3) == 0 {
		a.vprefix = "v"
	}
	a.branch = []string{"prod", "prod", "main", "release"}[rng.IntN(4)]
	ncomp := 1
	switch style {
	case StyleKnative:
		a.internal = rng.IntN(2) == 0
		if rng.IntN(2) == 0 {
			a.container = "user-container"
		}
	case StyleDeployment:
		a.stateful = rng.IntN(5) == 0
		a.cron = rng.IntN(3) == 0
		a.migrate = rng.IntN(4) == 0
		a.nameWithEnv = rng.IntN(3) == 0
		if rng.IntN(3) == 0 {
			a.sidecar = rng.IntN(len(sidecars))
			a.sidecarRev = rng.IntN(3)
		}
	case StyleKustomize:
		if rng.IntN(3) == 0 {
			a.newName = "registry.example.com/acme/" + name
		}
	case StyleHelm:
		ncomp = 2 + rng.IntN(2)
		a.redisRev = rng.IntN(4)
	case StyleImageUpdater:
		a.iuHelm = rng.IntN(2) == 0
		if a.iuHelm && rng.IntN(3) == 0 {
			ncomp = 2
		}
	}
	if ncomp == 1 {
		a.comps = []component{{name, a.registry + "/" + name}}
		if style == StyleKustomize && a.newName != "" {
			a.comps[0].repo = "ghcr.io/acme/" + name
		}
	} else {
		perm := rng.Perm(len(componentNames))
		for i := range ncomp {
			c := componentNames[perm[i]]
			a.comps = append(a.comps, component{c, a.registry + "/" + name + "-" + c})
		}
	}
	for i, n := 0, rng.IntN(4); i < n; i++ {
		a.extraEnv = append(a.extraEnv, extraEnvVars[rng.IntN(len(extraEnvVars))])
	}
	base := envState{
		replicas:    1,
		minScale:    0,
		maxScale:    5 * (1 + rng.IntN(4)),
		target:      []int{50, 80, 100, 150}[rng.IntN(4)],
		concurrency: []int{0, 50, 80, 100}[rng.IntN(4)],
		cpu:         []int{100, 200, 250, 500}[rng.IntN(4)],
		mem:         []int{128, 256, 384, 512}[rng.IntN(4)],
		timeout:     []int{30, 60, 120, 300}[rng.IntN(4)],
		logLevel:    "info",
		flags:       uint8(rng.IntN(256)),
		rateLimit:   50 * (1 + rng.IntN(6)),
		cacheTTL:    []int{30, 60, 300, 600}[rng.IntN(4)],
	}
	for e := range numEnvs {
		st := base
		switch e {
		case envDev:
			st.logLevel = "debug"
			st.maxScale = 3
		case envStaging:
			st.replicas = 2
		case envProd:
			st.replicas = 2 + rng.IntN(4)
			st.minScale = 1 + rng.IntN(3)
			st.maxScale *= 2
			st.cpu *= 2
			st.mem *= 2
		}
		st.written = true
		a.envs[e] = st
	}
	// The first build, deployed everywhere.
	b := g.build(a, len(a.comps))
	for e := range numEnvs {
		for s := range a.comps {
			a.envs[e].images[s] = b[s]
			a.hist[e][s].push(b[s])
		}
	}
	return a
}

var extraEnvVars = []envVar{
	{"GOMAXPROCS", "2"},
	{"GOMEMLIMIT", "900MiB"},
	{"HTTP_READ_TIMEOUT", "15s"},
	{"TZ", "UTC"},
	{"CACHE_BACKEND", "redis"},
	{"PUBSUB_TOPIC", "events"},
	{"SENTRY_TRACES_SAMPLE_RATE", "0.05"},
	{"JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75"},
}

// build makes the images of a new build of the first n components: one tag
// for all of them, one digest each. It advances the app's version.
func (g *generator) build(a *app, n int) [maxSlots]image {
	rng := g.rng
	switch r := rng.IntN(100); {
	case r < 1:
		a.semver = [3]int{a.semver[0] + 1, 0, 0}
	case r < 10:
		a.semver = [3]int{a.semver[0], a.semver[1] + 1, 0}
	default:
		a.semver[2]++
	}
	src := g.sourceSHA()
	short := src[:7]
	ver := a.vprefix + strconv.Itoa(a.semver[0]) + "." + strconv.Itoa(a.semver[1]) + "." + strconv.Itoa(a.semver[2])
	var tag string
	switch a.pattern {
	case patSHA:
		tag = "sha-" + short
	case patSemverSHA:
		tag = ver + "-" + src[:a.shaLen]
	case patBranchTS:
		built := g.now.Add(-time.Duration(2+rng.IntN(20)) * time.Minute).UTC()
		tag = a.branch + "-" + short + "-" + built.Format("20060102T150405Z")
	case patFullSHA:
		tag = src
	case patSemver:
		tag = ver
	}
	var out [maxSlots]image
	for s := range n {
		im := image{repo: a.comps[s].repo, tag: tag}
		if a.pattern == patDigest || a.pin {
			im.digest = "sha256:" + g.hex(64)
		}
		out[s] = im
	}
	g.lastSource = src
	return out
}

// sourceSHA returns the source commit of a new build: from
// Options.SourceSHAs, later in the list as history advances, or random.
func (g *generator) sourceSHA() string {
	if n := len(g.opts.SourceSHAs); n > 0 {
		i := int(int64(g.index)*int64(n)/int64(g.opts.Commits)) - g.rng.IntN(3)
		i = min(max(i, 0), n-1)
		return g.opts.SourceSHAs[i]
	}
	return g.hex(40)
}

// hex returns n random lower-case hex digits.
func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		v := g.rng.Uint64()
		for i := 0; i < 16 && b.Len() < n; i++ {
			b.WriteByte(digits[v&15])
			v >>= 4
		}
	}
	return b.String()
}

// appendInt appends n in decimal.
func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
