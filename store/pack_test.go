package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"ctrunner/snapshot"
)

func TestGitDelta(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return b
	}
	big := random(300 << 10)
	edited := bytes.Clone(big)
	for range 200 {
		i := rng.IntN(len(edited) - 10)
		edited = append(edited[:i:i], append([]byte("12345"), edited[i+3:]...)...)
	}
	tests := []struct {
		name     string
		src, tgt []byte
	}{
		{"empty target", []byte("hello"), nil},
		{"same", big, big},
		{"short", []byte("abc"), []byte("abd")},
		{"edited", big, edited},
		{"unrelated", random(5000), random(7000)},
		{"repeated", bytes.Repeat([]byte("0123456789abcdef"), 10000),
			bytes.Repeat([]byte("0123456789abcdeX"), 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delta := gitDelta(tt.src, tt.tgt)
			got, err := packfile.PatchDelta(tt.src, delta)
			if err != nil || !bytes.Equal(got, tt.tgt) {
				t.Fatalf("PatchDelta(src, gitDelta(src, tgt)) = %d bytes, %v; want the %d "+
					"bytes of tgt", len(got), err, len(tt.tgt))
			}
		})
	}
	if d := gitDelta(big, edited); len(d) > 200*40 {
		t.Errorf("delta of 200 small edits = %d bytes, want at most %d", len(d), 200*40)
	}
}

// packFixture archives a few snapshots of two elections and an election
// list, with versions of a large document, into a new git store.
func packFixture(t *testing.T) (*gitStore, string) {
	t.Helper()
	g, dir := openGit(t)
	g.noSync = true
	big := electionDataVersions(t, 3)
	ctx := context.Background()
	if _, err := g.PutElectionList(ctx, []byte(`{"elections":[]}`), t0, "http://x/"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		files := append(docs(int64(i), "a"), snapshot.File{Name: "big.json", Data: big[i]})
		mustPut(t, g, snap("80", int64(i+1), t0.Add(time.Duration(i)*time.Minute), files...))
		mustPut(t, g, snap("81", int64(i+1), t0.Add(time.Duration(i)*time.Minute),
			docs(int64(i), fmt.Sprint("b", i))...))
	}
	return g, dir
}

// allEntries returns every snapshot of the store.
func allEntries(t *testing.T, s Store) []Entry {
	t.Helper()
	ids, err := s.Elections()
	if err != nil {
		t.Fatal(err)
	}
	var all []Entry
	for _, id := range ids {
		all = append(all, mustLog(t, s, id)...)
	}
	return all
}

// checkLoads loads every snapshot of the store in dir through a new Store,
// and the election list.
func checkLoads(t *testing.T, what, dir string) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("%s: Open = %v", what, err)
	}
	defer s.Close()
	checkStoreLoads(t, what, s)
}

func checkStoreLoads(t *testing.T, what string, s Store) {
	t.Helper()
	entries := allEntries(t, s)
	if len(entries) == 0 {
		t.Fatalf("%s: no snapshots", what)
	}
	for _, e := range entries {
		if _, err := s.Load(e); err != nil {
			t.Fatalf("%s: Load = %v", what, err)
		}
	}
	if _, _, err := s.ElectionList(); err != nil {
		t.Fatalf("%s: ElectionList = %v", what, err)
	}
}

// looseObjects lists the loose object files of the repository dir.
func looseObjects(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "objects", "[0-9a-f][0-9a-f]", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, _ := readDirNames(filepath.Join(dir, "objects", "pack"))
	return names
}

func mustPack(t *testing.T, g *gitStore) PackReport {
	t.Helper()
	r, err := g.Pack(context.Background())
	if err != nil {
		t.Fatalf("Pack = %v", err)
	}
	return r
}

