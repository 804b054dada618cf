package suspect

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type checkCase struct {
	name       string
	prev, next Version
	want       []Reason
}

// runCases runs Check on each case and compares the reasons.
func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.prev, tc.next)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Check = %s\nwant %s", show(got), show(tc.want))
			}
		})
	}
}

func show(reasons []Reason) string {
	if len(reasons) == 0 {
		return "no reasons"
	}
	var b strings.Builder
	for _, r := range reasons {
		fmt.Fprintf(&b, "\n\t%s", r)
	}
	return b.String()
}

// The small versions the cases start from: prev is version 100, next 101.
func prevWith(t *testing.T, fs ...func(map[string]any)) Version {
	return editVersion(t, base(100), edits(fs...))
}

func nextWith(t *testing.T, fs ...func(map[string]any)) Version {
	return editVersion(t, base(101), edits(fs...))
}

// votes returns a vote list entry {candidate: {V, TO}}.
func votes(candidate, v, share string) map[string]any {
	return map[string]any{candidate: map[string]any{"V": v, "TO": share}}
}

func TestCheckClean(t *testing.T) {
	runCases(t, []checkCase{
		{"same documents", base(100), base(101), nil},
		{"same version", base(100), base(100), nil},
		{"first version", Version{}, base(1), nil},
		{"counts grow", base(100), nextWith(t,
			setTo("townVotes.2.9457.0.101.V", "1,300"),
			setTo("stateVotes.9457.0.101.V", "1,600"),
			setTo("election.PR", "4 of 4 (100.00%)")), nil},
	})
}

func TestVersionReused(t *testing.T) {
	changed := base(100)
	changed.ElectionData = append([]byte(nil), changed.ElectionData...)
	changed.ElectionData = bytes.Replace(changed.ElectionData, []byte(`"ID"`), []byte(`"ID" `), 1)
	runCases(t, []checkCase{
		{"same number, other documents", base(100), changed,
			[]Reason{{VersionReused, "version 100 published again with different documents"}}},
		{"same number, same documents", base(100), base(100), nil},
	})
}

func TestVersionBackwards(t *testing.T) {
	runCases(t, []checkCase{
		{"lower number", base(100), base(99),
			[]Reason{{VersionBackwards, "version 100 → 99"}}},
		{"from a big sparse version", base(13392), base(1316),
			[]Reason{{VersionBackwards, "version 13392 → 1316"}}},
		{"first version 0", Version{}, base(0), nil},
	})
}

