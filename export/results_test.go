package export

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"ctrunner/snapshot"
)

func decode(t *testing.T, ed, ld string) (*snapshot.ElectionData, *snapshot.LookupData) {
	t.Helper()
	e, err := snapshot.DecodeElectionData([]byte(ed))
	if err != nil {
		t.Fatal(err)
	}
	l, err := snapshot.DecodeLookupData([]byte(ld))
	if err != nil {
		t.Fatal(err)
	}
	return e, l
}

const smallLookup = `{
  "election": {"ID": "80"},
  "townIds": {"2": "Ansonia", "1": "Andover"},
  "officeList": [{"9": {"ID": "9", "NM": "Governor, Lt. Governor"}},
                 {"8": {"ID": "8", "NM": "Senator"}},
                 {"7": {"ID": "9", "NM": "Shadowed"}}],
  "partyIds": {"1": {"CD": "D"}, "2": {"CD": "R"}},
  "candidateIds": {
    "100": {"NM": "Ned \"L\" Lamont", "P": "1"},
    "200": {"NM": " Bob", "P": "2"},
    "300": {"NM": "Local Hero", "P": "1099"}
  }
}`

func TestResultsOrderAndNames(t *testing.T) {
	ed, ld := decode(t, `{
	  "election": {"ID": "80"},
	  "stateVotes": {
	    "8": [{"200": {"V": "5", "TO": "100.00%"}}],
	    "9": [{"100": {"V": "1,278,959", "TO": "57.51"}}, {"200": {"V": "3", "TO": "0.1%"}}]
	  },
	  "townVotes": {
	    "1": {"9": [{"100": {"V": "7", "TO": "70%"}}]},
	    "2": {"9": [{"200": {"V": "8", "TO": "80%"}}], "8": [{"200": {"V": "9", "TO": "90%"}}]}
	  }
	}`, smallLookup)
	var warnings []string
	rows := Results(ed, ld, func(s string) { warnings = append(warnings, s) })
	var buf bytes.Buffer
	if err := WriteResultsCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	want := "office,town,candidate,party,votes,vote_percent\r\n" +
		"Senator,statewide, Bob,R,5,100.00%\r\n" +
		"\"Governor, Lt. Governor\",statewide,\"Ned \"\"L\"\" Lamont\",D,\"1,278,959\",57.51\r\n" +
		"\"Governor, Lt. Governor\",statewide, Bob,R,3,0.1%\r\n" +
		// Towns follow townIds order (2 before 1), not townVotes order.
		"\"Governor, Lt. Governor\",Ansonia, Bob,R,8,80%\r\n" +
		"Senator,Ansonia, Bob,R,9,90%\r\n" +
		"\"Governor, Lt. Governor\",Andover,\"Ned \"\"L\"\" Lamont\",D,7,70%\r\n"
	if got := buf.String(); got != want {
		t.Errorf("results CSV =\n%s\nwant\n%s", got, want)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if r := rows[3]; r.TownID != "2" || r.OfficeID != "9" || r.CandidateID != "200" ||
		r.PartyID != "2" || r.Anomalies != 0 {
		t.Errorf("row 3 = %+v, want town 2, office 9, candidate 200, party 2", r)
	}
	if r := rows[0]; r.TownID != "" || r.Town != StatewideTown {
		t.Errorf("row 0 town = %q, %q, want statewide with no ID", r.TownID, r.Town)
	}
}

func TestResultsKeepsUnknownCodes(t *testing.T) {
	ed, ld := decode(t, `{
	  "election": {"ID": "80"},
	  "stateVotes": {
	    "9": [{"100": {"V": "1", "TO": "1%"}}, {"999": {"V": "2", "TO": "2%"}},
	          {"300": {"V": "3", "TO": "3%"}}, {"999": {"V": "4", "TO": "4%"}}],
	    "55": [{"100": {"V": "5", "TO": "5%"}}]
	  },
	  "townVotes": {
	    "77": {"9": [{"100": {"V": "6", "TO": "6%"}}]},
	    "1": {"9": [{"300": {"V": "7"}}, {"100": {"TO": "8%"}}]},
	    "76": {"8": [{"200": {"V": "9", "TO": "9%"}}]}
	  }
	}`, smallLookup)
	var warnings []string
	rows := Results(ed, ld, func(s string) { warnings = append(warnings, s) })

	type row struct {
		office, town, candidate, party, votes, percent string
		anomalies                                      Anomaly
		dropped                                        bool
	}
	want := []row{
		{"Governor, Lt. Governor", "statewide", `Ned "L" Lamont`, "D", "1", "1%", 0, false},
		{"Governor, Lt. Governor", "statewide", "unknown candidate 999", "", "2", "2%",
			CandidateUnknown, true},
		{"Governor, Lt. Governor", "statewide", "Local Hero", "unknown party 1099", "3", "3%",
			PartyUnknown, true},
		{"Governor, Lt. Governor", "statewide", "unknown candidate 999", "", "4", "4%",
			CandidateUnknown, true},
		{"unknown office 55", "statewide", `Ned "L" Lamont`, "D", "5", "5%", OfficeUnknown, false},
		{"Governor, Lt. Governor", "Andover", "Local Hero", "unknown party 1099", "7", "",
			PartyUnknown | VoteFieldMissing, true},
		{"Governor, Lt. Governor", "Andover", `Ned "L" Lamont`, "D", "", "8%",
			VoteFieldMissing, true},
		{"Governor, Lt. Governor", "unknown town 77", `Ned "L" Lamont`, "D", "6", "6%",
			TownUnknown, true},
		{"Senator", "unknown town 76", " Bob", "R", "9", "9%", TownUnknown, true},
	}
	var got []row
	for _, r := range rows {
		got = append(got, row{r.Office, r.Town, r.Candidate, r.Party, string(r.Votes),
			string(r.VotePercent), r.Anomalies, r.LegacyDropped()})
	}
	if !slices.Equal(got, want) {
		t.Errorf("Results =\n%s\nwant\n%s", formatRows(got), formatRows(want))
	}

	wantWarnings := []string{
		"election 80: candidate 999 (office 9) is not in LookupData candidateIds; " +
			"kept with its code",
		"election 80: party 1099 (candidate 300) is not in LookupData partyIds; kept with its code",
		"election 80: office 55 is not in LookupData officeList; kept with its code",
		"election 80: town 77 is in ElectionData townVotes but not in LookupData townIds; " +
			"kept with its code",
		"election 80: town 76 is in ElectionData townVotes but not in LookupData townIds; " +
			"kept with its code",
		"election 80: 2 vote entries lack V or TO (the first: candidate 300, office 9, " +
			"town Andover); kept with empty fields",
	}
	if !slices.Equal(warnings, wantWarnings) {
		t.Errorf("warnings =\n%s\nwant\n%s",
			strings.Join(warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}

	// A nil callback is allowed.
	if n := len(Results(ed, ld, nil)); n != len(want) {
		t.Errorf("Results with nil warn gave %d rows, want %d", n, len(want))
	}
}

func formatRows[T any](rows []T) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%+v\n", r)
	}
	return b.String()
}

func TestResultsEmpty(t *testing.T) {
	ed, ld := decode(t, `{"townVotes": {}, "stateVotes": {}}`,
		`{"townIds": {}, "officeList": [], "partyIds": {}, "candidateIds": {}}`)
	var buf bytes.Buffer
	if err := ResultsCSV(&buf, ed, ld, nil); err != nil {
		t.Fatal(err)
	}
	want := "office,town,candidate,party,votes,vote_percent\r\n"
	if got := buf.String(); got != want {
		t.Errorf("ResultsCSV of an empty election = %q, want %q", got, want)
	}
}

func TestElectionListCSV(t *testing.T) {
	list, err := snapshot.DecodeElectionList([]byte(`[
	  {"ID": "94", "Name": "08/13/2024 -- August 2024 Democratic Primary", "DefaultElection": "Y"},
	  {"ID": "90", "Name": "Bridgeport, \"Special\" Primary", "DefaultElection": "N"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ElectionListCSV(&buf, list); err != nil {
		t.Fatal(err)
	}
	want := "ID,Name,DefaultElection\r\n" +
		"94,08/13/2024 -- August 2024 Democratic Primary,Y\r\n" +
		"90,\"Bridgeport, \"\"Special\"\" Primary\",N\r\n"
	if got := buf.String(); got != want {
		t.Errorf("ElectionListCSV =\n%q\nwant\n%q", got, want)
	}
}
