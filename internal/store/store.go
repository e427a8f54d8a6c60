// Package store keeps shiplog's event log and the derived delivery model in a
// SQL database. The SQL is shared; the sqlite and postgres packages provide the
// Dialect and open the database.
//
// Writes go through a group-commit writer: concurrent Append calls are
// gathered into one transaction, and every caller is answered only after that
// transaction has committed, so an acknowledged event is durable.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Dialect is what differs between the SQL databases shiplog supports.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Rebind rewrites a query written with '?' placeholders for the driver.
	Rebind(query string) string
	// Migrations holds the schema migrations, files named NNNN_title.sql.
	Migrations() fs.FS
	// LockEntities serialises transactions that fold the same entities, for
	// databases with concurrent writers. keys are sorted.
	LockEntities(ctx context.Context, tx *sql.Tx, keys []string) error
	// Retryable reports whether a failed transaction may be retried as is
	// (deadlock, serialisation failure, busy database).
	Retryable(err error) bool
	// ChangeSeq returns, inside an append transaction that has inserted
	// events, the change sequence stamped on the derived rows it writes
	// (their changed_seq column).
	ChangeSeq(ctx context.Context, tx *sql.Tx) (int64, error)
	// SnapshotOptions are the options of a read transaction that sees one
	// consistent snapshot of the database.
	SnapshotOptions() *sql.TxOptions
	// Horizon returns, as the first statement of a snapshot transaction, a
	// change sequence h such that every row written by a transaction
	// stamped below h is visible in the snapshot (or was rolled back), and
	// every transaction not visible in it stamps its rows at h or above.
	Horizon(ctx context.Context, tx *sql.Tx) (int64, error)
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("store is closed")

// Options tune a Store. The zero value is usable.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // store metrics are registered here when set
	Writers    int                   // concurrent write transactions (default 1)
	MaxBatch   int                   // most events in one transaction (default 4096)
	Now        func() time.Time      // clock for received_at (default time.Now)
	// OnAppend, when set, is called after each committed transaction that
	// stored new events, with those events (log positions set), from the
	// writer goroutine: it must not block. Live surfaces subscribe here.
	OnAppend func(events []delivery.Event)
	// Announce, when set on a database that announces (CanAnnounce), is
	// called inside each append transaction that stores new events, with
	// those events (log positions set); what it returns (at most
	// MaxAnnounce bytes) reaches every Listen on the database when the
	// transaction commits.
	Announce func(events []delivery.Event) string
}

// Store is the event log and derived model in one SQL database.
type Store struct {
	read, write *sql.DB
	dialect     Dialect
	log         *slog.Logger
	now         func() time.Time
	maxBatch    int
	metrics     *metrics
	onAppend    func([]delivery.Event)
	announceFn  func([]delivery.Event) string

	mu      sync.RWMutex // guards closed against Append
	closed  bool
	reqs    chan *appendReq
	stop    chan struct{}
	writers sync.WaitGroup
}

// New returns a Store over read and write connection pools (they may be the
// same) and starts its writers. Close stops them and closes both pools.
func New(read, write *sql.DB, d Dialect, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Writers <= 0 {
		opts.Writers = 1
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 4096
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registerer, d.Name())
	if err != nil {
		return nil, err
	}
	s := &Store{
		read: read, write: write, dialect: d, log: opts.Logger, now: opts.Now,
		maxBatch: opts.MaxBatch, metrics: m, onAppend: opts.OnAppend,
		reqs: make(chan *appendReq, 1024), stop: make(chan struct{}),
	}
	if _, ok := d.(Announcer); ok {
		s.announceFn = opts.Announce // else nothing would hear it: never called
	}
	for range opts.Writers {
		s.writers.Add(1)
		go s.writer()
	}
	return s, nil
}

// Dialect returns the store's SQL dialect name.
func (s *Store) Dialect() string { return s.dialect.Name() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s store: %w", s.dialect.Name(), err)
	}
	return nil
}

// Close stops accepting appends, finishes those queued, and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.writers.Wait()
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}
