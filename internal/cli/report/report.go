// Package report is `shiplog report`: the manager's delivery report.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine"
)

// Options are the command's inputs.
type Options struct {
	Config      config.Config
	Factory     *cmdutil.Factory
	Since       string
	Team        string
	App         string
	Envs        []string
	BeforeAfter string
	Format      string
	Now         func() time.Time
	Remote      cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
}

// NewCmdReport returns the command; runF replaces the run function in tests.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "The manager's delivery report: KPIs with tiers, trends, before/after, efficiency, compliance",
		Long: `Write a delivery report for a window: the DORA metrics with their tiers, the
weekly trend, before and after a date, where the lead time goes, manual work
and automation, Knative cost and scale-to-zero savings, traceability and policy
deviations. As Markdown, a standalone HTML page, or JSON. Definitions:
docs/metrics.md.

With --server (or $SHIPLOG_SERVER), the server computes the report (its
/api/v1/report) with the API token in $SHIPLOG_TOKEN or --token-file.`,
		Example: `  shiplog report --since 90d --format md > report.md
  shiplog report --since 180d --team payments --before-after 2026-07-01 --format html > report.html
  shiplog report --since 180d --before-after adoption`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config = cfg
			switch opts.Format {
			case "md", "html", "json":
			default:
				return cmdutil.UsageError(fmt.Errorf("--format %q: want md, html or json", opts.Format))
			}
			if opts.Client, err = f.Client(cmd, opts.Remote); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "90d", "window start: a duration back from now (90d, 2w) or a date")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps")
	cmd.Flags().StringVar(&opts.App, "app", "", "only this app")
	cmd.Flags().StringArrayVar(&opts.Envs, "env", nil, "environments (repeatable; default metrics.production_envs)")
	cmd.Flags().StringVar(&opts.BeforeAfter, "before-after", "", "also compare before and after this date, or \"adoption\": each app's own GitOps adoption date")
	cmd.Flags().StringVar(&opts.Format, "format", "md", "md, html or json")
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	now := opts.Now()
	since, err := cmdutil.ParseSince(opts.Since, now)
	if err != nil {
		return err
	}
	q := api.ReportQuery{Query: engine.Query{App: opts.App, Team: opts.Team, Envs: opts.Envs, Since: since, Until: now}}
	switch opts.BeforeAfter {
	case "":
	case api.BeforeAfterAdoption:
		q.BeforeAfterAdoption = true
	default:
		at, err := time.Parse(time.DateOnly, opts.BeforeAfter)
		if err != nil || !at.After(since) || !at.Before(now) {
			return cmdutil.UsageError(fmt.Errorf("--before-after %q: want a date (2006-01-02) inside the window, or %q", opts.BeforeAfter, api.BeforeAfterAdoption))
		}
		q.BeforeAfter = at
	}
	var r api.Report
	if c := opts.Client; c != nil {
		p := cmdutil.Query("app", q.App, "team", q.Team, "since", cmdutil.FormatTime(q.Since), "until", cmdutil.FormatTime(q.Until))
		for _, e := range q.Envs {
			p.Add("env", e)
		}
		if q.BeforeAfterAdoption {
			p.Set("before_after", api.BeforeAfterAdoption)
		} else if !q.BeforeAfter.IsZero() {
			p.Set("before_after", cmdutil.FormatTime(q.BeforeAfter))
		}
		if err := c.Get(ctx, "/api/v1/report", p, &r); err != nil {
			return err
		}
	} else {
		st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
		if err != nil {
			return err
		}
		defer st.Close()
		if r, err = api.BuildReport(ctx, eng, q, now); err != nil {
			return err
		}
	}
	out := opts.Factory.IO.Out
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "html":
		return htmlReport.Execute(out, r)
	}
	return mdReport.Execute(out, r)
}

var funcs = map[string]any{
	"dur": func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		d := time.Duration(*v * float64(time.Second)).Round(time.Minute)
		if d >= 24*time.Hour {
			return fmt.Sprintf("%.1f d", d.Hours()/24)
		}
		if d >= time.Hour {
			return fmt.Sprintf("%.1f h", d.Hours())
		}
		return fmt.Sprintf("%d min", int(d.Minutes()))
	},
	"secs": func(v float64) *float64 { return &v },
	"pct": func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f %%", *v*100)
	},
	"money": func(v *float64, cur string) string {
		if v == nil {
			return "n/a (set efficiency.cost_per_replica_hour)"
		}
		return fmt.Sprintf("%.2f %s", *v, cur)
	},
	"hours":  func(s float64) string { return fmt.Sprintf("%.1f", s/3600) },
	"day":    func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"join":   strings.Join,
	"f2":     func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"minute": func(m float64) string { return fmt.Sprintf("%.1f h", m/60) },
}

