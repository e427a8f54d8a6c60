package cloudevents

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMarshalStructured(t *testing.T) {
	tm := time.Date(2024, 3, 5, 8, 33, 4, 500e6, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		event Event
		want  string
	}{
		{"required attributes only", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "com.example.ping"},
			`{"specversion":"1.0","id":"1","source":"/ci","type":"com.example.ping"}`},
		{"all attributes, JSON data", Event{
			SpecVersion: "1.0", ID: "0a1b", Source: "/argocd/prod-eu-1", Type: "dev.cdevents.service.deployed.0.3.0",
			Subject: "service/api", Time: tm, DataContentType: "application/json", DataSchema: "https://cdevents.dev/0.5.0/schema/service-deployed-event",
			Extensions: map[string]string{"traceparent": "00-4bf9-01", "knativearrivaltime": "2024-03-05T07:33:04Z"},
			Data:       []byte("\n {\"context\": {}}\n"),
		}, `{"specversion":"1.0","id":"0a1b","source":"/argocd/prod-eu-1","type":"dev.cdevents.service.deployed.0.3.0",` +
			`"subject":"service/api","datacontenttype":"application/json","dataschema":"https://cdevents.dev/0.5.0/schema/service-deployed-event",` +
			`"time":"2024-03-05T07:33:04.5Z","knativearrivaltime":"2024-03-05T07:33:04Z","traceparent":"00-4bf9-01",` +
			`"data":{"context": {}}}`},
		{"JSON data without content type", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", Data: []byte(`[1,2]`)},
			`{"specversion":"1.0","id":"1","source":"/ci","type":"t","data":[1,2]}`},
		{"text data", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", DataContentType: "text/plain", Data: []byte("déployé \"ok\"")},
			`{"specversion":"1.0","id":"1","source":"/ci","type":"t","datacontenttype":"text/plain","data":"déployé \"ok\""}`},
		{"binary data", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", DataContentType: "application/octet-stream", Data: []byte{0xff, 0x00, 0x10}},
			`{"specversion":"1.0","id":"1","source":"/ci","type":"t","datacontenttype":"application/octet-stream","data_base64":"/wAQ"}`},
		{"JSON content type, data not JSON", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", DataContentType: "application/json", Data: []byte("{oops")},
			`{"specversion":"1.0","id":"1","source":"/ci","type":"t","datacontenttype":"application/json","data_base64":"e29vcHM="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalStructured(tt.event)
			if err != nil {
				t.Fatalf("MarshalStructured: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalStructured:\ngot  %s\nwant %s", got, tt.want)
			}
			// Round trip: decoding gives the event back (JSON data without
			// the surrounding whitespace).
			back, err := Decode(http.Header{"Content-Type": {MediaTypeStructured}}, got)
			if err != nil {
				t.Fatalf("Decode(MarshalStructured): %v", err)
			}
			want := tt.event
			if isJSON(want.DataContentType) && len(want.Data) > 0 && !strings.Contains(tt.want, "data_base64") {
				want.Data = trimJSONSpace(want.Data)
			}
			checkEvents(t, back, []Event{want})
		})
	}
}

func TestMarshalStructuredRoundTripRequests(t *testing.T) {
	for _, name := range []string{"binary-broker.http", "binary-encoded.http", "structured.http", "structured-base64.http", "batch.http", "apiserver-resource.http", "curl-artifact-packaged.http"} {
		t.Run(name, func(t *testing.T) {
			h, body := readRequest(t, name)
			events, err := Decode(h, body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			for i, e := range events {
				b, err := MarshalStructured(e)
				if err != nil {
					t.Fatalf("MarshalStructured(event %d): %v", i, err)
				}
				back, err := Decode(http.Header{"Content-Type": {MediaTypeStructured + "; charset=utf-8"}}, b)
				if err != nil {
					t.Fatalf("Decode(MarshalStructured(event %d)): %v", i, err)
				}
				want := e
				if isJSON(e.DataContentType) && jsonValid(e.Data) {
					want.Data = trimJSONSpace(e.Data)
				}
				checkEvents(t, back, []Event{want})
			}
		})
	}
}

func TestMarshalStructuredInvalid(t *testing.T) {
	tests := []struct {
		name     string
		event    Event
		wantAttr string
	}{
		{"no specversion", Event{ID: "1", Source: "/ci", Type: "t"}, "specversion"},
		{"no id", Event{SpecVersion: "1.0", Source: "/ci", Type: "t"}, "id"},
		{"bad extension name", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", Extensions: map[string]string{"Team": "x"}}, "Team"},
		{"extension named like an attribute", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", Extensions: map[string]string{"subject": "x"}}, "subject"},
		{"invalid UTF-8", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", Subject: "\xff"}, "subject"},
		{"control character in an extension", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "t", Extensions: map[string]string{"team": "a\tb"}}, "team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MarshalStructured(tt.event)
			var ae *AttributeError
			if !errors.As(err, &ae) || ae.Attribute != tt.wantAttr {
				t.Errorf("MarshalStructured: got error %v, want an *AttributeError naming %q", err, tt.wantAttr)
			}
		})
	}
}

// jsonValid reports whether MarshalStructured writes b as a JSON value.
func jsonValid(b []byte) bool {
	b = trimJSONSpace(b)
	return len(b) > 0 && json.Valid(b)
}
