package export

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ctrunner/snapshot"
)

// documentedAdded is how many rows the old tool dropped in each version of
// these elections, according to the API notes.
var documentedAdded = map[string]int{"80": 4, "64": 50}

// archiveRoots returns the legacy archives to test against: the one in
// testdata, and the full recording when CTRUNNER_SHARED_ARCHIVE names it.
func archiveRoots(t *testing.T) []string {
	roots := []string{filepath.Join("..", "testdata", "ct-archive")}
	if shared := os.Getenv("CTRUNNER_SHARED_ARCHIVE"); shared != "" {
		roots = append(roots, shared)
	} else {
		t.Log("CTRUNNER_SHARED_ARCHIVE not set; testing the testdata archive only")
	}
	return roots
}

// readMaybeGzip reads path, or path.gz uncompressed.
func readMaybeGzip(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err == nil {
		return data
	}
	gz, gzErr := os.ReadFile(path + ".gz")
	if gzErr != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("reading %s.gz: %v", path, err)
	}
	data, err = io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading %s.gz: %v", path, err)
	}
	return data
}

// legacyFolders lists the folders under root holding a raw.json and a
// results.csv written by the old tool, either possibly gzipped.
func legacyFolders(t *testing.T, root string) []string {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() != "raw.json" && d.Name() != "raw.json.gz" {
			return nil
		}
		dir := filepath.Dir(path)
		for _, name := range []string{"results.csv", "results.csv.gz"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				dirs = append(dirs, dir)
				return nil
			}
		}
		t.Errorf("%s has no results.csv", dir)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatalf("no legacy folders under %s", root)
	}
	return dirs
}

// isMarked reports whether a CSV line carries one of our "unknown ..."
// markers, judged from the text alone.
func isMarked(line string) bool {
	for _, marker := range []string{
		",unknown town ", ",unknown candidate ", ",unknown party ", "unknown office ",
	} {
		if strings.Contains(line, marker) {
			return true
		}
	}
	return false
}

// TestLegacyParity checks, for every recorded version, that our CSV is the
// old tool's results.csv plus exactly the rows it dropped: removing the
// rows we marked gives the old file byte for byte, and as multisets of
// lines ours minus the old one is exactly the marked lines.
func TestLegacyParity(t *testing.T) {
	for _, root := range archiveRoots(t) {
		versions := 0
		for _, dir := range legacyFolders(t, root) {
			rel, _ := filepath.Rel(root, dir)
			added := checkParity(t, dir)
			t.Logf("%s %s: %d rows added", root, rel, added)
			versions++

			election := strings.Split(filepath.ToSlash(rel), "/")[0]
			if want, ok := documentedAdded[election]; ok && added != want {
				t.Errorf("%s: %d rows added, the API notes say %d", dir, added, want)
			}
		}
		t.Logf("%s: %d folders match the old tool", root, versions)
	}
}

// checkParity compares our CSV of dir's raw.json with its results.csv and
// returns how many rows we added.
func checkParity(t *testing.T, dir string) int {
	raw := readMaybeGzip(t, filepath.Join(dir, "raw.json"))
	old := readMaybeGzip(t, filepath.Join(dir, "results.csv"))
	_, ed, ld, err := snapshot.ParseWrapper(raw)
	if err != nil {
		t.Errorf("%s: %v", dir, err)
		return 0
	}
	warnings := 0
	var ours bytes.Buffer
	if err := ResultsCSV(&ours, ed, ld, func(string) { warnings++ }); err != nil {
		t.Fatal(err)
	}

	lines := strings.SplitAfter(ours.String(), "\r\n")
	var kept strings.Builder
	var marked []string
	for _, line := range lines {
		if isMarked(line) {
			marked = append(marked, line)
		} else {
			kept.WriteString(line)
		}
	}
	if kept.String() != string(old) {
		t.Errorf("%s: our CSV without the marked rows differs from results.csv at %s",
			dir, firstDifference(kept.String(), string(old)))
	}

	extra := multisetDifference(lines, strings.SplitAfter(string(old), "\r\n"))
	sort.Strings(extra)
	sort.Strings(marked)
	if strings.Join(extra, "") != strings.Join(marked, "") {
		t.Errorf("%s: lines we add = %q, want exactly the marked lines %q", dir, extra, marked)
	}

	// The typed rows agree with the text: marked rows are the ones the old
	// tool dropped (no version has an unknown office), and each unknown code
	// was warned about.
	dropped := 0
	for _, r := range Results(ed, ld, nil) {
		if r.LegacyDropped() {
			dropped++
		}
	}
	if dropped != len(marked) {
		t.Errorf("%s: %d rows LegacyDropped, %d marked", dir, dropped, len(marked))
	}
	if (warnings == 0) != (len(marked) == 0) {
		t.Errorf("%s: %d warnings for %d marked rows", dir, warnings, len(marked))
	}
	return len(marked)
}

// multisetDifference returns the lines of a not matched by a line of b.
func multisetDifference(a, b []string) []string {
	count := make(map[string]int, len(b))
	for _, line := range b {
		count[line]++
	}
	var extra []string
	for _, line := range a {
		if count[line] > 0 {
			count[line]--
			continue
		}
		extra = append(extra, line)
	}
	return extra
}

// firstDifference describes where two texts first differ.
func firstDifference(got, want string) string {
	gl, wl := strings.Split(got, "\r\n"), strings.Split(want, "\r\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, gl[i], wl[i])
		}
	}
	return fmt.Sprintf("the end: got %d lines, want %d", len(gl), len(wl))
}

// BenchmarkResultsCSV decodes the largest recorded version and writes its
// CSV; throughput is in bytes of the raw wrapper.
func BenchmarkResultsCSV(b *testing.B) {
	raw := readMaybeGzip(b, filepath.Join("..", "testdata", "ct-archive", "64", "5842", "raw.json"))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		_, ed, ld, err := snapshot.ParseWrapper(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := ResultsCSV(io.Discard, ed, ld, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResultsCSVOnly writes the CSV of the largest recorded version
// from documents already decoded.
func BenchmarkResultsCSVOnly(b *testing.B) {
	raw := readMaybeGzip(b, filepath.Join("..", "testdata", "ct-archive", "64", "5842", "raw.json"))
	_, ed, ld, err := snapshot.ParseWrapper(raw)
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if err := ResultsCSV(&out, ed, ld, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(out.Len()))
	for b.Loop() {
		if err := ResultsCSV(io.Discard, ed, ld, nil); err != nil {
			b.Fatal(err)
		}
	}
}
