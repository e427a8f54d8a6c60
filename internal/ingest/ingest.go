// Package ingest is shiplog's HTTP ingestion surface: one handler per
// source, mounted by the app at /ingest/github, /ingest/gitlab,
// /ingest/cloudevents, /ingest/argocd and /ingest/alertmanager.
//
// Every handler does the same steps, in this order, and stops at the first
// that fails:
//
//  1. POST only (405 otherwise);
//  2. the endpoint's secret is configured (503 otherwise: shiplog never
//     accepts unauthenticated input);
//  3. authentication by header, before the body is read: GitLab's
//     X-Gitlab-Token, or Authorization: Bearer for CloudEvents, Argo CD and
//     Alertmanager (401);
//  4. the body, read up to the configured limit (413 above it);
//  5. GitHub's X-Hub-Signature-256, an HMAC of the raw body (401);
//  6. parsing by the source package: malformed input is 400 with the
//     parser's reason, which names the field; well-formed input shiplog does
//     not record (delivery.ErrUnsupported) is 202 "ignored", counted, and
//     not stored; a parser panic is 500;
//  7. one store Append of every event of the request (all or nothing), and
//     202 "stored" once it returned, that is once the events are durable. A
//     store failure is 503 with Retry-After, so that senders retry.
//
// Re-deliveries are recognised by the store's (source, id) key, which each
// source package derives from the delivery: they answer 202 with the events
// counted as duplicates.
//
// Each failed request is logged once, here, with stable keys; secrets,
// signatures and tokens never are.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/cloudevents"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/alertmanager"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/argocd"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/github"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/gitlab"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// DefaultMaxBodyBytes is the body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 5 << 20

// RetryAfter is the Retry-After, in seconds, of a 503 caused by the store.
const RetryAfter = 5

// Options are what the handlers need. Secrets are plain strings here: the
// caller reads them (config.Ingest.LoadSecrets) and never logs them.
type Options struct {
	Store      *store.Store
	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // ingest metrics are registered here when set

	MaxBodyBytes int64 // default DefaultMaxBodyBytes

	// Token is the bearer token of the CloudEvents, Argo CD and Alertmanager
	// endpoints; GitHubSecret keys GitHub's HMAC; GitLabSecret is GitLab's
	// secret token. An empty value leaves its endpoints answering 503.
	Token        string
	GitHubSecret string
	GitLabSecret string

	ArgoCDCluster       string               // Cluster of the events from Argo CD
	AlertmanagerMapping alertmanager.Mapping // empty lists: alertmanager.DefaultMapping
}

// Ingester holds the ingestion handlers and their metrics.
type Ingester struct {
	store   *store.Store
	log     *slog.Logger
	maxBody int64

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	ignored  *prometheus.CounterVec

	github, gitlab, cloudevents, argocd, alertmanager *endpoint
}

