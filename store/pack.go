package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Packing the git backend.
//
// go-git writes every object as a loose zlib file and never packs, so a
// night of fetches of a multi-megabyte document fills the store with
// nearly identical full copies. Pack gathers the loose objects that the
// branches reach into one new pack in objects/pack, in which each version
// of a document is a git delta against the next newer version of the same
// document in the same election (the newest is stored whole, so the
// version read most is the cheapest to read), and removes the loose
// copies once the pack is in place and reads back. Later packs add only
// the new loose objects; once there are more than maxPacks packs, the
// next Pack writes every reachable object into a single pack and removes
// the others.
//
// Crash safety: nothing a reader can see changes until a complete pack and
// its index, both synced, are renamed into place, the index first: git
// ignores an index whose pack is missing, and go-git lists packs by their
// .pack file and fails every lookup if one has no index. A crash before
// the renames leaves temporary files that git and go-git ignore and
// repairPacks removes. Loose objects are removed, and older packs are
// removed, only after every object of the new pack was read back from it
// and hashed; until then every object exists at least as a loose file or
// in an older pack, and after that in the new pack.

// Packer is implemented by stores that can pack their objects: the git
// backend. A zstd store keeps each document as a delta already and needs
// no packing.
type Packer interface {
	// Pack writes the store's loose objects into a pack and removes them.
	Pack(ctx context.Context) (PackReport, error)
}

// PackReport says what a Pack did.
type PackReport struct {
	// Packed is the number of objects written into the new pack; zero when
	// there was nothing to pack.
	Packed int
	// Pack is the name of the new pack, such as pack-1f3a….pack.
	Pack string
	// Removed is the number of loose objects removed.
	Removed int
	// Merged is the number of older packs merged into the new pack and
	// removed.
	Merged int
	// BytesBefore and BytesAfter are the bytes of the files under objects/
	// before and after.
	BytesBefore, BytesAfter int64
	// Repairs lists what repairPacks found and fixed, one line each.
	Repairs []string
}

// Settings of the packer, chosen by measurement (TestPackSizes).
const (
	// packMaxDepth bounds the delta chains of a pack: reading the oldest
	// version of a chain applies at most this many deltas. git gc
	// --aggressive uses 50.
	packMaxDepth = 50
	// maxPacks is how many packs a store keeps before Pack merges them
	// all into one.
	maxPacks = 8
	// DefaultAutoPackObjects is the number of loose objects above which
	// AutoPack packs: about 200 snapshots of a fetch.
	DefaultAutoPackObjects = 800
)

// Temporary files of a Pack in objects/pack. git uses the same prefixes
// for its own temporary packs and indexes, and ignores them.
const (
	packTempPrefix = "tmp_pack_"
	idxTempPrefix  = "tmp_idx_"
)

// Pack writes every loose object that a branch reaches into one new pack
// and removes the loose copies; see the comment at the top of pack.go. It
// takes the store lock as a write does, and first finishes or undoes an
// interrupted write and repairs what an interrupted Pack left.
func (g *gitStore) Pack(ctx context.Context) (PackReport, error) {
	r, err := g.pack(ctx)
	if err != nil {
		return r, fmt.Errorf("packing store %s: %w", g.name, err)
	}
	return r, nil
}

// AutoPacker is implemented by stores that can pack by themselves when
// enough loose objects have piled up (the git backend).
type AutoPacker interface {
	AutoPack(ctx context.Context, threshold int) (PackReport, bool, error)
}

// AutoPack packs the store when it holds about threshold loose objects or
// more, estimated from a sample of the object folders, as git gc --auto
// does. It is cheap when there is nothing to do. It takes the store lock
// itself: call it after a write has returned, never during one.
func (g *gitStore) AutoPack(ctx context.Context, threshold int) (PackReport, bool, error) {
	if estimateLoose(g.dir) < threshold {
		return PackReport{}, false, nil
	}
	r, err := g.Pack(ctx)
	return r, err == nil, err
}

