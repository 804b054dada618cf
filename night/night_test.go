package night

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Eastern time on machines without zoneinfo

	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
	"ctrunner/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var eastern = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// night0 is when the recorded test nights start.
var night0 = time.Date(2022, 11, 9, 2, 0, 0, 0, time.UTC)

// memSource is a Source holding snapshots in memory, oldest first.
type memSource struct {
	snaps []*snapshot.Snapshot
	ids   []snapshot.Hash
	loads int
}

func (m *memSource) add(s *snapshot.Snapshot) {
	m.snaps = append(m.snaps, s)
	m.ids = append(m.ids, s.ID())
}

func (m *memSource) Log(id snapshot.ElectionID) ([]store.Entry, error) {
	var log []store.Entry
	for i, s := range m.snaps {
		if s.Election == id {
			log = append(log, store.Entry{ID: m.ids[i], Commit: m.ids[i].String(), Meta: s.Meta})
		}
	}
	if len(log) == 0 {
		return nil, fmt.Errorf("election %s: %w", id, store.ErrNotFound)
	}
	slices.Reverse(log)
	return log, nil
}

func (m *memSource) Load(e store.Entry) (*snapshot.Snapshot, error) {
	for i, s := range m.snaps {
		if m.ids[i] == e.ID && s.Version == e.Version && s.FetchedAt.Equal(e.FetchedAt) {
			m.loads++
			return s, nil
		}
	}
	return nil, fmt.Errorf("snapshot %s: %w", e.ID.Short(), store.ErrNotFound)
}

// recorded returns a source holding every recorded version of the given
// elections, each election's versions fetched 25 minutes apart from
// night0.
func recorded(t testing.TB, ids ...snapshot.ElectionID) *memSource {
	t.Helper()
	a, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{}
	for _, id := range ids {
		for i, v := range a.Versions(id) {
			rec, err := a.Read(id, v)
			if err != nil {
				t.Fatal(err)
			}
			_, ed, ld, err := legacy.Split(rec.Raw)
			if err != nil {
				t.Fatal(err)
			}
			src.add(snapshot.New(snapshot.Meta{Election: id, Version: v,
				Source: snapshot.Imported, FetchedAt: night0.Add(time.Duration(i) * 25 * time.Minute)},
				[]snapshot.File{
					{Name: snapshot.ElectionDataFile, Data: ed},
					{Name: snapshot.LookupDataFile, Data: ld},
				}))
		}
	}
	return src
}

// simulated returns a source holding a made-up night of n versions of
// election 80 ending with its last recorded results.
func simulated(t testing.TB, n int, seed int64) *memSource {
	t.Helper()
	a, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	versions := a.Versions("80")
	rec, err := a.Read("80", versions[len(versions)-1])
	if err != nil {
		t.Fatal(err)
	}
	_, ed, ld, err := legacy.Split(rec.Raw)
	if err != nil {
		t.Fatal(err)
	}
	night, err := rehearsal.New(ed, ld, rehearsal.Options{Versions: n, Seed: seed,
		Start: time.Date(2022, 11, 8, 20, 0, 0, 0, eastern), Interval: 2 * time.Minute,
		FirstVersion: 1000, VersionStep: 3})
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{}
	for step := range night.Steps() {
		src.add(snapshot.New(snapshot.Meta{Election: "80", Version: step.Version,
			Source: snapshot.Fetched, FetchedAt: step.FetchedAt}, []snapshot.File{
			{Name: snapshot.VersionFile, Data: []byte(`{"Version":` + step.Version.String() + `}`)},
			{Name: snapshot.ElectionDataFile, Data: step.ElectionData},
			{Name: snapshot.LookupDataFile, Data: step.LookupData},
		}))
	}
	return src
}