func TestVotesDecreased(t *testing.T) {
	runCases(t, []checkCase{
		{"town and statewide", base(100), nextWith(t,
			setTo("townVotes.2.9457.0.101.V", "1,150"),
			setTo("stateVotes.9457.0.101.V", "1,450")),
			[]Reason{
				{VotesDecreased, "Ansonia, Governor: Ned Lamont (D) 1,200 → 1,150"},
				{VotesDecreased, "Statewide, Governor: Ned Lamont (D) 1,500 → 1,450"},
			}},
		{"official town lowered again", base(100), nextWith(t,
			setTo("townVotes.1.9457.1.102.V", "190"),
			setTo("stateVotes.9457.1.102.V", "590")),
			[]Reason{
				{VotesDecreased, "Andover, Governor: Bob Stefanowski (R) 200 → 190"},
				{VotesDecreased, "Statewide, Governor: Bob Stefanowski (R) 600 → 590"},
			}},
		{"town turning official may correct its counts", base(100), nextWith(t,
			setTo("townStatus.2.TS", "( Official Results )"),
			setTo("townVotes.2.9457.0.101.V", "1,150"),
			setTo("stateVotes.9457.0.101.V", "1,450")), nil},
		{"statewide falls more than the corrected town explains", base(100), nextWith(t,
			setTo("townStatus.2.TS", "( Official Results )"),
			setTo("townVotes.2.9457.0.101.V", "1,150"),
			setTo("townVotes.1.9457.0.101.V", "290"),
			setTo("stateVotes.9457.0.101.V", "1,440")),
			[]Reason{
				{VotesDecreased, "Andover, Governor: Ned Lamont (D) 300 → 290"},
				{VotesDecreased, "Statewide, Governor: Ned Lamont (D) 1,500 → 1,440"},
			}},
		{"candidate with votes leaves the list", base(100), nextWith(t,
			setTo("townVotes.1.9457", []any{votes("101", "300", "100.00%")}),
			setTo("stateVotes.9457.1.102.V", "400")),
			[]Reason{
				{VotesDecreased, "Andover, Governor: Bob Stefanowski (R) 200 → missing"},
				{VotesDecreased, "Statewide, Governor: Bob Stefanowski (R) 600 → 400"},
			}},
		{"candidate without votes leaves the list", prevWith(t,
			setTo("townVotes.1.9457.0.101.TO", "100.00%"),
			setTo("townVotes.1.9457.1.102", map[string]any{"V": "0", "TO": "0.00%"}),
			setTo("stateVotes.9457.1.102.V", "400")), nextWith(t,
			setTo("townVotes.1.9457", []any{votes("101", "300", "100.00%")}),
			setTo("stateVotes.9457.1.102.V", "400")), nil},
		{"list reordered", base(100), nextWith(t,
			setTo("townVotes.2.9457", []any{
				votes("102", "400", "25.00%"), votes("101", "1,200", "75.00%")})), nil},
		{"count not a number", base(100), nextWith(t,
			setTo("townVotes.2.9457.0.101.V", "-"),
			setTo("stateVotes.9457.0.101.V", "-")), nil},
	})
}

func TestPrecinctsDecreased(t *testing.T) {
	runCases(t, []checkCase{
		{"election", base(100), nextWith(t, setTo("election.PR", "2 of 4 (50.00%)")),
			[]Reason{{PrecinctsDecreased,
				"Election: precincts reporting 3 of 4 (75.00%) → 2 of 4 (50.00%)"}}},
		{"town in townStatus and voterTurnout, flagged once", base(100), nextWith(t,
			setTo("townStatus.2.PR", "1 of 3 (33.33%)"),
			setTo("voterTurnout.2.PR", "1 of 3 (33.33%)")),
			[]Reason{{PrecinctsDecreased,
				"Ansonia: precincts reporting 2 of 3 (66.67%) → 1 of 3 (33.33%)"}}},
		{"town in voterTurnout only", base(100), nextWith(t,
			setTo("voterTurnout.2.PR", "1 of 3")),
			[]Reason{{PrecinctsDecreased,
				"Ansonia: precincts reporting 2 of 3 (66.67%) → 1 of 3"}}},
		{"voterTurnout total", prevWith(t, setTo("voterTurnout.170.PR", "3 of 4")),
			nextWith(t, setTo("voterTurnout.170.PR", "2 of 4")),
			[]Reason{{PrecinctsDecreased, "Total: precincts reporting 3 of 4 → 2 of 4"}}},
		{"office", base(100), nextWith(t, setTo("officePrecincts.9457", "1 of 4 (25.00%)")),
			[]Reason{{PrecinctsDecreased,
				"Governor, all towns: precincts reporting 3 of 4 (75.00%) → 1 of 4 (25.00%)"}}},
		{"thousands", prevWith(t, setTo("election.PR", "1,024 of 1,100")),
			nextWith(t, setTo("election.PR", "999 of 1,100")),
			[]Reason{{PrecinctsDecreased, "Election: precincts reporting 1,024 of 1,100 → " +
				"999 of 1,100"}}},
		{"total grows, reported stays", base(100), nextWith(t,
			setTo("townStatus.1.PR", "1 of 2 (50.00%)")), nil},
		{"odd lines are skipped", base(100), nextWith(t,
			setTo("election.PR", ""),
			setTo("townStatus.1.PR", "n/a"),
			setTo("townStatus.2.PR", "-1 of 3"),
			setTo("voterTurnout.2.PR", "of 3"),
			setTo("officePrecincts.9457", json0()),
			remove("voterTurnout.1")), nil},
		{"odd before", prevWith(t, setTo("election.PR", "all of them")), base(101), nil},
	})
}

