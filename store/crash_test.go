package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// errCrash is the fault that stands for a kill in the crash tests.
var errCrash = errors.New("simulated crash")

// copyStore copies the store in dir, modes included, to a fresh folder
// and returns that folder.
func copyStore(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "store")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Mkdir(target, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil // a pipe or link a test put there; a store makes none
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o600); err != nil {
			return err
		}
		return os.Chmod(target, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying store: %v", err)
	}
	return dst
}

// openDir opens the existing store in dir and closes it after the test.
func openDir(t *testing.T, dir string) *gitStore {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*gitStore)
}

// crashAt runs op on the store in dir and makes it die, without undoing
// anything, at the n-th step of its write. It returns the step, or "" if
// the write has fewer steps and completed.
func crashAt(t *testing.T, dir string, n int, op func(Store) error) string {
	t.Helper()
	s := openDir(t, dir)
	s.dieOnFault = true
	calls, failed := 0, ""
	s.fault = func(step string) error {
		if calls++; calls == n {
			failed = step
			return errCrash
		}
		return nil
	}
	err := op(s)
	s.Close()
	switch {
	case failed == "" && err != nil:
		t.Fatalf("write without a crash = %v", err)
	case failed != "" && !errors.Is(err, errCrash):
		t.Fatalf("write crashing at %s = %v, want the crash", failed, err)
	}
	return failed
}

// refMovedBefore reports whether a write that died at step is kept by
// recovery. None is: until its journal is removed, a write is undone,
// even after its refs moved.
func refMovedBefore(step string) bool {
	return false
}

// haveGit reports whether the git CLI is installed.
func haveGit() bool {
	_, err := exec.LookPath("git")
	return err == nil
}

// checkFsck runs git fsck, if git is installed, on a store that may hold
// the leftovers of a killed write: dangling objects are accepted, nothing
// else.
func checkFsck(t *testing.T, dir string) {
	t.Helper()
	if !haveGit() {
		return
	}
	out, errOut, err := runGit(t, dir, "fsck", "--strict", "--no-dangling", "--no-progress")
	if _, serr := os.Stat(filepath.Join(dir, "refs", "heads", "election-list")); serr != nil {
		errOut = strings.TrimPrefix(errOut,
			"notice: HEAD points to an unborn branch (election-list)\n")
		errOut = strings.TrimPrefix(errOut, "notice: No default references\n")
	}
	if err != nil || out != "" || errOut != "" {
		t.Errorf("git fsck = %v, stdout %q, stderr %q", err, out, errOut)
	}
}

// TestCrashRecovery kills each write of faultOps at each of its steps,
// then recovers the store with Recover or with the next write, and
// expects exactly the state before the write (killed before the ref
// moved) or after it (killed later), and a store that git accepts.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	base, baseDir := openGit(t)
	seen := map[string]bool{}
	for _, op := range faultOps {
		before := treeState(t, baseDir)
		afterDir := copyStore(t, baseDir)
		if err := op.do(openDir(t, afterDir)); err != nil {
			t.Fatalf("%s = %v", op.name, err)
		}
		after := treeState(t, afterDir)

		for n := 1; ; n++ {
			dir := copyStore(t, baseDir)
			step := crashAt(t, dir, n, op.do)
			if step == "" {
				break
			}
			seen[step] = true
			what := fmt.Sprintf("%s killed at step %d (%s)", op.name, n, step)
			want, wantName := before, "before"
			if refMovedBefore(step) {
				want, wantName = after, "after"
			}

			// A reader changes nothing, leftovers or not.
			crashed := treeState(t, dir)
			r := openDir(t, dir)
			r.Elections()
			r.Log("80")
			r.Close()
			checkUnchanged(t, what+", then read,", crashed, treeState(t, dir))
			checkFsck(t, dir)

			// Recovery by Recover, then by the next write, on a copy.
			dir2 := copyStore(t, dir)
			// Until the journal is written, there is nothing to recover.
			report, err := Recover(dir)
			wantReport := step != "read tip" && step != "write journal"
			if err != nil || (report != "") != wantReport {
				t.Fatalf("%s: Recover = %q, %v; want a report: %v", what, report, err, wantReport)
			}
			if got := treeState(t, dir); got != want {
				t.Fatalf("%s: after Recover (%s) the store is not as %s the write:\n%s",
					what, report, wantName, diffStates(want, got))
			}
			if err := op.do(openDir(t, dir)); err != nil {
				t.Fatalf("%s: the write again after Recover = %v", what, err)
			}
			checkUnchanged(t, what+", recovered and written again,", after, treeState(t, dir))
			if haveGit() {
				checkGitClean(t, dir)
			}

			if err := op.do(openDir(t, dir2)); err != nil {
				t.Fatalf("%s: the write again = %v", what, err)
			}
			checkUnchanged(t, what+", then written again,", after, treeState(t, dir2))
		}
		if err := op.do(base); err != nil {
			t.Fatalf("%s = %v", op.name, err)
		}
	}
	for _, step := range []string{"write journal", "write blob", "write tree", "write commit",
		"sync objects", "write ref", "rename ref", "sync ref", "remove journal"} {
		if !seen[step] {
			t.Errorf("no write was killed at step %q", step)
		}
	}
}