func TestPack(t *testing.T) {
	t.Parallel()
	g, dir := packFixture(t)
	before := len(looseObjects(t, dir))

	r := mustPack(t, g)
	if r.Packed != before || r.Removed != before || r.BytesAfter >= r.BytesBefore {
		t.Errorf("Pack = %+v, want %d objects packed and removed, fewer bytes", r, before)
	}
	if loose := looseObjects(t, dir); len(loose) != 0 {
		t.Errorf("after Pack, loose objects %v remain", loose)
	}
	if got := packFiles(t, dir); len(got) != 2 {
		t.Errorf("objects/pack holds %v, want one pack and its index", got)
	}
	checkStoreLoads(t, "the packing Store", g)
	checkLoads(t, "a new Store", dir)
	if haveGit() {
		checkGitClean(t, dir)
	}

	// The packing Store goes on writing; the next Pack adds only the new
	// objects.
	mustPut(t, g, snap("80", 10, t0.Add(time.Hour), docs(10, "new")...))
	r = mustPack(t, g)
	if r.Packed != 4 || r.Removed != 4 { // two documents, a tree, a commit
		t.Errorf("second Pack = %+v, want 4 objects packed and removed", r)
	}
	if r = mustPack(t, g); r.Packed != 0 || r.Removed != 0 {
		t.Errorf("Pack with nothing loose = %+v, want nothing done", r)
	}
	checkStoreLoads(t, "the packing Store after two packs", g)

	// Past maxPacks packs, the next Pack merges them all.
	merged := 0
	for i := 0; merged == 0 && i < maxPacks; i++ {
		mustPut(t, g, snap("81", int64(20+i), t0.Add(time.Duration(2+i)*time.Hour),
			docs(int64(20+i), fmt.Sprint("m", i))...))
		merged = mustPack(t, g).Merged
	}
	if merged != maxPacks {
		t.Errorf("Pack merged %d packs, want %d", merged, maxPacks)
	}
	if got := len(packFiles(t, dir)); got != 2 {
		t.Errorf("after merging, objects/pack holds %d files, want 2", got)
	}
	checkStoreLoads(t, "the packing Store after merging", g)
	checkLoads(t, "a new Store after merging", dir)
	if haveGit() {
		checkGitClean(t, dir)
	}
}

// TestPackCrash kills a Pack at each of its steps, and makes it fail at
// each step, and expects every snapshot to load before and after the next
// Pack, which must finish the job; git must accept the store throughout.
func TestPackCrash(t *testing.T) {
	t.Parallel()
	g, base := packFixture(t)
	mustPack(t, g) // an older pack, so that the crashes happen next to one
	mustPut(t, g, snap("80", 50, t0.Add(time.Hour), docs(50, "x")...))
	mustPut(t, g, snap("82", 1, t0.Add(time.Hour), docs(1, "y")...))
	g.Close()

	steps := map[string]bool{}
	for _, die := range []bool{true, false} {
		for n := 1; ; n++ {
			dir := copyStore(t, base)
			s := openDir(t, dir)
			s.dieOnFault = die
			calls, failed := 0, ""
			s.fault = func(step string) error {
				if calls++; calls == n {
					failed = step
					return errCrash
				}
				return nil
			}
			_, err := s.Pack(context.Background())
			s.Close()
			if failed == "" {
				if err != nil {
					t.Fatalf("Pack without a fault = %v", err)
				}
				break
			}
			steps[failed] = true
			what := fmt.Sprintf("Pack failing at step %d (%s, killed: %v)", n, failed, die)
			if !errors.Is(err, errCrash) {
				t.Fatalf("%s = %v, want the fault", what, err)
			}
			checkLoads(t, what, dir)
			checkFsck(t, dir)

			s = openDir(t, dir)
			if _, err := s.Pack(context.Background()); err != nil {
				t.Fatalf("%s, then Pack = %v", what, err)
			}
			checkStoreLoads(t, what+", then packed again", s)
			if loose := looseObjects(t, dir); len(loose) != 0 {
				t.Fatalf("%s, then packed again: loose objects %v remain", what, loose)
			}
			for _, name := range packFiles(t, dir) {
				if !strings.HasPrefix(name, "pack-") {
					t.Fatalf("%s, then packed again: objects/pack holds %s", what, name)
				}
			}
			if haveGit() {
				checkGitClean(t, dir)
			}
		}
	}
	for _, step := range []string{"pack: write pack", "pack: sync pack", "pack: write index",
		"pack: rename index", "pack: rename pack", "pack: read back",
		"pack: remove loose object", "pack: sync objects folder"} {
		if !steps[step] {
			t.Errorf("no Pack failed at step %q", step)
		}
	}
}

