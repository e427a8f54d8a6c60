package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the dialect's migrations in version order. File names
// are NNNN_title.sql; versions must start at 1 and have no gaps.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(d.Migrations(), ".")
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", d.Name(), err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s migration %q: name must be NNNN_title.sql", d.Name(), name)
		}
		b, err := fs.ReadFile(d.Migrations(), name)
		if err != nil {
			return nil, fmt.Errorf("read %s migration %q: %w", d.Name(), name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("%s migrations: expected version %d, found %q", d.Name(), i+1, m.Name)
		}
	}
	return out, nil
}

// SchemaError says the store's schema does not match this binary.
type SchemaError struct {
	Have, Want int
}

func (e *SchemaError) Error() string {
	switch {
	case e.Have == 0:
		return fmt.Sprintf("the store has no shiplog schema yet (this binary needs version %d): run `shiplog migrate` with the same --db", e.Want)
	case e.Have < e.Want:
		return fmt.Sprintf("the store's schema is version %d, this binary needs version %d: run `shiplog migrate` with the same --db", e.Have, e.Want)
	default:
		return fmt.Sprintf("the store's schema is version %d, newer than this binary's version %d: upgrade shiplog", e.Have, e.Want)
	}
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  BIGINT NOT NULL
)`

// LatestSchemaVersion returns the schema version this binary's migrations produce.
func (s *Store) LatestSchemaVersion() (int, error) {
	ms, err := Migrations(s.dialect)
	return len(ms), err
}

// SchemaVersion returns the highest applied migration, 0 for an empty database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.read, s.dialect)
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, d Dialect) (int, error) {
	var exists int
	var err error
	if d.Name() == "postgres" {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`).Scan(&exists)
	} else {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists)
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// CheckSchema returns a *SchemaError unless the schema is exactly the one
// this binary's migrations produce.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := Migrations(s.dialect)
	if err != nil {
		return err
	}
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := len(ms); have != want {
		return &SchemaError{Have: have, Want: want}
	}
	return nil
}

// Migrate applies pending migrations, each in its own transaction, and
// returns the ones applied. A schema newer than the binary is an error.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	ms, err := Migrations(s.dialect)
	if err != nil {
		return nil, err
	}
	if _, err := s.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []Migration
	for _, m := range ms {
		ok, err := s.applyMigration(ctx, m, len(ms))
		if err != nil {
			return applied, err
		}
		if ok {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

func (s *Store) applyMigration(ctx context.Context, m Migration, want int) (bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.dialect.LockEntities(ctx, tx, []string{"schema_migrations"}); err != nil {
		return false, fmt.Errorf("migration %s: lock: %w", m.Name, err)
	}
	have, err := schemaVersion(ctx, tx, s.dialect)
	if err != nil {
		return false, err
	}
	if have > want {
		return false, &SchemaError{Have: have, Want: want}
	}
	if have >= m.Version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, s.now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return true, nil
}
