package cloudevents

import (
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"
)

// Source is the source kind of the delivery events that Convert produces.
const Source = "cloudevents"

// SpecVersion is the CloudEvents specification version that Decode accepts.
const SpecVersion = "1.0"

// Media types of the CloudEvents JSON event format.
const (
	MediaTypeStructured = "application/cloudevents+json"
	MediaTypeBatch      = "application/cloudevents-batch+json"
)

// Event is one CloudEvent: its context attributes and its data.
type Event struct {
	SpecVersion     string            // always "1.0" once decoded
	ID              string            // unique within Source
	Source          string            // URI-reference of the producer
	Type            string            // e.g. "dev.cdevents.service.deployed.0.3.0"
	Subject         string            // optional
	Time            time.Time         // optional: zero when absent
	DataContentType string            // optional media type of Data; absent means JSON in structured mode
	DataSchema      string            // optional
	Extensions      map[string]string // other attributes by name (e.g. "knativearrivaltime"), in their string form
	Data            []byte            // the event payload, nil when the event has none
}

// AttributeError says which attribute of a CloudEvent is wrong and why.
type AttributeError struct {
	Attribute string // attribute name, e.g. "specversion", "time", "data_base64"
	Reason    string
}

func (e *AttributeError) Error() string {
	return fmt.Sprintf("cloudevents: attribute %s: %s", e.Attribute, e.Reason)
}

func attrErr(attr, format string, args ...any) error {
	return &AttributeError{Attribute: attr, Reason: fmt.Sprintf(format, args...)}
}

// reserved lists the names an extension attribute cannot take: the attributes
// of the CloudEvents specification and the members of the JSON format.
var reserved = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "data": true, "data_base64": true,
}

// validName reports whether name is a valid attribute name: lower-case ASCII
// letters and digits.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Validate checks the required attributes (specversion 1.0, id, source,
// type), that every string is valid UTF-8 without control characters, and
// the names of the extension attributes. The error is an *AttributeError.
func (e *Event) Validate() error {
	switch e.SpecVersion {
	case SpecVersion:
	case "":
		return attrErr("specversion", "missing")
	default:
		return attrErr("specversion", "version %q is not supported (shiplog reads %s)", e.SpecVersion, SpecVersion)
	}
	for _, a := range []struct{ name, v string }{{"id", e.ID}, {"source", e.Source}, {"type", e.Type}} {
		if a.v == "" {
			return attrErr(a.name, "missing")
		}
	}
	for _, a := range []struct{ name, v string }{
		{"id", e.ID}, {"source", e.Source}, {"type", e.Type}, {"subject", e.Subject},
		{"datacontenttype", e.DataContentType}, {"dataschema", e.DataSchema},
	} {
		if err := checkString(a.name, a.v); err != nil {
			return err
		}
	}
	for name, v := range e.Extensions {
		if !validName(name) {
			return attrErr(name, "not a valid extension attribute name (lower-case letters and digits only)")
		}
		if reserved[name] {
			return attrErr(name, "is not an extension attribute")
		}
		if err := checkString(name, v); err != nil {
			return err
		}
	}
	return nil
}

// checkString rejects invalid UTF-8 and the control characters that the
// CloudEvents type system excludes from strings.
func checkString(attr, v string) error {
	if !utf8.ValidString(v) {
		return attrErr(attr, "not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return attrErr(attr, "contains the control character %U", r)
		}
	}
	return nil
}

// mediaType returns the lower-cased media type of a Content-Type value,
// without parameters.
func mediaType(contentType string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// isJSON reports whether data of this content type is JSON. An absent
// content type means JSON, as in the JSON event format.
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt := mediaType(contentType)
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}