func TestRepairPacks(t *testing.T) {
	t.Parallel()
	g, base := packFixture(t)
	mustPack(t, g)
	g.Close()
	pack := packFiles(t, base)[1]
	if !strings.HasSuffix(pack, ".pack") {
		pack = packFiles(t, base)[0]
	}
	idx := strings.TrimSuffix(pack, ".pack") + ".idx"

	tests := []struct {
		name   string
		damage func(packDir string) error
		report string // a part of the report
		loads  bool   // every snapshot loads after the repair
	}{
		{"temporary files", func(d string) error {
			return os.WriteFile(filepath.Join(d, packTempPrefix+"1"), []byte("PACK"), 0o444)
		}, "removed 1 temporary file", true},
		{"index without pack", func(d string) error {
			return os.WriteFile(filepath.Join(d, "pack-"+strings.Repeat("ab", 20)+".idx"),
				nil, 0o444)
		}, "an index whose pack is missing", true},
		{"pack without index", func(d string) error {
			return os.Remove(filepath.Join(d, idx))
		}, "indexed objects/pack/" + pack, true},
		{"lost pack", func(d string) error {
			return os.Remove(filepath.Join(d, pack))
		}, "its pack is missing and they are lost (kept the index", false},
		{"truncated pack", func(d string) error {
			return os.Truncate(filepath.Join(d, pack), 1000)
		}, "truncated", false},
		{"damaged pack without index", func(d string) error {
			os.Truncate(filepath.Join(d, pack), 1000)
			return os.Remove(filepath.Join(d, idx))
		}, "to damaged-" + pack, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyStore(t, base)
			if err := tt.damage(filepath.Join(dir, "objects", "pack")); err != nil {
				t.Fatal(err)
			}
			report, err := repairPacks(dir, true)
			if err != nil || !strings.Contains(strings.Join(report, "\n"), tt.report) {
				t.Fatalf("repairPacks = %q, %v; want a line with %q", report, err, tt.report)
			}
			if tt.loads {
				checkLoads(t, "after repairPacks", dir)
				if haveGit() {
					checkGitClean(t, dir)
				}
				if again, _ := repairPacks(dir, true); len(again) != 0 {
					t.Errorf("repairPacks again = %q, want nothing", again)
				}
			}
		})
	}

	t.Run("empty ref", func(t *testing.T) {
		dir := copyStore(t, base)
		os.WriteFile(filepath.Join(dir, "refs", "heads", "elections", "81"), nil, 0o644)
		report, err := repairPacks(dir, true)
		if err != nil || len(report) != 1 || !strings.Contains(report[0], "empty file") {
			t.Fatalf("repairPacks = %q, %v; want the empty ref reported", report, err)
		}
	})
}

func TestAutoPack(t *testing.T) {
	t.Parallel()
	g, dir := packFixture(t)
	if _, packed, err := g.AutoPack(context.Background(), 1<<20); packed || err != nil {
		t.Fatalf("AutoPack(1<<20) = %v, %v; want no pack", packed, err)
	}
	if _, packed, err := g.AutoPack(context.Background(), 0); !packed || err != nil {
		t.Fatalf("AutoPack(0) = %v, %v; want a pack", packed, err)
	}
	if loose := looseObjects(t, dir); len(loose) != 0 {
		t.Errorf("after AutoPack, loose objects %v remain", loose)
	}
}

// packedHash is used by the verify tests: the hash of an object in a pack.
func packedHash(t *testing.T, dir string) (plumbing.Hash, *packReader) {
	t.Helper()
	packs, err := listPacks(dir)
	if err != nil || len(packs) == 0 {
		t.Fatalf("listPacks = %v, %v", packs, err)
	}
	pr, err := openPack(dir, packs[0])
	if err != nil {
		t.Fatal(err)
	}
	return packs[0], pr
}
