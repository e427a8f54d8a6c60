package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/store"
)

// KillChildEnv, when set in a test binary's environment, makes KillChild
// take over the process.
const KillChildEnv = "SHIPLOG_KILL_CHILD"

// KillChild is the child half of the crash test: called from TestMain, when
// KillChildEnv is set it appends generated events from several goroutines
// forever, printing "ack <id>" for each event once Append has returned, and
// never returns (the parent kills it). open opens the store named by the
// variable's value.
func KillChild(open func(ctx context.Context, target string) (*store.Store, error)) {
	target := os.Getenv(KillChildEnv)
	if target == "" {
		return
	}
	ctx := context.Background()
	s, err := open(ctx, target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kill child: open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for w := range 4 {
		go func() {
			g := NewGenerator(uint64(100+w), fmt.Sprintf("crash-%d", w))
			for {
				events := g.Events(50)
				if _, err := s.Append(ctx, events...); err != nil {
					fmt.Fprintln(os.Stderr, "kill child: append:", err)
					os.Exit(2)
				}
				mu.Lock()
				for _, e := range events {
					fmt.Fprintf(out, "ack %s %s\n", e.Source, e.ID)
				}
				_ = out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

// KillParent is the parent half: it runs this test binary as a child with
// KillChildEnv=target, reads acknowledgements until at least minAcks, kills
// the child with SIGKILL, then reopens the store and checks that every
// acknowledged event is there.
// fresh opens an empty store to rebuild the derived model from the recovered
// log, for comparison.
func KillParent(t *testing.T, target string, minAcks int, reopen func(t *testing.T) *store.Store, fresh Opener) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), KillChildEnv+"="+target)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[[2]string]bool{}
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue // a torn last line after the kill
		}
		acked[[2]string{f[1], f[2]}] = true
		if !killed && len(acked) >= minAcks {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited after %d acknowledgements without being killed: %v", len(acked), err)
	}
	t.Logf("killed the writer after %d acknowledged events", len(acked))

	s := reopen(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events, err := s.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[[2]string]bool, len(events))
	for _, e := range events {
		stored[[2]string{e.Source, e.ID}] = true
	}
	missing := 0
	for k := range acked {
		if !stored[k] {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged event %s/%s is not in the store after the kill", k[0], k[1])
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events lost", missing, len(acked))
	}
	if len(stored) < len(acked) {
		t.Fatalf("store holds %d events, fewer than the %d acknowledged", len(stored), len(acked))
	}
	t.Logf("store holds %d events: all %d acknowledged ones, and %d written but not yet acknowledged", len(stored), len(acked), len(stored)-len(acked))
	// The derived model matches one rebuilt from the recovered log: no
	// transaction was half applied.
	ref := fresh(t)
	mustAppend(t, ref, events...)
	sameSnapshot(t, TakeSnapshot(t, s), TakeSnapshot(t, ref))
}
