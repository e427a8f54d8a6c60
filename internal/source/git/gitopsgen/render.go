package gitopsgen

import (
	"errors"
	"strconv"
	"strings"
)

// fileKind says how a file is rendered.
type fileKind int

const (
	fkKnative fileKind = iota
	fkDeployment
	fkConfigMap
	fkKustBase
	fkKustBaseDeployment
	fkKustBaseService
	fkKustOverlay
	fkHelmChart
	fkHelmValues
	fkHelmEnvValues
	fkIUWriteBack
	fkIUApplication
	fkIUChart
	fkIUValues
	fkIUKustomization
	fkIUDeployment
	fkAppReadme
	fkRootReadme
	fkCodeowners
	fkNamespaces
	fkQuotas
	fkRunbook
	fkWorkflow
	fkRenovate
	fkMakefile
	fkPromoteScript
)

// fileSpec is one path of the repository and how to render it.
type fileSpec struct {
	path  string
	kind  fileKind
	app   *app // nil for repository-wide files
	env   int
	style Style // how its image references are written, or ""
	stamp int   // the changeset that last touched it
}

// ref is an image reference as rendered: a key that identifies it within
// the file, and its value.
type ref struct {
	key, value string
}

// text is a file being rendered and the image references in it.
type text struct {
	b    []byte
	refs []ref
}

func (t *text) reset() {
	t.b = t.b[:0]
	t.refs = t.refs[:0]
}

// ln writes one line: indent spaces, then parts.
func (t *text) ln(indent int, parts ...string) {
	for range indent {
		t.b = append(t.b, ' ')
	}
	for _, p := range parts {
		t.b = append(t.b, p...)
	}
	t.b = append(t.b, '\n')
}

func (t *text) ref(key, value string) { t.refs = append(t.refs, ref{key, value}) }

func itoa(n int) string { return strconv.Itoa(n) }

// yq returns s as a YAML scalar that reads back as the string s: quoted when
// plain, it would read as a number, a boolean or null, or be misread.
func yq(s string) string {
	if s == "" {
		return `""`
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return strconv.Quote(s)
	}
	if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
		return strconv.Quote(s) // a YAML integer in base 16, 8 or 2
	}
	if strings.ContainsAny(s[:1], "!&*-?{}[],#|>@`\"'%: ") || strings.Contains(s, ": ") || strings.Contains(s, " #") {
		return strconv.Quote(s)
	}
	return s
}

// render writes the current content of f into t and reports whether the
// file exists.
func (g *generator) render(f *fileSpec, t *text) bool {
	t.reset()
	a := f.app
	if a != nil && !a.alive {
		return false
	}
	switch f.kind {
	case fkKnative:
		renderKnative(t, a, f.env)
	case fkDeployment:
		renderDeployment(t, a, f.env)
	case fkConfigMap:
		renderConfigMap(t, a, f.env)
	case fkKustBase:
		renderKustBase(t, a)
	case fkKustBaseDeployment, fkIUDeployment:
		renderBaseDeployment(t, a)
	case fkKustBaseService:
		renderBaseService(t, a)
	case fkKustOverlay:
		renderKustOverlay(t, a, f.env)
	case fkHelmChart, fkIUChart:
		renderChart(t, a)
	case fkHelmValues:
		renderHelmValues(t, a)
	case fkHelmEnvValues:
		renderHelmEnvValues(t, a, f.env)
	case fkIUWriteBack:
		if !a.envs[f.env].written {
			return false
		}
		renderWriteBack(t, a, f.env)
	case fkIUApplication:
		renderApplication(t, a, f.env)
	case fkIUValues:
		renderIUValues(t, a)
	case fkIUKustomization:
		renderIUKustomization(t, a)
	case fkAppReadme:
		renderAppReadme(t, a)
	case fkRootReadme:
		g.renderRootReadme(t)
	case fkCodeowners:
		g.renderCodeowners(t)
	case fkNamespaces:
		g.renderNamespaces(t)
	case fkQuotas:
		g.renderQuotas(t)
	case fkRunbook:
		g.renderRunbook(t)
	case fkWorkflow:
		g.renderWorkflow(t)
	case fkRenovate:
		g.renderRenovate(t)
	case fkMakefile:
		renderMakefile(t)
	case fkPromoteScript:
		renderPromoteScript(t)
	}
	return true
}

