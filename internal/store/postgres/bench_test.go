package postgres_test

import (
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// BenchmarkAppend: append throughput on PostgreSQL with its default
// durability (synchronous_commit on, fsync on).
func BenchmarkAppend(b *testing.B) {
	storetest.BenchAppend(b, func(b *testing.B) *store.Store {
		s, _ := openTempDSN(b)
		return s
	})
}
