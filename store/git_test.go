package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ctrunner/snapshot"
)

// Environment of the child processes TestConcurrentProcesses starts.
const (
	writerDirEnv = "CTRUNNER_STORE_TEST_WRITER_DIR"
	writerTagEnv = "CTRUNNER_STORE_TEST_WRITER_TAG"
)

// writerPuts is how many snapshots each concurrent writer archives.
const writerPuts = 10

func TestMain(m *testing.M) {
	if dir := os.Getenv(writerDirEnv); dir != "" {
		if err := runWriter(dir, os.Getenv(writerTagEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writerSnapshot is the i-th snapshot a concurrent writer tagged tag
// archives: distinct for every writer and i.
func writerSnapshot(tag string, i int) *snapshot.Snapshot {
	id := fmt.Sprint(80 + i%2)
	v := int64(i)
	return snap(id, v, t0.Add(time.Duration(i)*time.Second), docs(v, tag)...)
}

// runWriter archives the snapshots of writer tag into the store in dir.
func runWriter(dir, tag string) error {
	s, err := Open(dir, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range writerPuts {
		if _, _, err := s.Put(context.Background(), writerSnapshot(tag, i)); err != nil {
			return err
		}
	}
	return nil
}

// openGit creates a git store in a fresh folder.
func openGit(t testing.TB) (*gitStore, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(dir, Options{Create: true})
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*gitStore), dir
}

// treeState describes every file and folder under dir, one line each:
// path, mode and the SHA-256 of the content.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		line := fmt.Sprintf("%s %v", rel, info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return strings.Join(lines, "\n")
}

// diffStates lists the lines only in a or only in b.
func diffStates(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func checkUnchanged(t *testing.T, what, before, after string) {
	t.Helper()
	if before != after {
		t.Fatalf("%s changed the store:\n%s", what, diffStates(before, after))
	}
}

// runGit runs the git CLI on the repository dir and returns its output.
func runGit(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"HOME="+t.TempDir(), "LC_ALL=C")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// mustGit runs git and fails the test unless it succeeds silently on
// stderr.
func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, err := runGit(t, dir, args...)
	if err != nil || errOut != "" {
		t.Fatalf("git %s = %v, stderr %q", strings.Join(args, " "), err, errOut)
	}
	return out
}

// checkGitClean runs git fsck and git log --all on dir and fails the test
// if either complains.
//
// Until the election list is archived, HEAD names a branch without commits,
// and git fsck says so in one notice; that notice alone is accepted then.
func checkGitClean(t *testing.T, dir string) {
	t.Helper()
	out, errOut, err := runGit(t, dir, "fsck", "--strict", "--no-progress")
	if _, serr := os.Stat(filepath.Join(dir, "refs", "heads", "election-list")); serr != nil {
		errOut = strings.TrimPrefix(errOut,
			"notice: HEAD points to an unborn branch (election-list)\n")
	}
	if err != nil || out != "" || errOut != "" {
		t.Errorf("git fsck = %v, stdout %q, stderr %q", err, out, errOut)
	}
	mustGit(t, dir, "log", "--all", "--format=%H %s")
}

func TestOpenMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := Open(dir, Options{})
	want := "no store at " + dir + " (create one with ctrunner archive or ctrunner import)"
	if !errors.Is(err, ErrNotFound) || fmt.Sprint(err) != want {
		t.Errorf("Open(missing) = %v, want %q wrapping ErrNotFound", err, want)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) made %s (stat: %v)", dir, err)
	}

	empty := t.TempDir()
	if _, err := Open(empty, Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(empty folder) = %v, want ErrNotFound", err)
	}

	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o666)
	_, err = Open(other, Options{Create: true})
	if err == nil || errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "is not a ctrunner store") {
		t.Errorf("Open(folder of other files) = %v, want a not-a-store error", err)
	}
}

