package store

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/objfile"
	"github.com/go-git/go-git/v5/plumbing/object"

	"ctrunner/snapshot"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// ReadData reads every document in full (every git blob, every zstd
	// delta chain), re-hashes it and checks its SHA-256 and the snapshot
	// ID. Without it Verify checks that every object is present, that its
	// header is sound and that the structure holds: cheap.
	ReadData bool
}

// Problem is one thing wrong with a store, as precisely as Verify can
// place it. Fields that do not apply are empty.
type Problem struct {
	Election snapshot.ElectionID `json:"election,omitempty"`
	// List is set for a problem of an archived election list.
	List     bool             `json:"election_list,omitempty"`
	Version  snapshot.Version `json:"version,omitempty"`
	Snapshot string           `json:"snapshot,omitempty"` // the snapshot ID
	Commit   string           `json:"commit,omitempty"`   // git commit or zstd record
	Document string           `json:"document,omitempty"`
	Object   string           `json:"object,omitempty"` // git hash or SHA-256
	Path     string           `json:"path,omitempty"`   // the file, relative to the store
	What     string           `json:"problem"`
}

// String renders p on one line, such as
//
//	election 80 version 13392 snapshot 1f3a9c2b7d10: Electiondata.json:
//	blob 4b82… (objects/4b/82…): missing
func (p Problem) String() string {
	var where []string
	switch {
	case p.List:
		where = append(where, "election list")
	case p.Election != "":
		where = append(where, "election "+string(p.Election))
	}
	if p.Version != 0 {
		where = append(where, "version "+p.Version.String())
	}
	if p.Snapshot != "" {
		where = append(where, "snapshot "+p.Snapshot[:min(12, len(p.Snapshot))])
	}
	if p.Commit != "" && p.Snapshot == "" {
		where = append(where, "commit "+p.Commit)
	}
	var b strings.Builder
	if len(where) > 0 {
		b.WriteString(strings.Join(where, " ") + ": ")
	}
	if p.Document != "" {
		b.WriteString(p.Document + ": ")
	}
	switch {
	case p.Object != "" && p.Path != "":
		fmt.Fprintf(&b, "object %s (%s): ", p.Object, p.Path)
	case p.Object != "":
		fmt.Fprintf(&b, "object %s: ", p.Object)
	case p.Path != "":
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.What)
	return b.String()
}

// VerifyReport is what Verify checked and what it found wrong.
type VerifyReport struct {
	Elections     int // elections with snapshots
	Snapshots     int // snapshots checked
	ElectionLists int // archived election lists checked
	Publications  int // publications checked
	Objects       int // distinct objects or object files checked
	Problems      []Problem
}

// verifier is implemented by every backend.
type verifier interface {
	verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error)
}

// Verify checks that every snapshot of s can be read back exactly: every
// election's log reaches its first snapshot, every object a snapshot needs
// is present and sound, and, with opts.ReadData, every document hashes to
// its recorded SHA-256 and every snapshot to its ID. Damage is reported
// in the report's Problems, one per snapshot and object affected; the
// error is for failures to run the check at all.
func Verify(ctx context.Context, s Store, opts VerifyOptions) (VerifyReport, error) {
	v, ok := s.(verifier)
	if !ok {
		return VerifyReport{}, fmt.Errorf("verifying: a %T store cannot be verified", s)
	}
	return v.verify(ctx, opts)
}

func (g *gitStore) verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error) {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return VerifyReport{}, errClosed
	}
	v := &gitVerifier{dir: g.dir, opts: opts, blobs: map[plumbing.Hash]blobCheck{},
		readers: map[plumbing.Hash]*packReader{},
		logged:  map[snapshot.ElectionID]map[plumbing.Hash]plumbing.Hash{}}
	defer v.close()
	if err := v.loadPacks(); err != nil {
		return VerifyReport{}, fmt.Errorf("verifying store %s: %w", g.name, err)
	}
	refs, err := v.refs()
	if err != nil {
		return VerifyReport{}, fmt.Errorf("verifying store %s: %w", g.name, err)
	}
	// The election branches sort before the publication branches, whose
	// check needs them.
	for _, ref := range refs {
		if err := v.branch(ctx, ref); err != nil {
			return v.report, err
		}
	}
	for _, ref := range refs {
		if err := v.publications(ctx, ref); err != nil {
			return v.report, err
		}
	}
	v.report.Objects = v.objects
	return v.report, nil
}

