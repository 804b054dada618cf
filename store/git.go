package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/objfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"ctrunner/snapshot"
)

// Branches of the repository.
const (
	electionListRef   plumbing.ReferenceName = "refs/heads/election-list"
	electionRefPrefix                        = "refs/heads/elections/"
)

// objectCacheSize bounds go-git's cache of decoded objects; its default
// (96 MiB) is too much for a long replay of multi-megabyte documents.
const objectCacheSize = 16 * cache.MiByte

// maxCachedCommits bounds the store's own cache of parsed commits.
const maxCachedCommits = 1 << 18

func electionRef(id snapshot.ElectionID) plumbing.ReferenceName {
	return plumbing.ReferenceName(electionRefPrefix + string(id))
}

// gitStore is the Store kept in a bare git repository.
type gitStore struct {
	dir      string // absolute path of the repository
	name     string // the folder as the user gave it, for messages
	lockWait time.Duration

	// writing holds a token while a write of this Store is under way.
	writing chan struct{}

	// mu guards everything below: go-git is not safe for concurrent use.
	mu      sync.Mutex
	st      *filesystem.Storage
	closed  bool
	commits map[plumbing.Hash]parsedCommit
	logs    map[snapshot.ElectionID]cachedLog
	// indexEnds remembers where this store's writes left each log index.
	indexEnds map[snapshot.ElectionID]indexEnd
	pubs      map[plumbing.Hash]parsedPublication

	// fault, when set by a test, is called before each step of a write
	// and fails the write by returning an error.
	fault func(step string) error
	// dieOnFault, set by tests, makes a failed write leave everything as
	// it is, without undoing anything, as a killed process would.
	dieOnFault bool
	// noSync, set by benchmarks that build large fixtures, skips fsync.
	noSync bool
}

// parsedCommit is what Log needs of a commit. Commits never change, so
// these are cached by commit hash.
type parsedCommit struct {
	entry  Entry
	parent plumbing.Hash // zero for the first commit of a branch
}

// Open opens the store in the bare git repository dir, creating it first
// if it is missing and opts.Create is set. Opening writes nothing.
func Open(dir string, opts Options) (Store, error) {
	if s, ok, err := openBackend(dir, opts); ok {
		return s, err
	}
	wait := opts.LockWait
	if wait == 0 {
		wait = DefaultLockWait
	}
	present, err := storeExists(dir)
	if err != nil {
		return nil, err
	}
	if !present {
		if !opts.Create {
			return nil, notFoundf("no store at %s "+
				"(create one with ctrunner archive or ctrunner import)", dir)
		}
		if err := create(dir); err != nil {
			return nil, fmt.Errorf("creating store %s: %w", dir, err)
		}
	}
	if err := checkLayout(dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	st := filesystem.NewStorageWithOptions(osfs.New(abs, osfs.WithBoundOS()),
		cache.NewObjectLRU(objectCacheSize), filesystem.Options{})
	return &gitStore{
		dir:       abs,
		name:      dir,
		lockWait:  wait,
		st:        st,
		commits:   map[plumbing.Hash]parsedCommit{},
		logs:      map[snapshot.ElectionID]cachedLog{},
		indexEnds: map[snapshot.ElectionID]indexEnd{},
		writing:   make(chan struct{}, 1),
	}, nil
}

// storeExists reports whether dir holds something: a missing folder or an
// empty one is no store.
func storeExists(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening store: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening store %s: %w", dir, err)
	}
	return len(names) > 0, nil
}

// checkLayout makes sure dir looks like a bare git repository.
func checkLayout(dir string) error {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s is not a ctrunner store (a bare git repository): "+
				"no %s", dir, name)
		}
	}
	return nil
}

func (g *gitStore) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	g.commits, g.pubs = nil, nil
	if err := g.st.Close(); err != nil {
		return fmt.Errorf("closing store %s: %w", g.name, err)
	}
	return nil
}

var errClosed = errors.New("store is closed")

// tip returns the commit a branch points at now, or the zero hash if there
// is no such branch: what a writer, holding the lock, builds on. Readers
// use committedTip.
func (g *gitStore) tip(name plumbing.ReferenceName) (plumbing.Hash, error) {
	return readTip(g.dir, name)
}

