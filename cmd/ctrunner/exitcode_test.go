package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodes checks the documented exit codes: 2 for a mistake on the
// command line, 1 for work that failed, and always one line on stderr.
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-store")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, exitOK},
		{[]string{"help"}, exitOK},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"parse"}, exitUsage},
		{[]string{"parse", "--data-type", "x"}, exitUsage},
		{[]string{"checkout", "80", "--store", missing}, exitUsage},
		{[]string{"show", "cbf", "--store", missing}, exitFailure}, // no store: checked first
		{[]string{"show", "80", "--store", missing}, exitFailure},
		{[]string{"download", "-e", "80", "-e", "81"}, exitUsage},
		{[]string{"download", "-e", "80", "--timeout", "5"}, exitUsage},
		{[]string{"download", "-e", "80", "--retries", "-1"}, exitUsage},
		{[]string{"download", "--all", "--jobs", "0"}, exitUsage},
		{[]string{"download", "-e", "80", "--api", "ftp://127.0.0.1/"}, exitUsage},
		{[]string{"download", "-e", "x80", "--api", "http://127.0.0.1:1/"}, exitUsage},
		{[]string{"log", "80", "extra", "--store", missing}, exitUsage},
		{[]string{"plot", "shares", "80", "--store", missing}, exitUsage}, // no --output
		{[]string{"plot", "shares", "80", "-o", "p.gif", "--store", missing}, exitUsage},
		{[]string{"plot", "bars", "80", "-o", "p.png", "--store", missing}, exitUsage},
		{[]string{"plot", "precincts", "80", "-o", "p.png", "--office", "1"}, exitUsage},
		{[]string{"plot", "shares", "80", "-o", "p.png", "--x", "votes"}, exitUsage},
		{[]string{"plot", "shares", "80", "-o", "p.png", "--store", missing}, exitFailure},
	}
	for _, tt := range tests {
		_, stderr, code := runCLI(t, "", tt.args...)
		if code != tt.want {
			t.Errorf("ctrunner %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "), code, tt.want, stderr)
		}
		if code != exitOK && strings.Count(stderr, "\n") != 1 {
			t.Errorf("ctrunner %s: stderr has %d lines, want 1: %q", strings.Join(tt.args, " "),
				strings.Count(stderr, "\n"), stderr)
		}
	}
}
