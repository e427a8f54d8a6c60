package app

import (
	"context"
	"fmt"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/argocdapi"
	"github.com/shiplog-dev/shiplog/internal/source/kube"
)

// source is a long-running reader of a cluster or an API, owned by the app.
type source struct {
	name string
	run  func(context.Context) error
}

// addSources builds the configured Kubernetes and Argo CD sources and adds
// each one's readiness to /readyz. Nothing is contacted until Run.
func (a *App) addSources() error {
	for _, c := range a.cfg.Kube.Clusters {
		src, err := kube.New(kube.ClusterConfig{
			Name: c.Name, Kubeconfig: c.Kubeconfig, Context: c.Context, InCluster: c.InCluster, Namespaces: c.Namespaces,
			LabelSelector: c.LabelSelector, ScaleSampleInterval: c.ScaleSampleInterval, TargetPercent: c.TargetPercent,
		}, a.store, a.log.With("source", "kube/"+c.Name), time.Now)
		if err != nil {
			return fmt.Errorf("kube cluster %s: %w", c.Name, err)
		}
		a.sources = append(a.sources, source{name: "kube/" + c.Name, run: src.Run})
		a.AddReadinessCheck("kube/"+c.Name, func(context.Context) error { return src.Ready() })
	}
	for _, s := range a.cfg.ArgoCD.Servers {
		src, err := argocdapi.New(argocdapi.ServerConfig{Name: s.Name, URL: s.URL, TokenFile: s.TokenFile},
			a.store, a.log.With("source", "argocd/"+s.Name), time.Now)
		if err != nil {
			return fmt.Errorf("argocd server %s: %w", s.Name, err)
		}
		a.sources = append(a.sources, source{name: "argocd/" + s.Name, run: src.Run})
		a.AddReadinessCheck("argocd/"+s.Name, func(context.Context) error { return src.Ready() })
	}
	return nil
}