// committedTip returns the commit a branch points at as the last finished
// write left it, or the zero hash if it did not exist then. A write moves
// its branches before it removes its journal, which is its commit point,
// and the next writer undoes a write that a kill interrupted: so readers
// take each branch that the journal of an unfinished write lists at its
// old place, and never show a snapshot that may yet disappear. The branch
// is read before the journal: a write that moves it in between has its
// journal in place by then.
func (g *gitStore) committedTip(name plumbing.ReferenceName) (plumbing.Hash, error) {
	tip, err := readTip(g.dir, name)
	if err != nil {
		return tip, err
	}
	unfinished, err := unfinishedWrite(g.dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if old, ok := unfinished[name]; ok {
		return committedPlace(g.dir, name, old)
	}
	return tip, nil
}

// unfinishedWrite returns, for each branch that the journal of an
// unfinished write lists, where the branch's loose ref pointed before the
// write (zero if there was no loose ref). There is none without a journal,
// with a torn one (the write created nothing yet) or with one of format 1
// (whose writes counted once their single branch moved).
func unfinishedWrite(dir string) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	data, err := os.ReadFile(filepath.Join(dir, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the journal of a write: %w", err)
	}
	j, err := parseJournal(data)
	if errors.Is(err, errTornJournal) || err == nil && j.v1 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the journal of a write: %w", err)
	}
	old := make(map[plumbing.ReferenceName]plumbing.Hash, len(j.refs))
	for _, r := range j.refs {
		old[r.name] = r.old
	}
	return old, nil
}

// committedPlace is where a branch that an unfinished write moves stood
// before: its old loose ref, or else what packed-refs says.
func committedPlace(dir string, name plumbing.ReferenceName, old plumbing.Hash) (plumbing.Hash, error) {
	if !old.IsZero() {
		return old, nil
	}
	packed, err := readPackedRefs(dir)
	return packed[name], err
}

// readTip returns the commit a branch of the repository dir points at, or
// the zero hash if there is no such branch. It reads the loose ref file
// itself, so that an empty ref file (left by an interrupted write of
// another program) is reported instead of being taken for a missing
// branch.
func readTip(dir string, name plumbing.ReferenceName) (plumbing.Hash, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(string(name))))
	switch {
	case err == nil:
		h, err := parseRefFile(b)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", name, err)
		}
		return h, nil
	case !errors.Is(err, os.ErrNotExist):
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", name, err)
	}
	packed, err := readPackedRefs(dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return packed[name], nil
}

func parseRefFile(b []byte) (plumbing.Hash, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return plumbing.ZeroHash, errors.New("empty ref file (an interrupted write?)")
	}
	if !plumbing.IsHash(s) {
		return plumbing.ZeroHash, fmt.Errorf("ref file holds %q, not a commit hash", s)
	}
	return plumbing.NewHash(s), nil
}

// packedRefs reads the packed-refs file that git gc or git pack-refs may
// have written; ctrunner itself only writes loose refs.
func (g *gitStore) packedRefs() (map[plumbing.ReferenceName]plumbing.Hash, error) {
	return readPackedRefs(g.dir)
}

// readPackedRefs reads the packed-refs file of the repository dir.
func readPackedRefs(dir string) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	f, err := os.Open(filepath.Join(dir, "packed-refs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading packed refs: %w", err)
	}
	defer f.Close()
	refs := map[plumbing.ReferenceName]plumbing.Hash{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), " ")
		if ok && plumbing.IsHash(hash) {
			refs[plumbing.ReferenceName(name)] = plumbing.NewHash(hash)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading packed refs: %w", err)
	}
	return refs, nil
}

// commit returns the parsed commit h, from the cache if it is there.
func (g *gitStore) commit(h plumbing.Hash) (parsedCommit, error) {
	if pc, ok := g.commits[h]; ok {
		return pc, nil
	}
	c, err := g.readCommit(h)
	if err != nil {
		return parsedCommit{}, fmt.Errorf("reading commit %s: %w", h, err)
	}
	meta, err := parseMessage(c.Message)
	if err != nil {
		return parsedCommit{}, fmt.Errorf("reading commit %s: %w", h, err)
	}
	pc := parsedCommit{entry: Entry{ID: snapshot.Hash(c.TreeHash), Commit: h.String(), Meta: meta}}
	if len(c.ParentHashes) > 0 {
		pc.parent = c.ParentHashes[0]
	}
	g.remember(h, pc)
	return pc, nil
}

