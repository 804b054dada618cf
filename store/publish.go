package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"ctrunner/snapshot"
)

// Publications in a git store. The publications of an election are the
// commits of the branch refs/heads/published/{id}, the newest at its tip.
// A publication commit has the published snapshot's tree as its own, so
// that plain git shows what was published (git show
// published/80:Electiondata.json), and as parents the previous
// publication, if there is one, and then the published snapshot's commit.
// The snapshot's commit is always the last parent: it keeps the snapshot
// reachable from the branch for git fsck, Pack and Push, and a commit with
// one parent is the election's first publication. Publications therefore
// walk first parents only while a commit has two; git log --first-parent
// published/80 lists the same commits, then goes on into the snapshots
// before the first publication. The commit's author and committer time is
// the publication time, and its message is
//
//	publish election 80 version 13392 (3f2a1b9c0d12)
//
//	Election: 80
//	Snapshot-Commit: 9c0d12…
//	Snapshot-ID: 3f2a1b9c0d12…
//	Published-At: 2024-11-06T01:02:03.123456789Z
//	Reason: rollback
//
// A publication is written by an Update like any snapshot: the commit is
// one more object and the branch one more ref move of the write's journal.

// publishedRefPrefix starts the names of the publication branches.
const publishedRefPrefix = "refs/heads/published/"

func publishedRef(id snapshot.ElectionID) plumbing.ReferenceName {
	return plumbing.ReferenceName(publishedRefPrefix + string(id))
}

// Keys of the trailers of a publication commit (with keyElection).
const (
	keySnapshotCommit = "Snapshot-Commit"
	keySnapshotID     = "Snapshot-ID"
	keyPublishedAt    = "Published-At"
	keyReason         = "Reason"
)

// publicationSubject starts the subject line of publication commits.
const publicationSubject = "publish election "

// parsedPublication is what Publications needs of a publication commit.
// Commits never change, so these are cached by commit hash.
type parsedPublication struct {
	election snapshot.ElectionID
	snapshot plumbing.Hash // the published snapshot's commit
	id       snapshot.Hash // its ID
	at       time.Time
	reason   string
	prev     plumbing.Hash // the previous publication, zero for the first
}

// checkPublication rejects what cannot be published, before any lookup:
// it returns the reason, made to fit on one line.
func checkPublication(e Entry, at time.Time, reason string) (string, error) {
	if _, err := snapshot.ParseElectionID(string(e.Election)); err != nil {
		return "", fmt.Errorf("the entry to publish has no valid election: %w", err)
	}
	if at.IsZero() {
		return "", errors.New("no publication time")
	}
	if at.Unix() < 0 {
		return "", fmt.Errorf("publication time %s is before 1970", at.Format(time.RFC3339))
	}
	reason = oneLine(reason)
	if reason == "" {
		return "", errors.New("no reason given for the publication")
	}
	return reason, nil
}

// publicationMessage returns the message of the commit that publishes e.
func publicationMessage(e Entry, at time.Time, reason string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s version %s (%s)\n\n", publicationSubject, e.Election, e.Version,
		e.ID.Short())
	writeTrailer(&b, keyElection, string(e.Election))
	writeTrailer(&b, keySnapshotCommit, e.Commit)
	writeTrailer(&b, keySnapshotID, e.ID.String())
	writeTrailer(&b, keyPublishedAt, at.UTC().Format(time.RFC3339Nano))
	writeTrailer(&b, keyReason, reason)
	return b.String()
}