// New builds the handlers and registers their metrics.
func New(opts Options) (*Ingester, error) {
	if opts.Store == nil {
		return nil, errors.New("ingest: no store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	in := &Ingester{
		store:   opts.Store,
		log:     opts.Logger,
		maxBody: opts.MaxBodyBytes,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiplog_ingest_requests_total",
			Help: "Requests to the /ingest endpoints, by endpoint and HTTP status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shiplog_ingest_request_duration_seconds",
			Help:    "Time to answer a request to an /ingest endpoint, including the durable store append.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiplog_ingest_ignored_total",
			Help: "Well-formed deliveries (or CloudEvents of a batch) that shiplog does not record, by endpoint and kind of reason.",
		}, []string{"endpoint", "reason_kind"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{in.requests, in.duration, in.ignored} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ingest: register metrics: %w", err)
			}
		}
	}

	bearerAuth := bearer(opts.Token)
	githubSecret, gitlabSecret := []byte(opts.GitHubSecret), []byte(opts.GitLabSecret)
	tokenMissing := "ingest token not configured: set ingest.token_file or SHIPLOG_INGEST_TOKEN"
	in.github = &endpoint{
		in: in, name: "github",
		unconfigured: unless(opts.GitHubSecret == "", "github webhook secret not configured: set ingest.github.secret_file or SHIPLOG_GITHUB_WEBHOOK_SECRET"),
		authBody: func(h http.Header, body []byte) error {
			return github.VerifySignature(githubSecret, body, h.Get(github.SignatureHeader))
		},
		parse:      single(github.Parse, githubKind),
		deliveryID: func(h http.Header) string { return h.Get(github.DeliveryHeader) },
	}
	in.gitlab = &endpoint{
		in: in, name: "gitlab",
		unconfigured: unless(opts.GitLabSecret == "", "gitlab webhook secret not configured: set ingest.gitlab.secret_file or SHIPLOG_GITLAB_WEBHOOK_SECRET"),
		authHeader: func(h http.Header) error {
			return gitlab.VerifyToken(gitlabSecret, h.Get(gitlab.TokenHeader))
		},
		parse: single(gitlab.Parse, gitlabKind),
		deliveryID: func(h http.Header) string {
			if v := h.Get(gitlab.IdempotencyKeyHeader); v != "" {
				return v
			}
			return h.Get(gitlab.EventUUIDHeader)
		},
	}
	in.cloudevents = &endpoint{
		in: in, name: "cloudevents",
		unconfigured: unless(opts.Token == "", tokenMissing),
		authHeader:   bearerAuth,
		bearer:       true,
		parse:        parseCloudEvents,
		deliveryID:   func(h http.Header) string { return h.Get("Ce-Id") },
	}
	cluster := opts.ArgoCDCluster
	in.argocd = &endpoint{
		in: in, name: "argocd",
		unconfigured: unless(opts.Token == "", tokenMissing),
		authHeader:   bearerAuth,
		bearer:       true,
		parse: single(func(_ http.Header, body []byte) ([]delivery.Event, error) {
			return argocd.Parse(body, cluster)
		}, constKind("trigger")),
	}
	mapping := opts.AlertmanagerMapping
	in.alertmanager = &endpoint{
		in: in, name: "alertmanager",
		unconfigured: unless(opts.Token == "", tokenMissing),
		authHeader:   bearerAuth,
		bearer:       true,
		parse: single(func(_ http.Header, body []byte) ([]delivery.Event, error) {
			return alertmanager.Parse(body, mapping)
		}, constKind("no_alerts")),
	}
	var off []string
	for _, ep := range []*endpoint{in.github, in.gitlab, in.cloudevents, in.argocd, in.alertmanager} {
		if ep.unconfigured != "" {
			off = append(off, "/ingest/"+ep.name)
		}
	}
	if len(off) > 0 {
		in.log.Info("ingest endpoints without a secret answer 503 to every request", "endpoints", strings.Join(off, ","))
	}
	return in, nil
}

// GitHub is the handler of /ingest/github.
func (in *Ingester) GitHub() http.Handler { return in.github }

// GitLab is the handler of /ingest/gitlab.
func (in *Ingester) GitLab() http.Handler { return in.gitlab }

// CloudEvents is the handler of /ingest/cloudevents.
func (in *Ingester) CloudEvents() http.Handler { return in.cloudevents }

// ArgoCD is the handler of /ingest/argocd.
func (in *Ingester) ArgoCD() http.Handler { return in.argocd }

// Alertmanager is the handler of /ingest/alertmanager.
func (in *Ingester) Alertmanager() http.Handler { return in.alertmanager }

func unless(missing bool, msg string) string {
	if missing {
		return msg
	}
	return ""
}

// parsed is what an endpoint's parser made of a request.
type parsed struct {
	events  []delivery.Event
	ignored []ignoredItem
	batch   bool // a CloudEvents batch: ignored items carry their index
}

// ignoredItem is a delivery, or a CloudEvent of a batch, that shiplog does
// not record.
type ignoredItem struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	kind   string // low-cardinality label of shiplog_ingest_ignored_total
}

