package cloudevents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readRequest reads an HTTP request kept in testdata/requests: the header
// up to the first blank line, the rest is the body.
func readRequest(t testing.TB, name string) (http.Header, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "requests", name))
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		t.Fatalf("%s: no blank line after the header", name)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(head, "\n\n"...))))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req.Header, body
}

// compactJSON returns b without insignificant whitespace.
func compactJSON(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return buf.String()
}

func readFile(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

// checkEvents compares decoded events field by field.
func checkEvents(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC {
			t.Errorf("event %d: Time: got %v, want %v in UTC", i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if !bytes.Equal(g.Data, w.Data) {
			t.Errorf("event %d: Data:\ngot  %q\nwant %q", i, g.Data, w.Data)
		}
		g.Data, w.Data = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("event %d:\ngot  %#v\nwant %#v", i, g, w)
		}
	}
}

func TestDecodeRequests(t *testing.T) {
	cdDeployed := readFile(t, "testdata", "cdevents", "v0.5", "service_deployed.json")
	cdFinished := readFile(t, "testdata", "cdevents", "v0.5", "pipelinerun_finished.json")
	cdPublished := readFile(t, "testdata", "cdevents", "v0.4", "artifact_published.json")
	tests := []struct {
		request string
		want    []Event
		// dataJSON: compare Data as JSON with this file's content, not bytewise
		// (structured mode keeps the data as it appears in the envelope).
		dataJSON [][]byte
	}{
		{"binary-broker.http", []Event{{
			SpecVersion: "1.0", ID: "0a1b2c3d-4e5f-4061-8273-8e9fa0b1c2d3", Source: "/argocd/prod-eu-1",
			Type: "dev.cdevents.service.deployed.0.3.0", Subject: "service/api",
			Time: mustTime(t, "2024-03-05T07:33:04Z"), DataContentType: "application/json",
			Extensions: map[string]string{"knativearrivaltime": "2024-03-05T07:33:04.918273Z"},
			Data:       cdDeployed,
		}}, nil},
		{"binary-encoded.http", []Event{{
			SpecVersion: "1.0", ID: `build "42"`, Source: "/ci/acme shop", Type: "com.example.note",
			Subject: "Euro € 😀", DataSchema: "https://schemas.example.com/note/v1",
			Time: mustTime(t, "2024-03-05T06:33:04.5Z"), DataContentType: "text/plain; charset=utf-8",
			Extensions: map[string]string{"comexampleteam": `"payments"`},
			Data:       []byte("Déploiement terminé\n"),
		}}, nil},
		{"structured.http", []Event{{
			SpecVersion: "1.0", ID: "a3f4e5d6-c7b8-4a99-8cbd-2e3f4a5b6c7d", Source: "/tekton/ci",
			Type: "dev.cdevents.pipelinerun.finished.0.3.0", Subject: "ci/api-ci-7f3k2",
			Time: mustTime(t, "2024-03-05T07:21:47Z"), DataContentType: "application/json",
			Extensions: map[string]string{
				"knativearrivaltime": "2024-03-05T07:21:47.311Z", "comexamplepriority": "3", "comexampleretried": "false",
			},
		}}, [][]byte{cdFinished}},
		{"structured-base64.http", []Event{{
			SpecVersion: "1.0", ID: "f8e9dacb-1c0d-4fee-9b1c-7d8e9fa0b1c2", Source: "/ghcr.io/acme",
			Type: "dev.cdevents.artifact.published.0.2.0", Time: mustTime(t, "2024-03-05T07:20:31Z"),
			DataContentType: "application/json", Data: cdPublished,
		}}, nil},
		{"batch.http", []Event{
			{SpecVersion: "1.0", ID: "d6c7b8a9-faeb-4dcc-9fea-5b6c7d8e9fa0", Source: "/tekton/ci",
				Type: "dev.cdevents.build.finished.0.3.0", Time: mustTime(t, "2024-03-05T07:19:58Z"), DataContentType: "application/json"},
			{SpecVersion: "1.0", ID: "f8e9dacb-1c0d-4fee-9b1c-7d8e9fa0b1c2", Source: "/ghcr.io/acme",
				Type: "dev.cdevents.artifact.published.0.3.0", Time: mustTime(t, "2024-03-05T07:20:31Z"), DataContentType: "application/json"},
			{SpecVersion: "1.0", ID: "0a1b2c3d-4e5f-4061-8273-8e9fa0b1c2d3", Source: "/argocd/prod-eu-1",
				Type: "dev.cdevents.service.deployed.0.3.0", Time: mustTime(t, "2024-03-05T07:33:04Z"), DataContentType: "application/json"},
		}, [][]byte{
			readFile(t, "testdata", "cdevents", "v0.5", "build_finished.json"),
			readFile(t, "testdata", "cdevents", "v0.5", "artifact_published.json"),
			cdDeployed,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			h, body := readRequest(t, tt.request)
			got, err := Decode(h, body)
			if err != nil {
				t.Fatalf("Decode: got error %v, want nil", err)
			}
			if tt.dataJSON != nil {
				if len(got) != len(tt.dataJSON) {
					t.Fatalf("got %d events, want %d", len(got), len(tt.dataJSON))
				}
				for i := range got {
					if g, w := compactJSON(t, got[i].Data), compactJSON(t, tt.dataJSON[i]); g != w {
						t.Errorf("event %d: Data:\ngot  %s\nwant %s", i, g, w)
					}
					got[i].Data = nil
				}
			}
			checkEvents(t, got, tt.want)
		})
	}
}

func TestDecodeEmptyBatch(t *testing.T) {
	h := http.Header{"Content-Type": {MediaTypeBatch}}
	got, err := Decode(h, []byte(" [ ] "))
	if err != nil {
		t.Fatalf("Decode: got error %v, want nil", err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("Decode: got %#v, want an empty non-nil slice", got)
	}
}

func TestDecodeBinaryWithoutBody(t *testing.T) {
	h := http.Header{}
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", "1")
	h.Set("ce-source", "/ci")
	h.Set("ce-type", "com.example.ping")
	got, err := Decode(h, nil)
	if err != nil {
		t.Fatalf("Decode: got error %v, want nil", err)
	}
	checkEvents(t, got, []Event{{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "com.example.ping"}})
}

func TestDecodeHeaderNamesAreCaseInsensitive(t *testing.T) {
	// A header map built by hand, not canonicalised by net/http.
	h := http.Header{
		"CE-SPECVERSION": {"1.0"}, "ce-id": {"1"}, "Ce-Source": {"/ci"}, "cE-tYpE": {"com.example.ping"},
		"CE-KNATIVEARRIVALTIME": {"2024-03-05T07:33:04Z"},
	}
	got, err := Decode(h, nil)
	if err != nil {
		t.Fatalf("Decode: got error %v, want nil", err)
	}
	checkEvents(t, got, []Event{{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "com.example.ping",
		Extensions: map[string]string{"knativearrivaltime": "2024-03-05T07:33:04Z"}}})
}

func binaryHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestDecodeErrors(t *testing.T) {
	valid := []string{"ce-specversion", "1.0", "ce-id", "1", "ce-source", "/ci", "ce-type", "com.example.ping"}
	with := func(kv ...string) http.Header { return binaryHeader(append(append([]string{}, valid...), kv...)...) }
	without := func(name string) http.Header {
		h := binaryHeader(valid...)
		h.Del(name)
		return h
	}
	structured := http.Header{"Content-Type": {MediaTypeStructured}}
	batch := http.Header{"Content-Type": {MediaTypeBatch + "; charset=utf-8"}}
	tests := []struct {
		name     string
		header   http.Header
		body     string
		wantAttr string // attribute named by the *AttributeError, "" when another error is expected
		wantErr  string // substring of the message
	}{
		{"no CloudEvents headers at all", binaryHeader("Content-Type", "application/json"), `{}`, "specversion", "missing: send the ce-specversion header"},
		{"binary: missing id", without("ce-id"), "", "id", "missing"},
		{"binary: missing source", without("ce-source"), "", "source", "missing"},
		{"binary: missing type", without("ce-type"), "", "type", "missing"},
		{"binary: empty id", binaryHeader("ce-specversion", "1.0", "ce-id", "", "ce-source", "/ci", "ce-type", "t"), "", "id", "missing"},
		{"binary: specversion 0.3", binaryHeader("ce-specversion", "0.3", "ce-id", "1", "ce-source", "/ci", "ce-type", "t"), "", "specversion", `version "0.3" is not supported`},
		{"binary: time not RFC 3339", with("ce-time", "2024-03-05 07:33:04"), "", "time", `"2024-03-05 07:33:04" is not an RFC 3339 timestamp`},
		{"binary: time without zone", with("ce-time", "2024-03-05T07:33:04"), "", "time", "not an RFC 3339 timestamp"},
		{"binary: bad percent-encoding", with("ce-subject", "100%zz"), "", "subject", `header ce-subject: invalid percent-encoding "%zz"`},
		{"binary: truncated percent-encoding", with("ce-subject", "abc%4"), "", "subject", `invalid percent-encoding "%4"`},
		{"binary: overlong UTF-8", with("ce-subject", "%C0%A0"), "", "subject", "not valid UTF-8"},
		{"binary: control character", with("ce-subject", "a%0Ab"), "", "subject", "control character U+000A"},
		{"binary: unterminated quoted value", with("ce-subject", `"a\"`), "", "subject", "ends with a backslash"},
		{"binary: quote inside a quoted value", with("ce-subject", `"a"b"`), "", "subject", "unescaped double quote inside a quoted value"},
		{"binary: extension name with a dash", with("ce-my-ext", "x"), "", "my-ext", "does not name a valid extension attribute"},
		{"binary: ce-datacontenttype", with("ce-datacontenttype", "application/json"), "", "datacontenttype", "Content-Type header"},
		{"binary: attribute sent twice", with("ce-subject", "a", "ce-subject", "b"), "", "subject", "appears more than once"},
		{"structured: not JSON", structured, `{"specversion": "1.0",`, "", "event is not a JSON object"},
		{"structured: an array", structured, `[]`, "", "event is not a JSON object"},
		{"structured: null", structured, `null`, "", "event is not a JSON object: null"},
		{"structured: trailing data", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t"} {}`, "", "event is not a JSON object"},
		{"structured: missing specversion", structured, `{"id":"1","source":"/ci","type":"t"}`, "specversion", "missing"},
		{"structured: specversion 1.1", structured, `{"specversion":"1.1","id":"1","source":"/ci","type":"t"}`, "specversion", `version "1.1" is not supported`},
		{"structured: specversion a number", structured, `{"specversion":1.0,"id":"1","source":"/ci","type":"t"}`, "specversion", "must be a JSON string, not 1.0"},
		{"structured: missing id", structured, `{"specversion":"1.0","source":"/ci","type":"t"}`, "id", "missing"},
		{"structured: null source", structured, `{"specversion":"1.0","id":"1","source":null,"type":"t"}`, "source", "missing"},
		{"structured: empty type", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":""}`, "type", "missing"},
		{"structured: bad time", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t","time":"yesterday"}`, "time", `"yesterday" is not an RFC 3339 timestamp`},
		{"structured: object extension", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t","comexample":{"a":1}}`, "comexample", "not a JSON object or array"},
		{"structured: extension with upper case", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t","myExt":"x"}`, "myExt", "not a valid extension attribute name"},
		{"structured: data and data_base64", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t","data":{},"data_base64":"e30="}`, "data_base64", "not both"},
		{"structured: data_base64 not base64", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t","data_base64":"%%%"}`, "data_base64", "not valid base64"},
		{"structured: data_base64 a number", structured, `{"specversion":"1.0","id":"1","source":"/ci","type":"t","data_base64":12}`, "data_base64", "not a JSON string"},
		{"unsupported event format", http.Header{"Content-Type": {"application/cloudevents+xml"}}, `<event/>`, "", `event format "application/cloudevents+xml" is not supported`},
		{"batch: not an array", batch, `{"specversion":"1.0"}`, "", "batch is not a JSON array of events"},
		{"batch: bad second event", batch, `[{"specversion":"1.0","id":"1","source":"/ci","type":"t"},{"specversion":"1.0","id":"2","source":"/ci"}]`, "type", "batch event 1: cloudevents: attribute type: missing"},
		{"batch: element not an object", batch, `[42]`, "", "batch event 0: cloudevents: event is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.header, []byte(tt.body))
			if err == nil {
				t.Fatalf("Decode: got %#v, nil error; want an error", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Decode: got error %q, want it to contain %q", err, tt.wantErr)
			}
			var ae *AttributeError
			switch {
			case tt.wantAttr == "" && errors.As(err, &ae):
				t.Errorf("Decode: got attribute error %v, want another error", err)
			case tt.wantAttr != "" && !errors.As(err, &ae):
				t.Errorf("Decode: got error %v (%T), want an *AttributeError", err, err)
			case tt.wantAttr != "" && ae.Attribute != tt.wantAttr:
				t.Errorf("Decode: got error naming attribute %q, want %q", ae.Attribute, tt.wantAttr)
			}
		})
	}
}

func TestDecodeHeaderValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro € 😀"},
		{"lower%2fcase%2Fupper", "lower/case/upper"},
		{"%41%42", "AB"}, // unnecessarily encoded, still accepted
		{"a+b", "a+b"},   // '+' is not a space
		{`"quoted value"`, "quoted value"},
		{`"with \"escapes\" and \\"`, `with "escapes" and \`},
		{`"%22percent in quotes%22"`, `"percent in quotes"`},
		{`"`, `"`}, // a lone double quote is not a quoted string
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := decodeHeaderValue(tt.in)
			if err != nil {
				t.Fatalf("decodeHeaderValue(%q): got error %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("decodeHeaderValue(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
