package trace

import (
	"slices"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Allow reports whether data of app (owned by team) in env may be shown.
type Allow func(app, team, env string) bool

// Scope returns the part of in that allow permits, for a principal limited
// to some teams, apps or environments (docs/security.md):
//
//   - deployments, syncs, revisions and traffic of the allowed apps and
//     environments;
//   - commits, pull requests, pipeline runs and artifacts that an allowed
//     deployment shipped, and those of source repositories whose
//     deployments are all allowed (so a team sees its changes in flight);
//     a repository no deployment links to yet, or one that also ships a
//     hidden app, shows only what allowed deployments shipped.
//
// teams maps an app to its team.
func Scope(in Input, allow Allow, teams func(app string) string) Input {
	var out Input
	shas := map[string]bool{}      // commits an allowed deployment shipped
	hidden := map[string]bool{}    // commits a hidden deployment shipped
	artifacts := map[string]bool{} // artifacts of allowed deployments
	for _, d := range in.Deployments {
		ok := allow(d.App, d.Team, d.Env)
		set := hidden
		if ok {
			set = shas
			out.Deployments = append(out.Deployments, d)
			artifacts[d.Artifact] = true
			if i := strings.Index(d.Artifact, "@"); i >= 0 {
				artifacts[d.Artifact[i:]] = true // by digest
			}
		}
		for _, c := range d.Changes {
			set[c.SHA] = true
		}
		if d.SourceCommit != "" {
			set[d.SourceCommit] = true
		}
	}
	allowed, notAllowed := newSHASet(shas), newSHASet(hidden)
	repos, hiddenRepos := map[string]bool{}, map[string]bool{}
	for _, c := range in.Commits {
		if allowed.has(c.SHA) {
			repos[c.Repo] = true
		}
		if notAllowed.has(c.SHA) {
			hiddenRepos[c.Repo] = true
		}
	}
	visible := func(repo, sha string) bool {
		return allowed.has(sha) || (repo != "" && repos[repo] && !hiddenRepos[repo])
	}
	for _, c := range in.Commits {
		if visible(c.Repo, c.SHA) {
			out.Commits = append(out.Commits, c)
		}
	}
	for _, c := range in.Changes {
		if visible(c.Repo, c.MergeSHA) || (c.HeadSHA != "" && visible(c.Repo, c.HeadSHA)) {
			out.Changes = append(out.Changes, c)
		}
	}
	for _, p := range in.PipelineRuns {
		if visible(p.Repo, p.SHA) {
			out.PipelineRuns = append(out.PipelineRuns, p)
		}
	}
	for _, a := range in.Artifacts {
		if visible(a.SourceRepo, a.SourceCommit) || artifactShipped(artifacts, a) {
			out.Artifacts = append(out.Artifacts, a)
		}
	}
	for _, s := range in.Syncs {
		if allow(s.App, teams(s.App), s.Env) {
			out.Syncs = append(out.Syncs, s)
		}
	}
	for _, r := range in.Revisions {
		if allow(r.App, teams(r.App), r.Env) {
			out.Revisions = append(out.Revisions, r)
		}
	}
	for _, t := range in.Traffic {
		if allow(t.App, teams(t.App), t.Env) {
			out.Traffic = append(out.Traffic, t)
		}
	}
	return out
}

// shaSet holds full or abbreviated SHAs; lookups match prefixes either
// way (sources report abbreviated SHAs), from 7 characters.
type shaSet struct {
	m      map[string]bool
	sorted []string
}

func newSHASet(m map[string]bool) shaSet {
	s := shaSet{m: m}
	for k := range m {
		s.sorted = append(s.sorted, k)
	}
	slices.Sort(s.sorted)
	return s
}

func (s shaSet) has(sha string) bool {
	if sha == "" {
		return false
	}
	if s.m[sha] {
		return true
	}
	for n := 7; n < len(sha); n++ { // a stored prefix of sha
		if s.m[sha[:n]] {
			return true
		}
	}
	if len(sha) < 7 {
		return false
	}
	i, _ := slices.BinarySearch(s.sorted, sha) // a stored SHA sha abbreviates
	return i < len(s.sorted) && strings.HasPrefix(s.sorted[i], sha)
}

func artifactShipped(shipped map[string]bool, a delivery.ArtifactRecord) bool {
	return (a.Tag != "" && shipped[a.Name+":"+a.Tag]) || (a.Digest != "" && shipped["@"+a.Digest])
}

// ScopeDeployments keeps the deployments allow permits.
func ScopeDeployments(deps []history.Deployment, allow Allow) []history.Deployment {
	var out []history.Deployment
	for _, d := range deps {
		if allow(d.App, d.Team, d.Env) {
			out = append(out, d)
		}
	}
	return out
}
