// Package configcmd is `shiplog config`: check and show the configuration.
package configcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
)

// NewCmdConfig returns the command with its check and show subcommands.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check or show the configuration",
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration file and flags; exit 2 on any problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := f.Config(cmd); err != nil {
				return err
			}
			_, err := fmt.Fprintln(f.IO.Out, "configuration is valid")
			return err
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration as YAML, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(f.IO.Out, cfg.String())
			return err
		},
	}
	for _, c := range []*cobra.Command{check, show} {
		config.AddFlags(c.Flags(), "web.listen-address", "web.shutdown-timeout")
		cmd.AddCommand(c)
	}
	return cmd
}
