package manifest

import "testing"

func TestDetectDefaults(t *testing.T) {
	workload := func(name, namespace string) Ref {
		return Ref{Style: StyleWorkload, Kind: "Deployment", Name: name, Namespace: namespace}
	}
	kustomize := func(namespace string) Ref {
		return Ref{Style: StyleKustomize, Kind: "Kustomization", Namespace: namespace}
	}
	helm := Ref{Style: StyleHelm, Container: "api.image"}
	updater := Ref{Style: StyleImageUpdater}
	tests := []struct {
		name             string
		path             string
		ref              Ref
		wantApp, wantEnv string
	}{
		{"workload, env from namespace suffix", "apps/api/base/deployment.yaml", workload("api", "shop-prod"), "api", "prod"},
		{"workload, env from namespace prefix", "apps/api/base/deployment.yaml", workload("api", "production-shop"), "api", "prod"},
		{"workload, namespace is the env", "manifests/api.yaml", workload("api", "qa"), "api", "qa"},
		{"workload, namespace names no env", "manifests/api.yaml", workload("api", "api-v2"), "api", ""},
		{"workload name loses its env suffix", "envs/staging/platform.yaml", workload("web-staging", "shop-staging"), "web", "staging"},
		{"workload name alias suffix", "deploy/api.yaml", workload("api-production", ""), "api", ""},
		{"generateName", "jobs/seed.yaml", workload("db-seed-", ""), "db-seed", ""},
		{"path beats namespace", "clusters/prod/jobs/cronjob.yaml", workload("report", "reports-staging"), "report", "prod"},
		{"envs marker", "envs/development/checkout/kustomization.yaml", kustomize(""), "checkout", "dev"},
		{"environments marker keeps unknown names", "environments/eu-west/api/values.yaml", helm, "api", "eu-west"},
		{"clusters marker", "clusters/prod-eu1/apps/api/values.yaml", helm, "api", "prod-eu1"},
		{"overlays marker normalises", "api/overlays/Stage/kustomization.yaml", kustomize(""), "api", "staging"},
		{"app after apps/", "apps/api/overlays/prod/kustomization.yaml", kustomize("shop-prod"), "api", "prod"},
		{"app before overlays/", "teams/payments/checkout/overlays/uat/kustomization.yaml", kustomize(""), "checkout", "uat"},
		{"app before base/", "checkout/base/kustomization.yaml", kustomize("checkout-test"), "checkout", "test"},
		{"well-known env directory", "preprod/checkout/kustomization.yaml", kustomize(""), "checkout", "preprod"},
		{"env from file name", "api/values-prod.yaml", helm, "api", "prod"},
		{"env from dotted file name", "api/values.production.yaml", helm, "api", "prod"},
		{"umbrella chart", "charts/shop/values-prod.yaml", helm, "shop", "prod"},
		{"chart in an app directory", "apps/web/helm/values-staging.yaml", helm, "web", "staging"},
		{"only layout directories", "deploy/helm/values.yaml", helm, "", ""},
		{"repository root", "kustomization.yaml", kustomize(""), "", ""},
		{"leading ./", "./apps/api/overlays/qa/kustomization.yaml", kustomize(""), "api", "qa"},
		{"image-updater app from file name", "apps/web/overlays/staging/.argocd-source-web-staging.yaml", updater, "web", "staging"},
		{"image-updater without app in the name", "charts/shop/.argocd-source.yaml", updater, "shop", ""},
		{"image-updater app", "gitops/.argocd-source-payments.yaml", updater, "payments", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Rules
			app, env := r.Detect(tt.path, tt.ref)
			if app != tt.wantApp || env != tt.wantEnv {
				t.Errorf("Detect(%q): got app %q env %q, want app %q env %q", tt.path, app, env, tt.wantApp, tt.wantEnv)
			}
		})
	}
}

