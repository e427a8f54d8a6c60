package gitopsgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// WriteSourceRepo writes a new Git repository at dir, which must not exist
// or be empty: a small Go monorepo (module github.com/acme/platform) with
// commits commits on main, one author change each, and returns their SHAs,
// oldest first. The same commits and seed give the same SHAs. Pass them in
// Options.SourceSHAs so that image tags name these commits.
func WriteSourceRepo(ctx context.Context, dir string, commits int, seed uint64) ([]string, error) {
	if commits < 1 {
		return nil, fmt.Errorf("gitopsgen: source commits is %d, want at least 1", commits)
	}
	if err := initRepo(ctx, dir); err != nil {
		return nil, err
	}
	imp, err := startImport(ctx, dir)
	if err != nil {
		return nil, err
	}
	s := newSourceGen(seed)
	for i := range commits {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				imp.abort()
				return nil, fmt.Errorf("source repository %s: %w", dir, err)
			}
		}
		s.step(imp, i)
	}
	if err := imp.finish(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("source repository %s: %w", dir, ctxErr)
		}
		return nil, fmt.Errorf("source repository %s: %w", dir, err)
	}
	if _, err := runGit(ctx, dir, "read-tree", "--reset", "-u", "HEAD"); err != nil {
		return nil, fmt.Errorf("source repository %s: check out main: %w", dir, err)
	}
	out, err := runGit(ctx, dir, "rev-list", "--reverse", "main")
	if err != nil {
		return nil, fmt.Errorf("source repository %s: %w", dir, err)
	}
	shas := strings.Fields(out)
	if len(shas) != commits {
		return nil, fmt.Errorf("source repository %s: got %d commits, want %d", dir, len(shas), commits)
	}
	return shas, nil
}

// sourceGen is the state of the source repository: services with HTTP
// handlers, and libraries.
type sourceGen struct {
	rng      *rand.Rand
	now      time.Time
	services []*service
	libs     []*library
	readme   int
	mark     int
	t        text
}

type service struct {
	name     string
	handlers []handler
	routes   int // routes used so far, to name the next
}

type handler struct {
	route string
	limit int
	rev   int
}

type library struct {
	name string
	rev  int
	val  int
}

var (
	sourceServices = []string{"checkout", "orders", "catalog", "payments", "search", "accounts"}
	sourceLibs     = []string{"httpx", "retry", "cache", "auth"}
	sourceRoutes   = []string{"items", "status", "export", "summary", "history", "batch", "preview", "stats", "events", "quotes", "limits", "audit"}
)

func newSourceGen(seed uint64) *sourceGen {
	s := &sourceGen{
		rng: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		now: DefaultStart().Add(-60 * 24 * time.Hour),
	}
	for _, name := range sourceServices {
		svc := &service{name: name}
		for range 2 {
			svc.addHandler(s.rng)
		}
		s.services = append(s.services, svc)
	}
	for _, name := range sourceLibs {
		s.libs = append(s.libs, &library{name: name, rev: 1, val: 10 * (1 + s.rng.IntN(9))})
	}
	return s
}

func (svc *service) addHandler(rng *rand.Rand) string {
	route := sourceRoutes[svc.routes%len(sourceRoutes)]
	if n := svc.routes / len(sourceRoutes); n > 0 {
		route += itoa(n + 1)
	}
	svc.routes++
	svc.handlers = append(svc.handlers, handler{route: route, limit: 10 * (1 + rng.IntN(20)), rev: 1})
	return route
}

