package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"ctrunner/snapshot"
)

// The identity of every commit the store writes.
const (
	committerName  = "ctrunner"
	committerEmail = "ctrunner@localhost"
)

// refTempName is the file in the store's folder where a new ref value is
// written before it is renamed over the ref. It lies outside refs/ so that
// neither git nor go-git ever takes a leftover one for a branch, and one
// fixed name is enough because only the lock holder uses it.
const refTempName = "ctrunner-ref.tmp"

// goGitTempPrefix starts the names of the temporary files go-git writes in
// objects/pack before renaming them to loose objects.
const goGitTempPrefix = "tmp_obj_"

// change is one commit to add to a branch.
type change struct {
	branch  plumbing.ReferenceName
	files   []snapshot.File // sorted by name
	id      snapshot.Hash   // snapshot.TreeHash(files)
	message string
	when    time.Time
	// same reports whether tip, the branch's latest entry, already
	// archives this change, which then is not written.
	same func(tip Entry) bool
}

func (g *gitStore) Put(ctx context.Context, s *snapshot.Snapshot) (Entry, bool, error) {
	if s == nil {
		return Entry{}, false, errors.New("archiving snapshot: no snapshot")
	}
	e, added, err := g.put(ctx, s)
	if err != nil {
		return Entry{}, false, fmt.Errorf("archiving election %s version %s: %w",
			s.Election, s.Version, err)
	}
	return e, added, nil
}

func (g *gitStore) put(ctx context.Context, s *snapshot.Snapshot) (Entry, bool, error) {
	c, err := snapshotChange(s)
	if err != nil {
		return Entry{}, false, err
	}
	return g.write(ctx, c)
}

func (g *gitStore) PutElectionList(ctx context.Context, data []byte, fetchedAt time.Time,
	sourceURL string) (bool, error) {
	c, err := electionListChange(data, fetchedAt, sourceURL)
	if err != nil {
		return false, fmt.Errorf("archiving election list: %w", err)
	}
	_, added, err := g.write(ctx, c)
	if err != nil {
		return false, fmt.Errorf("archiving election list: %w", err)
	}
	return added, nil
}

// snapshotChange checks s and returns the commit that archives it.
func snapshotChange(s *snapshot.Snapshot) (change, error) {
	if _, err := snapshot.ParseElectionID(string(s.Election)); err != nil {
		return change{}, err
	}
	if err := checkTime(s.FetchedAt); err != nil {
		return change{}, err
	}
	files, docs, err := checkFiles(s.Files)
	if err != nil {
		return change{}, err
	}
	if s.Documents != nil && !maps.Equal(s.Documents, docs) {
		return change{}, errors.New("the snapshot's document hashes do not match its files")
	}
	meta := s.Meta
	meta.Documents = docs
	id, version := snapshot.TreeHash(files), s.Version
	return change{
		branch:  electionRef(s.Election),
		files:   files,
		id:      id,
		message: snapshotMessage(meta),
		when:    s.FetchedAt,
		same:    func(tip Entry) bool { return tip.ID == id && tip.Version == version },
	}, nil
}

// electionListChange returns the commit that archives an election list.
func electionListChange(data []byte, fetchedAt time.Time, sourceURL string) (change, error) {
	if len(data) == 0 {
		return change{}, errors.New("the election list is empty")
	}
	if err := checkTime(fetchedAt); err != nil {
		return change{}, err
	}
	files := []snapshot.File{{Name: snapshot.ElectionListFile, Data: data}}
	meta := snapshot.Meta{
		FetchedAt: fetchedAt,
		SourceURL: sourceURL,
		Documents: map[string]string{snapshot.ElectionListFile: snapshot.SHA256(data)},
	}
	id := snapshot.TreeHash(files)
	return change{
		branch:  electionListRef,
		files:   files,
		id:      id,
		message: electionListMessage(meta),
		when:    fetchedAt,
		same:    func(tip Entry) bool { return tip.ID == id },
	}, nil
}

// checkTime rejects fetch times that a git commit cannot carry.
func checkTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("no fetch time")
	}
	if t.Unix() < 0 {
		return fmt.Errorf("fetch time %s is before 1970", t.Format(time.RFC3339))
	}
	return nil
}

