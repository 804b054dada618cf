package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrunner/feed/feedtest"
)

// importedStore imports the recorded elections into a new store.
func importedStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if _, stderr, code := runCLI(t, "", "import", feedtest.TestdataDir(), "--store", dir); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	return dir
}

// recordedFiles maps each file of the recorded folder, by its path without
// .gz, to its decompressed bytes.
func recordedFiles(t *testing.T) map[string][]byte {
	t.Helper()
	root := feedtest.TestdataDir()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			if data, err = io.ReadAll(zr); err != nil {
				return err
			}
			path = strings.TrimSuffix(path, ".gz")
		}
		rel, _ := filepath.Rel(root, path)
		files[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestExportLegacyRoundTrip imports the recorded folder, exports it with
// --layout legacy, and compares every recorded file with the exported
// one: raw.json and index.json byte for byte; results.csv byte for byte
// with --drop-unknown, and without it the old file plus exactly the rows
// the old tool dropped.
func TestExportLegacyRoundTrip(t *testing.T) {
	storeDir := importedStore(t)
	recorded := recordedFiles(t)

	exact := filepath.Join(t.TempDir(), "exact")
	if _, stderr, code := runCLI(t, "", "export", "--layout", "legacy", exact,
		"--drop-unknown", "--store", storeDir); code != 0 {
		t.Fatalf("export --drop-unknown: exit %d: %s", code, stderr)
	}
	full := filepath.Join(t.TempDir(), "full")
	if _, stderr, code := runCLI(t, "", "export", "--layout", "legacy", full,
		"--store", storeDir); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}

	for rel, want := range recorded {
		got, err := os.ReadFile(filepath.Join(exact, rel))
		if err != nil {
			t.Errorf("--drop-unknown: %v", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("--drop-unknown: %s differs from the recorded file", rel)
		}

		got, err = os.ReadFile(filepath.Join(full, rel))
		if err != nil {
			t.Error(err)
			continue
		}
		if filepath.Base(rel) != "results.csv" {
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the recorded file", rel)
			}
			continue
		}
		extra := multisetLines(string(got), string(want))
		for _, line := range extra {
			if !strings.Contains(line, ",unknown ") {
				t.Errorf("%s: added line %q is not one the old tool dropped", rel, line)
			}
		}
		if len(got) < len(want) {
			t.Errorf("%s: %d bytes, shorter than the recorded %d", rel, len(got), len(want))
		}
	}

	// Exporting again adds nothing and changes nothing.
	before, err := dirDigest(exact)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "", "export", "--layout", "legacy", exact,
		"--drop-unknown", "--store", storeDir)
	if code != 0 || strings.Contains(stdout, "written") {
		t.Fatalf("second export: exit %d, stdout %q, stderr %q; want only 'already in' lines",
			code, stdout, stderr)
	}
	if after, _ := dirDigest(exact); after != before {
		t.Errorf("a second export changed the folder")
	}
}

// multisetLines returns the CRLF lines of a not matched by a line of b.
func multisetLines(a, b string) []string {
	count := map[string]int{}
	for _, line := range strings.Split(b, "\r\n") {
		count[line]++
	}
	var extra []string
	for _, line := range strings.Split(a, "\r\n") {
		if count[line] > 0 {
			count[line]--
			continue
		}
		extra = append(extra, line)
	}
	return extra
}

// TestExportErrors checks the export command's mistakes and failures: exit
// 2 for the command line, 1 for work that failed, one line on stderr,
// nothing on stdout, and no file left behind.
func TestExportErrors(t *testing.T) {
	storeDir := importedStore(t)
	dir := t.TempDir()
	out := func(name string) string { return filepath.Join(dir, name) }
	if err := os.Mkdir(out("folder.db"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"results", "80", "--format", "xml"}, exitUsage, `--format must be csv, jsonl or sqlite, not "xml"`},
		{[]string{"results", "80", "--format", "sqlite"}, exitUsage, "needs --output FILE"},
		{[]string{"results", "80", "--format", "sqlite", "-o", "-"}, exitUsage, "not written to stdout"},
		{[]string{"all", "80"}, exitUsage, "TABLE all needs --format sqlite"},
		{[]string{"tally", "80", "--format", "sqlite", "-o", out("x.db")}, exitUsage, `unknown table "tally"`},
		{[]string{"all", "80", "--format", "sqlite", "-o", out("x.db"), "--as-of", "2022-11-09T06:00:00Z"},
			exitUsage, "--as-of applies to the timeline and snapshots tables only"},
		{[]string{"snapshots", "80@1313", "-o", out("x.csv")}, exitUsage, "snapshots takes an election ID"},
		{[]string{"results", "80", "--format", "sqlite", "-o", out("missing/x.db")}, exitFailure, "missing/x.db"},
		{[]string{"results", "80", "-o", out("missing/x.csv")}, exitFailure, "missing/x.csv"},
		{[]string{"results", "80", "--format", "sqlite", "-o", out("folder.db")}, exitFailure, "is a folder"},
		{[]string{"timeline", "99", "--format", "sqlite", "-o", out("x.db")}, exitFailure, "election 99"},
		{[]string{"all", "80~9", "--format", "sqlite", "-o", out("x.db")}, exitFailure, "only 5 snapshots"},
		{[]string{"timeline", "99", "-o", out("x.csv")}, exitFailure, "election 99"},
	}
	if os.Getuid() != 0 {
		locked := out("locked")
		if err := os.Mkdir(locked, 0o555); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			args []string
			want int
			msg  string
		}{[]string{"all", "80", "--format", "sqlite", "-o", filepath.Join(locked, "x.db")},
			exitFailure, "permission denied"})
	} else {
		t.Log("running as root: the read-only folder case is left out")
	}
	for _, tt := range tests {
		args := append([]string{"export", "--store", storeDir}, tt.args...)
		stdout, stderr, code := runCLI(t, "", args...)
		name := strings.Join(tt.args, " ")
		if code != tt.want {
			t.Errorf("export %s: exit %d, want %d (stderr %q)", name, code, tt.want, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.msg) {
			t.Errorf("export %s: stderr %q, want one line with %q", name, stderr, tt.msg)
		}
		if stdout != "" {
			t.Errorf("export %s: stdout %q, want nothing", name, stdout)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "folder.db" && e.Name() != "locked" {
			t.Errorf("a failed export left %s behind", e.Name())
		}
	}
}