// appFiles lays out the files of a new app.
func appFiles(a *app) {
	base := "apps/" + a.name + "/"
	add := func(e int, path string, kind fileKind, style Style) {
		f := &fileSpec{path: path, kind: kind, app: a, env: e, style: style}
		if e < 0 {
			a.baseFiles = append(a.baseFiles, f)
		} else {
			a.envFiles[e] = append(a.envFiles[e], f)
		}
	}
	switch a.style {
	case StyleKnative:
		add(-1, base+"README.md", fkAppReadme, "")
		for e := range numEnvs {
			dir := base + "envs/" + envName(e) + "/"
			add(e, dir+"configmap.yaml", fkConfigMap, "")
			add(e, dir+"service.yaml", fkKnative, StyleKnative)
		}
	case StyleDeployment:
		add(-1, base+"README.md", fkAppReadme, "")
		for e := range numEnvs {
			dir := base + "envs/" + envName(e) + "/"
			add(e, dir+"configmap.yaml", fkConfigMap, "")
			add(e, dir+"deployment.yaml", fkDeployment, StyleDeployment)
		}
	case StyleKustomize:
		add(-1, base+"README.md", fkAppReadme, "")
		add(-1, base+"base/deployment.yaml", fkKustBaseDeployment, StyleDeployment)
		add(-1, base+"base/kustomization.yaml", fkKustBase, "")
		add(-1, base+"base/service.yaml", fkKustBaseService, "")
		for e := range numEnvs {
			add(e, base+"overlays/"+envName(e)+"/kustomization.yaml", fkKustOverlay, StyleKustomize)
		}
	case StyleHelm:
		base = "charts/" + a.name + "/"
		add(-1, base+"Chart.yaml", fkHelmChart, "")
		add(-1, base+"README.md", fkAppReadme, "")
		add(-1, base+"values.yaml", fkHelmValues, StyleHelm)
		for e := range numEnvs {
			add(e, base+"values-"+envName(e)+".yaml", fkHelmEnvValues, StyleHelm)
		}
	case StyleImageUpdater:
		add(-1, base+"README.md", fkAppReadme, "")
		if a.iuHelm {
			add(-1, base+"Chart.yaml", fkIUChart, "")
			add(-1, base+"values.yaml", fkIUValues, StyleHelm)
		} else {
			add(-1, base+"deployment.yaml", fkIUDeployment, StyleDeployment)
			add(-1, base+"kustomization.yaml", fkIUKustomization, "")
			add(-1, base+"service.yaml", fkKustBaseService, "")
		}
		for e := range numEnvs {
			add(e, base+".argocd-source-"+a.name+"-"+envName(e)+".yaml", fkIUWriteBack, StyleImageUpdater)
			add(e, "argocd/applications/"+a.name+"-"+envName(e)+".yaml", fkIUApplication, "")
		}
	}
}

func namespace(a *app, e int) string {
	if a.nameWithEnv {
		return a.team + "-" + envName(e)
	}
	return a.name + "-" + envName(e)
}

func workloadName(a *app, e int) string {
	if a.nameWithEnv {
		return a.name + "-" + envName(e)
	}
	return a.name
}

func enabledFlags(st *envState) string {
	var b strings.Builder
	for i, f := range featureFlags {
		if st.flags&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f)
		}
	}
	return b.String()
}

func domain(a *app, e int) string {
	if e == envProd {
		return a.name + ".acme.example"
	}
	return a.name + "." + envName(e) + ".acme.example"
}

// appEnv writes the env list shared by Knative and Deployment containers.
func appEnv(t *text, in int, a *app, e int) {
	st := &a.envs[e]
	t.ln(in, "env:")
	t.ln(in+2, "- name: APP_ENV")
	t.ln(in+4, "value: ", envName(e))
	t.ln(in+2, "- name: LOG_LEVEL")
	t.ln(in+4, "value: ", st.logLevel)
	t.ln(in+2, "- name: LOG_FORMAT")
	t.ln(in+4, "value: json")
	t.ln(in+2, "- name: OTEL_EXPORTER_OTLP_ENDPOINT")
	t.ln(in+4, "value: http://otel-collector.observability.svc:4317")
	t.ln(in+2, "- name: OTEL_SERVICE_NAME")
	t.ln(in+4, "value: ", a.name)
	t.ln(in+2, "- name: REQUEST_TIMEOUT")
	t.ln(in+4, "value: ", itoa(st.timeout), "s")
	for _, v := range a.extraEnv {
		t.ln(in+2, "- name: ", v.name)
		t.ln(in+4, "value: ", yq(v.value))
	}
	t.ln(in+2, "- name: DATABASE_URL")
	t.ln(in+4, "valueFrom:")
	t.ln(in+6, "secretKeyRef:")
	t.ln(in+8, "name: ", a.name, "-db")
	t.ln(in+8, "key: url")
	t.ln(in, "envFrom:")
	t.ln(in+2, "- configMapRef:")
	t.ln(in+6, "name: ", a.name, "-config")
}

func resources(t *text, in int, cpu, mem int) {
	t.ln(in, "resources:")
	t.ln(in+2, "requests:")
	t.ln(in+4, "cpu: ", itoa(cpu), "m")
	t.ln(in+4, "memory: ", itoa(mem), "Mi")
	t.ln(in+2, "limits:")
	t.ln(in+4, "memory: ", itoa(2*mem), "Mi")
}

