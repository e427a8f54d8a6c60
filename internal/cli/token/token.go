// Package token is `shiplog token create|list|revoke`: API tokens for the
// CLI, CI and the UI in auth mode token, managed on the store directly (an
// administrator's bootstrap; an admin token can do the same through
// /api/v1/tokens). Tokens are stored hashed: a token's secret is printed
// once, when it is created.
package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/auth"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options are the subcommands' inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
	Now     func() time.Time
	Output  string

	// create
	Name    string
	Role    string
	Teams   []string
	Apps    []string
	Envs    []string
	Expires string
	// revoke
	ID string
}

// NewCmdToken returns `shiplog token` and its subcommands; runF replaces
// the run function in tests (it gets the subcommand's name).
func NewCmdToken(f *cmdutil.Factory, runF func(context.Context, string, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `API tokens authenticate the CLI, CI jobs and scripts to a shiplog server
(Authorization: Bearer <token>), and open a UI session in auth mode token.
Each token has a role (viewer, operator, admin), an optional scope (teams,
apps, environments) and an expiry. Only a hash is stored: the secret is
printed once, at creation. These commands work on the store (--db).`,
	}
	opts := &Options{Factory: f, Now: time.Now}
	run := func(name string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			cfg, err := f.Config(c)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if len(args) > 0 {
				opts.ID = args[0]
			}
			if err := cmdutil.CheckOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), name, opts)
			}
			return Run(c.Context(), name, opts)
		}
	}
	create := &cobra.Command{
		Use:   "create --name NAME --role viewer|operator|admin [--team T]... [--app A]... [--env E]... [--expires 90d]",
		Short: "Create a token and print its secret once",
		Args:  cobra.NoArgs,
		RunE:  run("create"),
	}
	create.Flags().StringVar(&opts.Name, "name", "", "what the token is for (shown in lists and the access log)")
	create.Flags().StringVar(&opts.Role, "role", "viewer", "viewer (read), operator (also prepare rollbacks) or admin (also tokens and the access log)")
	create.Flags().StringSliceVar(&opts.Teams, "team", nil, "limit the token to this team's apps (repeatable)")
	create.Flags().StringSliceVar(&opts.Apps, "app", nil, "limit the token to this app (repeatable)")
	create.Flags().StringSliceVar(&opts.Envs, "env", nil, "limit the token to this environment (repeatable)")
	create.Flags().StringVar(&opts.Expires, "expires", "90d", "lifetime: a duration (90d, 12h) or never")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{Use: "list", Short: "List tokens (never their secrets)", Args: cobra.NoArgs, RunE: run("list")}
	revoke := &cobra.Command{Use: "revoke TOKEN_ID", Short: "Revoke a token: requests with it fail from now on", Args: cobra.ExactArgs(1), RunE: run("revoke")}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
		cmd.AddCommand(c)
	}
	return cmd
}

// Run runs one subcommand.
func Run(ctx context.Context, name string, opts *Options) error {
	st, err := cmdutil.OpenStore(ctx, opts.Config, store.Options{Logger: opts.Factory.Logger(opts.Config)}, true)
	if err != nil {
		return err
	}
	defer st.Close()
	out := opts.Factory.IO.Out
	now := opts.Now()
	actor := "cli:" + localUser()
	switch name {
	case "create":
		role, err := access.ParseRole(opts.Role)
		if err != nil {
			return cmdutil.UsageError(fmt.Errorf("--role: %w", err))
		}
		ct, err := auth.NewTokenRecord(auth.CreateTokenRequest{Name: opts.Name, Role: role, ExpiresIn: opts.Expires,
			Scope: access.Scope{Teams: opts.Teams, Apps: opts.Apps, Envs: opts.Envs}}, actor, now)
		if err != nil {
			return cmdutil.UsageError(err)
		}
		if err := st.CreateToken(ctx, ct.Token); err != nil {
			return err
		}
		logAccess(ctx, st, opts.Factory.IO.ErrOut, access.Entry{At: now, Action: access.ActionTokenCreate, Actor: actor, Outcome: access.OutcomeOK,
			Detail: fmt.Sprintf("%s %q role=%s scope=%s", ct.ID, ct.Name, ct.Role, ct.Scope)})
		if opts.Output != "table" {
			return cmdutil.Encode(out, opts.Output, ct)
		}
		expires := "never"
		if !ct.ExpiresAt.IsZero() {
			expires = ct.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(out, "token %s (%s), role %s, scope %s, expires %s\n\n%s\n\nThis is the only time the secret is shown: store it now (for example in your CI's secrets as SHIPLOG_TOKEN).\n",
			ct.ID, ct.Name, ct.Role, ct.Scope, expires, ct.Secret)
		return nil
	case "list":
		ts, err := st.Tokens(ctx)
		if err != nil {
			return err
		}
		views := make([]auth.TokenView, 0, len(ts))
		for _, t := range ts {
			views = append(views, auth.TokenView{Token: t, State: t.State(now)})
		}
		if opts.Output != "table" {
			return cmdutil.Encode(out, opts.Output, views)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tSCOPE\tSTATE\tEXPIRES\tLAST USED\tCREATED BY")
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Name, v.Role, v.Scope, v.State, when(v.ExpiresAt, "never"), when(v.LastUsedAt, "-"), v.CreatedBy)
		}
		return tw.Flush()
	case "revoke":
		err := st.RevokeToken(ctx, opts.ID, now)
		if errors.Is(err, access.ErrNotFound) {
			return cmdutil.UsageError(fmt.Errorf("no token %s (see shiplog token list)", opts.ID))
		}
		if err != nil {
			return err
		}
		logAccess(ctx, st, opts.Factory.IO.ErrOut, access.Entry{At: now, Action: access.ActionTokenRevoke, Actor: actor, Outcome: access.OutcomeOK, Detail: opts.ID})
		fmt.Fprintf(out, "token %s revoked\n", opts.ID)
		return nil
	}
	return fmt.Errorf("unknown token command %q", name)
}

func logAccess(ctx context.Context, st *store.Store, errOut io.Writer, e access.Entry) {
	if err := st.LogAccess(ctx, e); err != nil {
		fmt.Fprintln(errOut, "warning: access log:", err)
	}
}

func when(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// localUser names who ran the command, for the access log.
func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return strings.ReplaceAll(u.Username, " ", "_")
	}
	return "unknown"
}
