package git

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// graph is a source repository's commit graph, loaded once, for resolving
// short SHAs and listing the commits a deployment shipped.
type graph struct {
	repo    *Repo
	commits map[string]*node
	sorted  []string // all SHAs, sorted, for prefix lookup
}

type node struct {
	sha         string
	parents     []string
	authorName  string
	authorEmail string
	authoredAt  time.Time
	committedAt time.Time
	subject     string
}

func loadGraph(ctx context.Context, r *Repo) (*graph, error) {
	cmd := exec.CommandContext(ctx, "git", "log", "--all", "-z", "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%s")
	cmd.Dir = r.Dir
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &graph{repo: r, commits: map[string]*node{}}
	br := bufio.NewReaderSize(out, 1<<20)
	field := func() (string, error) {
		s, err := br.ReadString(0)
		return strings.TrimSuffix(strings.TrimPrefix(s, "\n"), "\x00"), err
	}
	for {
		var f [7]string
		var err error
		for i := range f {
			if f[i], err = field(); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
		at, _ := strconv.ParseInt(f[4], 10, 64)
		ct, _ := strconv.ParseInt(f[5], 10, 64)
		g.commits[f[0]] = &node{sha: f[0], parents: strings.Fields(f[1]), authorName: f[2], authorEmail: f[3],
			authoredAt: time.Unix(at, 0).UTC(), committedAt: time.Unix(ct, 0).UTC(), subject: f[6]}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("read source repository %s: %s", r.ID, strings.TrimSpace(stderr.String()))
	}
	g.sorted = make([]string, 0, len(g.commits))
	for s := range g.commits {
		g.sorted = append(g.sorted, s)
	}
	sort.Strings(g.sorted)
	return g, nil
}

// resolve expands a SHA prefix (7+ hex) to the one commit it names, or "".
func (g *graph) resolve(prefix string) string {
	prefix = strings.ToLower(prefix)
	i := sort.SearchStrings(g.sorted, prefix)
	if i == len(g.sorted) || !strings.HasPrefix(g.sorted[i], prefix) {
		return ""
	}
	if i+1 < len(g.sorted) && strings.HasPrefix(g.sorted[i+1], prefix) {
		return "" // ambiguous
	}
	return g.sorted[i]
}

// shipped lists the commits reachable from to but not from from (git's
// `to ^from`), newest first, at most limit. With from empty it is [to].
func (g *graph) shipped(to, from string, limit int) []string {
	if to == "" || g.commits[to] == nil {
		return nil
	}
	if from == "" || g.commits[from] == nil {
		return []string{to}
	}
	const (
		fromTo   = 1 // reachable from to
		fromFrom = 2 // reachable from from
	)
	flags := map[string]int{}
	q := &nodeQueue{}
	push := func(sha string, f int) {
		n := g.commits[sha]
		if n == nil {
			return
		}
		old := flags[sha]
		if old|f == old {
			return
		}
		flags[sha] = old | f
		heap.Push(q, queued{n, old | f})
	}
	push(to, fromTo)
	push(from, fromFrom)
	var out []string
	for q.Len() > 0 {
		// Stop once only commits reachable from `from` remain queued.
		onlyFrom := true
		for _, e := range *q {
			if flags[e.n.sha]&fromFrom == 0 {
				onlyFrom = false
				break
			}
		}
		if onlyFrom {
			break
		}
		e := heap.Pop(q).(queued)
		f := flags[e.n.sha]
		if f != e.flags {
			continue // a stale entry: the commit was reached again with more flags
		}
		if f == fromTo {
			out = append(out, e.n.sha)
			if len(out) >= limit {
				break
			}
		}
		for _, p := range e.n.parents {
			push(p, f)
		}
	}
	// A commit first listed, then found reachable from `from`, is not shipped.
	kept := out[:0]
	for _, s := range out {
		if flags[s]&fromFrom == 0 {
			kept = append(kept, s)
		}
	}
	return kept
}

type queued struct {
	n     *node
	flags int
}

// nodeQueue pops the newest commit first.
type nodeQueue []queued

func (q nodeQueue) Len() int { return len(q) }
func (q nodeQueue) Less(i, j int) bool {
	if !q[i].n.committedAt.Equal(q[j].n.committedAt) {
		return q[i].n.committedAt.After(q[j].n.committedAt)
	}
	return q[i].n.sha < q[j].n.sha
}
func (q nodeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *nodeQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *nodeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
