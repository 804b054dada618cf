package store

import (
	"context"
	"fmt"
	"time"

	"ctrunner/snapshot"
)

// Publications in a zstd store are journal records of kind "publish" (see
// zstdJournalName), written by an Update like any other record: a batch
// that puts a snapshot and publishes it appends both lines in one write.

func (z *zstdStore) Publish(ctx context.Context, e Entry, at time.Time,
	reason string) (Publication, error) {
	return publishWith(ctx, z.update, (*zstdBatch).publish, e, at, reason)
}

func (b *zstdBatch) Publish(e Entry, at time.Time, reason string) (Publication, error) {
	p, err := b.publish(e, at, reason)
	if err != nil {
		return Publication{}, publishError(e, err)
	}
	return p, nil
}

// publish adds to the batch the record that publishes e. Refused input
// returns its error and leaves the batch as it was; any other failure
// fails the whole batch.
func (b *zstdBatch) publish(e Entry, at time.Time, reason string) (Publication, error) {
	reason, err := checkPublication(e, at, reason)
	if err != nil {
		return Publication{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.done:
		return Publication{}, errBatchDone
	case b.err != nil:
		return Publication{}, fmt.Errorf("%w: %w", errBatchFailed, b.err)
	}
	p, refused, err := b.publishLocked(e, at, reason)
	if err != nil && !refused {
		b.err = err
	}
	return p, err
}

func (b *zstdBatch) publishLocked(e Entry, at time.Time, reason string) (
	p Publication, refused bool, err error) {
	if err := b.t.step("read journal"); err != nil {
		return Publication{}, false, err
	}
	r, refused, err := b.find(e)
	if err != nil {
		return Publication{}, refused, err
	}
	rec := zstdRecord{
		Seq:       b.seq0 + int64(len(b.pending)) + 1,
		Kind:      zstdKindPublish,
		ID:        r.entry.ID.String(),
		Election:  string(r.entry.Election),
		Version:   int64(r.entry.Version),
		FetchedAt: at.UTC().Format(time.RFC3339Nano),
		Of:        r.entry.Commit,
		Reason:    reason,
	}
	body, commit, err := marshalZstdRecord(&rec, b.z.format, nil)
	if err != nil {
		return Publication{}, false, err
	}
	pub := &zstdPublished{of: r, at: at.UTC(), reason: reason}
	b.pending = append(b.pending, &zstdPending{body: body, commit: commit, pub: pub})
	b.pubs++
	return pub.publication(), false, nil
}

// find returns the record of the snapshot e names, from the batch or the
// journal, if it is one of e's election with e's ID. When it is not,
// refused is set.
func (b *zstdBatch) find(e Entry) (r *zstdIndexed, refused bool, err error) {
	for _, p := range b.pending {
		if p.r != nil && !p.list && p.commit == e.Commit {
			r = p.r
		}
	}
	if r == nil {
		z := b.z
		z.mu.Lock()
		if z.closed {
			err = errClosed
		} else {
			r = z.index.snapshots[e.Commit]
		}
		z.mu.Unlock()
		if err != nil {
			return nil, false, err
		}
	}
	switch {
	case r == nil || r.entry.Election != e.Election:
		return nil, true, notFoundf("election %s has no snapshot %s (record %q) in this store",
			e.Election, e.ID.Short(), e.Commit)
	case r.entry.ID != e.ID:
		return nil, true, fmt.Errorf("record %s archives snapshot %s, not %s", e.Commit,
			r.entry.ID.Short(), e.ID.Short())
	}
	return r, false, nil
}

func (z *zstdStore) Published(id snapshot.ElectionID) (Publication, error) {
	ps, err := z.publications(id, 1)
	if err != nil {
		return Publication{}, err
	}
	return ps[0], nil
}

func (z *zstdStore) Publications(id snapshot.ElectionID) ([]Publication, error) {
	return z.publications(id, -1)
}

// publications returns the election's newest publications, at most max
// of them (all if max < 0), newest first.
func (z *zstdStore) publications(id snapshot.ElectionID, max int) ([]Publication, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.current(); err != nil {
		return nil, err
	}
	pubs := z.index.pubs[id]
	if len(pubs) == 0 {
		return nil, notFoundf("election %s has no published snapshot in this store", id)
	}
	var out []Publication
	for i := len(pubs) - 1; i >= 0 && len(out) != max; i-- {
		out = append(out, pubs[i].publication())
	}
	return out, nil
}
