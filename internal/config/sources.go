package config

import (
	"fmt"
	"time"
)

// Kube lists the Kubernetes clusters whose Argo CD and Knative objects
// shiplog watches (docs/kube.md).
type Kube struct {
	Clusters []KubeCluster `yaml:"clusters"`
}

// KubeCluster is one watched cluster.
type KubeCluster struct {
	Name                string        `yaml:"name"`
	Kubeconfig          string        `yaml:"kubeconfig"`
	Context             string        `yaml:"context"`
	InCluster           bool          `yaml:"in_cluster"`
	Namespaces          []string      `yaml:"namespaces"`
	LabelSelector       string        `yaml:"label_selector"`
	ScaleSampleInterval time.Duration `yaml:"scale_sample_interval"`
	TargetPercent       int           `yaml:"target_percent"`
}

// ArgoCD lists Argo CD servers read through their REST API, for teams
// without Kubernetes API access (docs/kube.md).
type ArgoCD struct {
	Servers []ArgoCDServer `yaml:"servers"`
}

// ArgoCDServer is one Argo CD API server.
type ArgoCDServer struct {
	Name      string `yaml:"name"`
	URL       string `yaml:"url"`
	TokenFile string `yaml:"token_file"`
}

func (c *Config) validateSources() []error {
	var errs []error
	names := map[string]string{}
	claim := func(name, key string) {
		if name == "" {
			errs = append(errs, fmt.Errorf("%s.name: empty", key))
			return
		}
		if other, dup := names[name]; dup {
			errs = append(errs, fmt.Errorf("%s.name: %q is also the name of %s", key, name, other))
			return
		}
		names[name] = key
	}
	for i, k := range c.Kube.Clusters {
		key := fmt.Sprintf("kube.clusters[%d]", i)
		claim(k.Name, key)
		if k.InCluster && (k.Kubeconfig != "" || k.Context != "") {
			errs = append(errs, fmt.Errorf("%s: in_cluster excludes kubeconfig and context", key))
		}
		if k.TargetPercent < 0 || k.TargetPercent > 100 {
			errs = append(errs, fmt.Errorf("%s.target_percent: %d is not within 0–100", key, k.TargetPercent))
		}
		if k.ScaleSampleInterval < 0 {
			errs = append(errs, fmt.Errorf("%s.scale_sample_interval: negative", key))
		}
	}
	for i, s := range c.ArgoCD.Servers {
		key := fmt.Sprintf("argocd.servers[%d]", i)
		claim(s.Name, key)
		if s.URL == "" {
			errs = append(errs, fmt.Errorf("%s.url: empty", key))
		}
	}
	return errs
}