// crashed is a store in which a Put died.
type crashed struct {
	dir      string // the store with what the killed Put left
	before   string // the state of the store before the Put
	after    string // the state after the Put had it completed
	afterDir string // a copy of the store after the completed Put
}

// crashStore makes a store whose election 80 has one snapshot and kills a
// second Put at step.
func crashStore(t *testing.T, step string) crashed {
	t.Helper()
	s, dir := openGit(t)
	mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	s.Close()
	put := func(s Store) error {
		_, _, err := s.Put(context.Background(), snap("80", 2, t0, docs(2, "b")...))
		return err
	}
	c := crashed{before: treeState(t, dir), afterDir: copyStore(t, dir)}
	if err := put(openDir(t, c.afterDir)); err != nil {
		t.Fatal(err)
	}
	c.after = treeState(t, c.afterDir)
	for n := 1; ; n++ {
		c.dir = copyStore(t, dir)
		got := crashAt(t, c.dir, n, put)
		if got == "" {
			t.Fatalf("a Put has no step %q", step)
		}
		if got == step {
			return c
		}
	}
}

// TestTornJournal cuts the journal of a write short at every length and
// garbles it, and expects recovery to remove it and nothing else, since
// nothing it lists can have been created.
func TestTornJournal(t *testing.T) {
	t.Parallel()
	c := crashStore(t, "write blob")
	journalFile := filepath.Join(c.dir, journalName)
	journalData, err := os.ReadFile(journalFile)
	if err != nil {
		t.Fatalf("the killed write left no journal: %v", err)
	}
	os.Remove(journalFile)
	checkUnchanged(t, "a write killed after its journal", c.before, treeState(t, c.dir))

	garbled := bytes.Clone(journalData)
	garbled[len(garbled)/2] ^= 0x20
	cases := map[string][]byte{"garbled": garbled}
	for n := range len(journalData) {
		cases[fmt.Sprintf("cut at byte %d", n)] = journalData[:n]
	}
	// In the store before the write, and in the store after it, where
	// every file the journal lists exists and must stay.
	for _, dir := range []string{c.dir, c.afterDir} {
		want := treeState(t, dir)
		for name, data := range cases {
			if err := os.WriteFile(filepath.Join(dir, journalName), data, 0o644); err != nil {
				t.Fatal(err)
			}
			report, err := Recover(dir)
			if err != nil || !strings.Contains(report, "incomplete journal") {
				t.Fatalf("Recover with a journal %s = %q, %v; want an incomplete-journal report",
					name, report, err)
			}
			if got := treeState(t, dir); got != want {
				t.Fatalf("Recover with a journal %s changed the store:\n%s",
					name, diffStates(want, got))
			}
		}
	}
}

