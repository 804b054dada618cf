package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ctrunner/snapshot"
)

// Both backends put a snapshot or an election list the same way: their
// change constructor checks and encodes the input (a refused input fails
// nothing else), and their batch's add stores the change, either in a
// batch of the caller's Update or in an Update of its own. These helpers
// are that way, so that both word their errors alike.

// adder is a backend's batch as the put helpers use it.
type adder[C any] interface {
	add(c C) (Entry, bool, error)
}

// putSnapshot builds the change of s with change and stores it with add.
func putSnapshot[C any](s *snapshot.Snapshot, change func(*snapshot.Snapshot) (C, error),
	add func(C) (Entry, bool, error)) (Entry, bool, error) {
	if s == nil {
		return Entry{}, false, errors.New("archiving snapshot: no snapshot")
	}
	c, err := change(s)
	var e Entry
	var added bool
	if err == nil {
		e, added, err = add(c)
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("archiving election %s version %s: %w",
			s.Election, s.Version, err)
	}
	return e, added, nil
}

// putElectionList builds the change of an election list with change and
// stores it with add.
func putElectionList[C any](data []byte, fetchedAt time.Time, sourceURL string,
	change func([]byte, time.Time, string) (C, error), add func(C) (Entry, bool, error)) (bool, error) {
	c, err := change(data, fetchedAt, sourceURL)
	var added bool
	if err == nil {
		_, added, err = add(c)
	}
	if err != nil {
		return false, fmt.Errorf("archiving election list: %w", err)
	}
	return added, nil
}

// alone returns an add that stores each change in an Update of its own,
// through a backend's update.
func alone[B adder[C], C any](ctx context.Context,
	update func(context.Context, func(B) error) error) func(C) (Entry, bool, error) {
	return func(c C) (Entry, bool, error) {
		var e Entry
		var added bool
		err := update(ctx, func(b B) error {
			var err error
			e, added, err = b.add(c)
			return err
		})
		return e, added, err
	}
}
