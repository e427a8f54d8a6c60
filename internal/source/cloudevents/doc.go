// Package cloudevents reads CloudEvents delivered over HTTP and turns the
// ones shiplog understands into delivery events.
//
// Decode implements the CloudEvents v1.0 HTTP protocol binding with the JSON
// event format: binary mode (attributes in ce-* headers, the body is the
// data), structured mode (Content-Type application/cloudevents+json) and
// batch mode (application/cloudevents-batch+json). MarshalStructured writes
// an event in structured mode, for clients.
//
// Convert maps one CloudEvent to delivery events. It understands CDEvents
// (https://cdevents.dev, spec v0.4 and v0.5: any 0.x version of each event
// type) for changes, pipeline runs, builds, artifacts, service deployments
// and incidents. Knative ApiServerSource events in Resource mode carry a whole
// Kubernetes object: Event.KubernetesObject returns it for the kube source,
// and Convert declines them. Every other type is declined with an error
// wrapping delivery.ErrUnsupported.
//
// The idempotency key of every produced event is derived from the
// CloudEvent's source and id, which Knative brokers keep across redeliveries.
//
// The package does no I/O: the HTTP handler reads the request and passes the
// header and body in.
package cloudevents