func TestCreate(t *testing.T) {
	for _, existing := range []bool{false, true} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "store")
		if existing {
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir, Options{Create: true})
		if err != nil {
			t.Fatalf("Open(Create, existing folder %v) = %v", existing, err)
		}
		s.Close()
		head, _ := os.ReadFile(filepath.Join(dir, "HEAD"))
		if got, want := string(head), "ref: refs/heads/election-list\n"; got != want {
			t.Errorf("HEAD = %q, want %q", got, want)
		}
		if _, err := os.Stat(filepath.Join(dir, lockFileName)); err != nil {
			t.Errorf("no lock file: %v", err)
		}
		if got := mustGit(t, dir, "rev-parse", "--is-bare-repository"); got != "true\n" {
			t.Errorf("git rev-parse --is-bare-repository = %q, want true", got)
		}
		if names, _ := readDirNames(parent); len(names) != 1 {
			t.Errorf("folder of the store holds %q, want only the store", names)
		}
	}
}

func TestReadingWritesNothing(t *testing.T) {
	s, dir := openGit(t)
	ctx := context.Background()
	e := mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	mustPut(t, s, snap("80", 2, t0, docs(2, "b")...))
	if _, err := s.PutElectionList(ctx, []byte("[]"), t0, ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Without its lock file, the store shows whether a reader makes one.
	os.Remove(filepath.Join(dir, lockFileName))
	before := treeState(t, dir)

	for _, opts := range []Options{{}, {Create: true}} {
		r, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open(%+v) = %v", opts, err)
		}
		if _, err := r.Log("80"); err != nil {
			t.Error(err)
		}
		if _, err := r.Load(e); err != nil {
			t.Error(err)
		}
		if _, _, err := r.ElectionList(); err != nil {
			t.Error(err)
		}
		r.Elections()
		r.Contains("80", e.ID)
		Resolve(r, e.ID.String()[:8])
		Resolve(r, "80~1")
		r.Close()
		checkUnchanged(t, fmt.Sprintf("reading with %+v", opts), before, treeState(t, dir))
	}
}

func TestGitCompatible(t *testing.T) {
	s, dir := openGit(t)
	big := bigDocument(t)
	sn := snap("80", 13392, t0, snapshot.File{Name: snapshot.LegacyRawFile, Data: big})
	sn.PrecinctsReporting = "760 of 763 (99.61%)"
	e1 := mustPut(t, s, snap("80", 1313, t0.Add(-time.Hour), docs(1313, "a")...))
	e2 := mustPut(t, s, sn)
	mustPut(t, s, snap("81", 1, t0, docs(1, "a")...))
	checkGitClean(t, dir) // HEAD still unborn: only elections

	if _, err := s.PutElectionList(context.Background(), []byte("[]"), t0, "http://x"); err != nil {
		t.Fatal(err)
	}
	checkGitClean(t, dir)
	if got := mustGit(t, dir, "log", "--format=%s"); got != "election list\n" {
		t.Errorf("git log = %q, want the election list commit", got)
	}

	branch := "refs/heads/elections/80"
	tests := []struct{ args, want string }{
		{"rev-parse " + branch, e2.Commit + "\n"},
		{"rev-parse " + branch + "^{tree}", e2.ID.String() + "\n"},
		{"rev-parse " + branch + "~1^{tree}", e1.ID.String() + "\n"},
		{"rev-list --count " + branch, "2\n"},
		{"rev-list --min-parents=2 --all", ""},
		{"log -1 --format=%s " + branch,
			"election 80 version 13392: 760 of 763 (99.61%) precincts reporting\n"},
		{"log -1 --format=%an|%ae|%at|%cn|%ce|%ct " + branch, fmt.Sprintf(
			"ctrunner|ctrunner@localhost|%d|ctrunner|ctrunner@localhost|%[1]d\n", t0.Unix())},
		{"log -1 --format=%(trailers:key=Version,valueonly) " + branch, "13392\n\n"},
		{"log -1 --format=%(trailers:key=Source,valueonly) " + branch, "fetched\n\n"},
		{"ls-tree " + branch, fmt.Sprintf("100644 blob %s\t%s\n",
			snapshot.BlobHash(big), snapshot.LegacyRawFile)},
	}
	for _, tt := range tests {
		if got := mustGit(t, dir, strings.Fields(tt.args)...); got != tt.want {
			t.Errorf("git %s = %q, want %q", tt.args, got, tt.want)
		}
	}
	blob := mustGit(t, dir, "cat-file", "blob", branch+":"+snapshot.LegacyRawFile)
	if blob != string(big) {
		t.Errorf("git cat-file of the big document: %d bytes, want %d", len(blob), len(big))
	}
	trailers := mustGit(t, dir, "log", "-1", "--format=%(trailers:only,unfold)", branch)
	wantTrailers := []string{
		"Election: 80", "Version: 13392", "Source: fetched",
		"Source-URL: http://127.0.0.1:8080/election/80/13392/",
		"Fetched-At: " + t0.Format(time.RFC3339Nano),
		"Precincts-Reporting: 760 of 763 (99.61%)",
		"Document: legacy-raw.json sha256:" + snapshot.SHA256(big),
	}
	if got := strings.Join(wantTrailers, "\n") + "\n\n"; trailers != got {
		t.Errorf("git trailers =\n%s\nwant\n%s", trailers, got)
	}
}