// json0 is a JSON number where a reporting line is expected.
func json0() any { return 0 }

func TestOfficialRevoked(t *testing.T) {
	runCases(t, []checkCase{
		{"back to unofficial", base(100), nextWith(t,
			setTo("townStatus.1.TS", "( *Unofficial Results )")),
			[]Reason{{OfficialRevoked,
				`Andover: official results now "( *Unofficial Results )"`}}},
		{"status emptied", base(100), nextWith(t, setTo("townStatus.1.TS", "")),
			[]Reason{{OfficialRevoked, `Andover: official results now ""`}}},
		{"unofficial to official", base(100), nextWith(t,
			setTo("townStatus.2.TS", "( Official Results )")), nil},
		{"status missing", base(100), nextWith(t, remove("townStatus.1")), nil},
	})
}

func TestTownDisappeared(t *testing.T) {
	runCases(t, []checkCase{
		{"statewide kept", base(100), nextWith(t, remove("townVotes.1")),
			[]Reason{
				{TownDisappeared, "Andover: had results for 1 office, now missing from townVotes"},
				{StateTotalMismatch,
					"Governor: Ned Lamont (D) statewide 1,500, towns add up to 1,200"},
				{StateTotalMismatch,
					"Governor: Bob Stefanowski (R) statewide 600, towns add up to 400"},
			}},
		{"statewide lowered", base(100), nextWith(t, remove("townVotes.1"),
			setTo("stateVotes.9457.0.101.V", "1,200"),
			setTo("stateVotes.9457.1.102.V", "400")),
			[]Reason{
				{TownDisappeared, "Andover: had results for 1 office, now missing from townVotes"},
				{VotesDecreased, "Statewide, Governor: Ned Lamont (D) 1,500 → 1,200"},
				{VotesDecreased, "Statewide, Governor: Bob Stefanowski (R) 600 → 400"},
			}},
		{"new town", prevWith(t, remove("townVotes.1"),
			setTo("stateVotes.9457.0.101.V", "1,200"),
			setTo("stateVotes.9457.1.102.V", "400")), base(101), nil},
	})
}

func TestStateTotalMismatch(t *testing.T) {
	bumped := nextWith(t, setTo("stateVotes.9457.0.101.V", "1,501"))
	runCases(t, []checkCase{
		{"bumped", base(100), bumped,
			[]Reason{{StateTotalMismatch,
				"Governor: Ned Lamont (D) statewide 1,501, towns add up to 1,500"}}},
		{"bumped in a first version", Version{}, bumped,
			[]Reason{{StateTotalMismatch,
				"Governor: Ned Lamont (D) statewide 1,501, towns add up to 1,500"}}},
		{"office that did not add up before", prevWith(t,
			setTo("stateVotes.9457.1.102.V", "599")), bumped, nil},
		{"statewide candidate missing", base(100), nextWith(t,
			setTo("stateVotes.9457", []any{votes("101", "1,500", "100.00%")})),
			[]Reason{
				{VotesDecreased, "Statewide, Governor: Bob Stefanowski (R) 600 → missing"},
				{StateTotalMismatch,
					"Governor: Bob Stefanowski (R) statewide missing, towns add up to 600"},
			}},
		{"statewide office missing", base(100), nextWith(t, remove("stateVotes.9457")),
			[]Reason{
				{VotesDecreased, "Statewide, Governor: Ned Lamont (D) 1,500 → missing"},
				{VotesDecreased, "Statewide, Governor: Bob Stefanowski (R) 600 → missing"},
				{StateTotalMismatch, "Governor: Ned Lamont (D) statewide missing, " +
					"towns add up to 1,500"},
				{StateTotalMismatch, "Governor: Bob Stefanowski (R) statewide missing, " +
					"towns add up to 600"},
			}},
		{"statewide count for a candidate without towns", base(100), nextWith(t,
			setTo("stateVotes.9457", []any{votes("101", "1,500", "70.00%"),
				votes("102", "600", "28.00%"), votes("103", "42", "2.00%")})),
			[]Reason{{StateTotalMismatch,
				"Governor: candidate 103 statewide 42, towns add up to 0"}}},
		{"a town count not a number", base(100), nextWith(t,
			setTo("townVotes.1.9457.0.101.V", "n/a")), nil},
	})
}

