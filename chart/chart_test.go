package chart

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ctrunner/legacy"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var versions80 = []string{"1313", "1314", "1315", "1316", "13392"}

// readMaybeGzip reads a recorded file, or its .gz copy.
func readMaybeGzip(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err == nil {
		return data
	}
	f, err := os.Open(path + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err = io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// night is a list of snapshots and a Load over them.
type night struct {
	entries []Entry
	snaps   map[snapshot.Hash]*snapshot.Snapshot
	loads   int
}

func (n *night) load(e Entry) (*snapshot.Snapshot, error) {
	n.loads++
	return n.snaps[e.ID], nil
}

func (n *night) add(election string, version snapshot.Version, at time.Time, edRaw, ldRaw []byte) {
	s := snapshot.New(snapshot.Meta{
		Election:  snapshot.ElectionID(election),
		Version:   version,
		FetchedAt: at,
		Source:    snapshot.Fetched,
	}, []snapshot.File{
		{Name: snapshot.ElectionDataFile, Data: edRaw},
		{Name: snapshot.LookupDataFile, Data: ldRaw},
	})
	if n.snaps == nil {
		n.snaps = map[snapshot.Hash]*snapshot.Snapshot{}
	}
	n.snaps[s.ID()] = s
	n.entries = append(n.entries, Entry{ID: s.ID(), Meta: s.Meta})
}

// recordedDocuments returns the documents of a recorded version.
func recordedDocuments(t testing.TB, election, version string) (snapshot.Version, []byte, []byte) {
	t.Helper()
	raw := readMaybeGzip(t, filepath.Join("..", "testdata", "ct-archive", election, version, "raw.json"))
	v, edRaw, ldRaw, err := legacy.Split(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v, edRaw, ldRaw
}

// recorded80 is election 80's five recorded versions, an hour apart from
// 9 pm Eastern on election night.
func recorded80(t testing.TB) *night {
	t.Helper()
	n := &night{}
	start := time.Date(2022, 11, 9, 2, 0, 0, 0, time.UTC)
	for i, v := range versions80 {
		version, edRaw, ldRaw := recordedDocuments(t, "80", v)
		n.add("80", version, start.Add(time.Duration(i)*time.Hour), edRaw, ldRaw)
	}
	return n
}

// simulated80 is a made-up night of versions versions ending with
// election 80's final results.
func simulated80(t testing.TB, versions int) *night {
	t.Helper()
	_, edRaw, ldRaw := recordedDocuments(t, "80", "13392")
	sim, err := rehearsal.New(edRaw, ldRaw, rehearsal.Options{Versions: versions, Seed: 1,
		Start: time.Date(2022, 11, 8, 20, 0, 0, 0, Eastern), Interval: 2 * time.Minute,
		FirstVersion: 1000, VersionStep: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := &night{}
	for step := range sim.Steps() {
		n.add("80", step.Version, step.FetchedAt, step.ElectionData, step.LookupData)
	}
	return n
}

// checkGolden compares c, as indented JSON, with testdata/golden/name, or
// rewrites the file under -update.
func checkGolden(t *testing.T, name string, c *Chart) {
	t.Helper()
	got, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
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
		t.Fatalf("%v (run go test ./chart -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./chart -update rewrites it; "+
			"check the diff)", name)
	}
}

func labels(c *Chart) []string {
	var out []string
	for _, l := range c.Lines {
		out = append(out, l.Label())
	}
	return out
}

func TestSharesRecorded80(t *testing.T) {
	n := recorded80(t)
	c, err := Shares(n.entries, n.load, ShareOptions{MaxLines: 8})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "80-shares.json", c)

	// The top of the ballot is the governor (officeList OO 1).
	if c.OfficeID != "13576" || c.Subject != "Governor and Lieutenant Governor" {
		t.Errorf("Shares office = %s %q, want 13576 Governor and Lieutenant Governor",
			c.OfficeID, c.Subject)
	}
	if c.ElectionName != "November 2022 State Election" || c.ElectionDate != "11/08/2022" {
		t.Errorf("Shares election = %q %q", c.ElectionName, c.ElectionDate)
	}
	want := []string{
		"Ned Lamont and Susan Bysiewicz (D)", "Bob Stefanowski and Laura Devlin (R)",
		"Ned Lamont and Susan Bysiewicz (WF)",
		`Robert Hotaling and Stewart "Chip" Beckett (IND)`,
		"Ned Lamont and Susan Bysiewicz (GFCT)",
		"Michelle Louise Bicking and Cassandra A. Martineau (WI)",
	}
	if got := labels(c); !slices.Equal(got, want) {
		t.Errorf("Shares lines = %q, want %q", got, want)
	}
	for _, l := range c.Lines {
		if len(l.Points) != len(versions80) {
			t.Errorf("%s: %d points, want %d", l.Label(), len(l.Points), len(versions80))
		}
	}
	lamont := c.Lines[0].Points
	if p := lamont[0]; p.Version != 1313 || p.Votes != 687917 || p.Percent != 54.36 ||
		p.Reporting != 760 || p.Total != 760 || p.StatePrecincts {
		t.Errorf("Lamont's first point = %+v, want version 1313, 687917 votes, 54.36%%, "+
			"760 of 760 of the office's precincts", p)
	}
	// The newest version leaves the office's precincts out: the state's
	// stand in, with a note.
	if p := lamont[4]; p.Reporting != 760 || p.Total != 763 || !p.StatePrecincts {
		t.Errorf("Lamont's last point = %+v, want 760 of 763 of the state's precincts", p)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "in 1 snapshot; the state's stand in") {
		t.Errorf("Shares notes = %q, want one on the state's precincts", c.Notes)
	}
	if n.loads != len(versions80) {
		t.Errorf("Shares loaded %d snapshots for %d entries", n.loads, len(versions80))
	}
}

func TestSharesSimulated(t *testing.T) {
	n := simulated80(t, 12)
	c, err := Shares(n.entries, n.load, ShareOptions{Office: "united states senator", MaxLines: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "sim12-senator-shares.json", c)
	if c.Subject != "United States Senator" || len(c.Lines) != 3 {
		t.Fatalf("Shares = %q with %d lines, want United States Senator with 3",
			c.Subject, len(c.Lines))
	}
	if len(c.Omitted) == 0 {
		t.Errorf("Shares with MaxLines 3 omitted nothing")
	}
	for i := 1; i < len(c.Lines); i++ {
		if c.Lines[i].FinalVotes > c.Lines[i-1].FinalVotes {
			t.Errorf("line %d has more final votes than line %d", i, i-1)
		}
	}
	// Precincts and votes only grow.
	lead := c.Lines[0].Points
	if len(lead) != 12 {
		t.Errorf("leader has %d points, want 12", len(lead))
	}
	for i := 1; i < len(lead); i++ {
		if lead[i].Reporting < lead[i-1].Reporting || lead[i].Votes < lead[i-1].Votes ||
			!lead[i].FetchedAt.After(lead[i-1].FetchedAt) {
			t.Errorf("point %d goes back: %+v after %+v", i, lead[i], lead[i-1])
		}
	}
	last := lead[len(lead)-1]
	if last.Votes != c.Lines[0].FinalVotes {
		t.Errorf("last point has %d votes, final votes %d", last.Votes, c.Lines[0].FinalVotes)
	}
}

func TestSharesOffice(t *testing.T) {
	n := recorded80(t)
	newest := n.entries[len(n.entries)-1:]
	for _, tc := range []struct {
		office, want, err string
	}{
		{office: "13479", want: "United States Senator"},
		{office: "GOVERNOR AND LIEUTENANT GOVERNOR", want: "Governor and Lieutenant Governor"},
		{office: "congress 04", want: "Representative in Congress 04"},
		{office: "Representative in Congress", err: `matches 5 offices of election 80: ` +
			`"Representative in Congress 01", "Representative in Congress 02", ` +
			`"Representative in Congress 03", and 2 more`},
		{office: "Mayor", err: `no office of election 80 with statewide votes has ID or name "Mayor"`},
		// One town's registrars are one office of many with that name.
		{office: "registrar of voters", err: `offices of election 80 are named ` +
			`"Registrar of Voters" (IDs `},
	} {
		c, err := Shares(newest, n.load, ShareOptions{Office: tc.office})
		if tc.err != "" {
			if !errors.Is(err, ErrUnknownOffice) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Shares(office %q) = %v, want ErrUnknownOffice ...%s", tc.office, err, tc.err)
			}
			continue
		}
		if err != nil || c.Subject != tc.want {
			t.Errorf("Shares(office %q) = %v, %v; want %s", tc.office, c, err, tc.want)
		}
	}
}

func TestTopOffice(t *testing.T) {
	ld := &snapshot.LookupData{Offices: []snapshot.Office{
		{ID: "1", Name: "no order", Order: "-"},
		{ID: "2", Name: "third", Order: "3"},
		{ID: "3", Name: "second", Order: "2"},
		{ID: "4", Name: "also second", Order: "2"},
	}}
	for _, tc := range []struct {
		offices []snapshot.OfficeID
		want    string
	}{
		{[]snapshot.OfficeID{"1", "2", "3", "4"}, "second"},
		{[]snapshot.OfficeID{"4", "1"}, "also second"},
		{[]snapshot.OfficeID{"1"}, "no order"},
		{[]snapshot.OfficeID{"9"}, "unknown office 9"},
	} {
		o, ok := TopOffice(ld, tc.offices)
		if !ok || o.Name != tc.want {
			t.Errorf("TopOffice(%v) = %q, %v; want %q", tc.offices, o.Name, ok, tc.want)
		}
	}
	if _, ok := TopOffice(ld, nil); ok {
		t.Errorf("TopOffice(no offices) = ok")
	}
}

func TestPrecinctsRecorded80(t *testing.T) {
	n := recorded80(t)
	c, err := Precincts(n.entries, n.load, PrecinctOptions{Towns: []string{"hartford", "1", "Hartford"}})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "80-precincts.json", c)
	if got, want := labels(c), []string{"Statewide", "Hartford", "Andover"}; !slices.Equal(got, want) {
		t.Fatalf("Precincts lines = %q, want %q", got, want)
	}
	if p := c.Lines[0].Points[0]; p.Reporting != 760 || p.Total != 763 || p.Percent != 100*760.0/763 {
		t.Errorf("statewide first point = %+v, want 760 of 763", p)
	}
	for _, l := range c.Lines {
		if len(l.Points) != len(versions80) {
			t.Errorf("%s: %d points, want %d", l.Name, len(l.Points), len(versions80))
		}
	}
}

func TestPrecinctsSimulated(t *testing.T) {
	n := simulated80(t, 12)
	c, err := Precincts(n.entries, n.load, PrecinctOptions{Towns: []string{"Bridgeport", "Andover"}})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "sim12-precincts.json", c)
	for _, l := range c.Lines {
		if len(l.Points) != 12 {
			t.Fatalf("%s: %d points, want 12", l.Name, len(l.Points))
		}
		// Three precincts of the state never report.
		want := 100.0
		if l.Key == StatewideKey {
			want = 100 * 760.0 / 763
		}
		if last := l.Points[11]; last.Percent != want {
			t.Errorf("%s ends at %+v, want %.2f%%", l.Name, last, want)
		}
		for i := 1; i < len(l.Points); i++ {
			if l.Points[i].Percent < l.Points[i-1].Percent {
				t.Errorf("%s goes down at point %d", l.Name, i)
			}
		}
	}
}

func TestPrecinctsErrors(t *testing.T) {
	n := recorded80(t)
	_, err := Precincts(n.entries, n.load, PrecinctOptions{Towns: []string{"Atlantis"}})
	if !errors.Is(err, ErrUnknownTown) || !strings.Contains(err.Error(), `"Atlantis"`) {
		t.Errorf("Precincts(Atlantis) = %v, want ErrUnknownTown naming it", err)
	}
	many := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}
	if _, err := Precincts(n.entries, n.load, PrecinctOptions{Towns: many}); err == nil ||
		!strings.Contains(err.Error(), "too many") {
		t.Errorf("Precincts(9 towns) = %v, want too many", err)
	}
	if _, err := Precincts(nil, n.load, PrecinctOptions{}); !errors.Is(err, ErrNoSnapshots) {
		t.Errorf("Precincts(no entries) = %v, want ErrNoSnapshots", err)
	}
	if _, err := Shares(nil, n.load, ShareOptions{}); !errors.Is(err, ErrNoSnapshots) {
		t.Errorf("Shares(no entries) = %v, want ErrNoSnapshots", err)
	}
	failing := func(Entry) (*snapshot.Snapshot, error) { return nil, errors.New("disk on fire") }
	if _, err := Shares(n.entries, failing, ShareOptions{}); err == nil ||
		!strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Shares with a failing load = %v, want its error", err)
	}
}

