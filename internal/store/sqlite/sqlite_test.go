package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func openTemp(t *testing.T) *store.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "shiplog.db"))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp)
}

func TestOnAppendSeesOnlyNewEvents(t *testing.T) {
	var got []int64
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{
		OnAppend: func(events []delivery.Event) {
			for _, e := range events {
				got = append(got, e.Seq)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	events := storetest.NewGenerator(1, "test").Events(10)
	res, err := s.Append(context.Background(), events...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), events[:5]...); err != nil { // re-delivery: not new
		t.Fatal(err)
	}
	if len(got) != 10 || got[0] != res.Seqs[0] || got[9] != res.Seqs[9] {
		t.Errorf("OnAppend saw seqs %v, want the 10 of the first append %v", got, res.Seqs)
	}
}

// TestNoAnnouncements: SQLite has one writing process: it announces
// nothing, Listen says so at once, and an Announce option is never called.
func TestNoAnnouncements(t *testing.T) {
	called := false
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{
		Announce: func([]delivery.Event) string { called = true; return "x" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.CanAnnounce() {
		t.Error("a SQLite store says it announces")
	}
	if err := s.Listen(context.Background(), func(string) {}); !errors.Is(err, store.ErrNoAnnouncer) {
		t.Errorf("Listen = %v, want ErrNoAnnouncer", err)
	}
	ev := delivery.Event{Source: "kube", ID: "1", Type: delivery.ScaleSampled, Time: time.Now(), App: "a", Env: "prod",
		Payload: &delivery.Scale{Revision: "a-00001", Service: "a", Actual: 1}}
	if _, err := s.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("Announce was called on a store that cannot announce")
	}
}
