package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func openTemp(t *testing.T) *store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "shiplog.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp)
}