const mdSource = `# Delivery report — {{.Scope}}

{{day .Metrics.Since}} – {{day .Metrics.Until}}, environments {{join .Metrics.Filter.Envs ", "}}. Generated {{.GeneratedAt.Format "2006-01-02 15:04 UTC"}} in {{printf "%.0f" .GenerationMillis}} ms. Definitions: docs/metrics.md.

## DORA metrics

| metric | value | tier |
|---|---|---|
| Deployment frequency | {{f2 .Metrics.DeploymentFrequencyPerDay}} per day ({{.Metrics.Deployments}} deployments, {{.Metrics.DeployDays}} deploy days) | {{index .Metrics.Tiers "deployment_frequency"}} |
| Lead time for changes | median {{dur .Metrics.LeadTimeMedianSeconds}}, p90 {{dur .Metrics.LeadTimeP90Seconds}} ({{.Metrics.LeadTimeChanges}} changes) | {{index .Metrics.Tiers "lead_time"}} |
| Change failure rate | {{pct .Metrics.ChangeFailureRate}} ({{.Metrics.FailedDeployments}} failed) | {{index .Metrics.Tiers "change_failure_rate"}} |
| Failed deployment recovery time | median {{dur .Metrics.RecoveryTimeMedianSeconds}} ({{.Metrics.Unrecovered}} not recovered) | {{index .Metrics.Tiers "recovery_time"}} |
| Rework rate | {{pct .Metrics.ReworkRate}} | |

## Where the lead time goes (mean per change)

| stage | mean | known for |
|---|---|---|
{{range .Metrics.Stages}}| {{.Name}} | {{dur (secs .MeanSeconds)}} | {{.Known}} changes |
{{end}}
## Weekly trend

| week of | deployments | lead time (median) | change failure rate |
|---|---|---|---|
{{range .Trend}}| {{day .Start}} | {{.Deployments}} | {{dur .LeadTimeMedianSeconds}} | {{pct .ChangeFailureRate}} |
{{end}}{{with .BeforeAfter}}
## Before and after {{if .By}}each app's GitOps adoption{{else}}{{day .At}}{{end}}

| metric | before | after |
|---|---|---|
| Deployments per {{if .By}}app-day{{else}}day{{end}} | {{f2 .Before.DeploymentFrequencyPerDay}} | {{f2 .After.DeploymentFrequencyPerDay}} |
| Lead time (median) | {{dur .Before.LeadTimeMedianSeconds}} | {{dur .After.LeadTimeMedianSeconds}} |
| Change failure rate | {{pct .Before.ChangeFailureRate}} | {{pct .After.ChangeFailureRate}} |
| Recovery time (median) | {{dur .Before.RecoveryTimeMedianSeconds}} | {{dur .After.RecoveryTimeMedianSeconds}} |
| Rework rate | {{pct .Before.ReworkRate}} | {{pct .After.ReworkRate}} |
{{if .Apps}}
| app | adopted GitOps | from | deployments before | deployments after |
|---|---|---|---|---|
{{range .Apps}}| {{.App}} | {{with .AdoptedAt}}{{day .}}{{else}}never (all before){{end}} | {{or .Source "-"}} | {{.BeforeDeployments}} | {{.AfterDeployments}} |
{{end}}{{end}}{{end}}
## Efficiency

- Manual interventions: {{.Efficiency.Interventions.Total}}, costing {{minute .Efficiency.Interventions.EngineerMinutes}} of engineer time{{range .Efficiency.Interventions.ByKind}}; {{.Kind}} {{.Count}}{{end}}.
- Automation level: {{pct .Efficiency.Automation.Level}} of production deployments reached production with no manual step.
- Knative: {{hours .Efficiency.Cost.ReplicaSeconds}} replica-hours, {{money .Efficiency.Cost.Cost .Efficiency.Cost.Currency}}; always-on baseline {{hours .Efficiency.Cost.BaselineReplicaSeconds}} replica-hours; scale-to-zero saved {{hours .Efficiency.Cost.SavedReplicaSeconds}} replica-hours ({{money .Efficiency.Cost.Saving .Efficiency.Cost.Currency}}).

## Compliance

- Traceable deployments: {{pct .Traceability.Rate}} ({{.Traceability.Traceable}} of {{.Traceability.Deployments}}).
- Incidents linked to a deployment: {{pct .Incidents.LinkedRate}} ({{.Incidents.Linked}} of {{.Incidents.Total}}).
- Policy deviations:{{range $rule, $n := .Deviations}} {{$rule}} {{$n}};{{else}} none.{{end}}
`

