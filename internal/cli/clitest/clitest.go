// Package clitest is what the command tests share: a small, fixed delivery
// history on a store, and a real shiplog server over the same history
// started in-process (New), the two ways a command reads it (Modes), and
// golden files (Golden). A command's output must be the same, byte for
// byte, read from the store or through the server's API.
package clitest

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/auth"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Now is the fixture's clock. The server cannot be given a clock: it runs
// on the real one, later than every event of the fixture. Now is the end
// of a sprint (sprints of two weeks from Monday 5 January 2026, the
// default), so that which sprints are over is the same on either clock;
// and the fixture has no scale sample in the week before Now, so that
// `shiplog status` shows no replicas on either clock.
var Now = time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)

// Clock returns Now.
func Clock() time.Time { return Now }

// at is d days and h hours before Now.
func at(days, h float64) time.Time {
	return Now.Add(-time.Duration(days*24*float64(time.Hour)) + time.Duration(h*float64(time.Hour)))
}

func sha(c byte) string { return strings.Repeat(string(c), 40) }

const (
	checkoutRepo = "https://github.com/acme/checkout"
	gatewayRepo  = "https://github.com/acme/gateway"
	gitopsRepo   = "https://github.com/acme/gitops"
	digest1      = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digest4      = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

// Teams is the configuration's teams: payments owns checkout, platform
// owns gateway.
var Teams = map[string][]string{"payments": {"checkout"}, "platform": {"gateway"}}

// events is the fixture: two apps, four changes.
//
//   - 1111111 "feat: card vault" (#101, approved): checkout to staging,
//     then prod, pinned by digest, synced by Argo CD.
//   - 2222222 "fix: rounding" (#102, not approved): checkout to prod by
//     tag; the app degrades and is rolled back to 1.4.0.
//   - 3333333 "feat: wallets" (#103): checkout to staging, whose sync
//     fails.
//   - 4444444 "feat: rate limits" (#7, approved): gateway to prod on
//     Knative, 90 % of the traffic on the new revision.
func events() []delivery.Event {
	var evs []delivery.Event
	add := func(src, id string, typ delivery.EventType, t time.Time, app, env string, p delivery.Payload) {
		evs = append(evs, delivery.Event{Source: src, ID: id, Type: typ, Time: t, App: app, Env: env, Payload: p})
	}
	change := func(repo string, n int64, c byte, subject, author, reviewer, branch string, d, h float64) {
		add("github", "commit-"+string(c), delivery.CommitAuthored, at(d, h), "", "", &delivery.Commit{Repo: repo, SHA: sha(c),
			Branch: branch, AuthorName: author, AuthoredAt: at(d, h), CommittedAt: at(d, h), Subject: subject})
		add("github", "pr-opened-"+string(c), delivery.ChangeCreated, at(d, h+0.5), "", "", &delivery.Change{Repo: repo, Number: n,
			Title: subject, Author: author, HeadSHA: sha(c), HeadRef: branch, BaseRef: "main"})
		if reviewer != "" {
			add("github", "pr-review-"+string(c), delivery.ChangeReviewed, at(d, h+2), "", "", &delivery.Change{Repo: repo, Number: n,
				Reviewer: reviewer, ReviewState: delivery.ReviewApproved})
		}
		add("github", "pr-merged-"+string(c), delivery.ChangeMerged, at(d, h+3), "", "", &delivery.Change{Repo: repo, Number: n,
			Title: subject, Author: author, HeadRef: branch, BaseRef: "main", MergeSHA: sha(c)})
		add("github", "ci-"+string(c), delivery.PipelineRunFinished, at(d, h+3.5), "", "", &delivery.PipelineRun{RunID: "run-" + string(c),
			Name: "ci", URL: "https://ci.example.com/runs/" + string(c), Repo: repo, SHA: sha(c), Branch: "main", Outcome: delivery.OutcomeSuccess})
	}
	deploy := func(id string, kind delivery.EventType, app, env string, t time.Time, image, prev string, manifest byte, c byte, author string, bot bool) {
		add("git", id, kind, t, app, env, &delivery.Deployment{Artifact: image, PreviousArtifact: prev, Repo: gitopsRepo,
			ManifestCommit: sha(manifest), SourceCommit: sha(c), Changes: []string{sha(c)}, InferredFrom: "git", Author: author, Bot: bot})
	}
	sync := func(id, app, env string, t time.Time, manifest byte, phase delivery.SyncPhase, by string) {
		add("argocd", id, delivery.SyncFinished, t, app, env, &delivery.Sync{Application: app + "-" + env, StartedAt: t.Add(-2 * time.Minute),
			FinishedAt: t, Revision: sha(manifest), Phase: phase, InitiatedBy: by, Automated: by == ""})
	}
	checkout14 := "ghcr.io/acme/checkout:1.4.0@" + digest1

	change(checkoutRepo, 101, '1', "feat: card vault", "ann", "bob", "card-vault", 20, 9)
	add("github", "artifact-1", delivery.ArtifactPublished, at(20, 12.7), "", "", &delivery.Artifact{Name: "ghcr.io/acme/checkout",
		Tag: "1.4.0", Digest: digest1, SourceRepo: checkoutRepo, SourceCommit: sha('1'), PipelineRun: "run-1"})
	deploy("deploy-1-staging", delivery.ServiceDeployed, "checkout", "staging", at(20, 13), checkout14, "", 'a', '1', "shiplog-bot[bot]", true)
	sync("sync-1-staging", "checkout", "staging", at(20, 13.1), 'a', delivery.PhaseSucceeded, "")
	deploy("deploy-1-prod", delivery.ServiceDeployed, "checkout", "prod", at(19, 10), checkout14, "", 'b', '1', "ann", false)
	sync("sync-1-prod", "checkout", "prod", at(19, 10.1), 'b', delivery.PhaseSucceeded, "")

	change(checkoutRepo, 102, '2', "fix: rounding", "cid", "", "rounding", 10, 8)
	deploy("deploy-2-prod", delivery.ServiceUpgraded, "checkout", "prod", at(10, 12), "ghcr.io/acme/checkout:1.4.1", checkout14, 'c', '2', "cid", false)
	sync("sync-2-prod", "checkout", "prod", at(10, 12.1), 'c', delivery.PhaseSucceeded, "cid")
	add("argocd", "health-2-degraded", delivery.HealthChanged, at(10, 12.5), "checkout", "prod", &delivery.Health{Application: "checkout-prod",
		Status: delivery.Degraded, Message: "readiness probe failed", Revision: sha('c')})
	deploy("rollback-2-prod", delivery.ServiceRolledBack, "checkout", "prod", at(10, 13.5), checkout14, "ghcr.io/acme/checkout:1.4.1", 'd', '1', "ann", false)
	sync("sync-rollback-prod", "checkout", "prod", at(10, 13.6), 'd', delivery.PhaseSucceeded, "")
	add("argocd", "health-2-healthy", delivery.HealthChanged, at(10, 13.7), "checkout", "prod", &delivery.Health{Application: "checkout-prod",
		Status: delivery.Healthy, Revision: sha('d')})
	add("argocd", "syncstatus-checkout-prod", delivery.SyncStatusChanged, at(10, 13.7), "checkout", "prod", &delivery.SyncStatus{
		Application: "checkout-prod", Status: "Synced", Revision: sha('d')})

	change(checkoutRepo, 103, '3', "feat: wallets", "ann", "dan", "wallets", 3, 9)
	deploy("deploy-3-staging", delivery.ServiceUpgraded, "checkout", "staging", at(3, 13), "ghcr.io/acme/checkout:1.5.0", checkout14, 'e', '3', "shiplog-bot[bot]", true)
	sync("sync-3-staging", "checkout", "staging", at(3, 13.2), 'e', delivery.PhaseFailed, "")
	add("argocd", "syncstatus-checkout-staging", delivery.SyncStatusChanged, at(3, 13.2), "checkout", "staging", &delivery.SyncStatus{
		Application: "checkout-staging", Status: "OutOfSync", Revision: sha('e')})

	change(gatewayRepo, 7, '4', "feat: rate limits", "dan", "ann", "rate-limits", 12, 14)
	gateway := "ghcr.io/acme/gateway:2.1.0@" + digest4
	add("github", "artifact-4", delivery.ArtifactPublished, at(12, 17.7), "", "", &delivery.Artifact{Name: "ghcr.io/acme/gateway",
		Tag: "2.1.0", Digest: digest4, SourceRepo: gatewayRepo, SourceCommit: sha('4'), PipelineRun: "run-4"})
	add("kube", "revision-4", delivery.RevisionReady, at(12, 18.2), "gateway", "prod", &delivery.Revision{Name: "gateway-00002",
		Service: "gateway", Image: gateway, Digest: digest4})
	add("kube", "deploy-4-prod", delivery.ServiceUpgraded, at(12, 18.2), "gateway", "prod", &delivery.Deployment{Artifact: gateway,
		PreviousArtifact: "ghcr.io/acme/gateway:2.0.0", SourceCommit: sha('4'), InferredFrom: "knative", Revision: "gateway-00002", Author: "dan"})
	add("kube", "traffic-4", delivery.TrafficChanged, at(12, 18.3), "gateway", "prod", &delivery.Traffic{Service: "gateway",
		Targets: []delivery.TrafficTarget{{Revision: "gateway-00002", Percent: 90}, {Revision: "gateway-00001", Percent: 10}}})
	add("argocd", "health-gateway", delivery.HealthChanged, at(12, 18.3), "gateway", "prod", &delivery.Health{Application: "gateway-prod",
		Status: delivery.Healthy})
	for i, h := range []float64{18.5, 19.5, 20.5} {
		add("kube", "scale-4-"+string(rune('a'+i)), delivery.ScaleSampled, at(12, h), "gateway", "prod", &delivery.Scale{Revision: "gateway-00002",
			Service: "gateway", Actual: 2 - i, Desired: 2 - i})
	}
	return evs
}

// Store writes the fixture to a new SQLite store and returns its path.
func Store(t testing.TB) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "shiplog.db")
	st, err := app.OpenStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(context.Background(), events()...); err != nil {
		t.Fatal(err)
	}
	return db
}

