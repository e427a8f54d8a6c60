package audit

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

func TestAudit(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sha := strings.Repeat("1", 40)
	events := []delivery.Event{
		{Source: "github", ID: "pr", Type: delivery.ChangeMerged, Time: t0, Payload: &delivery.Change{Repo: "r", Number: 9, MergeSHA: sha}},
		{Source: "github", ID: "rv", Type: delivery.ChangeReviewed, Time: t0.Add(-time.Hour), Payload: &delivery.Change{Repo: "r", Number: 9, Reviewer: "bob", ReviewState: delivery.ReviewApproved}},
		{Source: "git", ID: "d1", Type: delivery.ServiceUpgraded, Time: t0.Add(time.Hour), App: "api", Env: "prod",
			Payload: &delivery.Deployment{Artifact: "ghcr.io/acme/api@sha256:" + strings.Repeat("a", 64), SourceCommit: sha, InferredFrom: "git", Author: "ann"}},
		{Source: "git", ID: "d2", Type: delivery.ServiceUpgraded, Time: t0.Add(2 * time.Hour), App: "api", Env: "staging",
			Payload: &delivery.Deployment{Artifact: "ghcr.io/acme/api:2", InferredFrom: "git", Author: "shiplog-bot[bot]", Bot: true}},
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	st.Close()
	runAudit := func(mut func(*Options)) string {
		var out bytes.Buffer
		cfg := config.Default()
		cfg.DB = config.Secret(db)
		o := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
			Since: "2026-03-01", Format: "csv", Now: func() time.Time { return t0.Add(24 * time.Hour) }}
		mut(o)
		if err := run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	lines := strings.Split(strings.TrimSpace(runAudit(func(*Options) {})), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "2026-03-02T12:00:00Z,api,staging,") || !strings.Contains(lines[2], ",ann,false,9,bob,") ||
		!strings.Contains(lines[2], ",sha256:"+strings.Repeat("a", 64)+",") {
		t.Errorf("csv:\n%s", strings.Join(lines, "\n"))
	}
	var rep struct {
		Entries []struct {
			Environment string   `json:"environment"`
			Approvers   []string `json:"approvers"`
		} `json:"entries"`
		GenerationMS *float64 `json:"generation_ms"`
	}
	js := runAudit(func(o *Options) { o.Format, o.Env = "json", "prod" })
	if err := json.Unmarshal([]byte(js), &rep); err != nil || len(rep.Entries) != 1 || rep.Entries[0].Approvers[0] != "bob" || rep.GenerationMS == nil {
		t.Errorf("json: %v %s", err, js)
	}
}