func renderKnative(t *text, a *app, e int) {
	st := &a.envs[e]
	env := envName(e)
	ns := a.name + "-" + env
	t.ln(0, "# ", a.name, " in ", env, ": Knative Service, synced by Argo CD application ", ns, ".")
	t.ln(0, "# The image is updated by shiplog-bot; promote with scripts/promote.sh.")
	t.ln(0, "apiVersion: serving.knative.dev/v1")
	t.ln(0, "kind: Service")
	t.ln(0, "metadata:")
	t.ln(2, "name: ", a.name)
	t.ln(2, "namespace: ", ns)
	t.ln(2, "labels:")
	t.ln(4, "app.kubernetes.io/name: ", a.name)
	t.ln(4, "app.kubernetes.io/part-of: ", a.system)
	t.ln(4, "app.kubernetes.io/managed-by: argocd")
	t.ln(4, "acme.example/team: ", a.team)
	t.ln(4, "acme.example/environment: ", env)
	if a.internal {
		t.ln(4, "networking.knative.dev/visibility: cluster-local")
	}
	t.ln(2, "annotations:")
	t.ln(4, "argocd.argoproj.io/tracking-id: ", ns, ":serving.knative.dev/Service:", ns, "/", a.name)
	if e == envProd {
		t.ln(4, `serving.knative.dev/rollout-duration: "300s"`)
	} else {
		t.ln(4, `serving.knative.dev/rollout-duration: "60s"`)
	}
	t.ln(0, "spec:")
	t.ln(2, "template:")
	t.ln(4, "metadata:")
	t.ln(6, "labels:")
	t.ln(8, "app.kubernetes.io/name: ", a.name)
	t.ln(8, "acme.example/team: ", a.team)
	t.ln(6, "annotations:")
	t.ln(8, "autoscaling.knative.dev/class: kpa.autoscaling.knative.dev")
	t.ln(8, "autoscaling.knative.dev/metric: concurrency")
	t.ln(8, `autoscaling.knative.dev/target: "`, itoa(st.target), `"`)
	t.ln(8, `autoscaling.knative.dev/min-scale: "`, itoa(st.minScale), `"`)
	t.ln(8, `autoscaling.knative.dev/max-scale: "`, itoa(st.maxScale), `"`)
	if e == envProd {
		t.ln(8, `autoscaling.knative.dev/scale-down-delay: "10m"`)
	} else {
		t.ln(8, `autoscaling.knative.dev/scale-down-delay: "0s"`)
	}
	t.ln(8, `prometheus.io/scrape: "true"`)
	t.ln(8, `prometheus.io/port: "9090"`)
	t.ln(4, "spec:")
	t.ln(6, "serviceAccountName: ", a.name)
	t.ln(6, "containerConcurrency: ", itoa(st.concurrency))
	t.ln(6, "timeoutSeconds: ", itoa(st.timeout))
	t.ln(6, "enableServiceLinks: false")
	t.ln(6, "containers:")
	t.ln(8, "- name: ", a.container)
	im := st.images[0].ref()
	t.ln(10, "image: ", im)
	t.ref("containers/"+a.container, im)
	t.ln(10, "imagePullPolicy: IfNotPresent")
	t.ln(10, "ports:")
	t.ln(12, "- name: http1")
	t.ln(14, "containerPort: ", itoa(a.port))
	appEnv(t, 10, a, e)
	resources(t, 10, st.cpu, st.mem)
	t.ln(10, "readinessProbe:")
	t.ln(12, "httpGet:")
	t.ln(14, "path: /readyz")
	t.ln(12, "periodSeconds: 5")
	t.ln(12, "failureThreshold: 3")
	t.ln(10, "livenessProbe:")
	t.ln(12, "httpGet:")
	t.ln(14, "path: /healthz")
	t.ln(12, "initialDelaySeconds: 10")
	t.ln(12, "periodSeconds: 15")
	t.ln(10, "securityContext:")
	t.ln(12, "allowPrivilegeEscalation: false")
	t.ln(12, "readOnlyRootFilesystem: true")
	t.ln(12, "runAsNonRoot: true")
	t.ln(12, "capabilities:")
	t.ln(14, "drop:")
	t.ln(16, "- ALL")
	t.ln(2, "traffic:")
	t.ln(4, "- latestRevision: true")
	t.ln(6, "percent: 100")
}

