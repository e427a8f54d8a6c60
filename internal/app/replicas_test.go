package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// TestReplicasSeeEachOthersAppends: two servers on one PostgreSQL store.
// An event stored by one reaches the other's live stream and pages at
// once (not when its snapshot ages), and the one that stored it tells its
// own subscribers once, not twice.
func TestReplicasSeeEachOthersAppends(t *testing.T) {
	dsn := storetest.PostgresSchema(t, "replicas")
	st, err := app.OpenStore(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	a, _ := start(t, testConfig(dsn))
	_, urlB := start(t, testConfig(dsn))

	if code, _, body := get(t, urlB+"/apps"); code != http.StatusOK || strings.Contains(body, "brand-new-app") {
		t.Fatalf("replica B's /apps: %d, shows the app before it exists: %v", code, strings.Contains(body, "brand-new-app"))
	}
	resp, err := http.Get(urlB + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ownNotices, err := a.Hub().Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lines := streamLines(resp.Body)

	// B's listener starts with the server: append until B hears one (LISTEN
	// takes effect shortly after start), then the one the test is about.
	deadline := time.After(20 * time.Second)
	for i := 0; ; i++ {
		ev := delivery.Event{Source: "kube", ID: fmt.Sprintf("deploy-%d", i), Type: delivery.ServiceDeployed,
			Time: time.Now().UTC(), App: "brand-new-app", Env: "prod", Cluster: "c1", Namespace: "shop",
			Payload: &delivery.Deployment{Artifact: "ghcr.io/acme/brand-new-app:1.0.0", InferredFrom: "knative", Revision: "brand-new-app-00001"}}
		if _, err := a.Store().Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if heard(t, lines, deadline) {
			break
		}
	}
	if code, _, body := get(t, urlB+"/apps"); code != http.StatusOK || !strings.Contains(body, "brand-new-app") {
		t.Errorf("replica B's /apps (%d) does not show the app replica A stored", code)
	}
	// A published each of its appends once: no notice counts an event twice.
	time.Sleep(300 * time.Millisecond)
	var own live.Batch
	select {
	case own = <-ownNotices:
	default:
		t.Fatal("replica A told its own subscribers nothing")
	}
	stored, err := a.Store().CountEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int64(own.Events) != stored {
		t.Errorf("replica A's notices count %d events, it stored %d (its own announcements published again?)", own.Events, stored)
	}
}

// streamLines reads an event stream's lines into a channel, closed when
// the stream ends.
func streamLines(body io.Reader) <-chan string {
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// heard reads the stream until a notice naming brand-new-app arrives
// (true) or 500 ms pass (false).
func heard(t *testing.T, lines <-chan string, deadline <-chan time.Time) bool {
	t.Helper()
	wait := time.After(500 * time.Millisecond)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("replica B's event stream ended")
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, `"brand-new-app"`) {
				return true
			}
		case <-wait:
			return false
		case <-deadline:
			t.Fatal("replica B heard nothing of replica A's appends in 20 s")
		}
	}
}
