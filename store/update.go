package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"ctrunner/snapshot"
)

// An Update of the git store builds its commits in memory while fn runs:
// each Put encodes its blobs, tree and commit, on top of the branch's tip
// as the batch left it. Nothing is written until fn returns nil. Then one
// transaction (txn) writes them all: it lists in the journal every object
// and folder it will create and every branch it will move (from the value
// before the batch to the batch's last commit on it), writes and syncs the
// objects, moves the branches and removes the journal, which commits the
// whole batch. A failure or a crash before that puts every branch back and
// removes every object: see journalName.

func (g *gitStore) Put(ctx context.Context, s *snapshot.Snapshot) (Entry, bool, error) {
	return putSnapshot(s, snapshotChange, alone[*gitBatch, change](ctx, g.update))
}

func (g *gitStore) PutElectionList(ctx context.Context, data []byte, fetchedAt time.Time,
	sourceURL string) (bool, error) {
	return putElectionList(data, fetchedAt, sourceURL, electionListChange,
		alone[*gitBatch, change](ctx, g.update))
}

func (g *gitStore) Update(ctx context.Context, fn func(b Batch) error) error {
	return updateWith(ctx, g.update, fn)
}

// describedBatch is a backend's batch as updateWith needs it: a Batch that
// can say in a few words what it holds.
type describedBatch interface {
	Batch
	describe() string
}

// updateWith runs fn as a backend's Update through its update function and
// words a failure the same way for every backend: fn's own error comes
// back unchanged, a failure before the batch existed (the lock, recovery)
// as it is, and any other failure names what the batch held.
func updateWith[B describedBatch](ctx context.Context,
	update func(context.Context, func(B) error) error, fn func(b Batch) error) error {
	var batch B
	var started bool
	var fnErr error
	err := update(ctx, func(b B) error {
		batch, started = b, true
		fnErr = fn(b)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil && errors.Is(err, fnErr):
		return err
	case !started:
		return err // no batch: the lock or recovery failed
	}
	return fmt.Errorf("archiving %s: %w", batch.describe(), err)
}

// update runs fn with a new batch under the store lock and commits the
// batch if fn returns nil. It first undoes any write that a killed process
// left (see journalName).
func (g *gitStore) update(ctx context.Context, fn func(b *gitBatch) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return errClosed
	}

	// Writers of this Store queue here rather than polling the file lock.
	select {
	case g.writing <- struct{}{}:
		defer func() { <-g.writing }()
	case <-ctx.Done():
		return ctx.Err()
	}

	// Wait for the file lock before taking the mutex, so that readers in
	// this process are not held up while another process writes.
	lock, err := lockStore(ctx, g.dir, g.name, g.lockWait)
	if err != nil {
		return err
	}
	defer lock.unlock()
	g.mu.Lock()
	if !g.closed {
		_, err = recoverWrite(g.dir, g.noSync, nil)
		if err != nil {
			err = fmt.Errorf("recovering from an interrupted write: %w", err)
		} else if _, err = repairPacks(g.dir, g.noSync); err != nil {
			err = fmt.Errorf("repairing what an interrupted pack left: %w", err)
		}
	} else {
		err = errClosed
	}
	g.mu.Unlock()
	if err != nil {
		return err
	}

	b := &gitBatch{g: g, ctx: ctx, branches: map[plumbing.ReferenceName]*batchBranch{}}
	defer b.release()
	err = fn(b)
	b.finish()
	if err != nil {
		return err
	}
	if err := b.failed(); err != nil {
		return err
	}
	return b.commit()
}

// gitBatch is the Batch of an Update of the git store.
type gitBatch struct {
	g   *gitStore
	ctx context.Context

	// mu guards everything below; it is taken before g.mu.
	mu       sync.Mutex
	done     bool // Update returned
	err      error
	branches map[plumbing.ReferenceName]*batchBranch
	order    []plumbing.ReferenceName // branches in the order first written
	objects  []pendingObject          // every new object, each commit after its tree
	seen     map[plumbing.Hash]bool   // the objects in objects
	commits  []plumbing.Hash          // the new commits, oldest first
	parsed   map[plumbing.Hash]parsedCommit
	lists    int                // election lists among commits
	pubs     []batchPublication // the new publication commits, oldest first
	label    string             // the label of the first change
}

// batchBranch is a branch as the batch sees it.
type batchBranch struct {
	old   plumbing.Hash // the tip before the batch, loose or packed
	tip   plumbing.Hash // the tip after the batch's commits so far
	added []Entry       // the batch's commits on the branch
}

