package rollback

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/bump"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	rollbackplan "github.com/shiplog-dev/shiplog/internal/engine/rollback"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// trafficPin is a Knative traffic pin checked and ready to write.
type trafficPin struct {
	file     string // in the repository, slash-separated
	content  []byte // the file pinned
	service  bump.KnativeService
	revision delivery.RevisionRecord
}

// planPin finds the Knative Service in the files the live deployment's
// manifest commit changed and the revision that served the target, and
// pins the Service's traffic to it. The refusals are usage errors: the app
// is no Knative Service there, or the revision is unknown or deleted.
func planPin(ctx context.Context, st *store.Store, opts *Options, plan rollbackplan.Plan) (*trafficPin, error) {
	files, err := manifestFiles(ctx, st, plan.Current)
	if err != nil {
		return nil, err
	}
	type candidate struct {
		file    string
		content []byte
		names   []string
	}
	var cands []candidate
	var unread []string // files that could not be read as manifests
	for _, f := range files {
		content, err := os.ReadFile(filepath.Join(opts.Repo, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		svcs, err := bump.KnativeServices(f, content)
		if err != nil {
			unread = append(unread, err.Error())
		}
		if len(svcs) == 0 {
			continue
		}
		c := candidate{file: f, content: content}
		for _, s := range svcs {
			c.names = append(c.names, s.Name)
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		why := ""
		if len(unread) > 0 {
			why = " (" + strings.Join(unread, "; ") + ")"
		}
		return nil, cmdutil.UsageError(fmt.Errorf("--pin: %s in %s is not a Knative Service: the manifest files of the live deployment (%s) hold none%s; roll back by image instead, without --pin",
			opts.App, opts.Env, strings.Join(files, ", "), why))
	}
	f := store.ModelFilter{App: opts.App, Env: opts.Env}
	recs, err := st.Deployments(ctx, f)
	if err != nil {
		return nil, err
	}
	revs, err := st.Revisions(ctx, f)
	if err != nil {
		return nil, err
	}
	rev, err := rollbackplan.Revision(plan.Target, recs, revs)
	switch {
	case errors.Is(err, rollbackplan.ErrNoRevision):
		return nil, cmdutil.UsageError(fmt.Errorf("--pin: no Knative revision of %s in %s that ran %s is known to shiplog: there is no revision to pin the traffic to; roll back by image instead, without --pin",
			opts.App, opts.Env, plan.Target.Artifact))
	case errors.Is(err, rollbackplan.ErrRevisionDeleted):
		return nil, cmdutil.UsageError(fmt.Errorf("--pin: revision %s, which ran %s for %s in %s, was garbage-collected (deleted at %s): traffic cannot return to it; roll back by image instead, which makes a new revision: shiplog rollback %s --env %s --repo %s --to %s",
			rev.Name, plan.Target.Artifact, opts.App, opts.Env, rev.DeletedAt.UTC().Format(time.RFC3339), opts.App, opts.Env, opts.Repo, cmp.Or(opts.To, plan.Target.Artifact)))
	case err != nil:
		return nil, err
	}
	// Several files with Knative Services: the one of the revision's Service.
	c := cands[0]
	if i := slices.IndexFunc(cands, func(c candidate) bool { return slices.Contains(c.names, rev.Service) }); i >= 0 {
		c = cands[i]
	}
	next, svc, err := bump.PinTraffic(c.file, c.content, bump.TrafficPin{Revision: rev.Name, Service: rev.Service})
	if err != nil {
		return nil, fmt.Errorf("--pin: %w", err)
	}
	if bytes.Equal(next, c.content) {
		return nil, cmdutil.UsageError(fmt.Errorf("--pin: %s already pins the traffic of %s in %s to revision %s", c.file, opts.App, opts.Env, rev.Name))
	}
	return &trafficPin{file: c.file, content: next, service: svc, revision: rev}, nil
}

// write writes the pinned file and commits it with message.
func (p *trafficPin) write(ctx context.Context, repo, message string) error {
	if err := os.WriteFile(filepath.Join(repo, filepath.FromSlash(p.file)), p.content, 0o644); err != nil {
		return err
	}
	if err := git(ctx, repo, "add", "--", p.file); err != nil {
		return err
	}
	return git(ctx, repo, "commit", "-q", "-m", message)
}

// notes tells what the pin does and what it needs.
func (p *trafficPin) notes(out io.Writer) {
	verb := "added to"
	if p.service.Traffic {
		verb = "replaced in"
	}
	fmt.Fprintf(out, "pinned: spec.traffic %s Knative Service %s (%s): 100 %% to revision %s, 0 %% to the latest revision, reachable under the tag %q\n",
		verb, p.service.Name, p.file, p.revision.Name, bump.LatestTag)
	if p.service.TemplateName == "" {
		fmt.Fprintf(out, "note: the Service template sets no revision name (spec.template.metadata.name): %s is a name Knative generated. The pin holds while that revision exists, and Knative does not garbage-collect a revision the traffic routes to.\n", p.revision.Name)
	}
	fmt.Fprintf(out, "note: while the pin stays, a new revision (the next image bump) gets no traffic, only the tag %q; delete spec.traffic to route to the latest revision again.\n", bump.LatestTag)
}
