package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/objfile"
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
// objects/pack before renaming them to loose objects. The store names its
// own temporary object files the same way, as git does, so that git fsck
// passes over a leftover one.
const goGitTempPrefix = "tmp_obj_"

// change is one commit to add to a branch.
type change struct {
	branch  plumbing.ReferenceName
	files   []snapshot.File // sorted by name
	id      snapshot.Hash   // snapshot.TreeHash(files)
	message string
	when    time.Time
	label   string // for messages: "election 80 version 1313", "the election list"
	// same reports whether tip, the branch's latest entry, already
	// archives this change, which then is not written.
	same func(tip Entry) bool
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
		label:   fmt.Sprintf("election %s version %s", s.Election, s.Version),
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
		label:   "the election list",
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

// txn is the commit of an Update's batch in progress. Before it creates
// anything, it works out every file and folder it will create and every
// branch it will move, and lists them in the store's journal, so that undo
// (or, after a kill, recovery) can bring the repository back to its state
// before the write.
type txn struct {
	g   *gitStore
	ctx context.Context

	plan      journal
	journaled bool // the journal is written
	moved     int  // how many of plan.refs were renamed into place
}

// pendingObject is an object of the write, encoded in memory.
type pendingObject struct {
	hash plumbing.Hash
	typ  plumbing.ObjectType
	data []byte
	what string // for messages: "document NAME", "tree", "commit"
	// path is the object's file relative to the store, if the write
	// creates it; empty if the repository already holds the object.
	path string
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

// encodeObjects encodes in memory the blobs, the tree and the commit of c,
// whose parent is old. The commit comes last.
func encodeObjects(c change, old plumbing.Hash) ([]pendingObject, error) {
	objects := make([]pendingObject, 0, len(c.files)+2)
	tree := &object.Tree{}
	for _, f := range c.files {
		h := plumbing.Hash(snapshot.BlobHash(f.Data))
		objects = append(objects, pendingObject{
			hash: h, typ: plumbing.BlobObject, data: f.Data, what: "document " + f.Name,
		})
		tree.Entries = append(tree.Entries,
			object.TreeEntry{Name: f.Name, Mode: filemode.Regular, Hash: h})
	}

	treeObj := &plumbing.MemoryObject{}
	if err := tree.Encode(treeObj); err != nil {
		return nil, fmt.Errorf("encoding tree: %w", err)
	}
	// The snapshot ID must not depend on the backend: the tree go-git
	// builds must hash to what snapshot.TreeHash computes.
	if got := snapshot.Hash(treeObj.Hash()); got != c.id {
		return nil, fmt.Errorf("git tree %s differs from snapshot ID %s", got, c.id)
	}
	objects = append(objects, memoryObject(treeObj, "tree"))

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
	commitObj := &plumbing.MemoryObject{}
	if err := commit.Encode(commitObj); err != nil {
		return nil, fmt.Errorf("encoding commit: %w", err)
	}
	return append(objects, memoryObject(commitObj, "commit")), nil
}

func memoryObject(o *plumbing.MemoryObject, what string) pendingObject {
	r, _ := o.Reader() // a memory object's reader cannot fail
	data, _ := io.ReadAll(r)
	return pendingObject{hash: o.Hash(), typ: o.Type(), data: data, what: what}
}

// planObjects works out which objects the repository lacks and which
// folders they need, and adds them to t.plan.
func (t *txn) planObjects(objects []pendingObject) error {
	for i := range objects {
		o := &objects[i]
		err := t.g.st.HasEncodedObject(o.hash)
		if err == nil {
			continue
		}
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			return fmt.Errorf("looking up object %s: %w", o.hash, err)
		}
		hex := o.hash.String()
		dir := "objects/" + hex[:2]
		if err := t.planDirs(dir); err != nil {
			return err
		}
		o.path = dir + "/" + hex[2:]
		t.plan.objects = append(t.plan.objects, o.path)
		t.plan.temps = append(t.plan.temps, dir+"/"+goGitTempPrefix+hex[2:])
	}
	return nil
}

// planDirs adds to the plan dir, a slash path relative to the store, and
// its parents, if they are missing.
func (t *txn) planDirs(dir string) error {
	var missing []string
	for d := dir; d != "." && !slices.Contains(t.plan.dirs, d); d = path.Dir(d) {
		_, err := os.Stat(filepath.Join(t.g.dir, filepath.FromSlash(d)))
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("looking up folder: %w", err)
		}
		missing = append(missing, d)
	}
	slices.Reverse(missing)
	t.plan.dirs = append(t.plan.dirs, missing...)
	return nil
}

// mkdirs makes the planned folders that dir, a slash path relative to the
// store, needs.
func (t *txn) mkdirs(dir string) error {
	for _, d := range t.plan.dirs {
		if d != dir && !strings.HasPrefix(dir, d+"/") {
			continue
		}
		err := os.Mkdir(filepath.Join(t.g.dir, filepath.FromSlash(d)), 0o777)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("making folder: %w", err)
		}
	}
	return nil
}

