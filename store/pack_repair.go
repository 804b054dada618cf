package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// repairPacks repairs, in the git repository dir, what an interrupted Pack
// or another program may have left in objects/pack and refs, and reports
// what it found, one line each:
//
//   - temporary packs and indexes (tmp_pack_*, tmp_idx_*): removed;
//   - an index whose pack is missing (a Pack killed between its two
//     renames): removed, as git and go-git ignore it anyway;
//   - a pack without its index, which makes go-git fail every lookup of a
//     packed object: indexed again if it reads through, else moved aside
//     as damaged-pack-….pack so that the other packs stay readable;
//   - a pack shorter than its index says, or whose checksum is wrong:
//     reported, left for ctrunner verify to detail;
//   - an empty ref file: removed if packed-refs holds the branch, else
//     reported.
//
// The caller holds the store lock: a Pack under way has temporary files.
func repairPacks(dir string, noSync bool) ([]string, error) {
	var report []string
	packDir := filepath.Join(dir, "objects", "pack")
	names, err := readDirNames(packDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checking packs: %w", err)
	}
	has := map[string]bool{}
	for _, name := range names {
		has[name] = true
	}
	changed := false
	temps := 0
	for _, name := range names {
		path := filepath.Join(packDir, name)
		switch {
		case strings.HasPrefix(name, packTempPrefix) || strings.HasPrefix(name, idxTempPrefix):
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return report, fmt.Errorf("removing temporary pack file: %w", err)
			}
			temps++
			changed = true
		case strings.HasSuffix(name, ".idx"):
			h, ok := packName(name, ".idx")
			if !ok || has["pack-"+h.String()+".pack"] {
				continue
			}
			if lost := objectsOnlyIn(dir, h, names); lost > 0 {
				// Not an interrupted pack: its pack was lost. Keep the index
				// as the record of what is gone.
				report = append(report, fmt.Sprintf("objects/pack/%s names %d objects that "+
					"are nowhere else: its pack is missing and they are lost (kept the index; "+
					"run ctrunner verify)", name, lost))
				continue
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return report, fmt.Errorf("removing index without pack: %w", err)
			}
			changed = true
			report = append(report, fmt.Sprintf("removed objects/pack/%s, "+
				"an index whose pack is missing (an interrupted pack)", name))
		case strings.HasSuffix(name, ".pack"):
			h, ok := packName(name, ".pack")
			if !ok {
				continue
			}
			var line string
			if has["pack-"+h.String()+".idx"] {
				line = checkPackFile(dir, h)
			} else {
				line, err = reindexPack(packDir, h, noSync)
				if err != nil {
					return report, err
				}
				changed = true
			}
			if line != "" {
				report = append(report, line)
			}
		}
	}
	if temps > 0 {
		report = append(report, fmt.Sprintf("removed %d temporary %s of an interrupted pack",
			temps, plural(temps, "file")))
	}
	if changed && !noSync {
		if err := syncDir(packDir); err != nil {
			return report, err
		}
	}
	refs, err := repairEmptyRefs(dir, noSync)
	return append(report, refs...), err
}

