package suspect

import (
	"path/filepath"
	"testing"

	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// openArchive opens the recorded elections in testdata.
func openArchive(t testing.TB) *legacy.Archive {
	t.Helper()
	archive, err := legacy.Open(filepath.Join("..", "testdata", "ct-archive"))
	if err != nil {
		t.Fatal(err)
	}
	return archive
}

// recordedVersion returns one recorded version as a Version.
func recordedVersion(t testing.TB, archive *legacy.Archive, id snapshot.ElectionID,
	v snapshot.Version) Version {
	t.Helper()
	rec, err := archive.Read(id, v)
	if err != nil {
		t.Fatal(err)
	}
	return splitRecord(t, rec)
}

func splitRecord(t testing.TB, rec *legacy.Version) Version {
	t.Helper()
	number, ed, ld, err := legacy.Split(rec.Raw)
	if err != nil {
		t.Fatalf("%s: %v", rec.RawPath, err)
	}
	return Version{Number: number, ElectionData: ed, LookupData: ld}
}

// TestRecordedData checks that no recorded version is suspect: on its own,
// after the version before it (election 80's five in order, 81's and 82's
// two), and as the latest copy after the last version folder.
func TestRecordedData(t *testing.T) {
	archive := openArchive(t)
	if len(archive.Elections()) == 0 {
		t.Fatal("no recorded elections")
	}
	var versions int
	for _, id := range archive.Elections() {
		var c Checker
		var prev Version
		for _, v := range archive.Versions(id) {
			next := recordedVersion(t, archive, id, v)
			versions++
			if got := Check(Version{}, next); len(got) > 0 {
				t.Errorf("election %s: Check(zero, %d) = %v, want none", id, v, got)
			}
			if !prev.IsZero() {
				if got := Check(prev, next); len(got) > 0 {
					t.Errorf("election %s: Check(%d, %d) = %v, want none",
						id, prev.Number, v, got)
				}
			}
			if got := c.Check(next); len(got) > 0 {
				t.Errorf("election %s: Checker.Check(%d) = %v, want none", id, v, got)
			}
			prev = next
		}

		rec, err := archive.Latest(id)
		if err != nil {
			continue // not every election folder has a latest copy
		}
		if got := Check(prev, splitRecord(t, rec)); len(got) > 0 {
			t.Errorf("election %s: Check(%d, latest) = %v, want none", id, prev.Number, got)
		}
	}
	if versions < 20 {
		t.Errorf("checked %d recorded versions, want at least 20", versions)
	}
}

// TestRecordedChanges pins down the legitimate changes the checks must let
// through in election 80: counts that fell as towns became official.
func TestRecordedChanges(t *testing.T) {
	archive := openArchive(t)
	before := recordedVersion(t, archive, "80", 1316)
	after := recordedVersion(t, archive, "80", 13392)

	// Pretend no town became official: the decreases must then show.
	unofficial := editVersion(t, after, func(doc map[string]any) {
		for _, status := range get(doc, "townStatus").(map[string]any) {
			status.(map[string]any)["TS"] = "( *Unofficial Results )"
		}
	})
	got := Check(before, unofficial)
	if n := countKind(got, VotesDecreased); n != MaxPerKind+1 {
		t.Errorf("Check(1316, 13392 left unofficial) has %d votes-decreased reasons, want %d: %v",
			n, MaxPerKind+1, got)
	}
	if want := "and 162 more"; last(got, VotesDecreased) != want {
		t.Errorf("last votes-decreased reason = %q, want %q", last(got, VotesDecreased), want)
	}
}

func countKind(reasons []Reason, kind Kind) int {
	n := 0
	for _, r := range reasons {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

func last(reasons []Reason, kind Kind) string {
	s := ""
	for _, r := range reasons {
		if r.Kind == kind {
			s = r.Detail
		}
	}
	return s
}