// TestJournalRefused gives recovery complete journals it must not act on.
func TestJournalRefused(t *testing.T) {
	s, dir := openGit(t)
	mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	s.Close()
	victim := filepath.Join(filepath.Dir(dir), "victim")
	os.WriteFile(victim, []byte("keep me"), 0o644)

	good := journal{refs: []refMove{{name: electionRef("80")}}, refTemp: refTempName}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"path outside the store", withObjects(good, "objects/../../victim"),
			"not a temporary object file"},
		{"folder outside objects", withDirs(good, "../victim"), "not a folder a write makes"},
		{"other format", []byte("ctrunner-txn 9\n" + endLine([]byte("ctrunner-txn 9\n"))),
			`not "ctrunner-txn 2" or "ctrunner-txn 1"`},
	}
	for _, tt := range tests {
		os.WriteFile(filepath.Join(dir, journalName), tt.data, 0o644)
		before := treeState(t, dir)
		report, err := Recover(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Recover(%s) = %q, %v; want an error containing %q",
				tt.name, report, err, tt.want)
		}
		if got, _ := os.ReadFile(victim); string(got) != "keep me" {
			t.Fatalf("Recover(%s) changed a file outside the store", tt.name)
		}
		checkUnchanged(t, "Recover("+tt.name+")", before, treeState(t, dir))

		// Writes refuse as well, until the journal is dealt with.
		_, _, err = openDir(t, dir).Put(context.Background(), snap("80", 2, t0, docs(2, "b")...))
		if err == nil || !strings.Contains(err.Error(), "remove "+filepath.Join(dir, journalName)) {
			t.Errorf("Put with journal %s = %v, want a hint to remove it", tt.name, err)
		}
	}
}

func withObjects(j journal, objects ...string) []byte {
	j.objects = objects
	for _, o := range objects {
		j.temps = append(j.temps, filepath.ToSlash(filepath.Join(filepath.Dir(o),
			goGitTempPrefix+strings.Repeat("0", 38))))
	}
	return j.encode()
}

func withDirs(j journal, dirs ...string) []byte {
	j.dirs = dirs
	return j.encode()
}

// TestRecoverInterrupted kills recovery itself after each removal, runs
// it again, and runs it a third time to find nothing to do.
func TestRecoverInterrupted(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"sync objects", "write ref", "remove journal"} {
		c := crashStore(t, step)
		want := c.before
		if refMovedBefore(step) {
			want = c.after
		}
		for k := 1; ; k++ {
			dir := copyStore(t, c.dir)
			calls := 0
			_, err := recoverWrite(dir, false, func(string) error {
				if calls++; calls == k {
					return errCrash
				}
				return nil
			})
			if err == nil {
				if k == 1 {
					t.Fatalf("recovery after a kill at %s removed nothing", step)
				}
				break
			}
			if _, err := os.Stat(filepath.Join(dir, journalName)); err != nil {
				t.Fatalf("recovery killed at removal %d lost its journal: %v", k, err)
			}
			checkFsck(t, dir)
			for i, wantReport := range []bool{true, false} {
				report, err := Recover(dir)
				if err != nil || (report != "") != wantReport {
					t.Fatalf("Recover #%d after recovery killed at removal %d = %q, %v",
						i+1, k, report, err)
				}
				if got := treeState(t, dir); got != want {
					t.Fatalf("Recover #%d after recovery killed at removal %d:\n%s",
						i+1, k, diffStates(want, got))
				}
			}
			mustPut(t, openDir(t, dir), snap("80", 3, t0, docs(3, "c")...))
		}
	}
}