// gitVerifier is one Verify of a git store.
type gitVerifier struct {
	dir     string
	opts    VerifyOptions
	report  VerifyReport
	objects int

	packed  map[plumbing.Hash]plumbing.Hash // object → pack
	readers map[plumbing.Hash]*packReader
	blobs   map[plumbing.Hash]blobCheck
	// logged holds the commits met on each election's branch, and the
	// snapshot ID of each, for the check of publications.
	logged map[snapshot.ElectionID]map[plumbing.Hash]plumbing.Hash
}

// blobCheck is the outcome of checking a blob, kept because snapshots
// share most of their documents.
type blobCheck struct {
	sha256  string // with ReadData
	path    string
	problem string
}

func (v *gitVerifier) close() {
	for _, pr := range v.readers {
		pr.close()
	}
}

func (v *gitVerifier) add(p Problem) { v.report.Problems = append(v.report.Problems, p) }

// loadPacks reads the index of every pack and checks the packs' ends
// (with ReadData, their whole checksum).
func (v *gitVerifier) loadPacks() error {
	v.packed = map[plumbing.Hash]plumbing.Hash{}
	names, err := readDirNames(filepath.Join(v.dir, "objects", "pack"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, name := range names {
		h, ok := packName(name, ".pack")
		if !ok {
			continue
		}
		path := "objects/pack/" + name
		idx, err := readIndex(v.dir, h)
		if errors.Is(err, fs.ErrNotExist) {
			v.add(Problem{Path: path, What: "pack without index: go-git cannot read any " +
				"packed object (ctrunner pack repairs it)"})
			continue
		}
		if err != nil {
			v.add(Problem{Path: strings.TrimSuffix(path, ".pack") + ".idx", What: err.Error()})
			continue
		}
		full := filepath.Join(v.dir, filepath.FromSlash(path))
		if err := checkPackEnds(full, idx); err != nil {
			v.add(Problem{Path: path, What: err.Error()})
		} else if v.opts.ReadData {
			if err := checkPackSum(full); err != nil {
				v.add(Problem{Path: path, What: err.Error()})
			}
		}
		m, err := packedObjects(v.dir, []plumbing.Hash{h})
		if err != nil {
			return err
		}
		for o, p := range m {
			v.packed[o] = p
		}
	}
	return nil
}

// reloadPacks reads the list of packs again when it changed since it was
// last read, which happens when a pack runs during the verify, and
// reports whether it did. Problems found in packs are reported once.
func (v *gitVerifier) reloadPacks() bool {
	names, err := readDirNames(filepath.Join(v.dir, "objects", "pack"))
	if err != nil {
		return false
	}
	var packs []plumbing.Hash
	for _, name := range names {
		if h, ok := packName(name, ".pack"); ok {
			packs = append(packs, h)
		}
	}
	m, err := packedObjects(v.dir, packs)
	if err != nil || len(m) == len(v.packed) && sameKeys(m, v.packed) {
		return false
	}
	v.packed = m
	return true
}

func sameKeys(a, b map[plumbing.Hash]plumbing.Hash) bool {
	for k, x := range a {
		if y, ok := b[k]; !ok || x != y {
			return false
		}
	}
	return true
}

// checkPackSum checks the SHA-1 trailer of the pack file path against its
// content.
func checkPackSum(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	h := sha1.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, info.Size()-20)); err != nil {
		return err
	}
	var tail [20]byte
	if _, err := f.ReadAt(tail[:], info.Size()-20); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), tail[:]) {
		return fmt.Errorf("checksum mismatch: the content hashes to %x, the pack ends "+
			"with %x", h.Sum(nil), tail)
	}
	return nil
}

