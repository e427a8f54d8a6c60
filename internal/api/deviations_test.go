package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// The test store (see server) has one change, PR #5 approved by bob, deployed
// to staging and prod as api:1, by manifest commits only Git reported.
func TestDeviations(t *testing.T) {
	srv := server(t)
	tests := []struct {
		path     string
		code     int
		contains []string
	}{
		// api:1 is a tag: image-not-pinned, in prod only. The change was approved.
		{"/api/v1/deviations?since=7d", 200, []string{`"total": 1`, `"rule": "image-not-pinned"`, `"environment": "prod"`, `"deployments": 2`,
			`"deployment.image_digest": ""`, `"deployment.production": true`, `"by_rule": {`, `"image-not-pinned": 1`, `"warning": 1`}},
		{"/api/v1/deviations?since=7d&env=staging", 200, []string{`"total": 0`, `"deployments": 1`}},
		{"/api/v1/deviations?since=7d&rule=no-approval,manual-sync-in-production", 200, []string{`"total": 0`}},
		{"/api/v1/deviations?since=7d&severity=warning", 200, []string{`"total": 1`}},
		{"/api/v1/deviations?since=7d&severity=critical", 200, []string{`"total": 0`, `"deployments": 2`}},
		{"/api/v1/deviations?rule=nope", 400, []string{`rule: no policy is named \"nope\" (policies: image-not-pinned, registry-not-allowed`}},
		{"/api/v1/deviations?severity=high", 400, []string{`severity: \"high\" is not one of info, warning, critical`}},
		{"/api/v1/deviations?limit=0", 400, []string{`limit: want 1–1000`}},
		// Traceability: the prod deployment has an approved PR but no CI
		// run, artifact record or sync.
		{"/api/v1/metrics?since=7d", 200, []string{`"traceable_rate": 0`, `"traceability": {`, `"ci": 1`, `"artifact": 1`, `"sync": 1`,
			`"efficiency": {`, `"manual_interventions": {`, `"engineer_minutes": 0`, `"automation": {`, `"knative_cost": {`, `"features": {`}},
		{"/api/v1/metrics?since=7d&detail=true", 200, []string{`"untraceable": [`, `"missing": [`}},
		{"/api/v1/metrics?since=7d&detail=maybe", 400, []string{`detail: want true or false`}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			if code != tc.code {
				t.Errorf("status %d, want %d: %s", code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !contains(body, c) {
					t.Errorf("body lacks %s:\n%.4000s", c, body)
				}
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
	// Without detail the item lists are left out.
	_, body := get(t, srv, "/api/v1/metrics?since=7d")
	if contains(body, `"untraceable"`) || contains(body, `"unknown_deployments"`) {
		t.Errorf("summary has item lists:\n%.4000s", body)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
