package snapshot

import (
	"strings"
	"testing"
)

// quirkyElectionData exercises the quirks of the API in one small document.
const quirkyElectionData = "\xEF\xBB\xBF" + `{
  "election": {"ID": "80", "BC": "1,278,959", "PR": "760 of 763 (99.61%)",
    "RV": 2224003, "T": "169 of 169", "PT": "0 of 169", "TO": "57.51", "SVT": true,
    "NEW": {"x": [1, 2]}},
  "voterTurnout": {
    "2": {"NM": "Ansonia", "PR": "", "EV": "10804", "VV": "5392", "ABR": "548",
      "ABC": "-2", "EDR": "55", "EDC": "55", "EBR": "7", "EBC": "6", "TO": "49.91%"},
    "170": {"NM": "Total", "PR": "", "EV": "2,224,003", "VV": "1278959", "TO": "57.51%"}
  },
  "townStatus": {"2": {"TS": "( Official Results )", "PR": "7 of 7 (100.00%)"}},
  "townVotes": {
    "2": {
      "13576": [{"27489": {"V": "793", "TO": "47.80%"}}, {"27487": {"V": "1,817", "TO": "49.25"}}],
      "13479": [{"27491": {"V": "", "TO": "-"}}, {"1": {"V": 5}, "2": {"TO": "1%", "Q": 1}}]
    },
    "1": {"13576": []},
    "3": null
  },
  "stateVotes": {"13576": [{"27489": {"V": "687917", "TO": "54.36%"}}]},
  "candidateGrouping": {"13576": [{"27489": {"V": "706695", "TO": "55.85%"}}]},
  "officePrecincts": {"13576": "7 of 7 (100%)"},
  "districts": [{"2": [{"2116": {"TN": "Ansonia", "PN": "1-Ward \"1\"\tArmory", "S": "False"}}]}],
  "ballotQuestion": {"State Wide": [{"QN": "1.  \u201cShall\u201d", "YES": "687223",
    "NO": "-", "NTH": "-", "NTL": "-"}]},
  "reports": {"IR": "True", "IO": false},
  "later": "kept"
}
`

func TestDecodeElectionDataQuirks(t *testing.T) {
	ed, err := DecodeElectionData([]byte(quirkyElectionData))
	if err != nil {
		t.Fatal(err)
	}

	e := ed.Election
	checkString(t, "election.ID", string(e.ID), "80")
	checkString(t, "election.BC", string(e.BallotsCast), "1,278,959")
	if n, ok := e.BallotsCast.Int(); n != 1278959 || !ok {
		t.Errorf("election.BC.Int() = %d, %v, want 1278959, true", n, ok)
	}
	checkString(t, "election.RV (a JSON number)", string(e.RegisteredVoters), "2224003")
	checkString(t, "election.PR", e.PrecinctsReporting, "760 of 763 (99.61%)")
	if f, ok := e.Turnout.Float(); f != 57.51 || !ok {
		t.Errorf("election.TO.Float() = %v, %v, want 57.51, true", f, ok)
	}
	if v, ok := e.ShowVoteTotals.Bool(); !v || !ok {
		t.Errorf("election.SVT.Bool() = %v, %v, want true, true", v, ok)
	}
	if raw, ok := e.Extra.Get("NEW"); !ok || string(raw) != `{"x": [1, 2]}` {
		t.Errorf("election.Extra[NEW] = %s, %v, want the raw object", raw, ok)
	}

	ansonia, _ := ed.VoterTurnout.Get("2")
	checkString(t, "voterTurnout.2.ABC", string(ansonia.AbsenteeCounted), "-2")
	checkString(t, "voterTurnout.2.EBC", string(ansonia.EarlyVotingCounted), "6")
	checkString(t, "voterTurnout.2.PR", ansonia.PrecinctsReporting, "")
	total, ok := ed.Total()
	if !ok {
		t.Fatalf("Total() found nothing")
	}
	if n, _ := total.Eligible.Int(); n != 2224003 {
		t.Errorf("Total().EV = %d, want 2224003", n)
	}
	if s, _ := ed.TownStatus.Get("2"); !s.Official() {
		t.Errorf("townStatus.2.Official() = false, want true")
	}

	checkKeys(t, "townVotes", ed.TownVotes.Keys(), "2", "1", "3")
	town, _ := ed.TownVotes.Get("2")
	checkKeys(t, "townVotes.2", town.Keys(), "13576", "13479")
	votes, _ := town.Get("13479")
	want := []Vote{
		{Candidate: "27491", Votes: "", Share: "-", HasVotes: true, HasShare: true},
		{Candidate: "1", Votes: "5", HasVotes: true},
		{Candidate: "2", Share: "1%", HasShare: true},
	}
	if len(votes) != len(want) {
		t.Fatalf("townVotes.2.13479 has %d votes, want %d", len(votes), len(want))
	}
	for i, v := range votes {
		w := want[i]
		if v.Candidate != w.Candidate || v.Votes != w.Votes || v.Share != w.Share ||
			v.HasVotes != w.HasVotes || v.HasShare != w.HasShare {
			t.Errorf("townVotes.2.13479[%d] = %+v, want %+v", i, v, w)
		}
	}
	if raw, ok := votes[2].Extra.Get("Q"); !ok || string(raw) != "1" {
		t.Errorf("unknown vote member Q = %s, %v, want 1, true", raw, ok)
	}
	if empty, _ := ed.TownVotes.Get("3"); empty.Len() != 0 {
		t.Errorf("townVotes.3 (null) has %d offices, want 0", empty.Len())
	}

	if len(ed.Districts) != 1 || len(ed.Districts[0].Places) != 1 {
		t.Fatalf("districts = %+v, want one town with one place", ed.Districts)
	}
	p := ed.Districts[0].Places[0]
	checkString(t, "districts[0].2[0].PN", p.Name, "1-Ward \"1\"\tArmory")
	if s, ok := p.Reported.Bool(); s || !ok {
		t.Errorf("districts S = %v, %v, want false, true", s, ok)
	}
	qs, _ := ed.BallotQuestions.Get("State Wide")
	if len(qs) != 1 {
		t.Fatalf("ballotQuestion[State Wide] has %d questions, want 1", len(qs))
	}
	checkString(t, "ballotQuestion QN", qs[0].Question, "1.  \u201cShall\u201d")
	checkString(t, "ballotQuestion NO", string(qs[0].No), "-")
	if v, ok := ed.Reports.IR.Bool(); !v || !ok {
		t.Errorf("reports.IR = %v, %v, want true, true", v, ok)
	}
	if v, ok := ed.Reports.IO.Bool(); v || !ok {
		t.Errorf("reports.IO = %v, %v, want false, true", v, ok)
	}
	if raw, _ := ed.Extra.Get("later"); string(raw) != `"kept"` {
		t.Errorf("Extra[later] = %s, want \"kept\"", raw)
	}
}

func TestDecodeElectionDataErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"array", `[]`,
			"decoding Electiondata.json: expected an object, found an array"},
		{"null", `null`,
			"decoding Electiondata.json: expected an object, found null"},
		{"townVotes array", `{"townVotes": [], "stateVotes": {}}`,
			"decoding Electiondata.json: townVotes: expected an object, found an array"},
		{"no townVotes", `{"stateVotes": {}}`,
			"decoding Electiondata.json: townVotes: required field is missing"},
		{"no stateVotes", `{"townVotes": {}}`,
			"decoding Electiondata.json: stateVotes: required field is missing"},
		{"office not a list", `{"townVotes": {"1": {"9": {}}}, "stateVotes": {}}`,
			"decoding Electiondata.json: townVotes.1.9: expected an array, found an object"},
		{"vote not an object", `{"stateVotes": {"9": [{"5": {}}, {"6": "7"}]}, "townVotes": {}}`,
			"decoding Electiondata.json: stateVotes.9[1].6: expected an object, found a string"},
		{"empty", ``,
			"decoding Electiondata.json: invalid JSON at line 1, column 1 (offset 0): " +
				"unexpected end of input, expected an object"},
		{"truncated", "{\"townVotes\": {\n\"1\": {",
			"decoding Electiondata.json: townVotes.1: invalid JSON at line 2, column 7 " +
				"(offset 22): unexpected end of input where an object key should be"},
		{"trailing", `{"townVotes": {}, "stateVotes": {}} x`,
			"decoding Electiondata.json: invalid JSON at line 1, column 37 (offset 36): " +
				"unexpected data after the JSON value"},
		{"bad escape", `{"townVotes": {"\q": {}}, "stateVotes": {}}`,
			`decoding Electiondata.json: townVotes: invalid JSON at line 1, column 17 ` +
				`(offset 16): invalid escape: 'q' after a backslash`},
	}
	for _, tt := range tests {
		_, err := DecodeElectionData([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: DecodeElectionData(%q) error = %v, want %q", tt.name, tt.in, err, tt.want)
		}
	}
}

func TestDecodeStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`"a\"b\\c\/d"`, `a"b\c/d`},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t"},
		{`"\u00e9\u201C"`, "é\u201c"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d x"`, "\uFFFD x"},
		{"\"raw\ttab\"", "raw\ttab"},
		{`12.5e-3`, "12.5e-3"},
		{`true`, "true"},
		{`null`, ""},
		{`{"a": 1}`, `{"a": 1}`},
	}
	for _, tt := range tests {
		d := newDecoder([]byte(tt.in))
		got, err := d.scalar()
		if err == nil {
			err = d.end()
		}
		if err != nil || got != tt.want {
			t.Errorf("scalar(%s) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`"\u12"`, `"abc`, `01`, `1.`, `-`, `1e`, `tru`, `"\`} {
		d := newDecoder([]byte(bad))
		if _, err := d.scalar(); err == nil && d.end() == nil {
			t.Errorf("scalar(%s) succeeded, want an error", bad)
		}
	}
}

func checkString(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func checkKeys[K ~string](t *testing.T, what string, got []K, want ...K) {
	t.Helper()
	if strings.Join(asStrings(got), ",") != strings.Join(asStrings(want), ",") {
		t.Errorf("%s keys = %q, want %q", what, got, want)
	}
}

func asStrings[K ~string](keys []K) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}
