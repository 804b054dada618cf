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
// A snapshot can be published: each election has at most one published
// snapshot at a time, and the history of its publications (Publish,
// Published, Publications). In a git store these are the commits of the
// branch refs/heads/published/{id}, one per publication, whose tree is the
// published snapshot's (see publishedRefPrefix); in a zstd store, journal
// records of kind "publish". A snapshot's metadata
// also carries the reasons the sanity gates found it suspect
// (snapshot.Meta.Suspect), as Suspect trailers.
//
// A store can instead be kept by the zstd backend (Options.Backend): a
// folder of zstd-compressed documents, each stored as a delta against the
// previous version of the same document, and a journal of the archived
// snapshots. Open detects which kind a store is.
//
// Writers take a file lock on the store, so several processes may archive
// into one store. Every write is an Update: any number of snapshots and
// election lists, made visible together, or not at all if anything fails
// (Put and PutElectionList are Updates of one write). A git Update lists,
// in a journal file, every file and folder it will create and every branch
// it will move, and makes that list durable before it creates anything;
// removing the journal commits it. If the process is killed or the machine
// stops during the write, the next write (or Recover) reads the journal
// and undoes the whole write. A zstd Update commits by appending its
// journal lines in one write, as a batch that readers ignore until its
// last line is there. Either way the store is then byte for byte as before
// the write (Recover) or holds nothing of it that a reader could see (the
// next write). Reading never writes, so a reader may meet the leftovers of
// a killed write until the next write or Recover clears them: files that
// nothing names, which git and the store ignore, and in a git store even
// branches that the killed write had moved and recovery will put back.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"ctrunner/snapshot"
)

// Entry describes one stored snapshot without its documents.
type Entry struct {
	// ID is the snapshot's content ID: snapshot.TreeHash of its files,
	// which is also the git tree hash of the commit.
	ID snapshot.Hash
	// Commit is the hex hash of the git commit that archived the snapshot,
	// or in a zstd store the hex SHA-256 of its journal record.
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
	// Backend is the kind of store Create makes: BackendGit (the default
	// when empty) or BackendZstd. An existing store keeps the kind it was
	// made with, which Open detects; naming another kind is an error.
	Backend string
}

// The kinds of store Options.Backend names.
const (
	// BackendGit keeps the store in a bare git repository.
	BackendGit = "git"
	// BackendZstd keeps the store as zstd-compressed document deltas and a
	// journal, in a folder marked by a ctrunner-store.json file.
	BackendZstd = "zstd"
)

// openBackend is the part of Open that picks the backend. It opens the
// store in dir when that is not a git store, creating it first if it is
// missing, opts.Create is set and opts.Backend names another kind. It
// reports handled=false when Open should go on to open or create a git
// store.
func openBackend(dir string, opts Options) (s Store, handled bool, err error) {
	switch opts.Backend {
	case "", BackendGit, BackendZstd:
	default:
		return nil, true, fmt.Errorf("unknown store backend %q (want %s or %s)",
			opts.Backend, BackendGit, BackendZstd)
	}
	present, err := storeExists(dir)
	if err != nil {
		return nil, true, err
	}
	if !present {
		if opts.Backend != BackendZstd {
			return nil, false, nil
		}
		if !opts.Create {
			return nil, true, notFoundf("no store at %s "+
				"(create one with ctrunner archive or ctrunner import)", dir)
		}
		if err := createZstd(dir); err != nil {
			return nil, true, fmt.Errorf("creating store %s: %w", dir, err)
		}
	}

	kind := BackendGit
	marker, err := readMarker(dir)
	switch {
	case err == nil:
		if marker.Backend != BackendZstd || !knownZstdFormat(marker.Format) {
			return nil, true, fmt.Errorf("store %s is of an unknown kind "+
				"(%s format %d; a newer ctrunner made it?)", dir, marker.Backend, marker.Format)
		}
		kind = BackendZstd
	case !errors.Is(err, fs.ErrNotExist):
		return nil, true, fmt.Errorf("opening store %s: %w", dir, err)
	case opts.Backend == BackendZstd && checkLayout(dir) != nil:
		return nil, true, fmt.Errorf("%s is not a ctrunner store: no %s", dir, markerFileName)
	}
	if opts.Backend != "" && opts.Backend != kind {
		return nil, true, fmt.Errorf("store %s is a %s store, not %s", dir, kind, opts.Backend)
	}
	if kind == BackendGit {
		return nil, false, nil
	}
	wait := opts.LockWait
	if wait == 0 {
		wait = DefaultLockWait
	}
	z, err := openZstd(dir, wait)
	if err != nil {
		return nil, true, err
	}
	return z, true, nil
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
	// Publish makes e, an entry of this store (as Put, Log or Resolve
	// return it), the published snapshot of its election, at time at, for
	// reason (one line, such as "publish", "rollback" or "watch"). Every
	// call records a new publication, even of the entry already published:
	// a rollback to it is an event worth keeping. An entry the store does
	// not hold on its election's log is refused.
	Publish(ctx context.Context, e Entry, at time.Time, reason string) (Publication, error)
	// Published returns the election's current publication (ErrNotFound
	// if none).
	Published(id snapshot.ElectionID) (Publication, error)
	// Publications lists the election's publications, newest first
	// (ErrNotFound if none).
	Publications(id snapshot.ElectionID) ([]Publication, error)
	// Update runs fn holding the store's write lock for its whole
	// duration, so that no other writer, in this process or another, can
	// come between what fn reads through b and what it writes. The writes
	// fn makes through b become visible together when fn returns nil and
	// every one of them is durable. If fn returns an error, or a write
	// fails, or ctx is cancelled, or the process dies, none of them is:
	// the store is left byte for byte as it was before Update (after
	// recovery, for a crash). Update returns fn's error unchanged. A
	// Batch write that fails for another reason than its input (a Put of
	// an invalid snapshot just returns its error) fails the Update too,
	// even if fn goes on and returns nil.
	//
	// fn must not write through the Store itself (that waits for the lock
	// Update holds) and must not use b after it returns. The batch keeps
	// the documents it is given until Update returns: callers must not
	// change them meanwhile.
	Update(ctx context.Context, fn func(b Batch) error) error
	// Close releases the store's resources; the store is unusable after.
	Close() error
}

// Batch is the write side of an Update. Its methods may be called from
// several goroutines, but are done one at a time.
type Batch interface {
	// Put and PutElectionList behave like the Store's, deduplicating
	// against the branch tip as it stands inside this batch (earlier Puts
	// of the batch included). What they add becomes visible when Update
	// returns nil.
	Put(s *snapshot.Snapshot) (e Entry, added bool, err error)
	PutElectionList(data []byte, fetchedAt time.Time, sourceURL string) (added bool, err error)
	// Contains sees what this batch has put so far as well as what is
	// stored.
	Contains(id snapshot.ElectionID, h snapshot.Hash) (bool, error)
	// Publish behaves like the Store's, and also accepts an entry that
	// this batch has put: a new snapshot and its publication then become
	// visible together, or neither does. An entry the store and the batch
	// do not hold, like any other refused input, just returns its error.
	Publish(e Entry, at time.Time, reason string) (Publication, error)
}

// Publication records that a snapshot was made the published one of its
// election.
type Publication struct {
	Election snapshot.ElectionID
	// Entry is the published snapshot.
	Entry Entry
	// At is when it was published.
	At time.Time
	// Reason says why, as the caller of Publish put it: "publish",
	// "rollback", "watch" …, on one line.
	Reason string
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
