package delivery

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 5, 7, 33, 3, 0, time.UTC)

func TestValidateNamesTheField(t *testing.T) {
	base := func() Event {
		return Event{Source: "github", ID: "d-1", Type: ChangeMerged, Time: t0,
			Payload: &Change{Repo: "https://github.com/acme/api", Number: 7, MergeSHA: "ea8759964626a583667a2bfd08f334ec2070040a"}}
	}
	tests := []struct {
		name  string
		mut   func(e *Event)
		field string
	}{
		{"valid", func(*Event) {}, ""},
		{"missing source", func(e *Event) { e.Source = "" }, "source"},
		{"source with capitals", func(e *Event) { e.Source = "GitHub" }, "source"},
		{"missing id", func(e *Event) { e.ID = "" }, "id"},
		{"id too long", func(e *Event) { e.ID = strings.Repeat("x", MaxIDLen+1) }, "id"},
		{"id not utf-8", func(e *Event) { e.ID = "\xff" }, "id"},
		{"missing type", func(e *Event) { e.Type = "" }, "type"},
		{"unknown type", func(e *Event) { e.Type = "change.teleported" }, "type"},
		{"zero time", func(e *Event) { e.Time = time.Time{} }, "time"},
		{"time before 1970", func(e *Event) { e.Time = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) }, "time"},
		{"time after 2200", func(e *Event) { e.Time = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
		{"app with newline", func(e *Event) { e.App = "a\nb" }, "app"},
		{"env too long", func(e *Event) { e.Env = strings.Repeat("e", MaxNameLen+1) }, "environment"},
		{"nil payload", func(e *Event) { e.Payload = nil }, "payload"},
		{"wrong payload type", func(e *Event) { e.Payload = &Commit{Repo: "r", SHA: "abcdef1"} }, "payload"},
		{"merged without merge sha", func(e *Event) { e.Payload.(*Change).MergeSHA = "" }, "payload.merge_sha"},
		{"upper-case sha", func(e *Event) { e.Payload.(*Change).MergeSHA = "EA87599646" }, "payload.merge_sha"},
		{"zero number", func(e *Event) { e.Payload.(*Change).Number = 0 }, "payload.number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := base()
			tc.mut(&e)
			err := e.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: %v, want a *ValidationError", err)
			}
			if ve.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", ve.Field, tc.field, err)
			}
		})
	}
}

func TestPayloadRules(t *testing.T) {
	sha := "4d09b7bd4d09b7bd4d09b7bd4d09b7bd4d09b7bd"
	tests := []struct {
		name  string
		typ   EventType
		p     Payload
		field string
	}{
		{"finished run needs outcome", PipelineRunFinished, &PipelineRun{RunID: "1"}, "payload.outcome"},
		{"started run needs none", PipelineRunStarted, &PipelineRun{RunID: "1"}, ""},
		{"artifact needs tag or digest", ArtifactPublished, &Artifact{Name: "ghcr.io/a/b"}, "payload.digest"},
		{"artifact digest form", ArtifactPublished, &Artifact{Name: "ghcr.io/a/b", Digest: "sha256:xyz"}, "payload.digest"},
		{"manifest update needs old image", ManifestChanged, &ManifestChange{Repo: "r", Commit: sha, Path: "p", Location: "l", Op: ManifestUpdated, NewImage: "i:2"}, "payload.old_image"},
		{"manifest op", ManifestChanged, &ManifestChange{Repo: "r", Commit: sha, Path: "p", Location: "l", Op: "moved"}, "payload.op"},
		{"finished sync needs finish time", SyncFinished, &Sync{Application: "a", StartedAt: t0, Phase: PhaseSucceeded}, "payload.finished_at"},
		{"finished sync needs final phase", SyncFinished, &Sync{Application: "a", StartedAt: t0, FinishedAt: t0, Phase: PhaseRunning}, "payload.phase"},
		{"health status", HealthChanged, &Health{Application: "a", Status: "Fine"}, "payload.status"},
		{"traffic sums to 100", TrafficChanged, &Traffic{Service: "s", Targets: []TrafficTarget{{Revision: "a", Percent: 60}, {Revision: "b", Percent: 30}}}, "payload.targets"},
		{"traffic percent range", TrafficChanged, &Traffic{Service: "s", Targets: []TrafficTarget{{Revision: "a", Percent: 120}}}, "payload.targets[0].percent"},
		{"scale negative", ScaleSampled, &Scale{Revision: "r", Actual: -1}, "payload.actual"},
		{"deployment needs artifact", ServiceDeployed, &Deployment{}, "payload.artifact"},
		{"removal needs none", ServiceRemoved, &Deployment{}, ""},
		{"review needs reviewer", ChangeReviewed, &Change{Repo: "r", Number: 1, ReviewState: ReviewApproved}, "payload.reviewer"},
		{"review state", ChangeReviewed, &Change{Repo: "r", Number: 1, Reviewer: "bob", ReviewState: "lgtm"}, "payload.review_state"},
		{"incident id", IncidentDetected, &Incident{}, "payload.incident_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Event{Source: "test", ID: "1", Type: tc.typ, Time: t0, Payload: tc.p}
			err := e.Validate()
			var ve *ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
				t.Fatalf("Validate: %v, want field %q", err, tc.field)
			}
		})
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	for _, typ := range EventTypes() {
		t.Run(string(typ), func(t *testing.T) {
			e := Event{Source: "s", ID: "1", Type: typ, Time: t0, App: "api", Payload: NewPayload(typ)}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var got Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("round trip: got %+v, want %+v", got, e)
			}
		})
	}
	var e Event
	if err := json.Unmarshal([]byte(`{"source":"s","id":"1","type":"nope","payload":{}}`), &e); err == nil {
		t.Error("unknown type with a payload decoded without error")
	}
}

func TestFoldChangeApprovers(t *testing.T) {
	ev := func(typ EventType, min int, p *Change) Event {
		p.Repo, p.Number = "r", 1
		return Event{Source: "github", ID: string(typ) + p.Reviewer, Type: typ, Time: t0.Add(time.Duration(min) * time.Minute), Payload: p}
	}
	events := []Event{
		ev(ChangeReviewed, 5, &Change{Reviewer: "bob", ReviewState: ReviewApproved}),
		ev(ChangeReviewed, 9, &Change{Reviewer: "bob", ReviewState: ReviewDismissed}),
		ev(ChangeReviewed, 7, &Change{Reviewer: "ann", ReviewState: ReviewApproved}),
		ev(ChangeCreated, 0, &Change{Title: "t", Author: "cid"}),
		ev(ChangeAbandoned, 20, &Change{}),
	}
	SortForFold(events)
	got := FoldChange(events)
	want := ChangeRecord{Repo: "r", Number: 1, Title: "t", Author: "cid", OpenedAt: t0, ClosedAt: t0.Add(20 * time.Minute), Approvers: []string{"ann"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
