package export

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ctrunner/legacy"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// recorded decodes the raw.json of a recorded election version.
func recorded(t testing.TB, election, version string) (*snapshot.ElectionData, *snapshot.LookupData) {
	t.Helper()
	raw := readMaybeGzip(t, filepath.Join("..", "testdata", "ct-archive", election, version, "raw.json"))
	_, ed, ld, err := snapshot.ParseWrapper(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ed, ld
}

// checkGolden compares got with testdata/golden/name, or rewrites the
// file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, firstDifference(string(got), string(want)))
	}
}

// render writes t in both formats.
func render(t *testing.T, tab *Table) (csv, jsonl []byte) {
	t.Helper()
	var c, j bytes.Buffer
	if err := WriteTableCSV(&c, tab); err != nil {
		t.Fatal(err)
	}
	if err := WriteTableJSONL(&j, tab); err != nil {
		t.Fatal(err)
	}
	return c.Bytes(), j.Bytes()
}

// TestTablesGolden checks every per-snapshot table of the small election
// 24 in full, as CSV, and as JSON lines but for the long precincts table.
func TestTablesGolden(t *testing.T) {
	ed, ld := recorded(t, "24", "42355")
	for _, name := range SnapshotTables {
		t.Run(name, func(t *testing.T) {
			tab, ok := SnapshotTable(name, ed, ld)
			if !ok {
				t.Fatalf("SnapshotTable(%q) = not found", name)
			}
			checkColumns(t, tab)
			csv, jsonl := render(t, tab)
			checkGolden(t, "24-"+name+".csv", csv)
			if name != TablePrecincts {
				checkGolden(t, "24-"+name+".jsonl", jsonl)
			}
		})
	}
}

