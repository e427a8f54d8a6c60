// Package serve is `shiplog serve`: run the server on the configured store.
package serve

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
)

// Options are serve's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
}

// NewCmdServe returns the command; runF replaces the run function in tests.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the shiplog server",
		Long: `Run the shiplog server on the configured store: the web UI (/), live
updates (/events), the JSON API (/api/v1), the ingestion endpoints
(/ingest/github, /ingest/gitlab, /ingest/cloudevents, /ingest/argocd,
/ingest/alertmanager), health (/healthz), readiness (/readyz) and Prometheus
metrics (/metrics); and the configured Kubernetes clusters and Argo CD servers
are watched while it runs.

Access control is auth.mode (docs/security.md): none (everyone is an admin;
refused on an address other machines can reach unless
--insecure-allow-anonymous), token (API tokens, "shiplog token create") or
oidc (sign-in with an OpenID Connect provider, tokens for the CLI and CI).

The store's schema must match this binary: run "shiplog migrate" first on a
new store or after an upgrade. SIGINT or SIGTERM stops the server gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			if allow, _ := cmd.Flags().GetBool("insecure-allow-anonymous"); allow {
				cfg.Auth.InsecureAllowAnonymous = true
			}
			opts := &Options{Config: cfg, Factory: f}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	config.AddFlags(cmd.Flags(), "web.listen-address", "web.shutdown-timeout", "auth.mode")
	cmd.Flags().Bool("insecure-allow-anonymous", false, "with auth.mode none, listen on an address other machines can reach anyway (everyone who can connect is an admin)")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	log := opts.Factory.Logger(opts.Config)
	a, err := app.New(ctx, opts.Config, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