// estimateLoose estimates the loose objects of the repository dir from
// 16 of its 256 object folders.
func estimateLoose(dir string) int {
	n := 0
	for i := 0; i < 256; i += 17 {
		names, _ := readDirNames(filepath.Join(dir, "objects", fmt.Sprintf("%02x", i)))
		for _, name := range names {
			if isHex(name, 38) {
				n++
			}
		}
	}
	return n * 16
}

func (g *gitStore) pack(ctx context.Context) (PackReport, error) {
	if err := ctx.Err(); err != nil {
		return PackReport{}, err
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return PackReport{}, errClosed
	}
	select {
	case g.writing <- struct{}{}:
		defer func() { <-g.writing }()
	case <-ctx.Done():
		return PackReport{}, ctx.Err()
	}
	lock, err := lockStore(ctx, g.dir, g.name, g.lockWait)
	if err != nil {
		return PackReport{}, err
	}
	defer lock.unlock()

	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return PackReport{}, errClosed
	}
	_, err = recoverWrite(g.dir, g.noSync, nil)
	var repairs []string
	if err == nil {
		repairs, err = repairPacks(g.dir, g.noSync)
	}
	g.mu.Unlock()
	if err != nil {
		return PackReport{}, err
	}

	p := &packer{g: g, ctx: ctx, dir: g.dir}
	defer p.cleanup()
	r, err := p.run()
	r.Repairs = repairs
	return r, err
}

// packer is one Pack in progress.
type packer struct {
	g   *gitStore
	ctx context.Context
	dir string

	st      *filesystem.Storage // private to the packer
	objects map[plumbing.Hash]*packObject
	// chains lists the objects that should delta against each other,
	// newest first: the blobs of one document of one election, the trees
	// of one election, its commits.
	chains [][]plumbing.Hash
	packed map[plumbing.Hash]plumbing.Hash // objects in older packs → pack

	temps     []string // temporary files that may exist
	installed string   // the new pack's path, once renamed into place
	verified  bool     // the new pack read back
}

// packObject is an object a branch reaches.
type packObject struct {
	typ   plumbing.ObjectType
	size  int64
	loose bool
	base  plumbing.Hash // the delta base chosen for the new pack
}

// step marks the start of a step of the Pack: it fails if the context is
// done or a test injects a fault.
func (p *packer) step(name string) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	if p.g.fault != nil {
		return p.g.fault("pack: " + name)
	}
	return nil
}

