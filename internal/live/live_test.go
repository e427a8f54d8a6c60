package live_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/live"
)

func ev(seq int64, typ delivery.EventType, app string) delivery.Event {
	return delivery.Event{Seq: seq, Type: typ, App: app}
}

// recv waits for a notice, failing after a deadline.
func recv(t *testing.T, ch <-chan live.Batch) (live.Batch, bool) {
	t.Helper()
	select {
	case b, ok := <-ch:
		return b, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no notice within 5 s")
	}
	return live.Batch{}, false
}

func TestPublishCoalescesForSlowSubscribers(t *testing.T) {
	h := live.New(live.Options{})
	ch, err := h.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads while 1000 batches are published: Publish must not block.
	done := make(chan struct{})
	go func() {
		for i := range 1000 {
			app := "a"
			if i == 999 {
				app = "b"
			}
			h.Publish([]delivery.Event{ev(int64(i+1), delivery.ServiceDeployed, app), ev(int64(i+1), delivery.CommitAuthored, "")})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	b, _ := recv(t, ch)
	want := live.Batch{Seq: 1000, Events: 2000, Types: []string{"commit.authored", "service.deployed"}, Apps: []string{"a", "b"}}
	if b.Seq != want.Seq || b.Events != want.Events || !slices.Equal(b.Types, want.Types) || !slices.Equal(b.Apps, want.Apps) {
		t.Errorf("got %+v, want %+v", b, want)
	}
	select {
	case b := <-ch:
		t.Errorf("got a second notice %+v, want everything merged into one", b)
	default:
	}
	if g := h.Generation(); g != 1000 {
		t.Errorf("generation %d, want 1000", g)
	}
}

func TestManyAppsBecomeAnyApp(t *testing.T) {
	var events []delivery.Event
	for i := range 100 {
		events = append(events, ev(int64(i), delivery.ServiceDeployed, "app-"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	b := live.Summarize(events)
	if !b.AnyApp || len(b.Apps) != 0 {
		t.Errorf("got AnyApp=%v apps=%d, want AnyApp and no list", b.AnyApp, len(b.Apps))
	}
	if m := (live.Batch{Apps: []string{"x"}}).Merge(b); !m.AnyApp {
		t.Error("merging with an any-app notice lost AnyApp")
	}
}

func TestUnsubscribeAndClose(t *testing.T) {
	h := live.New(live.Options{MaxSubscribers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := h.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := h.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(t.Context()); err != live.ErrTooMany {
		t.Errorf("third subscription: %v, want ErrTooMany", err)
	}
	cancel()
	if _, ok := recv(t, ch); ok {
		t.Error("channel still open after its context ended")
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("%d subscribers after a cancel, want 1", n)
	}
	h.Close()
	if _, ok := recv(t, ch2); ok {
		t.Error("channel still open after Close")
	}
	if _, err := h.Subscribe(t.Context()); err != live.ErrClosed {
		t.Errorf("subscribe after Close: %v, want ErrClosed", err)
	}
	h.Publish([]delivery.Event{ev(1, delivery.ServiceDeployed, "a")}) // no panic after Close
}

func TestStream(t *testing.T) {
	h := live.New(live.Options{Heartbeat: 20 * time.Millisecond, Retry: 1500 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("content type %q", ct)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no line within 5 s")
		}
		return ""
	}
	if l := next(); l != "retry: 1500" {
		t.Errorf("first line %q, want retry: 1500", l)
	}
	// A heartbeat comes without any event.
	for l := next(); l != ": heartbeat"; l = next() {
	}
	// Wait until the handler has subscribed (it has: it sent a heartbeat), then publish.
	h.Publish([]delivery.Event{ev(42, delivery.ServiceUpgraded, "checkout")})
	for l := next(); l != "event: append"; l = next() {
		if l == "id: 42" {
			continue
		}
	}
	data := strings.TrimPrefix(next(), "data: ")
	var b live.Batch
	if err := json.Unmarshal([]byte(data), &b); err != nil || b.Seq != 42 || !slices.Equal(b.Apps, []string{"checkout"}) {
		t.Errorf("data %q (%v), want seq 42 for checkout", data, err)
	}
	// Closing the hub ends the stream.
	h.Close()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("stream still open 5 s after Close")
		}
	}
}

func TestStreamUnsubscribesOnDisconnect(t *testing.T) {
	h := live.New(live.Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("%d subscribers while streaming, want 1", n)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for h.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscription still open 5 s after the client left")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
