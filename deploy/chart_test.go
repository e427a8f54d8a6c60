package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/shiplog-dev/shiplog/internal/source/kube/kubetest"
)

// crdFiles are the CRDs the manifests need, with their upstream schemas
// (testdata/crds/*.yaml say where each comes from).
var crdFiles = []string{
	"serving.knative.dev_services.yaml",
	"argoproj.io_applications.yaml",
	"argoproj.io_appprojects.yaml",
	"eventing.knative.dev_triggers.yaml",
	"sources.knative.dev_apiserversources.yaml",
	"monitoring.coreos.com_servicemonitors.yaml",
}

// applier applies objects with server-side apply in dry-run mode and strict
// field validation, as `kubectl apply --server-side --dry-run=server` does:
// the API server validates them against the (CRD) schemas, stores nothing.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func startCluster(t *testing.T) *applier {
	t.Helper()
	s := kubetest.Start(t)
	var files []string
	for _, f := range crdFiles {
		files = append(files, filepath.Join("testdata", "crds", f))
	}
	s.Apply(t, files...)
	s.Namespaces(t, "shiplog", "argocd")
	rc := s.Config(kubetest.Admin)
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{
		dyn:    s.Dynamic(t),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}
}

func (a *applier) dryRun(ctx context.Context, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		ns := o.GetNamespace()
		if ns == "" {
			ns = "shiplog"
		}
		ri = a.dyn.Resource(m.Resource).Namespace(ns)
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		DryRun:          []string{metav1.DryRunAll},
		FieldManager:    "shiplog-deploy-test",
		Force:           &force,
		FieldValidation: "Strict",
	})
	return err
}

