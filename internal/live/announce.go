package live

import (
	"encoding/json"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Replicas of shiplog sharing one PostgreSQL database tell each other of
// their appends: each announces the notice of its appends inside the append
// transaction (store.Options.Announce) and publishes, on its own hub, the
// notices other replicas announce (store.Store.Listen). An announcement is
// the notice and the origin (the announcing process), so that a replica
// does not publish its own appends twice.

type announcement struct {
	Origin string `json:"origin"`
	Batch
}

// Announcement is the announcement, by origin, of stored events: at most
// limit bytes (past it, the notice says "any app" instead of naming them).
func Announcement(origin string, events []delivery.Event, limit int) string {
	a := announcement{Origin: origin, Batch: Summarize(events)}
	p, _ := json.Marshal(a)
	if len(p) > limit {
		a.Apps, a.AnyApp = []string{}, true
		p, _ = json.Marshal(a)
	}
	return string(p)
}

// ParseAnnouncement reads an announcement. A payload that is empty or not
// an announcement (announcements were missed, or one was too long) reads
// as a notice that anything may have changed, from no known origin.
func ParseAnnouncement(payload string) (origin string, b Batch) {
	var a announcement
	if payload == "" || json.Unmarshal([]byte(payload), &a) != nil || a.Origin == "" {
		return "", Batch{AnyApp: true}.normalize()
	}
	return a.Origin, a.Batch.normalize()
}