// tell plays the night of election in src with opts and returns the text
// (or with asJSON the JSON lines) printed.
func tell(t *testing.T, src Source, election snapshot.ElectionID, opts Options,
	asJSON bool) string {
	t.Helper()
	n, err := Open(src, election, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = n.Play(context.Background(), func(s *Step) error {
		if asJSON {
			return WriteJSON(&out, s)
		}
		return WriteText(&out, s, eastern)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./night -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s",
			path, got)
	}
}

// TestGoldenRecorded tells the recorded elections with several versions.
func TestGoldenRecorded(t *testing.T) {
	src := recorded(t, "80", "81", "82")
	for _, tc := range []struct {
		name     string
		election snapshot.ElectionID
		offices  []string
		json     bool
	}{
		{"recorded-80.txt", "80", nil, false},
		{"recorded-80-offices.txt", "80", []string{"13479", "congress"}, false},
		{"recorded-80.jsonl", "80", nil, true},
		{"recorded-81.txt", "81", []string{"state"}, false},
		{"recorded-82.txt", "82", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, tell(t, src, tc.election, Options{Offices: tc.offices}, tc.json))
		})
	}
}

// TestGoldenSimulated tells a simulated night of 20 versions.
func TestGoldenSimulated(t *testing.T) {
	src := simulated(t, 20, 7)
	golden(t, "simulated-80.txt", tell(t, src, "80",
		Options{Offices: []string{"Governor", "United States Senator", "Congress 05"}}, false))
	golden(t, "simulated-80.jsonl", tell(t, src, "80", Options{}, true))
}

// TestIdenticalNotReloaded checks that a snapshot whose documents are
// those of the one before, under a new version, is told as unchanged
// without being loaded or compared again.
func TestIdenticalNotReloaded(t *testing.T) {
	src := simulated(t, 3, 1)
	last := src.snaps[2]
	meta := last.Meta
	meta.Version++
	meta.FetchedAt = meta.FetchedAt.Add(time.Minute)
	src.add(snapshot.New(meta, last.Files))

	out := tell(t, src, "80", Options{}, false)
	if got := strings.Count(out, "  no change in the results\n"); got != 1 {
		t.Errorf("night with a repeated snapshot says %d times it did not change, want 1:\n%s",
			got, out)
	}
	// Three distinct snapshots, and the last once more, to choose the
	// offices followed.
	if src.loads != 4 {
		t.Errorf("Play loaded %d snapshots, want 4", src.loads)
	}

	// The recorded versions 1313 and 1314 of election 80 differ in bytes
	// but not in results.
	out = tell(t, recorded(t, "80"), "80", Options{}, false)
	if got := strings.Count(out, "  no change in the results\n"); got != 2 {
		t.Errorf("recorded night 80 says %d times it did not change, want 2:\n%s", got, out)
	}
}

// fakeClock is a clock whose Sleep only moves it and records the wait.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
	// cancel, if set, is called at the sleep numbered cancelAt.
	cancel   func()
	cancelAt int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	if c.cancel != nil && len(c.sleeps) == c.cancelAt {
		c.cancel()
		return ctx.Err()
	}
	c.now = c.now.Add(d)
	return nil
}