func (a *applier) dryRunAll(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, o := range objs {
		if err := a.dryRun(ctx, o); err != nil {
			t.Errorf("%s %s/%s: server-side dry-run refused it: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

// want is what a values set must render.
type want struct {
	mode               string // knative or deployment
	postgresSecret     string // the Secret holding the DSN; empty: SQLite
	replicas           int64  // deployment mode
	minScale, maxScale string // knative mode
	pvc                bool
	serviceMonitor     bool
	secret             bool // the chart creates its Secret
	ingestFiles        int  // ingest secrets configured
}

func TestChart(t *testing.T) {
	helm := helmBinary(t)
	cluster := startCluster(t)

	appValues, appRelease := argoCDValues(t)
	if appRelease != "shiplog" {
		t.Errorf("Application helm.releaseName = %q, want shiplog (the tests render that release)", appRelease)
	}
	cases := []struct {
		name   string
		values map[string]any
		want   want
	}{
		{"knative default", map[string]any{},
			want{mode: "knative", minScale: "1", maxScale: "1", pvc: true}},
		{"deployment", map[string]any{"mode": "deployment"},
			want{mode: "deployment", replicas: 1, pvc: true}},
		{"deployment, postgres, 3 replicas", map[string]any{
			"mode": "deployment", "replicas": 3,
			"postgres": map[string]any{"dsn": "postgres://shiplog:s3cret@db:5432/shiplog"},
			"ingest":   map[string]any{"token": map[string]any{"value": "t0ken"}},
		}, want{mode: "deployment", postgresSecret: "shiplog-secrets", replicas: 3, secret: true, ingestFiles: 1}},
		{"servicemonitor, knative", map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
			want{mode: "knative", minScale: "1", maxScale: "1", pvc: true, serviceMonitor: true}},
		{"servicemonitor, deployment", map[string]any{"mode": "deployment", "serviceMonitor": map[string]any{"enabled": true}},
			want{mode: "deployment", replicas: 1, pvc: true, serviceMonitor: true}},
		{"existing secrets, knative on postgres", map[string]any{
			"postgres": map[string]any{"existingSecret": "shiplog-db", "secretKey": "dsn"},
			"ingest": map[string]any{
				"token":  map[string]any{"existingSecret": "shiplog-ingest"},
				"github": map[string]any{"existingSecret": "shiplog-ingest"},
				"gitlab": map[string]any{"existingSecret": "shiplog-gitlab", "key": "token"},
			},
			"knative": map[string]any{"minScale": 0, "maxScale": 5},
		}, want{mode: "knative", postgresSecret: "shiplog-db", minScale: "0", maxScale: "5", ingestFiles: 3}},
		{"inline secrets, extra config, evaluation volume", map[string]any{
			"ingest":      map[string]any{"token": map[string]any{"value": "t"}, "github": map[string]any{"value": "g"}},
			"persistence": map[string]any{"enabled": false},
			"kube":        map[string]any{"namespaces": []any{"argocd", "shop-prod"}, "labelSelector": "team=payments", "scaleSampleInterval": "30s", "targetPercent": 50},
			"extraConfig": map[string]any{
				"teams":   map[string]any{"payments": []any{"checkout"}},
				"metrics": map[string]any{"production_envs": []any{"prod"}},
			},
		}, want{mode: "knative", minScale: "1", maxScale: "1", secret: true, ingestFiles: 2}},
		{"the values of deploy/argocd/application.yaml", appValues,
			want{mode: "knative", minScale: "1", maxScale: "1", pvc: true, ingestFiles: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, err := render(t, helm, c.values)
			if err != nil {
				t.Fatal(err)
			}
			checkRendered(t, objs, c.want)
			cluster.dryRunAll(t, objs)
		})
	}

	t.Run("deploy/argocd and deploy/knative-eventing", func(t *testing.T) {
		var objs []*unstructured.Unstructured
		for _, dir := range []string{"argocd", "knative-eventing"} {
			files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no manifests in deploy/%s (%v)", dir, err)
			}
			for _, f := range files {
				objs = append(objs, decodeFile(t, f)...)
			}
		}
		for _, kind := range []string{"Application", "AppProject", "Trigger", "ApiServerSource"} {
			if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind }) {
				t.Errorf("no %s among the manifests", kind)
			}
		}
		cluster.dryRunAll(t, objs)
	})

	// The check must be able to fail: a misspelled field is refused, whether
	// it comes from a file or from the chart's values.
	t.Run("a misspelled field is refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, o := range decodeFile(t, filepath.Join("testdata", "broken", "knative-service-typo.yaml")) {
			err := cluster.dryRun(ctx, o)
			if err == nil || !strings.Contains(err.Error(), "containerConcurency") {
				t.Errorf("dry-run of a Knative Service with containerConcurency: got %v, want an error naming the field", err)
			}
		}
		objs, err := render(t, helm, map[string]any{"extraEnv": []any{map[string]any{"name": "X", "valeu": "y"}}})
		if err != nil {
			t.Fatal(err)
		}
		err = cluster.dryRun(ctx, find(t, objs, "serving.knative.dev/v1", "Service"))
		if err == nil || !strings.Contains(err.Error(), "valeu") {
			t.Errorf("dry-run of the chart's Knative Service with env[].valeu: got %v, want an error naming the field", err)
		}
	})
}

