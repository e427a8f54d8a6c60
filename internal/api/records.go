package api

import (
	"context"
	"net/http"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// ShippedChange is one source commit a recorded deployment shipped.
type ShippedChange struct {
	SHA             string     `json:"sha"`
	CommittedAt     *time.Time `json:"committed_at"`
	LeadTimeSeconds *int64     `json:"lead_time_seconds"`
}

// RecordedDeployment is one deployment as a source recorded it (Git
// history, Argo CD, Knative, CDEvents), before the engine merges the
// records of one deployment: what `shiplog deployments` lists.
type RecordedDeployment struct {
	App            string          `json:"app"`
	Environment    string          `json:"environment"`
	DeployedAt     time.Time       `json:"deployed_at"`
	Kind           string          `json:"kind"`
	Image          string          `json:"image"`
	PreviousImage  string          `json:"previous_image"`
	Repo           string          `json:"repo,omitempty"`
	ManifestCommit string          `json:"manifest_commit"`
	SourceCommit   *string         `json:"source_commit"`
	Rollback       bool            `json:"rollback"`
	Revert         bool            `json:"revert"`
	Rewritten      bool            `json:"rewritten"`
	Author         string          `json:"author"`
	Bot            bool            `json:"bot"`
	PR             *int64          `json:"pr"`
	InferredFrom   string          `json:"inferred_from"`
	Changes        []ShippedChange `json:"changes"`
}

// RecordedDeployments reads the deployment records f selects (not
// removals), oldest first, with the commits they shipped and their lead
// times.
func RecordedDeployments(ctx context.Context, st *store.Store, f store.ModelFilter) ([]RecordedDeployment, error) {
	recs, err := st.Deployments(ctx, f)
	if err != nil {
		return nil, err
	}
	var shas []string
	for _, r := range recs {
		shas = append(shas, r.Changes...)
	}
	commits, err := st.CommitsBySHA(ctx, shas)
	if err != nil {
		return nil, err
	}
	out := make([]RecordedDeployment, 0, len(recs))
	for _, r := range recs {
		if r.Kind == delivery.ServiceRemoved {
			continue
		}
		d := RecordedDeployment{
			App: r.App, Environment: r.Env, DeployedAt: r.Time, Kind: string(r.Kind), Image: r.Artifact, PreviousImage: r.PreviousArtifact,
			Repo: r.Repo, ManifestCommit: r.ManifestCommit, Rollback: r.Kind == delivery.ServiceRolledBack, Revert: r.Revert,
			Rewritten: r.Rewritten, Author: r.Author, Bot: r.Bot, InferredFrom: r.InferredFrom, Changes: []ShippedChange{},
		}
		if r.SourceCommit != "" {
			sc := r.SourceCommit
			d.SourceCommit = &sc
		}
		if r.PR != 0 {
			pr := r.PR
			d.PR = &pr
		}
		for _, sha := range r.Changes {
			c := ShippedChange{SHA: sha}
			if cr, ok := commits[sha]; ok && !cr.CommittedAt.IsZero() {
				t := cr.CommittedAt
				lead := int64(r.Time.Sub(t) / time.Second)
				c.CommittedAt, c.LeadTimeSeconds = &t, &lead
			}
			d.Changes = append(d.Changes, c)
		}
		out = append(out, d)
	}
	return out, nil
}

// deploymentRecords is /api/v1/deployment-records: app, env, since (no
// default: from the first record), until, limit, offset; the principal
// sees the apps and environments in its scope only.
func (a *API) deploymentRecords(r *http.Request) (any, error) {
	q := r.URL.Query()
	f := store.ModelFilter{App: q.Get("app"), Env: q.Get("env")}
	if v := q.Get("since"); v != "" {
		since, err := parseSince(v, a.now())
		if err != nil {
			return nil, err
		}
		f.Since = since
	}
	if v := q.Get("until"); v != "" {
		until, err := parseTime(v)
		if err != nil {
			return nil, bad("until: %v", err)
		}
		f.Until = until
	}
	limit, offset, err := page(r)
	if err != nil {
		return nil, err
	}
	deps, err := RecordedDeployments(r.Context(), a.st, f)
	if err != nil {
		return nil, err
	}
	view := access.ViewOf(r.Context())
	out := make([]RecordedDeployment, 0, len(deps))
	for _, d := range deps {
		if view.Allows(d.App, a.team(d.App), d.Environment) {
			out = append(out, d)
		}
	}
	return paged(out, limit, offset), nil
}