// reindexPack writes the missing index of the pack h in packDir, or moves
// the pack aside if it cannot be read through.
func reindexPack(packDir string, h plumbing.Hash, noSync bool) (string, error) {
	name := "pack-" + h.String() + ".pack"
	path := filepath.Join(packDir, name)
	idx, err := indexPack(path)
	if err == nil && plumbing.Hash(idx.PackfileChecksum) != h {
		err = fmt.Errorf("its checksum is %s", plumbing.Hash(idx.PackfileChecksum))
	}
	if err != nil {
		aside := filepath.Join(packDir, "damaged-"+name)
		if rerr := os.Rename(path, aside); rerr != nil {
			return "", fmt.Errorf("moving aside damaged pack %s: %w", name, rerr)
		}
		return fmt.Sprintf("moved objects/pack/%s, a pack without index that is damaged "+
			"(%v), to damaged-%s: objects only it held are missing", name, err, name), nil
	}

	var buf bytes.Buffer
	if _, err := idxfile.NewEncoder(&buf).Encode(idx); err != nil {
		return "", fmt.Errorf("indexing pack %s: %w", name, err)
	}
	tmp := filepath.Join(packDir, idxTempPrefix+h.String())
	if err := writeSynced(tmp, buf.Bytes(), 0o444, noSync); err != nil {
		return "", fmt.Errorf("indexing pack %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(packDir, "pack-"+h.String()+".idx")); err != nil {
		return "", fmt.Errorf("indexing pack %s: %w", name, err)
	}
	return fmt.Sprintf("indexed objects/pack/%s, a pack without index", name), nil
}

// checkPackFile checks cheaply that the pack h is whole: its header, its
// size against the largest offset of its index, and its checksum trailer
// against the index. It returns a line describing the damage, or "".
func checkPackFile(dir string, h plumbing.Hash) string {
	name := "objects/pack/pack-" + h.String() + ".pack"
	idx, err := readIndex(dir, h)
	if err != nil {
		return fmt.Sprintf("%s: its index is damaged: %v", name, err)
	}
	if err := checkPackEnds(filepath.Join(dir, filepath.FromSlash(name)), idx); err != nil {
		return fmt.Sprintf("%s: %v", name, err)
	}
	return ""
}

// checkPackEnds checks the header and the trailer of the pack file path
// against its index.
func checkPackEnds(path string, idx *idxfile.MemoryIndex) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	var maxOffset int64
	it, err := idx.EntriesByOffset()
	if err == nil {
		for {
			e, err := it.Next()
			if err != nil {
				break
			}
			maxOffset = max(maxOffset, int64(e.Offset))
		}
		it.Close()
	}
	if size < 32 || size <= maxOffset+20 {
		return fmt.Errorf("truncated: %d bytes, its index has an object at byte %d",
			size, maxOffset)
	}
	head := make([]byte, 12)
	if _, err := f.ReadAt(head, 0); err != nil {
		return err
	}
	if string(head[:4]) != "PACK" {
		return fmt.Errorf("not a pack (starts with %q)", head[:4])
	}
	var tail plumbing.Hash
	if _, err := f.ReadAt(tail[:], size-20); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if tail != plumbing.Hash(idx.PackfileChecksum) {
		return fmt.Errorf("damaged or truncated: ends with checksum %s, its index says %s",
			tail, plumbing.Hash(idx.PackfileChecksum))
	}
	return nil
}

// repairEmptyRefs removes the empty ref files that packed-refs covers and
// reports the others.
func repairEmptyRefs(dir string, noSync bool) ([]string, error) {
	var report []string
	packed, err := readPackedRefs(dir)
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(filepath.Join(dir, "refs"), func(path string, d fs.DirEntry,
		err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil || len(bytes.TrimSpace(b)) > 0 {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		name := plumbing.ReferenceName(filepath.ToSlash(rel))
		if h, ok := packed[name]; ok {
			if err := os.Remove(path); err != nil {
				return err
			}
			if !noSync {
				if err := syncDir(filepath.Dir(path)); err != nil {
					return err
				}
			}
			report = append(report, fmt.Sprintf("removed the empty ref file %s: "+
				"the branch is back at %s, as packed-refs says", name, h))
			return nil
		}
		report = append(report, fmt.Sprintf("%s is an empty file (an interrupted write "+
			"of another program): the branch's commits are unknown", name))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return report, fmt.Errorf("checking refs: %w", err)
	}
	return report, nil
}

// objectsOnlyIn counts the objects that the index of the pack h lists and
// that exist neither as loose objects nor in another complete pack among
// names (the files of objects/pack). An interrupted pack leaves none: its
// loose objects are removed only after the pack is complete.
func objectsOnlyIn(dir string, h plumbing.Hash, names []string) int {
	listed, err := packedObjects(dir, []plumbing.Hash{h})
	if err != nil {
		return 0 // an unreadable index records nothing
	}
	has := map[string]bool{}
	for _, name := range names {
		has[name] = true
	}
	var others []plumbing.Hash
	for _, name := range names {
		if p, ok := packName(name, ".pack"); ok && p != h && has["pack-"+p.String()+".idx"] {
			others = append(others, p)
		}
	}
	elsewhere, _ := packedObjects(dir, others)
	lost := 0
	for o := range listed {
		if _, ok := elsewhere[o]; ok {
			continue
		}
		if _, err := os.Lstat(loosePath(dir, o)); err != nil {
			lost++
		}
	}
	return lost
}
