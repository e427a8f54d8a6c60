package kube_test

import (
	"testing"

	"github.com/shiplog-dev/shiplog/internal/source/kube"
)

func TestAppEnv(t *testing.T) {
	tests := []struct {
		name             string
		labels           map[string]string
		obj, namespace   string
		wantApp, wantEnv string
	}{
		{"labels win", map[string]string{"app.kubernetes.io/name": "checkout", "env": "Production"}, "shop-prod", "shop-prod", "checkout", "Production"},
		{"app label and environment label", map[string]string{"app": "web", "environment": "qa"}, "web-x", "x", "web", "qa"},
		{"app.kubernetes.io/name before app", map[string]string{"app": "a", "app.kubernetes.io/name": "b"}, "n", "", "b", ""},
		{"namespace suffix", nil, "api-prod", "shop-prod", "api", "prod"},
		{"namespace prefix, normalised", nil, "api", "production-shop", "api", "prod"},
		{"namespace is the env", nil, "api", "staging", "api", "staging"},
		{"name suffix when the namespace says nothing", nil, "api-stage", "shop", "api", "staging"},
		{"name prefix", nil, "dev-api", "tools", "api", "dev"},
		{"affix of another env kept", nil, "api-qa", "prod", "api-qa", "prod"},
		{"nothing known", nil, "api", "shop", "api", ""},
		{"name is only the env", nil, "prod", "prod", "prod", "prod"},
		{"env label, name affix removed", map[string]string{"env": "uat"}, "api-uat", "x", "api", "uat"},
		{"blank labels ignored", map[string]string{"app": " ", "env": ""}, "api-dev", "x", "api", "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, env := kube.AppEnv(tt.labels, tt.obj, tt.namespace)
			if app != tt.wantApp || env != tt.wantEnv {
				t.Errorf("AppEnv(%v, %q, %q) = %q, %q; want %q, %q", tt.labels, tt.obj, tt.namespace, app, env, tt.wantApp, tt.wantEnv)
			}
		})
	}
}