func renderDeployment(t *text, a *app, e int) {
	st := &a.envs[e]
	env := envName(e)
	ns := namespace(a, e)
	name := workloadName(a, e)
	kind := "Deployment"
	if a.stateful {
		kind = "StatefulSet"
	}
	im := st.images[0].ref()
	key := kind + "/" + ns + "/" + name + "/"
	t.ln(0, "# ", a.name, " in ", env, ": ", kind, " and Service. Owned by team ", a.team, ".")
	t.ln(0, "apiVersion: apps/v1")
	t.ln(0, "kind: ", kind)
	t.ln(0, "metadata:")
	t.ln(2, "name: ", name)
	t.ln(2, "namespace: ", ns)
	t.ln(2, "labels:")
	t.ln(4, "app.kubernetes.io/name: ", a.name)
	t.ln(4, "app.kubernetes.io/part-of: ", a.system)
	t.ln(4, "acme.example/team: ", a.team)
	t.ln(2, "annotations:")
	t.ln(4, `argocd.argoproj.io/sync-wave: "1"`)
	t.ln(0, "spec:")
	t.ln(2, "replicas: ", itoa(st.replicas))
	t.ln(2, "revisionHistoryLimit: 5")
	if a.stateful {
		t.ln(2, "serviceName: ", name)
		t.ln(2, "podManagementPolicy: Parallel")
	}
	t.ln(2, "selector:")
	t.ln(4, "matchLabels:")
	t.ln(6, "app.kubernetes.io/name: ", a.name)
	if !a.stateful {
		t.ln(2, "strategy:")
		t.ln(4, "type: RollingUpdate")
		t.ln(4, "rollingUpdate:")
		t.ln(6, "maxSurge: 25%")
		t.ln(6, "maxUnavailable: 0")
	}
	t.ln(2, "template:")
	t.ln(4, "metadata:")
	t.ln(6, "labels:")
	t.ln(8, "app.kubernetes.io/name: ", a.name)
	t.ln(8, "acme.example/team: ", a.team)
	t.ln(6, "annotations:")
	t.ln(8, `prometheus.io/scrape: "true"`)
	t.ln(8, `prometheus.io/port: "9090"`)
	t.ln(4, "spec:")
	t.ln(6, "serviceAccountName: ", a.name)
	t.ln(6, "terminationGracePeriodSeconds: 30")
	t.ln(6, "securityContext:")
	t.ln(8, "runAsNonRoot: true")
	t.ln(8, "seccompProfile:")
	t.ln(10, "type: RuntimeDefault")
	if a.migrate {
		t.ln(6, "initContainers:")
		t.ln(8, "- name: migrate")
		t.ln(10, "image: ", im)
		t.ref(key+"initContainers/migrate", im)
		t.ln(10, `args: ["migrate", "up"]`)
		t.ln(10, "envFrom:")
		t.ln(12, "- secretRef:")
		t.ln(16, "name: ", a.name, "-db")
	}
	t.ln(6, "containers:")
	t.ln(8, "- name: ", a.container)
	t.ln(10, "image: ", im)
	t.ref(key+"containers/"+a.container, im)
	t.ln(10, `args: ["serve", "--listen=:`, itoa(a.port), `"]`)
	t.ln(10, "ports:")
	t.ln(12, "- name: http")
	t.ln(14, "containerPort: ", itoa(a.port))
	t.ln(12, "- name: metrics")
	t.ln(14, "containerPort: 9090")
	appEnv(t, 10, a, e)
	resources(t, 10, st.cpu, st.mem)
	t.ln(10, "readinessProbe:")
	t.ln(12, "httpGet:")
	t.ln(14, "path: /readyz")
	t.ln(14, "port: http")
	t.ln(12, "periodSeconds: 5")
	t.ln(10, "livenessProbe:")
	t.ln(12, "httpGet:")
	t.ln(14, "path: /healthz")
	t.ln(14, "port: http")
	t.ln(12, "initialDelaySeconds: 10")
	t.ln(12, "periodSeconds: 20")
	if a.sidecar >= 0 {
		sc := sidecars[a.sidecar]
		sim := sc.repo + ":" + sc.version(a.sidecarRev)
		t.ln(8, "- name: ", sc.name)
		t.ln(10, "image: ", sim)
		t.ref(key+"containers/"+sc.name, sim)
		switch sc.name {
		case "cloud-sql-proxy":
			t.ln(10, `args: ["--structured-logs", "--port=5432", "acme-`, env, `:europe-west1:`, a.name, `"]`)
		case "envoy":
			t.ln(10, `args: ["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn"]`)
		default:
			t.ln(10, `args: ["--provider=oidc", "--upstream=http://127.0.0.1:`, itoa(a.port), `"]`)
		}
		t.ln(10, "securityContext:")
		t.ln(12, "runAsNonRoot: true")
		resources(t, 10, 50, 64)
	}
	t.ln(0, "---")
	t.ln(0, "apiVersion: v1")
	t.ln(0, "kind: Service")
	t.ln(0, "metadata:")
	t.ln(2, "name: ", name)
	t.ln(2, "namespace: ", ns)
	t.ln(2, "labels:")
	t.ln(4, "app.kubernetes.io/name: ", a.name)
	t.ln(0, "spec:")
	if a.stateful {
		t.ln(2, "clusterIP: None")
	}
	t.ln(2, "selector:")
	t.ln(4, "app.kubernetes.io/name: ", a.name)
	t.ln(2, "ports:")
	t.ln(4, "- name: http")
	t.ln(6, "port: 80")
	t.ln(6, "targetPort: http")
	if a.cron {
		cname := a.name + "-cleanup"
		t.ln(0, "---")
		t.ln(0, "apiVersion: batch/v1")
		t.ln(0, "kind: CronJob")
		t.ln(0, "metadata:")
		t.ln(2, "name: ", cname)
		t.ln(2, "namespace: ", ns)
		t.ln(0, "spec:")
		t.ln(2, `schedule: "`, itoa(len(a.name)*7%60), " ", itoa(len(a.name)%5+1), ` * * *"`)
		t.ln(2, "concurrencyPolicy: Forbid")
		t.ln(2, "jobTemplate:")
		t.ln(4, "spec:")
		t.ln(6, "backoffLimit: 2")
		t.ln(6, "template:")
		t.ln(8, "spec:")
		t.ln(10, "restartPolicy: OnFailure")
		t.ln(10, "serviceAccountName: ", a.name)
		t.ln(10, "containers:")
		t.ln(12, "- name: cleanup")
		t.ln(14, "image: ", im)
		t.ref("CronJob/"+ns+"/"+cname+"/containers/cleanup", im)
		t.ln(14, `args: ["cleanup", "--older-than=720h"]`)
		t.ln(14, "envFrom:")
		t.ln(16, "- configMapRef:")
		t.ln(20, "name: ", a.name, "-config")
	}
}

func renderConfigMap(t *text, a *app, e int) {
	st := &a.envs[e]
	t.ln(0, "apiVersion: v1")
	t.ln(0, "kind: ConfigMap")
	t.ln(0, "metadata:")
	t.ln(2, "name: ", a.name, "-config")
	t.ln(2, "namespace: ", namespace(a, e))
	t.ln(2, "labels:")
	t.ln(4, "app.kubernetes.io/name: ", a.name)
	t.ln(0, "data:")
	t.ln(2, "PUBLIC_URL: https://", domain(a, e))
	t.ln(2, `RATE_LIMIT_RPS: "`, itoa(st.rateLimit), `"`)
	t.ln(2, "CACHE_TTL: ", itoa(st.cacheTTL), "s")
	for i, f := range featureFlags {
		v := `"false"`
		if st.flags&(1<<i) != 0 {
			v = `"true"`
		}
		t.ln(2, "FEATURE_", strings.ToUpper(strings.ReplaceAll(f, "-", "_")), ": ", v)
	}
	t.ln(2, "config.yaml: |")
	t.ln(4, "server:")
	t.ln(6, "port: ", itoa(a.port))
	t.ln(6, "shutdownTimeout: 20s")
	t.ln(4, "cache:")
	t.ln(6, "ttl: ", itoa(st.cacheTTL), "s")
	t.ln(4, "limits:")
	t.ln(6, "requestsPerSecond: ", itoa(st.rateLimit))
	t.ln(6, "burst: ", itoa(st.rateLimit*2))
}

