package diff

import (
	"bytes"
	"compress/gzip"
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

// recorded loads one version of the recorded archive as an Input.
func recorded(tb testing.TB, election, version string) Input {
	tb.Helper()
	raw := recordedRaw(tb, election, version)
	v, ed, ld, err := snapshot.ParseWrapper(raw)
	if err != nil {
		tb.Fatalf("%s@%s: %v", election, version, err)
	}
	return Input{Label: election + "@" + version, Version: v, Election: ed, Lookup: ld}
}

// recordedRaw reads the old tool's raw.json of one recorded version.
func recordedRaw(tb testing.TB, election, version string) []byte {
	tb.Helper()
	path := filepath.Join("..", "testdata", "ct-archive", election, version, "raw.json.gz")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// checkGolden compares got with testdata/golden/name, or rewrites the file
// under -update.
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
		t.Fatalf("%v (run go test ./diff/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./diff/ -update after checking):\n%s",
			path, firstDifference(got, want))
	}
}

// firstDifference shows the first line where got and want part.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got  " + gl + "\n want " + wl
		}
	}
	return ""
}

func itoa(n int) string { return signed(int64(n))[1:] }

// checkAllGolden renders r in the three forms and compares each with its
// golden file.
func checkAllGolden(t *testing.T, name string, r *Report) {
	t.Helper()
	var text, csv, js bytes.Buffer
	if err := WriteText(&text, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&csv, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, name+".txt", text.Bytes())
	checkGolden(t, name+".csv", csv.Bytes())
	checkGolden(t, name+".json", js.Bytes())
}

