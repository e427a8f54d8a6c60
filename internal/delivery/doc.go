// Package delivery holds shiplog's domain: the events that mark each stage of
// the GitOps delivery flow (code commit → pull request → CI → artifact →
// manifest change → Argo CD sync → Knative revision → traffic) and the derived
// model that stores keep from them.
//
// It imports only the standard library. Sources produce Events, stores append
// them and maintain the derived model, the engine reads the model.
//
// Event type names follow CDEvents (https://cdevents.dev) where CDEvents has a
// word for the occurrence, without the "dev.cdevents." prefix and version
// suffix; the others are shiplog's own and are marked so below.
package delivery