// checkFiles checks the documents' names and returns the documents sorted
// by name with the SHA-256 of each.
func checkFiles(files []snapshot.File) ([]snapshot.File, map[string]string, error) {
	if len(files) == 0 {
		return nil, nil, errors.New("no documents")
	}
	sorted := append([]snapshot.File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	docs := make(map[string]string, len(sorted))
	for i, f := range sorted {
		if err := checkName(f.Name); err != nil {
			return nil, nil, err
		}
		if i > 0 && sorted[i-1].Name == f.Name {
			return nil, nil, fmt.Errorf("two documents named %q", f.Name)
		}
		docs[f.Name] = snapshot.SHA256(f.Data)
	}
	return sorted, docs, nil
}

// checkName accepts a document name that can be a git tree entry and a
// trailer value unchanged.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("a document has no name")
	case strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("document name %q holds a slash", name)
	case name == "." || name == ".." || strings.EqualFold(name, ".git"):
		return fmt.Errorf("%q cannot name a document", name)
	case oneLine(name) != name:
		return fmt.Errorf("document name %q holds control characters, invalid UTF-8 "+
			"or surrounding spaces", name)
	}
	return nil
}

// write adds c to its branch under the store lock, unless c.same says the
// branch's latest commit already archives it.
func (g *gitStore) write(ctx context.Context, c change) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return Entry{}, false, errClosed
	}

	// Writers of this Store queue here rather than polling the file lock.
	select {
	case g.writing <- struct{}{}:
		defer func() { <-g.writing }()
	case <-ctx.Done():
		return Entry{}, false, ctx.Err()
	}

	// Wait for the file lock before taking the mutex, so that readers in
	// this process are not held up while another process writes.
	lock, err := lockStore(ctx, g.dir, g.name, g.lockWait)
	if err != nil {
		return Entry{}, false, err
	}
	defer lock.unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return Entry{}, false, errClosed
	}

	t := &txn{g: g, ctx: ctx}
	e, added, err := t.run(c)
	if err != nil {
		if uerr := t.undo(); uerr != nil {
			err = fmt.Errorf("%w; undoing the write failed too: %v", err, uerr)
		}
		return Entry{}, false, err
	}
	return e, added, nil
}

// txn is one write in progress. It records every file and folder it
// creates, so that undo can bring the repository back to its state before
// the write.
type txn struct {
	g   *gitStore
	ctx context.Context

	packTemps map[string]bool // go-git temporary files present before
	objects   []string        // loose object files created
	dirs      []string        // folders created, parents first
	refTemp   string          // the ref's temporary file, while it exists
	refPath   string
	oldRef    []byte // the loose ref file before the write, if hadRef
	hadRef    bool
	refMoved  bool
}

// step marks the start of a step of the write: it fails if the context
// is done or a test injects a fault.
func (t *txn) step(name string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if t.g.fault != nil {
		return t.g.fault(name)
	}
	return nil
}

func (t *txn) run(c change) (Entry, bool, error) {
	if err := t.step("read tip"); err != nil {
		return Entry{}, false, err
	}
	old, err := t.g.tip(c.branch)
	if err != nil {
		return Entry{}, false, err
	}
	if !old.IsZero() {
		pc, err := t.g.commit(old)
		if err != nil {
			return Entry{}, false, err
		}
		if c.same(pc.entry) {
			return copyEntry(pc.entry), false, nil
		}
	}
	if err := t.begin(c.branch); err != nil {
		return Entry{}, false, err
	}

	commit, err := t.writeObjects(c, old)
	if err != nil {
		return Entry{}, false, err
	}
	if err := t.step("sync objects"); err != nil {
		return Entry{}, false, err
	}
	if err := t.syncObjects(); err != nil {
		return Entry{}, false, err
	}
	if err := t.moveRef(c.branch, old, commit); err != nil {
		return Entry{}, false, err
	}

	meta, err := parseMessage(c.message)
	if err != nil {
		return Entry{}, false, fmt.Errorf("reading back commit message: %w", err)
	}
	e := Entry{ID: c.id, Commit: commit.String(), Meta: meta}
	t.g.remember(commit, parsedCommit{entry: e, parent: old})
	return copyEntry(e), true, nil
}

