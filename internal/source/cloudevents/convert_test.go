package cloudevents

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

const (
	headSHA   = "4d09b7bd1e6c2f0a9b8c7d6e5f4a3b2c1d0e9f8a"
	mergeSHA  = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	digest    = "sha256:2f1e3c9d6b8a7e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
	oldDigest = "sha256:9b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a"
	imageRef  = "ghcr.io/acme/api:1.4.0-4d09b7b@" + digest
	oldRef    = "ghcr.io/acme/api:1.3.2-77c1e0a@" + oldDigest
	runURL    = "https://tekton.acme.dev/#/namespaces/ci/pipelineruns/api-ci-7f3k2"
)

// cdRequest returns a binary-mode request carrying a CDEvent fixture, with
// the CloudEvents attributes taken from the CDEvent context as the CDEvents
// binding prescribes.
func cdRequest(t testing.TB, path string) (http.Header, []byte) {
	t.Helper()
	data := readFile(t, path)
	var cd cdEvent
	if err := json.Unmarshal(data, &cd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", cd.Context.ID)
	h.Set("ce-source", cd.Context.Source)
	h.Set("ce-type", cd.Context.Type)
	h.Set("ce-time", cd.Context.Timestamp)
	return h, data
}

// checkDelivery compares delivery events through their JSON form, which
// includes the payload, and checks that each one is valid.
func checkDelivery(t *testing.T, got, want []delivery.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\ngot  %s", len(got), len(want), asJSON(t, got))
	}
	for i := range want {
		if g, w := asJSON(t, got[i]), asJSON(t, want[i]); g != w {
			t.Errorf("event %d:\ngot  %s\nwant %s", i, g, w)
		}
		if err := got[i].Validate(); err != nil {
			t.Errorf("event %d: Validate: %v", i, err)
		}
	}
}

