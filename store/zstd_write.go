package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"ctrunner/snapshot"
)

// zstdTempPrefix starts the names of the temporary files a write makes in
// the folder of its objects before renaming them to objects.
const zstdTempPrefix = ".tmp-"

// zstdChange is one record to add to the journal.
type zstdChange struct {
	rec   zstdRecord      // without Seq, which the write sets
	files []snapshot.File // sorted by name
	// same reports whether last, the newest record of the same election
	// (or the newest election list), already archives this change.
	same func(last *zstdIndexed) bool
}

// zstdSnapshotChange checks s and returns the record that archives it. The
// metadata is made to fit on one line as the git backend's trailers are, so
// that both backends give the same entries.
func zstdSnapshotChange(s *snapshot.Snapshot) (zstdChange, error) {
	if _, err := snapshot.ParseElectionID(string(s.Election)); err != nil {
		return zstdChange{}, err
	}
	if err := checkTime(s.FetchedAt); err != nil {
		return zstdChange{}, err
	}
	files, docs, err := checkFiles(s.Files)
	if err != nil {
		return zstdChange{}, err
	}
	if s.Documents != nil && !maps.Equal(s.Documents, docs) {
		return zstdChange{}, errors.New("the snapshot's document hashes do not match its files")
	}
	if err := checkSizes(files); err != nil {
		return zstdChange{}, err
	}
	id, version := snapshot.TreeHash(files), s.Version
	return zstdChange{
		rec: zstdRecord{
			Kind:               zstdKindSnapshot,
			ID:                 id.String(),
			Election:           string(s.Election),
			Version:            int64(s.Version),
			FetchedAt:          s.FetchedAt.UTC().Format(time.RFC3339Nano),
			Source:             oneLine(string(s.Source)),
			SourceURL:          oneLine(s.SourceURL),
			TimeSource:         oneLine(s.TimeSource),
			PrecinctsReporting: oneLine(s.PrecinctsReporting),
			Suspect:            suspectLines(s.Suspect),
			Files:              zstdDocuments(files),
		},
		files: files,
		same: func(last *zstdIndexed) bool {
			return last.entry.ID == id && last.entry.Version == version
		},
	}, nil
}

// zstdElectionListChange returns the record that archives an election
// list.
func zstdElectionListChange(data []byte, fetchedAt time.Time, sourceURL string) (
	zstdChange, error) {
	if len(data) == 0 {
		return zstdChange{}, errors.New("the election list is empty")
	}
	if err := checkTime(fetchedAt); err != nil {
		return zstdChange{}, err
	}
	files := []snapshot.File{{Name: snapshot.ElectionListFile, Data: data}}
	if err := checkSizes(files); err != nil {
		return zstdChange{}, err
	}
	id := snapshot.TreeHash(files)
	return zstdChange{
		rec: zstdRecord{
			Kind:      zstdKindElectionList,
			ID:        id.String(),
			FetchedAt: fetchedAt.UTC().Format(time.RFC3339Nano),
			SourceURL: oneLine(sourceURL),
			Files:     zstdDocuments(files),
		},
		files: files,
		same:  func(last *zstdIndexed) bool { return last.entry.ID == id },
	}, nil
}

func checkSizes(files []snapshot.File) error {
	for _, f := range files {
		if len(f.Data) > maxDocumentSize {
			return fmt.Errorf("%s has %d bytes, more than the %d the zstd store takes",
				f.Name, len(f.Data), maxDocumentSize)
		}
	}
	return nil
}

func zstdDocuments(files []snapshot.File) []zstdDocument {
	out := make([]zstdDocument, len(files))
	for i, f := range files {
		out[i] = zstdDocument{Name: f.Name, SHA256: snapshot.SHA256(f.Data), Size: int64(len(f.Data))}
	}
	return out
}

// inlineSmall keeps the documents of UTF-8 text of at most limit bytes
// among files, whose journal documents are docs, in the journal.
func inlineSmall(docs []zstdDocument, files []snapshot.File, limit int) {
	for i, f := range files {
		if len(f.Data) <= limit && utf8.Valid(f.Data) {
			docs[i].Inline, docs[i].Data = true, f.Data
		}
	}
}

