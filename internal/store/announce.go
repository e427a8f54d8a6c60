package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Announcer is implemented by dialects whose database tells every process
// connected to it that a transaction committed (PostgreSQL's NOTIFY). Several
// shiplog replicas sharing one database learn of each other's appends
// through it; SQLite has one writing process and no announcer.
type Announcer interface {
	// Announce queues payload in tx: listeners receive it when, and only
	// if, tx commits.
	Announce(ctx context.Context, tx *sql.Tx, payload string) error
	// Listen receives the payloads announced on conn's database and calls
	// fn with each, until ctx ends or the connection fails; it calls ready
	// once it receives them.
	Listen(ctx context.Context, conn *sql.Conn, ready func(), fn func(payload string)) error
}

// MaxAnnounce is the longest payload announced (PostgreSQL refuses 8000
// bytes and more); a longer one is announced as the empty payload.
const MaxAnnounce = 7999

// ErrNoAnnouncer is returned by Listen on a database that cannot announce.
var ErrNoAnnouncer = errors.New("this store does not announce appends to other processes")

// CanAnnounce reports whether appends are announced to other processes
// sharing the database (Options.Announce, Listen).
func (s *Store) CanAnnounce() bool {
	_, ok := s.dialect.(Announcer)
	return ok
}

// announce queues the announcement of events, stored in tx; the caller
// checks that announceFn is set (New sets it only for an Announcer).
func (s *Store) announce(ctx context.Context, tx *sql.Tx, events []delivery.Event) error {
	p := s.announceFn(events)
	if len(p) > MaxAnnounce {
		p = ""
	}
	return s.dialect.(Announcer).Announce(ctx, tx, p)
}

// Listen calls fn with each payload announced by a commit on the database,
// this process's own included, until ctx ends; it returns ErrNoAnnouncer
// at once on a database that cannot announce. When the connection fails it
// logs, reconnects with a growing delay (1 s doubling up to 30 s) and, once
// listening again, calls fn with the empty payload: announcements may have
// been missed meanwhile.
func (s *Store) Listen(ctx context.Context, fn func(payload string)) error {
	a, ok := s.dialect.(Announcer)
	if !ok {
		return ErrNoAnnouncer
	}
	const first, most = time.Second, 30 * time.Second
	delay, missed := first, false
	for {
		err := s.listenOnce(ctx, a, func() {
			if missed {
				fn("")
			}
			missed, delay = false, first
		}, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("listening for other replicas' appends failed; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay, missed = min(2*delay, most), true
	}
}

// listenOnce listens on one connection of the read pool.
func (s *Store) listenOnce(ctx context.Context, a Announcer, ready func(), fn func(string)) error {
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return a.Listen(ctx, conn, ready, fn)
}
