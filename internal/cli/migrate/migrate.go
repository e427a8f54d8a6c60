// Package migrate is `shiplog migrate`: bring the store's schema up to date.
package migrate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options are migrate's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
}

// NewCmdMigrate returns the command; runF replaces the run function in tests.
func NewCmdMigrate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the store's schema",
		Long: `Apply the schema migrations this binary embeds to the store (--db), each in
its own transaction. Running it again does nothing. A store whose schema is
newer than this binary is refused: upgrade shiplog instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts := &Options{Config: cfg, Factory: f}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
}

func run(ctx context.Context, opts *Options) error {
	st, err := app.OpenStore(ctx, string(opts.Config.DB), store.Options{Logger: opts.Factory.Logger(opts.Config)})
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	out := opts.Factory.IO.Out
	for _, m := range applied {
		fmt.Fprintf(out, "applied %s\n", m.Name)
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "schema is up to date (version %d, %s store)\n", v, st.Dialect())
	} else {
		fmt.Fprintf(out, "schema is now version %d (%s store)\n", v, st.Dialect())
	}
	return nil
}
