package cloudevents

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"
)

// MarshalStructured encodes e in the JSON event format, the body of a
// structured-mode request (Content-Type MediaTypeStructured).
//
// Data travels as a JSON value when DataContentType is JSON (or absent) and
// Data is valid JSON, without the whitespace around it; as a JSON string when
// DataContentType is another type and Data is UTF-8 text; as data_base64
// otherwise. Decode gives the event back. Members are written in a fixed
// order, extensions sorted by name.
func MarshalStructured(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	member := func(name string, value any) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(value) // strings and byte slices cannot fail
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	member("specversion", e.SpecVersion)
	member("id", e.ID)
	member("source", e.Source)
	member("type", e.Type)
	for _, a := range []struct{ name, v string }{
		{"subject", e.Subject}, {"datacontenttype", e.DataContentType}, {"dataschema", e.DataSchema},
	} {
		if a.v != "" {
			member(a.name, a.v)
		}
	}
	if !e.Time.IsZero() {
		member("time", e.Time.UTC().Format(time.RFC3339Nano))
	}
	names := make([]string, 0, len(e.Extensions))
	for name := range e.Extensions {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		member(name, e.Extensions[name])
	}
	if len(e.Data) > 0 {
		switch data := trimJSONSpace(e.Data); {
		case isJSON(e.DataContentType) && len(data) > 0 && json.Valid(data):
			b.WriteString(`,"data":`)
			b.Write(data)
		case !isJSON(e.DataContentType) && utf8.Valid(e.Data):
			member("data", string(e.Data))
		default:
			member("data_base64", base64.StdEncoding.EncodeToString(e.Data))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// trimJSONSpace removes the whitespace JSON allows around a value.
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}