// Fixture is the fixture's history twice: on a store, and behind a
// shiplog server over a store of its own.
type Fixture struct {
	// Config is a configuration file naming the store and the teams.
	Config string
	// Server is the URL of the server, in auth mode token.
	Server string
	// Token is an unscoped viewer token of the server.
	Token string
}

// New writes the fixture to a store and starts a server over it, stopped
// at the end of the test.
func New(t testing.TB) *Fixture {
	t.Helper()
	fx := &Fixture{Config: filepath.Join(t.TempDir(), "shiplog.yaml")}
	var teams strings.Builder
	for _, team := range slices.Sorted(maps.Keys(Teams)) {
		fmt.Fprintf(&teams, "  %s: [%s]\n", team, strings.Join(Teams[team], ", "))
	}
	if err := os.WriteFile(fx.Config, []byte("db: "+Store(t)+"\nlog:\n  level: warn\nteams:\n"+teams.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	fx.Server, fx.Token = startServer(t)
	return fx
}

// A Mode is a way a command reads: the store, or the server's API.
type Mode struct {
	Name string
	Args []string          // the flags that choose it
	Env  map[string]string // the environment
	// Write says whether -update writes the golden files from this mode.
	Write bool
}

// Modes returns the store mode, then the server mode (--server, the token
// in $SHIPLOG_TOKEN), both with the fixture's configuration file.
func (fx *Fixture) Modes() []Mode {
	return []Mode{
		{Name: "store", Args: []string{"--config.file", fx.Config}, Env: map[string]string{}, Write: true},
		{Name: "server", Args: []string{"--config.file", fx.Config, "--server", fx.Server}, Env: map[string]string{cmdutil.TokenEnv: fx.Token}},
	}
}

// Exec builds a command with newCmd and runs it with args, as the root
// command would (with the global flags --config.file, --db, --log.*), in
// the environment env. It returns what the command wrote to stdout.
func Exec(t testing.TB, env map[string]string, newCmd func(*cmdutil.Factory) *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out, errOut strings.Builder
	f := &cmdutil.Factory{IO: cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Getenv: func(k string) string { return env[k] }}
	cmd := newCmd(f)
	cmd.PersistentFlags().String("config.file", "", "configuration file")
	config.AddFlags(cmd.PersistentFlags(), "db", "log.level", "log.format")
	cmd.SetArgs(append([]string{}, args...)) // nil would make cobra read os.Args
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), err
}

// startServer starts a shiplog server in auth mode token over a store of
// its own holding the fixture, stopped at the end of the test, and returns
// its URL and an unscoped viewer token.
func startServer(t testing.TB) (string, string) {
	t.Helper()
	db := Store(t)
	st, err := app.OpenStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewTokenRecord(auth.CreateTokenRequest{Name: "cli-test", Role: access.Viewer}, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(context.Background(), tok.Token); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	cfg.Teams = Teams
	cfg.Web.ListenAddress = "127.0.0.1:0"
	cfg.Auth.Mode = config.AuthToken
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + a.Addr(), tok.Secret
}

// A Mask hides what differs between runs (a generation time): each match
// of its pattern's groups is replaced by "<masked>".
type Mask struct{ re *regexp.Regexp }

// NewMask returns a mask of the groups of pattern.
func NewMask(pattern string) Mask { return Mask{regexp.MustCompile(pattern)} }

// Masks the generation time and duration of a report (Markdown, HTML,
// JSON).
var (
	GeneratedText = NewMask(`Generated (\d{4}-\d\d-\d\d \d\d:\d\d UTC) in (\d+) ms`)
	GeneratedJSON = NewMask(`"generated_at": "([^"]*)",\s*"generation_ms": ([0-9.e+-]+),`)
)

// Apply masks s.
func (m Mask) Apply(s string) string {
	return m.re.ReplaceAllStringFunc(s, func(match string) string {
		idx := m.re.FindStringSubmatchIndex(match)
		var b strings.Builder
		last := 0
		for g := 2; g+1 < len(idx); g += 2 {
			if idx[g] < 0 {
				continue
			}
			b.WriteString(match[last:idx[g]])
			b.WriteString("<masked>")
			last = idx[g+1]
		}
		b.WriteString(match[last:])
		return b.String()
	})
}

// Golden compares got with testdata/golden/name; with -update and write,
// it writes got there first. The store-mode run of a case writes, the
// server-mode run after it only compares: the server must give what the
// store gives.
func Golden(t testing.TB, name, got string, write bool) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if write && *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it from the store-mode run):\n%s", path, diff(string(want), got))
	}
}

// diff shows the first line that differs.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return "(same lines, different bytes)"
}

// Case is one golden-output case: the command's arguments and the golden
// file its output must equal.
type Case struct {
	Name, Golden string
	Args         []string
}

// RunGolden runs every case in every mode (on the store, then through a
// server) and compares the output, after masks, with its golden file.
func RunGolden(t *testing.T, newCmd func(*cmdutil.Factory) *cobra.Command, cases []Case, masks ...Mask) {
	t.Helper()
	fx := New(t)
	for _, tc := range cases {
		for _, m := range fx.Modes() {
			t.Run(tc.Name+"/"+m.Name, func(t *testing.T) {
				out, err := Exec(t, m.Env, newCmd, append(tc.Args, m.Args...)...)
				if err != nil {
					t.Fatal(err)
				}
				for _, mk := range masks {
					out = mk.Apply(out)
				}
				Golden(t, tc.Golden, out, m.Write)
			})
		}
	}
}