func renderKustBase(t *text, a *app) {
	t.ln(0, "apiVersion: kustomize.config.k8s.io/v1beta1")
	t.ln(0, "kind: Kustomization")
	t.ln(0, "resources:")
	t.ln(2, "- deployment.yaml")
	t.ln(2, "- service.yaml")
	t.ln(0, "labels:")
	t.ln(2, "- pairs:")
	t.ln(6, "app.kubernetes.io/name: ", a.name)
	t.ln(6, "acme.example/team: ", a.team)
	t.ln(4, "includeSelectors: false")
}

// renderBaseDeployment is the Deployment of a kustomize base: the image has
// no tag, the overlays or image-updater set it.
func renderBaseDeployment(t *text, a *app) {
	t.ln(0, "apiVersion: apps/v1")
	t.ln(0, "kind: Deployment")
	t.ln(0, "metadata:")
	t.ln(2, "name: ", a.name)
	t.ln(0, "spec:")
	t.ln(2, "replicas: 1")
	t.ln(2, "selector:")
	t.ln(4, "matchLabels:")
	t.ln(6, "app.kubernetes.io/name: ", a.name)
	t.ln(2, "template:")
	t.ln(4, "metadata:")
	t.ln(6, "labels:")
	t.ln(8, "app.kubernetes.io/name: ", a.name)
	t.ln(4, "spec:")
	t.ln(6, "serviceAccountName: ", a.name)
	t.ln(6, "containers:")
	t.ln(8, "- name: ", a.container)
	t.ln(10, "image: ", a.comps[0].repo)
	t.ref("Deployment//"+a.name+"/containers/"+a.container, a.comps[0].repo)
	t.ln(10, "ports:")
	t.ln(12, "- name: http")
	t.ln(14, "containerPort: ", itoa(a.port))
	t.ln(10, "envFrom:")
	t.ln(12, "- configMapRef:")
	t.ln(16, "name: ", a.name, "-config")
	t.ln(16, "optional: true")
	t.ln(10, "resources:")
	t.ln(12, "requests:")
	t.ln(14, "cpu: 100m")
	t.ln(14, "memory: 128Mi")
	t.ln(10, "readinessProbe:")
	t.ln(12, "httpGet:")
	t.ln(14, "path: /readyz")
	t.ln(14, "port: http")
}

func renderBaseService(t *text, a *app) {
	t.ln(0, "apiVersion: v1")
	t.ln(0, "kind: Service")
	t.ln(0, "metadata:")
	t.ln(2, "name: ", a.name)
	t.ln(0, "spec:")
	t.ln(2, "selector:")
	t.ln(4, "app.kubernetes.io/name: ", a.name)
	t.ln(2, "ports:")
	t.ln(4, "- name: http")
	t.ln(6, "port: 80")
	t.ln(6, "targetPort: http")
}

func renderKustOverlay(t *text, a *app, e int) {
	st := &a.envs[e]
	env := envName(e)
	t.ln(0, "apiVersion: kustomize.config.k8s.io/v1beta1")
	t.ln(0, "kind: Kustomization")
	t.ln(0, "namespace: ", a.name, "-", env)
	t.ln(0, "resources:")
	t.ln(2, "- ../../base")
	t.ln(0, "labels:")
	t.ln(2, "- pairs:")
	t.ln(6, "acme.example/environment: ", env)
	t.ln(0, "patches:")
	t.ln(2, "- target:")
	t.ln(6, "kind: Deployment")
	t.ln(6, "name: ", a.name)
	t.ln(4, "patch: |-")
	t.ln(6, "- op: replace")
	t.ln(8, "path: /spec/replicas")
	t.ln(8, "value: ", itoa(st.replicas))
	t.ln(6, "- op: replace")
	t.ln(8, "path: /spec/template/spec/containers/0/resources/requests/memory")
	t.ln(8, "value: ", itoa(st.mem), "Mi")
	t.ln(0, "configMapGenerator:")
	t.ln(2, "- name: ", a.name, "-config")
	t.ln(4, "literals:")
	t.ln(6, "- APP_ENV=", env)
	t.ln(6, "- LOG_LEVEL=", st.logLevel)
	t.ln(6, "- RATE_LIMIT_RPS=", itoa(st.rateLimit))
	t.ln(6, "- CACHE_TTL=", itoa(st.cacheTTL), "s")
	t.ln(6, "- FEATURE_FLAGS=", enabledFlags(st))
	im := st.images[0]
	t.ln(0, "images:")
	t.ln(2, "- name: ", a.comps[0].repo)
	val := a.comps[0].repo
	if a.newName != "" {
		t.ln(4, "newName: ", a.newName)
		val = a.newName
	}
	if im.tag != "" {
		t.ln(4, "newTag: ", yq(im.tag))
		val += ":" + im.tag
	}
	if im.digest != "" {
		t.ln(4, "digest: ", im.digest)
		val += "@" + im.digest
	}
	t.ref("images/"+a.comps[0].repo, val)
}

func renderChart(t *text, a *app) {
	t.ln(0, "apiVersion: v2")
	t.ln(0, "name: ", a.name)
	t.ln(0, "description: ", a.name, " (", a.system, "), deployed by Argo CD.")
	t.ln(0, "type: application")
	t.ln(0, "version: 1.4.0")
	if a.style != StyleHelm {
		return
	}
	t.ln(0, "dependencies:")
	for _, c := range a.comps {
		t.ln(2, "- name: acme-service")
		t.ln(4, "alias: ", c.name)
		t.ln(4, "version: 4.2.1")
		t.ln(4, "repository: oci://ghcr.io/acme/charts")
	}
	t.ln(2, "- name: redis")
	t.ln(4, "version: 18.19.2")
	t.ln(4, "repository: oci://registry-1.docker.io/bitnamicharts")
}

