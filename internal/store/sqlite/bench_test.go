package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// BenchmarkAppend: append throughput on SQLite, WAL with synchronous=FULL
// (every acknowledged transaction is fsynced).
func BenchmarkAppend(b *testing.B) {
	storetest.BenchAppend(b, func(b *testing.B) *store.Store {
		return openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	})
}
