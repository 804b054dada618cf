package suspect

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/rehearsal"
	"ctrunner/snapshot"
)

// makeNight returns the versions of a rehearsal night ending with a
// recorded version.
func makeNight(t testing.TB, id snapshot.ElectionID, v snapshot.Version,
	versions int) []Version {
	t.Helper()
	final := recordedVersion(t, openArchive(t), id, v)
	n, err := rehearsal.New(final.ElectionData, final.LookupData, rehearsal.Options{
		Versions:     versions,
		Seed:         1,
		Start:        time.Date(2022, 11, 8, 20, 0, 0, 0, time.UTC),
		Interval:     2 * time.Minute,
		FirstVersion: 1000,
		VersionStep:  7,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []Version
	for s := range n.Steps() {
		out = append(out, Version{Number: s.Version, ElectionData: s.ElectionData,
			LookupData: s.LookupData})
	}
	return out
}

var night80 struct {
	once     sync.Once
	versions []Version
}

// night80Versions returns a night of 100 versions ending with election
// 80's certified results, made once for all tests.
func night80Versions(t *testing.T) []Version {
	t.Helper()
	night80.once.Do(func() { night80.versions = makeNight(t, "80", 13392, 100) })
	if len(night80.versions) != 100 {
		t.Fatal("no rehearsal night of election 80")
	}
	return night80.versions
}

// TestCleanNight checks that nothing in a simulated night is suspect.
func TestCleanNight(t *testing.T) {
	night := night80Versions(t)
	var c Checker
	for i, v := range night {
		if got := c.Check(v); got != nil {
			t.Errorf("step %d: Checker.Check = %s, want none", i, show(got))
		}
		if i%10 == 0 || i == len(night)-1 {
			if got := Check(Version{}, v); got != nil {
				t.Errorf("step %d: Check(zero, step) = %s, want none", i, show(got))
			}
		}
	}
	if v, _ := c.Accepted(); v != night[len(night)-1].Number {
		t.Errorf("Accepted = %d, want the last step's %d", v, night[len(night)-1].Number)
	}
}

// TestCleanNights checks short nights made from every recorded version.
func TestCleanNights(t *testing.T) {
	archive := openArchive(t)
	for _, id := range archive.Elections() {
		for _, v := range archive.Versions(id) {
			if id == "80" && v == 13392 {
				continue // TestCleanNight
			}
			var c Checker
			for i, step := range makeNight(t, id, v, 8) {
				if got := c.Check(step); got != nil {
					t.Errorf("night of %s/%d, step %d: %s, want none", id, v, i, show(got))
				}
			}
		}
	}
}

// fault is a change to a step of the night and what it must bring about.
type fault struct {
	name string
	// step is the index of the step changed, compared with the one before.
	step int
	// inject changes the step; prev is the step before.
	inject func(t *testing.T, prev, next Version) (Version, Version)
	want   Reason
	// prefix says that want's detail is only the start of the detail.
	prefix bool
	// also lists the kinds that may follow from the fault besides want's.
	also []Kind
}

// Office and towns of election 80 the faults use: the governor's race,
// Avon (reports early), and the candidates' names as in Lookupdata.json.
const governor = "13576"

func TestFaults(t *testing.T) {
	night := night80Versions(t)
	ld, err := snapshot.DecodeLookupData(night[0].LookupData)
	if err != nil {
		t.Fatal(err)
	}
	mid := 70
	pick := pickVote(t, night[mid-1], night[mid])
	place := townName(ld, pick.town) + ", " + officeName(ld, governor) + ": " +
		candidateName(ld, pick.candidate)
	lateStep, officialTown := pickOfficialTown(t, night)

	faults := []fault{
		{
			name: "count lowered",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next, func(doc map[string]any) {
					setCount(t, doc, pick.townPath(), pick.before-1)
					// Keep the statewide total the sum of the towns.
					setCount(t, doc, pick.statePath(), pick.state-(pick.after-(pick.before-1)))
				})
			},
			want: Reason{VotesDecreased, fmt.Sprintf("%s %s → %s", place,
				snapshot.Thousands(pick.before), snapshot.Thousands(pick.before-1))},
		},
		{
			name: "reported town removed",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next, remove("townVotes."+pick.town))
			},
			want: Reason{TownDisappeared, fmt.Sprintf(
				"%s: had results for %s, now missing from townVotes",
				townName(ld, pick.town), plural(pick.offices, "office"))},
			also: []Kind{StateTotalMismatch},
		},
		{
			name: "official town flipped back",
			step: lateStep,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next,
					setTo("townStatus."+officialTown+".TS", "( *Unofficial Results )"))
			},
			want: Reason{OfficialRevoked, townName(ld, officialTown) +
				`: official results now "( *Unofficial Results )"`},
		},
		{
			name: "stateVotes bumped",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next, func(doc map[string]any) {
					setCount(t, doc, pick.statePath(), pick.state+1000)
				})
			},
			want: Reason{StateTotalMismatch, fmt.Sprintf("%s: %s statewide %s, towns add up to %s",
				officeName(ld, governor), candidateName(ld, pick.candidate),
				snapshot.Thousands(pick.state+1000), snapshot.Thousands(pick.state))},
		},
		{
			name: "version numbers swapped",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				prev.Number, next.Number = next.Number, prev.Number
				return prev, next
			},
			want: Reason{VersionBackwards, fmt.Sprintf("version %d → %d",
				night[mid].Number, night[mid-1].Number)},
		},
		{
			name: "steps swapped",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return next, prev
			},
			want: Reason{VersionBackwards, fmt.Sprintf("version %d → %d",
				night[mid].Number, night[mid-1].Number)},
			also: []Kind{VotesDecreased, PrecinctsDecreased, TownDisappeared},
		},
		{
			name: "Electiondata.json truncated",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				next.ElectionData = next.ElectionData[:len(next.ElectionData)/2]
				return prev, next
			},
			want:   Reason{DecodeFailed, "decoding Electiondata.json: "},
			prefix: true,
		},
		{
			name: "Lookupdata.json not JSON",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				next.LookupData = []byte("<html>502 Bad Gateway</html>")
				return prev, next
			},
			want:   Reason{DecodeFailed, "decoding Lookupdata.json: "},
			prefix: true,
		},
		{
			name: "precincts reporting lowered",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next, setTo("election.PR", "0 of 763 (0.00%)"))
			},
			want: Reason{PrecinctsDecreased, "Election: precincts reporting " +
				electionPR(t, night[mid-1]) + " → 0 of 763 (0.00%)"},
		},
		{
			name: "negative count",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next, func(doc map[string]any) {
					setCount(t, doc, pick.townPath(), -1)
				})
			},
			want: Reason{NegativeCount, place + " -1 votes"},
			also: []Kind{VotesDecreased, StateTotalMismatch},
		},
		{
			name: "share off",
			step: mid,
			inject: func(t *testing.T, prev, next Version) (Version, Version) {
				return prev, editVersion(t, next,
					setTo(pick.sharePath(), "150.00%"))
			},
			want: Reason{SharesNot100, townName(ld, pick.town) + ", " +
				officeName(ld, governor) + ": shares add up to "},
			prefix: true,
		},
	}

	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			prev, next := f.inject(t, night[f.step-1], night[f.step])
			got := Check(prev, next)
			found := false
			for _, r := range got {
				switch {
				case r.Kind == f.want.Kind && (r.Detail == f.want.Detail ||
					f.prefix && strings.HasPrefix(r.Detail, f.want.Detail)):
					found = true
				case r.Kind == f.want.Kind || contains(f.also, r.Kind):
				default:
					t.Errorf("unexpected reason %s", r)
				}
			}
			if !found {
				t.Errorf("Check = %s\nwant %s", show(got), f.want)
			}
			if f.want.Kind == DecodeFailed && len(got) != 1 {
				t.Errorf("Check = %s, want only the decoding failure", show(got))
			}
		})
	}
}

