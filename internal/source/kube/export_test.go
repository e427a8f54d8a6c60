package kube

import "time"

// SetRediscoverEvery makes the source look for kinds not served more
// often; it returns a function restoring the default.
func SetRediscoverEvery(d time.Duration) (restore func()) {
	old := rediscoverEvery
	rediscoverEvery = d
	return func() { rediscoverEvery = old }
}
