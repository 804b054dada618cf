package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"ctrunner/feed/feedtest"
)

// lockedBuffer is a bytes.Buffer safe for a command writing to it while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startReplay runs ctrunner replay with args in-process and returns its
// base URL; the replay stops when the test ends.
func startReplay(t *testing.T, args ...string) string {
	t.Helper()
	if newApp(streams{}).Command("replay") == nil {
		t.Skip("the replay command is not registered in app.go")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	stderr := &lockedBuffer{}
	exited := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"ctrunner", "replay"}, args...),
			strings.NewReader(""), w, stderr)
		w.Close()
		exited <- code
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("replay: exit %d: %s", code, stderr)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("replay printed no URL (%v): %s", err, stderr)
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSpace(line)
}

// logIDs returns the snapshot IDs of an election in a store, newest first.
func logIDs(t *testing.T, storeDir, election string) []string {
	t.Helper()
	stdout, stderr, code := runCLI(t, "", "log", election, "--json", "--store", storeDir)
	if code != 0 {
		t.Fatalf("log %s: exit %d: %s", election, code, stderr)
	}
	var ids []string
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var e struct{ ID string }
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// TestReplayRoundTrip simulates a night of two elections into store A,
// replays A stepping through every snapshot, archives the replay into
// store B after each step, and checks that B holds A's snapshots, in order.
func TestReplayRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, sim := range [][]string{
		{"--from-file", filepath.Join(feedtest.TestdataDir(), "24", "raw.json"),
			"--versions", "20", "--start", "2024-11-05T20:00:00-05:00", "--interval", "2m"},
		{"--from-file", filepath.Join(feedtest.TestdataDir(), "80", "13392", "raw.json.gz"),
			"--versions", "4", "--start", "2024-11-05T20:05:30-05:00", "--interval", "9m"},
	} {
		args := append([]string{"simulate", "--store", a}, sim...)
		if _, stderr, code := runCLI(t, "", args...); code != 0 {
			t.Fatalf("simulate: exit %d: %s", code, stderr)
		}
	}

	url := startReplay(t, "--serve", "127.0.0.1:0", "--store", a, "--speed", "1000", "--paused")
	steps := 0
	for {
		_, stderr, code := runCLI(t, "", "archive", "--api", url, "--store", b, "--retries", "0")
		if code != 0 {
			t.Fatalf("archive after %d steps: exit %d: %s", steps, code, stderr)
		}
		resp, err := http.Post(url+"_replay/step", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusConflict {
			break
		}
		if resp.StatusCode != http.StatusOK || steps > 100 {
			t.Fatalf("step %d: %s", steps, resp.Status)
		}
		steps++
	}

	for election, n := range map[string]int{"24": 20, "80": 4} {
		want, got := logIDs(t, a, election), logIDs(t, b, election)
		if len(want) != n {
			t.Fatalf("election %s: store A holds %d snapshots, want %d", election, len(want), n)
		}
		if !slices.Equal(got, want) {
			t.Errorf("election %s: archived from the replay %d snapshots %v,\nwant %d %v",
				election, len(got), got, len(want), want)
		}
	}
	if steps < 20 {
		t.Errorf("stepped %d times through 24 snapshots", steps)
	}
}
