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

// TestExitCodesOfChoices checks that an office or town the command line
// asks for that the election lacks is a usage error (exit 2) in every
// command that takes one, named by the command, on one line.
func TestExitCodesOfChoices(t *testing.T) {
	st := importedStore(t)
	out := filepath.Join(t.TempDir(), "p.svg")
	for _, args := range [][]string{
		{"replay", "80", "--office", "dogcatcher", "--no-wait"},
		{"diff", "80~1", "--office", "dogcatcher"},
		{"diff", "80~1", "--town", "Atlantis"},
		{"plot", "shares", "80", "--office", "dogcatcher", "-o", out},
		{"plot", "shares", "80", "--office", "congress", "-o", out},
		{"plot", "precincts", "80", "--town", "Atlantis", "-o", out},
	} {
		args = append(args, "--store", st)
		_, stderr, code := runCLI(t, "", args...)
		if code != exitUsage || strings.Count(stderr, "\n") != 1 ||
			!strings.HasPrefix(stderr, "ctrunner: "+args[0]+": ") {
			t.Errorf("ctrunner %s: exit %d, stderr %q; want exit %d and one line naming %s",
				strings.Join(args, " "), code, stderr, exitUsage, args[0])
		}
	}
}