// single adapts a parser of one delivery: delivery.ErrUnsupported becomes
// one ignored item whose kind classify gives.
func single(parse func(http.Header, []byte) ([]delivery.Event, error), classify func(http.Header) string) func(http.Header, []byte) (parsed, error) {
	return func(h http.Header, body []byte) (parsed, error) {
		events, err := parse(h, body)
		switch {
		case errors.Is(err, delivery.ErrUnsupported):
			return parsed{ignored: []ignoredItem{{Reason: err.Error(), kind: classify(h)}}}, nil
		case err != nil:
			return parsed{}, err
		}
		return parsed{events: events}, nil
	}
}

func constKind(kind string) func(http.Header) string {
	return func(http.Header) string { return kind }
}

// githubRecorded lists the GitHub events the github package maps (its
// parsers table); the others are ignored whatever their content.
var githubRecorded = map[string]bool{
	"pull_request": true, "pull_request_review": true, "push": true, "workflow_run": true,
	"check_suite": true, "check_run": true, "deployment_status": true, "registry_package": true, "package": true,
}

// githubKind classifies an ignored GitHub delivery: "ping" (sent when a
// webhook is created), "event_type" (an event shiplog does not record: untick
// it in the webhook settings), "action" (a recorded event whose action,
// state, ref or package type is not).
func githubKind(h http.Header) string {
	switch name := strings.TrimSpace(h.Get(github.EventHeader)); {
	case name == "ping":
		return "ping"
	case !githubRecorded[name]:
		return "event_type"
	}
	return "action"
}

// gitlabRecorded lists the GitLab hooks the gitlab package maps.
var gitlabRecorded = map[string]bool{
	"Merge Request Hook": true, "Push Hook": true, "Pipeline Hook": true, "Deployment Hook": true, "System Hook": true,
}

// gitlabKind classifies an ignored GitLab delivery, as githubKind does.
func gitlabKind(h http.Header) string {
	if !gitlabRecorded[strings.TrimSpace(h.Get(gitlab.EventHeader))] {
		return "event_type"
	}
	return "action"
}

// cloudEventKind classifies an ignored CloudEvent by its type:
// "kubernetes_object" (ApiServerSource Resource mode, for the kube source),
// "kubernetes_reference" (ApiServerSource Reference mode), "cdevent" (a
// CDEvent shiplog does not record, or lacking what shiplog needs),
// "event_type" (any other CloudEvents type).
func cloudEventKind(typ string) string {
	switch {
	case strings.HasPrefix(typ, "dev.knative.apiserver.resource."):
		return "kubernetes_object"
	case strings.HasPrefix(typ, "dev.knative.apiserver.ref."):
		return "kubernetes_reference"
	case strings.HasPrefix(typ, "dev.cdevents."):
		return "cdevent"
	}
	return "event_type"
}