func (p *packer) run() (PackReport, error) {
	var r PackReport
	var err error
	if r.BytesBefore, err = dirBytes(filepath.Join(p.dir, "objects")); err != nil {
		return r, err
	}
	p.st = filesystem.NewStorageWithOptions(osfs.New(p.dir, osfs.WithBoundOS()),
		cache.NewObjectLRU(objectCacheSize), filesystem.Options{})
	defer p.st.Close()

	if err := p.step("list objects"); err != nil {
		return r, err
	}
	packs, err := listPacks(p.dir)
	if err != nil {
		return r, err
	}
	if p.packed, err = packedObjects(p.dir, packs); err != nil {
		return r, err
	}
	if err := p.walk(); err != nil {
		return r, err
	}

	// Which objects go into the new pack: the loose ones not packed yet,
	// or every one when the packs are to be merged.
	merge := len(packs) >= maxPacks
	want := map[plumbing.Hash]bool{}
	var loose []plumbing.Hash
	for h, o := range p.objects {
		_, inPack := p.packed[h]
		if merge || (o.loose && !inPack) {
			want[h] = true
		}
		if o.loose {
			loose = append(loose, h)
		}
	}
	slices.SortFunc(loose, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	if len(want) == 0 && len(loose) == 0 {
		r.BytesAfter = r.BytesBefore
		return r, nil
	}

	if len(want) > 0 {
		order := p.plan(want)
		name, err := p.writePack(order)
		if err != nil {
			return r, err
		}
		r.Pack, r.Packed = name, len(order)
	}

	// Loose objects that an older pack already holds (a Pack interrupted
	// while removing them) are removed once read back from that pack.
	if err := p.step("check older packs"); err != nil {
		return r, err
	}
	if err := p.checkPacked(loose, want); err != nil {
		return r, err
	}
	if r.Removed, err = p.removeLoose(loose); err != nil {
		return r, err
	}
	if merge && r.Pack != "" {
		for _, h := range packs {
			if "pack-"+h.String()+".pack" == r.Pack {
				continue
			}
			if err := p.removePack(h); err != nil {
				return r, err
			}
			r.Merged++
		}
	}
	r.BytesAfter, err = dirBytes(filepath.Join(p.dir, "objects"))
	return r, err
}

// walk finds every object a branch reaches, and groups them in chains.
func (p *packer) walk() error {
	refs, err := listRefs(p.dir)
	if err != nil {
		return err
	}
	p.objects = map[plumbing.Hash]*packObject{}
	chainOf := map[string]int{}
	add := func(key string, h plumbing.Hash) {
		i, ok := chainOf[key]
		if !ok {
			i = len(p.chains)
			chainOf[key] = i
			p.chains = append(p.chains, nil)
		}
		p.chains[i] = append(p.chains[i], h)
	}
	for i := 0; i < len(refs); i++ {
		ref := refs[i]
		tip, err := p.peel(ref, add)
		if err != nil {
			return err
		}
		for h := tip; !h.IsZero(); {
			if _, seen := p.objects[h]; seen {
				break
			}
			c, err := object.GetCommit(p.st, h)
			if err != nil {
				return fmt.Errorf("reading commit %s of %s: %w (run ctrunner verify)",
					h, ref.name, err)
			}
			if err := p.note(h, plumbing.CommitObject); err != nil {
				return err
			}
			add(ref.name+" commits", h)
			if err := p.walkTree(ref.name, "", c.TreeHash, add); err != nil {
				return fmt.Errorf("reading tree of commit %s of %s: %w (run ctrunner verify)",
					h, ref.name, err)
			}
			h = plumbing.ZeroHash
			if len(c.ParentHashes) > 0 {
				h = c.ParentHashes[0]
			}
			for _, extra := range c.ParentHashes[min(1, len(c.ParentHashes)):] {
				refs = append(refs, namedRef{ref.name, extra})
			}
		}
	}
	return nil
}

// peel follows the tags that plain git may have added (git tag -a) to the
// commit they name, noting each tag object so that it is packed too. It
// returns the zero hash when the ref leads to no commit (a tag of a tree
// or a blob, whose object is then noted as it is).
func (p *packer) peel(ref namedRef, add func(key string, h plumbing.Hash)) (plumbing.Hash, error) {
	h := ref.tip
	for {
		obj, err := p.st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return h, fmt.Errorf("reading object %s that %s names: %w (run ctrunner verify)",
				h, ref.name, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(p.st, obj)
			if err != nil {
				return h, fmt.Errorf("reading tag %s of %s: %w", h, ref.name, err)
			}
			if _, seen := p.objects[h]; !seen {
				if err := p.note(h, plumbing.TagObject); err != nil {
					return h, err
				}
				add(ref.name+" tags", h)
			}
			h = tag.Target
		case plumbing.TreeObject:
			return plumbing.ZeroHash, p.walkTree(ref.name, "", h, add)
		default:
			if _, seen := p.objects[h]; !seen {
				if err := p.note(h, obj.Type()); err != nil {
					return h, err
				}
				add(ref.name+" objects", h)
			}
			return plumbing.ZeroHash, nil
		}
	}
}

// walkTree notes the tree h, whose path in its commit is prefix, and
// everything in it.
func (p *packer) walkTree(branch, prefix string, h plumbing.Hash,
	add func(key string, h plumbing.Hash)) error {
	if _, seen := p.objects[h]; seen {
		return nil
	}
	t, err := object.GetTree(p.st, h)
	if err != nil {
		return err
	}
	if err := p.note(h, plumbing.TreeObject); err != nil {
		return err
	}
	add(branch+" tree "+prefix, h)
	for _, e := range t.Entries {
		switch {
		case e.Mode == filemode.Dir:
			if err := p.walkTree(branch, prefix+e.Name+"/", e.Hash, add); err != nil {
				return err
			}
		case e.Mode == filemode.Submodule:
		default:
			if _, seen := p.objects[e.Hash]; seen {
				continue
			}
			if err := p.note(e.Hash, plumbing.BlobObject); err != nil {
				return fmt.Errorf("%s%s: %w", prefix, e.Name, err)
			}
			add(branch+" blob "+prefix+e.Name, e.Hash)
		}
	}
	return nil
}

// note records the object h of type typ, its size and whether it is loose.
func (p *packer) note(h plumbing.Hash, typ plumbing.ObjectType) error {
	size, err := p.st.EncodedObjectSize(h)
	if err != nil {
		return fmt.Errorf("object %s: %w", h, err)
	}
	_, err = os.Lstat(loosePath(p.dir, h))
	p.objects[h] = &packObject{typ: typ, size: size, loose: err == nil}
	return nil
}

// loosePath returns the file of the loose object h in the repository dir.
func loosePath(dir string, h plumbing.Hash) string {
	hex := h.String()
	return filepath.Join(dir, "objects", hex[:2], hex[2:])
}

// plan chooses a delta base for each object of want and returns them in
// the order the packer reads them: chain by chain, newest first. Each
// object deltas against the next newer object of its chain in want,
// unless that one is already packMaxDepth deltas deep.
func (p *packer) plan(want map[plumbing.Hash]bool) []plumbing.Hash {
	var order []plumbing.Hash
	inOrder := map[plumbing.Hash]bool{}
	for _, chain := range p.chains {
		var prev plumbing.Hash
		depth := 0
		for _, h := range chain {
			if !want[h] || inOrder[h] {
				continue
			}
			inOrder[h] = true
			order = append(order, h)
			o := p.objects[h]
			if !prev.IsZero() && depth < packMaxDepth {
				o.base = prev
				depth++
			} else {
				depth = 0
			}
			prev = h
		}
	}
	return order
}

// writePack writes the objects of order into a new pack and its index,
// renames both into place and reads every object back from the pack. It
// returns the pack's file name.
func (p *packer) writePack(order []plumbing.Hash) (string, error) {
	packDir := filepath.Join(p.dir, "objects", "pack")
	if err := os.MkdirAll(packDir, 0o777); err != nil {
		return "", err
	}
	if err := p.step("write pack"); err != nil {
		return "", err
	}
	tmpPack, sum, err := p.encode(packDir, order)
	if err != nil {
		return "", fmt.Errorf("writing pack: %w", err)
	}
	if err := p.step("write index"); err != nil {
		return "", err
	}
	tmpIdx, err := p.writeIndex(packDir, tmpPack, sum, order)
	if err != nil {
		return "", fmt.Errorf("writing pack index: %w", err)
	}

	base := filepath.Join(packDir, "pack-"+sum.String())
	if _, err := os.Stat(base + ".pack"); err == nil {
		// The same objects were packed before and left loose by an
		// interrupted Pack; that pack is read back instead.
		p.removeTemps()
	} else {
		// The index first: a pack without its index breaks go-git, an
		// index without its pack is ignored by git and go-git.
		if err := p.step("rename index"); err != nil {
			return "", err
		}
		if err := os.Rename(tmpIdx, base+".idx"); err != nil {
			return "", err
		}
		if err := p.syncDir(packDir); err != nil {
			return "", err
		}
		if err := p.step("rename pack"); err != nil {
			return "", err
		}
		if err := os.Rename(tmpPack, base+".pack"); err != nil {
			return "", err
		}
		p.installed = base + ".pack"
		p.temps = nil
		if err := p.step("sync pack folder"); err != nil {
			return "", err
		}
		if err := p.syncDir(packDir); err != nil {
			return "", err
		}
	}

	// This Store's readers find the objects in the new pack from now on.
	p.g.mu.Lock()
	p.g.st.ObjectStorage.Reindex()
	p.g.mu.Unlock()

	if err := p.step("read back"); err != nil {
		return "", err
	}
	if err := p.readBack(sum, order); err != nil {
		return "", fmt.Errorf("reading back the new pack: %w", err)
	}
	p.verified = true
	return "pack-" + sum.String() + ".pack", nil
}

// encode writes the pack of order to a temporary file in packDir, synced,
// and returns the file and the pack's checksum, which names it.
func (p *packer) encode(packDir string, order []plumbing.Hash) (string, plumbing.Hash, error) {
	path, f, err := p.createTemp(packDir, packTempPrefix)
	if err != nil {
		return "", plumbing.ZeroHash, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	src := &packSource{Storage: p.st, p: p}
	// A window of 1 makes the encoder search no deltas of its own: it
	// takes the deltas packSource offers.
	sum, err := packfile.NewEncoder(bw, src, false).Encode(order, 1)
	if err == nil {
		err = src.err
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = p.step("sync pack")
	}
	if err == nil && !p.g.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return path, sum, err
}

// writeIndex indexes the temporary pack tmpPack, checks that it holds
// exactly the objects of order, and writes the index to a temporary file,
// synced.
func (p *packer) writeIndex(packDir, tmpPack string, sum plumbing.Hash,
	order []plumbing.Hash) (string, error) {
	idx, err := indexPack(tmpPack)
	if err != nil {
		return "", err
	}
	if idx.PackfileChecksum != sum {
		return "", fmt.Errorf("pack checksum %s, encoder said %s",
			plumbing.Hash(idx.PackfileChecksum), sum)
	}
	n, _ := idx.Count()
	if n != int64(len(order)) {
		return "", fmt.Errorf("pack holds %d objects, want %d", n, len(order))
	}
	for _, h := range order {
		if ok, _ := idx.Contains(h); !ok {
			return "", fmt.Errorf("pack lacks object %s", h)
		}
	}

	path, f, err := p.createTemp(packDir, idxTempPrefix)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriter(f)
	_, err = idxfile.NewEncoder(bw).Encode(idx)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = p.step("sync index")
	}
	if err == nil && !p.g.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return path, err
}

// indexPack reads the pack file path through and returns its index.
func indexPack(path string) (*idxfile.MemoryIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := new(idxfile.Writer)
	parser, err := packfile.NewParser(packfile.NewScanner(f), w)
	if err != nil {
		return nil, err
	}
	if _, err := parser.Parse(); err != nil {
		return nil, err
	}
	return w.Index()
}

// createTemp creates a new temporary file in dir, read-only as git makes
// packs, and records it for cleanup.
func (p *packer) createTemp(dir, prefix string) (string, *os.File, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, prefix+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", nil, err
	}
	p.temps = append(p.temps, path)
	return path, f, nil
}

