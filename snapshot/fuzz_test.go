package snapshot

import (
	"bytes"
	"encoding/json"
	"testing"
)

// seedDocuments adds the hand-written documents and a few shapes that
// have broken decoders before to f.
func seedDocuments(f *testing.F, docs ...string) {
	for _, d := range docs {
		f.Add([]byte(d))
	}
	for _, d := range []string{
		``, `null`, `{}`, `[]`,
		`{"townVotes": {"1": {"2": [{"3": {"V": "1"}}]}}, "stateVotes": {}}`,
		`{"a": "\ud800"}`, `{"a": [[[[[[]]]]]]}`, `{"a": 1e400}`, "\xEF\xBB\xBF{}", `{"a":"\u00`,
	} {
		f.Add([]byte(d))
	}
}

func FuzzDecodeElectionData(f *testing.F) {
	seedDocuments(f, quirkyElectionData)
	f.Fuzz(func(t *testing.T, data []byte) {
		ed, err := DecodeElectionData(data)
		if err != nil {
			return
		}
		for _, town := range ed.TownVotes.All() {
			for _, votes := range town.All() {
				for _, v := range votes {
					v.Votes.Int()
					v.Share.Float()
				}
			}
		}
		ed.Total()
		pr, err := Summarize(data)
		if err == nil && pr != ed.Election.PrecinctsReporting && !hasDuplicateElection(data) {
			t.Errorf("Summarize = %q, decoded election.PR = %q", pr, ed.Election.PrecinctsReporting)
		}
	})
}

// hasDuplicateElection reports whether data might repeat a key, where
// Summarize (first value) and the decoder (last value) may differ.
func hasDuplicateElection(data []byte) bool {
	return bytes.Count(data, []byte(`election`)) > 1 || bytes.Count(data, []byte(`PR`)) > 1 ||
		bytes.Contains(data, []byte(`\`))
}

func FuzzDecodeLookupData(f *testing.F) {
	seedDocuments(f, quirkyLookupData)
	f.Fuzz(func(t *testing.T, data []byte) {
		ld, err := DecodeLookupData(data)
		if err != nil {
			return
		}
		for _, list := range ld.TownParties.All() {
			list.IDs()
		}
		for _, o := range ld.Offices {
			ld.Office(o.ID)
		}
	})
}

func FuzzDecodeElectionList(f *testing.F) {
	seedDocuments(f, `[{"ID": "94", "Name": "x", "DefaultElection": "Y"}]`)
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeElectionList(data)
	})
}

func FuzzParseWrapper(f *testing.F) {
	seedDocuments(f, `{"version": 1, "ElectionData": `+quirkyElectionData[3:]+
		`, "LookupData": `+quirkyLookupData+`}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ed, ld, err := ParseWrapper(data)
		if err == nil && (ed == nil || ld == nil) {
			t.Errorf("ParseWrapper succeeded without both documents")
		}
	})
}

func FuzzSummarize(f *testing.F) {
	seedDocuments(f, quirkyElectionData)
	f.Fuzz(func(t *testing.T, data []byte) {
		Summarize(data)
	})
}

// FuzzSyntax checks the reader against encoding/json: both must accept the
// same documents, except that the reader also takes raw control characters
// inside strings.
func FuzzSyntax(f *testing.F) {
	seedDocuments(f, quirkyElectionData, quirkyLookupData, "\"a\tb\"", "[1,\n2]", `{"a":-0.5E+3}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, utf8BOM) {
			return
		}
		d := newDecoder(data)
		_, err := d.raw()
		if err == nil {
			err = d.end()
		}
		ours, theirs := err == nil, json.Valid(data)
		switch {
		case ours && !theirs && !json.Valid(blankControls(data)):
			t.Errorf("reader accepts %q, encoding/json does not", data)
		case !ours && theirs:
			t.Errorf("reader refuses %q (%v), encoding/json accepts it", data, err)
		}
	})
}

// blankControls replaces control characters with spaces: where the reader
// is more lenient than encoding/json, this makes the input valid for both.
func blankControls(data []byte) []byte {
	out := bytes.Clone(data)
	for i, c := range out {
		if c < 0x20 {
			out[i] = ' '
		}
	}
	return out
}