// TestSpeed checks that Play waits the recorded gaps divided by the speed.
func TestSpeed(t *testing.T) {
	src := simulated(t, 6, 3)
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	n, err := Open(src, "80", Options{Speed: 4, Now: clock.Now, Sleep: clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	var emitted []time.Time
	err = n.Play(context.Background(), func(s *Step) error {
		emitted = append(emitted, clock.now)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var want []time.Duration
	for i := 1; i < len(src.snaps); i++ {
		want = append(want, src.snaps[i].FetchedAt.Sub(src.snaps[i-1].FetchedAt)/4)
	}
	if !slices.Equal(clock.sleeps, want) {
		t.Errorf("Play at speed 4 slept %v, want %v", clock.sleeps, want)
	}
	if len(emitted) != len(src.snaps) {
		t.Errorf("Play emitted %d steps, want %d", len(emitted), len(src.snaps))
	}

	// Without a speed, nothing waits.
	clock.sleeps = nil
	n, err = Open(src, "80", Options{Now: clock.Now, Sleep: clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Play(context.Background(), func(*Step) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 0 {
		t.Errorf("Play without a speed slept %v", clock.sleeps)
	}
}

// TestInterrupted checks that a Play cancelled while waiting stops with
// the context's error, the steps before emitted.
func TestInterrupted(t *testing.T) {
	src := simulated(t, 6, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &fakeClock{now: time.Now(), cancel: cancel, cancelAt: 2}
	n, err := Open(src, "80", Options{Speed: 1, Now: clock.Now, Sleep: clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	emitted := 0
	err = n.Play(ctx, func(*Step) error { emitted++; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Play cancelled = %v, want context.Canceled", err)
	}
	if emitted != 2 {
		t.Errorf("Play cancelled at the second wait emitted %d steps, want 2", emitted)
	}
}

// TestBounds checks --from and --to: the snapshots kept, and the first one
// still compared with its predecessor.
func TestBounds(t *testing.T) {
	src := simulated(t, 10, 5)
	at := func(i int) time.Time { return src.snaps[i].FetchedAt }
	versions := func(opts Options) ([]snapshot.Version, []Step) {
		t.Helper()
		n, err := Open(src, "80", opts)
		if err != nil {
			t.Fatal(err)
		}
		var vs []snapshot.Version
		var steps []Step
		err = n.Play(context.Background(), func(s *Step) error {
			vs = append(vs, s.Version)
			steps = append(steps, *s)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return vs, steps
	}
	want := func(from, to int) []snapshot.Version {
		var vs []snapshot.Version
		for _, s := range src.snaps[from : to+1] {
			vs = append(vs, s.Version)
		}
		return vs
	}

	got, steps := versions(Options{From: at(3), To: at(6)})
	if !slices.Equal(got, want(3, 6)) {
		t.Errorf("versions from snapshot 3 to 6 = %v, want %v", got, want(3, 6))
	}
	first := steps[0]
	if !first.FirstTold || first.Changes.First || first.Changes.Since != src.snaps[2].Version {
		t.Errorf("first step told = %+v, want it compared with version %s", first.Changes,
			src.snaps[2].Version)
	}
	var text bytes.Buffer
	WriteText(&text, &first, eastern)
	if want := "  since version " + src.snaps[2].Version.String() + " (not shown): +"; !strings.Contains(text.String(), want) {
		t.Errorf("first step told:\n%s\nwant a line starting %q", text.String(), want)
	}
	if steps[1].FirstTold {
		t.Errorf("second step told has FirstTold set")
	}

	// Bounds between fetch times, open ends.
	got, _ = versions(Options{From: at(8).Add(-time.Second)})
	if !slices.Equal(got, want(8, 9)) {
		t.Errorf("versions from just before snapshot 8 = %v, want %v", got, want(8, 9))
	}
	got, steps = versions(Options{To: at(1).Add(time.Second)})
	if !slices.Equal(got, want(0, 1)) || !steps[0].Changes.First {
		t.Errorf("versions to just after snapshot 1 = %v (first %+v), want %v, the first first",
			got, steps[0].Changes, want(0, 1))
	}

	// An empty range.
	_, err := Open(src, "80", Options{From: at(9).Add(time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "no snapshot of election 80 was fetched from") {
		t.Errorf("Open after the last snapshot = %v, want an error saying none was fetched", err)
	}
}

// TestOffices checks how offices are chosen.
func TestOffices(t *testing.T) {
	src := recorded(t, "80")
	for _, tc := range []struct {
		want []string
		ids  []snapshot.OfficeID
	}{
		{nil, []snapshot.OfficeID{"13576"}}, // the governor: display order 1
		{[]string{"13479"}, []snapshot.OfficeID{"13479"}},
		{[]string{"GOVERNOR AND LIEUTENANT GOVERNOR"}, []snapshot.OfficeID{"13576"}},
		{[]string{"congress 0"}, []snapshot.OfficeID{"13593", "13592", "13591", "13480", "13530"}},
		{[]string{"senator", "13576", "United States Senator"},
			[]snapshot.OfficeID{"13479", "13576"}},
	} {
		n, err := Open(src, "80", Options{Offices: tc.want})
		if err != nil {
			t.Errorf("Open with offices %q: %v", tc.want, err)
			continue
		}
		if got := n.Offices(); !slices.Equal(got, tc.ids) {
			t.Errorf("Open with offices %q follows %v, want %v", tc.want, got, tc.ids)
		}
	}

	_, err := Open(src, "80", Options{Offices: []string{"Governor", "dogcatcher"}})
	var oe *OfficeError
	if !errors.As(err, &oe) || oe.Office != "dogcatcher" || len(oe.Examples) != 3 {
		t.Fatalf("Open with an unknown office = %v, want an *OfficeError naming it", err)
	}
	want := `no office of election 80 matches "dogcatcher" (give an office ID or part of a ` +
		`name, such as Governor and Lieutenant Governor; United States Senator; ` +
		`Representative in Congress 01)`
	if err.Error() != want {
		t.Errorf("unknown office error:\n%s\nwant\n%s", err, want)
	}
}

// TestSuspect checks that a suspect snapshot is flagged in both forms.
func TestSuspect(t *testing.T) {
	src := simulated(t, 3, 1)
	src.snaps[1].Suspect = []string{"votes-down: Governor in Hartford: 10 -> 9"}
	text := tell(t, src, "80", Options{}, false)
	if !strings.Contains(text, "  SUSPECT: votes-down: Governor in Hartford: 10 -> 9\n") {
		t.Errorf("text of a night with a suspect snapshot:\n%s", text)
	}
	jsonl := tell(t, src, "80", Options{}, true)
	if !strings.Contains(jsonl, `"suspect":["votes-down: Governor in Hartford: 10 -> 9"]`) {
		t.Errorf("JSON of a night with a suspect snapshot:\n%s", jsonl)
	}
}

// TestLeadChange checks the marker and the summary when the leader of a
// followed office changes.
func TestLeadChange(t *testing.T) {
	src := simulated(t, 40, 2)
	n, err := Open(src, "80", Options{Offices: []string{"Congress 05"}})
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	err = n.Play(context.Background(), func(s *Step) error {
		r := s.Races[0]
		if !r.LeadChanged {
			return nil
		}
		changes++
		if !slices.Contains(s.Changes.LeadChanges, Office{r.OfficeID, r.Office}) {
			t.Errorf("version %s: lead changed in %s but the summary names %q", s.Version,
				r.Office, s.Changes.LeadChanges)
		}
		if r.PreviousLeader == "" || r.PreviousLeader == r.Leader.Label() {
			t.Errorf("version %s: lead changed from %q to %q", s.Version, r.PreviousLeader,
				r.Leader.Label())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if changes == 0 {
		t.Errorf("the race for Congress 05 (decided by 2,004 votes) never changed hands " +
			"in 40 simulated versions; choose another seed")
	}
}

// BenchmarkPlay tells a simulated night of 300 versions, as ctrunner replay
// --no-wait does without the store.
func BenchmarkPlay(b *testing.B) {
	src := simulated(b, 300, 1)
	b.ResetTimer()
	for b.Loop() {
		n, err := Open(src, "80", Options{})
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		err = n.Play(context.Background(), func(s *Step) error { return WriteText(&out, s, eastern) })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// crossLookup has Ann Able on two party lines (D and WF) and Bob Baker on
// one (R).
const crossLookup = `{
 "election": {"ID": "7", "NM": "test election"},
 "townIds": {"1": "Andover"},
 "officeList": [{"10": {"ID": "10", "NM": "Governor", "OO": "1"}}],
 "partyIds": {"1": {"CD": "D", "NM": "Democratic"}, "2": {"CD": "R", "NM": "Republican"},
              "3": {"CD": "WF", "NM": "Working Families"}},
 "candidateIds": {"100": {"NM": "Ann Able", "P": "1"}, "101": {"NM": "Ann Able", "P": "3"},
                  "200": {"NM": "Bob Baker", "P": "2"}}
}`

// crossElection writes ElectionData where Ann Able has d and wf votes on
// her two lines and Bob Baker r, in Andover and statewide.
func crossElection(d, wf, r string) string {
	votes := `[{"100": {"V": "` + d + `", "TO": "0"}}, {"101": {"V": "` + wf + `", "TO": "0"}},
	           {"200": {"V": "` + r + `", "TO": "0"}}]`
	return `{
 "election": {"ID": "7", "BC": "100", "PR": "1 of 3"},
 "townStatus": {"1": {"TS": "( *Unofficial Results )", "PR": "1 of 1 (100.00%)"}},
 "townVotes": {"1": {"10": ` + votes + `}},
 "stateVotes": {"10": ` + votes + `}
}`
}

// TestCrossEndorsedLeaderKeepsLead checks that a cross-endorsed leader
// whose strongest party line changes has not lost the lead: the person
// leads both times, only the party shown with their name moves.
func TestCrossEndorsedLeaderKeepsLead(t *testing.T) {
	src := &memSource{}
	for i, votes := range [][3]string{{"50", "10", "30"}, {"50", "70", "30"}, {"50", "70", "0"},
		{"90", "70", "0"}} {
		src.add(snapshot.New(snapshot.Meta{Election: "7", Version: snapshot.Version(i + 1),
			Source: snapshot.Fetched, FetchedAt: night0.Add(time.Duration(i) * time.Minute)},
			[]snapshot.File{
				{Name: snapshot.ElectionDataFile, Data: []byte(crossElection(votes[0], votes[1], votes[2]))},
				{Name: snapshot.LookupDataFile, Data: []byte(crossLookup)},
			}))
	}
	n, err := Open(src, "7", Options{})
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	err = n.Play(context.Background(), func(s *Step) error {
		steps++
		r := s.Races[0]
		if r.Leader == nil || r.Leader.Candidate != "Ann Able" {
			t.Errorf("version %s: leader %+v, want Ann Able", s.Version, r.Leader)
		}
		if r.LeadChanged || len(s.Changes.LeadChanges) > 0 {
			t.Errorf("version %s: lead change from %q to %q (summary %q)", s.Version,
				r.PreviousLeader, r.Leader.Label(), s.Changes.Summary())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if steps != 4 {
		t.Errorf("told %d snapshots, want 4", steps)
	}
}

// TestSlowSpeed checks that a speed so slow that a gap, divided by it,
// exceeds the longest time.Duration still waits (the longest), rather
// than overflowing into no wait at all.
func TestSlowSpeed(t *testing.T) {
	src := simulated(t, 3, 3)
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	n, err := Open(src, "80", Options{Speed: 1e-12, Now: clock.Now, Sleep: clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Play(context.Background(), func(*Step) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) == 0 || clock.sleeps[0] <= 0 {
		t.Errorf("Play at speed 1e-12 slept %v, want the longest waits", clock.sleeps)
	}
}

// TestFirstSnapshotWithoutVotes checks that the top of the ballot is
// found when the night's first snapshot has no statewide votes yet.
func TestFirstSnapshotWithoutVotes(t *testing.T) {
	src := simulated(t, 3, 1)
	first := src.snaps[0]
	var ed map[string]json.RawMessage
	data, _ := first.File(snapshot.ElectionDataFile)
	if err := json.Unmarshal(data, &ed); err != nil {
		t.Fatal(err)
	}
	ed["stateVotes"] = json.RawMessage(`{}`)
	bare, err := json.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	files := slices.Clone(first.Files)
	for i := range files {
		if files[i].Name == snapshot.ElectionDataFile {
			files[i].Data = bare
		}
	}
	src.snaps[0] = snapshot.New(first.Meta, files)
	src.ids[0] = src.snaps[0].ID()

	out := tell(t, src, "80", Options{}, false)
	if !strings.Contains(out, "Governor and Lieutenant Governor") {
		t.Errorf("night whose first snapshot has no statewide votes follows no governor:\n%s", out)
	}
}
