package metricscmd

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

// seed stores, through the store's append path, two prod deployments of
// api seen by Git and Argo CD, the second one rolled back by a third.
func seed(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	sha := func(c byte) string { return strings.Repeat(string(c), 40) }
	commit := func(s string, h float64) delivery.Event {
		return delivery.Event{Source: "github", ID: "c" + s, Type: delivery.CommitAuthored, Time: at(h),
			Payload: &delivery.Commit{Repo: "r", SHA: s, CommittedAt: at(h)}}
	}
	deploy := func(id string, kind delivery.EventType, h float64, from, image, manifest string, changes ...string) delivery.Event {
		return delivery.Event{Source: from, ID: id, Type: kind, Time: at(h), App: "api", Env: "prod",
			Payload: &delivery.Deployment{Artifact: image, ManifestCommit: manifest, Changes: changes, InferredFrom: from}}
	}
	events := []delivery.Event{
		commit(sha('1'), 0), commit(sha('2'), 10),
		deploy("g1", delivery.ServiceUpgraded, 2, "git", "api:1", sha('a'), sha('1')),
		deploy("a1", delivery.ServiceUpgraded, 3, "argocd", "api:1", sha('a')),
		deploy("g2", delivery.ServiceUpgraded, 30, "git", "api:2", sha('b'), sha('2')),
		deploy("a2", delivery.ServiceUpgraded, 31, "argocd", "api:2", sha('b')),
		deploy("g3", delivery.ServiceRolledBack, 40, "git", "api:1", sha('c')),
		deploy("a3", delivery.ServiceUpgraded, 40.5, "argocd", "api:1", sha('c')),
		deploy("g4", delivery.ServiceUpgraded, 41, "git", "api:9", sha('d')),
	}
	events[len(events)-1].Env = "staging"
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	return path
}

func runMetrics(t *testing.T, db string, mut func(o *Options)) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	opts := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
		Since: "2026-03-02", Output: "json", Now: func() time.Time { return at(72) }}
	mut(opts)
	err := run(context.Background(), opts)
	return out.String(), err
}

func TestMetricsJSON(t *testing.T) {
	db := seed(t)
	out, err := runMetrics(t, db, func(*Options) {})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := map[string]any{
		"deployments":                  3.0, // prod only: staging is not a production environment
		"deployment_frequency_per_day": 1.0,
		"lead_time_median_seconds":     12.0 * 3600, // (3−0) h and (31−10) h → median of 3 h and 21 h
		"lead_time_p90_seconds":        19.2 * 3600,
		"change_failure_rate":          1.0 / 3,
		"recovery_time_median_seconds": 1800.0, // rollback committed at 40:00, live at 40:30
		"rework_rate":                  1.0 / 3,
	}
	for k, v := range want {
		g, ok := got[k].(float64)
		if !ok || abs(g-v.(float64)) > 1e-6 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	tiers := got["tiers"].(map[string]any)
	for k, v := range map[string]string{"deployment_frequency": "elite", "lead_time": "elite", "change_failure_rate": "low", "recovery_time": "elite"} {
		if tiers[k] != v {
			t.Errorf("tier %s = %v, want %s", k, tiers[k], v)
		}
	}
}

func TestMetricsTableAndBeforeAfter(t *testing.T) {
	db := seed(t)
	out, err := runMetrics(t, db, func(o *Options) { o.Output, o.BeforeAfter = "table", "2026-03-03" })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Delivery metrics, all apps, environments prod, production, 2026-03-02 – 2026-03-05",
		"Deployment frequency   1.00/day (2 deploy days)    elite  3 deployments",
		"Change failure rate    33.3 %",
		"Before and after 2026-03-03:",
		"  Deployments per day     1.00    1.00",
		"  Change failure rate     0.0 %   50.0 %",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runMetrics(t, db, func(o *Options) { o.BeforeAfter = "2020-01-01" }); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("--before-after outside the window: %v, want a usage error", err)
	}
	if _, err := runMetrics(t, db, func(o *Options) { o.BeforeAfter = "adopted" }); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), `or "adoption"`) {
		t.Errorf("--before-after adopted: %v, want a usage error naming adoption", err)
	}
	// api's first deployment record from a manifest commit (02:00) is its
	// adoption: all three prod deployments count after.
	out, err = runMetrics(t, db, func(o *Options) { o.BeforeAfter = "adoption" })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"by": "adoption"`, `"adopted_at": "2026-03-02T02:00:00Z"`, `"before_deployments": 0`, `"after_deployments": 3`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