func TestDecodeFailed(t *testing.T) {
	truncated := base(101)
	truncated.ElectionData = truncated.ElectionData[:100]
	badLookup := base(99) // the version going back is not reported either
	badLookup.LookupData = []byte(`[]`)
	noTownVotes := nextWith(t, remove("townVotes"))
	for _, tc := range []struct {
		name       string
		prev, next Version
		want       []string // prefixes of the details
	}{
		{"truncated", base(100), truncated, []string{"decoding Electiondata.json: "}},
		{"first version truncated", Version{}, truncated,
			[]string{"decoding Electiondata.json: "}},
		{"lookup not an object", base(100), badLookup, []string{"decoding Lookupdata.json: "}},
		{"both", base(100), Version{Number: 101}, []string{
			"decoding Electiondata.json: ", "decoding Lookupdata.json: "}},
		{"townVotes missing", base(100), noTownVotes,
			[]string{"decoding Electiondata.json: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.prev, tc.next)
			ok := len(got) == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				ok = got[i].Kind == DecodeFailed && strings.HasPrefix(got[i].Detail, tc.want[i]) &&
					!strings.Contains(got[i].Detail, "\n")
			}
			if !ok {
				t.Errorf("Check = %s\nwant decode-failed reasons starting %q", show(got), tc.want)
			}
		})
	}
}

func TestPrevNotDecoding(t *testing.T) {
	broken := base(100)
	broken.ElectionData = []byte("{")
	runCases(t, []checkCase{
		{"treated as zero", broken, nextWith(t, setTo("townVotes.1.9457.0.101.V", "1")),
			[]Reason{{StateTotalMismatch,
				"Governor: Ned Lamont (D) statewide 1,500, towns add up to 1,201"}}},
		{"version still compared", broken, base(99),
			[]Reason{{VersionBackwards, "version 100 → 99"}}},
	})
}

func TestNegativeCount(t *testing.T) {
	runCases(t, []checkCase{
		{"town", Version{}, nextWith(t,
			setTo("townVotes.1.9457.0.101.V", "-5"),
			setTo("stateVotes.9457.0.101.V", "1,195")),
			[]Reason{{NegativeCount, "Andover, Governor: Ned Lamont (D) -5 votes"}}},
		{"statewide and a town, after a version", base(100), nextWith(t,
			setTo("townVotes.1.9457.1.102.V", "-1,200"),
			setTo("stateVotes.9457.1.102.V", "-800")),
			[]Reason{
				{VotesDecreased, "Andover, Governor: Bob Stefanowski (R) 200 → -1,200"},
				{VotesDecreased, "Statewide, Governor: Bob Stefanowski (R) 600 → -800"},
				{NegativeCount, "Andover, Governor: Bob Stefanowski (R) -1,200 votes"},
				{NegativeCount, "Statewide, Governor: Bob Stefanowski (R) -800 votes"},
			}},
	})
}

