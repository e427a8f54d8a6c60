package where

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
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

var t0 = time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func sha(c byte) string { return strings.Repeat(string(c), 40) }

// seed stores change 1 live in prod, change 2 deployed to staging whose sync
// then failed.
func seed(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	deploy := func(id, env string, h float64, c byte, m byte) delivery.Event {
		return delivery.Event{Source: "git", ID: id, Type: delivery.ServiceUpgraded, Time: at(h), App: "api", Env: env,
			Payload: &delivery.Deployment{Artifact: "api:" + string(c), ManifestCommit: sha(m), SourceCommit: sha(c), Changes: []string{sha(c)}, InferredFrom: "git"}}
	}
	events := []delivery.Event{
		{Source: "github", ID: "c1", Type: delivery.CommitAuthored, Time: at(0), Payload: &delivery.Commit{Repo: "r", SHA: sha('1'), CommittedAt: at(0), Subject: "feat: one", AuthorName: "ann"}},
		{Source: "github", ID: "pr", Type: delivery.ChangeMerged, Time: at(1), Payload: &delivery.Change{Repo: "r", Number: 7, MergeSHA: sha('1'), HeadRef: "one"}},
		deploy("d1", "prod", 2, '1', 'a'),
		deploy("d2", "staging", 3, '2', 'b'),
		{Source: "argocd", ID: "s", Type: delivery.SyncFinished, Time: at(4), App: "api", Env: "staging",
			Payload: &delivery.Sync{Application: "api-staging", StartedAt: at(3.9), FinishedAt: at(4), Phase: delivery.PhaseFailed, Revision: sha('b')}},
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	return db
}

func runWhere(t *testing.T, db string, mut func(*Options)) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	o := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
		Output: "table", Now: time.Now, Interval: 10 * time.Millisecond}
	mut(o)
	err := run(context.Background(), o)
	return out.String(), err
}

func TestWhere(t *testing.T) {
	db := seed(t)
	out, err := runWhere(t, db, func(o *Options) { o.Ref = "#7" })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1111111 feat: one (#7) by ann", "review", "pull request merged", "prod", "live", "manifest", "GitOps commit aaaaaaa"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	js, err := runWhere(t, db, func(o *Options) { o.Ref = "1111111"; o.Output = "json" })
	if err != nil {
		t.Fatal(err)
	}
	var traces []trace.Trace
	if err := json.Unmarshal([]byte(js), &traces); err != nil || len(traces) != 1 || len(traces[0].Envs) != 1 || !traces[0].Envs[0].Live {
		t.Errorf("json: %v %s", err, js)
	}
}

func TestWaitExitCodes(t *testing.T) {
	db := seed(t)
	tests := []struct {
		name, ref, env string
		code           int
	}{
		{"live", sha('1')[:7], "prod", cmdutil.ExitOK},
		{"not there before the deadline", sha('1')[:7], "staging", ExitTimeout},
		{"failed", sha('2')[:7], "staging", ExitFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runWhere(t, db, func(o *Options) { o.Ref, o.Env, o.Wait = tc.ref, tc.env, 100*time.Millisecond })
			if got := cmdutil.ExitCode(err); got != tc.code {
				t.Errorf("exit code %d (%v), want %d", got, err, tc.code)
			}
		})
	}
	if _, err := runWhere(t, db, func(o *Options) { o.Ref = "ffffffff" }); err == nil || !strings.Contains(err.Error(), "no change matches") {
		t.Errorf("unknown change: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want trace.Query
	}{
		{"#12", trace.Query{PR: 12}}, {"12", trace.Query{PR: 12}}, {"1234567", trace.Query{SHA: "1234567"}}, {"4D09B7B", trace.Query{SHA: "4d09b7b"}},
		{"feature/cache", trace.Query{Branch: "feature/cache"}}, {"deadbeef", trace.Query{SHA: "deadbeef"}},
	}
	for _, tc := range tests {
		if got, err := parseRef(tc.in); err != nil || got != tc.want {
			t.Errorf("parseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseRef("#x"); err == nil {
		t.Error("parseRef(#x): no error")
	}
}
