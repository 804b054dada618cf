package main

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
	"ctrunner/snapshot"
)

// Budgets of TestKillArchive, for each backend.
const (
	killRounds   = 60
	killMinRound = 50               // rounds run even if slow
	killBudget   = 20 * time.Second // no new round starts after this
	killMaxDelay = 150 * time.Millisecond
)

// ctrunnerExec runs the ctrunner binary that TestMain put on PATH and
// returns its stdout, stderr and exit code.
func ctrunnerExec(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("ctrunner", args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("running ctrunner %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// mustCtrunner runs ctrunner and fails the test unless it exits 0.
func mustCtrunner(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := ctrunnerExec(t, args...)
	if code != 0 {
		t.Fatalf("ctrunner %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// checkFsck fails the test unless git fsck, if git is installed, finds
// the store sound. Objects that no ref names (the leftovers of a killed
// write) are accepted unless strict is set.
func checkFsck(t *testing.T, dir string, strict bool) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return
	}
	args := []string{"--git-dir", dir, "fsck", "--strict", "--no-progress", "--no-dangling"}
	if strict {
		args = append(args[:4], "--unreachable", "--no-reflogs")
	}
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"HOME="+t.TempDir(), "LC_ALL=C")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || out.Len() > 0 || errOut.Len() > 0 {
		t.Fatalf("git %s: %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), err, &out, &errOut)
	}
}

// logLines lists every snapshot in the store, one JSON line each.
func logLines(t *testing.T, dir string) map[string]int {
	t.Helper()
	lines := map[string]int{}
	for _, l := range strings.Split(mustCtrunner(t, "log", "--json", "--store", dir), "\n") {
		if l != "" {
			lines[l]++
		}
	}
	return lines
}

// leftovers lists the files under dir that only an unfinished write
// leaves: the journal, the ref's temporary file, temporary objects.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if name == "ctrunner-txn" || name == "ctrunner-ref.tmp" ||
			strings.HasPrefix(name, "tmp_obj_") || strings.HasPrefix(name, ".tmp-") {
			rel, _ := filepath.Rel(dir, p)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestKillArchive kills ctrunner archive with SIGKILL at random moments,
// over and over, while the fake API keeps publishing new versions, on
// each backend. After every kill the store must pass verify (and git
// fsck) and still hold every snapshot it held before, including those of
// every run that reported success; after a final normal run, nothing of
// the killed writes may remain.
func TestKillArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("the kill loop is skipped in -short mode")
	}
	for _, backend := range []string{"git", "zstd"} {
		t.Run(backend, func(t *testing.T) { killArchive(t, backend) })
	}
}

func killArchive(t *testing.T, backend string) {
	srv, err := feedtest.Start(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "store")
	archive := []string{"archive", "--api", srv.URL, "--store", dir, "--retries", "0",
		"--backend", backend}
	mustCtrunner(t, archive...)
	fsck := func(strict bool) {
		if backend == "git" {
			checkFsck(t, dir, strict)
		}
	}

	seed := time.Now().UnixNano()
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	changing := []snapshot.ElectionID{"80", "81", "82"}
	versions := map[snapshot.ElectionID][]snapshot.Version{}
	for _, id := range changing {
		versions[id] = srv.Archive().Versions(id)
	}

	setVersions := func(round int) {
		for i, id := range changing {
			vs := versions[id]
			srv.SetVersion(id, vs[(round+i)%len(vs)])
		}
	}

	// Kills after a run would have finished test nothing: time one run
	// that writes, and kill no later than that.
	setVersions(-1 + len(versions["80"]))
	start := time.Now()
	mustCtrunner(t, archive...)
	maxDelay := min(killMaxDelay, time.Since(start))
	t.Logf("an uninterrupted run took %v; kills within %v", time.Since(start), maxDelay)

	start = time.Now()
	var rounds, finished, journals int
	for ; rounds < killRounds; rounds++ {
		if rounds >= killMinRound && time.Since(start) > killBudget {
			break
		}
		setVersions(rounds)
		before := logLines(t, dir)

		cmd := exec.Command("ctrunner", archive...)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.Int64N(int64(maxDelay)))
		time.Sleep(delay)
		cmd.Process.Kill()
		err := cmd.Wait()
		if err == nil {
			finished++
		} else if cmd.ProcessState.ExitCode() != -1 {
			t.Fatalf("round %d: archive failed before the kill: %v", rounds, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "ctrunner-txn")); err == nil {
			journals++
		}
		t.Logf("round %d: killed after %v (finished: %v)", rounds, delay, err == nil)

		after := logLines(t, dir)
		for line, n := range before {
			if after[line] < n {
				t.Fatalf("round %d: snapshot lost by a kill after %v: %s", rounds, delay, line)
			}
		}
		if err == nil {
			checkReported(t, stdout.String(), after)
		}
		mustCtrunner(t, "verify", "--store", dir)
		fsck(false)
	}
	t.Logf("%d rounds in %v: %d finished before the kill, %d killed mid-write "+
		"(journal left)", rounds, time.Since(start).Round(time.Millisecond), finished, journals)

	mustCtrunner(t, archive...)
	if found := leftovers(t, dir); len(found) > 0 {
		t.Errorf("after a normal run the store still holds %q", found)
	}
	mustCtrunner(t, "verify", "--read-data", "--store", dir)
	fsck(true)
}

// checkReported fails the test unless every "new snapshot ID" that a
// finished archive printed is in the log.
func checkReported(t *testing.T, stdout string, log map[string]int) {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		_, id, ok := strings.Cut(line, ": new snapshot ")
		if !ok {
			continue
		}
		found := false
		for l := range log {
			if strings.Contains(l, `"id":"`+id) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("a run that reported %q finished, but the log lacks it", line)
		}
	}
}

// TestConcurrentArchive runs two archive processes into one new store at
// once, on each backend: both must succeed (the second waits for the
// lock), and every snapshot must be stored exactly once.
func TestConcurrentArchive(t *testing.T) {
	for _, backend := range []string{"git", "zstd"} {
		t.Run(backend, func(t *testing.T) {
			srv, err := feedtest.Start(feedtest.TestdataDir())
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			dir := filepath.Join(t.TempDir(), "store")
			args := []string{"archive", "--api", srv.URL, "--store", dir, "--backend", backend}
			done := make(chan string, 2)
			for range 2 {
				go func() {
					_, stderr, code := ctrunnerExec(t, args...)
					if code != 0 {
						done <- stderr
						return
					}
					done <- ""
				}()
			}
			for range 2 {
				if msg := <-done; msg != "" {
					t.Errorf("one of two concurrent archives failed: %s", msg)
				}
			}
			log := logLines(t, dir)
			if len(log) != len(srv.Archive().Elections()) {
				t.Errorf("after two concurrent archives the log has %d snapshots, want %d",
					len(log), len(srv.Archive().Elections()))
			}
			for line, n := range log {
				if n != 1 {
					t.Errorf("snapshot stored %d times: %s", n, line)
				}
			}
			mustCtrunner(t, "verify", "--read-data", "--store", dir)
		})
	}
}

// TestFullDisk archives into a store on a small tmpfs that fills up
// during the write: ctrunner must fail with one clear line and leave the
// store exactly as it was, and succeed once there is room.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmounting %s: %v", mnt, err)
		}
	})
	srv, err := feedtest.Start(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := filepath.Join(mnt, "store")
	api := []string{"--api", srv.URL, "--store", dir, "--retries", "0"}
	mustCtrunner(t, append([]string{"archive", "-e", "24,35"}, api...)...)

	// Leave far less room than election 80's documents need, compressed.
	var fsStat syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fsStat); err != nil {
		t.Fatal(err)
	}
	const room = 64 << 10
	free := int64(fsStat.Bavail) * fsStat.Bsize
	padding := filepath.Join(mnt, "padding")
	if err := os.WriteFile(padding, make([]byte, free-room), 0o644); err != nil {
		t.Fatalf("filling the tmpfs: %v", err)
	}
	before, err := dirDigest(dir)
	if err != nil {
		t.Fatal(err)
	}

	archive80 := append([]string{"archive", "-e", "80"}, api...)
	stdout, stderr, code := ctrunnerExec(t, archive80...)
	if code != 1 {
		t.Errorf("archive onto a full disk: exit %d, want 1", code)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ctrunner: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "no space left on device") ||
		!strings.Contains(lines[0], "election 80") || !strings.Contains(lines[0], "writing") {
		t.Errorf("archive onto a full disk: stderr\n%s\nwant one ctrunner: line saying what "+
			"was being written and \"no space left on device\"", stderr)
	}
	t.Logf("stdout %q, stderr %q", stdout, stderr)
	if after, err := dirDigest(dir); err != nil || after != before {
		t.Errorf("archive onto a full disk changed the store (digest %s, want %s, %v)",
			after, before, err)
	}

	// A run over every election that runs out of room half way stores
	// nothing either, and a first run into a new store leaves no store.
	all := append([]string{"archive"}, api...)
	if _, stderr, code := ctrunnerExec(t, all...); code != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("archive of ALL onto a full disk: exit %d, stderr %q; want 1 and one line",
			code, stderr)
	}
	if after, err := dirDigest(dir); err != nil || after != before {
		t.Errorf("archive of ALL onto a full disk changed the store (digest %s, want %s, %v)",
			after, before, err)
	}
	fresh := filepath.Join(mnt, "fresh")
	if _, _, code := ctrunnerExec(t, "archive", "-e", "80", "--api", srv.URL, "--store", fresh); code != 1 {
		t.Errorf("archive into a new store on a full disk: exit %d, want 1", code)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed first archive left %s behind (%v)", fresh, err)
	}

	if err := os.Remove(padding); err != nil {
		t.Fatal(err)
	}
	mustCtrunner(t, archive80...)
	log := mustCtrunner(t, "log", "80", "--json", "--store", dir)
	if strings.Count(log, "\n") != 1 {
		t.Errorf("log 80 after the retry:\n%s\nwant one snapshot", log)
	}
	if found := leftovers(t, dir); len(found) > 0 {
		t.Errorf("after the retry the store holds %q", found)
	}
	checkFsck(t, dir, true)
}