func renderHelmValues(t *text, a *app) {
	t.ln(0, "# Defaults for every environment; values-<env>.yaml set the image tags.")
	t.ln(0, "global:")
	t.ln(2, "imagePullSecrets:")
	t.ln(4, "- name: registry-credentials")
	for _, c := range a.comps {
		t.ln(0, c.name, ":")
		t.ln(2, "image:")
		t.ln(4, "repository: ", c.repo)
		t.ref(c.name+".image", c.repo)
		t.ln(4, "pullPolicy: IfNotPresent")
		t.ln(2, "service:")
		t.ln(4, "port: 80")
		t.ln(2, "podSecurityContext:")
		t.ln(4, "runAsNonRoot: true")
	}
	t.ln(0, "redis:")
	t.ln(2, "architecture: standalone")
	t.ln(2, "image:")
	t.ln(4, "registry: docker.io")
	t.ln(4, "repository: bitnami/redis")
	rv := redisVersion(a.redisRev)
	t.ln(4, "tag: ", rv)
	t.ref("redis.image", "docker.io/bitnami/redis:"+rv)
	t.ln(2, "auth:")
	t.ln(4, "existingSecret: ", a.name, "-redis")
}

func renderHelmEnvValues(t *text, a *app, e int) {
	st := &a.envs[e]
	env := envName(e)
	t.ln(0, "# ", a.name, " in ", env, ". Image tags are updated by shiplog-bot.")
	t.ln(0, "global:")
	t.ln(2, "environment: ", env)
	t.ln(2, "domain: ", domain(a, e))
	for s, c := range a.comps {
		im := st.images[s]
		replicas := st.replicas
		if s > 0 {
			replicas = max(1, st.replicas/2)
		}
		t.ln(0, c.name, ":")
		t.ln(2, "replicaCount: ", itoa(replicas))
		t.ln(2, "image:")
		t.ln(4, "repository: ", im.repo)
		if im.tag != "" {
			t.ln(4, "tag: ", strconv.Quote(im.tag))
		}
		if im.digest != "" {
			t.ln(4, "digest: ", im.digest)
		}
		t.ref(c.name+".image", im.ref())
		resources(t, 2, st.cpu, st.mem)
		t.ln(2, "env:")
		t.ln(4, "LOG_LEVEL: ", st.logLevel)
		t.ln(4, "FEATURE_FLAGS: ", yq(enabledFlags(st)))
	}
}

// paramPrefix is the Helm parameter prefix of slot s of an image-updater
// app: "image" for one component, "<component>.image" for several.
func paramPrefix(a *app, s int) string {
	if len(a.comps) == 1 {
		return "image"
	}
	return a.comps[s].name + ".image"
}

func renderWriteBack(t *text, a *app, e int) {
	st := &a.envs[e]
	if a.iuHelm {
		t.ln(0, "helm:")
		t.ln(2, "parameters:")
		for s := range a.comps {
			im := st.images[s]
			p := paramPrefix(a, s)
			t.ln(2, "- name: ", p, ".name")
			t.ln(4, "value: ", im.repo)
			t.ln(4, "forcestring: true")
			if im.tag != "" {
				t.ln(2, "- name: ", p, ".tag")
				t.ln(4, "value: ", yq(im.tag))
				t.ln(4, "forcestring: true")
			}
			if im.digest != "" {
				t.ln(2, "- name: ", p, ".digest")
				t.ln(4, "value: ", im.digest)
				t.ln(4, "forcestring: true")
			}
			t.ref("helm/"+p, im.ref())
		}
		return
	}
	im := st.images[0]
	t.ln(0, "kustomize:")
	t.ln(2, "images:")
	t.ln(2, "- ", im.ref())
	t.ref("kustomize/"+im.repo, im.ref())
}

func renderApplication(t *text, a *app, e int) {
	st := &a.envs[e]
	env := envName(e)
	t.ln(0, "apiVersion: argoproj.io/v1alpha1")
	t.ln(0, "kind: Application")
	t.ln(0, "metadata:")
	t.ln(2, "name: ", a.name, "-", env)
	t.ln(2, "namespace: argocd")
	t.ln(2, "annotations:")
	var list []string
	for _, c := range a.comps {
		list = append(list, c.name+"="+c.repo)
	}
	t.ln(4, "argocd-image-updater.argoproj.io/image-list: ", strings.Join(list, ", "))
	for _, c := range a.comps {
		switch a.pattern {
		case patSemver:
			t.ln(4, "argocd-image-updater.argoproj.io/", c.name, ".update-strategy: semver")
		case patDigest:
			t.ln(4, "argocd-image-updater.argoproj.io/", c.name, ".update-strategy: digest")
		default:
			t.ln(4, "argocd-image-updater.argoproj.io/", c.name, ".update-strategy: newest-build")
		}
		if a.iuHelm && len(a.comps) > 1 {
			t.ln(4, "argocd-image-updater.argoproj.io/", c.name, ".helm.image-name: ", c.name, ".image.name")
			t.ln(4, "argocd-image-updater.argoproj.io/", c.name, ".helm.image-tag: ", c.name, ".image.tag")
		}
	}
	t.ln(4, "argocd-image-updater.argoproj.io/write-back-method: git:secret:argocd/gitops-write")
	t.ln(4, "argocd-image-updater.argoproj.io/git-branch: main")
	t.ln(2, "finalizers:")
	t.ln(4, "- resources-finalizer.argocd.argoproj.io")
	t.ln(0, "spec:")
	t.ln(2, "project: ", a.team)
	t.ln(2, "source:")
	t.ln(4, "repoURL: https://github.com/acme/gitops.git")
	t.ln(4, "targetRevision: main")
	t.ln(4, "path: apps/", a.name)
	if a.iuHelm {
		t.ln(4, "helm:")
		t.ln(6, "releaseName: ", a.name)
		t.ln(6, "parameters:")
		t.ln(8, "- name: replicaCount")
		t.ln(10, `value: "`, itoa(st.replicas), `"`)
		t.ln(8, "- name: logLevel")
		t.ln(10, "value: ", st.logLevel)
	} else {
		t.ln(4, "kustomize:")
		t.ln(6, "replicas:")
		t.ln(8, "- name: ", a.name)
		t.ln(10, "count: ", itoa(st.replicas))
		t.ln(6, "commonAnnotations:")
		t.ln(8, "acme.example/log-level: ", st.logLevel)
	}
	t.ln(2, "destination:")
	t.ln(4, "server: https://kubernetes.default.svc")
	t.ln(4, "namespace: ", a.name, "-", env)
	t.ln(2, "syncPolicy:")
	t.ln(4, "automated:")
	t.ln(6, "prune: true")
	t.ln(6, "selfHeal: true")
	t.ln(4, "syncOptions:")
	t.ln(6, "- CreateNamespace=true")
}

