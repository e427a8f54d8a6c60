package report

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func TestReport(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	sha := func(c byte) string { return strings.Repeat(string(c), 40) }
	deploy := func(id string, h float64, image string, c byte) delivery.Event {
		return delivery.Event{Source: "git", ID: id, Type: delivery.ServiceUpgraded, Time: at(h), App: "api", Env: "prod",
			Payload: &delivery.Deployment{Artifact: image, ManifestCommit: sha(byte('a' + len(id))), Changes: []string{sha(c)}, InferredFrom: "git", Author: "bot[bot]", Bot: true}}
	}
	events := []delivery.Event{
		{Source: "github", ID: "c1", Type: delivery.CommitAuthored, Time: at(0), Payload: &delivery.Commit{Repo: "r", SHA: sha('1'), CommittedAt: at(0)}},
		{Source: "github", ID: "c2", Type: delivery.CommitAuthored, Time: at(30), Payload: &delivery.Commit{Repo: "r", SHA: sha('2'), CommittedAt: at(30)}},
		deploy("d", 4, "ghcr.io/acme/api:1", '1'),
		deploy("dd", 34, "ghcr.io/acme/api:2", '2'),
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	st.Close()
	render := func(format, ba string) string {
		var out bytes.Buffer
		cfg := config.Default()
		cfg.DB = config.Secret(db)
		o := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
			Since: "2026-03-02", Format: format, BeforeAfter: ba, Now: func() time.Time { return at(72) }}
		if err := run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	md := render("md", "2026-03-03")
	for _, want := range []string{
		"# Delivery report — all apps",
		"| Deployment frequency | 0.67 per day (2 deployments, 2 deploy days) | high |",
		"| Lead time for changes | median 4.0 h, p90 4.0 h (2 changes) | elite |",
		"## Before and after 2026-03-03",
		"| Deployments per day | 1.00 | 0.50 |",
		"## Compliance",
		"image-not-pinned 2",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	html := render("html", "")
	if !strings.HasPrefix(html, "<!doctype html>") || !strings.Contains(html, "<td>Lead time for changes</td>") {
		t.Errorf("html:\n%.500s", html)
	}
	var r api.Report
	if err := json.Unmarshal([]byte(render("json", "")), &r); err != nil || r.Metrics.Deployments != 2 || len(r.Trend) == 0 {
		t.Errorf("json: %v %+v", err, r.Metrics)
	}
}