// readBack reads every object of order from the pack sum, through a
// reader of its own, and checks its type and hash.
func (p *packer) readBack(sum plumbing.Hash, order []plumbing.Hash) error {
	pr, err := openPack(p.dir, sum)
	if err != nil {
		return err
	}
	defer pr.close()
	for _, h := range order {
		if err := pr.check(h, p.objects[h].typ); err != nil {
			return err
		}
	}
	return nil
}

// checkPacked reads back from the older packs each loose object of loose
// that the new pack does not hold, before its loose copy is removed.
func (p *packer) checkPacked(loose []plumbing.Hash, inNew map[plumbing.Hash]bool) error {
	readers := map[plumbing.Hash]*packReader{}
	defer func() {
		for _, pr := range readers {
			pr.close()
		}
	}()
	for _, h := range loose {
		if inNew[h] && p.verified {
			continue
		}
		pack, ok := p.packed[h]
		if !ok {
			return fmt.Errorf("object %s is in no pack", h)
		}
		pr := readers[pack]
		if pr == nil {
			var err error
			if pr, err = openPack(p.dir, pack); err != nil {
				return err
			}
			readers[pack] = pr
		}
		if err := pr.check(h, p.objects[h].typ); err != nil {
			return err
		}
	}
	return nil
}

// removeLoose removes the loose objects of loose, then the object folders
// left empty, and makes the removals durable.
func (p *packer) removeLoose(loose []plumbing.Hash) (int, error) {
	dirs := map[string]bool{}
	n := 0
	for _, h := range loose {
		if err := p.step("remove loose object"); err != nil {
			return n, err
		}
		path := loosePath(p.dir, h)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("removing packed loose object: %w", err)
		}
		dirs[filepath.Dir(path)] = true
		n++
	}
	objects := filepath.Join(p.dir, "objects")
	for d := range dirs {
		err := os.Remove(d)
		switch {
		case err == nil || errors.Is(err, fs.ErrNotExist):
		case errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			if err := p.syncDir(d); err != nil {
				return n, err
			}
		default:
			return n, fmt.Errorf("removing empty object folder: %w", err)
		}
	}
	if err := p.step("sync objects folder"); err != nil {
		return n, err
	}
	return n, p.syncDir(objects)
}