// TestLogReadsNoBlobs deletes every blob and expects Log to work.
func TestLogReadsNoBlobs(t *testing.T) {
	s, dir := openGit(t)
	var files []snapshot.File
	for v := int64(1); v <= 5; v++ {
		sn := snap("80", v, t0, docs(v, fmt.Sprint(v))...)
		mustPut(t, s, sn)
		files = append(files, sn.Files...)
	}
	s.Close()
	for _, f := range files {
		h := snapshot.BlobHash(f.Data).String()
		err := os.Remove(filepath.Join(dir, "objects", h[:2], h[2:]))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	entries, err := r.Log("80")
	if err != nil || len(entries) != 5 {
		t.Fatalf("Log without blobs = %d entries, %v; want 5, nil", len(entries), err)
	}
	if _, err := r.Load(entries[0]); err == nil {
		t.Errorf("Load without blobs = nil error, want one")
	}
}

var errFault = errors.New("injected fault")

// faultOps are writes whose every step a fault is injected into: the
// first makes the folders of a new store, the later ones reuse blobs.
var faultOps = []struct {
	name string
	do   func(s Store) error
}{
	{"first put", func(s Store) error {
		_, _, err := s.Put(context.Background(), snap("80", 1, t0, docs(1, "a")...))
		return err
	}},
	{"election list", func(s Store) error {
		_, err := s.PutElectionList(context.Background(), []byte("[1]"), t0, "")
		return err
	}},
	{"second put", func(s Store) error {
		_, _, err := s.Put(context.Background(), snap("80", 2, t0, docs(2, "b")...))
		return err
	}},
	{"new election", func(s Store) error {
		_, _, err := s.Put(context.Background(), snap("81", 1, t0, docs(1, "a")...))
		return err
	}},
	{"new list", func(s Store) error {
		_, err := s.PutElectionList(context.Background(), []byte("[2]"), t0, "")
		return err
	}},
}

func TestWriteFaults(t *testing.T) {
	s, dir := openGit(t)
	steps := map[string]bool{}
	for _, op := range faultOps {
		for n := 1; ; n++ {
			before := treeState(t, dir)
			calls, failed := 0, ""
			s.fault = func(step string) error {
				steps[step] = true
				if calls++; calls == n {
					failed = step
					return fmt.Errorf("%w at %s", errFault, step)
				}
				return nil
			}
			err := op.do(s)
			s.fault = nil
			if failed == "" {
				if err != nil {
					t.Fatalf("%s without a fault = %v", op.name, err)
				}
				break
			}
			if !errors.Is(err, errFault) {
				t.Fatalf("%s with a fault at %s = %v, want the fault", op.name, failed, err)
			}
			checkUnchanged(t, fmt.Sprintf("%s failing at %s", op.name, failed),
				before, treeState(t, dir))
		}
	}
	for _, step := range []string{"write journal", "write blob", "write commit",
		"rename ref", "sync ref", "remove journal"} {
		if !steps[step] {
			t.Errorf("step %q never had a fault injected", step)
		}
	}
	if got := len(mustLog(t, s, "80")); got != 2 {
		t.Errorf("len(Log(80)) = %d, want 2", got)
	}
	checkGitClean(t, dir)
}

// TestCancelDuringWrite cancels the context at each step of a write.
func TestCancelDuringWrite(t *testing.T) {
	s, dir := openGit(t)
	for _, op := range faultOps {
		for n := 1; ; n++ {
			before := treeState(t, dir)
			ctx, cancel := context.WithCancel(context.Background())
			calls, last := 0, ""
			s.fault = func(step string) error {
				if calls++; calls == n {
					cancel()
				}
				last = step
				return nil
			}
			err := opWithContext(ctx, s, op.name)
			s.fault = nil
			cancel()
			if calls < n {
				if err != nil {
					t.Fatalf("%s without cancelling = %v", op.name, err)
				}
				break
			}
			if err == nil {
				if calls != n || last != "remove journal" {
					t.Fatalf("%s cancelled at step %d of %d succeeded", op.name, n, calls)
				}
				break // cancelled after the last step: the write is done
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s cancelled at step %d = %v, want context.Canceled", op.name, n, err)
			}
			checkUnchanged(t, fmt.Sprintf("%s cancelled at step %d", op.name, n),
				before, treeState(t, dir))
		}
	}
	checkGitClean(t, dir)
}

// opWithContext runs the fault op named name with ctx.
func opWithContext(ctx context.Context, s Store, name string) error {
	var err error
	switch name {
	case "first put":
		_, _, err = s.Put(ctx, snap("80", 1, t0, docs(1, "a")...))
	case "second put":
		_, _, err = s.Put(ctx, snap("80", 2, t0, docs(2, "b")...))
	case "new election":
		_, _, err = s.Put(ctx, snap("81", 1, t0, docs(1, "a")...))
	case "election list":
		_, err = s.PutElectionList(ctx, []byte("[1]"), t0, "")
	case "new list":
		_, err = s.PutElectionList(ctx, []byte("[2]"), t0, "")
	}
	return err
}

func TestReadOnlyObjects(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("permissions do not bind root")
	}
	s, dir := openGit(t)
	mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	objects := filepath.Join(dir, "objects")
	var dirs []string
	filepath.WalkDir(objects, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for _, d := range dirs {
		os.Chmod(d, 0o555)
	}
	defer func() {
		for _, d := range dirs {
			os.Chmod(d, 0o755)
		}
	}()
	before := treeState(t, dir)
	if _, _, err := s.Put(context.Background(), snap("80", 2, t0, docs(2, "b")...)); err == nil {
		t.Errorf("Put into read-only objects = nil error, want one")
	}
	checkUnchanged(t, "a Put into read-only objects", before, treeState(t, dir))
}

// TestRefMovedDuringWrite makes the branch move between the start of a
// write and its compare-and-swap, which must then refuse.
func TestRefMovedDuringWrite(t *testing.T) {
	s, dir := openGit(t)
	e1 := mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	e2 := mustPut(t, s, snap("80", 2, t0, docs(2, "b")...))
	before := treeState(t, dir)
	ref := filepath.Join(dir, "refs", "heads", "elections", "80")
	s.fault = func(step string) error {
		if step == "check ref" {
			return os.WriteFile(ref, []byte(e1.Commit+"\n"), 0o666)
		}
		return nil
	}
	_, _, err := s.Put(context.Background(), snap("80", 3, t0, docs(3, "c")...))
	s.fault = nil
	if err == nil || !strings.Contains(err.Error(), "moved from "+e2.Commit+" to "+e1.Commit) {
		t.Errorf("Put after the branch moved = %v, want a moved-branch error", err)
	}
	if got, _ := os.ReadFile(ref); string(got) != e1.Commit+"\n" {
		t.Errorf("ref after refused swap = %q, want the other writer's %q", got, e1.Commit)
	}
	os.WriteFile(ref, []byte(e2.Commit+"\n"), 0o666)
	checkUnchanged(t, "a refused swap", before, treeState(t, dir))
}

func TestDamagedRefs(t *testing.T) {
	s, dir := openGit(t)
	mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	ref := filepath.Join(dir, "refs", "heads", "elections", "85")
	if err := os.WriteFile(ref, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Log("85"); err == nil || errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "empty ref file") {
		t.Errorf("Log(empty ref) = %v, want an empty-ref error", err)
	}
	if _, _, err := s.Put(context.Background(), snap("85", 1, t0, docs(1, "a")...)); err == nil {
		t.Errorf("Put onto an empty ref = nil error, want one")
	}
	os.WriteFile(ref, []byte("0123456789012345678901234567890123456789\n"), 0o666)
	if _, err := s.Log("85"); err == nil {
		t.Errorf("Log(ref to a missing commit) = nil error, want one")
	}

	// A commit file whose content does not match its name.
	e := mustPut(t, s, snap("86", 1, t0, docs(1, "a")...))
	other := mustPut(t, s, snap("87", 1, t0, docs(1, "b")...))
	path := func(h string) string { return filepath.Join(dir, "objects", h[:2], h[2:]) }
	data, err := os.ReadFile(path(other.Commit))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path(e.Commit), 0o644)
	os.WriteFile(path(e.Commit), data, 0o444)
	// The log index holds a checked copy of the commit, which Log would
	// read instead: take it away to make Log read the damaged object.
	os.RemoveAll(filepath.Join(dir, logIndexDir))
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Log("86"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Log(damaged commit) = %v, want a damaged-object error", err)
	}
}