// TestChartRefuses: values that cannot work fail rendering, with a message
// saying what to change.
func TestChartRefuses(t *testing.T) {
	helm := helmBinary(t)
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"several replicas on SQLite", map[string]any{"mode": "deployment", "replicas": 3},
			"3 replicas need PostgreSQL: SQLite is one file that only one shiplog may write; set postgres.existingSecret (or postgres.dsn), or replicas: 1"},
		{"an unknown mode", map[string]any{"mode": "statefulset"}, `mode must be knative or deployment, not "statefulset"`},
		{"a digest that is not one", map[string]any{"image": map[string]any{"digest": "latest"}}, `image.digest "latest" must start with sha256:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, helm, c.values)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template: got %v, want an error with %q", err, c.want)
			}
		})
	}
}

// TestChartRBACMatchesDocs: the chart's ClusterRole grants exactly the rules
// of deploy/rbac/clusterrole.yaml, the role docs/kube.md documents.
func TestChartRBACMatchesDocs(t *testing.T) {
	helm := helmBinary(t)
	objs, err := render(t, helm, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	got := find(t, objs, "rbac.authorization.k8s.io/v1", "ClusterRole").Object["rules"]
	doc := decodeFile(t, filepath.Join("rbac", "clusterrole.yaml"))
	if len(doc) != 1 {
		t.Fatalf("deploy/rbac/clusterrole.yaml: %d objects, want 1", len(doc))
	}
	if want := doc[0].Object["rules"]; !reflect.DeepEqual(got, want) {
		t.Errorf("chart ClusterRole rules = %v, want those of deploy/rbac/clusterrole.yaml %v", got, want)
	}
	binding := find(t, objs, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	sa := find(t, objs, "v1", "ServiceAccount")
	if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != sa.GetName() {
		t.Errorf("ClusterRoleBinding subjects = %v, want the ServiceAccount %s", subjects, sa.GetName())
	}
}

// argoCDValues returns the helm values and release name that
// deploy/argocd/application.yaml gives the chart, after checking that its
// source is this repository's chart.
func argoCDValues(t *testing.T) (map[string]any, string) {
	t.Helper()
	var app *unstructured.Unstructured
	for _, o := range decodeFile(t, filepath.Join("argocd", "application.yaml")) {
		if o.GetKind() == "Application" {
			app = o
		}
	}
	if app == nil {
		t.Fatal("deploy/argocd/application.yaml has no Application")
	}
	path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
	if path != "deploy/helm/shiplog" {
		t.Errorf("Application spec.source.path = %q, want deploy/helm/shiplog", path)
	}
	auto, _, _ := unstructured.NestedMap(app.Object, "spec", "syncPolicy", "automated")
	if auto["prune"] != true || auto["selfHeal"] != true {
		t.Errorf("Application syncPolicy.automated = %v, want prune and selfHeal", auto)
	}
	opts, _, _ := unstructured.NestedStringSlice(app.Object, "spec", "syncPolicy", "syncOptions")
	if !slices.Contains(opts, "CreateNamespace=true") {
		t.Errorf("Application syncOptions = %v, want CreateNamespace=true", opts)
	}
	values, _, _ := unstructured.NestedMap(app.Object, "spec", "source", "helm", "valuesObject")
	release, _, _ := unstructured.NestedString(app.Object, "spec", "source", "helm", "releaseName")
	return values, release
}

// checkRendered checks what every values set must render: one workload of
// the mode, hardened containers, probes, the config passing `shiplog config
// check`, secrets mounted where the config says, the store wired.
func checkRendered(t *testing.T, objs []*unstructured.Unstructured, w want) {
	t.Helper()
	cm := find(t, objs, "v1", "ConfigMap")
	cfgText, _, _ := unstructured.NestedString(cm.Object, "data", "shiplog.yaml")
	cfgFile := filepath.Join(t.TempDir(), "shiplog.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(shiplogBin, "config", "check", "--config.file", cfgFile).CombinedOutput(); err != nil {
		t.Errorf("shiplog config check on the rendered shiplog.yaml: %v\n%s\n--- shiplog.yaml ---\n%s", err, out, cfgText)
	}
	var cfg struct {
		DB     *string `json:"db"`
		Ingest struct {
			TokenFile string `json:"token_file"`
			GitHub    struct {
				SecretFile string `json:"secret_file"`
			} `json:"github"`
			GitLab struct {
				SecretFile string `json:"secret_file"`
			} `json:"gitlab"`
		} `json:"ingest"`
		Auth struct {
			Mode string `json:"mode"`
		} `json:"auth"`
		Kube struct {
			Clusters []struct {
				Name      string `json:"name"`
				InCluster bool   `json:"in_cluster"`
			} `json:"clusters"`
		} `json:"kube"`
	}
	if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
		t.Fatalf("rendered shiplog.yaml: %v", err)
	}
	// shiplog listens on every interface of the pod: it must not run without
	// access control (serve refuses auth.mode none there).
	if cfg.Auth.Mode == "" || cfg.Auth.Mode == "none" {
		t.Errorf("auth.mode = %q in the rendered shiplog.yaml, want token or oidc", cfg.Auth.Mode)
	}
	if len(cfg.Kube.Clusters) != 1 || !cfg.Kube.Clusters[0].InCluster {
		t.Errorf("kube.clusters = %+v, want one in_cluster cluster", cfg.Kube.Clusters)
	}

	var pod map[string]any
	switch w.mode {
	case "knative":
		if n := count(objs, "apps/v1", "Deployment"); n != 0 {
			t.Errorf("knative mode rendered %d Deployments", n)
		}
		ksvc := find(t, objs, "serving.knative.dev/v1", "Service")
		pod, _, _ = unstructured.NestedMap(ksvc.Object, "spec", "template", "spec")
		ann, _, _ := unstructured.NestedStringMap(ksvc.Object, "spec", "template", "metadata", "annotations")
		if ann["autoscaling.knative.dev/min-scale"] != w.minScale || ann["autoscaling.knative.dev/max-scale"] != w.maxScale {
			t.Errorf("min-scale, max-scale = %q, %q, want %q, %q", ann["autoscaling.knative.dev/min-scale"], ann["autoscaling.knative.dev/max-scale"], w.minScale, w.maxScale)
		}
		ports, _, _ := unstructured.NestedSlice(pod, "containers")
		if len(ports) != 1 {
			t.Errorf("Knative Service has %d containers, want 1", len(ports))
		}
	case "deployment":
		if n := count(objs, "serving.knative.dev/v1", "Service"); n != 0 {
			t.Errorf("deployment mode rendered %d Knative Services", n)
		}
		d := find(t, objs, "apps/v1", "Deployment")
		pod, _, _ = unstructured.NestedMap(d.Object, "spec", "template", "spec")
		if got, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); got != w.replicas {
			t.Errorf("replicas = %d, want %d", got, w.replicas)
		}
		strategy, _, _ := unstructured.NestedString(d.Object, "spec", "strategy", "type")
		if sqlite := w.postgresSecret == ""; sqlite != (strategy == "Recreate") {
			t.Errorf("strategy = %q with SQLite %v: want Recreate exactly with SQLite", strategy, sqlite)
		}
		svc := find(t, objs, "v1", "Service")
		sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
		labels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("Service selector %s=%s does not select the pods (labels %v)", k, v, labels)
			}
		}
	}
	if got := count(objs, "v1", "PersistentVolumeClaim"); got != map[bool]int{true: 1}[w.pvc] {
		t.Errorf("%d PersistentVolumeClaims, want pvc=%v", got, w.pvc)
	}
	if got := count(objs, "monitoring.coreos.com/v1", "ServiceMonitor"); got != map[bool]int{true: 1}[w.serviceMonitor] {
		t.Errorf("%d ServiceMonitors, want serviceMonitor=%v", got, w.serviceMonitor)
	}
	if got := count(objs, "v1", "Secret"); got != map[bool]int{true: 1}[w.secret] {
		t.Errorf("%d Secrets, want secret=%v", got, w.secret)
	}
	for _, kind := range []string{"ServiceAccount"} {
		find(t, objs, "v1", kind)
	}
	find(t, objs, "rbac.authorization.k8s.io/v1", "ClusterRole")

	// Volumes and where they are mounted.
	volumes := map[string]map[string]any{}
	vs, _, _ := unstructured.NestedSlice(pod, "volumes")
	for _, v := range vs {
		v := v.(map[string]any)
		volumes[v["name"].(string)] = v
	}
	if cm, _, _ := unstructured.NestedString(volumes["config"], "configMap", "name"); cm != "shiplog" {
		t.Errorf("volume config is ConfigMap %q, want shiplog", cm)
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	inits, _, _ := unstructured.NestedSlice(pod, "initContainers")
	if len(containers) != 1 || len(inits) != 1 {
		t.Fatalf("%d containers and %d init containers, want 1 and 1 (shiplog, migrate)", len(containers), len(inits))
	}
	for i, c := range append(inits, containers...) {
		c := c.(map[string]any)
		name, _ := c["name"].(string)
		wantCmd := map[int]string{0: "migrate", 1: "serve"}[i]
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		if len(args) == 0 || args[0] != wantCmd || !slices.Contains(args, "--config.file=/etc/shiplog/shiplog.yaml") {
			t.Errorf("container %s args = %q, want %s --config.file=/etc/shiplog/shiplog.yaml …", name, args, wantCmd)
		}
		checkSecurityContext(t, name, c)
		mounts := map[string]string{}
		ms, _, _ := unstructured.NestedSlice(c, "volumeMounts")
		for _, m := range ms {
			m := m.(map[string]any)
			mounts[m["mountPath"].(string)] = m["name"].(string)
		}
		if mounts["/etc/shiplog"] != "config" {
			t.Errorf("container %s mounts %v: want the config at /etc/shiplog", name, mounts)
		}
		env := map[string]map[string]any{}
		es, _, _ := unstructured.NestedSlice(c, "env")
		for _, e := range es {
			e := e.(map[string]any)
			env[e["name"].(string)] = e
		}
		if w.postgresSecret != "" {
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--db") }) {
				t.Errorf("container %s args = %q: the DSN must come from $SHIPLOG_DB, not the arguments", name, args)
			}
			ref, _, _ := unstructured.NestedStringMap(env["SHIPLOG_DB"], "valueFrom", "secretKeyRef")
			if ref["name"] != w.postgresSecret {
				t.Errorf("container %s SHIPLOG_DB from %v, want Secret %s", name, ref, w.postgresSecret)
			}
			if cfg.DB != nil {
				t.Errorf("shiplog.yaml has db %q with PostgreSQL: the DSN must only come from the Secret", *cfg.DB)
			}
		} else {
			if cfg.DB == nil || mounts[filepath.Dir(*cfg.DB)] != "data" {
				t.Errorf("container %s: SQLite file %v is not on the data volume (mounts %v)", name, cfg.DB, mounts)
			}
			if _, claim := volumes["data"]["persistentVolumeClaim"]; claim != w.pvc {
				t.Errorf("data volume %v: want a claim = %v", volumes["data"], w.pvc)
			}
		}
		// Every secret file the config names is in the projected volume.
		files := 0
		for _, f := range []string{cfg.Ingest.TokenFile, cfg.Ingest.GitHub.SecretFile, cfg.Ingest.GitLab.SecretFile} {
			if f == "" {
				continue
			}
			files++
			dir, base := filepath.Split(f)
			if mounts[filepath.Clean(dir)] != "secrets" {
				t.Errorf("container %s: %s is not under the secrets mount (mounts %v)", name, f, mounts)
				continue
			}
			if !projects(volumes["secrets"], base) {
				t.Errorf("secrets volume %v has no item %s", volumes["secrets"], base)
			}
		}
		if files != w.ingestFiles {
			t.Errorf("%d ingest secret files configured, want %d", files, w.ingestFiles)
		}
		if i == 1 {
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				if got, _, _ := unstructured.NestedString(c, probe, "httpGet", "path"); got != path {
					t.Errorf("%s path = %q, want %s", probe, got, path)
				}
			}
		}
	}
}

