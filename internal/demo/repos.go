package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// manifest renders an app's workload in one environment: a Knative
// Service, or a Deployment for the apps that are not on Knative.
func manifest(a service, env, image string) []byte {
	ns := a.Name + "-" + env
	if !a.Knative {
		return []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + a.Name + `
  namespace: ` + ns + `
  labels:
    app.kubernetes.io/name: ` + a.Name + `
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: ` + a.Name + `
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ` + a.Name + `
    spec:
      containers:
        - name: ` + a.Name + `
          image: ` + image + `
          ports:
            - containerPort: 8080
`)
	}
	return []byte(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ` + a.Name + `
  namespace: ` + ns + `
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
    spec:
      containers:
        - image: ` + image + `
          ports:
            - containerPort: 8080
`)
}

func manifestPath(appName, env string) string {
	return "apps/" + appName + "/envs/" + env + "/service.yaml"
}

func sourceMessage(c *srcCommit, pr int64) string {
	if pr > 0 {
		return fmt.Sprintf("%s (#%d)\n", c.Msg, pr)
	}
	return c.Msg + "\n"
}

// writeSources writes each app's source repository under dir/src/<app>
// and fills the commits' SHAs.
func writeSources(ctx context.Context, dir string, p *plan) error {
	errs := make([]error, len(p.Apps))
	var wg sync.WaitGroup
	for i, ap := range p.Apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = writeSource(ctx, dir, ap)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func writeSource(ctx context.Context, dir string, ap *appPlan) error {
	{
		repo := filepath.Join(dir, "src", ap.App.Name)
		if err := initRepo(ctx, repo, repoURL(ap.App.Name)); err != nil {
			return err
		}
		prs := map[*srcCommit]int64{}
		for _, ch := range ap.Changes {
			prs[ch.Commit] = ch.PR
		}
		commits := make([]gitCommit, len(ap.Commits))
		for i, c := range ap.Commits {
			commits[i] = gitCommit{Author: c.Author, Authored: c.At, Committed: c.At, Message: sourceMessage(c, prs[c]),
				Files: map[string][]byte{"changes/" + strconv.Itoa(c.Idx) + ".md": []byte(c.Msg + "\n")}}
			if i == 0 {
				commits[i].Files["README.md"] = []byte("# " + ap.App.Name + "\n")
			}
		}
		shas, err := fastImport(ctx, repo, "", commits)
		if err != nil {
			return err
		}
		for i, c := range ap.Commits {
			c.SHA = shas[i]
		}
	}
	return nil
}

// gitopsSubject is the first line of a GitOps commit's message.
func gitopsSubject(g *gitopsCommit, lastSubject string) string {
	tag := "sha-" + g.Image.SHA[:7]
	var s string
	switch g.Kind {
	case kindBump:
		s = fmt.Sprintf("chore(%s): update %s to %s", g.Env, g.App, tag)
	case kindPromote:
		s = fmt.Sprintf("Promote %s %s to %s", g.App, tag, g.Env)
	case kindRollback:
		s = fmt.Sprintf("Roll back %s in %s to %s", g.App, g.Env, tag)
	case kindRevert:
		s = fmt.Sprintf("Revert %q", lastSubject)
	}
	if g.PR > 0 {
		s += fmt.Sprintf(" (#%d)", g.PR)
	}
	return s
}

// gitopsWriter appends commits to the GitOps repository.
type gitopsWriter struct {
	dir  string
	head string
	last map[string]string // app/env → subject of its last commit
	apps map[string]service
}

func newGitopsWriter(ctx context.Context, dir string) (*gitopsWriter, error) {
	if err := initRepo(ctx, dir, "https://github.com/"+org+"/gitops"); err != nil {
		return nil, err
	}
	w := &gitopsWriter{dir: dir, last: map[string]string{}, apps: map[string]service{}}
	for _, a := range apps() {
		w.apps[a.Name] = a
	}
	return w, nil
}

// write commits gs in order and fills their SHAs and subjects.
func (w *gitopsWriter) write(ctx context.Context, gs []*gitopsCommit) error {
	commits := make([]gitCommit, len(gs))
	for i, g := range gs {
		key := g.App + "/" + g.Env
		g.Subject = gitopsSubject(g, w.last[key])
		w.last[key] = g.Subject
		msg := g.Subject + "\n"
		if g.Kind == kindBump {
			msg += "\nShiplog-Source-Commit: " + g.Image.SHA + "\n"
		}
		commits[i] = gitCommit{Author: g.Author, Authored: g.At, Committed: g.At, Message: msg,
			Files: map[string][]byte{manifestPath(g.App, g.Env): manifest(w.apps[g.App], g.Env, imageRef(g.App, g.Image.SHA))}}
	}
	shas, err := fastImport(ctx, w.dir, w.head, commits)
	if err != nil {
		return err
	}
	for i, g := range gs {
		g.SHA = shas[i]
	}
	if len(shas) > 0 {
		w.head = shas[len(shas)-1]
	}
	return nil
}

// rfc formats a time for payloads, in UTC, whole seconds.
func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func shortSHA(s string) string { return strings.ToLower(s[:7]) }
