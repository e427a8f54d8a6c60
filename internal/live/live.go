// Package live fans out "the store changed" notices to the web UI's
// subscribers as server-sent events. The store's writer publishes each
// committed batch through Hub.Publish, which never blocks: a subscriber that
// has not read its last notice yet gets the new one merged into it
// (coalesced), so a slow browser costs one pending notice, never a queue.
package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// maxApps bounds the apps a notice names; past it the notice says "any app".
const maxApps = 64

// Batch summarises one or more committed appends.
type Batch struct {
	Seq    int64    `json:"seq"`    // highest log position in the batch
	Events int      `json:"events"` // events stored
	Types  []string `json:"types"`  // event types, sorted
	Apps   []string `json:"apps"`   // apps named by the events, sorted; see AnyApp
	// AnyApp is set when the notice names too many apps to list them, or
	// merges notices of which one did: every app may have changed.
	AnyApp bool `json:"any_app,omitempty"`
}

// Summarize builds the notice for events.
func Summarize(events []delivery.Event) Batch {
	var b Batch
	for _, e := range events {
		b.Events++
		b.Seq = max(b.Seq, e.Seq)
		b.Types = append(b.Types, string(e.Type))
		if e.App != "" {
			b.Apps = append(b.Apps, e.App)
		}
	}
	return b.normalize()
}

// Merge returns the notice that says what b and o say together.
func (b Batch) Merge(o Batch) Batch {
	m := Batch{Seq: max(b.Seq, o.Seq), Events: b.Events + o.Events, AnyApp: b.AnyApp || o.AnyApp,
		Types: append(slices.Clone(b.Types), o.Types...), Apps: append(slices.Clone(b.Apps), o.Apps...)}
	return m.normalize()
}

func (b Batch) normalize() Batch {
	slices.Sort(b.Types)
	b.Types = slices.Compact(b.Types)
	slices.Sort(b.Apps)
	b.Apps = slices.Compact(b.Apps)
	if b.AnyApp || len(b.Apps) > maxApps {
		b.AnyApp, b.Apps = true, nil
	}
	if b.Types == nil {
		b.Types = []string{}
	}
	if b.Apps == nil {
		b.Apps = []string{}
	}
	return b
}

// Options tune a Hub. The zero value is usable.
type Options struct {
	// MaxSubscribers bounds concurrent subscriptions (default 1000); past
	// it Subscribe fails and the stream answers 503.
	MaxSubscribers int
	// Heartbeat is the interval of keep-alive comments on a stream
	// (default 15 s).
	Heartbeat time.Duration
	// Retry is the reconnection delay the stream tells browsers (default 2 s).
	Retry time.Duration
}

// Hub is an in-process broadcaster. Its zero value is not usable: use New.
type Hub struct {
	opts Options

	mu     sync.Mutex
	closed bool
	subs   map[*sub]struct{}
	gen    uint64 // Publish calls so far
}

type sub struct {
	ch chan Batch // capacity 1: the pending notice
}

// New returns a hub.
func New(opts Options) *Hub {
	if opts.MaxSubscribers <= 0 {
		opts.MaxSubscribers = 1000
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = 2 * time.Second
	}
	return &Hub{opts: opts, subs: map[*sub]struct{}{}}
}

// ErrTooMany is returned by Subscribe when the hub has MaxSubscribers.
var ErrTooMany = fmt.Errorf("too many live subscribers")

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = fmt.Errorf("live hub is closed")

// Subscribe returns a channel of notices that stays open until ctx ends or
// the hub closes; then it is closed. A notice not read before the next
// Publish is merged with it.
func (h *Hub) Subscribe(ctx context.Context) (<-chan Batch, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if len(h.subs) >= h.opts.MaxSubscribers {
		return nil, ErrTooMany
	}
	s := &sub{ch: make(chan Batch, 1)}
	h.subs[s] = struct{}{}
	context.AfterFunc(ctx, func() { h.remove(s) })
	return s.ch, nil
}

func (h *Hub) remove(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// Publish tells every subscriber that events were stored. It never blocks:
// it is called from the store's writer (store.Options.OnAppend).
func (h *Hub) Publish(events []delivery.Event) {
	if len(events) == 0 {
		return
	}
	h.PublishBatch(Summarize(events))
}

// PublishBatch tells every subscriber what b says: the notice of appends
// another process made (Announcement). It never blocks.
func (h *Hub) PublishBatch(b Batch) {
	b = b.normalize()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.gen++
	for s := range h.subs {
		select {
		case s.ch <- b:
			continue
		default:
		}
		// The subscriber has not read its pending notice: merge. Only
		// Publish sends, under h.mu, so after the receive there is room.
		nb := b
		select {
		case old := <-s.ch:
			nb = old.Merge(b)
		default:
		}
		select {
		case s.ch <- nb:
		default:
		}
	}
}

// Generation counts Publish calls: a cache built at generation g is stale
// once Generation() != g.
func (h *Hub) Generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// Subscribers is the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription (their streams return) and refuses new
// ones. The server calls it when shutting down, so that open streams do
// not hold the graceful shutdown until its deadline.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}

// ServeHTTP streams notices as server-sent events: a `retry:` line, then
// one `event: append` per notice (data: the Batch as JSON, id: its
// sequence number), and a comment every Heartbeat so that proxies keep the
// connection open. It returns when the client goes away or the hub closes.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serve(w, r, nil) }

// Filtered streams like ServeHTTP, but each notice goes through filter
// first: it returns the notice to send (for example with the apps a
// subscriber may not see removed) and false to send nothing.
func (h *Hub) Filtered(filter func(*http.Request, Batch) (Batch, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, func(b Batch) (Batch, bool) { return filter(r, b) })
	})
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, filter func(Batch) (Batch, bool)) {
	ch, err := h.Subscribe(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n: shiplog live updates\n\n", h.opts.Retry.Milliseconds()); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(h.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-ch:
			if !ok {
				return
			}
			if filter != nil {
				if b, ok = filter(b); !ok {
					continue
				}
			}
			data, _ := json.Marshal(b)
			if _, err := fmt.Fprintf(w, "id: %s\nevent: append\ndata: %s\n\n", strconv.FormatInt(b.Seq, 10), data); err != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}