// TestJournalV1 recovers from journals that earlier versions wrote, of
// one commit on one branch, as those versions did: the write is kept if
// its branch moved, and undone if not.
func TestJournalV1(t *testing.T) {
	s, dir := openGit(t)
	e := mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	s.Close()
	before := treeState(t, dir)
	obj := "objects/ab/" + strings.Repeat("c", 38)
	v1 := func(old, new string) []byte {
		body := "ctrunner-txn 1\nbranch refs/heads/elections/80\nold " + old + "\nnew " + new +
			"\ndir objects/ab\ntemp objects/ab/" + goGitTempPrefix + strings.Repeat("c", 38) +
			"\nobject " + obj + "\nref-temp " + refTempName + "\n"
		return []byte(body + endLine([]byte(body)))
	}
	zeros := strings.Repeat("0", 40)
	tests := []struct {
		name, old, new string
		wantReport     string
		keep           bool
	}{
		{"not moved", zeros, strings.Repeat("d", 40), "undid an interrupted write", false},
		{"moved", zeros, e.Commit, "finished an interrupted write", true},
	}
	for _, tt := range tests {
		os.MkdirAll(filepath.Join(dir, "objects", "ab"), 0o777)
		os.WriteFile(filepath.Join(dir, filepath.FromSlash(obj)), []byte("x"), 0o444)
		os.WriteFile(filepath.Join(dir, journalName), v1(tt.old, tt.new), 0o644)
		report, err := Recover(dir)
		if err != nil || !strings.HasPrefix(report, tt.wantReport) {
			t.Errorf("Recover(%s) = %q, %v; want %q", tt.name, report, err, tt.wantReport)
		}
		_, serr := os.Stat(filepath.Join(dir, filepath.FromSlash(obj)))
		if kept := serr == nil; kept != tt.keep {
			t.Errorf("Recover(%s) kept the object: %v, want %v", tt.name, kept, tt.keep)
		}
		os.Remove(filepath.Join(dir, filepath.FromSlash(obj)))
		os.Remove(filepath.Join(dir, "objects", "ab"))
		checkUnchanged(t, "Recover("+tt.name+") and removing the object", before,
			treeState(t, dir))
	}
}

// readerView describes what a reader of the git store in dir sees: its
// elections, each one's log and publications, and the election list.
func readerView(t *testing.T, dir string) string {
	t.Helper()
	s := openDir(t, dir)
	defer s.Close()
	var b strings.Builder
	ids, err := s.Elections()
	if err != nil {
		t.Fatalf("Elections = %v", err)
	}
	for _, id := range ids {
		log, err := s.Log(id)
		if err != nil {
			t.Fatalf("Log(%s) = %v", id, err)
		}
		fmt.Fprintf(&b, "election %s:", id)
		for _, e := range log {
			fmt.Fprintf(&b, " %s", e.Commit[:12])
		}
		pubs, err := s.Publications(id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("Publications(%s) = %v", id, err)
		}
		fmt.Fprintf(&b, "; %d publications\n", len(pubs))
	}
	list, at, err := s.ElectionList()
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatalf("ElectionList = %v", err)
	}
	fmt.Fprintf(&b, "list %q at %v\n", list, at)
	return b.String()
}

// TestReadersSeeOnlyFinishedWrites kills each write at each of its steps
// and checks that readers see the store as recovery will leave it: a
// write that moved its branches but did not finish is undone by the next
// writer, so what a reader saw of it would disappear.
func TestReadersSeeOnlyFinishedWrites(t *testing.T) {
	t.Parallel()
	base, baseDir := openGit(t)
	mustPut(t, base, snap("80", 9, t0, docs(9, "z")...))
	base.Close()
	ops := append(faultOps[:len(faultOps):len(faultOps)], struct {
		name string
		do   func(s Store) error
	}{"publish", func(s Store) error {
		e, err := Resolve(s, "80")
		if err == nil {
			_, err = s.Publish(context.Background(), e, t0, "test")
		}
		return err
	}})
	for _, op := range ops {
		for n := 1; ; n++ {
			dir := copyStore(t, baseDir)
			before := readerView(t, dir)
			step := crashAt(t, dir, n, op.do)
			if step == "" {
				break
			}
			seen := readerView(t, dir)
			if _, err := Recover(dir); err != nil {
				t.Fatalf("%s killed at %s: Recover = %v", op.name, step, err)
			}
			if after := readerView(t, dir); seen != after || seen != before {
				t.Errorf("%s killed at step %d (%s): readers saw\n%s\nbefore the kill\n%s\nand after recovery\n%s",
					op.name, n, step, seen, before, after)
			}
		}
	}
}