func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cdWant lists, for every CDEvent fixture, the delivery events it converts
// to. The v0.4 and v0.5 fixtures of a type describe the same occurrence, so
// they must convert to the same events.
func cdWant(t testing.TB) map[string][]delivery.Event {
	ev := func(id, ts string, typ delivery.EventType, p delivery.Payload) delivery.Event {
		return delivery.Event{Source: Source, ID: id, Time: mustTime(t, ts), Type: typ, Payload: p}
	}
	at := func(e delivery.Event, app, env string) delivery.Event {
		e.App, e.Env = app, env
		return e
	}
	const repo = "https://github.com/acme/api"
	run := func(p delivery.PipelineRun) *delivery.PipelineRun {
		p.RunID, p.Name, p.URL, p.SHA, p.Branch = "ci/api-ci-7f3k2", "api-ci", runURL, mergeSHA, "main"
		return &p
	}
	build := &delivery.PipelineRun{RunID: "build/api-build-4417", SHA: mergeSHA}
	artifact := delivery.Artifact{Name: "ghcr.io/acme/api", Tag: "1.4.0-4d09b7b", Digest: digest}
	buildArtifact := artifact
	buildArtifact.SourceCommit, buildArtifact.PipelineRun = mergeSHA, "build/api-build-4417"
	packaged := artifact
	packaged.SourceRepo, packaged.SourceCommit = "github.com/acme/api", mergeSHA
	incident := func(artifact string) *delivery.Incident {
		return &delivery.Incident{
			IncidentID: "incident-2024-0312", Title: "Error rate above 5% on api",
			Description: "Error rate above 5% on api\nSLO burn rate 14x over 5m", Service: "service/api", Artifact: artifact,
		}
	}
	return map[string][]delivery.Event{
		"change_created": {ev("/github/acme/api 9d0c6a4e-1f53-4d5e-9a7b-0c3f2e1d4b5a", "2024-03-05T07:01:12Z",
			delivery.ChangeCreated, &delivery.Change{Repo: repo, Number: 1287, HeadSHA: headSHA})},
		"change_reviewed": {ev("/github/acme/api 5b7e2f10-8c4d-4a3b-b2e1-6f9d8c7a5e40", "2024-03-05T07:12:40Z",
			delivery.ChangeReviewed, &delivery.Change{Repo: repo, Number: 1287, HeadSHA: headSHA, Reviewer: "bob", ReviewState: delivery.ReviewApproved})},
		"change_merged": {ev("/github/acme/api c3a1d2e4-5f67-4890-ab12-cd34ef56a789", "2024-03-05T07:15:03Z",
			delivery.ChangeMerged, &delivery.Change{Repo: repo, Number: 1287, URL: "https://github.com/acme/api/pull/1287", MergeSHA: mergeSHA})},
		"change_abandoned": {ev("/github/acme/api 0f1e2d3c-4b5a-4697-8877-66554433a2b1", "2024-03-05T09:30:00Z",
			delivery.ChangeAbandoned, &delivery.Change{Repo: repo, Number: 1290})},
		"pipelinerun_queued": {ev("/tekton/ci e1d2c3b4-a596-4877-8a9b-0c1d2e3f4a5b", "2024-03-05T07:15:09Z",
			delivery.PipelineRunQueued, run(delivery.PipelineRun{}))},
		"pipelinerun_started": {ev("/tekton/ci f2e3d4c5-b6a7-4988-9bac-1d2e3f4a5b6c", "2024-03-05T07:15:11Z",
			delivery.PipelineRunStarted, run(delivery.PipelineRun{}))},
		"pipelinerun_finished": {ev("/tekton/ci a3f4e5d6-c7b8-4a99-8cbd-2e3f4a5b6c7d", "2024-03-05T07:21:47Z",
			delivery.PipelineRunFinished, run(delivery.PipelineRun{Outcome: delivery.OutcomeSuccess}))},
		"build_queued": {ev("/tekton/ci b4a5f6e7-d8c9-4baa-9dce-3f4a5b6c7d8e", "2024-03-05T07:16:02Z",
			delivery.PipelineRunQueued, build)},
		"build_started": {ev("/tekton/ci c5b6a7f8-e9da-4cbb-8edf-4a5b6c7d8e9f", "2024-03-05T07:16:05Z",
			delivery.PipelineRunStarted, build)},
		"build_finished": {
			ev("/tekton/ci d6c7b8a9-faeb-4dcc-9fea-5b6c7d8e9fa0", "2024-03-05T07:19:58Z",
				delivery.PipelineRunFinished, &delivery.PipelineRun{RunID: "build/api-build-4417", SHA: mergeSHA, Outcome: delivery.OutcomeSuccess}),
			ev("/tekton/ci d6c7b8a9-faeb-4dcc-9fea-5b6c7d8e9fa0#artifact", "2024-03-05T07:19:58Z",
				delivery.ArtifactPackaged, &buildArtifact),
		},
		"artifact_packaged": {ev("/tekton/ci e7d8c9ba-0bfc-4edd-8a0b-6c7d8e9fa0b1", "2024-03-05T07:19:59Z",
			delivery.ArtifactPackaged, &packaged)},
		"artifact_published": {ev("/ghcr.io/acme f8e9dacb-1c0d-4fee-9b1c-7d8e9fa0b1c2", "2024-03-05T07:20:31Z",
			delivery.ArtifactPublished, &artifact)},
		"service_deployed": {at(ev("/argocd/prod-eu-1 0a1b2c3d-4e5f-4061-8273-8e9fa0b1c2d3", "2024-03-05T07:33:04Z",
			delivery.ServiceDeployed, &delivery.Deployment{Artifact: imageRef, SourceCommit: mergeSHA, InferredFrom: "cdevents"}), "api", "production")},
		"service_upgraded": {at(ev("/argocd/prod-eu-1 1b2c3d4e-5f60-4172-9384-9fa0b1c2d3e4", "2024-03-05T07:33:04Z",
			delivery.ServiceUpgraded, &delivery.Deployment{Artifact: imageRef, InferredFrom: "cdevents"}), "api", "production")},
		"service_rolledback": {at(ev("/argocd/prod-eu-1 2c3d4e5f-6071-4283-a495-a0b1c2d3e4f5", "2024-03-05T08:02:17Z",
			delivery.ServiceRolledBack, &delivery.Deployment{Artifact: oldRef, InferredFrom: "cdevents"}), "api", "production")},
		"service_removed": {at(ev("/argocd/prod-eu-1 3d4e5f60-7182-4394-b5a6-b1c2d3e4f5a6", "2024-03-06T10:00:00Z",
			delivery.ServiceRemoved, &delivery.Deployment{InferredFrom: "cdevents"}), "api", "production")},
		"incident_detected": {at(ev("/monitoring/prod-eu-1 4e5f6071-8293-44a5-86b7-c2d3e4f5a6b7", "2024-03-05T07:41:26Z",
			delivery.IncidentDetected, incident(imageRef)), "api", "production")},
		"incident_resolved": {at(ev("/monitoring/prod-eu-1 5f607182-93a4-45b6-97c8-d3e4f5a6b7c8", "2024-03-05T08:05:10Z",
			delivery.IncidentResolved, incident(oldRef)), "api", "production")},
	}
}

