package snapshot

import (
	"strings"
	"testing"
)

func TestParseWrapper(t *testing.T) {
	const ed = `{"townVotes": {}, "stateVotes": {}, "election": {"PR": "1 of 2 (50%)"}}`
	const ld = `{"townIds": {}, "officeList": [], "partyIds": {}, "candidateIds": {}}`
	tests := []struct {
		name string
		in   string
		want Version
	}{
		{"number", `{"version": 1313, "ElectionData": ` + ed + `, "LookupData": ` + ld + `}`, 1313},
		{"string", `{"LookupData": ` + ld + `, "ElectionData": ` + ed + `, "version": "42"}`, 42},
		{"absent", `{"ElectionData": ` + ed + `, "LookupData": ` + ld + `, "other": [1]}`, 0},
		{"bom", "\xEF\xBB\xBF" + `{"version": 7, "ElectionData": ` + ed + `, "LookupData": ` +
			ld + "}\r\n", 7},
	}
	for _, tt := range tests {
		v, e, l, err := ParseWrapper([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: ParseWrapper: %v", tt.name, err)
			continue
		}
		if v != tt.want || e == nil || l == nil {
			t.Errorf("%s: ParseWrapper = %d, %v, %v, want %d and both documents",
				tt.name, v, e, l, tt.want)
		}
		if e != nil && e.Election.PrecinctsReporting != "1 of 2 (50%)" {
			t.Errorf("%s: ElectionData not decoded: %+v", tt.name, e.Election)
		}
	}
}

func TestParseWrapperErrors(t *testing.T) {
	const ed = `{"townVotes": {}, "stateVotes": {}}`
	const ld = `{"townIds": {}, "officeList": [], "partyIds": {}, "candidateIds": {}}`
	tests := []struct{ name, in, want string }{
		{"no ElectionData", `{"version": 1, "LookupData": ` + ld + `}`,
			"decoding legacy wrapper: ElectionData: required field is missing"},
		{"no LookupData", `{"version": 1, "ElectionData": ` + ed + `}`,
			"decoding legacy wrapper: LookupData: required field is missing"},
		{"trailing", `{"ElectionData": ` + ed + `, "LookupData": ` + ld + `}{}`,
			"unexpected data after the JSON value"},
		{"bad version", `{"version": "v1", "ElectionData": ` + ed + `, "LookupData": ` + ld + `}`,
			`decoding legacy wrapper: version: "v1" is not a version number`},
		{"nested", `{"ElectionData": {"townVotes": 1, "stateVotes": {}}, "LookupData": ` + ld + `}`,
			"decoding legacy wrapper: ElectionData.townVotes: expected an object, found a number"},
		{"array", `[]`, "decoding legacy wrapper: expected an object, found an array"},
	}
	for _, tt := range tests {
		_, _, _, err := ParseWrapper([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParseWrapper error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"first", `{"election": {"ID": "80", "PR": "760 of 763 (99.61%)"}, "townVotes": {}}`,
			"760 of 763 (99.61%)"},
		{"late", `{"townVotes": {"1": {"2": [{"3": {"V": "1"}}]}}, "x": [1, {"PR": "no"}],
			"election": {"BC": "1", "PR": "0 of 5 (0.00%)"}}`, "0 of 5 (0.00%)"},
		{"escaped", "\xEF\xBB\xBF" + `{"election": {"PR": "1 of 1 \u0028100%)"}}`, "1 of 1 (100%)"},
	}
	for _, tt := range tests {
		got, err := Summarize([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("%s: Summarize = %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		`{"election": {"ID": "80"}}`, `{}`, `[]`, `{"election": [1]}`, `{"townVotes": {`,
	} {
		if got, err := Summarize([]byte(bad)); err == nil {
			t.Errorf("Summarize(%s) = %q, want an error", bad, got)
		}
	}
}
