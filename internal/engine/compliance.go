package engine

import (
	"context"
	"slices"
)

// Compliance is what Delivery's compliance panel counts of a window, in
// one pass and without the lists that Traceability and Deviations give.
type Compliance struct {
	// Deployments counts q's deployments (not rewritten away), Traceable
	// those traceable to a reviewed change; Rate is Traceable ÷
	// Deployments (null without deployments), as Traceability's.
	Deployments, Traceable int
	Rate                   *float64
	// Deviations counts the deviations of every rule among the
	// deployments of every environment q selects (DeviationQuery with no
	// rule or severity), DeviationDeployments those deployments; both 0
	// while the policies do not compile.
	Deviations, DeviationDeployments int
	Incidents                        IncidentStats
}

// Compliance computes the traceability of q (its environments, production
// by default), the deviations of the deployments of dev (all
// environments when it names none), and the incidents of q.
func (e *Engine) Compliance(ctx context.Context, q Query, dev DeviationQuery) (Compliance, error) {
	v, err := e.current(ctx)
	if err != nil {
		return Compliance{}, err
	}
	var c Compliance
	mf, until := e.filter(q)
	parts := e.partitions(v, mf.App, mf.Team, mf.Envs, q.Allow)
	for _, p := range parts {
		lo, hi := p.bounds(q.Since, until)
		for i := lo; i < hi; i++ {
			if p.deps[i].Rewritten {
				continue
			}
			c.Deployments++
			if p.missing[i] == 0 {
				c.Traceable++
			}
		}
	}
	c.Rate = ratio(c.Traceable, c.Deployments)
	c.Incidents = incidents(v, parts, q.Since, until)
	if e.policyErr == nil {
		dUntil := dev.Until
		if dUntil.IsZero() {
			dUntil = e.cfg.Now()
		}
		for _, p := range e.partitions(v, dev.App, dev.Team, dev.Envs, dev.Allow) {
			lo, hi := p.bounds(dev.Since, dUntil)
			for i := lo; i < hi; i++ {
				if !p.deps[i].Rewritten {
					c.DeviationDeployments++
				}
			}
			first, _ := slices.BinarySearchFunc(p.checks, int32(lo), func(c depCheck, i int32) int { return int(c.i - i) })
			for _, ch := range p.checks[first:] {
				if int(ch.i) >= hi {
					break
				}
				if p.deps[ch.i].Rewritten {
					continue
				}
				for _, dv := range ch.deviations {
					if e.rules[dv.Rule] != nil {
						c.Deviations++
					}
				}
			}
		}
	}
	return c, nil
}

// ratio is n ÷ of, or nil when of is 0.
func ratio(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	r := float64(n) / float64(of)
	return &r
}
