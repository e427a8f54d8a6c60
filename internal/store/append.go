package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// AppendResult says what an Append stored.
type AppendResult struct {
	Appended   int     // events stored now
	Duplicates int     // events whose (source, id) was already stored
	Seqs       []int64 // per event in call order: its log position, or 0 for a duplicate
}

// BatchError says which event of an Append call was rejected. Err is usually
// a *delivery.ValidationError.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("event %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// item is one validated, encoded event waiting to be written.
type item struct {
	ev      delivery.Event
	payload []byte
	entity  string
}

type appendReq struct {
	items []item
	done  chan appendDone
}

type appendDone struct {
	seqs []int64
	err  error
}

// Append validates every event, then stores them all in one transaction
// together with the derived model. It returns only once the transaction has
// committed. An invalid event rejects the whole call with a *BatchError and
// nothing is stored. Re-appending an event with a stored (source, id) is not
// an error: it is counted as a duplicate and changes nothing.
func (s *Store) Append(ctx context.Context, events ...delivery.Event) (AppendResult, error) {
	if len(events) == 0 {
		return AppendResult{}, nil
	}
	items := make([]item, len(events))
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			return AppendResult{}, &BatchError{Index: i, Err: err}
		}
		b, err := e.MarshalPayload()
		if err != nil {
			return AppendResult{}, &BatchError{Index: i, Err: err}
		}
		items[i] = item{ev: *e, payload: b, entity: e.Entity()}
	}
	req := &appendReq{items: items, done: make(chan appendDone, 1)}

	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	select {
	case s.reqs <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return AppendResult{}, ctx.Err()
	}
	// Once queued, the write happens whatever the caller does; waiting for
	// it keeps "answered" meaning "durable".
	d := <-req.done
	if d.err != nil {
		return AppendResult{}, d.err
	}
	res := AppendResult{Seqs: d.seqs}
	for _, seq := range d.seqs {
		if seq == 0 {
			res.Duplicates++
		} else {
			res.Appended++
		}
	}
	return res, nil
}