func TestCompare_Recorded(t *testing.T) {
	tests := []struct {
		election, from, to string
		identical          bool
	}{
		{"80", "1316", "13392", false},
		{"80", "1313", "1314", true},
		{"81", "9437", "83720", false},
		{"82", "9452", "84181", false},
	}
	for _, tt := range tests {
		name := tt.election + "_" + tt.from + "_" + tt.to
		t.Run(name, func(t *testing.T) {
			r, err := Compare(recorded(t, tt.election, tt.from), recorded(t, tt.election, tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if r.Identical != tt.identical {
				t.Errorf("Compare(%s@%s, %s@%s).Identical = %v, want %v",
					tt.election, tt.from, tt.election, tt.to, r.Identical, tt.identical)
			}
			checkAllGolden(t, name, r)
		})
	}
}

func TestCompare_Identical(t *testing.T) {
	r, err := Compare(recorded(t, "80", "1313"), recorded(t, "80", "1314"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteText(&b, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "no change in the results between version 1313 and 1314\n"
	if got := b.String(); got != want {
		t.Errorf("WriteText(80@1313 vs 80@1314) = %q, want %q", got, want)
	}
}

func TestCompare_Certification(t *testing.T) {
	r, err := Compare(recorded(t, "80", "1316"), recorded(t, "80", "13392"))
	if err != nil {
		t.Fatal(err)
	}
	official := 0
	for _, ch := range r.Towns {
		if ch.Field == "status" && ch.To == "Official Results" {
			official++
		}
	}
	if official == 0 {
		t.Errorf("Compare(80@1316, 80@13392): no town became official")
	}
	if len(r.Votes) == 0 {
		t.Errorf("Compare(80@1316, 80@13392): no vote changes")
	}
	for i := 1; i < len(r.Votes); i++ {
		x, y := &r.Votes[i-1], &r.Votes[i]
		if x.OfficeID == y.OfficeID && x.magnitude() < y.magnitude() {
			t.Fatalf("votes out of order at %d: %+v before %+v", i, *x, *y)
		}
	}
}

func TestReport_Filter(t *testing.T) {
	r, err := Compare(recorded(t, "80", "1316"), recorded(t, "80", "13392"))
	if err != nil {
		t.Fatal(err)
	}
	gov, err := r.Filter(Filter{Office: "governor"})
	if err != nil {
		t.Fatal(err)
	}
	if len(gov.Votes) == 0 || len(gov.Towns) != 0 || len(gov.Turnout) != 0 {
		t.Errorf("Filter(office governor): %d votes, %d towns, %d turnout; want votes only",
			len(gov.Votes), len(gov.Towns), len(gov.Turnout))
	}
	for _, ch := range gov.Votes {
		if !strings.Contains(strings.ToLower(ch.Office), "governor") {
			t.Fatalf("Filter(office governor) kept %q", ch.Office)
		}
	}

	hartford, err := r.Filter(Filter{Town: "hartford"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range hartford.sections() {
		for _, ch := range *s.changes {
			if ch.Town != "Hartford" {
				t.Fatalf("Filter(town hartford) kept a change of %q in %s", ch.Town, s.name)
			}
		}
	}
	if r.Len() == hartford.Len() {
		t.Errorf("Filter(town hartford) kept all %d changes", r.Len())
	}

	for _, f := range []Filter{{Office: "dogcatcher"}, {Town: "Atlantis"}} {
		if _, err := r.Filter(f); err == nil {
			t.Errorf("Filter(%+v) = nil error, want one", f)
		}
	}
}

// small builds an Input from hand-written documents.
func small(t *testing.T, version snapshot.Version, election, lookup string) Input {
	t.Helper()
	ed, err := snapshot.DecodeElectionData([]byte(election))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := snapshot.DecodeLookupData([]byte(lookup))
	if err != nil {
		t.Fatal(err)
	}
	return Input{Version: version, Election: ed, Lookup: ld}
}

const smallLookup = `{
 "election": {"ID": "7", "NM": "test election"},
 "townIds": {"1": "Andover", "2": "Ansonia"},
 "officeList": [{"10": {"ID": "10", "NM": "Governor"}}],
 "partyIds": {"1": {"CD": "D", "NM": "Democratic"}, "2": {"CD": "R", "NM": "Republican"}},
 "candidateIds": {"100": {"NM": "Ann Able", "P": "1"}, "200": {"NM": "Bob Baker", "P": "2"}}
}`

// smallElection writes ElectionData with Andover's and the state's votes
// for candidates 100 and 200, and ansonia (a JSON object, or "") as
// Ansonia's townVotes entry.
func smallElection(andover100, andover200, ansonia, question string) string {
	towns := `"1": {"10": [{"100": {"V": "` + andover100 + `", "TO": "0"}},
	                  {"200": {"V": "` + andover200 + `", "TO": "0"}}]}`
	status := `"1": {"TS": "( *Unofficial Results )", "PR": "1 of 1 (100.00%)"}`
	if ansonia != "" {
		towns += `, "2": ` + ansonia
		status += `, "2": {"TS": "( *Unofficial Results )", "PR": "1 of 2 (50.00%)"}`
	}
	return `{
 "election": {"ID": "7", "BC": "100", "PR": "1 of 3"},
 "townStatus": {` + status + `},
 "townVotes": {` + towns + `},
 "stateVotes": {"10": [{"100": {"V": "` + andover100 + `", "TO": "0"}},
                       {"200": {"V": "` + andover200 + `", "TO": "0"}}]},
 "ballotQuestion": {"State Wide": [{"QN": "` + question + `", "YES": "5", "NO": "3"}]}
}`
}

func TestCompare_Small(t *testing.T) {
	base := smallElection("60", "40", "", "Shall we?")
	renamed := strings.Replace(smallLookup, "Bob Baker", "Robert Baker", 1)
	tests := []struct {
		name           string
		fromED, toED   string
		toLookup       string
		section, field string
		kind           Kind
		from, to       string
	}{
		{"lead_change", base, smallElection("60", "75", "", "Shall we?"), smallLookup,
			"leads", "leader", Changed, "Ann Able (D)", "Bob Baker (R)"},
		{"town_reported", base,
			smallElection("60", "40", `{"10": [{"100": {"V": "7", "TO": "0"}}]}`, "Shall we?"),
			smallLookup, "towns", "reported", Added, "", ""},
		{"renamed_candidate", base, base, renamed,
			"lookup", "candidate_name", Changed, "Bob Baker", "Robert Baker"},
		{"ballot_question", base, smallElection("60", "40", "", "Shall we not?"), smallLookup,
			"ballot_questions", "question", Changed, "Shall we?", "Shall we not?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compare(small(t, 1, tt.fromED, smallLookup), small(t, 2, tt.toED, tt.toLookup))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, s := range r.sections() {
				for _, ch := range *s.changes {
					if s.name == tt.section && ch.Field == tt.field && ch.Kind == tt.kind &&
						ch.From == tt.from && ch.To == tt.to {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("Compare: no %s %s change %q -> %q in %s", tt.kind, tt.field,
					tt.from, tt.to, tt.section)
			}
			checkAllGolden(t, tt.name, r)
		})
	}
}

func TestCompare_CountFormats(t *testing.T) {
	// "1,000" and "1000" are the same count; a new version that only
	// reformats counts changes nothing.
	a := small(t, 1, smallElection("1000", "40", "", "Q"), smallLookup)
	b := small(t, 2, smallElection("1,000", "40", "", "Q"), smallLookup)
	r, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Identical {
		t.Errorf("Compare(1000 vs 1,000).Identical = false, want true; votes %+v", r.Votes)
	}
}

func TestCompare_Missing(t *testing.T) {
	if _, err := Compare(Input{}, Input{}); err == nil {
		t.Errorf("Compare(empty inputs) = nil error, want one")
	}
}

func TestWriteText_Top(t *testing.T) {
	r, err := Compare(recorded(t, "80", "1316"), recorded(t, "80", "13392"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteText(&b, r, TextOptions{Top: 3}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "smaller changes") {
		t.Errorf("WriteText(Top 3) does not say what it left out")
	}
}

func BenchmarkCompare_80(b *testing.B) {
	from, to := recorded(b, "80", "1316"), recorded(b, "80", "13392")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compare(from, to); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareText_80(b *testing.B) {
	from, to := recorded(b, "80", "1316"), recorded(b, "80", "13392")
	b.ReportAllocs()
	for b.Loop() {
		r, err := Compare(from, to)
		if err != nil {
			b.Fatal(err)
		}
		if err := WriteText(io.Discard, r, TextOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCompare_80 is what ctrunner diff does between reading the
// two snapshots and writing: decode both, compare, render as text.
func BenchmarkDecodeCompare_80(b *testing.B) {
	rawFrom, rawTo := recordedRaw(b, "80", "1316"), recordedRaw(b, "80", "13392")
	b.SetBytes(int64(len(rawFrom) + len(rawTo)))
	b.ReportAllocs()
	for b.Loop() {
		var in [2]Input
		for i, raw := range [][]byte{rawFrom, rawTo} {
			v, ed, ld, err := snapshot.ParseWrapper(raw)
			if err != nil {
				b.Fatal(err)
			}
			in[i] = Input{Version: v, Election: ed, Lookup: ld}
		}
		r, err := Compare(in[0], in[1])
		if err != nil {
			b.Fatal(err)
		}
		if err := WriteText(io.Discard, r, TextOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCompare_Simulated compares steps of simulated nights (package
// rehearsal): two early steps of election 80, where leads still change
// and towns come in, and the last step and the whole night of the smaller
// election 24.
func TestCompare_Simulated(t *testing.T) {
	tests := []struct {
		election, version string
		from, to          int
	}{
		{"80", "13392", 1, 2},
		{"24", "42355", 10, 11},
		{"24", "42355", 0, 11},
	}
	for _, tt := range tests {
		name := "sim" + tt.election + "_" + itoa(tt.from) + "_" + itoa(tt.to)
		t.Run(name, func(t *testing.T) {
			night := simulatedNight(t, tt.election, tt.version)
			r, err := Compare(nightStep(t, night, tt.from), nightStep(t, night, tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if r.Identical {
				t.Errorf("steps %d and %d of a night compare identical", tt.from, tt.to)
			}
			checkAllGolden(t, name, r)
		})
	}
}

// simulatedNight makes a night of 12 versions that ends with a recorded
// version.
func simulatedNight(t *testing.T, election, version string) *rehearsal.Night {
	t.Helper()
	var raw []byte
	if gz := filepath.Join("..", "testdata", "ct-archive", election, version, "raw.json.gz"); fileExists(gz) {
		raw = recordedRaw(t, election, version)
	} else {
		var err error
		if raw, err = os.ReadFile(filepath.Join("..", "testdata", "ct-archive", election, version,
			"raw.json")); err != nil {
			t.Fatal(err)
		}
	}
	_, ed, ld, err := legacy.Split(raw)
	if err != nil {
		t.Fatal(err)
	}
	night, err := rehearsal.New(ed, ld, rehearsal.Options{
		Versions: 12, Seed: 1, Interval: 5 * time.Minute, FirstVersion: 1000, VersionStep: 3,
		Start: time.Date(2022, 11, 9, 1, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return night
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// nightStep decodes step i of a night as an Input.
func nightStep(t *testing.T, night *rehearsal.Night, i int) Input {
	t.Helper()
	s := night.Step(i)
	e, err := snapshot.DecodeElectionData(s.ElectionData)
	if err != nil {
		t.Fatal(err)
	}
	l, err := snapshot.DecodeLookupData(s.LookupData)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Label: "step " + itoa(i), Version: s.Version, Election: e, Lookup: l}
}

// TestCompare_CrossEndorsedLead checks that a person on two party lines
// who leads before and after has not lost the lead when their other line
// overtakes the first, and that a lead taken by the sum of a person's
// lines is one.
func TestCompare_CrossEndorsedLead(t *testing.T) {
	lookup := strings.Replace(smallLookup, `"200": {"NM": "Bob Baker", "P": "2"}`,
		`"200": {"NM": "Bob Baker", "P": "2"}, "101": {"NM": "Ann Able", "P": "3"}`, 1)
	lookup = strings.Replace(lookup, `"2": {"CD": "R", "NM": "Republican"}`,
		`"2": {"CD": "R", "NM": "Republican"}, "3": {"CD": "WF", "NM": "Working Families"}`, 1)
	election := func(d, wf, r string) string {
		votes := `[{"100": {"V": "` + d + `", "TO": "0"}}, {"101": {"V": "` + wf + `", "TO": "0"}},
		           {"200": {"V": "` + r + `", "TO": "0"}}]`
		return `{"election": {"ID": "7", "BC": "100", "PR": "1 of 3"},
		 "townStatus": {"1": {"TS": "( *Unofficial Results )", "PR": "1 of 1 (100.00%)"}},
		 "townVotes": {"1": {"10": ` + votes + `}}, "stateVotes": {"10": ` + votes + `}}`
	}
	for _, tt := range []struct {
		name     string
		from, to [3]string
		leads    []string // From -> To of each lead change
	}{
		{"lines swap", [3]string{"50", "10", "30"}, [3]string{"50", "70", "30"}, nil},
		{"lines tie", [3]string{"50", "10", "30"}, [3]string{"50", "50", "30"}, nil},
		{"sum overtakes", [3]string{"30", "10", "50"}, [3]string{"30", "30", "50"},
			[]string{"Bob Baker (R) -> Ann Able (D)", "Bob Baker (R) -> Ann Able (D)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compare(small(t, 1, election(tt.from[0], tt.from[1], tt.from[2]), lookup),
				small(t, 2, election(tt.to[0], tt.to[1], tt.to[2]), lookup))
			if err != nil {
				t.Fatal(err)
			}
			var leads []string
			for _, ch := range r.Leads {
				leads = append(leads, ch.From+" -> "+ch.To)
			}
			if !slices.Equal(leads, tt.leads) {
				t.Errorf("lead changes %q, want %q", leads, tt.leads)
			}
		})
	}
}
