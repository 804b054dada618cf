package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ctrunner/snapshot"
)

// An Update of the zstd store writes each new document's object as soon as
// its Put is made (objects no journal line names are never read), keeps
// the batch's records in memory, and when fn returns nil appends them to
// the journal in one write, as one batch (see zstdJournalName). If
// anything fails before that append is durable, the objects are removed
// and the journal is cut back.

func (z *zstdStore) Put(ctx context.Context, s *snapshot.Snapshot) (Entry, bool, error) {
	return putSnapshot(s, zstdSnapshotChange, alone[*zstdBatch, zstdChange](ctx, z.update))
}

func (z *zstdStore) PutElectionList(ctx context.Context, data []byte, fetchedAt time.Time,
	sourceURL string) (bool, error) {
	return putElectionList(data, fetchedAt, sourceURL, zstdElectionListChange,
		alone[*zstdBatch, zstdChange](ctx, z.update))
}

func (z *zstdStore) Update(ctx context.Context, fn func(b Batch) error) error {
	return updateWith(ctx, z.update, fn)
}

// update runs fn with a new batch under the store lock and commits the
// batch if fn returns nil; otherwise, and if the commit fails, it removes
// what the batch wrote.
func (z *zstdStore) update(ctx context.Context, fn func(b *zstdBatch) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	z.mu.Lock()
	closed := z.closed
	z.mu.Unlock()
	if closed {
		return errClosed
	}

	// Writers of this Store queue here rather than polling the file lock.
	select {
	case z.writing <- struct{}{}:
		defer func() { <-z.writing }()
	case <-ctx.Done():
		return ctx.Err()
	}
	lock, err := lockStore(ctx, z.dir, z.name, z.lockWait)
	if err != nil {
		return err
	}
	defer lock.unlock()

	t := &zstdTxn{z: z, ctx: ctx, written: map[string]bool{}}
	if err := t.prepare(); err != nil {
		return err
	}
	z.mu.Lock()
	b := &zstdBatch{z: z, t: t, seq0: z.index.seq}
	z.mu.Unlock()
	err = fn(b)
	b.finish()
	if err == nil {
		err = b.failed()
	}
	if err == nil {
		err = b.commit()
	}
	if err != nil && !t.committed && !z.dieOnFault {
		if uerr := t.undo(); uerr != nil {
			err = fmt.Errorf("%w; undoing the write failed too: %v", err, uerr)
		}
	}
	return err
}

// zstdBatch is the Batch of an Update of the zstd store.
type zstdBatch struct {
	z *zstdStore
	t *zstdTxn

	// mu guards everything below; it is taken before z.mu.
	mu      sync.Mutex
	done    bool
	err     error
	seq0    int64          // the journal's last sequence number before the batch
	pending []*zstdPending // the batch's records, oldest first
	lists   int            // election lists among pending
	pubs    int            // publications among pending
}

// zstdPending is a record of the batch, not yet in the journal.
type zstdPending struct {
	body   []byte // the record's bytes
	commit string // their SHA-256
	r      *zstdIndexed
	list   bool           // an election list
	pub    *zstdPublished // a publication, whose r is nil
}

func (b *zstdBatch) Put(s *snapshot.Snapshot) (Entry, bool, error) {
	return putSnapshot(s, zstdSnapshotChange, b.add)
}

func (b *zstdBatch) PutElectionList(data []byte, fetchedAt time.Time,
	sourceURL string) (bool, error) {
	return putElectionList(data, fetchedAt, sourceURL, zstdElectionListChange, b.add)
}

func (b *zstdBatch) Contains(id snapshot.ElectionID, h snapshot.Hash) (bool, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return false, errBatchDone
	}
	for _, p := range b.pending {
		if p.r != nil && !p.list && p.r.entry.Election == id && p.r.entry.ID == h {
			return true, nil
		}
	}
	return b.z.Contains(id, h)
}