func TestConvertCDEvents(t *testing.T) {
	want := cdWant(t)
	for _, version := range []string{"v0.4", "v0.5"} {
		files, err := filepath.Glob(filepath.Join("testdata", "cdevents", version, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != len(want)+1 { // + change_updated, which shiplog does not record
			t.Fatalf("%s: got %d fixtures, want %d", version, len(files), len(want)+1)
		}
		for _, path := range files {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			if name == "change_updated" {
				continue // TestConvertUnsupported
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected events for fixture %s", path)
			}
			t.Run(version+"/"+name+"/binary", func(t *testing.T) {
				h, body := cdRequest(t, path)
				ces, err := Decode(h, body)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				got, err := Convert(ces[0])
				if err != nil {
					t.Fatalf("Convert: got error %v, want nil", err)
				}
				checkDelivery(t, got, w)
			})
			t.Run(version+"/"+name+"/structured", func(t *testing.T) {
				h, body := cdRequest(t, path)
				ces, err := Decode(h, body)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				s, err := MarshalStructured(ces[0])
				if err != nil {
					t.Fatalf("MarshalStructured: %v", err)
				}
				ces, err = Decode(http.Header{"Content-Type": {MediaTypeStructured}}, s)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				got, err := Convert(ces[0])
				if err != nil {
					t.Fatalf("Convert: got error %v, want nil", err)
				}
				checkDelivery(t, got, w)
			})
		}
	}
}

func TestConvertRequests(t *testing.T) {
	want := cdWant(t)
	tests := []struct {
		request string
		want    [][]delivery.Event // per CloudEvent
	}{
		{"binary-broker.http", [][]delivery.Event{want["service_deployed"]}},
		{"structured.http", [][]delivery.Event{want["pipelinerun_finished"]}},
		{"structured-base64.http", [][]delivery.Event{want["artifact_published"]}},
		{"batch.http", [][]delivery.Event{want["build_finished"], want["artifact_published"], want["service_deployed"]}},
		// The request of the curl example in docs/sources/cloudevents.md.
		{"curl-artifact-packaged.http", [][]delivery.Event{{{
			Source: Source, ID: "/github/acme/api/actions 3b0f6a8e-7c21-4d9a-b5e4-2f8c1a9d0e73", Type: delivery.ArtifactPackaged,
			Time: mustTime(t, "2024-03-05T07:20:02Z"),
			Payload: &delivery.Artifact{Name: "ghcr.io/acme/api", Tag: "1.4.0-4d09b7b", Digest: digest,
				SourceRepo: "github.com/acme/api", SourceCommit: mergeSHA},
		}}}},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			h, body := readRequest(t, tt.request)
			ces, err := Decode(h, body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(ces) != len(tt.want) {
				t.Fatalf("Decode: got %d events, want %d", len(ces), len(tt.want))
			}
			for i, ce := range ces {
				got, err := Convert(ce)
				if err != nil {
					t.Fatalf("Convert(event %d): got error %v, want nil", i, err)
				}
				checkDelivery(t, got, tt.want[i])
			}
		})
	}
}

// cdVariant returns the v0.5 fixture name with its JSON changed by edit.
func cdVariant(t *testing.T, name string, edit func(m map[string]any)) Event {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFile(t, "testdata", "cdevents", "v0.5", name+".json"), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := m["context"].(map[string]any)
	typ, _ := ctx["type"].(string)
	return Event{SpecVersion: "1.0", ID: "ce-1", Source: "/ci", Type: typ, DataContentType: "application/json", Data: data}
}

// get walks a path of object members.
func get(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		m = m[k].(map[string]any)
	}
	return m
}