// writer gathers queued appends into transactions until Close.
func (s *Store) writer() {
	defer s.writers.Done()
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.stop:
			// Finish what was queued before Close.
			for {
				select {
				case r := <-s.reqs:
					s.commitGroup([]*appendReq{r})
				default:
					return
				}
			}
		}
		group, n := []*appendReq{first}, len(first.items)
	gather:
		for n < s.maxBatch {
			select {
			case r := <-s.reqs:
				group = append(group, r)
				n += len(r.items)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup writes a group of requests in one transaction and answers them.
func (s *Store) commitGroup(group []*appendReq) {
	var items []item
	for _, r := range group {
		items = append(items, r.items...)
	}
	start := time.Now()
	var seqs []int64
	var err error
	for attempt := 0; ; attempt++ {
		seqs, err = s.commit(items)
		if err == nil || !s.dialect.Retryable(err) || attempt == 8 {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	s.metrics.observeCommit(len(items), time.Since(start), err)
	if err != nil {
		s.log.Error("append failed", "events", len(items), "err", err)
	} else {
		var fresh []delivery.Event
		for i, it := range items {
			if seqs[i] != 0 {
				s.metrics.ingested(it.ev.Source, string(it.ev.Type))
				if s.onAppend != nil {
					e := it.ev
					e.Seq = seqs[i]
					fresh = append(fresh, e)
				}
			} else {
				s.metrics.duplicate(it.ev.Source)
			}
		}
		if len(fresh) > 0 {
			s.onAppend(fresh)
		}
	}
	off := 0
	for _, r := range group {
		d := appendDone{err: err}
		if err == nil {
			d.seqs = seqs[off : off+len(r.items)]
		}
		off += len(r.items)
		r.done <- d
	}
}

// commit runs one transaction: insert events, update the derived model.
func (s *Store) commit(items []item) (seqs []int64, err error) {
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin append transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	w := &txWriter{tx: tx, d: s.dialect, stmts: map[string]*sql.Stmt{}}
	defer w.closeStmts()

	// The first of several events with one key in a call is the one stored.
	type key struct{ source, id string }
	first := make(map[key]int, len(items))
	unique := make([]*item, 0, len(items))
	for i := range items {
		k := key{items[i].ev.Source, items[i].ev.ID}
		if _, dup := first[k]; !dup {
			first[k] = i
			unique = append(unique, &items[i])
		}
	}
	received := s.now().UnixNano()
	stored := make(map[key]int64, len(unique))
	for chunk := range slices.Chunk(unique, maxRows(len(eventInsertColumns))) {
		args := make([]any, 0, len(chunk)*len(eventInsertColumns))
		for _, it := range chunk {
			e := &it.ev
			args = append(args, e.Source, e.ID, string(e.Type), e.Time.UnixNano(), received,
				e.App, e.Env, e.Team, e.Cluster, e.Namespace, it.entity, string(it.payload))
		}
		rows, err := w.query(ctx, insertEventsSQL(len(chunk)), args...)
		if err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		for rows.Next() {
			var k key
			var seq int64
			if err := rows.Scan(&seq, &k.source, &k.id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("insert events: %w", err)
			}
			stored[k] = seq
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
	}
	seqs = make([]int64, len(items))
	fresh := make([]*item, 0, len(stored))
	for _, it := range unique {
		k := key{it.ev.Source, it.ev.ID}
		if seq, ok := stored[k]; ok {
			seqs[first[k]] = seq
			fresh = append(fresh, it)
		}
	}
	// Keep log order for the projection.
	slices.SortFunc(fresh, func(a, b *item) int {
		return cmp.Compare(stored[key{a.ev.Source, a.ev.ID}], stored[key{b.ev.Source, b.ev.ID}])
	})
	if len(fresh) > 0 {
		if w.changeSeq, err = s.dialect.ChangeSeq(ctx, tx); err != nil {
			return nil, fmt.Errorf("read change sequence: %w", err)
		}
	}
	if err := s.project(ctx, w, fresh); err != nil {
		return nil, err
	}
	if s.announceFn != nil && len(fresh) > 0 {
		events := make([]delivery.Event, len(fresh))
		for i, it := range fresh {
			events[i] = it.ev
			events[i].Seq = stored[key{it.ev.Source, it.ev.ID}]
		}
		if err := s.announce(ctx, tx, events); err != nil {
			return nil, fmt.Errorf("announce the append: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit append transaction: %w", err)
	}
	return seqs, nil
}

var eventInsertColumns = []string{"source", "event_id", "type", "occurred_at", "received_at", "app", "env", "team", "cluster", "namespace", "entity", "payload"}

// insertEventsSQL inserts n events, skipping stored keys, and returns the
// log position of each one inserted.
func insertEventsSQL(n int) string {
	return "INSERT INTO events (" + strings.Join(eventInsertColumns, ", ") + ") VALUES " + valueRows(len(eventInsertColumns), n) +
		" ON CONFLICT (source, event_id) DO NOTHING RETURNING seq, source, event_id"
}

// maxParams bounds the parameters of one statement, under SQLite's 32766
// and PostgreSQL's 65535.
const maxParams = 30000

// maxRows is how many rows of cols columns fit in one statement.
func maxRows(cols int) int { return min(500, maxParams/cols) }

// valueRows is "(?, ?), (?, ?)" for n rows of cols columns.
func valueRows(cols, n int) string {
	row := "(" + placeholders(cols) + ")"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// txWriter caches prepared statements for one transaction and buffers
// derived rows per table, written with multi-row statements.
type txWriter struct {
	tx      *sql.Tx
	d       Dialect
	stmts   map[string]*sql.Stmt
	pending []*pendingRows
	// changeSeq is stamped on every derived row written (changed_seq).
	changeSeq int64
}

// pendingRows are rows for one table, inserted once or upserted.
type pendingRows struct {
	t      table
	upsert bool
	rows   [][]any
}

func (w *txWriter) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.tx.PrepareContext(ctx, w.d.Rebind(q))
	if err != nil {
		if len(q) > 120 {
			q = q[:120] + "…"
		}
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	w.stmts[q] = st
	return st, nil
}

func (w *txWriter) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// add buffers a row for t.
func (w *txWriter) add(t table, upsert bool, row ...any) {
	for _, p := range w.pending {
		if p.t.name == t.name && p.upsert == upsert {
			p.rows = append(p.rows, row)
			return
		}
	}
	w.pending = append(w.pending, &pendingRows{t: t, upsert: upsert, rows: [][]any{row}})
}

// flush writes the buffered rows, table by table.
func (w *txWriter) flush(ctx context.Context) error {
	for _, p := range w.pending {
		for chunk := range slices.Chunk(p.rows, maxRows(len(p.t.cols)+1)) {
			q := insertOnce(p.t, len(chunk))
			if p.upsert {
				q = upsert(p.t, len(chunk))
			}
			args := make([]any, 0, len(chunk)*(len(p.t.cols)+1))
			for _, r := range chunk {
				args = append(args, r...)
				args = append(args, w.changeSeq)
			}
			st, err := w.stmt(ctx, q)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("write %s: %w", p.t.name, err)
			}
		}
	}
	w.pending = w.pending[:0]
	return nil
}

func (w *txWriter) closeStmts() {
	for _, st := range w.stmts {
		_ = st.Close()
	}
}

// appAgg accumulates one app/env's updates within a transaction.
type appAgg struct {
	name, env                      string
	team, cluster, namespace       string
	teamAt, clusterAt, namespaceAt int64
	first, last, count             int64
}

// project updates the derived model for newly stored events.
func (s *Store) project(ctx context.Context, w *txWriter, fresh []*item) error {
	apps := map[[2]string]*appAgg{}
	entities := map[string]bool{}
	for _, it := range fresh {
		e := &it.ev
		if e.App != "" {
			k := [2]string{e.App, e.Env}
			a := apps[k]
			t := e.Time.UnixNano()
			if a == nil {
				a = &appAgg{name: e.App, env: e.Env, first: t, last: t}
				apps[k] = a
			}
			a.count++
			a.first, a.last = min(a.first, t), max(a.last, t)
			takeLatest(&a.team, &a.teamAt, e.Team, t)
			takeLatest(&a.cluster, &a.clusterAt, e.Cluster, t)
			takeLatest(&a.namespace, &a.namespaceAt, e.Namespace, t)
		}
		if it.entity != "" {
			entities[it.entity] = true
			continue
		}
		if err := addRow(w, e); err != nil {
			return err
		}
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	keys := make([][2]string, 0, len(apps))
	for k := range apps {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	for chunk := range slices.Chunk(keys, maxRows(11)) {
		args := make([]any, 0, len(chunk)*11)
		for _, k := range chunk {
			a := apps[k]
			args = append(args, a.name, a.env, a.team, a.teamAt, a.cluster, a.clusterAt, a.namespace, a.namespaceAt, a.first, a.last, a.count)
		}
		st, err := w.stmt(ctx, upsertAppsSQL(len(chunk)))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("write apps: %w", err)
		}
	}
	if len(entities) == 0 {
		return nil
	}
	ents := make([]string, 0, len(entities))
	for k := range entities {
		ents = append(ents, k)
	}
	slices.Sort(ents)
	if err := w.d.LockEntities(ctx, w.tx, ents); err != nil {
		return fmt.Errorf("lock entities: %w", err)
	}
	if err := s.refold(ctx, w, ents); err != nil {
		return err
	}
	return w.flush(ctx)
}

func takeLatest(v *string, at *int64, nv string, t int64) {
	if nv != "" && t >= *at {
		*v, *at = nv, t
	}
}

func upsertAppsSQL(n int) string {
	return `INSERT INTO apps (name, env, team, team_at, cluster, cluster_at, namespace, namespace_at, first_seen, last_seen, events)
VALUES ` + valueRows(11, n) + `
ON CONFLICT (name, env) DO UPDATE SET
  team = CASE WHEN excluded.team <> '' AND excluded.team_at >= apps.team_at THEN excluded.team ELSE apps.team END,
  team_at = CASE WHEN excluded.team <> '' AND excluded.team_at >= apps.team_at THEN excluded.team_at ELSE apps.team_at END,
  cluster = CASE WHEN excluded.cluster <> '' AND excluded.cluster_at >= apps.cluster_at THEN excluded.cluster ELSE apps.cluster END,
  cluster_at = CASE WHEN excluded.cluster <> '' AND excluded.cluster_at >= apps.cluster_at THEN excluded.cluster_at ELSE apps.cluster_at END,
  namespace = CASE WHEN excluded.namespace <> '' AND excluded.namespace_at >= apps.namespace_at THEN excluded.namespace ELSE apps.namespace END,
  namespace_at = CASE WHEN excluded.namespace <> '' AND excluded.namespace_at >= apps.namespace_at THEN excluded.namespace_at ELSE apps.namespace_at END,
  first_seen = CASE WHEN excluded.first_seen < apps.first_seen THEN excluded.first_seen ELSE apps.first_seen END,
  last_seen = CASE WHEN excluded.last_seen > apps.last_seen THEN excluded.last_seen ELSE apps.last_seen END,
  events = apps.events + excluded.events`
}

// addRow buffers the row of an event that maps to a row of its own. Rows
// are keyed naturally, so a second event for the same key changes nothing.
func addRow(w *txWriter, e *delivery.Event) error {
	t := e.Time.UnixNano()
	switch p := e.Payload.(type) {
	case *delivery.Commit:
		w.add(tblCommits, false, commitRow(delivery.CommitRecord{Commit: *p, Source: e.Source})...)
	case *delivery.ManifestChange:
		w.add(tblManifestChanges, false, manifestChangeRow(delivery.ManifestChangeRecord{ManifestChange: *p, App: e.App, Env: e.Env, Time: e.Time})...)
	case *delivery.Health:
		w.add(tblHealth, false, e.Cluster, p.Application, t, e.App, e.Env, string(p.Status), p.Message, p.SyncStatus, p.Revision)
	case *delivery.SyncStatus:
		w.add(tblSyncStatus, false, e.Cluster, p.Application, t, e.App, e.Env, p.Status, p.Revision, boolInt(p.Drift))
	case *delivery.Traffic:
		for _, tt := range p.Targets {
			w.add(tblTraffic, false, e.Cluster, e.Namespace, p.Service, t, tt.Revision, tt.Tag, e.App, e.Env, tt.Percent, boolInt(tt.Latest))
		}
	case *delivery.Scale:
		w.add(tblScale, false, e.Cluster, e.Namespace, p.Revision, t, p.Service, e.App, e.Env, p.Actual, p.Desired)
	case *delivery.Deployment:
		w.add(tblDeployments, false, e.Source, e.ID, string(e.Type), e.App, e.Env, t, p.Artifact, p.PreviousArtifact, p.Repo,
			p.ManifestCommit, p.SourceCommit, joinList(p.Changes), p.InferredFrom, p.Revision, p.Author, boolInt(p.Bot), p.PR, boolInt(p.Revert))
	case *delivery.RewrittenCommit:
		w.add(tblRewritten, false, p.Repo, p.Commit, p.Branch, t)
	default:
		return fmt.Errorf("no derived row for %s events", e.Type)
	}
	return nil
}

// refold rebuilds the rows of entities from all their stored events.
func (s *Store) refold(ctx context.Context, w *txWriter, entities []string) error {
	byEntity := make(map[string][]delivery.Event, len(entities))
	for chunk := range slices.Chunk(entities, 500) {
		args := make([]any, len(chunk))
		for i, e := range chunk {
			args[i] = e
		}
		rows, err := w.query(ctx, `SELECT entity, `+eventColumns+` FROM events WHERE entity IN (`+placeholders(len(chunk))+`) AND entity <> ''`, args...)
		if err != nil {
			return fmt.Errorf("read events to fold: %w", err)
		}
		if err := scanEventsInto(rows, byEntity); err != nil {
			return fmt.Errorf("read events to fold: %w", err)
		}
	}
	for _, ent := range entities {
		events := byEntity[ent]
		if len(events) == 0 {
			return fmt.Errorf("entity %s: no events to fold", ent)
		}
		delivery.SortForFold(events)
		switch events[0].Payload.(type) {
		case *delivery.Change:
			w.add(tblChanges, true, changeRow(delivery.FoldChange(events))...)
		case *delivery.PipelineRun:
			w.add(tblPipelineRuns, true, pipelineRunRow(delivery.FoldPipelineRun(events))...)
		case *delivery.Artifact:
			w.add(tblArtifacts, true, artifactRow(delivery.FoldArtifact(events))...)
		case *delivery.Sync:
			w.add(tblSyncs, true, syncRow(delivery.FoldSync(events))...)
		case *delivery.Revision:
			w.add(tblRevisions, true, revisionRow(delivery.FoldRevision(events))...)
		case *delivery.Incident:
			w.add(tblIncidents, true, incidentRow(delivery.FoldIncident(events))...)
		default:
			return fmt.Errorf("entity %s: no fold for %s events", ent, events[0].Type)
		}
	}
	return nil
}

const eventColumns = `seq, source, event_id, type, occurred_at, received_at, app, env, team, cluster, namespace, payload`

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