// readCommit reads the commit h. A loose commit is read straight from its
// file: going through go-git's storage, most of Log's time went to
// resolving each object's path safely, several system calls per object.
// Packed commits are left to go-git.
func (g *gitStore) readCommit(h plumbing.Hash) (*object.Commit, error) {
	hex := h.String()
	data, err := os.ReadFile(filepath.Join(g.dir, "objects", hex[:2], hex[2:]))
	if errors.Is(err, fs.ErrNotExist) {
		obj, err := g.object(h)
		if err != nil {
			return nil, err
		}
		return object.DecodeCommit(g.st, obj)
	}
	if err != nil {
		return nil, err
	}
	r, err := objfile.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	typ, size, err := r.Header()
	if err != nil {
		return nil, err
	}
	if typ != plumbing.CommitObject {
		return nil, fmt.Errorf("object is a %s, not a commit", typ)
	}
	content := make([]byte, size)
	if _, err := io.ReadFull(r, content); err != nil {
		return nil, err
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(typ)
	obj.Write(content)
	if got := r.Hash(); got != h {
		return nil, fmt.Errorf("object file is damaged: its content hashes to %s", got)
	}
	c := &object.Commit{}
	if err := c.Decode(obj); err != nil {
		return nil, err
	}
	return c, nil
}

func (g *gitStore) remember(h plumbing.Hash, pc parsedCommit) {
	if len(g.commits) >= maxCachedCommits {
		clear(g.commits)
	}
	g.commits[h] = pc
}

// copyEntry returns e with its own Documents map and Suspect slice, so
// that callers cannot change cached entries.
func copyEntry(e Entry) Entry {
	e.Documents = maps.Clone(e.Documents)
	e.Suspect = slices.Clone(e.Suspect)
	return e
}

func (g *gitStore) Log(id snapshot.ElectionID) ([]Entry, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errClosed
	}
	return g.log(id)
}

// log walks the first-parent chain of the election's branch, reading
// commit messages only.
func (g *gitStore) log(id snapshot.ElectionID) ([]Entry, error) {
	tip, err := g.committedTip(electionRef(id))
	if err != nil {
		return nil, err
	}
	if tip.IsZero() {
		return nil, notFoundf("election %s has no snapshots in this store", id)
	}
	cached := g.logs[id]
	if cached.tip == tip {
		return copyEntries(cached.entries), nil
	}
	if _, ok := g.commits[tip]; !ok && cached.entries == nil {
		if entries, ok := g.logFromIndex(id, tip); ok {
			g.logs[id] = cachedLog{tip: tip, entries: entries}
			return copyEntries(entries), nil
		}
	}
	// Walk from the tip to the log read last time, or to the first commit.
	var entries []Entry
	for h := tip; !h.IsZero(); {
		if h == cached.tip {
			entries = append(entries, cached.entries...)
			break
		}
		pc, err := g.commit(h)
		if err != nil {
			return nil, fmt.Errorf("reading log of election %s: %w", id, err)
		}
		entries = append(entries, pc.entry)
		h = pc.parent
	}
	g.logs[id] = cachedLog{tip: tip, entries: entries}
	return copyEntries(entries), nil
}

// cachedLog is the log of an election as Log last read it: the entries,
// newest first, of the branch whose tip was tip. They are shared with the
// commit cache and never changed; Log hands out copies.
type cachedLog struct {
	tip     plumbing.Hash
	entries []Entry
}

// copyEntries returns copies of entries that callers may change.
func copyEntries(entries []Entry) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = copyEntry(e)
	}
	return out
}

func (g *gitStore) Contains(id snapshot.ElectionID, h snapshot.Hash) (bool, error) {
	entries, err := g.Log(id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.ID == h {
			return true, nil
		}
	}
	return false, nil
}

func (g *gitStore) Elections() ([]snapshot.ElectionID, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errClosed
	}
	seen := map[snapshot.ElectionID]bool{}
	des, err := os.ReadDir(filepath.Join(g.dir, filepath.FromSlash(electionRefPrefix)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing elections: %w", err)
	}
	for _, de := range des {
		if id, err := snapshot.ParseElectionID(de.Name()); err == nil && !de.IsDir() {
			seen[id] = true
		}
	}
	packed, err := g.packedRefs()
	if err != nil {
		return nil, fmt.Errorf("listing elections: %w", err)
	}
	for name := range packed {
		rest, ok := strings.CutPrefix(string(name), electionRefPrefix)
		if id, err := snapshot.ParseElectionID(rest); ok && err == nil {
			seen[id] = true
		}
	}
	// A branch that an unfinished write creates is not there yet.
	unfinished, err := unfinishedWrite(g.dir)
	if err != nil {
		return nil, fmt.Errorf("listing elections: %w", err)
	}
	for name, old := range unfinished {
		rest, ok := strings.CutPrefix(string(name), electionRefPrefix)
		if id := snapshot.ElectionID(rest); ok && seen[id] && old.IsZero() && packed[name].IsZero() {
			delete(seen, id)
		}
	}
	ids := make([]snapshot.ElectionID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return electionLess(ids[i], ids[j]) })
	return ids, nil
}