// zstdTxn is one write in progress. It records every file and folder it
// creates, so that undo can bring the store back to its state before the
// write as long as the journal line is not written.
type zstdTxn struct {
	z   *zstdStore
	ctx context.Context

	temps     []string        // temporary files that may exist
	objects   []string        // object files renamed into place
	dirs      []string        // folders created
	written   map[string]bool // objects this write made, by hex SHA-256
	committed bool            // the journal lines are written, for good
}

// step marks the start of a step of the write: it fails if the context
// is done or a test injects a fault.
func (t *zstdTxn) step(name string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if t.z.fault != nil {
		return t.z.fault(name)
	}
	return nil
}

// prepare brings the index up to date under the lock and removes what
// earlier writes cut short left behind: an incomplete last batch of the
// journal and, the first time or after such a batch, temporary files.
func (t *zstdTxn) prepare() error {
	z := t.z
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return errClosed
	}
	torn, err := z.refresh()
	if err != nil {
		return err
	}
	if err := z.refuseDamage(); err != nil {
		return err
	}
	if torn > 0 {
		if err := z.truncateJournal(); err != nil {
			return err
		}
	}
	if !z.cleaned || torn > 0 {
		if err := z.removeTemps(); err != nil {
			return err
		}
		z.cleaned = true
	}
	return nil
}

// refuseDamage returns an error if the index found the journal damaged:
// nothing may then be written to the store, or cut from its journal.
// Callers hold z.mu.
func (z *zstdStore) refuseDamage() error {
	if z.index.damage == nil {
		return nil
	}
	return fmt.Errorf("store %s: %v; run ctrunner verify; not writing to a damaged store",
		z.name, z.index.damage)
}

// truncateJournal removes a torn last line or batch. Callers hold z.mu
// and the store lock.
func (z *zstdStore) truncateJournal() error {
	if err := z.refuseDamage(); err != nil {
		return err // never cut what a good line follows
	}
	f, err := os.OpenFile(filepath.Join(z.dir, zstdJournalName), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("repairing journal: %w", err)
	}
	err = f.Truncate(z.index.end)
	if err == nil && !z.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("removing the journal's torn last line: %w", err)
	}
	return nil
}

// removeTemps removes the temporary files of writes that were cut short,
// in objects/ and, in a store of format 1, its folders. Callers hold the
// store lock.
func (z *zstdStore) removeTemps() error {
	root := filepath.Join(z.dir, "objects")
	dirs := []string{root}
	if z.objects.fanout {
		fanouts, err := readDirNames(root)
		if err != nil {
			return fmt.Errorf("looking for stray temporary files: %w", err)
		}
		for _, fo := range fanouts {
			dirs = append(dirs, filepath.Join(root, fo))
		}
	}
	for _, dir := range dirs {
		names, err := readDirNames(dir)
		if err != nil && dir == root {
			return fmt.Errorf("looking for stray temporary files: %w", err)
		}
		for _, name := range names {
			if !strings.HasPrefix(name, zstdTempPrefix) {
				continue
			}
			err := os.Remove(filepath.Join(dir, name))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("removing stray temporary file: %w", err)
			}
		}
	}
	return nil
}

// putObject stores raw as an object unless the journal already names one
// for it, as a delta against the object baseSum when it is not "".
func (t *zstdTxn) putObject(raw []byte, baseSum string) error {
	sum := snapshot.SHA256(raw)
	t.z.mu.Lock()
	known := t.z.index.objects[sum]
	t.z.mu.Unlock()
	if known || t.written[sum] {
		return nil
	}

	if err := t.step("encode object"); err != nil {
		return err
	}
	obj, err := t.encode(raw, baseSum)
	if err != nil {
		return err
	}

	// An object file that exists but that no journal line names is left
	// over from a write cut short: it is replaced.
	path := t.z.objects.path(sum)
	dir := filepath.Dir(path)
	if err := t.mkdir(dir); err != nil {
		return err
	}
	if err := t.step("write object"); err != nil {
		return err
	}
	tmp, err := t.writeTemp(dir, obj)
	if err != nil {
		return err
	}
	if err := t.step("rename object"); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("storing %s: %w", t.z.objects.name(sum), err)
	}
	t.temps = t.temps[:len(t.temps)-1]
	t.objects = append(t.objects, path)
	t.written[sum] = true

	if err := t.step("sync objects folder"); err != nil {
		return err
	}
	return t.syncDirs(dir)
}