func TestConvertVariants(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		edit    func(m map[string]any)
		want    func(e delivery.Event) delivery.Event // from the event converted from the unchanged fixture
	}{
		{"future minor version of a type", "service_deployed",
			func(m map[string]any) { get(m, "context")["type"] = "dev.cdevents.service.deployed.0.9.1-draft" },
			func(e delivery.Event) delivery.Event { return e }},
		{"pipeline run failure", "pipelinerun_finished",
			func(m map[string]any) {
				c := get(m, "subject", "content")
				c["outcome"], c["errors"] = "failure", "step unit-tests: exit code 1"
			},
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.PipelineRun)
				p.Outcome = delivery.OutcomeFailure
				e.Payload = &p
				return e
			}},
		{"cancelled pipeline run", "pipelinerun_finished",
			func(m map[string]any) { get(m, "subject", "content")["outcome"] = "cancelled" },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.PipelineRun)
				p.Outcome = delivery.OutcomeCancel
				e.Payload = &p
				return e
			}},
		{"change number at the end of a branch-like id", "change_created",
			func(m map[string]any) { get(m, "subject")["id"] = "featureBranch123" },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Change)
				p.Number = 123
				e.Payload = &p
				return e
			}},
		{"repository from subject.source", "change_created",
			func(m map[string]any) { delete(get(m, "subject", "content"), "repository") },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Change)
				p.Repo = "github.com/acme/api"
				e.Payload = &p
				return e
			}},
		{"repository source ending with its id", "change_created",
			func(m map[string]any) {
				get(m, "subject", "content", "repository")["source"] = "https://gitlab.example.com/acme/api/"
			},
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Change)
				p.Repo = "https://gitlab.example.com/acme/api"
				e.Payload = &p
				return e
			}},
		{"repository without source", "change_abandoned",
			func(m map[string]any) { delete(get(m, "subject", "content", "repository"), "source") },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Change)
				p.Repo = "acme/api"
				e.Payload = &p
				return e
			}},
		{"pipeline run error", "pipelinerun_finished",
			func(m map[string]any) { get(m, "subject", "content")["outcome"] = "error" },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.PipelineRun)
				p.Outcome = delivery.OutcomeError
				e.Payload = &p
				return e
			}},
		{"upper-case SHA and review state", "change_reviewed",
			func(m map[string]any) {
				c := get(m, "customData")
				c["sha"], c["reviewState"] = strings.ToUpper(headSHA), "CHANGES_REQUESTED"
			},
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Change)
				p.ReviewState = delivery.ReviewChangesRequested
				e.Payload = &p
				return e
			}},
		{"failed build names no artifact", "build_finished",
			func(m map[string]any) { m["customData"] = map[string]any{"sha": mergeSHA, "outcome": "failure"} },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.PipelineRun)
				p.Outcome = delivery.OutcomeFailure
				e.Payload = &p
				return e
			}},
		{"build of a Go module gives no artifact event", "build_finished",
			func(m map[string]any) {
				get(m, "subject", "content")["artifactId"] = "pkg:golang/github.com/acme/api@v1.4.0"
			},
			func(e delivery.Event) delivery.Event { return e }},
		{"artifact change that is a tag, not a SHA", "artifact_packaged",
			func(m map[string]any) { get(m, "subject", "content", "change")["id"] = "v1.4.0" },
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Artifact)
				p.SourceCommit = ""
				e.Payload = &p
				return e
			}},
		{"artifact without repository_url", "artifact_published",
			func(m map[string]any) {
				get(m, "subject")["id"] = "pkg:oci/api@sha256%3A" + digest[len("sha256:"):]
			},
			func(e delivery.Event) delivery.Event {
				e.Payload = &delivery.Artifact{Name: "api", Digest: digest}
				return e
			}},
		{"docker package URL with a tag", "artifact_published",
			func(m map[string]any) {
				get(m, "subject")["id"] = "pkg:docker/acme/api@1.4.0?repository_url=registry.acme.dev"
			},
			func(e delivery.Event) delivery.Event {
				e.Payload = &delivery.Artifact{Name: "registry.acme.dev/acme/api", Tag: "1.4.0"}
				return e
			}},
		{"service deployed with a non-image artifact", "service_deployed",
			func(m map[string]any) {
				get(m, "subject", "content")["artifactId"] = "pkg:golang/github.com/acme/api@v1.4.0"
			},
			func(e delivery.Event) delivery.Event {
				p := *e.Payload.(*delivery.Deployment)
				p.Artifact = "pkg:golang/github.com/acme/api@v1.4.0"
				e.Payload = &p
				return e
			}},
		{"incident without service, environment or artifact", "incident_detected",
			func(m map[string]any) {
				get(m, "subject")["content"] = map[string]any{"description": "  Disk full\non node-7 "}
			},
			func(e delivery.Event) delivery.Event {
				e.App, e.Env = "", ""
				e.Payload = &delivery.Incident{IncidentID: "incident-2024-0312", Title: "Disk full", Description: "  Disk full\non node-7 "}
				return e
			}},
		{"timestamp with offset and fraction", "service_removed",
			func(m map[string]any) { get(m, "context")["timestamp"] = "2024-03-06T11:00:00.250+01:00" },
			func(e delivery.Event) delivery.Event {
				e.Time = e.Time.Add(250e6)
				return e
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := Convert(cdVariant(t, tt.fixture, func(map[string]any) {}))
			if err != nil {
				t.Fatalf("Convert(unchanged %s): %v", tt.fixture, err)
			}
			got, err := Convert(cdVariant(t, tt.fixture, tt.edit))
			if err != nil {
				t.Fatalf("Convert: got error %v, want nil", err)
			}
			checkDelivery(t, got, []delivery.Event{tt.want(base[0])})
		})
	}
}