// electionLess orders election IDs (strings of digits) by numeric value.
func electionLess(a, b snapshot.ElectionID) bool {
	ta, tb := strings.TrimLeft(string(a), "0"), strings.TrimLeft(string(b), "0")
	if len(ta) != len(tb) {
		return len(ta) < len(tb)
	}
	if ta != tb {
		return ta < tb
	}
	return a < b
}

func (g *gitStore) Load(e Entry) (*snapshot.Snapshot, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errClosed
	}
	files, err := g.readTree(e.ID, e.Documents)
	if err != nil {
		return nil, fmt.Errorf("loading snapshot %s of election %s: %w", e.ID.Short(), e.Election, err)
	}
	meta := e.Meta
	meta.Documents = maps.Clone(e.Documents)
	return &snapshot.Snapshot{Meta: meta, Files: files}, nil
}

// readTree reads the documents of the tree id and checks them against
// docs, the SHA-256 of each document by name.
func (g *gitStore) readTree(id snapshot.Hash, docs map[string]string) ([]snapshot.File, error) {
	if id.IsZero() {
		return nil, errors.New("entry has no snapshot ID")
	}
	obj, err := g.object(plumbing.Hash(id))
	if err != nil {
		return nil, fmt.Errorf("reading tree: %w", err)
	}
	tree, err := object.DecodeTree(g.st, obj)
	if err != nil {
		return nil, fmt.Errorf("reading tree: %w", err)
	}
	if len(tree.Entries) != len(docs) {
		return nil, fmt.Errorf("tree holds %d documents, entry lists %d",
			len(tree.Entries), len(docs))
	}
	files := make([]snapshot.File, 0, len(tree.Entries))
	for _, te := range tree.Entries {
		want, ok := docs[te.Name]
		if !ok || te.Mode != filemode.Regular {
			return nil, fmt.Errorf("tree holds %q, which the entry does not list", te.Name)
		}
		data, err := g.readBlob(te.Hash)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", te.Name, err)
		}
		if got := snapshot.SHA256(data); got != want {
			return nil, fmt.Errorf("%s has SHA-256 %s, want %s: the store is damaged",
				te.Name, got, want)
		}
		files = append(files, snapshot.File{Name: te.Name, Data: data})
	}
	return files, nil
}

// object reads object h through go-git. go-git keeps a list of the packs
// it has seen; when another Store or process has packed the loose copy
// since, or merged the pack away, the lookup fails, so the list is read
// again once before giving up.
func (g *gitStore) object(h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := g.st.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		g.st.ObjectStorage.Reindex()
		obj, err = g.st.EncodedObject(plumbing.AnyObject, h)
	}
	return obj, err
}

func (g *gitStore) readBlob(h plumbing.Hash) ([]byte, error) {
	obj, err := g.object(h)
	if err != nil {
		return nil, err
	}
	blob, err := object.DecodeBlob(obj)
	if err != nil {
		return nil, err
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	buf.Grow(int(blob.Size) + bytes.MinRead)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (g *gitStore) ElectionList() ([]byte, time.Time, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, time.Time{}, errClosed
	}
	h, err := g.committedTip(electionListRef)
	if err != nil {
		return nil, time.Time{}, err
	}
	if h.IsZero() {
		return nil, time.Time{}, notFoundf("no election list in this store")
	}
	pc, err := g.commit(h)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading election list: %w", err)
	}
	files, err := g.readTree(pc.entry.ID, pc.entry.Documents)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading election list: %w", err)
	}
	if len(files) != 1 || files[0].Name != snapshot.ElectionListFile {
		return nil, time.Time{}, fmt.Errorf("reading election list: commit %s holds no %s alone",
			h, snapshot.ElectionListFile)
	}
	return files[0].Data, pc.entry.FetchedAt, nil
}