// add stores c's new documents as objects and adds c's record to the
// batch, unless c.same says the newest record of its election (or the
// newest election list), in the batch or the journal, already archives it.
// Any failure fails the whole batch.
func (b *zstdBatch) add(c zstdChange) (Entry, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.done:
		return Entry{}, false, errBatchDone
	case b.err != nil:
		return Entry{}, false, fmt.Errorf("%w: %w", errBatchFailed, b.err)
	}
	e, added, err := b.addLocked(c)
	if err != nil {
		b.err = err
	}
	return e, added, err
}

func (b *zstdBatch) addLocked(c zstdChange) (Entry, bool, error) {
	t := b.t
	if err := t.step("read journal"); err != nil {
		return Entry{}, false, err
	}
	history, err := b.history(c)
	if err != nil {
		return Entry{}, false, err
	}
	if n := len(history); n > 0 && c.same(history[n-1]) {
		return copyEntry(history[n-1].entry), false, nil
	}
	rec := c.rec
	if b.z.format != zstdFormatFanout {
		rec.Files = append([]zstdDocument(nil), rec.Files...)
		inlineSmall(rec.Files, c.files, b.z.smallDocument)
	}
	for i, f := range c.files {
		if rec.Files[i].Inline {
			continue
		}
		if err := t.putObject(f.Data, b.base(history, f)); err != nil {
			return Entry{}, false, fmt.Errorf("storing %s: %w", f.Name, err)
		}
	}

	rec.Seq = b.seq0 + int64(len(b.pending)) + 1
	var prev *Entry
	if n := len(history); n > 0 {
		prev = &history[n-1].entry
	}
	body, commit, err := marshalZstdRecord(&rec, b.z.format, prev)
	if err != nil {
		return Entry{}, false, err
	}
	p := &zstdPending{
		body:   body,
		commit: commit,
		r:      &zstdIndexed{entry: rec.entry(commit), files: rec.Files},
		list:   rec.Kind == zstdKindElectionList,
	}
	b.pending = append(b.pending, p)
	if p.list {
		b.lists++
	}
	return copyEntry(p.r.entry), true, nil
}

// history returns the records c follows, oldest first: those of its
// election (or the election lists) in the journal, then in the batch.
func (b *zstdBatch) history(c zstdChange) ([]*zstdIndexed, error) {
	z := b.z
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return nil, errClosed
	}
	list := c.rec.Kind == zstdKindElectionList
	var stored []*zstdIndexed
	if list {
		stored = z.index.lists
	} else {
		stored = z.index.logs[snapshot.ElectionID(c.rec.Election)]
	}
	history := append([]*zstdIndexed(nil), stored...)
	for _, p := range b.pending {
		if p.r != nil && p.list == list &&
			(list || string(p.r.entry.Election) == c.rec.Election) {
			history = append(history, p.r)
		}
	}
	return history, nil
}

// base returns the object a new document f is a delta against: the
// previous version of the same document in history, or "" for none (and
// for a document the store already holds, which is not written again).
func (b *zstdBatch) base(history []*zstdIndexed, f snapshot.File) string {
	b.z.mu.Lock()
	known := b.z.index.objects[snapshot.SHA256(f.Data)]
	b.z.mu.Unlock()
	if known {
		return ""
	}
	return previousDocument(history, f.Name)
}

// failed returns the error that failed the batch, if any.
func (b *zstdBatch) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// finish ends the batch's use.
func (b *zstdBatch) finish() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// describe says what the batch archives, for messages.
func (b *zstdBatch) describe() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	label := ""
	if len(b.pending) > 0 {
		switch p := b.pending[0]; {
		case p.pub != nil:
			label = fmt.Sprintf("the publication of election %s version %s",
				p.pub.of.entry.Election, p.pub.of.entry.Version)
		case p.list:
			label = "the election list"
		default:
			label = fmt.Sprintf("election %s version %s", p.r.entry.Election, p.r.entry.Version)
		}
	}
	return describeWrite(len(b.pending)-b.lists-b.pubs, b.lists, b.pubs, label)
}