// parseCloudEvents decodes one CloudEvent (binary or structured mode) or a
// batch, and converts each. An event that breaks the specification rejects
// the whole request; the ones shiplog does not record are ignored and the
// others stored together.
func parseCloudEvents(h http.Header, body []byte) (parsed, error) {
	ces, err := cloudevents.Decode(h, body)
	if err != nil {
		return parsed{}, err
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	p := parsed{batch: strings.EqualFold(mt, cloudevents.MediaTypeBatch)}
	for i, ce := range ces {
		events, err := cloudevents.Convert(ce)
		switch {
		case errors.Is(err, delivery.ErrUnsupported):
			p.ignored = append(p.ignored, ignoredItem{Index: i, Reason: err.Error(), kind: cloudEventKind(ce.Type)})
		case err != nil && p.batch:
			return parsed{}, fmt.Errorf("batch event %d: %w", i, err)
		case err != nil:
			return parsed{}, err
		default:
			p.events = append(p.events, events...)
		}
	}
	return p, nil
}

// bearer returns the check of an Authorization: Bearer header against
// token. It compares SHA-256 digests in constant time, so neither the token
// nor its length leaks through timing.
func bearer(token string) func(http.Header) error {
	want := sha256.Sum256([]byte(token))
	return func(h http.Header) error {
		v := strings.TrimSpace(h.Get("Authorization"))
		if v == "" {
			return errors.New("missing Authorization header: send Authorization: Bearer <ingest token>")
		}
		scheme, tok, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return errors.New("the Authorization header is not a Bearer token")
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || token == "" {
			return errors.New("the bearer token does not match the ingest token")
		}
		return nil
	}
}

// endpoint is one /ingest handler.
type endpoint struct {
	in   *Ingester
	name string
	// unconfigured, when set, is why the endpoint cannot authenticate
	// anything: it answers 503 with it.
	unconfigured string
	authHeader   func(http.Header) error         // checked before reading the body
	authBody     func(http.Header, []byte) error // checked on the raw body
	bearer       bool                            // 401s carry WWW-Authenticate: Bearer
	parse        func(http.Header, []byte) (parsed, error)
	deliveryID   func(http.Header) string // for logs; nil when the source has none in headers
}

// result is the answer to one request and what to log about it.
type result struct {
	code   int
	body   any
	header map[string]string
	err    error  // why the request failed, for the log
	reason string // why it was ignored, for the log
	panic  bool
	events int // stored now
	dups   int
}

type errorBody struct {
	Error string `json:"error"`
}

type storedBody struct {
	Status     string        `json:"status"` // "stored"
	Events     int           `json:"events"`
	Duplicates int           `json:"duplicates"`
	Ignored    []ignoredItem `json:"ignored,omitempty"` // batch: the CloudEvents not recorded
}

type ignoredBody struct {
	Status  string        `json:"status"` // "ignored"
	Reason  string        `json:"reason"`
	Ignored []ignoredItem `json:"ignored,omitempty"` // batch: every CloudEvent, by index
}

func fail(code int, err error) result {
	return result{code: code, body: errorBody{Error: err.Error()}, err: err}
}

func (ep *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := ep.handleSafely(w, r)
	h := w.Header()
	for k, v := range res.header {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(res.code)
	_ = json.NewEncoder(w).Encode(res.body)

	elapsed := time.Since(start)
	ep.in.requests.WithLabelValues(ep.name, strconv.Itoa(res.code)).Inc()
	ep.in.duration.WithLabelValues(ep.name).Observe(elapsed.Seconds())
	ep.logResult(r, res, elapsed)
}

// handleSafely runs handle, turning a panic (in a parser, most likely)
// into a 500 so that one bad payload cannot take the server down.
func (ep *endpoint) handleSafely(w http.ResponseWriter, r *http.Request) (res result) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler { // net/http's own signal to abort a response: let it through
			panic(v)
		}
		res = result{
			code:  http.StatusInternalServerError,
			body:  errorBody{Error: "internal error while handling the delivery; it was logged"},
			err:   fmt.Errorf("panic: %v\n%s", v, debug.Stack()),
			panic: true,
		}
	}()
	return ep.handle(w, r)
}