func TestSharesNot100(t *testing.T) {
	runCases(t, []checkCase{
		{"town", Version{}, nextWith(t, setTo("townVotes.2.9457.0.101.TO", "70.00%")),
			[]Reason{{SharesNot100, "Ansonia, Governor: shares add up to 95.00%"}}},
		{"statewide, without signs", base(100), nextWith(t,
			setTo("stateVotes.9457.0.101.TO", "61.43"),
			setTo("stateVotes.9457.1.102.TO", "28.57")),
			[]Reason{{SharesNot100, "Statewide, Governor: shares add up to 90.00%"}}},
		{"thirds", Version{}, nextWith(t,
			setTo("townVotes.1.9457", []any{votes("101", "1", "33.33%"),
				votes("102", "1", "33.33%"), votes("103", "1", "33.33%")}),
			setTo("stateVotes.9457", []any{votes("101", "1,201", "66.66%"),
				votes("102", "401", "33.34%")})),
			[]Reason{{StateTotalMismatch,
				"Governor: candidate 103 statewide missing, towns add up to 1"}}},
		{"whole percents", Version{}, nextWith(t,
			setTo("townVotes.1.9457.0.101.TO", "60%"),
			setTo("townVotes.1.9457.1.102.TO", "41%")), nil},
		{"no votes yet", Version{}, nextWith(t,
			setTo("townVotes.1.9457", []any{votes("101", "0", "0.00%"),
				votes("102", "0", "0.00%")}),
			setTo("stateVotes.9457", []any{votes("101", "1,200", "75.00%"),
				votes("102", "400", "25.00%")})), nil},
		{"share not a number", Version{}, nextWith(t,
			setTo("townVotes.1.9457.0.101.TO", "-")), nil},
	})
}

func TestLabels(t *testing.T) {
	lower := func(v Version) Version {
		return editVersion(t, v, edits(
			setTo("townVotes.1.9457.0.101.V", "290"),
			setTo("stateVotes.9457.0.101.V", "1,490")))
	}
	unknown := func(v Version) Version {
		return editLookup(t, v, edits(
			remove("townIds.1"),
			remove("candidateIds.101"),
			setTo("officeList", []any{})))
	}
	otherParty := func(v Version) Version {
		return editLookup(t, v, setTo("candidateIds.101.P", "1026"))
	}
	twoGovernors := func(v Version) Version {
		return editLookup(t, v, setTo("officeList", []any{
			map[string]any{"9457": map[string]any{"ID": "9457", "NM": "Governor", "DT": ""}},
			map[string]any{"9458": map[string]any{"ID": "9458", "NM": "Governor", "DT": ""}},
		}))
	}
	runCases(t, []checkCase{
		{"codes when lookup lacks names", unknown(base(100)), unknown(lower(base(101))),
			[]Reason{
				{VotesDecreased, "town 1, office 9457: candidate 101 300 → 290"},
				{VotesDecreased, "Statewide, office 9457: candidate 101 1,500 → 1,490"},
			}},
		{"names from the accepted version's lookup", base(100), unknown(lower(base(101))),
			[]Reason{
				{VotesDecreased, "Andover, Governor: Ned Lamont (D) 300 → 290"},
				{VotesDecreased, "Statewide, Governor: Ned Lamont (D) 1,500 → 1,490"},
			}},
		{"party not in partyIds", base(100), otherParty(lower(base(101))),
			[]Reason{
				{VotesDecreased, "Andover, Governor: Ned Lamont (party 1026) 300 → 290"},
				{VotesDecreased, "Statewide, Governor: Ned Lamont (party 1026) 1,500 → 1,490"},
			}},
		{"offices of the same name", base(100), twoGovernors(lower(base(101))),
			[]Reason{
				{VotesDecreased, "Andover, Governor [9457]: Ned Lamont (D) 300 → 290"},
				{VotesDecreased, "Statewide, Governor [9457]: Ned Lamont (D) 1,500 → 1,490"},
			}},
	})
}

