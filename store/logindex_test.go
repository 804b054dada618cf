package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"ctrunner/snapshot"
)

// logWithoutIndex lists the election's log from the repository's commits
// alone, in a copy of the store without its log index.
func logWithoutIndex(t *testing.T, dir, id string) []Entry {
	t.Helper()
	cp := copyStore(t, dir)
	if err := os.RemoveAll(filepath.Join(cp, logIndexDir)); err != nil {
		t.Fatal(err)
	}
	s := openDir(t, cp)
	defer s.Close()
	entries, err := s.Log(snapshot.ElectionID(id))
	if err != nil {
		t.Fatalf("Log without index: %v", err)
	}
	return entries
}

// indexedCommits returns the commit hashes the election's index holds, in
// file order.
func indexedCommits(t *testing.T, dir, id string) []string {
	t.Helper()
	records, _, err := readLogIndex(dir, snapshot.ElectionID(id))
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, r := range records {
		hashes = append(hashes, r.hash.String())
	}
	return hashes
}

// commitsOldestFirst lists the commits of a log, oldest first.
func commitsOldestFirst(entries []Entry) []string {
	var hashes []string
	for i := len(entries) - 1; i >= 0; i-- {
		hashes = append(hashes, entries[i].Commit)
	}
	return hashes
}

// checkLog compares the election's log read through a fresh Store (so
// through the index) with the log read from the commits alone.
func checkLog(t *testing.T, what, dir, id string, want int) {
	t.Helper()
	s := openDir(t, dir)
	got, err := s.Log(snapshot.ElectionID(id))
	s.Close()
	if err != nil {
		t.Fatalf("%s: Log = %v", what, err)
	}
	if len(got) != want {
		t.Errorf("%s: Log has %d entries, want %d", what, len(got), want)
	}
	if plain := logWithoutIndex(t, dir, id); !reflect.DeepEqual(got, plain) {
		t.Errorf("%s: Log through the index differs from Log from the commits:\n%v\n%v",
			what, got, plain)
	}
}

