package web

import (
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// policiesData is the Policies page: the rules and the deviations of a window.
type policiesData struct {
	Since      string
	Rules      []ruleRow
	Deviations []policy.Deviation
	Total      int // deviations in the window
	Shown      int
	Evaluated  int // deployments checked
	Problem    string
}

type ruleRow struct {
	policy.Rule
	Count int
}

// maxDeviations bounds the rows shown; the API pages through all of them.
const maxDeviations = 200

func (w *Web) policies(r *request) (any, error) {
	since, until, sinceText, err := r.window("30d")
	if err != nil {
		return nil, err
	}
	d := &policiesData{Since: sinceText}
	rules, err := w.eng.Rules()
	if err != nil {
		d.Problem = err.Error()
		return d, nil
	}
	res, err := w.eng.Deviations(r.Context(), engine.DeviationQuery{Since: since, Until: until, Allow: r.snap.allow})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, dv := range res.Deviations {
		counts[dv.Rule]++
	}
	for _, ru := range rules {
		d.Rules = append(d.Rules, ruleRow{Rule: ru, Count: counts[ru.Name]})
	}
	d.Total, d.Evaluated = len(res.Deviations), res.Deployments
	d.Deviations = res.Deviations[:min(len(res.Deviations), maxDeviations)]
	d.Shown = len(d.Deviations)
	return d, nil
}