func TestCap(t *testing.T) {
	// prev has towns 3 to 10 besides the base's two; next has none of them.
	many := func(doc map[string]any) {
		for i := 3; i <= 10; i++ {
			set(doc, fmt.Sprintf("townVotes.%d", i), get(doc, "townVotes.1"))
		}
	}
	got := Check(prevWith(t, many), base(101))
	// The towns come in prev's order, which is encoding/json's: "10" first.
	var want []Reason
	for _, town := range []string{"10", "3", "4", "5", "6"} {
		want = append(want, Reason{TownDisappeared,
			"town " + town + ": had results for 1 office, now missing from townVotes"})
	}
	want = append(want, Reason{TownDisappeared, "and 3 more"})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %s\nwant %s", show(got), show(want))
	}
}

func TestReported(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
		ok   bool
	}{
		{"760 of 763 (99.61%)", 760, true},
		{"169 of 169", 169, true},
		{"1 of 1 (100%)", 1, true},
		{"  1,024  OF 1,100(93.09%) ", 1024, true},
		{"0 of 0 (0.00%)", 0, true},
		{"", 0, false},
		{"760", 0, false},
		{"760 of", 0, false},
		{"of 763", 0, false},
		{"-1 of 763", 0, false},
		{"760 of x", 0, false},
		{"76O of 763", 0, false},
		{"1,0,24 of 1,100", 0, false},
		{"760 out of 763", 0, false},
	} {
		got, ok := reported(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("reported(%q) = %d, %v; want %d, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestChecker(t *testing.T) {
	var c Checker
	if _, ok := c.Accepted(); ok {
		t.Error("zero Checker has an accepted version")
	}
	if got := c.Check(base(100)); got != nil {
		t.Fatalf("first Check = %s, want none", show(got))
	}
	lowered := nextWith(t, setTo("townVotes.2.9457.0.101.V", "1,199"),
		setTo("stateVotes.9457.0.101.V", "1,499"))
	lowered.Number = 102
	if got := c.Check(lowered); countKind(got, VotesDecreased) != 2 {
		t.Fatalf("Check(lowered) = %s, want 2 votes-decreased", show(got))
	}
	if v, _ := c.Accepted(); v != 100 {
		t.Errorf("after a suspect version, Accepted = %d, want 100", v)
	}

	// Compared with the accepted version, the next one is suspect too.
	again := lowered
	again.Number = 103
	if got := c.Check(again); countKind(got, VotesDecreased) != 2 {
		t.Errorf("Check(again) = %s, want 2 votes-decreased", show(got))
	}

	// Once a person accepts it, the next is compared with it.
	if err := c.Accept(again); err != nil {
		t.Fatal(err)
	}
	again.Number = 104
	if got := c.Check(again); got != nil {
		t.Errorf("Check after Accept = %s, want none", show(got))
	}
	if v, _ := c.Accepted(); v != 104 {
		t.Errorf("Accepted = %d, want 104", v)
	}

	broken := base(105)
	broken.ElectionData = []byte("{")
	if got := c.Check(broken); countKind(got, DecodeFailed) != 1 {
		t.Errorf("Check(broken) = %s, want decode-failed", show(got))
	}
	if err := c.Accept(broken); err == nil ||
		!strings.HasPrefix(err.Error(), "accepting version 105: decoding Electiondata.json") {
		t.Errorf("Accept(broken) = %v, want a decoding error", err)
	}
	if v, _ := c.Accepted(); v != 104 {
		t.Errorf("after a failed Accept, Accepted = %d, want 104", v)
	}
	if got := c.Check(base(99)); !reflect.DeepEqual(got,
		[]Reason{{VersionBackwards, "version 104 → 99"}}) {
		t.Errorf("Check(99) = %s, want version-backwards", show(got))
	}
}

func TestReasonString(t *testing.T) {
	r := Reason{VersionBackwards, "version 2 → 1"}
	if got, want := r.String(), "version-backwards: version 2 → 1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
