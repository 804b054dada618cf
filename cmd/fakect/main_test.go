package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
)

func TestRunRefuses(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{nil, 2, "usage: fakect"},
		{[]string{"-addr", "0.0.0.0:8089", "dir"}, 2, "only a loopback address such as 127.0.0.1 is served"},
		{[]string{"-addr", ":8089", "dir"}, 2, "only a loopback address such as 127.0.0.1 is served"},
		{[]string{"-addr", "192.168.1.1:80", "dir"}, 2, "only a loopback address such as 127.0.0.1 is served"},
		{[]string{"-bogus", "dir"}, 2, "flag provided but not defined"},
		{[]string{"a", "b"}, 2, "usage: fakect"},
		{[]string{"-addr", "127.0.0.1:0", filepath.Join(t.TempDir(), "missing")}, 1,
			"opening legacy folder"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		got := run(tt.args, &stdout, &stderr, make(chan os.Signal))
		if got != tt.status || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q",
				tt.args, got, stderr.String(), tt.status, tt.stderr)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote %q to stdout, want nothing", tt.args, stdout.String())
		}
	}
}

func TestRunServes(t *testing.T) {
	out, stdout := io.Pipe()
	stop := make(chan os.Signal, 1)
	status := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		status <- run([]string{"-addr", "127.0.0.1:0", feedtest.TestdataDir()}, stdout, &stderr,
			stop)
		stdout.Close()
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the base URL: %v (stderr %q)", err, stderr.String())
	}
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/") {
		t.Fatalf("printed %q, want http://127.0.0.1:port/", line)
	}
	resp, err := http.Get(base + "election/80/Version.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"Version":13392}` {
		t.Errorf("GET Version.json = %d %s, want 200 {\"Version\":13392}", resp.StatusCode, body)
	}

	stop <- os.Interrupt
	select {
	case got := <-status:
		if got != 0 {
			t.Errorf("run returned %d after the signal, want 0", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after the signal")
	}
	if _, err := http.Get(base + "Elections.json"); err == nil {
		t.Errorf("server still answers after stopping")
	}
}
