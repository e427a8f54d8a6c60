package deviations

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

func TestDeviations(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	dep := func(id, env, image string, h int) delivery.Event {
		return delivery.Event{Source: "git", ID: id, Type: delivery.ServiceUpgraded, Time: t0.Add(time.Duration(h) * time.Hour), App: "api", Env: env,
			Payload: &delivery.Deployment{Artifact: image, InferredFrom: "git", ManifestCommit: strings.Repeat(id, 40)}}
	}
	if _, err := st.Append(context.Background(),
		dep("a", "prod", "ghcr.io/acme/api:1", 0),
		dep("b", "prod", "ghcr.io/acme/api@sha256:"+strings.Repeat("c", 64), 1),
	); err != nil {
		t.Fatal(err)
	}
	st.Close()
	run1 := func(mut func(*Options)) (string, error) {
		var out bytes.Buffer
		cfg := config.Default()
		cfg.DB = config.Secret(db)
		o := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
			Since: "2026-03-01", Output: "json", Now: func() time.Time { return t0.Add(24 * time.Hour) }}
		mut(o)
		err := run(context.Background(), o)
		return out.String(), err
	}
	out, err := run1(func(o *Options) { o.Rules = []string{"image-not-pinned"} })
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Deployments int `json:"deployments"`
		Deviations  []struct {
			Rule       string `json:"rule"`
			Deployment struct {
				Artifact string `json:"artifact"`
			} `json:"deployment"`
		} `json:"deviations"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Only the tag-only image breaks "image not pinned by digest".
	if res.Deployments != 2 || len(res.Deviations) != 1 || res.Deviations[0].Deployment.Artifact != "ghcr.io/acme/api:1" {
		t.Errorf("got %+v", res)
	}
	table, err := run1(func(o *Options) { o.Output = "table" })
	if err != nil || !strings.Contains(table, "deviations in 2 deployments") || !strings.Contains(table, "no-approval") {
		t.Errorf("table: %v\n%s", err, table)
	}
}
