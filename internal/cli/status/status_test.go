package status

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

func TestStatus(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	ev := func(id string, typ delivery.EventType, h int, env string, p delivery.Payload) delivery.Event {
		return delivery.Event{Source: "kube", ID: id, Type: typ, Time: now.Add(time.Duration(h) * time.Hour), App: "api", Env: env, Cluster: "c", Namespace: "api", Payload: p}
	}
	events := []delivery.Event{
		ev("d1", delivery.ServiceUpgraded, -30, "prod", &delivery.Deployment{Artifact: "api:1", InferredFrom: "knative", Author: "ann"}),
		ev("d2", delivery.ServiceUpgraded, -3, "prod", &delivery.Deployment{Artifact: "api:2", InferredFrom: "knative", Author: "bob"}),
		ev("h1", delivery.HealthChanged, -3, "prod", &delivery.Health{Application: "api-prod", Status: delivery.Healthy}),
		ev("s1", delivery.SyncStatusChanged, -3, "prod", &delivery.SyncStatus{Application: "api-prod", Status: "Synced"}),
		ev("t1", delivery.TrafficChanged, -4, "prod", &delivery.Traffic{Service: "api", Targets: []delivery.TrafficTarget{{Revision: "api-1", Percent: 100}}}),
		ev("t2", delivery.TrafficChanged, -2, "prod", &delivery.Traffic{Service: "api", Targets: []delivery.TrafficTarget{{Revision: "api-1", Percent: 10}, {Revision: "api-2", Percent: 90}}}),
		ev("c1", delivery.ScaleSampled, -1, "prod", &delivery.Scale{Revision: "api-2", Actual: 3, Desired: 3}),
		ev("c2", delivery.ScaleSampled, -1, "prod", &delivery.Scale{Revision: "api-1", Actual: 0, Desired: 0}),
		ev("d3", delivery.ServiceDeployed, -50, "dev", &delivery.Deployment{Artifact: "api:0", InferredFrom: "git"}),
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	st.Close()
	runStatus := func(output string) string {
		var out bytes.Buffer
		cfg := config.Default()
		cfg.DB = config.Secret(db)
		o := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}}, Output: output, Now: func() time.Time { return now }}
		if err := run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	var rows []api.StatusRow
	if err := json.Unmarshal([]byte(runStatus("json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Environment != "dev" || rows[1].Environment != "prod" {
		t.Fatalf("rows %+v", rows)
	}
	p := rows[1]
	if p.Artifact != "api:2" || p.DeployedBy != "bob" || p.Health != "Healthy" || p.Sync != "Synced" ||
		len(p.Traffic) != 2 || p.Traffic[0] != (api.TrafficTarget{Revision: "api-2", Percent: 90}) || p.Replicas == nil || *p.Replicas != 3 {
		t.Errorf("prod row %+v", p)
	}
	table := runStatus("table")
	for _, want := range []string{"APP", "api  prod", "api:2", "3h ago", "api-2 90%, api-1 10%", "Synced", "Healthy"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