// removePack removes an older pack, merged into the new one: the pack
// first, so that go-git never lists a pack without its index.
func (p *packer) removePack(h plumbing.Hash) error {
	if err := p.step("remove older pack"); err != nil {
		return err
	}
	base := filepath.Join(p.dir, "objects", "pack", "pack-"+h.String())
	for _, ext := range []string{".pack", ".idx", ".rev"} {
		if err := os.Remove(base + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing merged pack: %w", err)
		}
	}
	p.g.mu.Lock()
	p.g.st.ObjectStorage.Reindex()
	p.g.mu.Unlock()
	return p.syncDir(filepath.Dir(base))
}

func (p *packer) syncDir(dir string) error {
	if p.g.noSync {
		return nil
	}
	return syncDir(dir)
}

// cleanup removes the temporary files of a Pack that failed, and the new
// pack if it was renamed into place but did not read back. A Pack that a
// test makes die leaves everything, as a killed process would.
func (p *packer) cleanup() {
	if p.g.dieOnFault {
		return
	}
	p.removeTemps()
	if p.installed != "" && !p.verified {
		os.Remove(p.installed)
		os.Remove(strings.TrimSuffix(p.installed, ".pack") + ".idx")
		p.g.mu.Lock()
		p.g.st.ObjectStorage.Reindex()
		p.g.mu.Unlock()
	}
}