// commit appends the batch's records to the journal in one write, which
// makes them visible, adds them to the index and syncs the journal. If the
// sync fails, it cuts the journal back.
func (b *zstdBatch) commit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	t, z := b.t, b.z
	lines, err := b.lines()
	if err != nil {
		return err
	}
	if err := t.step("append journal"); err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return errClosed
	}
	if err := z.refuseDamage(); err != nil {
		return err
	}
	if z.index.seq != b.seq0 {
		return fmt.Errorf("journal gained records %d to %d during the write",
			b.seq0+1, z.index.seq)
	}
	f, err := os.OpenFile(filepath.Join(z.dir, zstdJournalName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("opening journal: %w", err)
	}
	defer f.Close()
	end := z.index.end
	if info, err := f.Stat(); err != nil || info.Size() != end {
		return fmt.Errorf("appending to journal: it changed during the write (%v)", err)
	}
	if _, err := f.Write(lines); err != nil {
		// Whatever part was written lacks its end: readers ignore it.
		// Take it back all the same, or the next writer will.
		f.Truncate(end)
		return fmt.Errorf("appending to journal: %w", err)
	}
	for _, p := range b.pending {
		rec, _, err := parseZstdRecord(p.body, z.format, nil)
		if err != nil {
			return err // cannot happen: the record was just encoded
		}
		z.index.add(rec, p.commit)
	}
	z.index.end += int64(len(lines))

	// The batch is visible; it counts once it is durable.
	err = t.step("sync journal")
	if err == nil && !z.noSync {
		err = f.Sync()
	}
	if err == nil {
		t.committed = true
		return nil
	}
	err = fmt.Errorf("syncing journal: %w", err)
	if z.dieOnFault {
		return err
	}
	if terr := z.cutJournal(f, end); terr != nil {
		t.committed = true // it stays: do not remove its objects
		return fmt.Errorf("archived, but not known to be durable: %w; "+
			"taking the write back failed too: %v", err, terr)
	}
	return err
}

// lines returns the journal lines of the batch: one record alone, or the
// records of a batch and its end.
func (b *zstdBatch) lines() ([]byte, error) {
	if len(b.pending) == 1 {
		return zstdRecordLine(b.pending[0].body, 0)
	}
	var out []byte
	first := b.seq0 + 1
	for _, p := range b.pending {
		line, err := zstdRecordLine(p.body, first)
		if err != nil {
			return nil, err
		}
		out = append(out, line...)
	}
	line, err := zstdEndLine(zstdEnd{Batch: first, Records: len(b.pending)})
	return append(out, line...), err
}

// cutJournal cuts the journal f back to end bytes, syncs it and indexes it
// again. Callers hold z.mu and the store lock.
func (z *zstdStore) cutJournal(f *os.File, end int64) error {
	if err := f.Truncate(end); err != nil {
		return err
	}
	if !z.noSync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	z.index = newZstdIndex(z.format)
	_, err := z.index.refresh(z.journal)
	return err
}

// recoverZstd is Recover for the zstd store in dir. Under the store lock
// it cuts an incomplete last batch off the journal and removes temporary
// files and every object file that no journal record names, with folders
// it empties. It never reads an object.
func recoverZstd(dir string) (string, error) {
	lock, err := lockStore(context.Background(), dir, dir, DefaultLockWait)
	if err != nil {
		return "", err
	}
	defer lock.unlock()
	// Only the journal is needed: no codec, since no object is read.
	format, err := readZstdFormat(dir)
	if err != nil {
		return "", fmt.Errorf("recovering store %s: %w", dir, err)
	}
	j, err := os.Open(filepath.Join(dir, zstdJournalName))
	if err != nil {
		return "", fmt.Errorf("recovering store %s: %w", dir, err)
	}
	defer j.Close()
	z := &zstdStore{dir: dir, name: dir, journal: j, index: newZstdIndex(format),
		format: format, objects: objectLayout{dir: dir, fanout: format == zstdFormatFanout}}
	report, err := z.repair()
	if err != nil {
		return "", fmt.Errorf("recovering store %s: %w", dir, err)
	}
	return report, nil
}

