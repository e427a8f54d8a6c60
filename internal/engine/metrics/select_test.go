package metrics

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// percentile selects what Percentile reads from sorted values, and sum128
// adds exactly: both must match the sort-based definitions.
func TestPercentileBySelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 300; n++ {
		for _, spread := range []int{3, 1000, 1 << 30} {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(rng.IntN(spread))
			}
			sorted := slices.Clone(v)
			slices.Sort(sorted)
			for _, p := range []float64{0, 0.1, 0.5, 0.9, 1} {
				if got, want := percentile(slices.Clone(v), p), Percentile(sorted, p); got != want {
					t.Fatalf("n=%d spread=%d p=%v: percentile %v, Percentile of the sorted values %v", n, spread, p, got, want)
				}
			}
		}
	}
	var s sum128
	var want time.Duration
	for range 1000 {
		d := time.Duration(rng.Int64N(int64(100 * 24 * time.Hour)))
		s.add(int64(d))
		want += d
	}
	if got := s.seconds(); got != want.Seconds() {
		t.Errorf("sum128: %v s, want %v s", got, want.Seconds())
	}
	big := sum128{}
	for range 4 {
		big.add(1 << 62)
	}
	if got := big.seconds(); got != float64(1<<64)/1e9 {
		t.Errorf("sum128 past 64 bits: %v, want %v", got, float64(1<<64)/1e9)
	}
}

func TestStageIndexFollowsStages(t *testing.T) {
	for k, name := range history.Stages {
		if got := stageIndex(name); got != k {
			t.Errorf("stageIndex(%q) = %d, want %d (its place in history.Stages)", name, got, k)
		}
	}
}