// encode returns the object file for raw, the next version of the
// document whose previous version is the object prev ("" for none): a
// delta against prev while its run of deltas is shorter than the keyframe
// interval, else a keyframe: a delta against the keyframe that started
// prev's run while that keyframe's chain of keyframes is shorter than the
// keyframe chain, else a full object. A base that cannot be read makes
// this version a full object; Load reports the damage when the base
// itself is read.
func (t *zstdTxn) encode(raw []byte, prev string) ([]byte, error) {
	z := t.z
	z.codecMu.Lock()
	defer z.codecMu.Unlock()
	if z.codec == nil {
		return nil, errClosed
	}
	kind, baseSum, depth := z.plan(prev)
	var base []byte
	var sum [sha256.Size]byte
	if baseSum != "" {
		if b, err := z.codec.readRaw(z.objects, baseSum); err == nil {
			base = b
			hex.Decode(sum[:], []byte(baseSum))
		}
	}
	if base == nil {
		kind, depth = objectFull, 0
	}
	obj, err := z.codec.encode(raw, kind, base, sum, depth)
	if err != nil {
		return nil, err
	}
	z.codec.cache.put(snapshot.SHA256(raw), append([]byte(nil), raw...))
	return obj, nil
}

// plan returns how the version after the object prev is stored: its kind,
// its base ("" for a full object) and its depth. It reads the headers of
// prev's run of deltas.
func (z *zstdStore) plan(prev string) (kind byte, base string, depth int) {
	if prev == "" || z.keyframeEvery <= 1 {
		return objectFull, "", 0
	}
	h, err := readObjectHeader(z.objects, prev)
	if err != nil {
		return objectFull, "", 0
	}
	if h.depth+1 >= maxChainLength {
		return objectFull, "", 0
	}
	top, th, run := prev, h, 0
	for th.kind == objectDelta {
		run++
		top = hex.EncodeToString(th.base[:])
		if th, err = readObjectHeader(z.objects, top); err != nil || run > maxChainLength {
			return objectFull, "", 0
		}
	}
	switch {
	case run+1 < z.keyframeEvery:
		return objectDelta, prev, h.depth + 1
	case th.depth+1 < z.keyframeChain:
		return objectKeyframe, top, th.depth + 1
	}
	return objectFull, "", 0
}

// writeTemp writes data to a new temporary file in dir, syncs it and
// returns its path.
func (t *zstdTxn) writeTemp(dir string, data []byte) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	path := filepath.Join(dir, zstdTempPrefix+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", fmt.Errorf("writing object: %w", err)
	}
	t.temps = append(t.temps, path)
	_, err = f.Write(data)
	if err == nil {
		err = t.step("sync object")
	}
	if err == nil && !t.z.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing object: %w", err)
	}
	return path, nil
}

// mkdir makes the folder dir unless it exists, and records it.
func (t *zstdTxn) mkdir(dir string) error {
	err := os.Mkdir(dir, 0o777)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("making folder: %w", err)
	}
	t.dirs = append(t.dirs, dir)
	return nil
}

// syncDirs makes the names in dir durable, and dir's own name if the write
// made it.
func (t *zstdTxn) syncDirs(dir string) error {
	if t.z.noSync {
		return nil
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	for _, d := range t.dirs {
		if d == dir {
			return syncDir(filepath.Dir(dir))
		}
	}
	return nil
}

// undo removes everything the write created, so that a failed write
// leaves the store as it was.
func (t *zstdTxn) undo() error {
	var errs []error
	keep := func(err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, path := range t.temps {
		keep(os.Remove(path))
	}
	for i := len(t.objects) - 1; i >= 0; i-- {
		keep(os.Remove(t.objects[i]))
	}
	for i := len(t.dirs) - 1; i >= 0; i-- {
		keep(os.Remove(t.dirs[i]))
	}
	return errors.Join(errs...)
}
