package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// openStore opens a store as Open will once it calls openBackend first.
func openStore(dir string, opts Options) (Store, error) {
	if s, ok, err := openBackend(dir, opts); ok {
		return s, err
	}
	return Open(dir, opts)
}

func TestZstdStore(t *testing.T) {
	testStore(t, func(t *testing.T, dir string) Store {
		t.Helper()
		s, err := openStore(dir, Options{Create: true, Backend: BackendZstd})
		if err != nil {
			t.Fatalf("Open(%s, zstd) = %v", dir, err)
		}
		if _, ok := s.(*zstdStore); !ok {
			t.Fatalf("Open(%s, zstd) = %T, want a zstd store", dir, s)
		}
		return s
	})
}

// objectPath returns the path of the object sum in the store dir of the
// current format.
func objectPath(dir, sum string) string {
	return objectLayout{dir: dir}.path(sum)
}

// objectName is how messages name the object sum in a store of the
// current format.
func objectName(sum string) string {
	return objectLayout{}.name(sum)
}

// openZstdTest creates a zstd store in a fresh folder.
func openZstdTest(t testing.TB) (*zstdStore, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := openStore(dir, Options{Create: true, Backend: BackendZstd})
	if err != nil {
		t.Fatalf("Open(%s, zstd) = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*zstdStore), dir
}

// reopenZstd opens the existing zstd store in dir.
func reopenZstd(t testing.TB, dir string) *zstdStore {
	t.Helper()
	s, err := openStore(dir, Options{})
	if err != nil {
		t.Fatalf("reopening %s = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	z, ok := s.(*zstdStore)
	if !ok {
		t.Fatalf("reopening %s = %T, want a zstd store", dir, s)
	}
	return z
}

func TestZstdSameIDsAsGit(t *testing.T) {
	z, _ := openZstdTest(t)
	g, _ := openGit(t)
	big := bigDocument(t)
	snaps := []*snapshot.Snapshot{
		snap("80", 1, t0, docs(1, "a")...),
		snap("80", 2, t0.Add(time.Minute), docs(2, "b")...),
		snap("80", 3, t0.Add(2*time.Minute),
			snapshot.File{Name: snapshot.LegacyRawFile, Data: big},
			doc("empty.json", "")),
		snap("81", 1, t0, docs(1, "a")...),
	}
	for _, sn := range snaps {
		ez, gz := mustPut(t, z, sn), mustPut(t, g, sn)
		if ez.ID != gz.ID || ez.ID != sn.ID() {
			t.Errorf("Put(%s@%s) ID: zstd %s, git %s, want %s",
				sn.Election, sn.Version, ez.ID, gz.ID, sn.ID())
		}
	}
	for _, id := range []snapshot.ElectionID{"80", "81"} {
		lz, lg := mustLog(t, z, id), mustLog(t, g, id)
		if len(lz) != len(lg) {
			t.Fatalf("len(Log(%s)): zstd %d, git %d", id, len(lz), len(lg))
		}
		for i := range lz {
			if lz[i].ID != lg[i].ID || !reflect.DeepEqual(lz[i].Meta, lg[i].Meta) {
				t.Errorf("Log(%s)[%d]: zstd %+v, git %+v", id, i, lz[i], lg[i])
			}
		}
	}
}

func TestOpenBackend(t *testing.T) {
	root := t.TempDir()
	zdir, gdir := filepath.Join(root, "z"), filepath.Join(root, "g")
	for _, c := range []struct {
		dir, backend string
	}{{zdir, BackendZstd}, {gdir, ""}} {
		s, err := openStore(c.dir, Options{Create: true, Backend: c.backend})
		if err != nil {
			t.Fatalf("Open(%s, Create, %q) = %v", c.dir, c.backend, err)
		}
		s.Close()
	}
	marker, err := os.ReadFile(filepath.Join(zdir, markerFileName))
	if got, want := string(marker), `{"backend":"zstd","format":2}`+"\n"; err != nil || got != want {
		t.Errorf("marker = %q, %v; want %q", got, err, want)
	}
	if names, _ := readDirNames(root); len(names) != 2 {
		t.Errorf("folder beside the stores holds %q, want the two stores alone", names)
	}

	tests := []struct {
		dir     string
		opts    Options
		want    string // type of store, or the start of the error
		missing bool
	}{
		{zdir, Options{}, "*store.zstdStore", false},
		{zdir, Options{Backend: BackendZstd}, "*store.zstdStore", false},
		{zdir, Options{Create: true}, "*store.zstdStore", false},
		{gdir, Options{}, "*store.gitStore", false},
		{gdir, Options{Backend: BackendGit}, "*store.gitStore", false},
		{zdir, Options{Backend: BackendGit}, "store " + zdir + " is a zstd store, not git", false},
		{gdir, Options{Backend: BackendZstd, Create: true},
			"store " + gdir + " is a git store, not zstd", false},
		{zdir, Options{Backend: "zip"}, `unknown store backend "zip"`, false},
		{filepath.Join(root, "none"), Options{Backend: BackendZstd}, "no store at", true},
		{root, Options{Backend: BackendZstd}, root + " is not a ctrunner store", false},
	}
	for _, tt := range tests {
		s, err := openStore(tt.dir, tt.opts)
		if err != nil {
			if !strings.HasPrefix(err.Error(), tt.want) || errors.Is(err, ErrNotFound) != tt.missing {
				t.Errorf("Open(%s, %+v) = %v, want %q", tt.dir, tt.opts, err, tt.want)
			}
			continue
		}
		if got := fmt.Sprintf("%T", s); got != tt.want {
			t.Errorf("Open(%s, %+v) = %s, want %s", tt.dir, tt.opts, got, tt.want)
		}
		s.Close()
	}

	m := filepath.Join(zdir, markerFileName)
	if err := os.WriteFile(m, []byte(`{"backend":"zstd","format":3}`), 0o666); err != nil {
		t.Fatal(err)
	}
	_, err = openStore(zdir, Options{})
	if err == nil || !strings.Contains(err.Error(), "format 3") {
		t.Errorf("Open(store of format 3) = %v, want an unknown-format error", err)
	}
}

// putVersions archives n versions of election 80 whose Electiondata.json
// changes each time and whose Lookupdata.json never does.
func putVersions(t testing.TB, s Store, n int) []Entry {
	t.Helper()
	var entries []Entry
	for i := range n {
		v := int64(1000 + i)
		sn := snap("80", v, t0.Add(time.Duration(i)*time.Minute),
			doc(snapshot.VersionFile, fmt.Sprintf(`{"Version":%d}`, v)),
			doc(snapshot.ElectionDataFile, strings.Repeat(
				fmt.Sprintf(`{"town":%d,"votes":%d},`, i%7, i*i), 200)),
			doc(snapshot.LookupDataFile, `{"election":{"NM":"test"}}`))
		e, added, err := s.Put(context.Background(), sn)
		if err != nil || !added {
			t.Fatalf("Put(80@%d) = %v, %v", v, added, err)
		}
		entries = append(entries, e)
	}
	return entries
}

func TestZstdChains(t *testing.T) {
	z, dir := openZstdTest(t)
	const k = 4
	z.keyframeEvery = k
	entries := putVersions(t, z, 11)

	for i, e := range entries {
		sum := e.Documents[snapshot.ElectionDataFile]
		h, err := readObjectHeader(objectLayout{dir: dir}, sum)
		if err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		// Every k-th version is a keyframe, a delta against the keyframe
		// before except the first.
		wantKind, wantBase, wantDepth := objectDelta, i-1, i/k+i%k
		switch {
		case i == 0:
			wantKind, wantBase = objectFull, -1
		case i%k == 0:
			wantKind, wantBase = objectKeyframe, i-k
		}
		if h.kind != wantKind || h.depth != wantDepth {
			t.Errorf("version %d: kind %d depth %d, want kind %d depth %d",
				i, h.kind, h.depth, wantKind, wantDepth)
		}
		if wantBase >= 0 {
			if got, want := fmt.Sprintf("%x", h.base),
				entries[wantBase].Documents[snapshot.ElectionDataFile]; got != want {
				t.Errorf("version %d: base %s, want version %d's %s", i, got, wantBase, want)
			}
		}
	}
	// Lookupdata.json never changes: one object serves every version.
	look := map[string]bool{}
	for _, e := range entries {
		look[e.Documents[snapshot.LookupDataFile]] = true
	}
	if len(look) != 1 {
		t.Errorf("Lookupdata.json has %d objects, want 1", len(look))
	}

	// A new Store has nothing cached and decodes whole chains.
	r := reopenZstd(t, dir)
	for _, i := range []int{10, 0, 7, 3, 5} {
		got, err := r.Load(entries[i])
		if err != nil {
			t.Fatalf("Load(version %d) = %v", i, err)
		}
		if got.ID() != entries[i].ID {
			t.Errorf("Load(version %d) ID = %s, want %s", i, got.ID(), entries[i].ID)
		}
	}
}

// TestZstdLongChain reads back versions of a real document through chains
// longer than K with the default settings.
func TestZstdLongChain(t *testing.T) {
	z, dir := openZstdTest(t)
	versions := electionDataVersions(t, defaultKeyframeEvery+5)
	var entries []Entry
	for i, data := range versions {
		sn := snap("80", int64(i), t0.Add(time.Duration(i)*time.Minute),
			snapshot.File{Name: snapshot.ElectionDataFile, Data: data})
		entries = append(entries, mustPut(t, z, sn))
	}
	r := reopenZstd(t, dir)
	for i := len(entries) - 1; i >= 0; i -= 3 {
		got, err := r.Load(entries[i])
		if err != nil {
			t.Fatalf("Load(version %d) = %v", i, err)
		}
		if data, _ := got.File(snapshot.ElectionDataFile); !bytes.Equal(data, versions[i]) {
			t.Errorf("Load(version %d) = %d bytes, want %d", i, len(data), len(versions[i]))
		}
	}
	maxDepth := 0
	for _, e := range entries {
		h, err := readObjectHeader(objectLayout{dir: dir}, e.Documents[snapshot.ElectionDataFile])
		if err != nil {
			t.Fatal(err)
		}
		maxDepth = max(maxDepth, h.depth)
	}
	if maxDepth != defaultKeyframeEvery-1 {
		t.Errorf("deepest delta has depth %d, want %d", maxDepth, defaultKeyframeEvery-1)
	}
}

// TestZstdCommandDecodes checks that the zstd command reads objects: a
// keyframe with zstd -d, a delta with zstd -d --patch-from=BASE.
func TestZstdCommandDecodes(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("the zstd command is not installed")
	}
	z, dir := openZstdTest(t)
	versions := electionDataVersions(t, 3)
	tmp := t.TempDir()
	for i, data := range versions {
		e := mustPut(t, z, electionDataSnapshot(i, data))
		obj, err := os.ReadFile(objectPath(dir, e.Documents[snapshot.ElectionDataFile]))
		if err != nil {
			t.Fatal(err)
		}
		frame, out := filepath.Join(tmp, "frame.zst"), filepath.Join(tmp, "out")
		if err := os.WriteFile(frame, obj[objectHeaderSize:], 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-q", "-d", "-f", frame, "-o", out}
		if i > 0 {
			base := filepath.Join(tmp, "base")
			if err := os.WriteFile(base, versions[i-1], 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--patch-from="+base)
		}
		if msg, err := exec.Command("zstd", args...).CombinedOutput(); err != nil {
			t.Fatalf("zstd %s = %v: %s", strings.Join(args, " "), err, msg)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
			t.Errorf("zstd decoded version %d to %d bytes, want its %d", i, len(got), len(data))
		}
	}
}

func TestZstdDamage(t *testing.T) {
	tests := []struct {
		name    string
		version int // whose Electiondata.json object is damaged
		damage  func(path string) error
		want    string // after "loading snapshot S of election 80: reading Electiondata.json: "
	}{
		{"flipped byte", 2, flipByte(-10), "OBJ: compressed data is damaged"},
		{"flipped header byte", 2, flipByte(30), "OBJ: header is damaged"},
		{"truncated", 2, truncateAt(-7),
			"OBJ: truncated: NN bytes of compressed data, header says MM"},
		{"cut in the header", 2, truncateAt(50), "OBJ: truncated: 50 bytes"},
		{"zero-filled", 2, zeroFill, "OBJ: not an object file"},
		{"missing", 2, os.Remove, "OBJ is missing"},
		{"missing base", 1, os.Remove, "OBJ is missing (a base of TOP, 1 version back)"},
		{"damaged keyframe", 0, flipByte(-10),
			"OBJ: compressed data is damaged: ... (a base of TOP, 2 versions back)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, dir := openZstdTest(t)
			entries := putVersions(t, z, 3)
			sum := entries[tt.version].Documents[snapshot.ElectionDataFile]
			path := objectPath(dir, sum)
			obj, _ := os.ReadFile(path)
			os.Chmod(path, 0o644)
			if err := tt.damage(path); err != nil {
				t.Fatal(err)
			}

			r := reopenZstd(t, dir)
			_, err := r.Load(entries[2])
			top := entries[2].Documents[snapshot.ElectionDataFile]
			want := fmt.Sprintf("loading snapshot %s of election 80: reading %s: ",
				entries[2].ID.Short(), snapshot.ElectionDataFile) + tt.want
			want = strings.NewReplacer("OBJ", objectName(sum), "TOP", objectName(top),
				"NN", strconv.Itoa(len(obj)-objectHeaderSize-7),
				"MM", strconv.Itoa(len(obj)-objectHeaderSize)).Replace(want)
			// "..." in want stands for the zstd library's own words.
			head, tail, _ := strings.Cut(want, "...")
			if err == nil || !strings.HasPrefix(err.Error(), head) ||
				!strings.HasSuffix(err.Error(), tail) {
				t.Errorf("Load = %v,\nwant %s", err, want)
			}
			// Versions that do not depend on the damaged object still load.
			for i := range tt.version {
				if _, err := r.Load(entries[i]); err != nil {
					t.Errorf("Load(version %d) = %v", i, err)
				}
			}
		})
	}
}

func flipByte(at int) func(string) error {
	return func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if at < 0 {
			at += len(b)
		}
		b[at] ^= 0x20
		return os.WriteFile(path, b, 0o644)
	}
}

func truncateAt(at int) func(string) error {
	return func(path string) error {
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		size := int64(at)
		if at < 0 {
			size += info.Size()
		}
		return os.Truncate(path, size)
	}
}

func zeroFill(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, make([]byte, info.Size()), 0o644)
}

func TestZstdTornJournal(t *testing.T) {
	line := func(seq int64) string {
		b, _, err := marshalZstdLine(&zstdRecord{
			Seq: seq, Kind: zstdKindElectionList, ID: snapshot.TreeHash(nil).String(),
			FetchedAt: t0.Format(time.RFC3339Nano),
			Files: []zstdDocument{{Name: snapshot.ElectionListFile,
				SHA256: snapshot.SHA256(nil), Inline: true}},
		}, zstdFormat)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		tail string
	}{
		{"no newline", `{"rec":{"seq":4,"id":"`},
		{"zeros", "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"bad checksum", strings.Replace(line(4), `"crc32c":"`, `"crc32c":"0`, 1)},
		{"wrong sequence", line(9)},
		{"half a line", line(4)[:40]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, dir := openZstdTest(t)
			entries := putVersions(t, z, 3)
			journal := filepath.Join(dir, zstdJournalName)
			good, _ := os.ReadFile(journal)
			f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tt.tail)
			f.Close()

			// Readers ignore the torn line and write nothing, also the
			// Store that was open when the line appeared.
			before := treeState(t, dir)
			r := reopenZstd(t, dir)
			for _, s := range []Store{r, z} {
				if got := mustLog(t, s, "80"); len(got) != 3 || got[0].ID != entries[2].ID {
					t.Errorf("Log with a torn line = %d entries, want 3", len(got))
				}
			}
			checkUnchanged(t, "reading a journal with a torn line", before, treeState(t, dir))

			// The next writer removes it and carries on.
			mustPut(t, r, snap("80", 5, t0, docs(5, "e")...))
			after, _ := os.ReadFile(journal)
			added, ok := bytes.CutPrefix(after, good)
			if _, _, err := parseZstdLine(bytes.TrimSuffix(added, []byte("\n")), zstdFormat); !ok ||
				err != nil || bytes.Count(added, []byte("\n")) != 1 {
				t.Errorf("journal after the next write =\n%s\nwant the good lines and a new one",
					after)
			}
			for _, s := range []Store{reopenZstd(t, dir), z} {
				if got := len(mustLog(t, s, "80")); got != 4 {
					t.Errorf("len(Log) after the next write = %d, want 4", got)
				}
			}
		})
	}

	t.Run("damaged middle line", func(t *testing.T) {
		_, dir := openZstdTest(t)
		journal := filepath.Join(dir, zstdJournalName)
		bad := strings.Replace(line(1), `"crc32c":"`, `"crc32c":"0`, 1)
		if err := os.WriteFile(journal, []byte(bad+line(2)), 0o644); err != nil {
			t.Fatal(err)
		}
		// Damage is no torn write: Open reads what it can, Verify and
		// writers report it.
		s, err := openStore(dir, Options{})
		if err != nil {
			t.Fatalf("Open(damaged journal) = %v, want it open", err)
		}
		defer s.Close()
		want := "store " + dir + ": journal.jsonl is damaged at line 1 (byte 0, in batch 1: checksum"
		_, err = s.PutElectionList(context.Background(), []byte("[]"), t0, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("write to a damaged journal = %v, want %q", err, want)
		}
	})
}

func TestZstdStrayFiles(t *testing.T) {
	z, dir := openZstdTest(t)
	putVersions(t, z, 2)
	z.Close()

	// A write cut short left temporary files, and an object that no
	// journal line names (the next version's Electiondata.json).
	strays := []string{
		filepath.Join(dir, "objects", zstdTempPrefix+"0123456789abcdef"),
		filepath.Join(dir, "objects", zstdTempPrefix+"x"),
	}
	for _, p := range strays {
		if err := os.WriteFile(p, []byte("partial"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	next := snap("80", 2000, t0.Add(time.Hour), docs(2000, "orphan")...)
	data, _ := next.File(snapshot.ElectionDataFile)
	orphan := objectPath(dir, snapshot.SHA256(data))
	os.MkdirAll(filepath.Dir(orphan), 0o777)
	if err := os.WriteFile(orphan, []byte("an old, unfinished object"), 0o444); err != nil {
		t.Fatal(err)
	}

	// Readers leave them alone; the next writer removes the temporary
	// files and replaces the orphan.
	before := treeState(t, dir)
	r := reopenZstd(t, dir)
	if _, err := r.Load(mustLog(t, r, "80")[0]); err != nil {
		t.Fatalf("Load = %v", err)
	}
	checkUnchanged(t, "reading", before, treeState(t, dir))
	e := mustPut(t, r, next)
	for _, p := range strays {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stray %s after a write: %v, want it gone", p, err)
		}
	}
	got, err := reopenZstd(t, dir).Load(e)
	if err != nil || !reflect.DeepEqual(got.Files, next.Files) {
		t.Errorf("Load(snapshot whose object replaced an orphan) = %v", err)
	}
}

func TestZstdReadingWritesNothing(t *testing.T) {
	z, dir := openZstdTest(t)
	entries := putVersions(t, z, 5)
	if _, err := z.PutElectionList(context.Background(), []byte("[1]"), t0, ""); err != nil {
		t.Fatal(err)
	}
	z.Close()
	before := treeState(t, dir)
	r := reopenZstd(t, dir)
	mustLog(t, r, "80")
	for _, e := range entries {
		if _, err := r.Load(e); err != nil {
			t.Fatalf("Load = %v", err)
		}
	}
	r.Elections()
	r.Contains("80", entries[0].ID)
	r.ElectionList()
	Resolve(r, "80~2")
	r.Close()
	checkUnchanged(t, "reading", before, treeState(t, dir))
}

var errZstdFault = errors.New("injected fault")

func TestZstdWriteFaults(t *testing.T) {
	z, dir := openZstdTest(t)
	z.smallDocument = -1 // every document an object, whose writes have steps
	steps := map[string]bool{}
	for _, op := range faultOps {
		for n := 1; ; n++ {
			before := treeState(t, dir)
			logBefore, _ := z.Log("80")
			calls, failed := 0, ""
			z.fault = func(step string) error {
				steps[step] = true
				if calls++; calls == n {
					failed = step
					return fmt.Errorf("%w at %s", errZstdFault, step)
				}
				return nil
			}
			err := op.do(z)
			z.fault = nil
			if failed == "" {
				if err != nil {
					t.Fatalf("%s without a fault = %v", op.name, err)
				}
				break
			}
			if !errors.Is(err, errZstdFault) {
				t.Fatalf("%s with a fault at %s = %v, want the fault", op.name, failed, err)
			}
			// Even a failed sync of the journal takes the write back.
			checkUnchanged(t, fmt.Sprintf("%s failing at %s", op.name, failed),
				before, treeState(t, dir))
			if got, _ := z.Log("80"); len(got) != len(logBefore) {
				t.Fatalf("%s failing at %s: len(Log) = %d, want %d",
					op.name, failed, len(got), len(logBefore))
			}
		}
	}
	for _, step := range []string{"read journal", "encode object", "write object",
		"sync object", "rename object", "sync objects folder", "append journal",
		"sync journal"} {
		if !steps[step] {
			t.Errorf("step %q never had a fault injected", step)
		}
	}
	r := reopenZstd(t, dir)
	for _, id := range []snapshot.ElectionID{"80", "81"} {
		for _, e := range mustLog(t, r, id) {
			if _, err := r.Load(e); err != nil {
				t.Errorf("Load(%s@%s) = %v", id, e.Version, err)
			}
		}
	}
	if got := len(mustLog(t, r, "80")); got != 2 {
		t.Errorf("len(Log(80)) = %d, want 2", got)
	}
}

func TestZstdTwoWriters(t *testing.T) {
	a, dir := openZstdTest(t)
	b := reopenZstd(t, dir)
	const workers, each = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for w := range workers {
		for i, s := range []Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					v := int64(w*1000 + i*100 + j)
					sn := snap(fmt.Sprint(80+j%2), v, t0, docs(v, "w")...)
					if _, added, err := s.Put(context.Background(), sn); err != nil || !added {
						errs <- fmt.Errorf("Put(%d) = %v, %v", v, added, err)
					}
					if _, err := s.Elections(); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range []Store{a, b, reopenZstd(t, dir)} {
		for _, id := range []snapshot.ElectionID{"80", "81"} {
			entries := mustLog(t, s, id)
			if got, want := len(entries), workers*each; got != want {
				t.Errorf("len(Log(%s)) = %d, want %d", id, got, want)
			}
			for _, e := range entries {
				if _, err := s.Load(e); err != nil {
					t.Errorf("Load(%s@%s) = %v", id, e.Version, err)
				}
			}
		}
	}
}

func TestZstdLockBusy(t *testing.T) {
	_, dir := openZstdTest(t)
	s, err := openStore(dir, Options{LockWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lock, err := lockStore(context.Background(), dir, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.unlock()
	_, _, err = s.Put(context.Background(), snap("80", 1, t0, docs(1, "a")...))
	if !errors.Is(err, ErrBusy) {
		t.Errorf("Put while another writer holds the lock = %v, want ErrBusy", err)
	}
}

// electionDataVersions returns n versions of election 80's recorded
// Electiondata.json (about 480 KB): each version adds votes to about 3% of
// the vote counts of the one before, as results coming in do.
func electionDataVersions(t testing.TB, n int) [][]byte {
	t.Helper()
	_, data, _, err := legacy.Split(bigDocument(t))
	if err != nil {
		t.Fatalf("splitting recorded document: %v", err)
	}
	counts := regexp.MustCompile(`"V":"[0-9]+"`)
	rng := rand.New(rand.NewPCG(80, 13392))
	versions := [][]byte{data}
	for len(versions) < n {
		data = counts.ReplaceAllFunc(data, func(m []byte) []byte {
			if rng.IntN(100) >= 3 {
				return m
			}
			v, _ := strconv.Atoi(string(m[5 : len(m)-1]))
			return fmt.Appendf(nil, `"V":"%d"`, v+1+rng.IntN(200))
		})
		versions = append(versions, data)
	}
	return versions
}

// TestZstdFormat1 opens a store of format 1, written here as the first
// zstd backend wrote it (objects in 256 folders, every document an object,
// journal records with every member), reads and verifies it, and writes
// to it: the store stays in format 1.
func TestZstdFormat1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o777); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		markerFileName:  `{"backend":"zstd","format":1}` + "\n",
		lockFileName:    "",
		zstdJournalName: "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	codec, err := newZstdCodec(defaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.close()
	old := objectLayout{dir: dir, fanout: true}
	putObject := func(raw, base []byte, depth int) string {
		kind, baseSum := objectFull, [32]byte{}
		if base != nil {
			kind, baseSum = objectDelta, sha256.Sum256(base)
		}
		obj, err := codec.encode(raw, kind, base, baseSum, depth)
		if err != nil {
			t.Fatal(err)
		}
		sum := snapshot.SHA256(raw)
		os.MkdirAll(filepath.Dir(old.path(sum)), 0o777)
		if err := os.WriteFile(old.path(sum), obj, 0o444); err != nil {
			t.Fatal(err)
		}
		return sum
	}

	// Three versions: the first alone, the next two in one batch.
	var snaps []*snapshot.Snapshot
	var journal []byte
	var prev []byte
	for i := range 3 {
		v := int64(1000 + i)
		version := fmt.Sprintf(`{"Version":%d}`, v)
		data := strings.Repeat(fmt.Sprintf(`{"town":%d,"votes":%d},`, i, i*i), 200)
		sn := snap("80", v, t0.Add(time.Duration(i)*time.Minute),
			doc(snapshot.ElectionDataFile, data), doc(snapshot.VersionFile, version))
		snaps = append(snaps, sn)
		dataSum := putObject([]byte(data), prev, i)
		versionSum := putObject([]byte(version), nil, 0)
		prev = []byte(data)
		rec := fmt.Sprintf(`{"seq":%d,"kind":"snapshot","id":"%s","election":"80",`+
			`"version":%d,"fetched_at":"%s","source":"fetched","source_url":"%s",`+
			`"files":[{"name":"Electiondata.json","sha256":"%s","size":%d},`+
			`{"name":"Version.json","sha256":"%s","size":%d}]}`,
			i+1, sn.ID(), v, sn.FetchedAt.Format(time.RFC3339Nano), sn.SourceURL,
			dataSum, len(data), versionSum, len(version))
		crc := crc32.Checksum([]byte(rec), castagnoli)
		if i == 0 {
			journal = fmt.Appendf(journal, `{"rec":%s,"crc32c":"%08x"}`+"\n", rec, crc)
			continue
		}
		crc = crc32.Update(crc, castagnoli, []byte("2"))
		journal = fmt.Appendf(journal, `{"rec":%s,"batch":2,"crc32c":"%08x"}`+"\n", rec, crc)
	}
	end := `{"batch":2,"records":2}`
	journal = fmt.Appendf(journal, `{"end":%s,"crc32c":"%08x"}`+"\n", end,
		crc32.Checksum([]byte(end), castagnoli))
	if err := os.WriteFile(filepath.Join(dir, zstdJournalName), journal, 0o666); err != nil {
		t.Fatal(err)
	}

	check := func(s *zstdStore, snaps []*snapshot.Snapshot) {
		t.Helper()
		entries := mustLog(t, s, "80")
		if len(entries) != len(snaps) {
			t.Fatalf("len(Log) = %d, want %d", len(entries), len(snaps))
		}
		for i, sn := range snaps {
			e := entries[len(entries)-1-i]
			got, err := s.Load(e)
			if err != nil {
				t.Fatalf("Load(version %d) = %v", i, err)
			}
			if got.ID() != sn.ID() || e.Version != sn.Version || e.SourceURL != sn.SourceURL ||
				!got.FetchedAt.Equal(sn.FetchedAt) {
				t.Errorf("Load(version %d) = %s %+v, want %s %+v", i, got.ID(), got.Meta,
					sn.ID(), sn.Meta)
			}
		}
		r, err := Verify(context.Background(), s, VerifyOptions{ReadData: true})
		if err != nil || len(r.Problems) > 0 {
			t.Errorf("Verify = %+v, %v; want no problems", r, err)
		}
	}
	z := reopenZstd(t, dir)
	if z.format != zstdFormatFanout {
		t.Fatalf("store format = %d, want 1", z.format)
	}
	check(z, snaps)

	// A new version goes in as format 1 would write it.
	next := snap("80", 1003, t0.Add(time.Hour), doc(snapshot.VersionFile, `{"Version":1003}`),
		doc(snapshot.ElectionDataFile, strings.Repeat(`{"town":3,"votes":9},`, 200)))
	e := mustPut(t, z, next)
	for name, sum := range e.Documents {
		h, err := readObjectHeader(old, sum)
		if err != nil {
			t.Errorf("%s after a write: %v", name, err)
		}
		if name == snapshot.ElectionDataFile && (h.kind != objectDelta || h.depth != 3) {
			t.Errorf("%s after a write: kind %d depth %d, want a delta of depth 3",
				name, h.kind, h.depth)
		}
	}
	journal, _ = os.ReadFile(filepath.Join(dir, zstdJournalName))
	lines := bytes.Split(bytes.TrimSpace(journal), []byte("\n"))
	if last := string(lines[len(lines)-1]); !strings.Contains(last, `"fetched_at":`) ||
		!strings.Contains(last, `"sha256":`) {
		t.Errorf("journal line of format 1 = %s, want every member", last)
	}
	if m, err := readMarker(dir); err != nil || m.Format != zstdFormatFanout {
		t.Errorf("marker after a write = %+v, %v; want format 1", m, err)
	}
	check(reopenZstd(t, dir), append(snaps, next))
}

// TestZstdLeanJournal checks what a journal line of format 2 leaves out
// and keeps: members equal to the previous record's are taken from it,
// small documents are in the line and have no object.
func TestZstdLeanJournal(t *testing.T) {
	z, dir := openZstdTest(t)
	meta := func(v int64, url, timeSource, precincts string) snapshot.Meta {
		return snapshot.Meta{Election: "80", Version: snapshot.Version(v),
			FetchedAt: t0.Add(time.Duration(v) * time.Second), Source: snapshot.Fetched,
			SourceURL: url, TimeSource: timeSource, PrecinctsReporting: precincts}
	}
	metas := []snapshot.Meta{
		meta(1, "http://a/", "server", "1 of 9"),
		meta(2, "http://a/", "server", "1 of 9"), // all as before
		meta(3, "http://b/", "", "1 of 9"),       // a new URL, no time source
		meta(4, "http://b/", "", "2 of 9"),
	}
	var want []Entry
	ctx := context.Background()
	err := z.Update(ctx, func(b Batch) error { // the first two in one batch
		for _, m := range metas[:2] {
			e, _, err := b.Put(snapshot.New(m, docs(int64(m.Version), "x")))
			if err != nil {
				return err
			}
			want = append(want, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas[2:] {
		want = append(want, mustPut(t, z, snapshot.New(m, docs(int64(m.Version), "y"))))
	}
	if _, err := z.PutElectionList(ctx, []byte("[]"), t0, "http://list/"); err != nil {
		t.Fatal(err)
	}

	journal, _ := os.ReadFile(filepath.Join(dir, zstdJournalName))
	lines := strings.Split(strings.TrimSpace(string(journal)), "\n")
	for i, c := range []struct {
		line      int
		has, lack []string
	}{
		{0, []string{`"url":"http://a/"`, `"time_source":"server"`, `"{\"Version\":1}"`}, nil},
		{1, nil, []string{`"url"`, `"time_source"`, `"precincts"`, `"source"`}},
		{3, []string{`"url":"http://b/"`, `"time_source":""`}, []string{`"precincts"`}},
		{4, []string{`"precincts":"2 of 9"`}, []string{`"url"`, `"time_source"`}},
		{5, []string{`"kind":"election-list"`, `"url":"http://list/"`}, nil},
	} {
		for _, s := range c.has {
			if !strings.Contains(lines[c.line], s) {
				t.Errorf("case %d: journal line %d = %s, want %s in it", i, c.line+1, lines[c.line], s)
			}
		}
		for _, s := range c.lack {
			if strings.Contains(lines[c.line], s) {
				t.Errorf("case %d: journal line %d = %s, want no %s", i, c.line+1, lines[c.line], s)
			}
		}
	}
	for _, s := range []Store{z, reopenZstd(t, dir)} {
		got := mustLog(t, s, "80")
		for i := range want {
			if g := got[len(got)-1-i]; !reflect.DeepEqual(g, want[i]) {
				t.Errorf("Log[%d] = %+v, want %+v", i, g, want[i])
			}
			if _, err := s.Load(want[i]); err != nil {
				t.Errorf("Load(%d) = %v", i, err)
			}
		}
	}
	// Every document of docs is small: no object at all.
	if names, _ := readDirNames(filepath.Join(dir, "objects")); len(names) != 0 {
		t.Errorf("objects/ holds %q, want nothing", names)
	}
}