func (p *packer) removeTemps() {
	for _, path := range p.temps {
		os.Remove(path)
	}
	p.temps = nil
}

// packSource is the object storage the pack encoder reads. It offers the
// encoder, for each object, the delta the packer planned, and reads whole
// objects only when the encoder writes them.
type packSource struct {
	*filesystem.Storage
	p   *packer
	err error // the first failure to make a delta

	// recent keeps the last objects read: each object of a chain is the
	// base of the next.
	recent [3]struct {
		h   plumbing.Hash
		raw []byte
	}
}

func (s *packSource) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (
	plumbing.EncodedObject, error) {
	o, ok := s.p.objects[h]
	if !ok {
		return s.Storage.EncodedObject(t, h)
	}
	return &lazyObject{h: h, typ: o.typ, size: o.size, src: s.Storage}, nil
}

// DeltaObject returns the planned delta for h, or h whole if it has no
// base or the delta saves too little.
func (s *packSource) DeltaObject(t plumbing.ObjectType, h plumbing.Hash) (
	plumbing.EncodedObject, error) {
	o, ok := s.p.objects[h]
	if !ok || o.base.IsZero() {
		return s.EncodedObject(t, h)
	}
	base, err := s.raw(o.base)
	if err != nil {
		return nil, err
	}
	target, err := s.raw(h)
	if err != nil {
		return nil, err
	}
	// go-git refuses deltas against an empty base; tiny ones gain nothing.
	var delta []byte
	if len(base) >= deltaBlock && len(target) >= deltaBlock {
		delta = gitDelta(base, target)
	}
	if delta == nil || int64(len(delta)) > o.size/2 {
		o.base = plumbing.ZeroHash
		return s.EncodedObject(t, h)
	}
	d := &deltaToPack{base: o.base, hash: h, size: o.size}
	d.SetType(plumbing.OFSDeltaObject)
	d.Write(delta)
	return d, nil
}

