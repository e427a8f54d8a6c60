package live_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/live"
)

func TestAnnouncementRoundTrip(t *testing.T) {
	events := []delivery.Event{{Seq: 7, Type: delivery.ServiceDeployed, App: "checkout"}, {Seq: 9, Type: delivery.ScaleSampled, App: "search"}}
	p := live.Announcement("replica-1", events, 7999)
	origin, b := live.ParseAnnouncement(p)
	if origin != "replica-1" || b.Seq != 9 || b.Events != 2 || b.AnyApp ||
		!slices.Equal(b.Apps, []string{"checkout", "search"}) || !slices.Equal(b.Types, []string{string(delivery.ScaleSampled), string(delivery.ServiceDeployed)}) {
		t.Errorf("round trip of %s: origin %q, %+v", p, origin, b)
	}
}

// TestAnnouncementPastItsLimit: a notice too long to announce names no app
// and says that any app may have changed.
func TestAnnouncementPastItsLimit(t *testing.T) {
	var events []delivery.Event
	for i := range 40 {
		events = append(events, delivery.Event{Seq: int64(i + 1), Type: delivery.ServiceDeployed, App: fmt.Sprintf("an-application-with-a-long-name-%02d", i)})
	}
	p := live.Announcement("r", events, 500)
	if len(p) > 500 {
		t.Fatalf("announcement of %d bytes, limit 500", len(p))
	}
	_, b := live.ParseAnnouncement(p)
	if !b.AnyApp || len(b.Apps) != 0 || b.Events != 40 || b.Seq != 40 {
		t.Errorf("over the limit: %+v, want any app, 40 events up to 40", b)
	}
}

// TestParseAnnouncementOfNothing: the empty payload (announcements may
// have been missed) and a payload that is not an announcement both read
// as "anything may have changed", from no origin.
func TestParseAnnouncementOfNothing(t *testing.T) {
	for _, p := range []string{"", "not json", `{"seq":3}`} {
		origin, b := live.ParseAnnouncement(p)
		if origin != "" || !b.AnyApp || b.Apps == nil || b.Types == nil {
			t.Errorf("ParseAnnouncement(%q) = %q, %+v; want no origin, any app, empty lists", p, origin, b)
		}
	}
}