var errBatchDone = errors.New("batch used after its Update returned")

// errBatchFailed is wrapped by the error a Batch method returns after an
// earlier call failed for a reason other than its input.
var errBatchFailed = errors.New("an earlier write of the batch failed")

func (b *gitBatch) Put(s *snapshot.Snapshot) (Entry, bool, error) {
	return putSnapshot(s, snapshotChange, b.add)
}

func (b *gitBatch) PutElectionList(data []byte, fetchedAt time.Time,
	sourceURL string) (bool, error) {
	return putElectionList(data, fetchedAt, sourceURL, electionListChange, b.add)
}

// add adds c on top of its branch's tip as the batch left it, unless c.same
// says that tip already archives it. Any failure fails the whole batch.
func (b *gitBatch) add(c change) (Entry, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(); err != nil {
		return Entry{}, false, err
	}
	e, added, err := b.addLocked(c)
	if err != nil {
		b.err = err
	}
	return e, added, err
}

// check reports whether the batch can still be used. Callers hold b.mu.
func (b *gitBatch) check() error {
	switch {
	case b.done:
		return errBatchDone
	case b.err != nil:
		return fmt.Errorf("%w: %w", errBatchFailed, b.err)
	}
	if err := b.ctx.Err(); err != nil {
		b.err = err
		return err
	}
	return nil
}

func (b *gitBatch) addLocked(c change) (Entry, bool, error) {
	if b.g.fault != nil {
		if err := b.g.fault("read tip"); err != nil {
			return Entry{}, false, err
		}
	}
	br, err := b.branch(c.branch)
	if err != nil {
		return Entry{}, false, err
	}
	if !br.tip.IsZero() {
		tip, err := b.entry(br.tip)
		if err != nil {
			return Entry{}, false, err
		}
		if c.same(tip) {
			return copyEntry(tip), false, nil
		}
	}

	objects, err := encodeObjects(c, br.tip)
	if err != nil {
		return Entry{}, false, err
	}
	meta, err := parseMessage(c.message)
	if err != nil {
		return Entry{}, false, fmt.Errorf("reading back commit message: %w", err)
	}
	commit := objects[len(objects)-1].hash
	e := Entry{ID: c.id, Commit: commit.String(), Meta: meta}
	if b.seen == nil {
		b.seen = map[plumbing.Hash]bool{}
		b.parsed = map[plumbing.Hash]parsedCommit{}
	}
	for _, o := range objects {
		if !b.seen[o.hash] {
			o.what += " of " + c.label
			b.seen[o.hash] = true
			b.objects = append(b.objects, o)
		}
	}
	b.parsed[commit] = parsedCommit{entry: e, parent: br.tip}
	b.commits = append(b.commits, commit)
	if c.branch == electionListRef {
		b.lists++
	}
	if b.label == "" {
		b.label = c.label
	}
	br.tip = commit
	br.added = append(br.added, e)
	return copyEntry(e), true, nil
}

// branch returns the batch's view of the branch name, reading its tip
// the first time.
func (b *gitBatch) branch(name plumbing.ReferenceName) (*batchBranch, error) {
	if br := b.branches[name]; br != nil {
		return br, nil
	}
	tip, err := b.g.tip(name)
	if err != nil {
		return nil, err
	}
	br := &batchBranch{old: tip, tip: tip}
	b.branches[name] = br
	b.order = append(b.order, name)
	return br, nil
}

// entry returns the entry of commit h, which the batch made or the store
// holds.
func (b *gitBatch) entry(h plumbing.Hash) (Entry, error) {
	if pc, ok := b.parsed[h]; ok {
		return pc.entry, nil
	}
	b.g.mu.Lock()
	defer b.g.mu.Unlock()
	if b.g.closed {
		return Entry{}, errClosed
	}
	pc, err := b.g.commit(h)
	return pc.entry, err
}

func (b *gitBatch) Contains(id snapshot.ElectionID, h snapshot.Hash) (bool, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return false, errBatchDone
	}
	if br := b.branches[electionRef(id)]; br != nil {
		for _, e := range br.added {
			if e.ID == h {
				return true, nil
			}
		}
	}
	return b.g.Contains(id, h)
}

// failed returns the error that failed the batch, if any.
func (b *gitBatch) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// finish ends the batch's use: its methods fail from now on.
func (b *gitBatch) finish() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// release lets go of the batch's documents: a caller may keep the batch
// after Update returns.
func (b *gitBatch) release() {
	b.mu.Lock()
	b.objects, b.seen, b.parsed = nil, nil, nil
	b.mu.Unlock()
}

