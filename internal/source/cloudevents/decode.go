package cloudevents

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

const headerPrefix = "ce-"

// Decode reads the CloudEvents in an HTTP request, given its header and body.
//
// The Content-Type selects the mode: application/cloudevents+json is one
// event in structured mode, application/cloudevents-batch+json a JSON array
// of them (possibly empty); any other media type, or none, is binary mode,
// where the attributes are ce-* headers (percent-encoded, case-insensitive
// names) and the body is the data, of media type Content-Type.
//
// Every event is checked with Validate; time must be an RFC 3339 timestamp.
// Errors name the attribute at fault (*AttributeError) and, in a batch, the
// index of the event.
func Decode(h http.Header, body []byte) ([]Event, error) {
	ct := h.Get("Content-Type")
	switch mt := mediaType(ct); {
	case mt == MediaTypeStructured:
		e, err := decodeStructured(body)
		if err != nil {
			return nil, err
		}
		return []Event{e}, nil
	case mt == MediaTypeBatch:
		return decodeBatch(body)
	case strings.HasPrefix(mt, "application/cloudevents"):
		return nil, fmt.Errorf("cloudevents: event format %q is not supported: send %s, %s or binary mode", mt, MediaTypeStructured, MediaTypeBatch)
	}
	e, err := decodeBinary(h, ct, body)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// decodeBinary reads a binary-mode event: attributes from ce-* headers.
func decodeBinary(h http.Header, contentType string, body []byte) (Event, error) {
	// Sort the header names so that the first error reported does not depend
	// on map order.
	names := make([]string, 0, len(h))
	for name := range h {
		if len(name) > len(headerPrefix) && strings.EqualFold(name[:len(headerPrefix)], headerPrefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	e := Event{DataContentType: contentType}
	seen := map[string]bool{}
	for _, name := range names {
		header := strings.ToLower(name)
		attr := header[len(headerPrefix):]
		values := h[name]
		if len(values) == 0 {
			continue
		}
		if seen[attr] || len(values) > 1 {
			return Event{}, attrErr(attr, "header %s appears more than once", header)
		}
		seen[attr] = true
		v, err := decodeHeaderValue(values[0])
		if err != nil {
			return Event{}, attrErr(attr, "header %s: %v", header, err)
		}
		switch attr {
		case "specversion":
			e.SpecVersion = v
		case "id":
			e.ID = v
		case "source":
			e.Source = v
		case "type":
			e.Type = v
		case "subject":
			e.Subject = v
		case "dataschema":
			e.DataSchema = v
		case "time":
			if e.Time, err = parseTime(v); err != nil {
				return Event{}, err
			}
		case "datacontenttype":
			return Event{}, attrErr(attr, "binary mode carries it in the Content-Type header, not in %s", header)
		default:
			if !validName(attr) || reserved[attr] {
				return Event{}, attrErr(attr, "header %s does not name a valid extension attribute (lower-case letters and digits only)", header)
			}
			if e.Extensions == nil {
				e.Extensions = map[string]string{}
			}
			e.Extensions[attr] = v
		}
	}
	if e.SpecVersion == "" {
		return Event{}, attrErr("specversion", "missing: send the ce-specversion header (binary mode) or Content-Type %s (structured mode)", MediaTypeStructured)
	}
	if len(body) > 0 {
		e.Data = bytes.Clone(body)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// decodeHeaderValue undoes the encoding of an attribute value in an HTTP
// header: an optional RFC 7230 quoted-string, then one round of
// percent-decoding, and the result must be valid UTF-8.
func decodeHeaderValue(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			c := v[i]
			if c == '\\' {
				i++
				if i == len(v)-1 {
					return "", errors.New("quoted value ends with a backslash")
				}
				c = v[i]
			} else if c == '"' {
				return "", errors.New("unescaped double quote inside a quoted value")
			}
			b.WriteByte(c)
		}
		v = b.String()
	}
	if !strings.Contains(v, "%") {
		return v, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			end := min(i+3, len(v))
			return "", fmt.Errorf("invalid percent-encoding %q", v[i:end])
		}
		out = append(out, unhex(v[i+1])<<4|unhex(v[i+2]))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", errors.New("percent-encoded bytes are not valid UTF-8")
	}
	return string(out), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// parseTime parses the time attribute, an RFC 3339 timestamp, into UTC.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, attrErr("time", "%q is not an RFC 3339 timestamp", v)
	}
	return t.UTC(), nil
}

// decodeBatch reads a JSON array of structured-mode events.
func decodeBatch(body []byte) ([]Event, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fmt.Errorf("cloudevents: batch is not a JSON array of events: %w", err)
	}
	events := make([]Event, 0, len(raws))
	for i, raw := range raws {
		e, err := decodeStructured(raw)
		if err != nil {
			return nil, fmt.Errorf("batch event %d: %w", i, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// decodeStructured reads one event in the JSON event format.
func decodeStructured(body []byte) (Event, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return Event{}, fmt.Errorf("cloudevents: event is not a JSON object: %w", err)
	}
	if members == nil {
		return Event{}, errors.New("cloudevents: event is not a JSON object: null")
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)

	var e Event
	var data, data64 json.RawMessage
	for _, name := range names {
		raw := members[name]
		if string(raw) == "null" { // a null attribute is an absent one
			continue
		}
		switch name {
		case "data":
			data = raw
			continue
		case "data_base64":
			data64 = raw
			continue
		}
		v, err := attributeString(name, raw)
		if err != nil {
			return Event{}, err
		}
		switch name {
		case "specversion":
			e.SpecVersion = v
		case "id":
			e.ID = v
		case "source":
			e.Source = v
		case "type":
			e.Type = v
		case "subject":
			e.Subject = v
		case "datacontenttype":
			e.DataContentType = v
		case "dataschema":
			e.DataSchema = v
		case "time":
			if e.Time, err = parseTime(v); err != nil {
				return Event{}, err
			}
		default:
			if !validName(name) {
				return Event{}, attrErr(name, "not a valid extension attribute name (lower-case letters and digits only)")
			}
			if e.Extensions == nil {
				e.Extensions = map[string]string{}
			}
			e.Extensions[name] = v
		}
	}
	if e.SpecVersion == "" {
		return Event{}, attrErr("specversion", "missing")
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	switch {
	case data != nil && data64 != nil:
		return Event{}, attrErr("data_base64", "an event carries data or data_base64, not both")
	case data64 != nil:
		var s string
		if err := json.Unmarshal(data64, &s); err != nil {
			return Event{}, attrErr("data_base64", "not a JSON string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Event{}, attrErr("data_base64", "not valid base64: %v", err)
		}
		if len(b) > 0 {
			e.Data = b
		}
	case data != nil:
		if !isJSON(e.DataContentType) && data[0] == '"' {
			// Data that is not JSON travels as a JSON string.
			var s string
			if err := json.Unmarshal(data, &s); err != nil {
				return Event{}, attrErr("data", "not a valid JSON string: %v", err)
			}
			if s != "" {
				e.Data = []byte(s)
			}
		} else {
			e.Data = bytes.Clone(data)
		}
	}
	return e, nil
}

// attributeString returns the canonical string form of an attribute value:
// a JSON string as is, a number or boolean as written. The attributes of the
// specification must be strings.
func attributeString(name string, raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", attrErr(name, "not a valid JSON string: %v", err)
		}
		return s, nil
	case '{', '[':
		return "", attrErr(name, "must be a string, number or boolean, not a JSON object or array")
	}
	if reserved[name] {
		return "", attrErr(name, "must be a JSON string, not %s", raw)
	}
	return string(raw), nil
}