// refs lists the branches, reporting the broken ones.
func (v *gitVerifier) refs() ([]namedRef, error) {
	refs, err := listRefs(v.dir)
	if err != nil {
		return nil, err
	}
	lines, err := repairEmptyRefsReport(v.dir)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		v.add(Problem{Path: l.path, Election: l.election, What: l.what})
	}
	return refs, nil
}

// brokenRef is a ref file that names no commit.
type brokenRef struct {
	path     string
	election snapshot.ElectionID
	what     string
}

// repairEmptyRefsReport lists the ref files that name no commit.
func repairEmptyRefsReport(dir string) ([]brokenRef, error) {
	var out []brokenRef
	err := filepath.WalkDir(filepath.Join(dir, "refs"), func(path string, d fs.DirEntry,
		err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if _, perr := parseRefFile(b); perr != nil {
			rel, _ := filepath.Rel(dir, path)
			name := filepath.ToSlash(rel)
			id, _ := strings.CutPrefix(name, electionRefPrefix)
			if id == name {
				id = ""
			}
			out = append(out, brokenRef{name, snapshot.ElectionID(id), perr.Error()})
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return out, err
}

// branch checks every snapshot of one branch, newest first.
func (v *gitVerifier) branch(ctx context.Context, ref namedRef) error {
	base := Problem{}
	rest, isElection := strings.CutPrefix(ref.name, electionRefPrefix)
	switch {
	case isElection:
		base.Election = snapshot.ElectionID(rest)
		v.report.Elections++
	case ref.name == string(electionListRef):
		base.List = true
	default:
		return nil // not a branch of the store
	}
	for h := ref.tip; !h.IsZero(); {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := base
		p.Commit = h.String()
		c, path, what, err := v.readCommit(h)
		if what != "" {
			p.Object, p.Path = h.String(), path
			p.What = "commit " + what + "; the older snapshots cannot be reached"
			v.add(p)
			return nil
		}
		if err != nil {
			p.Object, p.Path, p.What = h.String(), path, "commit cannot be decoded: "+err.Error()
			v.add(p)
			return nil
		}
		meta, err := parseMessage(c.Message)
		if err != nil {
			p.What = "commit message: " + err.Error()
			v.add(p)
		}
		p.Version, p.Snapshot = meta.Version, c.TreeHash.String()
		if isElection && err == nil && meta.Election != base.Election {
			q := p
			q.What = fmt.Sprintf("snapshot of election %s on the branch of election %s",
				meta.Election, base.Election)
			v.add(q)
		}
		if base.List {
			v.report.ElectionLists++
		} else {
			v.report.Snapshots++
			if v.logged[base.Election] == nil {
				v.logged[base.Election] = map[plumbing.Hash]plumbing.Hash{}
			}
			v.logged[base.Election][h] = c.TreeHash
		}
		v.snapshot(p, c.TreeHash, meta.Documents)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	return nil
}

// snapshot checks the tree id of a snapshot and its documents against
// docs, the SHA-256 of each by name.
func (v *gitVerifier) snapshot(p Problem, id plumbing.Hash, docs map[string]string) {
	data, path, what := v.read(id, plumbing.TreeObject, true)
	if what != "" {
		p.Object, p.Path, p.What = id.String(), path, "tree "+what
		v.add(p)
		return
	}
	tree := &object.Tree{}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.TreeObject)
	obj.Write(data)
	if err := tree.Decode(obj); err != nil {
		p.Object, p.Path, p.What = id.String(), path, "tree cannot be decoded: "+err.Error()
		v.add(p)
		return
	}
	if len(tree.Entries) != len(docs) {
		q := p
		q.What = fmt.Sprintf("tree holds %d documents, the commit lists %d",
			len(tree.Entries), len(docs))
		v.add(q)
	}
	var files []snapshot.File
	whole := true
	for _, te := range tree.Entries {
		q := p
		q.Document, q.Object = te.Name, te.Hash.String()
		want, listed := docs[te.Name]
		if !listed || te.Mode != filemode.Regular {
			q.What = "the tree holds a document the commit does not list"
			v.add(q)
			whole = false
			continue
		}
		bc, raw := v.blob(te.Hash)
		q.Path = bc.path
		switch {
		case bc.problem != "":
			q.What = "blob " + bc.problem
			v.add(q)
			whole = false
		case v.opts.ReadData && bc.sha256 != want:
			q.What = fmt.Sprintf("SHA-256 %s, the commit records %s", bc.sha256, want)
			v.add(q)
			whole = false
		}
		files = append(files, snapshot.File{Name: te.Name, Data: raw})
	}
	if v.opts.ReadData && whole && len(files) == len(docs) {
		if got := snapshot.TreeHash(files); plumbing.Hash(got) != id {
			p.What = fmt.Sprintf("documents have snapshot ID %s", got)
			v.add(p)
		}
	}
}

// blob checks the blob h once, and returns its content with ReadData.
// Only the outcome is kept between snapshots: the content is read again
// when another snapshot needs it, rather than kept in memory.
func (v *gitVerifier) blob(h plumbing.Hash) (blobCheck, []byte) {
	bc, seen := v.blobs[h]
	if seen && (!v.opts.ReadData || bc.problem != "") {
		return bc, nil
	}
	data, path, what := v.read(h, plumbing.BlobObject, v.opts.ReadData)
	bc = blobCheck{path: path, problem: what}
	if what == "" && v.opts.ReadData {
		bc.sha256 = snapshot.SHA256(data)
	}
	v.blobs[h] = bc
	return bc, data
}

// read reads the object h, which should be a typ, from its loose file or
// its pack. With full, it reads the whole content and checks its hash;
// without, only its header. It returns the object's file, relative to the
// store, and what is wrong with it, or "".
func (v *gitVerifier) read(h plumbing.Hash, typ plumbing.ObjectType, full bool) (
	data []byte, path, what string) {
	hex := h.String()
	path = "objects/" + hex[:2] + "/" + hex[2:]
	b, err := os.ReadFile(filepath.Join(v.dir, filepath.FromSlash(path)))
	switch {
	case err == nil:
		v.objects++
		data, what := readLoose(b, h, typ, full)
		return data, path, what
	case !errors.Is(err, fs.ErrNotExist):
		return nil, path, err.Error()
	}
	pack, ok := v.packed[h]
	if !ok && v.reloadPacks() {
		// A pack running meanwhile may have moved the loose copy.
		return v.read(h, typ, full)
	}
	if !ok {
		return nil, path, "missing"
	}
	v.objects++
	pr := v.readers[pack]
	path = "objects/pack/pack-" + pack.String() + ".pack"
	if pr == nil {
		if pr, err = openPack(v.dir, pack); err != nil {
			if errors.Is(err, fs.ErrNotExist) && v.reloadPacks() {
				return v.read(h, typ, full) // merged into a new pack meanwhile
			}
			return nil, path, err.Error()
		}
		v.readers[pack] = pr
	}
	return pr.verifyObject(h, typ, full)
}

// readCommit reads the commit h in full: what says what is wrong with its
// object, or err that its content is not a commit.
func (v *gitVerifier) readCommit(h plumbing.Hash) (c *object.Commit, path, what string,
	err error) {
	data, path, what := v.read(h, plumbing.CommitObject, true)
	if what != "" {
		return nil, path, what, nil
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.CommitObject)
	obj.Write(data)
	c = &object.Commit{}
	return c, path, "", c.Decode(obj)
}

// readLoose checks the loose object file b of the object h.
func readLoose(b []byte, h plumbing.Hash, typ plumbing.ObjectType, full bool) ([]byte, string) {
	r, err := objfile.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, "damaged: " + err.Error()
	}
	// The reader's zlib state goes back to a pool on Close: close it once.
	data, what := readLooseContent(r, h, typ, full, int64(len(b)))
	r.Close()
	return data, what
}

func readLooseContent(r *objfile.Reader, h plumbing.Hash, typ plumbing.ObjectType, full bool,
	fileSize int64) ([]byte, string) {
	got, size, err := r.Header()
	if err != nil {
		return nil, "damaged header: " + err.Error()
	}
	if got != typ {
		return nil, fmt.Sprintf("is a %s, want a %s", got, typ)
	}
	if !full {
		return nil, ""
	}
	if size < 0 || size > fileSize*1032 { // deflate expands at most ~1032:1
		return nil, fmt.Sprintf("damaged header: size %d", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, "truncated or damaged: " + err.Error()
	}
	if n, err := r.Read(make([]byte, 1)); n > 0 {
		return nil, "longer than its header says"
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, "damaged: " + err.Error()
	}
	if sum := plumbing.ComputeHash(typ, data); sum != h {
		return nil, "hash mismatch: content hashes to " + sum.String()
	}
	return data, ""
}

// verifyObject checks the packed object h: its header, or with full its
// whole content and hash. A damaged pack may make go-git panic; that too
// is reported as damage.
func (pr *packReader) verifyObject(h plumbing.Hash, typ plumbing.ObjectType, full bool) (
	data []byte, path, what string) {
	path = pr.name
	defer func() {
		if e := recover(); e != nil {
			data, what = nil, fmt.Sprintf("damaged: %v", e)
		}
	}()
	off, err := pr.idx.FindOffset(h)
	if err == nil && off+20 >= pr.size {
		return nil, path, fmt.Sprintf("truncated: the pack ends at byte %d, before the "+
			"object at byte %d", pr.size, off)
	}
	if !full {
		if err == nil {
			_, err = pr.pf.GetSizeByOffset(off)
		}
		if err != nil {
			return nil, path, "damaged header: " + err.Error()
		}
		return nil, path, ""
	}
	got, data, err := pr.read(h)
	switch {
	case err != nil && strings.Contains(err.Error(), "hashes to"):
		return nil, path, "hash mismatch: " + err.Error()
	case err != nil:
		return nil, path, "damaged: " + err.Error()
	case got != typ:
		return nil, path, fmt.Sprintf("is a %s, want a %s", got, typ)
	}
	return data, path, ""
}

// publications checks the publications of a publication branch, newest
// first: each commit must be sound and publish a snapshot on its
// election's branch, with that snapshot's tree.
func (v *gitVerifier) publications(ctx context.Context, ref namedRef) error {
	rest, ok := strings.CutPrefix(ref.name, publishedRefPrefix)
	if !ok {
		return nil
	}
	id := snapshot.ElectionID(rest)
	for h := ref.tip; !h.IsZero(); {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := Problem{Election: id, Commit: h.String()}
		c, path, what, err := v.readCommit(h)
		if what != "" {
			p.Object, p.Path = h.String(), path
			p.What = "publication commit " + what + "; the older publications cannot be reached"
			v.add(p)
			return nil
		}
		var pub parsedPublication
		if err == nil {
			pub, err = parsePublication(c)
		}
		if err != nil {
			p.Object, p.Path, p.What = h.String(), path, "publication commit: "+err.Error()
			v.add(p)
			return nil
		}
		v.report.Publications++
		p.Snapshot = pub.id.String()
		tree, logged := v.logged[id][pub.snapshot]
		switch {
		case pub.election != id:
			p.What = fmt.Sprintf("publication of election %s on the branch of election %s",
				pub.election, id)
			v.add(p)
		case !logged:
			p.What = fmt.Sprintf("publishes commit %s, which is not on the branch of "+
				"election %s", pub.snapshot, id)
			v.add(p)
		case tree != plumbing.Hash(pub.id):
			p.What = fmt.Sprintf("publishes snapshot %s, but commit %s archives %s",
				pub.id.Short(), pub.snapshot, tree)
			v.add(p)
		}
		h = pub.prev
	}
	return nil
}
