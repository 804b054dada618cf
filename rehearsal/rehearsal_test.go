package rehearsal

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// recorded returns the documents of one recorded version of an election.
func recorded(t testing.TB, id snapshot.ElectionID, v snapshot.Version) (ed, ld []byte) {
	t.Helper()
	archive, err := legacy.Open(filepath.Join("..", "testdata", "ct-archive"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := archive.Read(id, v)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, ld, err = legacy.Split(rec.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return ed, ld
}

func testOptions(versions int, seed int64) Options {
	return Options{
		Versions:     versions,
		Seed:         seed,
		Start:        time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC),
		Interval:     2 * time.Minute,
		FirstVersion: 1000,
		VersionStep:  7,
	}
}

// night generates every step of a night and decodes it.
func night(t testing.TB, ed, ld []byte, opts Options) ([]Step, []*snapshot.ElectionData) {
	t.Helper()
	n, err := New(ed, ld, opts)
	if err != nil {
		t.Fatal(err)
	}
	var steps []Step
	var decoded []*snapshot.ElectionData
	for s := range n.Steps() {
		d, err := snapshot.DecodeElectionData(s.ElectionData)
		if err != nil {
			t.Fatalf("step %d: %v", s.Index, err)
		}
		steps = append(steps, s)
		decoded = append(decoded, d)
	}
	return steps, decoded
}

var recordings = []struct {
	id       snapshot.ElectionID
	version  snapshot.Version
	versions int
}{
	{"80", 13392, 300}, // a statewide general election, final
	{"80", 1313, 40},   // the same, unofficial
	{"24", 42355, 30},  // a primary in three towns
	{"89", 59904, 30},  // a special election in one town
	{"81", 83720, 30},
	{"82", 84181, 30},
	{"66", 65274, 30},
	{"68", 140121, 30},
}

// TestNightInvariants checks, over every step of nights made from
// recorded elections, what a reader of the live feed relies on.
func TestNightInvariants(t *testing.T) {
	for _, r := range recordings {
		t.Run(fmt.Sprintf("%s@%d", r.id, r.version), func(t *testing.T) {
			if testing.Short() && r.versions > 50 {
				r.versions = 50
			}
			ed, ld := recorded(t, r.id, r.version)
			steps, decoded := night(t, ed, ld, testOptions(r.versions, 1))

			last := steps[len(steps)-1]
			if !bytes.Equal(last.ElectionData, ed) {
				t.Errorf("last step's Electiondata differs from the final document")
			}
			final := decoded[len(decoded)-1]
			var before map[string]int64
			for i, s := range steps {
				if !bytes.Equal(s.LookupData, ld) {
					t.Errorf("step %d: Lookupdata changed", i)
				}
				checkStep(t, i, decoded[i], final)
				after := countsOf(decoded[i])
				if i == 0 {
					before = after
					continue
				}
				if s.Version <= steps[i-1].Version {
					t.Errorf("step %d: version %d after %d", i, s.Version, steps[i-1].Version)
				}
				if !s.FetchedAt.After(steps[i-1].FetchedAt) {
					t.Errorf("step %d: fetched at %v, after %v", i, s.FetchedAt, steps[i-1].FetchedAt)
				}
				checkGrowth(t, i, before, after)
				checkStatus(t, i, decoded[i-1], decoded[i])
				before = after
			}
		})
	}
}

// checkStep checks one step on its own, against the final document.
func checkStep(t *testing.T, i int, ed, final *snapshot.ElectionData) {
	t.Helper()
	// Towns appear in the final order; no town absent at the end appears.
	want := final.TownVotes.Keys()
	j := 0
	for _, town := range ed.TownVotes.Keys() {
		for j < len(want) && want[j] != town {
			j++
		}
		if j == len(want) {
			t.Errorf("step %d: town %s in townVotes out of order or not in the final", i, town)
			return
		}
	}

	// Statewide counts are sums of the towns wherever the final is.
	got, wantSums := townSums(ed), townSums(final)
	for office, votes := range final.StateVotes.All() {
		stepVotes, _ := ed.StateVotes.Get(office)
		for k, v := range votes {
			n, _ := v.Votes.Int()
			if n != wantSums[sumName(string(office), string(v.Candidate))] {
				continue
			}
			sv, _ := stepVotes[k].Votes.Int()
			if name := sumName(string(office), string(v.Candidate)); sv != got[name] {
				t.Errorf("step %d: stateVotes %s %s = %d, towns sum to %d",
					i, office, v.Candidate, sv, got[name])
			}
		}
	}
	// A town is official only once all its precincts are in.
	for town, s := range ed.TownStatus.All() {
		if f, _ := final.TownStatus.Get(town); s.Official() &&
			s.PrecinctsReporting != f.PrecinctsReporting {
			t.Errorf("step %d: town %s official at %s, before all its precincts are in (%s)",
				i, town, s.PrecinctsReporting, f.PrecinctsReporting)
		}
	}
	checkShares(t, i, ed)
	checkQuestions(t, i, ed, final)
}

// townSums sums each office's candidates over the towns.
func townSums(ed *snapshot.ElectionData) map[string]int64 {
	sums := map[string]int64{}
	for _, offices := range ed.TownVotes.All() {
		for office, votes := range offices.All() {
			for _, v := range votes {
				n, _ := v.Votes.Int()
				sums[sumName(string(office), string(v.Candidate))] += n
			}
		}
	}
	return sums
}

// checkShares checks that every town's shares are its counts' shares.
func checkShares(t *testing.T, i int, ed *snapshot.ElectionData) {
	t.Helper()
	for town, offices := range ed.TownVotes.All() {
		for office, votes := range offices.All() {
			var total int64
			for _, v := range votes {
				n, _ := v.Votes.Int()
				total += n
			}
			for _, v := range votes {
				n, _ := v.Votes.Int()
				got, ok := v.Share.Float()
				if !ok || total == 0 {
					continue
				}
				if want := 100 * float64(n) / float64(total); got < want-0.006 || got > want+0.006 {
					t.Errorf("step %d: town %s office %s candidate %s: share %s, want %.2f",
						i, town, office, v.Candidate, v.Share, want)
				}
			}
		}
	}
}

// checkQuestions checks that "State Wide" sums the towns when the final
// document does.
func checkQuestions(t *testing.T, i int, ed, final *snapshot.ElectionData) {
	t.Helper()
	sums := func(ed *snapshot.ElectionData) map[string]int64 {
		s := map[string]int64{}
		for town, qs := range ed.BallotQuestions.All() {
			key := "towns"
			if town == "State Wide" {
				key = "state"
			}
			for _, q := range qs {
				yes, _ := q.Yes.Int()
				no, _ := q.No.Int()
				s[key+"\x00YES\x00"+q.Question] += yes
				s[key+"\x00NO\x00"+q.Question] += no
			}
		}
		return s
	}
	got, want := sums(ed), sums(final)
	for name, n := range want {
		state, found := strings.CutPrefix(name, "state")
		if !found || want["towns"+state] != n {
			continue
		}
		if got[name] != got["towns"+state] {
			t.Errorf("step %d: State Wide %q = %d, towns sum to %d",
				i, strings.ReplaceAll(state, "\x00", " "), got[name], got["towns"+state])
		}
	}
}

// checkGrowth checks that no count went down or disappeared between two
// steps, given countsOf each.
func checkGrowth(t *testing.T, i int, before, after map[string]int64) {
	t.Helper()
	for name, n := range before {
		m, ok := after[name]
		switch {
		case !ok:
			t.Errorf("step %d: %s disappeared", i, name)
		case m < n:
			t.Errorf("step %d: %s went down from %d to %d", i, name, n, m)
		}
	}
}

// checkStatus checks that no town went from official back to unofficial.
func checkStatus(t *testing.T, i int, before, after *snapshot.ElectionData) {
	t.Helper()
	for town, s := range before.TownStatus.All() {
		if s2, _ := after.TownStatus.Get(town); s.Official() && !s2.Official() {
			t.Errorf("step %d: town %s went from official to unofficial", i, town)
		}
	}
}

// countsOf lists every count and reporting line of a document by a name
// saying where it is.
func countsOf(ed *snapshot.ElectionData) map[string]int64 {
	c := map[string]int64{}
	count := func(name string, v snapshot.Count) {
		if n, ok := v.Int(); ok {
			c[name] = n
		}
	}
	ratio := func(name, line string) {
		if r, ok := parseRatio(line); ok {
			c[name] = r.done
		}
	}
	lists := func(prefix string, o snapshot.Ordered[snapshot.OfficeID, []snapshot.Vote]) {
		for office, votes := range o.All() {
			for k, v := range votes {
				count(prefix+" "+string(office)+" "+string(v.Candidate)+" #"+strconv.Itoa(k),
					v.Votes)
			}
		}
	}
	for town, offices := range ed.TownVotes.All() {
		lists("townVotes "+string(town), offices)
	}
	lists("stateVotes", ed.StateVotes)
	lists("candidateGrouping", ed.CandidateGrouping)
	for town, s := range ed.TownStatus.All() {
		ratio("townStatus PR "+string(town), s.PrecinctsReporting)
	}
	for town, v := range ed.VoterTurnout.All() {
		ratio("voterTurnout PR "+string(town), v.PrecinctsReporting)
		count("voterTurnout VV "+string(town), v.Voted)
		count("voterTurnout ABC "+string(town), v.AbsenteeCounted)
	}
	for office, line := range ed.OfficePrecincts.All() {
		ratio("officePrecincts "+string(office), line)
	}
	for town, qs := range ed.BallotQuestions.All() {
		for k, q := range qs {
			name := "ballotQuestion " + town + " #" + strconv.Itoa(k)
			count(name+" YES", q.Yes)
			count(name+" NO", q.No)
		}
	}
	count("election BC", ed.Election.BallotsCast)
	ratio("election PR", ed.Election.PrecinctsReporting)
	ratio("election T", ed.Election.TownsReporting)
	for _, d := range ed.Districts {
		for _, p := range d.Places {
			if v, _ := p.Reported.Bool(); v {
				c["districts S "+string(p.ID)] = 1
			}
		}
	}
	return c
}

func TestDeterminism(t *testing.T) {
	ed, ld := recorded(t, "24", 42355)
	render := func(seed int64) [][]byte {
		n, err := New(ed, ld, testOptions(12, seed))
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for s := range n.Steps() {
			out = append(out, s.ElectionData)
		}
		return out
	}
	a, b, c := render(1), render(1), render(2)
	same, differ := true, false
	for i := range a {
		same = same && bytes.Equal(a[i], b[i])
		differ = differ || !bytes.Equal(a[i], c[i])
	}
	if !same {
		t.Errorf("two nights with seed 1 differ")
	}
	if !differ {
		t.Errorf("nights with seeds 1 and 2 are the same")
	}

	// A step does not depend on the steps generated before it.
	n, err := New(ed, ld, testOptions(12, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Step(5).ElectionData; !bytes.Equal(got, a[5]) {
		t.Errorf("Step(5) alone differs from the fifth step of a full night")
	}
}

// TestFirstStep checks the start of the night: few towns in, nothing
// official, and the report flags of a night still counting.
func TestFirstStep(t *testing.T) {
	ed, ld := recorded(t, "80", 13392)
	_, decoded := night(t, ed, ld, testOptions(10, 1))
	first, final := decoded[0], decoded[len(decoded)-1]
	if got, want := first.TownVotes.Len(), final.TownVotes.Len(); got == 0 || got >= want {
		t.Errorf("first step: %d towns in townVotes, want some of %d", got, want)
	}
	for town, s := range first.TownStatus.All() {
		if s.Official() {
			t.Errorf("first step: town %s already official", town)
		}
	}
	if io, _ := first.Reports.IO.Bool(); io || first.Reports.IO.Raw != "False" {
		t.Errorf("first step: reports IO = %q, want \"False\"", first.Reports.IO.Raw)
	}
	if got := first.Election.BallotsCast; !strings.Contains(string(got), ",") {
		t.Errorf("first step: BC = %q, want thousands separators as in the final", got)
	}
}

// TestLeadChanges counts how often the statewide leader of an office
// changes during a night of election 80: leads must be able to change.
func TestLeadChanges(t *testing.T) {
	ed, ld := recorded(t, "80", 13392)
	versions := 300
	if testing.Short() {
		versions = 60
	}
	_, decoded := night(t, ed, ld, testOptions(versions, 1))
	changes, offices := leadChanges(decoded)
	t.Logf("%d lead changes in %d offices over %d versions", changes, offices, versions)
	if changes == 0 {
		t.Errorf("no lead change in a night of %d versions", versions)
	}
}

// leadChanges counts the steps at which an office's statewide leader
// differs from the previous step's, and the offices where that happens.
func leadChanges(decoded []*snapshot.ElectionData) (changes, offices int) {
	leader := map[snapshot.OfficeID]snapshot.CandidateID{}
	changed := map[snapshot.OfficeID]bool{}
	for _, ed := range decoded {
		for office, votes := range ed.StateVotes.All() {
			var best snapshot.CandidateID
			var most int64
			for _, v := range votes {
				if n, _ := v.Votes.Int(); n > most {
					best, most = v.Candidate, n
				}
			}
			if best == "" {
				continue
			}
			if prev, ok := leader[office]; ok && prev != best {
				changes++
				changed[office] = true
			}
			leader[office] = best
		}
	}
	return changes, len(changed)
}

func TestOptionsErrors(t *testing.T) {
	ed, ld := recorded(t, "89", 59904)
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no versions", func(o *Options) { o.Versions = 0 }, "at least 1 version"},
		{"no step", func(o *Options) { o.VersionStep = 0 }, "version step"},
		{"negative interval", func(o *Options) { o.Interval = -time.Second }, "interval"},
		{"negative version", func(o *Options) { o.FirstVersion = -1 }, "first version"},
	}
	for _, tt := range tests {
		opts := testOptions(3, 1)
		tt.change(&opts)
		_, err := New(ed, ld, opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error about %q", tt.name, err, tt.want)
		}
	}
	if _, err := New([]byte(`{"townVotes":{}}`), ld, testOptions(3, 1)); err == nil {
		t.Errorf("New with an Electiondata without stateVotes = nil error, want one")
	}
}

// TestOneVersion checks that a night of one version is the final document.
func TestOneVersion(t *testing.T) {
	ed, ld := recorded(t, "89", 59904)
	n, err := New(ed, ld, testOptions(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	s := n.Step(0)
	if !bytes.Equal(s.ElectionData, ed) || s.Version != 1000 || s.Progress != 1 {
		t.Errorf("Step(0) = version %d, progress %v, final %v; want 1000, 1, true",
			s.Version, s.Progress, bytes.Equal(s.ElectionData, ed))
	}
}

func BenchmarkNight80(b *testing.B) {
	ed, ld := recorded(b, "80", 13392)
	b.SetBytes(int64(300 * len(ed)))
	for b.Loop() {
		n, err := New(ed, ld, testOptions(300, 1))
		if err != nil {
			b.Fatal(err)
		}
		for range n.Steps() {
		}
	}
}

// TestEveryRecording makes a short night of every recorded version.
func TestEveryRecording(t *testing.T) {
	archive, err := legacy.Open(filepath.Join("..", "testdata", "ct-archive"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range archive.Elections() {
		for _, v := range archive.Versions(id) {
			ed, ld := recorded(t, id, v)
			steps, _ := night(t, ed, ld, testOptions(4, 1))
			if !bytes.Equal(steps[3].ElectionData, ed) {
				t.Errorf("election %s version %d: last step is not the final document", id, v)
			}
		}
	}
}

// FuzzNew checks that any Electiondata the decoder accepts gives a night
// whose every step decodes too.
func FuzzNew(f *testing.F) {
	ed, ld := recorded(f, "24", 42355)
	f.Add(ed)
	f.Add([]byte(`{"townStatus":{"1":{"TS":"( Official Results )","PR":"2 of 3 (66.67%)"}},` +
		`"townVotes":{"1":{"5":[{"7":{"V":"1,003","TO":"1%"},"8":{"V":"-"}}]}},` +
		`"stateVotes":{"5":[{"7":{"V":"2,000","TO":"9.5"}}]},"reports":{"IO":"True"},` +
		`"districts":[{"1":[{"9":{"S":"True"}},{"10":{"S":true}}]}],` +
		`"ballotQuestion":{"State Wide":[{"QN":"q","YES":"5","NO":"x"}],` +
		`"Andover":[{"QN":"q","YES":"3"}]}}`))
	f.Fuzz(func(t *testing.T, ed []byte) {
		n, err := New(ed, ld, testOptions(3, 1))
		if err != nil {
			return
		}
		for s := range n.Steps() {
			if _, err := snapshot.DecodeElectionData(s.ElectionData); err != nil {
				t.Fatalf("step %d does not decode: %v", s.Index, err)
			}
		}
	})
}