func renderIUValues(t *text, a *app) {
	one := len(a.comps) == 1
	for _, c := range a.comps {
		in := 0
		if !one {
			t.ln(0, c.name, ":")
			in = 2
		}
		t.ln(in, "image:")
		t.ln(in+2, "name: ", c.repo)
		t.ln(in+2, "tag: latest")
		t.ln(in+2, "pullPolicy: Always")
		key := "image"
		if !one {
			key = c.name + ".image"
		}
		t.ref(key, c.repo+":latest")
		t.ln(in, "service:")
		t.ln(in+2, "port: 80")
	}
	t.ln(0, "replicaCount: 1")
	t.ln(0, "logLevel: info")
}

func renderIUKustomization(t *text, a *app) {
	t.ln(0, "apiVersion: kustomize.config.k8s.io/v1beta1")
	t.ln(0, "kind: Kustomization")
	t.ln(0, "resources:")
	t.ln(2, "- deployment.yaml")
	t.ln(2, "- service.yaml")
	t.ln(0, "labels:")
	t.ln(2, "- pairs:")
	t.ln(6, "acme.example/team: ", a.team)
}

func renderAppReadme(t *text, a *app) {
	t.ln(0, "# ", a.name)
	t.ln(0)
	t.ln(0, "Part of **", a.system, "**, owned by team ", a.team, " (`#", a.team, "-oncall`).")
	t.ln(0)
	switch a.style {
	case StyleKnative:
		t.ln(0, "Runs as a Knative Service; each environment is `envs/<env>/service.yaml`.")
	case StyleDeployment:
		t.ln(0, "Runs as a Kubernetes workload; each environment is `envs/<env>/deployment.yaml`.")
	case StyleKustomize:
		t.ln(0, "Kustomize: `base/` plus one overlay per environment under `overlays/`.")
	case StyleHelm:
		t.ln(0, "Helm umbrella chart; environments override `values.yaml` with `values-<env>.yaml`.")
	case StyleImageUpdater:
		t.ln(0, "Images are updated by argocd-image-updater, which commits `.argocd-source-*.yaml`.")
	}
	t.ln(0)
	t.ln(0, "## Images")
	t.ln(0)
	for _, c := range a.comps {
		t.ln(0, "- `", c.repo, "`")
	}
	t.ln(0)
	t.ln(0, "## Notes")
	t.ln(0)
	for i := 0; i < a.readme && i < 6; i++ {
		t.ln(0, "- ", readmeNotes[(a.readme-1-i)%len(readmeNotes)])
	}
}

var readmeNotes = []string{
	"Dashboards: Grafana folder of the same name.",
	"Alerts page the owning team during working hours only in staging.",
	"Database migrations run before the new version takes traffic.",
	"Secrets come from External Secrets; never commit them here.",
	"Scale limits were last reviewed with the capacity plan.",
	"Load tests run nightly against staging.",
	"Feature flags are read at start-up: a change needs a new rollout.",
	"Logs are retained for 30 days in prod, 7 days elsewhere.",
	"The service is behind the shared ingress; see platform/ for quotas.",
	"Promotions to prod need a green staging soak of at least two hours.",
}

func (g *generator) renderRootReadme(t *text) {
	t.ln(0, "# acme/gitops")
	t.ln(0)
	t.ln(0, "Desired state of every environment, synced by Argo CD. Do not `kubectl apply` by hand.")
	t.ln(0)
	t.ln(0, "## Layout")
	t.ln(0)
	t.ln(0, "- `apps/<app>/envs/<env>/`: plain manifests (Knative Services, Deployments).")
	t.ln(0, "- `apps/<app>/overlays/<env>/`: kustomize overlays over `apps/<app>/base/`.")
	t.ln(0, "- `charts/<app>/values-<env>.yaml`: Helm umbrella charts.")
	t.ln(0, "- `apps/<app>/.argocd-source-*.yaml`: written by argocd-image-updater.")
	t.ln(0, "- `platform/`: namespaces and quotas.")
	t.ln(0)
	t.ln(0, "## Apps")
	t.ln(0)
	t.ln(0, "| App | Team | Layout |")
	t.ln(0, "|---|---|---|")
	for _, a := range g.live {
		t.ln(0, "| ", a.name, " | ", a.team, " | ", string(a.style), " |")
	}
	t.ln(0)
	t.ln(0, "## Notes")
	t.ln(0)
	for i := 0; i < g.docs.readme && i < 5; i++ {
		t.ln(0, "- ", rootNotes[(g.docs.readme-1-i)%len(rootNotes)])
	}
}

