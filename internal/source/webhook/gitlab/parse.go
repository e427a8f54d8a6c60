package gitlab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Source is the delivery.Event.Source of every event this package produces.
const Source = "gitlab"

// Headers GitLab sets on deliveries.
const (
	EventHeader          = "X-Gitlab-Event"
	IdempotencyKeyHeader = "Idempotency-Key"     // GitLab 17.4+: the same on every retry of a delivery
	EventUUIDHeader      = "X-Gitlab-Event-UUID" // GitLab 15.x+: one per event
)

// maxDeliveryLen bounds a delivery header value (a UUID, 36 bytes).
const maxDeliveryLen = 128

// parser maps the body of one hook kind to events; deliveryID is the ID for
// events without a natural key.
type parser func(deliveryID string, body []byte) ([]delivery.Event, error)

var parsers = map[string]parser{
	"Merge Request Hook": parseMergeRequest,
	"Push Hook":          parsePush,
	"Pipeline Hook":      parsePipeline,
	"Deployment Hook":    parseDeployment,
	"System Hook":        parseSystemHook,
}

// Parse maps one webhook delivery, given its headers and raw JSON body, to
// the events it records. It does not check the token: call VerifyToken
// first.
//
// A hook, action or status that shiplog does not record gives an error
// wrapping delivery.ErrUnsupported. A malformed request (a missing
// X-Gitlab-Event header, invalid JSON, a missing or unparsable required
// field) gives an error naming the header or field. On error no events are
// returned; on success every event passes Validate. A push without commits
// gives no events and no error.
func Parse(h http.Header, body []byte) ([]delivery.Event, error) {
	name := strings.TrimSpace(h.Get(EventHeader))
	if name == "" {
		return nil, fmt.Errorf("gitlab webhook: missing %s header", EventHeader)
	}
	id, err := deliveryID(h, body)
	if err != nil {
		return nil, err
	}
	p, ok := parsers[name]
	if !ok {
		return nil, fmt.Errorf("%w: gitlab event %q", delivery.ErrUnsupported, name)
	}
	events, err := p(id, body)
	if err != nil {
		if errors.Is(err, delivery.ErrUnsupported) {
			return nil, err
		}
		return nil, fmt.Errorf("gitlab %s: %w", name, err)
	}
	for i := range events {
		events[i].Source = Source
		if err := events[i].Validate(); err != nil {
			return nil, fmt.Errorf("gitlab %s: event %d of %d: %w", name, i+1, len(events), err)
		}
	}
	return events, nil
}

// deliveryID identifies the delivery: the Idempotency-Key header, else
// X-Gitlab-Event-UUID, else the SHA-256 of the body (older GitLab sends
// neither; a retry resends the same body).
func deliveryID(h http.Header, body []byte) (string, error) {
	for _, name := range []string{IdempotencyKeyHeader, EventUUIDHeader} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if len(v) > maxDeliveryLen || !printable(v) {
			return "", fmt.Errorf("gitlab webhook: %s header is not a UUID", name)
		}
		return v, nil
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// parseSystemHook handles the instance-wide system hook, whose push and
// merge request events have the project hook payloads.
func parseSystemHook(deliveryID string, body []byte) ([]delivery.Event, error) {
	var p struct {
		ObjectKind string `json:"object_kind"`
		EventName  string `json:"event_name"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	kind := p.ObjectKind
	if kind == "" {
		kind = p.EventName
	}
	switch kind {
	case "push":
		return parsePush(deliveryID, body)
	case "merge_request":
		return parseMergeRequest(deliveryID, body)
	}
	return nil, fmt.Errorf("%w: gitlab system hook event %q", delivery.ErrUnsupported, kind)
}

// unsupported reports an action or status of a known hook that shiplog does
// not record.
func unsupported(hook, what, value string) error {
	return fmt.Errorf("%w: gitlab %s %s %q", delivery.ErrUnsupported, hook, what, value)
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

// timestamp is a JSON timestamp kept as the raw token (a string or null).
// Parse it with parseTime, which names the field in its error.
type timestamp string

// UnmarshalJSON keeps the raw token.
func (t *timestamp) UnmarshalJSON(b []byte) error {
	*t = timestamp(b)
	return nil
}

// isSet reports whether the field was present and not null or "".
func (t timestamp) isSet() bool { return t != "" && t != "null" && t != `""` }

// timeLayouts are the forms GitLab writes times in. time.Parse also accepts
// a fractional second after the seconds in each.
var timeLayouts = []string{
	time.RFC3339,                // 2013-12-03T17:23:34Z, 2012-01-03T23:36:29+02:00
	"2006-01-02 15:04:05 UTC",   // 2016-08-12 15:23:28 UTC
	"2006-01-02 15:04:05 -0700", // 2021-04-28 21:50:00 +0200
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05Z07:00",
}

// parseTime parses a required GitLab timestamp, in UTC.
func parseTime(field string, t timestamp) (time.Time, error) {
	if !t.isSet() {
		return time.Time{}, missing(field)
	}
	var s string
	if err := json.Unmarshal([]byte(t), &s); err != nil {
		return time.Time{}, fmt.Errorf("%s: %s is not a time string", field, t)
	}
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf(`%s: parsing time %q: not RFC 3339, "2006-01-02 15:04:05 UTC" or "2006-01-02 15:04:05 -0700"`, field, s)
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

// user is a GitLab account as it appears in payloads.
type user struct {
	Name     string `json:"name"`
	Username string `json:"username"`
}

// project is the "project" object of a payload.
type project struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	WebURL            string `json:"web_url"`
	PathWithNamespace string `json:"path_with_namespace"`
}

// repoURL returns project.web_url, the repository identity used in every
// event.
func (p project) repoURL() (string, error) {
	return requireString("project.web_url", p.WebURL)
}
