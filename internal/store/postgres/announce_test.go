package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/postgres"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// announcing opens a store on dsn whose appends announce the IDs of the
// events they stored.
func announcing(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, store.Options{Announce: func(events []delivery.Event) string {
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = fmt.Sprintf("%s@%d", e.ID, e.Seq)
		}
		return strings.Join(ids, ",")
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// listen runs s.Listen until the test ends and returns the payloads it
// hears.
func listen(t *testing.T, s *store.Store) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, func(p string) { got <- p }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Listen returned %v, want context.Canceled", err)
		}
	})
	return got
}

func scaleEvent(id string) delivery.Event {
	return delivery.Event{Source: "kube", ID: id, Type: delivery.ScaleSampled, Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		App: "checkout", Env: "prod", Cluster: "c1", Namespace: "shop", Payload: &delivery.Scale{Revision: "checkout-00001", Service: "checkout", Actual: 1, Desired: 1}}
}

func next(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement within 10 s")
		return ""
	}
}

// waitListening appends marker events until the listener hears the one
// just appended: LISTEN takes effect some time after Listen starts.
// Announcements arrive in commit order, so none is pending after it.
func waitListening(t *testing.T, s *store.Store, got <-chan string) {
	t.Helper()
	for i := range 100 {
		marker := fmt.Sprintf("marker-%d@", i)
		if _, err := s.Append(context.Background(), scaleEvent(strings.TrimSuffix(marker, "@"))); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(100 * time.Millisecond)
	wait:
		for {
			select {
			case p := <-got:
				if strings.HasPrefix(p, marker) {
					return
				}
			case <-timeout:
				break wait
			}
		}
	}
	t.Fatal("the listener never heard an append")
}

// TestAnnounceReachesOtherStores: an append on one store is announced to a
// store listening on the same schema, once per commit, with its log
// positions; re-deliveries announce nothing; a store in another schema
// hears nothing.
func TestAnnounceReachesOtherStores(t *testing.T) {
	dsn := storetest.PostgresSchema(t, "announce")
	a := announcing(t, dsn)
	if _, err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !a.CanAnnounce() {
		t.Fatal("a PostgreSQL store does not announce")
	}
	b := announcing(t, dsn)
	other := announcing(t, storetest.PostgresSchema(t, "announce_other"))
	if _, err := other.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	heardB, heardOther := listen(t, b), listen(t, other)
	waitListening(t, a, heardB)
	waitListening(t, other, heardOther)

	res, err := a.Append(context.Background(), scaleEvent("e1"), scaleEvent("e2"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("e1@%d,e2@%d", res.Seqs[0], res.Seqs[1])
	if p := next(t, heardB); p != want {
		t.Errorf("heard %q, want %q", p, want)
	}
	// A re-delivery stores nothing and announces nothing: the next payload
	// heard is the following append's.
	if _, err := a.Append(context.Background(), scaleEvent("e1")); err != nil {
		t.Fatal(err)
	}
	res, err = b.Append(context.Background(), scaleEvent("e3"))
	if err != nil {
		t.Fatal(err)
	}
	if p, want := next(t, heardB), fmt.Sprintf("e3@%d", res.Seqs[0]); p != want {
		t.Errorf("after a re-delivery, heard %q, want %q (its own append)", p, want)
	}
	select {
	case p := <-heardOther:
		t.Errorf("a store in another schema heard %q", p)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestListenReconnects: when the listening connection is killed, Listen
// reconnects and says that announcements may have been missed (the empty
// payload), then hears appends again.
func TestListenReconnects(t *testing.T) {
	dsn := storetest.PostgresSchema(t, "relisten")
	a := announcing(t, dsn)
	if _, err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	heard := listen(t, a)
	waitListening(t, a, heard)

	admin, err := sql.Open("pgx", storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	channel := "shiplog_append:" + schemaOf(t, dsn)
	var killed int
	if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN ' || quote_ident($1)`, channel).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening backends, want 1", killed)
	}
	if p := next(t, heard); p != "" {
		t.Fatalf("after the connection died, heard %q, want the empty payload", p)
	}
	res, err := a.Append(context.Background(), scaleEvent("after"))
	if err != nil {
		t.Fatal(err)
	}
	if p, want := next(t, heard), fmt.Sprintf("after@%d", res.Seqs[0]); p != want {
		t.Errorf("after reconnecting, heard %q, want %q", p, want)
	}
}

func schemaOf(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