// TestFaultNotAccepted checks that a Checker does not take a suspect step
// as the version to compare with: the step after it is clean again.
func TestFaultNotAccepted(t *testing.T) {
	night := night80Versions(t)
	const bad = 50
	pick := pickVote(t, night[bad-1], night[bad])
	var c Checker
	for i, v := range night[:bad+3] {
		if i == bad {
			v = editVersion(t, v, func(doc map[string]any) {
				setCount(t, doc, pick.statePath(), 0)
			})
		}
		got := c.Check(v)
		if suspect := len(got) > 0; suspect != (i == bad) {
			t.Errorf("step %d: Check = %s", i, show(got))
		}
	}
}

// votePick is a candidate's count in a town that reported before a step
// of the night and still has not become official.
type votePick struct {
	town, candidate string
	index           int   // the candidate's place in the town's list
	stateIndex      int   // and in stateVotes
	before, after   int64 // the town count before and at the step
	state           int64 // the statewide count at the step
	offices         int   // the town's offices at the step
}

func (p votePick) townPath() string {
	return fmt.Sprintf("townVotes.%s.%s.%d.%s.V", p.town, governor, p.index, p.candidate)
}

func (p votePick) sharePath() string {
	return strings.TrimSuffix(p.townPath(), ".V") + ".TO"
}

