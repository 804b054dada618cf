package suspect

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"ctrunner/snapshot"
)

// baseElectionData is a small Electiondata.json: two towns, one office,
// two candidates; statewide totals are the sums of the towns.
const baseElectionData = `{
 "election": {"ID": "80", "BC": "2,100", "PR": "3 of 4 (75.00%)", "RV": "4,000",
  "T": "2 of 2", "PT": "0 of 2", "TO": "52.50", "SVT": true},
 "voterTurnout": {
  "1": {"NM": "Andover", "PR": "1 of 1 (100.00%)", "EV": "1,000", "VV": "500", "TO": "50.00%"},
  "2": {"NM": "Ansonia", "PR": "2 of 3 (66.67%)", "EV": "3,000", "VV": "1,600", "TO": "53.33%"},
  "170": {"NM": "Total", "PR": "", "EV": "4,000", "VV": "2,100", "TO": "52.50%"}},
 "townStatus": {
  "1": {"TS": "( Official Results )", "PR": "1 of 1 (100.00%)"},
  "2": {"TS": "( *Unofficial Results )", "PR": "2 of 3 (66.67%)"}},
 "townVotes": {
  "1": {"9457": [{"101": {"V": "300", "TO": "60.00%"}}, {"102": {"V": "200", "TO": "40.00%"}}]},
  "2": {"9457": [{"101": {"V": "1,200", "TO": "75.00%"}}, {"102": {"V": "400", "TO": "25.00%"}}]}},
 "stateVotes": {
  "9457": [{"101": {"V": "1,500", "TO": "71.43%"}}, {"102": {"V": "600", "TO": "28.57%"}}]},
 "candidateGrouping": {},
 "officePrecincts": {"9457": "3 of 4 (75.00%)"},
 "districts": [],
 "ballotQuestion": {},
 "reports": {"IR": "True", "IO": "True"}
}`

// baseLookupData names what baseElectionData refers to.
const baseLookupData = `{
 "election": {"ID": "80", "NM": "11/08/2022 -- November 2022 State Election",
  "DT": "11/08/2022", "ET": "G", "EC": "SE", "P": "", "DNM": ""},
 "townIds": {"1": "Andover", "2": "Ansonia"},
 "officeList": [{"9457": {"ID": "9457", "NM": "Governor", "OT": "SW", "OO": "1",
  "DT": "", "D": "0"}}],
 "partyIds": {"1": {"CD": "D", "NM": "Democratic Party", "P": "250"},
  "2": {"CD": "R", "NM": "Republican Party", "P": "240"}},
 "candidateIds": {"101": {"NM": "Ned Lamont", "P": "1"},
  "102": {"NM": "Bob Stefanowski", "P": "2"}}
}`

// base returns the small version with number n.
func base(n int64) Version {
	return Version{Number: snapshot.Version(n), ElectionData: []byte(baseElectionData),
		LookupData: []byte(baseLookupData)}
}

// editVersion returns v with its Electiondata.json changed by edit, which
// works on the document decoded into maps (numbers kept as json.Number).
func editVersion(t testing.TB, v Version, edit func(doc map[string]any)) Version {
	t.Helper()
	v.ElectionData = editJSON(t, v.ElectionData, edit)
	return v
}

// editLookup returns v with its Lookupdata.json changed by edit.
func editLookup(t testing.TB, v Version, edit func(doc map[string]any)) Version {
	t.Helper()
	v.LookupData = editJSON(t, v.LookupData, edit)
	return v
}

func editJSON(t testing.TB, raw []byte, edit func(doc map[string]any)) []byte {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// get walks a path of object keys and array indexes ("townVotes.1.9457.0")
// through a decoded document.
func get(doc any, path string) any {
	v := doc
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// set stores value at path; the parent must exist.
func set(doc any, path string, value any) {
	parent, key := doc, path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, key = get(doc, path[:i]), path[i+1:]
	}
	switch x := parent.(type) {
	case map[string]any:
		x[key] = value
	case []any:
		i, _ := strconv.Atoi(key)
		x[i] = value
	default:
		panic("set: no parent at " + path)
	}
}

// del removes the object member at path.
func del(doc any, path string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		delete(doc.(map[string]any), path)
		return
	}
	delete(get(doc, path[:i]).(map[string]any), path[i+1:])
}

// edits chains edits.
func edits(fs ...func(doc map[string]any)) func(doc map[string]any) {
	return func(doc map[string]any) {
		for _, f := range fs {
			f(doc)
		}
	}
}

// setTo returns an edit that stores value at path.
func setTo(path string, value any) func(doc map[string]any) {
	return func(doc map[string]any) { set(doc, path, value) }
}

// remove returns an edit that deletes the member at path.
func remove(path string) func(doc map[string]any) {
	return func(doc map[string]any) { del(doc, path) }
}
