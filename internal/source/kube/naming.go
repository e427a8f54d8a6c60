package kube

import (
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Labels that name an object's app and environment, tried in order.
var (
	appLabels = []string{"app.kubernetes.io/name", "app"}
	envLabels = []string{"env", "environment"}
)

// AppEnv returns the app and environment of an object from its labels, its
// name and its namespace. It is the rule for Argo CD Applications (name: the
// Application's name, namespace: its destination namespace) and Knative
// Services (name: the Service's, namespace: its own):
//
//   - app: the label app.kubernetes.io/name, else app; else the name without
//     a "-<env>" suffix or "<env>-" prefix naming the environment found below;
//   - env: the label env, else environment (both as written); else the
//     namespace when it is a well-known environment name, starts with
//     "<env>-" or ends with "-<env>"; else the name's "-<env>" suffix or
//     "<env>-" prefix; else "".
//
// The well-known names are those of the Git source: dev, development, test,
// qa, staging, stage, preprod, uat, prod and production, normalised so that
// development is dev, stage is staging and production is prod.
func AppEnv(labels map[string]string, name, namespace string) (app, env string) {
	app, env = firstLabel(labels, appLabels), firstLabel(labels, envLabels)
	if env == "" {
		if env = affixEnv(namespace); env == "" {
			env = affixEnv(name)
		}
	}
	if app == "" {
		app = trimEnv(name, env)
	}
	return app, env
}

func firstLabel(labels map[string]string, keys []string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(labels[k]); v != "" {
			return v
		}
	}
	return ""
}

// normEnv is delivery.NormalizeEnv: one vocabulary of environments for all sources.
func normEnv(s string) (string, bool) { return delivery.NormalizeEnv(s) }

// affixEnv returns the environment s is, ends with ("-<env>") or starts with
// ("<env>-"), normalised, or "".
func affixEnv(s string) string {
	if s == "" {
		return ""
	}
	if env, ok := normEnv(s); ok {
		return env
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		if env, ok := normEnv(s[i+1:]); ok {
			return env
		}
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		if env, ok := normEnv(s[:i]); ok {
			return env
		}
	}
	return ""
}

// trimEnv removes from name a "-<env>" suffix or "<env>-" prefix that names
// env (compared normalised), unless nothing would be left.
func trimEnv(name, env string) string {
	if env == "" {
		return name
	}
	want, ok := normEnv(env)
	if !ok {
		want = strings.ToLower(env)
	}
	same := func(s string) bool {
		n, ok := normEnv(s)
		return ok && n == want || strings.EqualFold(s, env)
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && same(name[i+1:]) {
		return name[:i]
	}
	if i := strings.IndexByte(name, '-'); i >= 0 && i < len(name)-1 && same(name[:i]) {
		return name[i+1:]
	}
	return name
}