func (ep *endpoint) handle(w http.ResponseWriter, r *http.Request) result {
	if r.Method != http.MethodPost {
		res := fail(http.StatusMethodNotAllowed, fmt.Errorf("method %s is not allowed: send POST", r.Method))
		res.header = map[string]string{"Allow": http.MethodPost}
		return res
	}
	if ep.unconfigured != "" {
		return fail(http.StatusServiceUnavailable, errors.New(ep.unconfigured))
	}
	if ep.authHeader != nil {
		if err := ep.authHeader(r.Header); err != nil {
			return ep.unauthorized(err)
		}
	}
	body, res, ok := ep.readBody(w, r)
	if !ok {
		return res
	}
	if ep.authBody != nil {
		if err := ep.authBody(r.Header, body); err != nil {
			return ep.unauthorized(err)
		}
	}
	p, err := ep.parse(r.Header, body)
	if err != nil {
		return fail(http.StatusBadRequest, err)
	}
	for _, ig := range p.ignored {
		ep.in.ignored.WithLabelValues(ep.name, ig.kind).Inc()
	}
	if len(p.events) == 0 && len(p.ignored) > 0 {
		b := ignoredBody{Status: "ignored", Reason: p.ignored[0].Reason}
		if p.batch {
			b.Ignored = p.ignored
		}
		return result{code: http.StatusAccepted, body: b, reason: b.Reason}
	}
	ar, err := ep.in.store.Append(r.Context(), p.events...)
	var be *store.BatchError
	switch {
	case errors.As(err, &be):
		// The source package let through an event the store refuses: a
		// bug there, but the request is rejected whole all the same.
		return fail(http.StatusBadRequest, err)
	case err != nil:
		res := result{
			code:   http.StatusServiceUnavailable,
			body:   errorBody{Error: "the event store is unavailable: nothing was stored; retry later"},
			header: map[string]string{"Retry-After": strconv.Itoa(RetryAfter)},
			err:    fmt.Errorf("store append: %w", err),
		}
		return res
	}
	b := storedBody{Status: "stored", Events: ar.Appended, Duplicates: ar.Duplicates}
	if p.batch {
		b.Ignored = p.ignored
	}
	return result{code: http.StatusAccepted, body: b, events: ar.Appended, dups: ar.Duplicates}
}

func (ep *endpoint) unauthorized(err error) result {
	res := fail(http.StatusUnauthorized, err)
	if ep.bearer {
		res.header = map[string]string{"WWW-Authenticate": `Bearer realm="shiplog ingest"`}
	}
	return res
}

// readBody reads the whole body up to the limit.
func (ep *endpoint) readBody(w http.ResponseWriter, r *http.Request) ([]byte, result, bool) {
	limit := ep.in.maxBody
	tooLarge := func() ([]byte, result, bool) {
		return nil, fail(http.StatusRequestEntityTooLarge,
			fmt.Errorf("request body larger than %d bytes (ingest.max_body_bytes)", limit)), false
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	size := r.ContentLength
	if size < 0 {
		size = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case err != nil:
		return nil, fail(http.StatusBadRequest, fmt.Errorf("reading the request body: %w", err)), false
	}
	return buf.Bytes(), result{}, true
}

// logResult logs a failed request once, at warn (4xx) or error (5xx);
// accepted ones at debug. Never a header value but the delivery id.
func (ep *endpoint) logResult(r *http.Request, res result, elapsed time.Duration) {
	level := slog.LevelDebug
	switch {
	case res.code >= 500:
		level = slog.LevelError
	case res.code >= 400:
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !ep.in.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("endpoint", ep.name),
		slog.Int("status", res.code),
		slog.String("remote", r.RemoteAddr),
		slog.Duration("duration", elapsed),
	}
	if ep.deliveryID != nil {
		if id := logSafe(ep.deliveryID(r.Header)); id != "" {
			attrs = append(attrs, slog.String("delivery", id))
		}
	}
	msg := "ingest request failed"
	switch {
	case res.panic:
		msg = "ingest handler panicked"
	case res.reason != "":
		msg = "ingest request ignored"
		attrs = append(attrs, slog.String("reason", res.reason))
	case res.code == http.StatusAccepted:
		msg = "ingest request stored"
		attrs = append(attrs, slog.Int("events", res.events), slog.Int("duplicates", res.dups))
	}
	if res.err != nil {
		attrs = append(attrs, slog.String("err", res.err.Error()))
	}
	ep.in.log.LogAttrs(ctx, level, msg, attrs...)
}

// logSafe bounds a header value taken into a log line: printable, at most
// 128 bytes.
func logSafe(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 128 {
		v = v[:128]
	}
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, v)
}