func TestConvertUnsupported(t *testing.T) {
	cd := func(name string, edit func(m map[string]any)) Event { return cdVariant(t, name, edit) }
	same := func(map[string]any) {}
	tests := []struct {
		name    string
		event   Event
		wantErr string
	}{
		{"change.updated", cd("change_updated", same), "CDEvents change.updated is not recorded by shiplog"},
		{"taskrun.started", cd("pipelinerun_started", func(m map[string]any) {
			get(m, "context")["type"] = "dev.cdevents.taskrun.started.0.3.0"
		}), "CDEvents taskrun.started is not recorded"},
		{"major version 1", cd("service_deployed", func(m map[string]any) {
			get(m, "context")["type"] = "dev.cdevents.service.deployed.1.0.0"
		}), "version 1.0.0 of CDEvents service.deployed: shiplog reads versions 0.x"},
		{"specification 1.0", cd("service_deployed", func(m map[string]any) {
			get(m, "context")["specversion"] = "1.0.0"
		}), "CDEvents specification 1.0.0"},
		{"malformed CDEvents type", Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "dev.cdevents.service"}, `"dev.cdevents.service" is not a CDEvents type name`},
		{"change without a number", cd("change_created", func(m map[string]any) {
			get(m, "subject")["id"] = "I8473b95934b5732ac55d26311a706c9c2bde9940"
		}), `change id "I8473b95934b5732ac55d26311a706c9c2bde9940" holds no pull/merge request number`},
		{"change id that is a SHA", cd("change_merged", func(m map[string]any) {
			get(m, "subject")["id"] = "https://github.com/acme/api/commit/1a429d2f06fa49d8ece5045ac6471dc8a2276895"
		}), "holds no pull/merge request number"},
		{"change without repository", cd("change_created", func(m map[string]any) {
			s := get(m, "subject")
			delete(s, "source")
			delete(get(s, "content"), "repository")
		}), `change "1287" names no repository`},
		{"merge without SHA", cd("change_merged", func(m map[string]any) { delete(m, "customData") }),
			"change.merged of https://github.com/acme/api#1287 names no merge commit: set customData.sha"},
		{"review without reviewer", cd("change_reviewed", func(m map[string]any) { delete(get(m, "customData"), "reviewer") }),
			"names no reviewer or verdict"},
		{"pipeline run finished without outcome", cd("pipelinerun_finished", func(m map[string]any) {
			delete(get(m, "subject", "content"), "outcome")
		}), `pipelinerun.finished "ci/api-ci-7f3k2" has no outcome`},
		{"build finished without outcome or artifact", cd("build_finished", func(m map[string]any) {
			get(m, "subject")["content"] = map[string]any{}
		}), `build.finished "api-build-4417" has no outcome`},
		{"artifact that is not an image", cd("artifact_published", func(m map[string]any) {
			get(m, "subject")["id"] = "pkg:npm/%40acme/web@2.1.0"
		}), `artifact "pkg:npm/%40acme/web@2.1.0" is not a container image`},
		{"Knative ApiServerSource resource", Event{SpecVersion: "1.0", ID: "1", Source: "https://10.96.0.1:443", Type: typeAPIServerUpdate},
			"Kubernetes object events are handled by the kube source"},
		{"Knative ApiServerSource reference", Event{SpecVersion: "1.0", ID: "1", Source: "https://10.96.0.1:443", Type: "dev.knative.apiserver.ref.add"},
			"set the ApiServerSource's spec.mode to Resource"},
		{"other type", Event{SpecVersion: "1.0", ID: "1", Source: "//pubsub.googleapis.com/projects/p/topics/t", Type: "google.cloud.pubsub.topic.v1.messagePublished"},
			`CloudEvents type "google.cloud.pubsub.topic.v1.messagePublished"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Convert(tt.event)
			if !errors.Is(err, delivery.ErrUnsupported) {
				t.Fatalf("Convert: got %v, error %v; want an error wrapping delivery.ErrUnsupported", got, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Convert: got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	cd := func(name string, edit func(m map[string]any)) Event { return cdVariant(t, name, edit) }
	withData := func(ct, data string) Event {
		return Event{SpecVersion: "1.0", ID: "1", Source: "/ci", Type: "dev.cdevents.service.deployed.0.3.0", DataContentType: ct, Data: []byte(data)}
	}
	tests := []struct {
		name    string
		event   Event
		wantErr string
	}{
		{"invalid CloudEvent", Event{SpecVersion: "1.0", ID: "1", Type: "t"}, "cloudevents: attribute source: missing"},
		{"no data", withData("application/json", ""), "no data"},
		{"data not JSON", withData("text/plain", "deployed"), `data content type "text/plain": a CDEvent is JSON`},
		{"bad JSON", withData("application/json", `{"context":`), "data is not a CDEvent"},
		{"wrong JSON type", cd("service_deployed", func(m map[string]any) {
			get(m, "subject", "content")["environment"] = "production"
		}), "data is not a CDEvent: json: cannot unmarshal string"},
		{"missing context id", cd("service_deployed", func(m map[string]any) { delete(get(m, "context"), "id") }), "CDEvent context.id: missing"},
		{"missing timestamp", cd("service_deployed", func(m map[string]any) { delete(get(m, "context"), "timestamp") }), "CDEvent context.timestamp: missing"},
		{"bad timestamp", cd("service_deployed", func(m map[string]any) { get(m, "context")["timestamp"] = "05/03/2024" }),
			`CDEvent context.timestamp: "05/03/2024" is not an RFC 3339 timestamp`},
		{"timestamp before 1970", cd("service_deployed", func(m map[string]any) { get(m, "context")["timestamp"] = "0001-01-01T00:00:00Z" }),
			"invalid event: time: missing or zero timestamp"},
		{"missing subject id", cd("service_deployed", func(m map[string]any) { delete(get(m, "subject"), "id") }), "CDEvent subject.id: missing"},
		{"context type differs", func() Event {
			e := cd("service_deployed", func(map[string]any) {})
			e.Type = "dev.cdevents.service.upgraded.0.3.0"
			return e
		}(), `CDEvent context.type "dev.cdevents.service.deployed.0.3.0" differs from the CloudEvent type "dev.cdevents.service.upgraded.0.3.0"`},
		{"bad outcome", cd("pipelinerun_finished", func(m map[string]any) { get(m, "subject", "content")["outcome"] = "skipped" }),
			`CDEvent subject.content.outcome: "skipped" is not one of success, failure, cancel, error`},
		{"bad build outcome", cd("build_finished", func(m map[string]any) { get(m, "customData")["outcome"] = "green" }),
			`CDEvent customData.outcome: "green" is not one of`},
		{"bad review state", cd("change_reviewed", func(m map[string]any) { get(m, "customData")["reviewState"] = "lgtm" }),
			`CDEvent customData.reviewState: "lgtm" is not one of approved, changes_requested, commented, dismissed`},
		{"bad custom SHA", cd("service_deployed", func(m map[string]any) { get(m, "customData")["sha"] = "main" }),
			`CDEvent customData.sha: "main" is not a hexadecimal commit SHA`},
		{"service without environment", cd("service_deployed", func(m map[string]any) { delete(get(m, "subject", "content"), "environment") }),
			"CDEvent subject.content.environment.id: missing"},
		{"service deployed without artifact", cd("service_deployed", func(m map[string]any) { delete(get(m, "subject", "content"), "artifactId") }),
			"CDEvent subject.content.artifactId: missing"},
		{"artifact with a short digest", cd("artifact_published", func(m map[string]any) {
			get(m, "subject")["id"] = "pkg:oci/myapp@sha256%3A244fd47e07d10?repository_url=mycr.io/myapp"
		}), `version "sha256:244fd47e07d10" is not an image digest`},
		{"artifact with neither digest nor tag", cd("artifact_published", func(m map[string]any) {
			get(m, "subject")["id"] = "pkg:oci/api?repository_url=ghcr.io/acme/api"
		}), "names neither a digest nor a tag"},
		{"malformed package URL", cd("artifact_published", func(m map[string]any) { get(m, "subject")["id"] = "ghcr.io/acme/api:1.4.0" }),
			`package URL "ghcr.io/acme/api:1.4.0": does not start with pkg:`},
		{"malformed build artifact", cd("build_finished", func(m map[string]any) {
			get(m, "subject", "content")["artifactId"] = "pkg:oci/api@sha256%3Ashort?repository_url=ghcr.io/acme/api"
		}), `CDEvent subject.content.artifactId: package URL "pkg:oci/api@sha256%3Ashort?repository_url=ghcr.io/acme/api": version "sha256:short" is not an image digest`},
		{"malformed incident artifact", cd("incident_detected", func(m map[string]any) {
			get(m, "subject", "content")["artifactId"] = "pkg:oci/api"
		}), `CDEvent subject.content.artifactId: package URL "pkg:oci/api" names neither a digest nor a tag`},
		{"malformed service artifact", cd("service_deployed", func(m map[string]any) {
			get(m, "subject", "content")["artifactId"] = "pkg:oci/api@sha256%ZZ"
		}), "CDEvent subject.content.artifactId"},
		{"id too long to store", func() Event {
			e := cd("service_deployed", func(map[string]any) {})
			e.ID = strings.Repeat("x", delivery.MaxIDLen)
			return e
		}(), "invalid event: id: longer than 512 bytes"},
		{"environment with a newline", cd("service_deployed", func(m map[string]any) {
			get(m, "subject", "content", "environment")["id"] = "prod\nuction"
		}), "invalid event: environment: contains invalid characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Convert(tt.event)
			if err == nil {
				t.Fatalf("Convert: got %s, nil error; want an error", asJSON(t, got))
			}
			if errors.Is(err, delivery.ErrUnsupported) {
				t.Errorf("Convert: got %v, want an error that does not wrap ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Convert: got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestKubernetesObject(t *testing.T) {
	h, body := readRequest(t, "apiserver-resource.http")
	ces, err := Decode(h, body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	obj, ok := ces[0].KubernetesObject()
	if !ok {
		t.Fatal("KubernetesObject: got false, want the Application")
	}
	meta := obj["metadata"].(map[string]any)
	if got := meta["name"]; got != "api-prod" {
		t.Errorf("metadata.name: got %v, want api-prod", got)
	}
	if got := meta["generation"]; got != int64(412) {
		t.Errorf("metadata.generation: got %#v, want int64(412)", got)
	}
	hist := obj["status"].(map[string]any)["history"].([]any)
	if got := hist[0].(map[string]any)["id"]; got != int64(23) {
		t.Errorf("status.history[0].id: got %#v, want int64(23)", got)
	}
	if _, err := Convert(ces[0]); !errors.Is(err, delivery.ErrUnsupported) || !strings.Contains(err.Error(), "handled by the kube source") {
		t.Errorf("Convert: got error %v, want ErrUnsupported naming the kube source", err)
	}

	tests := []struct {
		name  string
		event Event
		want  map[string]any
	}{
		{"add", Event{Type: typeAPIServerAdd, Data: []byte(`{"kind":"Revision","spec":{"containerConcurrency":0,"timeoutSeconds":300.5}}`)},
			map[string]any{"kind": "Revision", "spec": map[string]any{"containerConcurrency": int64(0), "timeoutSeconds": 300.5}}},
		{"delete with JSON content type", Event{Type: typeAPIServerDelete, DataContentType: "application/json; charset=utf-8", Data: []byte(`{"kind":"Route"}`)},
			map[string]any{"kind": "Route"}},
		{"reference mode", Event{Type: "dev.knative.apiserver.ref.add", Data: []byte(`{"kind":"Revision"}`)}, nil},
		{"other type", Event{Type: "dev.cdevents.service.deployed.0.3.0", Data: []byte(`{"kind":"Revision"}`)}, nil},
		{"not JSON", Event{Type: typeAPIServerUpdate, DataContentType: "text/plain", Data: []byte(`{"kind":"Revision"}`)}, nil},
		{"array", Event{Type: typeAPIServerUpdate, Data: []byte(`[{"kind":"Revision"}]`)}, nil},
		{"null", Event{Type: typeAPIServerUpdate, Data: []byte(`null`)}, nil},
		{"trailing data", Event{Type: typeAPIServerUpdate, Data: []byte(`{"kind":"Revision"} {}`)}, nil},
		{"no data", Event{Type: typeAPIServerUpdate}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.event.KubernetesObject()
			if ok != (tt.want != nil) || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("KubernetesObject: got %#v, %v; want %#v, %v", got, ok, tt.want, tt.want != nil)
			}
		})
	}
}

func TestConvertRefRequest(t *testing.T) {
	h, body := readRequest(t, "apiserver-ref.http")
	ces, err := Decode(h, body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if obj, ok := ces[0].KubernetesObject(); ok {
		t.Errorf("KubernetesObject: got %v, true; want false for a reference", obj)
	}
	_, err = Convert(ces[0])
	if !errors.Is(err, delivery.ErrUnsupported) || !strings.Contains(err.Error(), "mode to Resource") {
		t.Errorf("Convert: got error %v, want ErrUnsupported asking for mode Resource", err)
	}
}

// TestFixturesAreCDEvents guards the fixtures: v0.4 ones carry
// context.version and pipeline run URLs in url, v0.5 ones context.specversion
// and uri.
func TestFixturesAreCDEvents(t *testing.T) {
	for _, version := range []string{"v0.4", "v0.5"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "cdevents", version, "*.json"))
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var cd cdEvent
			if err := json.Unmarshal(b, &cd); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			wantVersion, gotVersion := "0.4.1", cd.Context.Version
			if version == "v0.5" {
				wantVersion, gotVersion = "0.5.0", cd.Context.SpecVersion
			}
			if gotVersion != wantVersion {
				t.Errorf("%s: spec version: got %q, want %q", path, gotVersion, wantVersion)
			}
			c := cd.Subject.Content
			if strings.Contains(path, "pipelinerun") && (version == "v0.4") != (c.URL != "" && c.URI == "") {
				t.Errorf("%s: url/uri: got url %q, uri %q", path, c.URL, c.URI)
			}
		}
	}
}
