package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// BenchAppend measures append throughput with durability on, the way events
// arrive in practice: bulk imports in large batches, and many webhook
// deliveries at once, each a single event, gathered by group commit.
// Each reports events/s.
func BenchAppend(b *testing.B, open func(b *testing.B) *store.Store) {
	b.Run("batch=1000", func(b *testing.B) {
		s := open(b)
		g := NewGenerator(1, "bench")
		events := g.Events(b.N * 1000)
		b.ResetTimer()
		for chunk := range slices.Chunk(events, 1000) {
			if _, err := s.Append(context.Background(), chunk...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(events))/b.Elapsed().Seconds(), "events/s")
	})
	for _, c := range []struct {
		name            string
		clients, perReq int
	}{
		{"concurrent=64/batch=1", 64, 1},
		{"concurrent=8/batch=100", 8, 100},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := open(b)
			g := NewGenerator(2, "bench")
			events := g.Events(b.N * 1000)
			parts := make([][]delivery.Event, c.clients)
			for i, e := range events {
				parts[i%c.clients] = append(parts[i%c.clients], e)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, part := range parts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for chunk := range slices.Chunk(part, c.perReq) {
						if _, err := s.Append(context.Background(), chunk...); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(len(events))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
