package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// TestWatchNight runs ctrunner watch as a program against a fake API
// serving a simulated night whose version the test steps forward, with
// one suspect version (the counts of an earlier one). Every version must
// be stored, every clean one published into the publish folder, one log
// line written per new version, and SIGINT must end it with exit 0 and no
// temporary files. A rollback then shows the previous snapshot in the
// store, in status and in the publish folder.
func TestWatchNight(t *testing.T) {
	work := t.TempDir()
	night := filepath.Join(work, "night")
	mustCtrunner(t, "simulate", "--from-file",
		filepath.Join(feedtest.TestdataDir(), "24", "raw.json"), "--legacy-dir", night,
		"--versions", "8")
	srv, err := feedtest.Start(night)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	versions := srv.Archive().Versions("24")
	if len(versions) != 8 {
		t.Fatalf("simulated night has %d versions, want 8", len(versions))
	}
	srv.SetVersion("24", versions[0])
	const bad = 5
	earlier, err := srv.Archive().Read("24", versions[2])
	if err != nil {
		t.Fatal(err)
	}
	_, earlierED, _, err := legacy.Split(earlier.Raw)
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(fmt.Sprintf("election/24/%s/%s", versions[bad], snapshot.ElectionDataFile),
		feedtest.Fault{Kind: feedtest.Status, Status: 200, Body: string(earlierED)})

	dir, pub := filepath.Join(work, "store"), filepath.Join(work, "pub")
	cmd := exec.Command("ctrunner", "watch", "--api", srv.URL, "--store", dir,
		"--election", "ALL", "--interval", "50ms", "--publish-dir", pub,
		"--log-format", "json", "--heartbeat", "200ms")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for _, v := range versions {
		srv.SetVersion("24", v)
		waitStored(t, dir, "24", v, &stderr)
	}
	time.Sleep(300 * time.Millisecond) // a heartbeat or two
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("watch exited %d (%v) after SIGINT; stderr:\n%s", code, err, &stderr)
	}
	if stdout.Len() > 0 {
		t.Errorf("watch wrote to stdout: %q", stdout.String())
	}
	msgs := logMessages(t, stderr.Bytes())
	got := msgs["new version"] + msgs["suspect version"]
	if got != 8 || msgs["suspect version"] != 1 {
		t.Errorf("%d lines for new versions (%d suspect), want 8 (1)", got, msgs["suspect version"])
	}
	if msgs["heartbeat"] == 0 || msgs["stopped"] != 1 {
		t.Errorf("log messages %v: want heartbeats and one stopped", msgs)
	}
	if left := leftovers(t, dir); len(left) > 0 {
		t.Errorf("temporary files left in the store: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(pub, ".*.link-*")); len(left) > 0 {
		t.Errorf("temporary links left in the publish folder: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(pub, ".versions", ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary folders left in the publish folder: %v", left)
	}

	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.Log("24")
	if err != nil {
		t.Fatal(err)
	}
	var stored, published []snapshot.Version
	for i := len(entries) - 1; i >= 0; i-- {
		stored = append(stored, entries[i].Version)
	}
	pubs, err := st.Publications("24")
	if err != nil {
		t.Fatal(err)
	}
	for i := len(pubs) - 1; i >= 0; i-- {
		published = append(published, pubs[i].Entry.Version)
	}
	st.Close()
	wantPublished := slices.Delete(slices.Clone(versions), bad, bad+1)
	if !slices.Equal(stored, versions) || !slices.Equal(published, wantPublished) {
		t.Errorf("stored %v, published %v; want %v and %v", stored, published, versions,
			wantPublished)
	}
	checkPublished(t, pub, versions[7])

	// Roll back: the previous publication (the suspect version was never
	// published) is the new published snapshot everywhere, the publish
	// folder watch used included, without naming it again.
	out := mustCtrunner(t, "rollback", "24", "--store", dir)
	want := fmt.Sprintf("election 24 version %s: published ", versions[6])
	if !strings.HasPrefix(out, want) {
		t.Errorf("rollback printed %q, want %q…", out, want)
	}
	var status electionStatus
	if err := json.Unmarshal([]byte(mustCtrunner(t, "status", "24", "--store", dir,
		"--json")), &status); err != nil {
		t.Fatal(err)
	}
	if status.Published == nil || status.Published.Version != int64(versions[6]) ||
		status.Published.Reason != "rollback" {
		t.Errorf("status after rollback: published %+v, want version %s by rollback",
			status.Published, versions[6])
	}
	checkPublished(t, pub, versions[6])

	// Rolling back again goes further back, and leaves the folder alone
	// when told to.
	out = mustCtrunner(t, "rollback", "24", "--store", dir, "--publish-dir", "")
	if want := fmt.Sprintf("election 24 version %s: published ", versions[4]); !strings.HasPrefix(out, want) {
		t.Errorf("second rollback printed %q, want %q…", out, want)
	}
	checkPublished(t, pub, versions[6])
}

