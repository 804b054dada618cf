package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// packSizeFixture archives n versions of election 80's Electiondata.json
// into a new git store, without fsync, and returns the store.
func packSizeFixture(t testing.TB, n int) (*gitStore, string, []Entry) {
	t.Helper()
	g, dir := openGit(t)
	g.noSync = true
	var entries []Entry
	for i, data := range electionDataVersions(t, n) {
		entries = append(entries, putTB(t, g, electionDataSnapshot(i, data)))
	}
	return g, dir, entries
}

// TestPackSizes prints the bytes on disk per version of the git backend,
// loose, packed by Pack, and packed by git gc --aggressive on a copy, for
// versions of election 80's Electiondata.json. Run it with
// CTRUNNER_PACK_SIZES=300 go test -run PackSizes -v ./store/ (the number
// of versions).
func TestPackSizes(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CTRUNNER_PACK_SIZES"))
	if n == 0 {
		t.Skip("set CTRUNNER_PACK_SIZES=N to print the size table for N versions")
	}
	g, dir, entries := packSizeFixture(t, n)
	objects := filepath.Join(dir, "objects")
	loose, err := dirBytes(objects)
	if err != nil {
		t.Fatal(err)
	}
	gcDir := copyStore(t, dir)
	gcDefault := copyStore(t, dir)

	start := time.Now()
	r, err := g.Pack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	for _, e := range []Entry{entries[0], entries[len(entries)-1]} {
		if _, err := g.Load(e); err != nil {
			t.Fatal(err)
		}
	}

	start = time.Now()
	mustGit(t, gcDir, "gc", "--aggressive", "--quiet")
	gcTook := time.Since(start)
	gcBytes, _ := dirBytes(filepath.Join(gcDir, "objects"))
	mustGit(t, gcDefault, "gc", "--quiet")
	gcDefaultBytes, _ := dirBytes(filepath.Join(gcDefault, "objects"))

	per := func(b int64) int64 { return b / int64(n) }
	t.Logf("%d versions of %d bytes", n, len(electionDataVersions(t, 1)[0]))
	t.Logf("%-22s %12s %12s %8s", "layout", "bytes", "B/version", "time")
	t.Logf("%-22s %12d %12d %8s", "loose", loose, per(loose), "")
	t.Logf("%-22s %12d %12d %8s", "ctrunner pack", r.BytesAfter, per(r.BytesAfter),
		took.Round(time.Millisecond))
	t.Logf("%-22s %12d %12d %8s", "git gc", gcDefaultBytes, per(gcDefaultBytes), "")
	t.Logf("%-22s %12d %12d %8s", "git gc --aggressive", gcBytes, per(gcBytes),
		gcTook.Round(time.Millisecond))
	t.Logf("ratio to git gc --aggressive: %.2f", float64(r.BytesAfter)/float64(gcBytes))
}
