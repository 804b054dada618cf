package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
)

// simulatedStore simulates a night of election 80 into a new store and
// returns the store's folder.
func simulatedStore(t *testing.T, versions, interval string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	_, stderr, code := runCLI(t, "", "simulate", "--store", dir, "--from-file",
		filepath.Join(feedtest.TestdataDir(), "80", "13392", "raw.json.gz"),
		"--versions", versions, "--interval", interval, "--seed", "3")
	if code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	return dir
}

// TestReplayPrintExitCodes checks that printing a replay exits 2 for a
// wrong command line and 1 for a failure, with one line on stderr and
// nothing on stdout.
func TestReplayPrintExitCodes(t *testing.T) {
	st := simulatedStore(t, "3", "2m")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"80"}, exitOK},
		{[]string{}, exitUsage},
		{[]string{"80", "81"}, exitUsage},
		{[]string{"x80"}, exitUsage},
		{[]string{"80", "--office", "dogcatcher"}, exitUsage},
		{[]string{"80", "--from", "tonight"}, exitUsage},
		{[]string{"80", "--to", "2022-13-01T00:00:00Z"}, exitUsage},
		{[]string{"80", "--from", "2022-11-09T02:00:00Z", "--to", "2022-11-09T01:00:00Z"}, exitUsage},
		{[]string{"80", "--speed", "0"}, exitUsage},
		{[]string{"80", "--speed", "-1"}, exitUsage},
		{[]string{"80", "--speed", "2", "--no-wait"}, exitUsage},
		{[]string{"80", "--start", "2022-11-09T01:00:00Z"}, exitUsage},
		{[]string{"80", "--paused"}, exitUsage},
		{[]string{"--serve", "127.0.0.1:0", "--office", "Governor"}, exitUsage},
		{[]string{"--serve", "127.0.0.1:0", "--no-wait"}, exitUsage},
		{[]string{"--serve", "127.0.0.1:0", "--utc"}, exitUsage},
		{[]string{"99"}, exitFailure},
		{[]string{"80", "--from", "2030-01-01T00:00:00Z"}, exitFailure},
		{[]string{"80", "--store", filepath.Join(t.TempDir(), "nowhere")}, exitFailure},
	}
	for _, tt := range tests {
		args := append([]string{"replay"}, tt.args...)
		if !slices.Contains(tt.args, "--store") {
			args = append(args, "--store", st)
		}
		stdout, stderr, code := runCLI(t, "", args...)
		if code != tt.want {
			t.Errorf("ctrunner %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "),
				code, tt.want, stderr)
		}
		if code == exitOK {
			continue
		}
		if strings.Count(stderr, "\n") != 1 {
			t.Errorf("ctrunner %s: stderr has %d lines, want 1: %q", strings.Join(tt.args, " "),
				strings.Count(stderr, "\n"), stderr)
		}
		if stdout != "" {
			t.Errorf("ctrunner %s: stdout %q, want nothing", strings.Join(tt.args, " "), stdout)
		}
	}
}

// TestReplayPrintInterrupted starts printing a night whose snapshots are
// an hour apart at real speed, interrupts it once the first snapshot is
// printed, and checks that it stops at once, exit 0, the block printed.
func TestReplayPrintInterrupted(t *testing.T) {
	st := simulatedStore(t, "3", "1h")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"ctrunner", "replay", "80", "--store", st, "--speed", "1"},
			strings.NewReader(""), stdout, stderr)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "first snapshot\n\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot printed after 30s: %q %q", stdout, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-exited:
		if code != exitOK || stderr.String() != "" {
			t.Errorf("interrupted replay: exit %d, stderr %q; want 0 and nothing", code, stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replay did not stop within 5s of the interrupt")
	}
	if got := strings.Count(stdout.String(), "  version "); got != 1 {
		t.Errorf("interrupted replay printed %d snapshots, want 1:\n%s", got, stdout)
	}
}
