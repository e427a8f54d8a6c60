package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Source is the delivery.Event.Source of every event this package produces.
const Source = "github"

// Headers GitHub sets on every delivery.
const (
	EventHeader    = "X-GitHub-Event"
	DeliveryHeader = "X-GitHub-Delivery"
)

// maxDeliveryLen bounds the X-GitHub-Delivery value (a GUID, 36 bytes).
const maxDeliveryLen = 128

// parser maps the body of one GitHub event type to events.
type parser func(body []byte) ([]delivery.Event, error)

var parsers = map[string]parser{
	"pull_request":        parsePullRequest,
	"pull_request_review": parsePullRequestReview,
	"push":                parsePush,
	"workflow_run":        parseWorkflowRun,
	"check_suite":         parseCheckSuite,
	"check_run":           parseCheckRun,
	"deployment_status":   parseDeploymentStatus,
	"registry_package":    func(body []byte) ([]delivery.Event, error) { return parsePackage("registry_package", body) },
	"package":             func(body []byte) ([]delivery.Event, error) { return parsePackage("package", body) },
}

// Parse maps one webhook delivery, given its headers and raw JSON body, to
// the events it records. It does not check the signature: call
// VerifySignature first.
//
// An event type, action or state that shiplog does not record gives an error
// wrapping delivery.ErrUnsupported. A malformed request (missing headers,
// invalid JSON, a missing or unparsable required field) gives an error naming
// the header or field. On error no events are returned; on success every
// event passes Validate. A push without commits gives no events and no error.
func Parse(h http.Header, body []byte) ([]delivery.Event, error) {
	name := strings.TrimSpace(h.Get(EventHeader))
	if name == "" {
		return nil, fmt.Errorf("github webhook: missing %s header", EventHeader)
	}
	id := strings.TrimSpace(h.Get(DeliveryHeader))
	if id == "" {
		return nil, fmt.Errorf("github webhook: missing %s header", DeliveryHeader)
	}
	if len(id) > maxDeliveryLen || !printable(id) {
		return nil, fmt.Errorf("github webhook: %s header is not a delivery GUID", DeliveryHeader)
	}
	p, ok := parsers[name]
	if !ok {
		return nil, fmt.Errorf("%w: github event %q", delivery.ErrUnsupported, name)
	}
	if ct := h.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/x-www-form-urlencoded" {
			return nil, fmt.Errorf("github %s: the body is form-encoded: set the webhook's content type to application/json", name)
		}
	}
	events, err := p(body)
	if err != nil {
		if errors.Is(err, delivery.ErrUnsupported) {
			return nil, err
		}
		return nil, fmt.Errorf("github %s: %w", name, err)
	}
	for i := range events {
		events[i].Source = Source
		if err := events[i].Validate(); err != nil {
			return nil, fmt.Errorf("github %s: event %d of %d: %w", name, i+1, len(events), err)
		}
	}
	return events, nil
}

// unsupported reports an action or state of a known event that shiplog
// does not record.
func unsupported(event, what, value string) error {
	return fmt.Errorf("%w: github %s %s %q", delivery.ErrUnsupported, event, what, value)
}

// decode unmarshals a JSON object body into v.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

// missing reports a required field that is absent or empty.
func missing(field string) error { return fmt.Errorf("%s: missing", field) }

// requireString returns v, or an error naming field when v is blank.
func requireString(field, v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", missing(field)
	}
	return v, nil
}

// timestamp is a JSON timestamp kept as the raw token: an RFC 3339 string,
// Unix seconds (GitHub sends repository.pushed_at and created_at that way in
// push events), or null. Parse it with parseTime, which names the field in
// its error.
type timestamp string

// UnmarshalJSON keeps the raw token.
func (t *timestamp) UnmarshalJSON(b []byte) error {
	*t = timestamp(b)
	return nil
}

// isSet reports whether the field was present and not null.
func (t timestamp) isSet() bool { return t != "" && t != "null" }

// parseTime parses a required timestamp, in UTC.
func parseTime(field string, t timestamp) (time.Time, error) {
	if !t.isSet() {
		return time.Time{}, missing(field)
	}
	raw := string(t)
	if raw[0] != '"' {
		secs, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %s is neither an RFC 3339 string nor Unix seconds", field, raw)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	if s == "" {
		return time.Time{}, missing(field)
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	return v.UTC(), nil
}

// optionalTime parses a timestamp that may be absent, giving the zero time.
func optionalTime(field string, t timestamp) (time.Time, error) {
	if !t.isSet() {
		return time.Time{}, nil
	}
	if s, err := strconv.Unquote(string(t)); err == nil && s == "" {
		return time.Time{}, nil
	}
	return parseTime(field, t)
}

// naturalID joins the parts of a natural key with "/". A key longer than
// delivery.MaxIDLen becomes "<first part>/sha256:<hex of the key>".
func naturalID(parts ...string) string {
	id := strings.Join(parts, "/")
	if len(id) <= delivery.MaxIDLen && utf8.ValidString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return parts[0] + "/sha256:" + hex.EncodeToString(sum[:])
}

// unixKey formats t for use in an ID.
func unixKey(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// printable reports whether s is visible ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// firstLine returns the first line of a commit message.
func firstLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return strings.TrimSpace(line)
}

// user is a GitHub account as it appears in payloads.
type user struct {
	Login string `json:"login"`
}

// repository is the top-level "repository" object of a payload.
type repository struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	HTMLURL  string `json:"html_url"`
}

// repoURL returns repository.html_url, the repository identity used in every
// event.
func (r repository) repoURL() (string, error) {
	return requireString("repository.html_url", r.HTMLURL)
}

// pullRef is an entry of a pull_requests[] list in run and suite payloads.
type pullRef struct {
	Number int64 `json:"number"`
}

// firstPull returns the number of the first pull request, or 0.
func firstPull(prs []pullRef) int64 {
	if len(prs) > 0 {
		return prs[0].Number
	}
	return 0
}

// outcome maps a GitHub check or workflow conclusion to a pipeline outcome.
func outcome(conclusion string) delivery.Outcome {
	switch conclusion {
	case "success":
		return delivery.OutcomeSuccess
	case "failure", "timed_out", "startup_failure":
		return delivery.OutcomeFailure
	case "cancelled", "skipped", "stale", "neutral":
		return delivery.OutcomeCancel
	}
	return delivery.OutcomeError // action_required, null, anything new
}
