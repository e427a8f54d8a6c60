// Package status is `shiplog status`: apps × environments right now.
package status

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options are the command's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
	Env     string
	Team    string
	Output  string
	Now     func() time.Time
}

// NewCmdStatus returns the command; runF replaces the run function in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Apps × environments: live version, sync and health, traffic split, replicas",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if err := cmdutil.CheckOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	return cmd
}

// Target is one revision's share of traffic.
type Target struct {
	Revision string `json:"revision"`
	Percent  int    `json:"percent"`
}

// Row is one app in one environment.
type Row struct {
	App          string    `json:"app"`
	Environment  string    `json:"environment"`
	Team         string    `json:"team,omitempty"`
	Artifact     string    `json:"artifact,omitempty"`
	LiveSince    time.Time `json:"live_since,omitzero"`
	DeployedBy   string    `json:"deployed_by,omitempty"`
	InferredFrom string    `json:"inferred_from,omitempty"`
	Failed       bool      `json:"failed"`
	Health       string    `json:"health,omitempty"`
	Sync         string    `json:"sync,omitempty"`
	Traffic      []Target  `json:"traffic,omitempty"`
	Replicas     *int      `json:"replicas,omitempty"` // of the revisions serving traffic; 0: scaled to zero
}

type key struct{ app, env string }

func run(ctx context.Context, opts *Options) error {
	st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := Status(ctx, eng, st, opts.Now())
	if err != nil {
		return err
	}
	kept := rows[:0]
	for _, r := range rows {
		if (opts.Env == "" || r.Environment == opts.Env) && (opts.Team == "" || r.Team == opts.Team) {
			kept = append(kept, r)
		}
	}
	if opts.Output != "table" {
		if kept == nil {
			kept = []Row{}
		}
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, kept)
	}
	return writeTable(opts.Factory.IO.Out, kept, opts.Now())
}

// Status builds one row per app and environment known to the store.
func Status(ctx context.Context, eng *engine.Engine, st *store.Store, now time.Time) ([]Row, error) {
	all := store.ModelFilter{}
	deps, err := eng.History(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := st.Apps(ctx, all)
	if err != nil {
		return nil, err
	}
	health, err := st.HealthTransitions(ctx, all)
	if err != nil {
		return nil, err
	}
	syncs, err := st.SyncStatuses(ctx, all)
	if err != nil {
		return nil, err
	}
	traffic, err := st.Traffic(ctx, all)
	if err != nil {
		return nil, err
	}
	scale, err := st.ScaleSamples(ctx, store.ModelFilter{Since: now.Add(-7 * 24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	teams := eng.Settings().Teams
	rows := map[key]*Row{}
	row := func(app, env string) *Row {
		k := key{app, env}
		if rows[k] == nil {
			rows[k] = &Row{App: app, Environment: env, Team: teams[app]}
		}
		return rows[k]
	}
	for _, a := range apps {
		r := row(a.Name, a.Env)
		if r.Team == "" {
			r.Team = a.Team
		}
	}
	for _, d := range deps { // oldest first: the last one is live
		r := row(d.App, d.Env)
		r.Artifact, r.LiveSince, r.DeployedBy, r.InferredFrom, r.Failed = d.Artifact, d.LiveAt, d.Author, d.InferredFrom, d.Failed()
	}
	for _, h := range health { // by time
		row(h.App, h.Env).Health = string(h.Status)
	}
	for _, s := range syncs {
		row(s.App, s.Env).Sync = s.Status
	}
	latest := map[key]time.Time{}
	for _, t := range traffic {
		k := key{t.App, t.Env}
		if t.Time.After(latest[k]) {
			latest[k] = t.Time
			row(t.App, t.Env).Traffic = nil
		}
		if t.Time.Equal(latest[k]) && t.Percent > 0 {
			r := row(t.App, t.Env)
			r.Traffic = append(r.Traffic, Target{Revision: t.Revision, Percent: t.Percent})
		}
	}
	lastScale := map[string]delivery.ScaleRecord{}
	for _, s := range scale {
		lastScale[s.App+"|"+s.Env+"|"+s.Revision] = s
	}
	for k, r := range rows {
		if len(r.Traffic) == 0 {
			continue
		}
		n, seen := 0, false
		for _, t := range r.Traffic {
			if s, ok := lastScale[k.app+"|"+k.env+"|"+t.Revision]; ok {
				n, seen = n+s.Actual, true
			}
		}
		if seen {
			r.Replicas = &n
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		slices.SortFunc(r.Traffic, func(a, b Target) int { return cmp.Or(b.Percent-a.Percent, strings.Compare(a.Revision, b.Revision)) })
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(strings.Compare(a.App, b.App), strings.Compare(a.Environment, b.Environment))
	})
	return out, nil
}

func writeTable(w io.Writer, rows []Row, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENV\tLIVE\tSINCE\tBY\tSYNC\tHEALTH\tTRAFFIC\tREPLICAS")
	for _, r := range rows {
		live, since := dash(r.Artifact), "-"
		if r.Failed {
			live += " (failed)"
		}
		if !r.LiveSince.IsZero() {
			since = age(now.Sub(r.LiveSince)) + " ago"
		}
		var split []string
		for _, t := range r.Traffic {
			split = append(split, fmt.Sprintf("%s %d%%", t.Revision, t.Percent))
		}
		replicas := "-"
		if r.Replicas != nil {
			replicas = fmt.Sprint(*r.Replicas)
			if *r.Replicas == 0 {
				replicas = "0 (scaled to zero)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.App, dash(r.Environment), live, since, dash(r.DeployedBy),
			dash(r.Sync), dash(r.Health), dash(strings.Join(split, ", ")), replicas)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", max(d, 0)/time.Second)
}
