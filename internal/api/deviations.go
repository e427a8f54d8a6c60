package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// DeviationsPage is /api/v1/deviations: a page of deviations, newest
// deployment first, with counts over the whole selection.
type DeviationsPage struct {
	Page[policy.Deviation]
	// Deployments is how many deployments were evaluated.
	Deployments int            `json:"deployments"`
	ByRule      map[string]int `json:"by_rule"`
	BySeverity  map[string]int `json:"by_severity"`
	// Errors are rules that could not be evaluated for a deployment.
	Errors []policy.EvalError `json:"errors"`
	// Rules are the policies in force.
	Rules []policy.Rule `json:"rules"`
}

// deviations lists policy deviations: since, until, app, team, env
// (repeatable; default every environment), rule (repeatable or
// comma-separated), severity, limit, offset.
func (a *API) deviations(r *http.Request) (any, error) {
	since, until, err := a.window(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	dq := engine.DeviationQuery{App: q.Get("app"), Team: q.Get("team"), Envs: q["env"], Since: since, Until: until, Allow: allow(r)}
	rules, err := a.eng.Rules()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, rl := range rules {
		names = append(names, rl.Name)
	}
	for _, v := range q["rule"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !slices.Contains(names, name) {
				return nil, bad("rule: no policy is named %q (policies: %s)", name, strings.Join(names, ", "))
			}
			dq.Rules = append(dq.Rules, name)
		}
	}
	if v := q.Get("severity"); v != "" {
		sev, err := policy.ParseSeverity(v)
		if err != nil {
			return nil, bad("severity: %v", err)
		}
		dq.Severity = sev
	}
	limit, offset, err := page(r)
	if err != nil {
		return nil, err
	}
	res, err := a.eng.Deviations(r.Context(), dq)
	if err != nil {
		return nil, fmt.Errorf("deviations: %w", err)
	}
	out := DeviationsPage{Page: paged(res.Deviations, limit, offset), Deployments: res.Deployments,
		ByRule: map[string]int{}, BySeverity: map[string]int{}, Errors: res.Errors, Rules: rules}
	for _, d := range res.Deviations {
		out.ByRule[d.Rule]++
		out.BySeverity[string(d.Severity)]++
	}
	return out, nil
}