// raw returns the content of the object h.
func (s *packSource) raw(h plumbing.Hash) ([]byte, error) {
	for _, r := range s.recent {
		if r.h == h {
			return r.raw, nil
		}
	}
	o, err := s.Storage.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", h, err)
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", h, err)
	}
	defer rd.Close()
	raw, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", h, err)
	}
	copy(s.recent[1:], s.recent[:])
	s.recent[0].h, s.recent[0].raw = h, raw
	return raw, nil
}

// lazyObject is an object whose content is read when the encoder asks.
type lazyObject struct {
	h    plumbing.Hash
	typ  plumbing.ObjectType
	size int64
	src  *filesystem.Storage
}

func (o *lazyObject) Hash() plumbing.Hash             { return o.h }
func (o *lazyObject) Type() plumbing.ObjectType       { return o.typ }
func (o *lazyObject) SetType(plumbing.ObjectType)     {}
func (o *lazyObject) Size() int64                     { return o.size }
func (o *lazyObject) SetSize(int64)                   {}
func (o *lazyObject) Writer() (io.WriteCloser, error) { return nil, errors.New("read-only") }

func (o *lazyObject) Reader() (io.ReadCloser, error) {
	obj, err := o.src.EncodedObject(o.typ, o.h)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", o.h, err)
	}
	return obj.Reader()
}

// deltaToPack is a delta the packer computed.
type deltaToPack struct {
	plumbing.MemoryObject
	base, hash plumbing.Hash
	size       int64
}

func (d *deltaToPack) BaseHash() plumbing.Hash   { return d.base }
func (d *deltaToPack) ActualHash() plumbing.Hash { return d.hash }
func (d *deltaToPack) ActualSize() int64         { return d.size }

// namedRef is a branch and its commit.
type namedRef struct {
	name string
	tip  plumbing.Hash
}

// listRefs lists the branches of the repository dir, loose and packed,
// sorted by name. A ref file that names no commit is skipped: what only
// it reaches stays loose.
func listRefs(dir string) ([]namedRef, error) {
	seen := map[string]bool{}
	var refs []namedRef
	root := filepath.Join(dir, "refs")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		name := filepath.ToSlash(rel)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		seen[name] = true
		if h, err := parseRefFile(b); err == nil {
			refs = append(refs, namedRef{name, h})
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing branches: %w", err)
	}
	packed, err := readPackedRefs(dir)
	if err != nil {
		return nil, err
	}
	for name, h := range packed {
		if !seen[string(name)] {
			refs = append(refs, namedRef{string(name), h})
		}
	}
	slices.SortFunc(refs, func(a, b namedRef) int { return strings.Compare(a.name, b.name) })
	return refs, nil
}