// edit rewrites an Electiondata.json document through generic JSON.
func edit(t *testing.T, raw []byte, change func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMissingFields charts election 24 (one office, four candidacies)
// with the precincts and a share left out.
func TestMissingFields(t *testing.T) {
	version, edRaw, ldRaw := recordedDocuments(t, "24", "42355")
	bare := edit(t, edRaw, func(doc map[string]any) {
		delete(doc, "officePrecincts")
		doc["election"].(map[string]any)["PR"] = "-"
		delete(doc, "townStatus")
		votes := doc["stateVotes"].(map[string]any)["51"].([]any)
		delete(votes[0].(map[string]any)["1182"].(map[string]any), "TO")
		delete(votes[1].(map[string]any)["1183"].(map[string]any), "V")
		delete(votes[1].(map[string]any)["1183"].(map[string]any), "TO")
	})
	zero := edit(t, edRaw, func(doc map[string]any) {
		for _, v := range doc["stateVotes"].(map[string]any)["51"].([]any) {
			for _, count := range v.(map[string]any) {
				count.(map[string]any)["V"] = "0"
				count.(map[string]any)["TO"] = "0.00%"
			}
		}
	})
	n := &night{}
	at := time.Date(2017, 4, 25, 21, 0, 0, 0, Eastern)
	n.add("24", version-1, at.Add(-time.Hour), zero, ldRaw)
	n.add("24", version, at, edRaw, ldRaw)
	n.add("24", version+1, at.Add(time.Hour), bare, ldRaw)

	c, err := Shares(n.entries, n.load, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pinckey, hall := c.Lines[0].Points, c.Lines[1].Points
	if len(hall) != 2 {
		// Hall (WF) won with 625 votes; in the second snapshot his entry
		// has neither V nor TO and is ranked on 0 final votes.
		hall, pinckey = pinckey, hall
	}
	if len(pinckey) != 2 || pinckey[1].Percent != 100*512.0/(512+367+17) ||
		pinckey[1].Total != 0 {
		t.Errorf("Pinckey's points = %+v, want the second share computed from the votes "+
			"and no precincts", pinckey)
	}
	notes := strings.Join(c.Notes, "\n")
	for _, want := range []string{"left out 1 snapshot from before the office's first votes",
		"computed from the votes 1 share", "left out 1 point",
		"no precincts reporting at all in 1 snapshot"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}

	p, err := Precincts(n.entries, n.load, PrecinctOptions{Towns: []string{"Hartford"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Lines {
		if len(l.Points) != 2 {
			t.Errorf("%s: %d points, want 2 (the third snapshot gives no precincts)",
				l.Name, len(l.Points))
		}
	}
	if len(p.Notes) != 2 {
		t.Errorf("Precincts notes = %q, want one per line", p.Notes)
	}
	// Both draw, the shares also against precincts, where only the first
	// snapshot has a place.
	for _, ch := range []*Chart{c, p} {
		if err := Render(io.Discard, ch, Style{Format: SVG}); err != nil {
			t.Errorf("Render(%s) = %v", ch.Kind, err)
		}
	}
}
