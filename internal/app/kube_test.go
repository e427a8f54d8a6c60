package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/source/kube/kubetest"
)

// TestServeWatchesACluster points serve at a real kube-apiserver: the
// Argo CD Application it finds becomes a deployment inferred from Argo CD,
// and /readyz reports the cluster.
func TestServeWatchesACluster(t *testing.T) {
	srv := kubetest.Start(t)
	srv.Apply(t, "../source/kube/testdata/crds/argocd.yaml", "../source/kube/testdata/crds/knative-serving.yaml",
		"../../deploy/rbac/clusterrole.yaml", "../source/kube/testdata/rbac-binding.yaml")
	srv.Namespaces(t, "argocd", "guestbook")
	srv.Apply(t, "testdata/application.yaml")

	cfg := testConfig(migratedDB(t))
	cfg.Kube.Clusters = []config.KubeCluster{{Name: "prod-eu", Kubeconfig: srv.Kubeconfig(t, kubetest.Shiplog)}}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + a.Addr()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, body := get(t, base+"/api/v1/deployments?since=1200d")
		var page struct {
			Items []struct {
				App          string `json:"app"`
				InferredFrom string `json:"inferred_from"`
				Manifest     string `json:"manifest_commit"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(page.Items) > 0 {
			d := page.Items[0]
			if d.InferredFrom != "argocd" || d.Manifest != "ea8759964626a583667a2bfd08f334ec2070040a" {
				t.Errorf("deployment %+v, want one inferred from argocd at revision ea87599", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deployment recorded from the cluster: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, _, body := get(t, base+"/readyz")
	if code != 200 || !strings.Contains(body, `"name":"kube/prod-eu","status":"ok"`) {
		t.Errorf("readyz %d %s", code, body)
	}
}