// waitStored waits until the store in dir holds version v of election id.
func waitStored(t *testing.T, dir string, id snapshot.ElectionID, v snapshot.Version,
	logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := store.Open(dir, store.Options{}); err == nil {
			entries, _ := st.Log(id)
			st.Close()
			if len(entries) > 0 && entries[0].Version == v {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("election %s version %s not stored within 20s", id, v)
}

// logMessages counts the JSON log lines by message.
func logMessages(t *testing.T, logs []byte) map[string]int {
	t.Helper()
	msgs := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(logs))
	for sc.Scan() {
		var line struct{ Msg string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		msgs[line.Msg]++
	}
	return msgs
}

// checkPublished checks that the publish folder shows version v of
// election 24: published.json, raw.json and results.csv of one version.
func checkPublished(t *testing.T, pub string, v snapshot.Version) {
	t.Helper()
	var rec struct{ Version int64 }
	var raw struct{ Version int64 }
	data, err := os.ReadFile(filepath.Join(pub, "24", "published.json"))
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err == nil {
		data, err = os.ReadFile(filepath.Join(pub, "24", "raw.json"))
	}
	if err == nil {
		err = json.Unmarshal(data, &raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != int64(v) || raw.Version != int64(v) {
		t.Errorf("publish folder shows version %d (raw.json %d), want %s", rec.Version,
			raw.Version, v)
	}
	if _, err := os.Stat(filepath.Join(pub, "24", "results.csv")); err != nil {
		t.Error(err)
	}
}

// TestWatchCommandsExitCodes checks the usage errors of watch, polls,
// status, publish and rollback (exit 2, before any request or store
// access) and their failures (exit 1), each with one line on stderr.
func TestWatchCommandsExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-store")
	api := "http://127.0.0.1:1/" // nothing listens there; usage errors come first
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"watch", "--api", api, "--store", missing, "--interval", "0s"}, exitUsage},
		{[]string{"watch", "--api", api, "--store", missing, "-e", "x1"}, exitUsage},
		{[]string{"watch", "--api", api, "--store", missing, "--log-format", "xml"}, exitUsage},
		{[]string{"watch", "--api", api, "--store", missing, "--publish-dir", missing},
			exitUsage},
		{[]string{"watch", "--api", api, "--store", missing, "extra"}, exitUsage},
		{[]string{"polls", "1", "2", "--store", missing}, exitUsage},
		{[]string{"polls", "--store", missing}, exitFailure},
		{[]string{"status", "--store", missing, "--stale", "0s"}, exitUsage},
		{[]string{"status", "80", "--store", missing}, exitFailure},
		{[]string{"status", "--store", missing}, exitFailure},
		{[]string{"publish", "--store", missing}, exitUsage},
		{[]string{"publish", "80", "--store", missing}, exitFailure},
		{[]string{"rollback", "--store", missing}, exitUsage},
		{[]string{"rollback", "80", "--store", missing}, exitFailure},
	}
	for _, tt := range tests {
		_, stderr, code := runCLI(t, "", tt.args...)
		if code != tt.want {
			t.Errorf("ctrunner %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "),
				code, tt.want, stderr)
		}
		if code != exitOK && strings.Count(stderr, "\n") != 1 {
			t.Errorf("ctrunner %s: stderr has %d lines, want 1: %q",
				strings.Join(tt.args, " "), strings.Count(stderr, "\n"), stderr)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a failed command created the store %s", missing)
	}
}
