package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"ctrunner/snapshot"
)

// The zstd backend keeps a store in a plain folder:
//
//	DIR/ctrunner-store.json  {"backend":"zstd","format":2}, which Open reads
//	DIR/ctrunner.lock        the writers' lock
//	DIR/journal.jsonl        one line per archived snapshot, election list
//	                         or publication
//	DIR/objects/abcdef…      one document content each, by SHA-256
//
// See zstd_journal.go for the journal and zstd_object.go for the objects.
// A write stores each new document as an object, a delta against the
// previous version of the same document in the same election with a
// keyframe every keyframeEvery versions, then appends its journal line.
// A keyframe is itself a delta against the previous keyframe, and a full
// object once every keyframeChain keyframes. Documents of a few bytes
// (Version.json) are kept in the journal line instead of as objects.
//
// Format 1, which this code still reads and writes, keeps objects in 256
// folders (DIR/objects/ab/cdef…), every keyframe full, every document as
// an object, and longer journal lines; its stores stay in format 1.
// Entry.Commit is the hex SHA-256 of the record a journal line holds (the
// bytes of its "rec" member), which names that line for good.
//
// A write cut short (a crash, a failed fsync) leaves at most temporary
// files, object files that no journal line names and a torn last line or
// batch. Readers ignore all three and write nothing. A writer, under the
// lock, removes a torn last line or batch; it removes temporary files on
// the first write of each Store and whenever it finds a torn line. Unnamed
// object files are left in place by writers, harmless: none is ever read,
// and a later write of the same content replaces the file rather than
// trusting it. Recover removes them too, and so brings the store back to
// exactly its state before the write.

// markerFileName is the file that says which backend a folder store uses.
// The git backend has none.
const markerFileName = "ctrunner-store.json"

// Formats of the zstd backend's layout.
const (
	// zstdFormat is the format of new stores.
	zstdFormat = 2
	// zstdFormatFanout is the first format: objects in 256 folders.
	zstdFormatFanout = 1
)

// knownZstdFormat reports whether this code reads and writes stores of
// the zstd format f.
func knownZstdFormat(f int) bool {
	return f == zstdFormat || f == zstdFormatFanout
}

// Settings of the zstd backend, chosen by measurement (TestZstdTuning and
// TestZstdNight).
const (
	// defaultKeyframeEvery is K: a document is stored as a keyframe once
	// every K versions.
	defaultKeyframeEvery = 32
	// defaultKeyframeChain is M: one keyframe in M is a full object, the
	// others deltas against the keyframe before. Reading any version
	// decodes at most K + M - 1 objects.
	defaultKeyframeChain = 16
	// defaultLevel is the zstd level of every object.
	defaultLevel = zstd.SpeedBestCompression
)

// storeMarker is the content of the marker file.
type storeMarker struct {
	Backend string `json:"backend"`
	Format  int    `json:"format"`
}

// zstdStore is the Store kept as zstd objects and a journal.
type zstdStore struct {
	dir      string // absolute path of the store
	name     string // the folder as the user gave it, for messages
	lockWait time.Duration
	format   int          // of the store's layout
	objects  objectLayout // where its objects are

	// writing holds a token while a write of this Store is under way.
	writing chan struct{}

	// mu guards the fields below it.
	mu      sync.Mutex
	closed  bool
	journal *os.File // opened read-only
	index   *zstdIndex
	cleaned bool // a write has looked for stray temporary files

	// codecMu guards codec, which is nil once the store is closed.
	codecMu sync.Mutex
	codec   *zstdCodec

	// Settings, changed by tests and benchmarks before the first write.
	keyframeEvery int
	keyframeChain int // 1 in stores of format 1: every keyframe full
	smallDocument int // the largest document kept in the journal; -1: none
	// fault, when set by a test, is called before each step of a write
	// and fails the write by returning an error.
	fault func(step string) error
	// dieOnFault, set by tests, makes a failed write leave everything as
	// it is, without undoing anything, as a killed process would.
	dieOnFault bool
	// noSync, set by benchmarks, skips fsync.
	noSync bool
}