// TestTablesGolden80 checks the tables of statewide election 80 by their
// row counts and first rows, to keep the golden file small.
func TestTablesGolden80(t *testing.T) {
	ed, ld := recorded(t, "80", "13392")
	var out bytes.Buffer
	for _, name := range SnapshotTables {
		tab, _ := SnapshotTable(name, ed, ld)
		checkColumns(t, tab)
		head := &Table{Name: tab.Name, Columns: tab.Columns, Rows: tab.Rows[:min(5, len(tab.Rows))]}
		fmt.Fprintf(&out, "# %s: %d rows\n", name, len(tab.Rows))
		if err := WriteTableCSV(&out, head); err != nil {
			t.Fatal(err)
		}
		if name == TableResults {
			// The combined rows come last.
			tail := &Table{Name: tab.Name, Columns: tab.Columns, Rows: tab.Rows[len(tab.Rows)-3:]}
			fmt.Fprintf(&out, "# %s: last rows\n", name)
			if err := WriteTableJSONL(&out, tail); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkGolden(t, "80-13392-heads.txt", out.Bytes())
}

// checkColumns checks that every row has one value per column and that
// the names are snake_case.
func checkColumns(t *testing.T, tab *Table) {
	t.Helper()
	for _, c := range tab.Columns {
		if c != strings.ToLower(c) || strings.ContainsAny(c, " -") {
			t.Errorf("table %s: column %q is not snake_case", tab.Name, c)
		}
	}
	for i, row := range tab.Rows {
		if len(row) != len(tab.Columns) {
			t.Fatalf("table %s row %d: %d values for %d columns", tab.Name, i, len(row), len(tab.Columns))
		}
	}
}

// TestResultsTableMatchesResults checks that the party rows of the results
// table are the Results rows, values parsed, none dropped, and that there
// is one combined row per candidateGrouping entry.
func TestResultsTableMatchesResults(t *testing.T) {
	ed, ld := recorded(t, "80", "13392")
	rows := Results(ed, ld, nil)
	tab := ResultsTable(ed, ld)
	grouped := 0
	for _, votes := range ed.CandidateGrouping.All() {
		grouped += len(votes)
	}
	if got, want := len(tab.Rows), len(rows)+grouped; got != want {
		t.Fatalf("ResultsTable rows = %d, want %d", got, want)
	}
	for i, r := range rows {
		got := tab.Rows[i]
		n, _ := r.Votes.Int()
		if got[0].Text != LineParty || got[6].Text != r.Candidate || got[8].Int != n {
			t.Fatalf("ResultsTable row %d = %v, want %+v", i, got, r)
		}
	}
	if got := tab.Rows[len(rows)][0].Text; got != LineCombined {
		t.Errorf("ResultsTable row %d line = %q, want %q", len(rows), got, LineCombined)
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		v         Value
		csv, json string
	}{
		{CountValue("1,278,959"), "1278959", "1278959"},
		{CountValue("-"), "-", "null"},
		{CountValue(""), "", "null"},
		{PercentValue("57.45%"), "57.45", "57.45"},
		{PercentValue("0.00%"), "0", "0"},
		{PercentValue("n/a"), "n/a", "null"},
		{Text(`say "hi", \ ok`), `say "hi", \ ok`, `"say \"hi\", \\ ok"`},
		{BoolValue(true), "true", "true"},
		{Null(KindInt), "", "null"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.csv {
			t.Errorf("%+v.String() = %q, want %q", tt.v, got, tt.csv)
		}
		if got := string(tt.v.appendJSON(nil)); got != tt.json {
			t.Errorf("%+v JSON = %s, want %s", tt.v, got, tt.json)
		}
	}
}

func TestParseReporting(t *testing.T) {
	tests := []struct {
		in   string
		k, p int64
		ok   bool
	}{
		{"33 of 121 (27.27%)", 33, 121, true},
		{"1 of 1 (100%)", 1, 1, true},
		{"1,002 of 1,210", 1002, 1210, true},
		{"", 0, 0, false},
		{"some of many", 0, 0, false},
	}
	for _, tt := range tests {
		k, p, ok := ParseReporting(tt.in)
		if k != tt.k || p != tt.p || ok != tt.ok {
			t.Errorf("ParseReporting(%q) = %d, %d, %v, want %d, %d, %v",
				tt.in, k, p, ok, tt.k, tt.p, tt.ok)
		}
	}
}

// TestWriteTableCSVQuoting checks that table CSV quotes as the old tool.
func TestWriteTableCSVQuoting(t *testing.T) {
	tab := &Table{Name: "t", Columns: []string{"a", "b"}}
	tab.add(Text(`Rickey Pinckey, Sr.`), Text(`"Q"`))
	var b bytes.Buffer
	if err := WriteTableCSV(&b, tab); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "a,b\r\n\"Rickey Pinckey, Sr.\",\"\"\"Q\"\"\"\r\n"; got != want {
		t.Errorf("WriteTableCSV = %q, want %q", got, want)
	}
}

// versions80 are the recorded versions of election 80, oldest first.
var versions80 = []string{"1313", "1314", "1315", "1316", "13392"}

// recordedEntries loads recorded versions as timeline entries and a load
// function over them.
func recordedEntries(t testing.TB, election string, versions []string) ([]TimelineEntry,
	func(TimelineEntry) (*snapshot.Snapshot, error)) {
	t.Helper()
	snaps := map[snapshot.Hash]*snapshot.Snapshot{}
	var entries []TimelineEntry
	start := time.Date(2022, 11, 9, 1, 0, 0, 0, time.UTC)
	for i, v := range versions {
		raw := readMaybeGzip(t, filepath.Join("..", "testdata", "ct-archive", election, v, "raw.json"))
		version, edRaw, ldRaw, err := legacy.Split(raw)
		if err != nil {
			t.Fatal(err)
		}
		s := newSnapshot(election, version, start.Add(time.Duration(i)*time.Hour), edRaw, ldRaw)
		snaps[s.ID()] = s
		entries = append(entries, TimelineEntry{ID: s.ID(), Meta: s.Meta})
	}
	return entries, func(e TimelineEntry) (*snapshot.Snapshot, error) { return snaps[e.ID], nil }
}

func newSnapshot(election string, version snapshot.Version, at time.Time,
	edRaw, ldRaw []byte) *snapshot.Snapshot {
	return snapshot.New(snapshot.Meta{
		Election:  snapshot.ElectionID(election),
		Version:   version,
		FetchedAt: at,
		Source:    snapshot.Imported,
	}, []snapshot.File{
		{Name: snapshot.ElectionDataFile, Data: edRaw},
		{Name: snapshot.LookupDataFile, Data: ldRaw},
	})
}

func TestTimeline(t *testing.T) {
	entries, load := recordedEntries(t, "80", versions80)
	tab, err := Timeline(entries, load)
	if err != nil {
		t.Fatal(err)
	}
	checkColumns(t, tab)

	statewide := 0
	ed, _ := recorded(t, "80", "13392")
	for _, votes := range ed.StateVotes.All() {
		statewide += len(votes)
	}
	if got, want := len(tab.Rows), len(versions80)*statewide; got != want {
		t.Fatalf("Timeline rows = %d, want %d", got, want)
	}
	// Each snapshot's rows are together, oldest first.
	for i, row := range tab.Rows {
		e := entries[i/statewide]
		if row[1].Int != int64(e.Version) || row[2].Text != e.ID.String() {
			t.Fatalf("Timeline row %d is of version %d, want %d", i, row[1].Int, e.Version)
		}
	}

	// The first office's rows across the night, in a small golden file.
	var out bytes.Buffer
	first := tab.Rows[0][3].Text
	small := &Table{Name: tab.Name, Columns: tab.Columns}
	for _, row := range tab.Rows {
		if row[3].Text == first {
			small.Rows = append(small.Rows, row)
		}
	}
	if err := WriteTableCSV(&out, small); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "80-timeline-first-office.csv", out.Bytes())
}

func TestTimelineEmptyAndLoadError(t *testing.T) {
	tab, err := Timeline(nil, nil)
	if err != nil || len(tab.Rows) != 0 {
		t.Errorf("Timeline(nil) = %d rows, %v, want 0 rows, nil", len(tab.Rows), err)
	}
	entries, _ := recordedEntries(t, "24", []string{"42355"})
	_, err = Timeline(entries, func(TimelineEntry) (*snapshot.Snapshot, error) {
		return nil, fmt.Errorf("disk on fire")
	})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Timeline with a failing load = %v, want its error", err)
	}
}

// TestStreamTimeline checks that StreamTimeline gives Timeline's rows
// and stops at the first error of emit.
func TestStreamTimeline(t *testing.T) {
	entries, load := recordedEntries(t, "80", versions80)
	tab, err := Timeline(entries, load)
	if err != nil {
		t.Fatal(err)
	}
	var streamed, whole bytes.Buffer
	rw := NewCSVRowWriter(&streamed, TableTimeline, tab.Columns)
	if err := StreamTimeline(entries, load, rw.WriteRow); err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := WriteTableCSV(&whole, tab); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(streamed.Bytes(), whole.Bytes()) {
		t.Errorf("StreamTimeline CSV differs from Timeline's: %s",
			firstDifference(streamed.String(), whole.String()))
	}

	n := 0
	stop := fmt.Errorf("enough")
	err = StreamTimeline(entries, load, func([]Value) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Errorf("StreamTimeline with emit failing at row 10 = %v after %d rows, want %v after 10",
			err, n, stop)
	}
}

// night300 simulates a 300-version night ending with election 80's final
// results, as timeline entries over snapshots held in memory.
func night300(b *testing.B) ([]TimelineEntry, func(TimelineEntry) (*snapshot.Snapshot, error)) {
	raw := readMaybeGzip(b, filepath.Join("..", "testdata", "ct-archive", "80", "13392", "raw.json"))
	_, edRaw, ldRaw, err := legacy.Split(raw)
	if err != nil {
		b.Fatal(err)
	}
	night, err := rehearsal.New(edRaw, ldRaw, rehearsal.Options{Versions: 300, Seed: 1,
		Start: time.Date(2022, 11, 8, 20, 0, 0, 0, time.UTC), Interval: time.Minute,
		FirstVersion: 1000, VersionStep: 3})
	if err != nil {
		b.Fatal(err)
	}
	snaps := map[snapshot.Hash]*snapshot.Snapshot{}
	var entries []TimelineEntry
	for step := range night.Steps() {
		s := newSnapshot("80", step.Version, step.FetchedAt, step.ElectionData, step.LookupData)
		snaps[s.ID()] = s
		entries = append(entries, TimelineEntry{ID: s.ID(), Meta: s.Meta})
	}
	return entries, func(e TimelineEntry) (*snapshot.Snapshot, error) { return snaps[e.ID], nil }
}

// BenchmarkTimeline300 writes the timeline of a simulated 300-version
// night as CSV, from snapshots already in memory (decoding every
// Electiondata.json is most of the cost): "table" builds the whole table
// first, as Timeline does; "stream" writes rows as each snapshot is
// decoded, as the export command does. The bytes allocated per op show
// the difference in what is held; peak memory of the command is in the
// README.
func BenchmarkTimeline300(b *testing.B) {
	entries, load := night300(b)
	columns := make([]string, len(TimelineColumns))
	for i, c := range TimelineColumns {
		columns[i] = c.Name
	}
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tab, err := Timeline(entries, load)
			if err != nil {
				b.Fatal(err)
			}
			if err := WriteTableCSV(io.Discard, tab); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rw := NewCSVRowWriter(io.Discard, TableTimeline, columns)
			if err := StreamTimeline(entries, load, rw.WriteRow); err != nil {
				b.Fatal(err)
			}
			if err := rw.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// simulatedNight24 simulates a 4-version night ending with election 24's
// recorded results, as timeline entries and a load function.
func simulatedNight24(t *testing.T) ([]TimelineEntry, func(TimelineEntry) (*snapshot.Snapshot, error)) {
	raw := readMaybeGzip(t, filepath.Join("..", "testdata", "ct-archive", "24", "42355", "raw.json"))
	_, edRaw, ldRaw, err := legacy.Split(raw)
	if err != nil {
		t.Fatal(err)
	}
	night, err := rehearsal.New(edRaw, ldRaw, rehearsal.Options{Versions: 4, Seed: 7,
		Start: time.Date(2021, 11, 2, 20, 0, 0, 0, time.UTC), Interval: 10 * time.Minute,
		FirstVersion: 500, VersionStep: 2})
	if err != nil {
		t.Fatal(err)
	}
	snaps := map[snapshot.Hash]*snapshot.Snapshot{}
	var entries []TimelineEntry
	for step := range night.Steps() {
		s := newSnapshot("24", step.Version, step.FetchedAt, step.ElectionData, step.LookupData)
		s.Source = snapshot.Fetched
		s.PrecinctsReporting = fmt.Sprintf("%d of 4", step.Index)
		snaps[s.ID()] = s
		entries = append(entries, TimelineEntry{ID: s.ID(), Meta: s.Meta})
	}
	return entries, func(e TimelineEntry) (*snapshot.Snapshot, error) { return snaps[e.ID], nil }
}

// TestTablesGoldenSimulated checks every table of a simulated night in
// full: the snapshot tables of a version half way through the night,
// when some towns have reported and others not, and the night's timeline
// and snapshots tables.
func TestTablesGoldenSimulated(t *testing.T) {
	entries, load := simulatedNight24(t)
	snap, err := load(entries[1])
	if err != nil {
		t.Fatal(err)
	}
	lookups := map[string]*snapshot.LookupData{}
	ed, ld, err := decodeCached(snap, lookups)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range SnapshotTables {
		t.Run(name, func(t *testing.T) {
			tab, _ := SnapshotTable(name, ed, ld)
			checkColumns(t, tab)
			csv, jsonl := render(t, tab)
			checkGolden(t, "sim24-"+name+".csv", csv)
			checkGolden(t, "sim24-"+name+".jsonl", jsonl)
		})
	}
	t.Run(TableTimeline, func(t *testing.T) {
		tab, err := Timeline(entries, load)
		if err != nil {
			t.Fatal(err)
		}
		checkColumns(t, tab)
		csv, jsonl := render(t, tab)
		checkGolden(t, "sim24-timeline.csv", csv)
		checkGolden(t, "sim24-timeline.jsonl", jsonl)
	})
	t.Run(TableSnapshots, func(t *testing.T) {
		tab := SnapshotsTable(entries)
		checkColumns(t, tab)
		csv, jsonl := render(t, tab)
		checkGolden(t, "sim24-snapshots.csv", csv)
		checkGolden(t, "sim24-snapshots.jsonl", jsonl)
	})
}

// TestRecordedElectionTablesGolden checks the timeline of recorded
// election 24 in full, and the snapshots table of recorded election 80's
// five versions, with a suspect reason on one of them.
func TestRecordedElectionTablesGolden(t *testing.T) {
	entries, load := recordedEntries(t, "24", []string{"42355"})
	tab, err := Timeline(entries, load)
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := render(t, tab)
	checkGolden(t, "24-timeline.csv", csv)

	entries, _ = recordedEntries(t, "80", versions80)
	entries[2].Suspect = []string{"votes-down: office 13576 candidate 1", "version-reused: 1315"}
	entries[2].PrecinctsReporting = "760 of 763 (99.61%)"
	entries[4].PrecinctsReporting = "-"
	tab = SnapshotsTable(entries)
	checkColumns(t, tab)
	csv, jsonl := render(t, tab)
	checkGolden(t, "80-snapshots.csv", csv)
	checkGolden(t, "80-snapshots.jsonl", jsonl)
}