// parsePublication reads a publication commit c back and checks that its
// trailers agree with its tree and parents.
func parsePublication(c *object.Commit) (parsedPublication, error) {
	var p parsedPublication
	if !strings.HasPrefix(c.Message, publicationSubject) {
		return p, errors.New("not a publication commit")
	}
	var err error
	seen := map[string]bool{}
	for _, line := range strings.Split(lastParagraph(c.Message), "\n") {
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		seen[key] = true
		switch key {
		case keyElection:
			p.election, err = snapshot.ParseElectionID(value)
		case keySnapshotCommit:
			if !plumbing.IsHash(value) {
				err = fmt.Errorf("%q is not a commit hash", value)
			}
			p.snapshot = plumbing.NewHash(value)
		case keySnapshotID:
			p.id, err = snapshot.ParseHash(value)
		case keyPublishedAt:
			p.at, err = time.Parse(time.RFC3339Nano, value)
			p.at = p.at.UTC()
		case keyReason:
			p.reason = value
		}
		if err != nil {
			return p, fmt.Errorf("reading trailer %q: %w", line, err)
		}
	}
	for _, key := range []string{keyElection, keySnapshotCommit, keySnapshotID,
		keyPublishedAt, keyReason} {
		if !seen[key] {
			return p, fmt.Errorf("no %s trailer", key)
		}
	}
	n := len(c.ParentHashes)
	switch {
	case n != 1 && n != 2:
		return p, fmt.Errorf("publication commit has %d parents, want 1 or 2", n)
	case c.ParentHashes[n-1] != p.snapshot:
		return p, fmt.Errorf("the last parent %s is not the published commit %s",
			c.ParentHashes[n-1], p.snapshot)
	case snapshot.Hash(c.TreeHash) != p.id:
		return p, fmt.Errorf("the tree %s is not the published snapshot %s", c.TreeHash, p.id)
	}
	if n == 2 {
		p.prev = c.ParentHashes[0]
	}
	return p, nil
}

func (g *gitStore) Publish(ctx context.Context, e Entry, at time.Time,
	reason string) (Publication, error) {
	return publishWith(ctx, g.update, (*gitBatch).publish, e, at, reason)
}

func (b *gitBatch) Publish(e Entry, at time.Time, reason string) (Publication, error) {
	p, err := b.publish(e, at, reason)
	if err != nil {
		return Publication{}, publishError(e, err)
	}
	return p, nil
}

// publishWith publishes e in a batch of its own through a backend's update
// function and its batch's publish method.
func publishWith[B any](ctx context.Context, update func(context.Context, func(B) error) error,
	publish func(B, Entry, time.Time, string) (Publication, error),
	e Entry, at time.Time, reason string) (Publication, error) {
	var p Publication
	err := update(ctx, func(b B) error {
		var err error
		p, err = publish(b, e, at, reason)
		return err
	})
	if err != nil {
		return Publication{}, publishError(e, err)
	}
	return p, nil
}

// publishError names the publication of e in err.
func publishError(e Entry, err error) error {
	return fmt.Errorf("publishing election %s version %s: %w", e.Election, e.Version, err)
}

