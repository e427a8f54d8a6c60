package argocdapi

import "time"

func init() {
	// Reconnect at once in tests.
	retryMin, retryMax = 20*time.Millisecond, 100*time.Millisecond
}