// describe says what the batch archives, for messages.
func (b *gitBatch) describe() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return describeWrite(len(b.commits)-b.lists, b.lists, len(b.pubs), b.label)
}

// describeWrite says what a write of snaps snapshots, lists election lists
// and pubs publications archives, for messages; label names the write's
// first change.
func describeWrite(snaps, lists, pubs int, label string) string {
	if snaps+lists+pubs == 1 {
		return label
	}
	var parts []string
	if snaps > 0 || lists+pubs == 0 {
		parts = append(parts, fmt.Sprintf("%d %s", snaps, plural(snaps, "snapshot")))
	}
	if lists > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", lists, plural(lists, "election list")))
	}
	if pubs > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", pubs, plural(pubs, "publication")))
	}
	return joinReport(parts)
}

// commit writes the batch as one transaction; if that fails, it undoes
// it, unless a test asked it to die as a killed process would.
func (b *gitBatch) commit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.commits) == 0 && len(b.pubs) == 0 {
		return nil
	}
	g := b.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errClosed
	}
	t := &txn{g: g, ctx: b.ctx}
	err := t.run(b)
	if err != nil && !g.dieOnFault {
		if uerr := t.undo(); uerr != nil {
			err = fmt.Errorf("%w; undoing the write failed too: %v", err, uerr)
		}
	}
	if err != nil {
		return err
	}
	for _, h := range b.commits {
		g.remember(h, b.parsed[h])
	}
	for _, p := range b.pubs {
		g.rememberPublication(p.hash, p.p)
	}
	b.indexLogs()
	return nil
}

// indexLogs brings the log index of every election the batch wrote up to
// date. The batch is committed by then: a failure only leaves Log the
// slower way of reading the commits.
func (b *gitBatch) indexLogs() {
	commits := map[plumbing.Hash]pendingObject{}
	for _, o := range b.objects {
		if o.typ == plumbing.CommitObject {
			commits[o.hash] = o
		}
	}
	for _, name := range b.order {
		id, ok := strings.CutPrefix(name.String(), electionRefPrefix)
		br := b.branches[name]
		if !ok || br.tip == br.old {
			continue
		}
		added := make([]pendingObject, 0, len(br.added))
		for _, e := range br.added {
			added = append(added, commits[plumbing.NewHash(e.Commit)])
		}
		b.g.updateLogIndex(snapshot.ElectionID(id), br.old, added)
	}
}

// run writes the batch b: the journal, the objects, the refs, and removes
// the journal.
func (t *txn) run(b *gitBatch) error {
	t.plan = journal{refTemp: refTempName}
	if err := t.planObjects(b.objects); err != nil {
		return err
	}
	for _, name := range b.order {
		br := b.branches[name]
		if br.tip == br.old {
			continue
		}
		old, err := looseRef(t.g.dir, name)
		if err != nil {
			return err
		}
		t.plan.refs = append(t.plan.refs, refMove{name: name, old: old, new: br.tip})
		if err := t.planDirs(path.Dir(string(name))); err != nil {
			return err
		}
	}

	if err := t.step("write journal"); err != nil {
		return err
	}
	if err := writeJournal(t.g.dir, &t.plan, t.g.noSync); err != nil {
		return err
	}
	t.journaled = true

	if err := t.writeObjects(b.objects); err != nil {
		return err
	}
	if err := t.step("sync objects"); err != nil {
		return err
	}
	if err := t.syncObjectDirs(); err != nil {
		return err
	}
	for _, r := range t.plan.refs {
		if err := t.moveRef(r, b.branches[r.name].old); err != nil {
			return err
		}
	}
	if err := t.step("sync ref"); err != nil {
		return err
	}
	if err := t.syncRefDirs(); err != nil {
		return err
	}

	// The write is complete once its journal is gone.
	if err := t.step("remove journal"); err != nil {
		return err
	}
	if err := removeJournal(t.g.dir, t.g.noSync); err != nil {
		return err
	}
	t.journaled = false
	return nil
}

// looseRef returns the commit that the loose ref file of the branch name
// holds, or zero if there is no such file.
func looseRef(dir string, name plumbing.ReferenceName) (plumbing.Hash, error) {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(string(name))))
	if errors.Is(err, fs.ErrNotExist) {
		return plumbing.ZeroHash, nil
	}
	if err == nil {
		var h plumbing.Hash
		if h, err = parseRefFile(data); err == nil {
			return h, nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", name, err)
}