var rootNotes = []string{
	"Image bumps to dev are automatic; staging and prod are promotions of the same tag.",
	"Use `make validate` before opening a pull request.",
	"Prod changes outside business hours need an incident or a change ticket.",
	"The bots push directly to main; humans go through pull requests.",
	"Ask #platform before adding a new namespace.",
	"Renovate groups third-party image updates weekly.",
	"Argo CD syncs every three minutes; a webhook makes it immediate.",
}

func (g *generator) renderCodeowners(t *text) {
	t.ln(0, "# Each app is owned by its team; the platform team owns the rest.")
	t.ln(0, "*                 @acme/platform")
	t.ln(0, "/platform/        @acme/platform")
	for _, a := range g.live {
		dir := "/apps/" + a.name + "/"
		if a.style == StyleHelm {
			dir = "/charts/" + a.name + "/"
		}
		t.ln(0, dir, " @acme/", a.team)
	}
}

func (g *generator) renderNamespaces(t *text) {
	for i, a := range g.live {
		for e := range numEnvs {
			if i > 0 || e > 0 {
				t.ln(0, "---")
			}
			t.ln(0, "apiVersion: v1")
			t.ln(0, "kind: Namespace")
			t.ln(0, "metadata:")
			t.ln(2, "name: ", a.name, "-", envName(e))
			t.ln(2, "labels:")
			t.ln(4, "acme.example/team: ", a.team)
			t.ln(4, "acme.example/environment: ", envName(e))
		}
	}
}

func (g *generator) renderQuotas(t *text) {
	for i, team := range teams {
		if i > 0 {
			t.ln(0, "---")
		}
		q := g.docs.quota[i]
		t.ln(0, "apiVersion: v1")
		t.ln(0, "kind: ResourceQuota")
		t.ln(0, "metadata:")
		t.ln(2, "name: ", team)
		t.ln(2, "namespace: team-", team)
		t.ln(0, "spec:")
		t.ln(2, "hard:")
		t.ln(4, `requests.cpu: "`, itoa(q), `"`)
		t.ln(4, "requests.memory: ", itoa(q*4), "Gi")
		t.ln(4, `pods: "`, itoa(q*10), `"`)
	}
}

func (g *generator) renderRunbook(t *text) {
	t.ln(0, "# Deployment runbook")
	t.ln(0)
	t.ln(0, "1. Check the app's dashboard and the open incidents.")
	t.ln(0, "2. Promote with `scripts/promote.sh <app> <from> <to>`; the bot opens the commit.")
	t.ln(0, "3. To go back, set the previous image in the same file and push; Argo CD syncs it.")
	t.ln(0)
	t.ln(0, "## Changelog")
	t.ln(0)
	for i := len(g.docs.runbook) - 1; i >= 0; i-- {
		t.ln(0, "- ", g.docs.runbook[i])
	}
}

func (g *generator) renderWorkflow(t *text) {
	w := g.docs.workflow
	t.ln(0, "name: validate")
	t.ln(0, "on:")
	t.ln(2, "pull_request:")
	t.ln(2, "push:")
	t.ln(4, "branches: [main]")
	t.ln(0, "jobs:")
	t.ln(2, "validate:")
	t.ln(4, "runs-on: ubuntu-", []string{"22.04", "24.04"}[min(w/6, 1)])
	t.ln(4, "timeout-minutes: ", itoa(10+w%3*5))
	t.ln(4, "steps:")
	t.ln(6, "- uses: actions/checkout@v4.", itoa(1+w%3), ".", itoa(w%7))
	t.ln(6, "- uses: imranismail/setup-kustomize@v2")
	t.ln(6, "- name: Build overlays")
	t.ln(8, "run: make validate")
	t.ln(6, "- name: Kubeconform")
	t.ln(8, "run: kubeconform -strict -summary -kubernetes-version 1.", itoa(28+w/4), ".0 rendered/")
}

func (g *generator) renderRenovate(t *text) {
	r := g.docs.renovate
	t.ln(0, "{")
	t.ln(2, `"$schema": "https://docs.renovatebot.com/renovate-schema.json",`)
	t.ln(2, `"extends": ["config:recommended"],`)
	t.ln(2, `"schedule": ["`, []string{"before 6am on monday", "every weekend", "before 8am on tuesday"}[r%3], `"],`)
	t.ln(2, `"prConcurrentLimit": `, itoa(3+r%4), `,`)
	t.ln(2, `"kubernetes": {"fileMatch": ["^apps/.+\\.yaml$"]},`)
	t.ln(2, `"packageRules": [`)
	t.ln(4, `{"matchDatasources": ["docker"], "matchPackageNames": ["ghcr.io/acme/**"], "enabled": false},`)
	t.ln(4, `{"matchUpdateTypes": ["patch"], "automerge": `, []string{"false", "true"}[r%2], `}`)
	t.ln(2, `]`)
	t.ln(0, "}")
}

func renderMakefile(t *text) {
	t.ln(0, ".PHONY: validate")
	t.ln(0, "validate:")
	t.ln(0, "\tfor d in apps/*/overlays/*/; do kustomize build $$d > /dev/null || exit 1; done")
	t.ln(0, "\tkubeconform -strict -summary apps/*/envs/*/*.yaml")
}

func renderPromoteScript(t *text) {
	t.ln(0, "#!/usr/bin/env bash")
	t.ln(0, "# Usage: scripts/promote.sh <app> <from-env> <to-env>")
	t.ln(0, "# Copies the image of <app> from one environment to the next.")
	t.ln(0, "set -euo pipefail")
	t.ln(0, `app=$1 from=$2 to=$3`)
	t.ln(0, `gh workflow run promote.yaml -f app="$app" -f from="$from" -f to="$to"`)
}
