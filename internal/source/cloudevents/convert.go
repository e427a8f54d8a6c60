package cloudevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Knative ApiServerSource event types.
const (
	typeAPIServerAdd    = "dev.knative.apiserver.resource.add"
	typeAPIServerUpdate = "dev.knative.apiserver.resource.update"
	typeAPIServerDelete = "dev.knative.apiserver.resource.delete"
	typeAPIServerRef    = "dev.knative.apiserver.ref." // add, update, delete
)

// Convert maps a CloudEvent to the delivery events it stands for.
//
// CDEvents (types dev.cdevents.*) are mapped as described in
// docs/sources/cloudevents.md. Every produced event has Source "cloudevents"
// and an ID made of the CloudEvent's source and id ("<source> <id>"); when one
// CloudEvent produces several events, the extra ones carry a suffix
// ("<source> <id>#artifact"). Every produced event passes Validate.
//
// Knative ApiServerSource events, CDEvents types shiplog does not record, and
// all other types give an error wrapping delivery.ErrUnsupported. A CDEvent
// that breaks its specification (bad JSON, a missing required field) gives
// another error.
func Convert(e Event) ([]delivery.Event, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var (
		out []delivery.Event
		err error
	)
	switch {
	case strings.HasPrefix(e.Type, "dev.cdevents."):
		out, err = convertCDEvent(e)
	case e.Type == typeAPIServerAdd || e.Type == typeAPIServerUpdate || e.Type == typeAPIServerDelete:
		err = fmt.Errorf("%w: %s: Kubernetes object events are handled by the kube source", delivery.ErrUnsupported, e.Type)
	case strings.HasPrefix(e.Type, typeAPIServerRef):
		err = fmt.Errorf("%w: %s carries only a reference to the object: set the ApiServerSource's spec.mode to Resource", delivery.ErrUnsupported, e.Type)
	default:
		err = fmt.Errorf("%w: CloudEvents type %q", delivery.ErrUnsupported, e.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cloudevent %q from %q: %w", e.ID, e.Source, err)
	}
	for i := range out {
		if err := out[i].Validate(); err != nil {
			return nil, fmt.Errorf("cloudevent %q from %q: %s event: %w", e.ID, e.Source, out[i].Type, err)
		}
	}
	return out, nil
}

// KubernetesObject returns the Kubernetes object that a Knative
// ApiServerSource event in Resource mode (types
// dev.knative.apiserver.resource.add, .update and .delete) carries as data,
// decoded the way Kubernetes decodes unstructured JSON: whole numbers as
// int64, other numbers as float64. It reports false for other events and for
// data that is not a JSON object.
func (e Event) KubernetesObject() (map[string]any, bool) {
	switch e.Type {
	case typeAPIServerAdd, typeAPIServerUpdate, typeAPIServerDelete:
	default:
		return nil, false
	}
	if !isJSON(e.DataContentType) {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(e.Data))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false // trailing data after the object
	}
	return convertNumbers(obj).(map[string]any), true
}

// convertNumbers replaces json.Number values by int64 or float64.
func convertNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = convertNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = convertNumbers(x)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil && !math.IsInf(f, 0) {
			return f
		}
		return v.String()
	}
	return v
}