// listPacks lists the packs of the repository dir that have an index.
func listPacks(dir string) ([]plumbing.Hash, error) {
	names, err := readDirNames(filepath.Join(dir, "objects", "pack"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing packs: %w", err)
	}
	var packs []plumbing.Hash
	for _, name := range names {
		h, ok := packName(name, ".pack")
		if !ok || !slices.Contains(names, "pack-"+h.String()+".idx") {
			continue
		}
		packs = append(packs, h)
	}
	slices.SortFunc(packs, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	return packs, nil
}

// packName parses a file name pack-HASH followed by ext.
func packName(name, ext string) (plumbing.Hash, bool) {
	rest, ok := strings.CutPrefix(name, "pack-")
	if !ok {
		return plumbing.ZeroHash, false
	}
	rest, ok = strings.CutSuffix(rest, ext)
	if !ok || !isHex(rest, 40) {
		return plumbing.ZeroHash, false
	}
	return plumbing.NewHash(rest), true
}

// packedObjects maps every object the packs hold to its pack.
func packedObjects(dir string, packs []plumbing.Hash) (map[plumbing.Hash]plumbing.Hash, error) {
	m := map[plumbing.Hash]plumbing.Hash{}
	for _, pack := range packs {
		idx, err := readIndex(dir, pack)
		if err != nil {
			return nil, err
		}
		it, err := idx.Entries()
		if err != nil {
			return nil, err
		}
		for {
			e, err := it.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			m[e.Hash] = pack
		}
		it.Close()
	}
	return m, nil
}

// readIndex reads the index of the pack h of the repository dir.
func readIndex(dir string, h plumbing.Hash) (*idxfile.MemoryIndex, error) {
	path := filepath.Join(dir, "objects", "pack", "pack-"+h.String()+".idx")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(bufio.NewReader(f)).Decode(idx); err != nil {
		return nil, fmt.Errorf("reading objects/pack/%s: %w", filepath.Base(path), err)
	}
	if plumbing.Hash(idx.PackfileChecksum) != h {
		return nil, fmt.Errorf("objects/pack/%s is the index of another pack (%s)",
			filepath.Base(path), plumbing.Hash(idx.PackfileChecksum))
	}
	return idx, nil
}

// packReader reads objects from one pack, bypassing go-git's storage.
type packReader struct {
	name string // objects/pack/pack-….pack
	idx  *idxfile.MemoryIndex
	size int64 // of the pack file
	pf   *packfile.Packfile
}

// openPack opens the pack h of the repository dir.
func openPack(dir string, h plumbing.Hash) (*packReader, error) {
	idx, err := readIndex(dir, h)
	if err != nil {
		return nil, err
	}
	packDir := filepath.Join(dir, "objects", "pack")
	name := "pack-" + h.String() + ".pack"
	bfs := osfs.New(packDir, osfs.WithBoundOS())
	f, err := bfs.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := bfs.Stat(name)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &packReader{
		name: "objects/pack/" + name,
		idx:  idx,
		size: info.Size(),
		pf:   packfile.NewPackfile(idx, bfs, f, 0),
	}, nil
}

func (pr *packReader) close() { pr.pf.Close() }

// read returns the type and content of the object h, and checks that the
// content hashes to h.
func (pr *packReader) read(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	o, err := pr.pf.Get(h)
	if err != nil {
		return 0, nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return 0, nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return 0, nil, err
	}
	if got := plumbing.ComputeHash(o.Type(), data); got != h {
		return 0, nil, fmt.Errorf("content hashes to %s", got)
	}
	return o.Type(), data, nil
}

// check reads the object h back and checks its type too.
func (pr *packReader) check(h plumbing.Hash, typ plumbing.ObjectType) error {
	got, _, err := pr.read(h)
	if err == nil && got != typ {
		err = fmt.Errorf("is a %s, want a %s", got, typ)
	}
	if err != nil {
		return fmt.Errorf("object %s in %s: %w", h, pr.name, err)
	}
	return nil
}

// dirBytes returns the bytes of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}