// TestGitMaintenance packs refs and objects with git and expects the store
// to read and write on.
func TestGitMaintenance(t *testing.T) {
	s, dir := openGit(t)
	ctx := context.Background()
	for v := int64(1); v <= 3; v++ {
		mustPut(t, s, snap("80", v, t0, docs(v, "a")...))
	}
	mustPut(t, s, snap("81", 1, t0, docs(1, "z")...))
	if _, err := s.PutElectionList(ctx, []byte("[]"), t0, ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	mustGit(t, dir, "gc", "--quiet", "--prune=now")
	if _, err := os.Stat(filepath.Join(dir, "refs", "heads", "elections", "80")); err == nil {
		t.Fatal("git gc left the refs loose; the test needs them packed")
	}

	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids, err := r.Elections()
	if err != nil || fmt.Sprint(ids) != "[80 81]" {
		t.Errorf("Elections() after gc = %v, %v; want [80 81]", ids, err)
	}
	entries := mustLog(t, r, "80")
	if len(entries) != 3 {
		t.Fatalf("len(Log(80)) after gc = %d, want 3", len(entries))
	}
	if _, err := r.Load(entries[0]); err != nil {
		t.Errorf("Load after gc = %v", err)
	}
	// A blob already in a pack is not written again.
	before := treeState(t, dir)
	e := mustPut(t, r, snap("80", 4, t0, docs(3, "a")...))
	after := treeState(t, dir)
	if added := diffStates(before, after); strings.Count(added, "\n+ objects/") > 2 {
		t.Errorf("Put of packed documents wrote more than a commit:\n%s", added)
	}
	if got := mustLog(t, r, "80"); len(got) != 4 || got[0].Commit != e.Commit {
		t.Errorf("Log(80) after a put on packed refs: %d entries, newest %s; want 4, %s",
			len(got), got[0].Commit, e.Commit)
	}
	checkGitClean(t, dir)
}

func TestLockBusy(t *testing.T) {
	s, dir := openGit(t)
	mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dir)

	w, err := Open(dir, Options{LockWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	_, _, err = w.Put(context.Background(), snap("80", 2, t0, docs(2, "b")...))
	want := fmt.Sprintf("store %s is busy: another ctrunner process is writing (waited 50ms)", dir)
	if !errors.Is(err, ErrBusy) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Put while locked = %v, want %q", err, want)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("Put while locked gave up after %v, want at least 50ms", waited)
	}

	// The same store from this process is refused as well.
	s.lockWait = -1
	if _, err := s.PutElectionList(context.Background(), []byte("[]"), t0, ""); err == nil {
		t.Errorf("PutElectionList while locked = nil error, want one")
	}

	// A cancelled context ends the wait.
	s.lockWait = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, _, err = s.Put(ctx, snap("80", 2, t0, docs(2, "b")...))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put while locked with a deadline = %v, want context.DeadlineExceeded", err)
	}
	checkUnchanged(t, "refused writes", before, treeState(t, dir))

	// Readers do not wait for the lock.
	if _, err := w.Log("80"); err != nil {
		t.Errorf("Log while locked = %v", err)
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	mustPut(t, w, snap("80", 2, t0, docs(2, "b")...))
}

// TestConcurrentProcesses has two child processes and two Store values in
// this process write into one store at once.
func TestConcurrentProcesses(t *testing.T) {
	s, dir := openGit(t)
	s.Close()

	var children []*exec.Cmd
	var outputs []*bytes.Buffer
	for _, tag := range []string{"p1", "p2"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), writerDirEnv+"="+dir, writerTagEnv+"="+tag)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
		outputs = append(outputs, out)
	}
	// A reader in the meantime must always find what the refs name.
	done, readErr := make(chan struct{}), make(chan error, 1)
	go func() { readErr <- readUntil(dir, done) }()

	tags := []string{"p1", "p2"}
	errs := make(chan error, 4)
	for _, tag := range []string{"s1", "s2", "s3", "s4"} {
		tags = append(tags, tag)
		go func() { errs <- runWriter(dir, tag) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i, cmd := range children {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer process %d: %v: %s", i, err, outputs[i])
		}
	}
	close(done)
	if err := <-readErr; err != nil {
		t.Errorf("reading during the writes: %v", err)
	}

	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := map[snapshot.ElectionID]map[snapshot.Hash]int{}
	for _, tag := range tags {
		for i := range writerPuts {
			sn := writerSnapshot(tag, i)
			if want[sn.Election] == nil {
				want[sn.Election] = map[snapshot.Hash]int{}
			}
			want[sn.Election][sn.ID()]++
		}
	}
	for id, ids := range want {
		got := map[snapshot.Hash]int{}
		for _, e := range mustLog(t, r, id) {
			got[e.ID]++
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("Log(%s) holds %v, want each of %v once", id, got, ids)
		}
		count := mustGit(t, dir, "rev-list", "--count", "refs/heads/elections/"+string(id))
		if n, _ := strconv.Atoi(strings.TrimSpace(count)); n != len(tags)*writerPuts/2 {
			t.Errorf("git rev-list --count elections/%s = %s, want %d",
				id, count, len(tags)*writerPuts/2)
		}
	}
	checkGitClean(t, dir)
}

// readUntil logs and loads the latest snapshot of election 80 in dir, over
// and over until done is closed.
func readUntil(dir string, done <-chan struct{}) error {
	r, err := Open(dir, Options{})
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		select {
		case <-done:
			return nil
		default:
		}
		entries, err := r.Log("80")
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := r.Load(entries[0]); err != nil {
			return err
		}
	}
}