// openZstd opens the zstd store in dir, which must exist. It reads the
// journal and writes nothing.
func openZstd(dir string, wait time.Duration) (*zstdStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	format, err := readZstdFormat(abs)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	j, err := os.Open(filepath.Join(abs, zstdJournalName))
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	index := newZstdIndex(format)
	if _, err := index.refresh(j); err != nil {
		j.Close()
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	c, err := newZstdCodec(defaultLevel)
	if err != nil {
		j.Close()
		return nil, err
	}
	z := &zstdStore{
		dir:           abs,
		name:          dir,
		lockWait:      wait,
		format:        format,
		objects:       objectLayout{dir: abs, fanout: format == zstdFormatFanout},
		writing:       make(chan struct{}, 1),
		journal:       j,
		index:         index,
		codec:         c,
		keyframeEvery: defaultKeyframeEvery,
		keyframeChain: defaultKeyframeChain,
		smallDocument: defaultSmallDocument,
	}
	if format == zstdFormatFanout {
		z.keyframeChain = 1
	}
	return z, nil
}

// readZstdFormat returns the format of the zstd store in dir.
func readZstdFormat(dir string) (int, error) {
	m, err := readMarker(dir)
	if err != nil {
		return 0, err
	}
	if m.Backend != BackendZstd || !knownZstdFormat(m.Format) {
		return 0, fmt.Errorf("unknown kind of store (%s format %d; a newer ctrunner made it?)",
			m.Backend, m.Format)
	}
	return m.Format, nil
}

// readMarker reads the marker file of the store in dir; it reports
// fs.ErrNotExist when there is none.
func readMarker(dir string) (storeMarker, error) {
	var m storeMarker
	b, err := os.ReadFile(filepath.Join(dir, markerFileName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("reading %s: %w", markerFileName, err)
	}
	return m, nil
}

// createZstd makes a new, empty zstd store at dir, atomically as create
// does for a git store: it builds the store in a temporary folder next to
// dir and renames it into place. If another process created a store at dir
// first, createZstd leaves that one alone and succeeds.
func createZstd(dir string) error {
	return createZstdFormat(dir, zstdFormat)
}

// createZstdFormat is createZstd making a store of the given format.
func createZstdFormat(dir string, format int) error {
	return createAtomically(dir, func(tmp string) error {
		marker, err := json.Marshal(storeMarker{Backend: BackendZstd, Format: format})
		if err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(tmp, "objects"), 0o777); err != nil {
			return err
		}
		for name, data := range map[string][]byte{
			markerFileName:  append(marker, '\n'),
			lockFileName:    nil,
			zstdJournalName: nil,
		} {
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o666); err != nil {
				return err
			}
		}
		return nil
	})
}

func (z *zstdStore) Close() error {
	z.mu.Lock()
	if z.closed {
		z.mu.Unlock()
		return nil
	}
	z.closed = true
	z.index = nil
	err := z.journal.Close()
	z.mu.Unlock()

	z.codecMu.Lock()
	z.codec.close()
	z.codec = nil
	z.codecMu.Unlock()
	if err != nil {
		return fmt.Errorf("closing store %s: %w", z.name, err)
	}
	return nil
}

// current brings the index up to date with the journal, which other
// Stores and processes may have appended to. Callers hold z.mu.
func (z *zstdStore) current() error {
	if z.closed {
		return errClosed
	}
	_, err := z.refresh()
	return err
}

// refresh reads what was appended to the journal into the index and
// returns the size of a torn last batch. A journal that shrank, because a
// writer took back a batch it could not make durable, is read again from
// the start. Callers hold z.mu.
func (z *zstdStore) refresh() (torn int64, err error) {
	torn, err = z.index.refresh(z.journal)
	if errors.Is(err, errJournalShrank) {
		z.index = newZstdIndex(z.format)
		torn, err = z.index.refresh(z.journal)
	}
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", z.name, err)
	}
	return torn, nil
}