// step writes the i-th commit.
func (s *sourceGen) step(imp *importer, i int) {
	s.now = s.now.Add(time.Duration(20+s.rng.IntN(360)) * time.Minute)
	type file struct {
		path    string
		content []byte
	}
	var files []file
	add := func(path string, render func(*text)) {
		s.t.reset()
		render(&s.t)
		files = append(files, file{path, []byte(string(s.t.b))})
	}
	var subj string
	if i == 0 {
		subj = "Initial commit: services and shared packages"
		add("go.mod", func(t *text) { t.ln(0, "module github.com/acme/platform\n\ngo 1.22") })
		add("README.md", s.renderReadme)
		for _, svc := range s.services {
			add("services/"+svc.name+"/main.go", svc.renderMain)
			add("services/"+svc.name+"/handlers.go", svc.renderHandlers)
		}
		for _, l := range s.libs {
			add("pkg/"+l.name+"/"+l.name+".go", l.render)
		}
	} else {
		switch r := s.rng.IntN(100); {
		case r < 50:
			svc := s.services[s.rng.IntN(len(s.services))]
			h := &svc.handlers[s.rng.IntN(len(svc.handlers))]
			old := h.limit
			for h.limit == old {
				h.limit = 10 * (1 + s.rng.IntN(30))
			}
			h.rev++
			verb := "raise"
			if h.limit < old {
				verb = "lower"
			}
			subj = []string{"fix", "perf"}[s.rng.IntN(2)] + "(" + svc.name + "): " + verb + " the page limit of /" + h.route + " to " + itoa(h.limit)
			add("services/"+svc.name+"/handlers.go", svc.renderHandlers)
		case r < 70:
			svc := s.services[s.rng.IntN(len(s.services))]
			route := svc.addHandler(s.rng)
			subj = "feat(" + svc.name + "): add GET /" + route
			add("services/"+svc.name+"/handlers.go", svc.renderHandlers)
			add("services/"+svc.name+"/main.go", svc.renderMain)
		case r < 92:
			l := s.libs[s.rng.IntN(len(s.libs))]
			l.rev++
			l.val = 10 * (1 + s.rng.IntN(30))
			subj = "refactor(" + l.name + "): tune defaults (v1." + itoa(l.rev) + ")"
			add("pkg/"+l.name+"/"+l.name+".go", l.render)
		default:
			s.readme++
			subj = "docs: update the README"
			add("README.md", s.renderReadme)
		}
	}
	author := humans[s.rng.IntN(len(humans))]
	msg := subj + "\n"
	s.mark++
	imp.str("commit refs/heads/main\nmark :")
	imp.int(int64(s.mark))
	for _, p := range []string{"\nauthor ", "\ncommitter "} {
		imp.str(p + author.name + " <" + author.email + "> ")
		imp.int(s.now.Unix())
		imp.str(" " + author.tz)
	}
	imp.str("\n")
	imp.data([]byte(msg))
	for _, f := range files {
		imp.str("M 100644 inline " + f.path + "\n")
		imp.data(f.content)
	}
	imp.str("\n")
}

func (s *sourceGen) renderReadme(t *text) {
	t.ln(0, "# acme/platform")
	t.ln(0)
	t.ln(0, "Services under `services/`, shared packages under `pkg/`. Each service is built")
	t.ln(0, "into its own image on every push to main; the deploy bot updates acme/gitops.")
	t.ln(0)
	t.ln(0, "Revision ", itoa(s.readme), ".")
}

func handlerName(route string) string {
	return "handle" + strings.ToUpper(route[:1]) + route[1:]
}

func (svc *service) renderMain(t *text) {
	t.ln(0, "// Command ", svc.name, " serves the ", svc.name, " API.")
	t.ln(0, "package main")
	t.ln(0)
	t.ln(0, "import (")
	t.ln(0, "\t\"log\"")
	t.ln(0, "\t\"net/http\"")
	t.ln(0, ")")
	t.ln(0)
	t.ln(0, "func main() {")
	t.ln(0, "\tmux := http.NewServeMux()")
	for _, h := range svc.handlers {
		t.ln(0, "\tmux.HandleFunc(\"GET /", h.route, "\", ", handlerName(h.route), ")")
	}
	t.ln(0, "\tlog.Fatal(http.ListenAndServe(\":8080\", mux))")
	t.ln(0, "}")
}

func (svc *service) renderHandlers(t *text) {
	t.ln(0, "package main")
	t.ln(0)
	t.ln(0, "import (")
	t.ln(0, "\t\"fmt\"")
	t.ln(0, "\t\"net/http\"")
	t.ln(0, ")")
	for _, h := range svc.handlers {
		t.ln(0)
		t.ln(0, "// ", handlerName(h.route), " serves GET /", h.route, " (revision ", itoa(h.rev), ").")
		t.ln(0, "func ", handlerName(h.route), "(w http.ResponseWriter, r *http.Request) {")
		t.ln(0, "\tconst limit = ", itoa(h.limit))
		t.ln(0, "\tfmt.Fprintf(w, \"", h.route, ": limit=%d\\n\", limit)")
		t.ln(0, "}")
	}
}

func (l *library) render(t *text) {
	t.ln(0, "// Package ", l.name, " holds defaults shared by the services.")
	t.ln(0, "package ", l.name)
	t.ln(0)
	t.ln(0, "// Version is raised with every change to the package.")
	t.ln(0, "const Version = \"1.", itoa(l.rev), "\"")
	t.ln(0)
	t.ln(0, "// Default is the package's tuning value.")
	t.ln(0, "const Default = ", itoa(l.val))
}