// begin records the state the write may have to restore.
func (t *txn) begin(branch plumbing.ReferenceName) error {
	t.refPath = filepath.Join(t.g.dir, filepath.FromSlash(string(branch)))
	b, err := os.ReadFile(t.refPath)
	switch {
	case err == nil:
		t.oldRef, t.hadRef = b, true
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading %s: %w", branch, err)
	}
	pack := filepath.Join(t.g.dir, "objects", "pack")
	if err := t.mkdirAll(pack); err != nil {
		return err
	}
	names, err := readDirNames(pack)
	if err != nil {
		return err
	}
	t.packTemps = map[string]bool{}
	for _, name := range names {
		if strings.HasPrefix(name, goGitTempPrefix) {
			t.packTemps[name] = true
		}
	}
	return nil
}

// writeObjects writes the blobs, the tree and the commit of c, whose
// parent is old, and returns the commit's hash.
func (t *txn) writeObjects(c change, old plumbing.Hash) (plumbing.Hash, error) {
	tree := &object.Tree{}
	for _, f := range c.files {
		if err := t.step("write blob"); err != nil {
			return plumbing.ZeroHash, err
		}
		h := plumbing.Hash(snapshot.BlobHash(f.Data))
		err := t.putObject(h, func() plumbing.EncodedObject {
			obj := t.g.st.NewEncodedObject()
			obj.SetType(plumbing.BlobObject)
			obj.SetSize(int64(len(f.Data)))
			w, _ := obj.Writer() // a memory object's writer cannot fail
			w.Write(f.Data)
			return obj
		})
		if err != nil {
			return plumbing.ZeroHash, err
		}
		tree.Entries = append(tree.Entries,
			object.TreeEntry{Name: f.Name, Mode: filemode.Regular, Hash: h})
	}

	if err := t.step("write tree"); err != nil {
		return plumbing.ZeroHash, err
	}
	treeObj := t.g.st.NewEncodedObject()
	if err := tree.Encode(treeObj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding tree: %w", err)
	}
	// The snapshot ID must not depend on the backend: the tree go-git
	// builds must hash to what snapshot.TreeHash computes.
	if got := snapshot.Hash(treeObj.Hash()); got != c.id {
		return plumbing.ZeroHash, fmt.Errorf("git tree %s differs from snapshot ID %s", got, c.id)
	}
	err := t.putObject(treeObj.Hash(), func() plumbing.EncodedObject { return treeObj })
	if err != nil {
		return plumbing.ZeroHash, err
	}

	if err := t.step("write commit"); err != nil {
		return plumbing.ZeroHash, err
	}
	sig := object.Signature{Name: committerName, Email: committerEmail, When: c.when.UTC()}
	commit := &object.Commit{
		Author:    sig,
		Committer: sig,
		Message:   c.message,
		TreeHash:  treeObj.Hash(),
	}
	if !old.IsZero() {
		commit.ParentHashes = []plumbing.Hash{old}
	}
	commitObj := t.g.st.NewEncodedObject()
	if err := commit.Encode(commitObj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding commit: %w", err)
	}
	h := commitObj.Hash()
	return h, t.putObject(h, func() plumbing.EncodedObject { return commitObj })
}

// putObject writes the object h, built by build, as a loose object unless
// the repository already holds it.
func (t *txn) putObject(h plumbing.Hash, build func() plumbing.EncodedObject) error {
	err := t.g.st.HasEncodedObject(h)
	if err == nil {
		return nil
	}
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("looking up object %s: %w", h, err)
	}
	hex := h.String()
	dir := filepath.Join(t.g.dir, "objects", hex[:2])
	if err := t.mkdirAll(dir); err != nil {
		return err
	}
	t.objects = append(t.objects, filepath.Join(dir, hex[2:]))
	if _, err := t.g.st.SetEncodedObject(build()); err != nil {
		return fmt.Errorf("writing object %s: %w", h, err)
	}
	return nil
}

