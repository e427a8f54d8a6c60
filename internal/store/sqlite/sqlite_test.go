package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func openTemp(t *testing.T) *store.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "shiplog.db"))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp)
}
