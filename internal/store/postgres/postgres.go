// Package postgres opens shiplog's store on PostgreSQL (pgx through
// database/sql). Several shiplog replicas may write to one database: appends
// are idempotent, and transactions that fold the same entity take an advisory
// transaction lock on it.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/shiplog-dev/shiplog/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is PostgreSQL's store.Dialect.
type Dialect struct{}

// Name implements store.Dialect.
func (Dialect) Name() string { return "postgres" }

// Rebind implements store.Dialect: '?' becomes $1, $2, … outside quoted text.
func (Dialect) Rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Migrations implements store.Dialect.
func (Dialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory is always there
	}
	return sub
}

// LockEntities implements store.Dialect with transaction-scoped advisory
// locks, taken in a fixed order so that two transactions cannot deadlock.
func (Dialect) LockEntities(ctx context.Context, tx *sql.Tx, keys []string) error {
	_, err := tx.ExecContext(ctx, `SELECT COUNT(pg_advisory_xact_lock(h)) FROM
		(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS locks`, keys)
	return err
}

// Retryable implements store.Dialect: serialization failures and deadlocks.
func (Dialect) Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// ChangeSeq implements store.Dialect: the transaction's 64-bit id. Ids are
// handed out when transactions first write, not when they commit, so a
// transaction with a lower id can become visible after one with a higher
// id: readers therefore track visibility with Horizon, not with the
// highest number they have seen.
func (Dialect) ChangeSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&id)
	return id, err
}

// SnapshotOptions implements store.Dialect: REPEATABLE READ takes one
// snapshot for the whole transaction, at its first statement.
func (Dialect) SnapshotOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// Horizon implements store.Dialect: the xmin of the transaction's snapshot,
// the oldest transaction id still running when it was taken. Every
// transaction with a lower id had ended (committed and visible, or rolled
// back); any transaction not visible in the snapshot has an id at least
// xmin, so its rows will be read at the next horizon.
func (Dialect) Horizon(ctx context.Context, tx *sql.Tx) (int64, error) {
	var h int64
	err := tx.QueryRowContext(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&h)
	return h, err
}

// Open connects to the PostgreSQL database named by dsn
// (postgres://user:pass@host/db?…).
func Open(ctx context.Context, dsn string, opts store.Options) (*store.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if opts.Writers == 0 {
		opts.Writers = 4
	}
	s, err := store.New(db, db, Dialect{}, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// announceChannel is the NOTIFY channel of the store in the current schema:
// stores in other schemas of the database do not hear each other.
const announceChannel = `'shiplog_append:' || current_schema()`

// Announce implements store.Announcer with pg_notify, which PostgreSQL
// delivers when the transaction commits and drops when it rolls back.
func (Dialect) Announce(ctx context.Context, tx *sql.Tx, payload string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_notify(`+announceChannel+`, $1)`, payload)
	return err
}

// Listen implements store.Announcer: LISTEN on conn, then wait for
// notifications. The connection is closed when Listen returns, so that it
// never goes back to the pool still listening.
func (Dialect) Listen(ctx context.Context, conn *sql.Conn, ready func(), fn func(payload string)) error {
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen: unexpected driver connection %T", dc)
		}
		c := sc.Conn()
		defer c.Close(context.Background())
		var channel string
		if err := c.QueryRow(ctx, `SELECT `+announceChannel).Scan(&channel); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return fmt.Errorf("listen on %s: %w", channel, err)
		}
		ready()
		for {
			n, err := c.WaitForNotification(ctx)
			if err != nil {
				return fmt.Errorf("wait for notifications on %s: %w", channel, err)
			}
			if n.Channel == channel {
				fn(n.Payload)
			}
		}
	})
}