func TestDetectNilRules(t *testing.T) {
	var r *Rules
	app, env := r.Detect("apps/api/overlays/prod/kustomization.yaml", Ref{Style: StyleKustomize})
	if app != "api" || env != "prod" {
		t.Errorf("nil Rules: got app %q env %q, want app %q env %q", app, env, "api", "prod")
	}
}

func TestDetectOverrides(t *testing.T) {
	r, err := NewRules([]Override{
		{PathRegex: `^tenants/(?P<team>[^/]+)/(?P<app>[^/]+)/`, App: "${team}-${app}"},
		{PathRegex: `^regions/[a-z]+-(prod|staging)/`, Env: "$1"},
		{PathRegex: `^legacy/`, App: "monolith", Env: "Production"},
		{PathRegex: `^legacy/`, App: "never", Env: "never"},
		{PathRegex: `^literal/(x)?`, App: "${1}y"},
		{PathRegex: `^optional/(x)?`, App: "$1"},
		{PathRegex: `^price/`, App: "cost$$"},
	})
	if err != nil {
		t.Fatalf("NewRules: %v", err)
	}
	tests := []struct {
		name             string
		path             string
		ref              Ref
		wantApp, wantEnv string
	}{
		{"named groups set the app, env by default", "tenants/pay/api/overlays/prod/kustomization.yaml", Ref{Style: StyleKustomize}, "pay-api", "prod"},
		{"numbered group sets the env, app by default", "regions/eu-staging/web/values.yaml", Ref{Style: StyleHelm}, "web", "staging"},
		{"first matching rule wins, used as written", "legacy/deploy.yaml", Ref{Style: StyleWorkload, Name: "x"}, "monolith", "Production"},
		{"expansion of an unmatched group", "literal/a/values.yaml", Ref{Style: StyleHelm}, "y", ""},
		{"empty expansion falls through to the default", "optional/a/values-qa.yaml", Ref{Style: StyleHelm}, "a", "qa"},
		{"literal dollar", "price/values.yaml", Ref{Style: StyleHelm}, "cost$", ""},
		{"no rule matches", "apps/api/overlays/prod/kustomization.yaml", Ref{Style: StyleKustomize}, "api", "prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, env := r.Detect(tt.path, tt.ref)
			if app != tt.wantApp || env != tt.wantEnv {
				t.Errorf("Detect(%q): got app %q env %q, want app %q env %q", tt.path, app, env, tt.wantApp, tt.wantEnv)
			}
		})
	}
}

func TestNewRulesErrors(t *testing.T) {
	tests := []struct {
		name  string
		rules []Override
		want  string
	}{
		{"empty path", []Override{{App: "a"}}, "rules[0].path: empty regular expression"},
		{"invalid expression", []Override{{PathRegex: "^a", App: "a"}, {PathRegex: "(", App: "b"}},
			"rules[1].path: invalid regular expression: error parsing regexp: missing closing ): `(`"},
		{"sets nothing", []Override{{PathRegex: "^a"}}, "rules[0]: sets neither app nor env"},
		{"group number out of range", []Override{{PathRegex: "^(a)/", App: "$2"}}, `rules[0].app: "$2": $2: the path expression has 1 capture group(s)`},
		{"unknown group name", []Override{{PathRegex: "^(?P<app>a)/", Env: "${team}"}}, `rules[0].env: "${team}": the path expression has no group named "team"`},
		{"digits run into letters", []Override{{PathRegex: "^(a)/", App: "$1x"}}, `rules[0].app: "$1x": the path expression has no group named "1x"`},
		{"unclosed brace", []Override{{PathRegex: "^(a)/", App: "${1"}}, `rules[0].app: "${1": unclosed "${"`},
		{"bare dollar", []Override{{PathRegex: "^(a)/", App: "a$"}}, `rules[0].app: "a$": "$" must be followed by a group number or name (write $$ for a literal $)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRules(tt.rules)
			if err == nil {
				t.Fatalf("NewRules: got %+v, nil error; want error %q", r, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("NewRules error:\ngot  %s\nwant %s", err, tt.want)
			}
		})
	}
}