func (p votePick) statePath() string {
	return fmt.Sprintf("stateVotes.%s.%d.%s.V", governor, p.stateIndex, p.candidate)
}

// pickVote finds the first governor's count of at least 10 in a town that
// is unofficial at next.
func pickVote(t *testing.T, prev, next Version) votePick {
	t.Helper()
	pe, ne := decodeED(t, prev), decodeED(t, next)
	for town, offices := range pe.TownVotes.All() {
		if s, _ := ne.TownStatus.Get(town); s.Official() {
			continue
		}
		nextOffices, _ := ne.TownVotes.Get(town)
		list, _ := offices.Get(governor)
		for i, v := range list {
			n, _ := v.Votes.Int()
			if n < 10 {
				continue
			}
			after, _ := nextOffices.Get(governor)
			w, _ := findVote(after, v.Candidate, i)
			a, _ := w.Votes.Int()
			state, _ := ne.StateVotes.Get(governor)
			for j, s := range state {
				if s.Candidate == v.Candidate {
					sn, _ := s.Votes.Int()
					return votePick{town: string(town), candidate: string(v.Candidate),
						index: i, stateIndex: j, before: n, after: a, state: sn,
						offices: nextOffices.Len()}
				}
			}
		}
	}
	t.Fatal("no town count to change")
	return votePick{}
}

// pickOfficialTown returns a late step and a town official at the step
// before it.
func pickOfficialTown(t *testing.T, night []Version) (int, string) {
	t.Helper()
	step := len(night) - 2
	for town, s := range decodeED(t, night[step-1]).TownStatus.All() {
		if s.Official() {
			return step, string(town)
		}
	}
	t.Fatal("no official town late in the night")
	return 0, ""
}

func decodeED(t *testing.T, v Version) *snapshot.ElectionData {
	t.Helper()
	ed, err := snapshot.DecodeElectionData(v.ElectionData)
	if err != nil {
		t.Fatal(err)
	}
	return ed
}

func electionPR(t *testing.T, v Version) string {
	return decodeED(t, v).Election.PrecinctsReporting
}

// setCount writes a count at path in the thousands style of the feed.
func setCount(t *testing.T, doc map[string]any, path string, n int64) {
	t.Helper()
	if get(doc, path) == nil {
		t.Fatalf("no count at %s", path)
	}
	set(doc, path, snapshot.Thousands(n))
}

func townName(ld *snapshot.LookupData, id string) string {
	name, _ := ld.TownIDs.Get(snapshot.TownID(id))
	return name
}

func officeName(ld *snapshot.LookupData, id string) string {
	o, _ := ld.Office(snapshot.OfficeID(id))
	return o.Name
}

func candidateName(ld *snapshot.LookupData, id string) string {
	c, _ := ld.CandidateIDs.Get(snapshot.CandidateID(id))
	p, _ := ld.PartyIDs.Get(c.Party)
	return c.Name + " (" + p.Code + ")"
}

func contains(kinds []Kind, k Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}