// repair does the work of recoverZstd for a caller that holds the lock.
func (z *zstdStore) repair() (string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	torn, err := z.refresh()
	if err != nil {
		return "", err
	}
	if d := z.index.damage; d != nil {
		// Objects only the unreadable records name must stay too.
		return "", fmt.Errorf("%v; run ctrunner verify; not repairing a damaged journal", d)
	}
	if torn > 0 {
		if err := z.truncateJournal(); err != nil {
			return "", err
		}
	}
	temps, objects, dirs, err := z.removeUnnamed()
	if err != nil {
		return "", err
	}
	var done []string
	if torn > 0 {
		done = append(done, fmt.Sprintf("cut an incomplete write of %d %s off the journal",
			torn, plural(int(torn), "byte")))
	}
	if temps > 0 {
		done = append(done, fmt.Sprintf("removed %d temporary %s",
			temps, plural(temps, "file")))
	}
	if objects > 0 {
		done = append(done, fmt.Sprintf("removed %d %s no record names",
			objects, plural(objects, "object")))
	}
	if dirs > 0 {
		done = append(done, fmt.Sprintf("%d empty object %s",
			dirs, plural(dirs, "folder")))
	}
	return joinReport(done), nil
}

// removeUnnamed removes the temporary files and the object files that no
// indexed record names, and in a store of format 1 the object folders left
// empty. Callers hold z.mu and the store lock, with the index up to date.
func (z *zstdStore) removeUnnamed() (temps, objects, dirs int, err error) {
	root := filepath.Join(z.dir, "objects")
	if !z.objects.fanout {
		temps, objects, err = z.removeUnnamedIn(root, "")
		return temps, objects, 0, err
	}
	fanouts, err := readDirNames(root)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("looking for unnamed objects: %w", err)
	}
	for _, fo := range fanouts {
		dir := filepath.Join(root, fo)
		names, err := readDirNames(dir)
		if err != nil || !isHex(fo, 2) {
			continue // not a folder of objects
		}
		t, o, err := z.removeUnnamedIn(dir, fo)
		temps, objects = temps+t, objects+o
		if err != nil {
			return temps, objects, dirs, err
		}
		if t+o == len(names) {
			if err := os.Remove(dir); err == nil {
				dirs++
				if !z.noSync {
					if err := syncDir(root); err != nil {
						return temps, objects, dirs, err
					}
				}
			}
		}
	}
	return temps, objects, dirs, nil
}

// removeUnnamedIn removes the temporary files and the unnamed object files
// in dir, whose object files' names follow prefix, and syncs dir.
func (z *zstdStore) removeUnnamedIn(dir, prefix string) (temps, objects int, err error) {
	names, err := readDirNames(dir)
	if err != nil {
		return 0, 0, fmt.Errorf("looking for unnamed objects: %w", err)
	}
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, zstdTempPrefix):
			temps++
		case isHex(name, 64-len(prefix)) && !z.index.objects[prefix+name]:
			objects++
		default:
			continue
		}
		err := os.Remove(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return temps, objects, fmt.Errorf("removing unnamed object: %w", err)
		}
	}
	if temps+objects > 0 && !z.noSync {
		if err := syncDir(dir); err != nil {
			return temps, objects, err
		}
	}
	return temps, objects, nil
}

// joinReport joins the parts of a recovery report into one line.
func joinReport(parts []string) string {
	s := ""
	for i, p := range parts {
		switch {
		case i == 0:
		case i == len(parts)-1:
			s += " and "
		default:
			s += ", "
		}
		s += p
	}
	return s
}