var mdReport = texttemplate.Must(texttemplate.New("md").Funcs(funcs).Parse(mdSource))

var htmlReport = htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Delivery report — {{.Scope}}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}@media print{body{margin:0}}</style>
</head><body>
<h1>Delivery report — {{.Scope}}</h1>
<p>{{day .Metrics.Since}} – {{day .Metrics.Until}}, environments {{join .Metrics.Filter.Envs ", "}}. Generated {{.GeneratedAt.Format "2006-01-02 15:04 UTC"}} in {{printf "%.0f" .GenerationMillis}} ms.</p>
<h2>DORA metrics</h2>
<table><tr><th>metric</th><th>value</th><th>tier</th></tr>
<tr><td>Deployment frequency</td><td>{{f2 .Metrics.DeploymentFrequencyPerDay}} per day ({{.Metrics.Deployments}} deployments)</td><td>{{index .Metrics.Tiers "deployment_frequency"}}</td></tr>
<tr><td>Lead time for changes</td><td>median {{dur .Metrics.LeadTimeMedianSeconds}}, p90 {{dur .Metrics.LeadTimeP90Seconds}}</td><td>{{index .Metrics.Tiers "lead_time"}}</td></tr>
<tr><td>Change failure rate</td><td>{{pct .Metrics.ChangeFailureRate}}</td><td>{{index .Metrics.Tiers "change_failure_rate"}}</td></tr>
<tr><td>Recovery time</td><td>median {{dur .Metrics.RecoveryTimeMedianSeconds}}</td><td>{{index .Metrics.Tiers "recovery_time"}}</td></tr>
<tr><td>Rework rate</td><td>{{pct .Metrics.ReworkRate}}</td><td></td></tr></table>
<h2>Where the lead time goes</h2>
<table><tr><th>stage</th><th>mean per change</th></tr>{{range .Metrics.Stages}}<tr><td>{{.Name}}</td><td>{{dur (secs .MeanSeconds)}}</td></tr>{{end}}</table>
{{with .BeforeAfter}}<h2>Before and after {{if .By}}each app's GitOps adoption{{else}}{{day .At}}{{end}}</h2>
<table><tr><th>metric</th><th>before</th><th>after</th></tr>
<tr><td>Deployments per {{if .By}}app-day{{else}}day{{end}}</td><td>{{f2 .Before.DeploymentFrequencyPerDay}}</td><td>{{f2 .After.DeploymentFrequencyPerDay}}</td></tr>
<tr><td>Lead time (median)</td><td>{{dur .Before.LeadTimeMedianSeconds}}</td><td>{{dur .After.LeadTimeMedianSeconds}}</td></tr>
<tr><td>Change failure rate</td><td>{{pct .Before.ChangeFailureRate}}</td><td>{{pct .After.ChangeFailureRate}}</td></tr></table>{{if .Apps}}
<table><tr><th>app</th><th>adopted GitOps</th><th>from</th><th>deployments before</th><th>deployments after</th></tr>
{{range .Apps}}<tr><td>{{.App}}</td><td>{{with .AdoptedAt}}{{day .}}{{else}}never (all before){{end}}</td><td>{{or .Source "-"}}</td><td>{{.BeforeDeployments}}</td><td>{{.AfterDeployments}}</td></tr>
{{end}}</table>{{end}}{{end}}
<h2>Efficiency and compliance</h2>
<ul><li>Manual interventions: {{.Efficiency.Interventions.Total}} ({{minute .Efficiency.Interventions.EngineerMinutes}} of engineer time)</li>
<li>Automation level: {{pct .Efficiency.Automation.Level}}</li>
<li>Knative: {{hours .Efficiency.Cost.ReplicaSeconds}} replica-hours; scale-to-zero saved {{hours .Efficiency.Cost.SavedReplicaSeconds}}</li>
<li>Traceable deployments: {{pct .Traceability.Rate}}</li>
<li>Incidents linked to a deployment: {{pct .Incidents.LinkedRate}} ({{.Incidents.Linked}} of {{.Incidents.Total}})</li>
<li>Policy deviations: {{range $rule, $n := .Deviations}}{{$rule}} {{$n}}; {{else}}none{{end}}</li></ul>
</body></html>
`))
