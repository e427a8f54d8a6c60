// Package sqlite opens shiplog's store on an embedded SQLite file
// (modernc.org/sqlite, pure Go): WAL journal, full fsync on commit, one writer
// connection fed by the store's group commit, and a pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	sqlite "modernc.org/sqlite"

	"github.com/shiplog-dev/shiplog/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's store.Dialect.
type Dialect struct{}

// Name implements store.Dialect.
func (Dialect) Name() string { return "sqlite" }

// Rebind implements store.Dialect: SQLite takes '?' as it is.
func (Dialect) Rebind(q string) string { return q }

// Migrations implements store.Dialect.
func (Dialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory is always there
	}
	return sub
}

// LockEntities implements store.Dialect: there is one writer connection, so
// transactions never interleave.
func (Dialect) LockEntities(context.Context, *sql.Tx, []string) error { return nil }

// Retryable implements store.Dialect: a busy or locked database.
func (Dialect) Retryable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

// ChangeSeq implements store.Dialect: the highest log position once the
// transaction has inserted its events. SQLite runs one write transaction at
// a time, so each transaction's number is above every earlier one's.
func (Dialect) ChangeSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, err
}

// SnapshotOptions implements store.Dialect: a deferred transaction on a
// WAL database reads one snapshot, taken at its first read.
func (Dialect) SnapshotOptions() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// Horizon implements store.Dialect: one above the highest log position in
// the snapshot. Every committed transaction stamped its rows with at most
// that position; the next one will stamp them with more.
func (Dialect) Horizon(ctx context.Context, tx *sql.Tx) (int64, error) {
	var h int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM events`).Scan(&h)
	return h, err
}

// Open opens (creating if needed) the SQLite store at path. Writes are
// durable when Append returns: WAL with synchronous=FULL.
func Open(ctx context.Context, path string, opts store.Options) (*store.Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
	}
	common := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)"
	u := "file:" + (&url.URL{Path: path}).EscapedPath()
	write, err := sql.Open("sqlite", u+"?"+common+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", u+"?"+common)
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	read.SetConnMaxIdleTime(0)
	s, err := store.New(read, write, Dialect{}, opts)
	if err != nil {
		_ = read.Close()
		_ = write.Close()
		return nil, err
	}
	return s, nil
}