// publish adds to the batch the commit that publishes e. Refused input
// returns its error and leaves the batch as it was; any other failure
// fails the whole batch.
func (b *gitBatch) publish(e Entry, at time.Time, reason string) (Publication, error) {
	reason, err := checkPublication(e, at, reason)
	if err != nil {
		return Publication{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(); err != nil {
		return Publication{}, err
	}
	p, refused, err := b.publishLocked(e, at, reason)
	if err != nil && !refused {
		b.err = err
	}
	return p, err
}

func (b *gitBatch) publishLocked(e Entry, at time.Time, reason string) (
	p Publication, refused bool, err error) {
	if b.g.fault != nil {
		if err := b.g.fault("read tip"); err != nil {
			return Publication{}, false, err
		}
	}
	stored, refused, err := b.find(e)
	if err != nil {
		return Publication{}, refused, err
	}
	br, err := b.branch(publishedRef(e.Election))
	if err != nil {
		return Publication{}, false, err
	}

	snapCommit := plumbing.NewHash(stored.Commit)
	sig := object.Signature{Name: committerName, Email: committerEmail, When: at.UTC()}
	commit := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      publicationMessage(stored, at, reason),
		TreeHash:     plumbing.Hash(stored.ID),
		ParentHashes: []plumbing.Hash{snapCommit},
	}
	if !br.tip.IsZero() {
		commit.ParentHashes = []plumbing.Hash{br.tip, snapCommit}
	}
	obj := &plumbing.MemoryObject{}
	if err := commit.Encode(obj); err != nil {
		return Publication{}, false, fmt.Errorf("encoding commit: %w", err)
	}
	label := fmt.Sprintf("the publication of election %s version %s", e.Election, stored.Version)
	o := memoryObject(obj, "commit of "+label)
	if b.seen == nil {
		b.seen = map[plumbing.Hash]bool{}
		b.parsed = map[plumbing.Hash]parsedCommit{}
	}
	if !b.seen[o.hash] {
		b.seen[o.hash] = true
		b.objects = append(b.objects, o)
	}
	b.pubs = append(b.pubs, batchPublication{hash: o.hash, p: parsedPublication{
		election: stored.Election, snapshot: snapCommit, id: stored.ID,
		at: at.UTC(), reason: reason, prev: br.tip,
	}})
	if b.label == "" {
		b.label = label
	}
	br.tip = o.hash
	return Publication{Election: stored.Election, Entry: copyEntry(stored), At: at.UTC(),
		Reason: reason}, false, nil
}

// batchPublication is a publication commit the batch made.
type batchPublication struct {
	hash plumbing.Hash
	p    parsedPublication
}

// find returns the entry of e's commit if it is a snapshot on the log of
// e's election, as the batch sees it, with e's ID. When it is not, refused
// is set.
func (b *gitBatch) find(e Entry) (stored Entry, refused bool, err error) {
	notHeld := notFoundf("election %s has no snapshot %s (commit %q) in this store",
		e.Election, e.ID.Short(), e.Commit)
	if !plumbing.IsHash(e.Commit) {
		return Entry{}, true, notHeld
	}
	want := plumbing.NewHash(e.Commit)
	br, err := b.branch(electionRef(e.Election))
	if err != nil {
		return Entry{}, false, err
	}
	for h := br.tip; !h.IsZero(); {
		pc, ok := b.parsed[h]
		if !ok {
			b.g.mu.Lock()
			if b.g.closed {
				err = errClosed
			} else {
				pc, err = b.g.commit(h)
			}
			b.g.mu.Unlock()
			if err != nil {
				return Entry{}, false, err
			}
		}
		if h == want {
			if pc.entry.ID != e.ID {
				return Entry{}, true, fmt.Errorf("commit %s archives snapshot %s, "+
					"not %s", e.Commit, pc.entry.ID.Short(), e.ID.Short())
			}
			return pc.entry, false, nil
		}
		h = pc.parent
	}
	return Entry{}, true, notHeld
}

func (g *gitStore) Published(id snapshot.ElectionID) (Publication, error) {
	ps, err := g.publications(id, 1)
	if err != nil {
		return Publication{}, err
	}
	return ps[0], nil
}

func (g *gitStore) Publications(id snapshot.ElectionID) ([]Publication, error) {
	return g.publications(id, -1)
}

// publications returns the election's newest publications, at most max
// of them (all if max < 0), newest first.
func (g *gitStore) publications(id snapshot.ElectionID, max int) ([]Publication, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errClosed
	}
	h, err := g.committedTip(publishedRef(id))
	if err != nil {
		return nil, err
	}
	if h.IsZero() {
		return nil, notFoundf("election %s has no published snapshot in this store", id)
	}
	var out []Publication
	for !h.IsZero() && len(out) != max {
		p, err := g.publication(h)
		if err == nil && p.election != id {
			err = fmt.Errorf("it publishes election %s", p.election)
		}
		if err != nil {
			return nil, fmt.Errorf("reading publications of election %s: commit %s: %w",
				id, h, err)
		}
		pc, err := g.commit(p.snapshot)
		if err != nil {
			return nil, fmt.Errorf("reading publications of election %s: %w", id, err)
		}
		out = append(out, Publication{Election: id, Entry: copyEntry(pc.entry), At: p.at,
			Reason: p.reason})
		h = p.prev
	}
	return out, nil
}

// publication returns the parsed publication commit h, from the cache if
// it is there. Callers hold g.mu.
func (g *gitStore) publication(h plumbing.Hash) (parsedPublication, error) {
	if p, ok := g.pubs[h]; ok {
		return p, nil
	}
	c, err := g.readCommit(h)
	if err != nil {
		return parsedPublication{}, err
	}
	p, err := parsePublication(c)
	if err != nil {
		return parsedPublication{}, err
	}
	g.rememberPublication(h, p)
	return p, nil
}

func (g *gitStore) rememberPublication(h plumbing.Hash, p parsedPublication) {
	if g.pubs == nil || len(g.pubs) >= maxCachedCommits {
		g.pubs = map[plumbing.Hash]parsedPublication{}
	}
	g.pubs[h] = p
}
