// Package store archives snapshots of Connecticut election results in a
// content-addressed store and reads them back.
//
// The store is a bare git repository written through go-git's plumbing: one
// branch per election (refs/heads/elections/{id}), one commit per archived
// snapshot, whose tree holds the snapshot's documents as flat blobs and
// whose message carries the snapshot's metadata as git trailers. The raw
// election list lives on refs/heads/election-list, where HEAD points. The
// archive therefore stays readable with plain git and can be pushed to any
// git host.
//
// Writers take a file lock on the store, so several processes may archive
// into one store; a failed write leaves the repository as it was.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ctrunner/snapshot"
)

// Entry describes one stored snapshot without its documents.
type Entry struct {
	// ID is the snapshot's content ID: snapshot.TreeHash of its files,
	// which is also the git tree hash of the commit.
	ID snapshot.Hash
	// Commit is the hex hash of the git commit that archived the snapshot.
	Commit string
	snapshot.Meta
}

// ErrNotFound is wrapped by the errors that report a missing store,
// election, snapshot or election list; test for it with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrBusy is wrapped by the error a write returns when another writer
// held the store lock for longer than Options.LockWait.
var ErrBusy = errors.New("store is busy")

// DefaultLockWait is how long a writer waits for the store lock when
// Options.LockWait is zero.
const DefaultLockWait = 30 * time.Second

// Options tune how Open opens a store.
type Options struct {
	// Create creates the store if DIR does not exist (or is an empty
	// folder).
	Create bool
	// LockWait is how long a writer waits for the store lock held by
	// another writer: zero means DefaultLockWait, a negative value means
	// do not wait at all.
	LockWait time.Duration
}

// Store is an archive of election snapshots. Its methods are safe for
// concurrent use by several goroutines, and several processes may write to
// one store at once.
type Store interface {
	// Put commits s as the new latest snapshot of s.Election unless it is
	// identical to the latest one (same ID and same Version): then it
	// returns that entry and added=false.
	Put(ctx context.Context, s *snapshot.Snapshot) (e Entry, added bool, err error)
	// PutElectionList archives the raw Elections.json unless it is
	// identical to the latest archived list.
	PutElectionList(ctx context.Context, data []byte, fetchedAt time.Time,
		sourceURL string) (added bool, err error)
	// ElectionList returns the latest archived election list (ErrNotFound
	// if none).
	ElectionList() (data []byte, fetchedAt time.Time, err error)
	// Elections lists the elections that have snapshots, in numeric order.
	Elections() ([]snapshot.ElectionID, error)
	// Log lists an election's snapshots, newest first (ErrNotFound for an
	// election without snapshots).
	Log(id snapshot.ElectionID) ([]Entry, error)
	// Contains reports whether the election already has a snapshot with
	// the content ID h.
	Contains(id snapshot.ElectionID, h snapshot.Hash) (bool, error)
	// Load reads a snapshot's documents back and verifies each document's
	// SHA-256 against the entry.
	Load(e Entry) (*snapshot.Snapshot, error)
	// Close releases the store's resources; the store is unusable after.
	Close() error
}

// notFoundError is an error with its own message that still matches
// ErrNotFound, so that users read one clear line.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

func notFoundf(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

// busyError reports a store lock held too long by another writer.
type busyError struct{ msg string }

func (e *busyError) Error() string        { return e.msg }
func (e *busyError) Is(target error) bool { return target == ErrBusy }