func (z *zstdStore) Log(id snapshot.ElectionID) ([]Entry, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.current(); err != nil {
		return nil, err
	}
	rs := z.index.logs[id]
	if len(rs) == 0 {
		return nil, notFoundf("election %s has no snapshots in this store", id)
	}
	entries := make([]Entry, len(rs))
	for i, r := range rs {
		entries[len(rs)-1-i] = copyEntry(r.entry)
	}
	return entries, nil
}

func (z *zstdStore) Contains(id snapshot.ElectionID, h snapshot.Hash) (bool, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return false, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.current(); err != nil {
		return false, err
	}
	for _, r := range z.index.logs[id] {
		if r.entry.ID == h {
			return true, nil
		}
	}
	return false, nil
}

func (z *zstdStore) Elections() ([]snapshot.ElectionID, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.current(); err != nil {
		return nil, err
	}
	ids := make([]snapshot.ElectionID, 0, len(z.index.logs))
	for id := range z.index.logs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return electionLess(ids[i], ids[j]) })
	return ids, nil
}

func (z *zstdStore) Load(e Entry) (*snapshot.Snapshot, error) {
	files, err := z.readSnapshot(e.ID, e.Documents)
	if err != nil {
		return nil, fmt.Errorf("loading snapshot %s of election %s: %w",
			e.ID.Short(), e.Election, err)
	}
	meta := e.Meta
	meta.Documents = maps.Clone(e.Documents)
	return &snapshot.Snapshot{Meta: meta, Files: files}, nil
}

// readSnapshot reads the documents of the snapshot id and checks them
// against docs, the SHA-256 of each document by name.
func (z *zstdStore) readSnapshot(id snapshot.Hash, docs map[string]string) (
	[]snapshot.File, error) {
	if id.IsZero() {
		return nil, errors.New("entry has no snapshot ID")
	}
	z.mu.Lock()
	err := z.current()
	var r *zstdIndexed
	if err == nil {
		r = z.index.byID[id]
	}
	z.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, notFoundf("no snapshot with ID %s in this store", id)
	}
	if len(r.files) != len(docs) {
		return nil, fmt.Errorf("store holds %d documents, entry lists %d",
			len(r.files), len(docs))
	}
	for _, f := range r.files {
		if _, ok := docs[f.Name]; !ok {
			return nil, fmt.Errorf("store holds %q, which the entry does not list", f.Name)
		}
	}

	files := make([]snapshot.File, 0, len(r.files))
	for _, f := range r.files {
		data, err := z.readDocument(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Name, err)
		}
		if got, want := snapshot.SHA256(data), docs[f.Name]; got != want {
			return nil, fmt.Errorf("%s has SHA-256 %s, want %s: the store is damaged",
				f.Name, got, want)
		}
		files = append(files, snapshot.File{Name: f.Name, Data: data})
	}
	if got := snapshot.TreeHash(files); got != id {
		return nil, fmt.Errorf("documents have snapshot ID %s: the journal is damaged", got)
	}
	return files, nil
}

// readDocument returns a copy of the raw bytes of a journal's document.
func (z *zstdStore) readDocument(f zstdDocument) ([]byte, error) {
	if f.Inline {
		return append([]byte(nil), f.Data...), nil
	}
	z.codecMu.Lock()
	defer z.codecMu.Unlock()
	if z.codec == nil {
		return nil, errClosed
	}
	raw, err := z.codec.readRaw(z.objects, f.SHA256)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != f.Size {
		return nil, fmt.Errorf("%s holds %d bytes, the journal says %d",
			z.objects.name(f.SHA256), len(raw), f.Size)
	}
	return append([]byte(nil), raw...), nil
}

func (z *zstdStore) ElectionList() ([]byte, time.Time, error) {
	z.mu.Lock()
	err := z.current()
	var r *zstdIndexed
	if err == nil {
		r = z.index.latestList()
	}
	z.mu.Unlock()
	if err != nil {
		return nil, time.Time{}, err
	}
	if r == nil {
		return nil, time.Time{}, notFoundf("no election list in this store")
	}
	data, err := z.readDocument(r.files[0])
	if err == nil && snapshot.SHA256(data) != r.files[0].SHA256 {
		err = errors.New("the store is damaged")
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading election list: %w", err)
	}
	return data, r.entry.FetchedAt, nil
}