// syncObjects makes the new objects durable before any ref names them.
// go-git does not fsync.
func (t *txn) syncObjects() error {
	if t.g.noSync {
		return nil
	}
	dirs := map[string]bool{}
	for _, path := range t.objects {
		if err := syncPath(path); err != nil {
			return err
		}
		dirs[filepath.Dir(path)] = true
	}
	for _, dir := range t.dirs {
		dirs[filepath.Dir(dir)] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// moveRef points branch at commit if it still points at old.
//
// go-git's CheckAndSetReference rewrites the ref file in place, without
// fsync, and leaves an empty file behind when the check fails, so a crash
// or a refused swap could leave a ref that names nothing. Instead the new
// value goes to a temporary file, is synced and renamed over the ref:
// readers see the old commit or the new one, never a partial file. The
// compare is done under the store lock, which every ctrunner writer holds,
// so nothing can move the ref between the compare and the rename.
func (t *txn) moveRef(branch plumbing.ReferenceName, old, commit plumbing.Hash) error {
	if err := t.step("make ref folder"); err != nil {
		return err
	}
	if err := t.mkdirAll(filepath.Dir(t.refPath)); err != nil {
		return err
	}

	if err := t.step("write ref"); err != nil {
		return err
	}
	t.refTemp = filepath.Join(t.g.dir, refTempName)
	if err := t.writeSynced(t.refTemp, []byte(commit.String()+"\n")); err != nil {
		return err
	}

	if err := t.step("check ref"); err != nil {
		return err
	}
	cur, err := t.g.tip(branch)
	if err != nil {
		return err
	}
	if cur != old {
		return fmt.Errorf("%s moved from %s to %s during the write", branch, old, cur)
	}

	if err := t.step("rename ref"); err != nil {
		return err
	}
	if err := os.Rename(t.refTemp, t.refPath); err != nil {
		return fmt.Errorf("updating %s: %w", branch, err)
	}
	t.refTemp, t.refMoved = "", true

	if err := t.step("sync ref"); err != nil {
		return err
	}
	return t.syncRefDirs()
}

// syncRefDirs makes the renamed ref durable, and the folders made for it.
func (t *txn) syncRefDirs() error {
	if t.g.noSync {
		return nil
	}
	dirs := []string{filepath.Dir(t.refPath), t.g.dir}
	for _, dir := range t.dirs {
		dirs = append(dirs, filepath.Dir(dir))
	}
	for _, dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// writeSynced writes data to a new or truncated file and fsyncs it.
func (t *txn) writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && !t.g.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// mkdirAll makes dir and its missing parents, recording each one made.
func (t *txn) mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := t.mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o777); errors.Is(err, fs.ErrExist) {
		return nil // not ours to remove
	} else if err != nil {
		return fmt.Errorf("making folder: %w", err)
	}
	t.dirs = append(t.dirs, dir)
	return nil
}

// undo removes everything the write created and puts the ref back, so
// that a failed write leaves the repository as it was.
func (t *txn) undo() error {
	var errs []error
	keep := func(err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if t.refMoved {
		if t.hadRef {
			t.refTemp = filepath.Join(t.g.dir, refTempName)
			err := t.writeSynced(t.refTemp, t.oldRef)
			if err == nil {
				err = os.Rename(t.refTemp, t.refPath)
			}
			keep(err)
		} else {
			keep(os.Remove(t.refPath))
		}
	}
	if t.refTemp != "" {
		keep(os.Remove(t.refTemp))
	}
	for i := len(t.objects) - 1; i >= 0; i-- {
		keep(os.Remove(t.objects[i]))
	}
	if t.packTemps != nil {
		pack := filepath.Join(t.g.dir, "objects", "pack")
		names, err := readDirNames(pack)
		keep(err)
		for _, name := range names {
			if strings.HasPrefix(name, goGitTempPrefix) && !t.packTemps[name] {
				keep(os.Remove(filepath.Join(pack, name)))
			}
		}
	}
	for i := len(t.dirs) - 1; i >= 0; i-- {
		keep(os.Remove(t.dirs[i]))
	}
	if t.refMoved && !t.g.noSync {
		keep(syncDir(filepath.Dir(t.refPath)))
	}
	return errors.Join(errs...)
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
