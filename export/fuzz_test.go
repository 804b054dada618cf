package export

import (
	"bytes"
	"strings"
	"testing"

	"ctrunner/snapshot"
)

// FuzzResultsCSV feeds arbitrary wrappers through the whole conversion: it
// must never panic, and every row the old tool would have kept must come
// out without a marker.
func FuzzResultsCSV(f *testing.F) {
	f.Add([]byte(`{"version": 1, "ElectionData": {"townVotes": {"1": {"9": [{"5": {"V": "1"}}]},
		"2": {"9": [{"6": {"V": "2", "TO": "3%"}}]}},
		"stateVotes": {"9": [{"5": {"V": "3", "TO": "1"}}]}},
		"LookupData": {"townIds": {"1": "A,\"B\""}, "officeList": [{"9": {"NM": "Mayor"}}],
		"partyIds": {"1": {"CD": "D"}}, "candidateIds": {"5": {"NM": "X", "P": "1"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ed, ld, err := snapshot.ParseWrapper(data)
		if err != nil {
			return
		}
		rows := Results(ed, ld, func(string) {})
		var buf bytes.Buffer
		if err := WriteResultsCSV(&buf, rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if !r.LegacyDropped() && r.Anomalies&^OfficeUnknown != 0 {
				t.Errorf("row %+v has anomalies but counts as kept by the old tool", r)
			}
			marked := strings.HasPrefix(r.Candidate, "unknown candidate ")
			if r.Anomalies&CandidateUnknown != 0 && !marked {
				t.Errorf("row %+v: unknown candidate without its marker", r)
			}
		}
	})
}