func TestLogIndex(t *testing.T) {
	t.Parallel()
	s, dir := openGit(t)
	for v := range int64(5) {
		mustPut(t, s, snap("80", v, t0.Add(time.Duration(v)*time.Minute), docs(v, "a")...))
	}
	// A batch of several snapshots of two elections.
	err := s.Update(context.Background(), func(b Batch) error {
		for v := int64(5); v < 8; v++ {
			for _, id := range []string{"80", "81"} {
				if _, _, err := b.Put(snap(id, v, t0.Add(time.Duration(v)*time.Minute),
					docs(v, id)...)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	entries := logWithoutIndex(t, dir, "80")
	if got, want := indexedCommits(t, dir, "80"), commitsOldestFirst(entries); !reflect.DeepEqual(got, want) {
		t.Fatalf("index of 80 holds %v, want the branch's commits %v", got, want)
	}
	checkLog(t, "whole index", dir, "80", 8)
	checkLog(t, "whole index", dir, "81", 3)

	path := logIndexPath(dir, "80")
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// put writes one more snapshot and expects the index to hold the whole
	// branch again.
	v := int64(100)
	put := func(what string) {
		t.Helper()
		s := openDir(t, dir)
		mustPut(t, s, snap("80", v, t0.Add(time.Duration(v)*time.Minute), docs(v, "a")...))
		s.Close()
		v++
		want := commitsOldestFirst(logWithoutIndex(t, dir, "80"))
		if got := indexedCommits(t, dir, "80"); !reflect.DeepEqual(got, want) {
			t.Errorf("%s, then a write: index holds %d commits, want %d", what, len(got), len(want))
		}
	}

	// A torn last record (a crash in the middle of an append) is ignored
	// by readers and replaced by the next write.
	os.WriteFile(path, whole[:len(whole)-40], 0o644)
	if got := len(indexedCommits(t, dir, "80")); got != 7 {
		t.Errorf("torn index: %d whole records, want 7", got)
	}
	checkLog(t, "torn index", dir, "80", 8)
	put("torn index")

	// A damaged record ends what readers take from the index; the next
	// write, finding the index short of the branch, rewrites it.
	whole, _ = os.ReadFile(path)
	damaged := append([]byte(nil), whole...)
	damaged[len(damaged)/2] ^= 0x20
	os.WriteFile(path, damaged, 0o644)
	if got := len(indexedCommits(t, dir, "80")); got >= 9 {
		t.Errorf("damaged index: %d records taken, want fewer than 9", got)
	}
	checkLog(t, "damaged index", dir, "80", 9)
	put("damaged index")

	// An index behind the branch (the process died after moving the
	// branch, or plain git added a commit) and an index of another
	// history (the branch was rewritten) only cost time.
	s = openDir(t, dir)
	mustPut(t, s, snap("80", 200, t0.Add(200*time.Minute), docs(200, "a")...))
	s.Close()
	os.WriteFile(path, whole, 0o644)
	checkLog(t, "index behind the branch", dir, "80", 11)
	put("index behind the branch")
	other, err := os.ReadFile(logIndexPath(dir, "81"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, other, 0o644)
	checkLog(t, "index of another branch", dir, "80", 12)
	put("index of another branch")

	// A store made before the index gets one at its next write.
	os.RemoveAll(filepath.Join(dir, logIndexDir))
	checkLog(t, "no index", dir, "80", 13)
	put("no index")
	if _, err := os.Stat(logIndexPath(dir, "81")); err == nil {
		t.Errorf("a write to election 80 indexed election 81")
	}
}

// TestLogIndexReadersWriteNothing checks that Log leaves a store without
// an index, or with a stale one, as it is.
func TestLogIndexReadersWriteNothing(t *testing.T) {
	t.Parallel()
	s, dir := openGit(t)
	for v := range int64(3) {
		mustPut(t, s, snap("80", v, t0, docs(v, "a")...))
	}
	s.Close()
	os.RemoveAll(filepath.Join(dir, logIndexDir))
	before := treeState(t, dir)
	r := openDir(t, dir)
	if entries, err := r.Log("80"); err != nil || len(entries) != 3 {
		t.Fatalf("Log = %d entries, %v", len(entries), err)
	}
	r.Close()
	checkUnchanged(t, "Log on a store without an index", before, treeState(t, dir))
}

func TestParseCommitContent(t *testing.T) {
	for _, bad := range []string{
		"",
		"tree 123\n\nmsg",
		"parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmsg",
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nno message",
	} {
		if _, _, _, err := parseCommitContent(bad); err == nil {
			t.Errorf("parseCommitContent(%q) = nil error", bad)
		}
	}
	tree, parent, msg, err := parseCommitContent(
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
			"parent 1111111111111111111111111111111111111111\n" +
			"parent 2222222222222222222222222222222222222222\n" +
			"author a <a> 1 +0000\n\nsubject\n\nKey: value\n")
	if err != nil || tree.String() != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" ||
		parent.String() != "1111111111111111111111111111111111111111" ||
		msg != "subject\n\nKey: value\n" {
		t.Errorf("parseCommitContent = %s, %s, %q, %v", tree, parent, msg, err)
	}
}

// TestLogIndexNotAFile: an index that is a named pipe, a link or a folder
// is no index. Log must neither block on a pipe nor read through a link,
// and the next write must put a real index in its place (a folder, which
// a write cannot replace, is left and only costs time).
func TestLogIndexNotAFile(t *testing.T) {
	t.Parallel()
	s, dir := openGit(t)
	for v := range int64(3) {
		mustPut(t, s, snap("80", v, t0.Add(time.Duration(v)*time.Minute), docs(v, "a")...))
	}
	s.Close()
	path := logIndexPath(dir, "80")
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "index")
	v := int64(10)
	for _, tc := range []struct {
		what string
		make func() error
	}{
		{"named pipe", func() error { return syscall.Mkfifo(path, 0o644) }},
		{"link", func() error {
			if err := os.WriteFile(elsewhere, whole, 0o644); err != nil {
				return err
			}
			return os.Symlink(elsewhere, path)
		}},
		{"folder", func() error { return os.Mkdir(path, 0o755) }},
	} {
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		if err := tc.make(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			checkLog(t, tc.what, dir, "80", int(v-7))
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("index is a %s: Log blocked", tc.what)
		}
		s := openDir(t, dir)
		mustPut(t, s, snap("80", v, t0.Add(time.Duration(v)*time.Minute), docs(v, "a")...))
		s.Close()
		v++
		if data, err := os.ReadFile(elsewhere); err == nil && !bytes.Equal(data, whole) {
			t.Errorf("index is a %s: a write wrote through it", tc.what)
		}
		fi, err := os.Lstat(path)
		if tc.what == "folder" {
			if err != nil || !fi.IsDir() {
				t.Errorf("index was a folder: now %v, %v", fi, err)
			}
			continue
		}
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("index was a %s: after a write it is %v, %v", tc.what, fi, err)
			continue
		}
		want := commitsOldestFirst(logWithoutIndex(t, dir, "80"))
		if got := indexedCommits(t, dir, "80"); !reflect.DeepEqual(got, want) {
			t.Errorf("index was a %s: after a write it holds %d commits, want %d", tc.what,
				len(got), len(want))
		}
	}
}

// TestLogIndexEndRemembered checks that a store appending to an index it
// wrote last notices another writer's records in between.
func TestLogIndexEndRemembered(t *testing.T) {
	t.Parallel()
	a, dir := openGit(t)
	mustPut(t, a, snap("80", 1, t0, docs(1, "a")...))
	b := openDir(t, dir)
	mustPut(t, b, snap("80", 2, t0, docs(2, "a")...)) // appended behind a's back
	b.Close()
	mustPut(t, a, snap("80", 3, t0, docs(3, "a")...))
	a.Close()
	want := commitsOldestFirst(logWithoutIndex(t, dir, "80"))
	if got := indexedCommits(t, dir, "80"); !reflect.DeepEqual(got, want) {
		t.Errorf("index holds %v, want the branch's %v", got, want)
	}
}