// writeObjects writes the objects the repository lacks, in order.
func (t *txn) writeObjects(objects []pendingObject) error {
	for _, o := range objects {
		switch o.typ {
		case plumbing.BlobObject:
			if err := t.step("write blob"); err != nil {
				return err
			}
		default:
			if err := t.step("write " + o.typ.String()); err != nil {
				return err
			}
		}
		if o.path == "" {
			continue
		}
		if err := t.writeObject(o); err != nil {
			// The temporary file's name tells a user nothing once the
			// folder is known: keep it only for failures to create it.
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Op != "open" {
				err = pe.Err
			}
			return fmt.Errorf("writing %s (object %s) into %s: %w", o.what, o.hash,
				filepath.Join(t.g.name, "objects"), err)
		}
	}
	return nil
}

// writeObject writes o as a loose object: to a temporary file in the
// object's folder, synced, then renamed to its name. Loose objects are
// read-only, as git makes them.
func (t *txn) writeObject(o pendingObject) error {
	name := filepath.Join(t.g.dir, filepath.FromSlash(o.path))
	if err := t.mkdirs(path.Dir(o.path)); err != nil {
		return err
	}
	temp := filepath.Join(filepath.Dir(name), goGitTempPrefix+filepath.Base(name))
	// A temporary file by that name can only be the leftover of a killed
	// write whose journal is gone (removed by hand, say).
	if err := os.Remove(temp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(temp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	w := objfile.NewWriter(bw)
	err = w.WriteHeader(o.typ, int64(len(o.data)))
	if err == nil {
		_, err = w.Write(o.data)
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && !t.g.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && w.Hash() != o.hash {
		err = fmt.Errorf("encoded object hashes to %s", w.Hash())
	}
	if err == nil {
		err = os.Rename(temp, name)
	}
	return err
}

// syncObjectDirs makes the new objects' names durable before any ref
// names them; the files themselves were synced when written.
func (t *txn) syncObjectDirs() error {
	if t.g.noSync {
		return nil
	}
	dirs := map[string]bool{}
	for _, p := range t.plan.objects {
		dirs[path.Dir(p)] = true
	}
	for _, d := range t.plan.dirs {
		if strings.HasPrefix(d, "objects/") {
			dirs[path.Dir(d)] = true
		}
	}
	for d := range dirs {
		if err := syncDir(filepath.Join(t.g.dir, filepath.FromSlash(d))); err != nil {
			return err
		}
	}
	return nil
}

// moveRef points the branch r.name at r.new if it still points at old.
//
// go-git's CheckAndSetReference rewrites the ref file in place, without
// fsync, and leaves an empty file behind when the check fails, so a crash
// or a refused swap could leave a ref that names nothing. Instead the new
// value goes to a temporary file, is synced and renamed over the ref:
// readers see the old commit or the new one, never a partial file. The
// compare is done under the store lock, which every ctrunner writer holds,
// so nothing can move the ref between the compare and the rename.
func (t *txn) moveRef(r refMove, old plumbing.Hash) error {
	if err := t.step("make ref folder"); err != nil {
		return err
	}
	if err := t.mkdirs(path.Dir(string(r.name))); err != nil {
		return err
	}

	if err := t.step("write ref"); err != nil {
		return err
	}
	refTemp := filepath.Join(t.g.dir, refTempName)
	if err := writeSynced(refTemp, []byte(r.new.String()+"\n"), 0o666, t.g.noSync); err != nil {
		return err
	}

	if err := t.step("check ref"); err != nil {
		return err
	}
	cur, err := t.g.tip(r.name)
	if err != nil {
		return err
	}
	if cur != old {
		return fmt.Errorf("%s moved from %s to %s during the write", r.name, old, cur)
	}

	if err := t.step("rename ref"); err != nil {
		return err
	}
	refPath := filepath.Join(t.g.dir, filepath.FromSlash(string(r.name)))
	// Count the ref as moved even if the rename fails: it may have
	// happened, and putting back a ref still at its old value is a no-op.
	t.moved++
	if err := os.Rename(refTemp, refPath); err != nil {
		return fmt.Errorf("updating %s: %w", r.name, err)
	}
	return nil
}

// syncRefDirs makes the renamed refs durable, and the folders made for
// them. The store's folder, which the temporary file left, is synced when
// the journal is removed.
func (t *txn) syncRefDirs() error {
	if t.g.noSync {
		return nil
	}
	dirs := map[string]bool{}
	for _, r := range t.plan.refs {
		dirs[path.Dir(string(r.name))] = true
	}
	for _, d := range t.plan.dirs {
		if strings.HasPrefix(d, "refs/") {
			dirs[path.Dir(d)] = true
		}
	}
	for d := range dirs {
		if err := syncDir(filepath.Join(t.g.dir, filepath.FromSlash(d))); err != nil {
			return err
		}
	}
	return nil
}

// undo brings the repository back to its state before the write, as
// recovery would: it puts the moved refs back and removes what the
// journal lists, then the journal. If a ref cannot be put back, the
// journal stays for the next writer or Recover to finish the undo.
func (t *txn) undo() error {
	if !t.journaled {
		return nil // nothing was created
	}
	if _, err := restoreRefs(t.g.dir, t.plan.refs[:t.moved], t.g.noSync, nil); err != nil {
		return err
	}
	if err := rollBack(t.g.dir, &t.plan, false, t.g.noSync, nil); err != nil {
		return err
	}
	return removeJournal(t.g.dir, t.g.noSync)
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
