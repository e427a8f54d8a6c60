package git_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/git/gitopsgen"
)

// BenchmarkImportGitOpsRepo generates a GitOps repository (50,000
// first-parent commits by default; SHIPLOG_BENCH_GIT_COMMITS overrides),
// then times, as whole processes, `git log --first-parent -p --no-renames`
// on its YAML files (output discarded) and `shiplog import git` into a
// fresh SQLite store, and reports both, their ratio and shiplog's peak
// resident memory.
func BenchmarkImportGitOpsRepo(b *testing.B) {
	commits := 50_000
	if v := os.Getenv("SHIPLOG_BENCH_GIT_COMMITS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("SHIPLOG_BENCH_GIT_COMMITS=%q: %v", v, err)
		}
		commits = n
	}
	ctx := context.Background()
	tmp := b.TempDir()
	repo := filepath.Join(tmp, "gitops")
	genStart := time.Now()
	stats, err := gitopsgen.Generate(ctx, repo, gitopsgen.Options{Commits: commits, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d commits (%d merges, %d image changes, %d apps) in %s", stats.Commits, stats.Merges, stats.ImageChanges.Total(), stats.Apps, time.Since(genStart))
	bin := filepath.Join(tmp, "shiplog")
	build := exec.Command("go", "build", "-o", bin, "github.com/shiplog-dev/shiplog/cmd/shiplog")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build shiplog: %v\n%s", err, out)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()

	var gitBest, importBest time.Duration
	var peakKB int64
	var summary string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		git := exec.Command("git", "log", "--first-parent", "-p", "--no-renames", "--", "*.yaml", "*.yml")
		git.Dir, git.Stdout = repo, devnull
		d, _, err := timed(git)
		if err != nil {
			b.Fatalf("git log: %v", err)
		}
		if gitBest == 0 || d < gitBest {
			gitBest = d
		}
		db := filepath.Join(tmp, fmt.Sprintf("bench-%d.db", i))
		imp := exec.Command(bin, "import", "git", "--repo", repo, "--db", db, "--output", "json")
		var out strings.Builder
		imp.Stdout = &out
		d, kb, err := timed(imp)
		if err != nil {
			b.Fatalf("shiplog import git: %v\n%s", err, out.String())
		}
		if importBest == 0 || d < importBest {
			importBest = d
		}
		peakKB = max(peakKB, kb)
		summary = out.String()
	}
	b.StopTimer()
	if !strings.Contains(summary, fmt.Sprintf(`"commits_scanned": %d`, stats.Commits)) {
		b.Fatalf("the import did not scan %d commits:\n%.2000s", stats.Commits, summary)
	}
	ratio := importBest.Seconds() / gitBest.Seconds()
	b.ReportMetric(gitBest.Seconds(), "git-log-s")
	b.ReportMetric(importBest.Seconds(), "import-s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(peakKB)/1024, "peak-MB")
	b.ReportMetric(float64(stats.Commits)/importBest.Seconds(), "commits/s")
	fmt.Printf("BENCH git/import_%dk_commits_git_log_seconds %.3f s\n", commits/1000, gitBest.Seconds())
	fmt.Printf("BENCH git/import_%dk_commits_shiplog_seconds %.3f s\n", commits/1000, importBest.Seconds())
	fmt.Printf("BENCH git/import_%dk_commits_ratio %.3f x\n", commits/1000, ratio)
	fmt.Printf("BENCH git/import_%dk_commits_peak_rss %.1f MB\n", commits/1000, float64(peakKB)/1024)
}

// timed runs cmd and returns its wall time and peak resident set (KiB).
func timed(cmd *exec.Cmd) (time.Duration, int64, error) {
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var kb int64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			kb = ru.Maxrss
		}
	}
	return d, kb, err
}