func checkSecurityContext(t *testing.T, name string, c map[string]any) {
	t.Helper()
	sc, _, _ := unstructured.NestedMap(c, "securityContext")
	for _, k := range [][]string{{"runAsNonRoot"}, {"readOnlyRootFilesystem"}} {
		if v, _, _ := unstructured.NestedBool(sc, k...); !v {
			t.Errorf("container %s securityContext.%s is not true", name, k[0])
		}
	}
	if v, ok, _ := unstructured.NestedBool(sc, "allowPrivilegeEscalation"); !ok || v {
		t.Errorf("container %s securityContext.allowPrivilegeEscalation is not false", name)
	}
	if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); !reflect.DeepEqual(drop, []string{"ALL"}) {
		t.Errorf("container %s drops capabilities %v, want [ALL]", name, drop)
	}
	if typ, _, _ := unstructured.NestedString(sc, "seccompProfile", "type"); typ != "RuntimeDefault" {
		t.Errorf("container %s seccompProfile %q, want RuntimeDefault", name, typ)
	}
	if uid, _, _ := unstructured.NestedInt64(sc, "runAsUser"); uid != 65532 {
		t.Errorf("container %s runAsUser %d, want 65532 (the image's user)", name, uid)
	}
}

// projects reports whether a projected volume has an item at path.
func projects(vol map[string]any, path string) bool {
	b, _ := json.Marshal(vol)
	var v struct {
		Projected struct {
			Sources []struct {
				Secret struct {
					Items []struct {
						Path string `json:"path"`
					} `json:"items"`
				} `json:"secret"`
			} `json:"sources"`
		} `json:"projected"`
	}
	_ = json.Unmarshal(b, &v)
	for _, s := range v.Projected.Sources {
		for _, it := range s.Secret.Items {
			if it.Path == path {
				return true
			}
		}
	}
	return false
}
