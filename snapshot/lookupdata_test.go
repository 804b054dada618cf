package snapshot

import (
	"slices"
	"testing"
)

const quirkyLookupData = `{
  "election": {"ID": "80", "NM": "11/08/2022 -- November 2022 State Election",
    "DT": "11/08/2022", "ET": "G", "EC": "SE", "P": "", "DNM": "State Election"},
  "townIds": {"2": "Ansonia", "1": "Andover"},
  "counties": {"7": "Tolland"},
  "countyTowns": [{"TownID": "1", "CountyID": "7", "TownName": "Andover"}],
  "pollingplaceIds": {"2756": "Andover-1-Andover Town Hall"},
  "townPollingPlaces": {"1": [2756, "2757"], "2": []},
  "officeList": [
    {"13576": {"ID": "13576", "NM": "Governor", "OT": "SW", "OO": "1", "DT": "", "D": "0"}},
    {"13479": {"NM": "Senator, \"US\"", "OO": 2}},
    {"9": {"ID": "13576", "NM": "Second governor"}}
  ],
  "partyIds": {"1": {"CD": "D", "NM": "Democratic Party", "P": "250", "COLOR": "blue"}},
  "townParties": {"1": "[1,6,1026]", "2": [1, 2], "3": "garbled"},
  "candidateIds": {"27480": {"NM": "Dominic Rapini", "LN": "Rapini", "FN": "True",
    "MN": "", "P": "6", "AD": "", "CO": "0"}},
  "new": 1
}`

func TestDecodeLookupDataQuirks(t *testing.T) {
	ld, err := DecodeLookupData([]byte(quirkyLookupData))
	if err != nil {
		t.Fatal(err)
	}
	checkString(t, "election.DNM", ld.Election.DisplayName, "State Election")
	checkKeys(t, "townIds", ld.TownIDs.Keys(), "2", "1")
	places, _ := ld.TownPollingPlaces.Get("1")
	if want := []PollingPlaceID{"2756", "2757"}; !slices.Equal(places, want) {
		t.Errorf("townPollingPlaces.1 = %q, want %q", places, want)
	}
	if len(ld.CountyTowns) != 1 || ld.CountyTowns[0].CountyID != "7" {
		t.Errorf("countyTowns = %+v, want Andover in county 7", ld.CountyTowns)
	}

	if len(ld.Offices) != 3 {
		t.Fatalf("officeList has %d offices, want 3", len(ld.Offices))
	}
	second := ld.Offices[1]
	if second.Key != "13479" || second.ID != "13479" || second.Order != "2" ||
		second.Name != `Senator, "US"` {
		t.Errorf("officeList[1] = %+v, want ID 13479 taken from the key", second)
	}
	if o, ok := ld.Office("13576"); !ok || o.Name != "Governor" {
		t.Errorf("Office(13576) = %+v, %v, want the first one, Governor", o, ok)
	}
	if _, ok := ld.Office("9"); ok {
		t.Errorf("Office(9) found an office; the key of a wrapped item is not its ID")
	}

	p, _ := ld.PartyIDs.Get("1")
	if p.Code != "D" || p.Order != "250" {
		t.Errorf("partyIds.1 = %+v, want code D, order 250", p)
	}
	if raw, _ := p.Extra.Get("COLOR"); string(raw) != `"blue"` {
		t.Errorf("partyIds.1.Extra[COLOR] = %s, want \"blue\"", raw)
	}

	tests := []struct {
		town   TownID
		want   []PartyID
		wantOK bool
	}{
		{"1", []PartyID{"1", "6", "1026"}, true},
		{"2", []PartyID{"1", "2"}, true},
		{"3", nil, false},
	}
	for _, tt := range tests {
		list, _ := ld.TownParties.Get(tt.town)
		got, ok := list.IDs()
		if !slices.Equal(got, tt.want) || ok != tt.wantOK {
			t.Errorf("townParties.%s.IDs() = %q, %v, want %q, %v",
				tt.town, got, ok, tt.want, tt.wantOK)
		}
	}

	c, _ := ld.CandidateIDs.Get("27480")
	if c.Party != "6" || c.First != "True" || c.Name != "Dominic Rapini" {
		t.Errorf("candidateIds.27480 = %+v", c)
	}
	if raw, _ := ld.Extra.Get("new"); string(raw) != "1" {
		t.Errorf("Extra[new] = %s, want 1", raw)
	}
}

func TestDecodeLookupDataErrors(t *testing.T) {
	const rest = `"townIds": {}, "partyIds": {}, "candidateIds": {}`
	tests := []struct{ name, in, want string }{
		{"string", `"x"`, "decoding Lookupdata.json: expected an object, found a string"},
		{"no officeList", `{` + rest + `}`,
			"decoding Lookupdata.json: officeList: required field is missing"},
		{"no candidateIds", `{"officeList": [], "townIds": {}, "partyIds": {}}`,
			"decoding Lookupdata.json: candidateIds: required field is missing"},
		{"officeList object", `{"officeList": {}, ` + rest + `}`,
			"decoding Lookupdata.json: officeList: expected an array, found an object"},
		{"office item array", `{"officeList": [{"1": {}}, []], ` + rest + `}`,
			"decoding Lookupdata.json: officeList[1]: expected an object, found an array"},
		{"candidate number", `{"officeList": [], "townIds": {}, "partyIds": {}, ` +
			`"candidateIds": {"5": 5}}`,
			"decoding Lookupdata.json: candidateIds.5: expected an object, found a number"},
	}
	for _, tt := range tests {
		_, err := DecodeLookupData([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: DecodeLookupData(%s) error = %v, want %q", tt.name, tt.in, err, tt.want)
		}
	}
}

func TestDecodeElectionListMissingID(t *testing.T) {
	_, err := DecodeElectionList([]byte(`[{"ID": "94"}, {"Name": "x"}]`))
	want := "decoding Elections.json: entry 2 has no ID"
	if err == nil || err.Error() != want {
		t.Errorf("DecodeElectionList error = %v, want %q", err, want)
	}
}

func TestDecodeElectionList(t *testing.T) {
	in := `[
	  {"ID": "94", "Name": "08/13/2024 -- August 2024 Democratic Primary", "DefaultElection": "Y"},
	  {"ID": 89, "Name": "Bridgeport, \"Special\"", "DefaultElection": "N", "Extra": 1},
	  {"ID": "1", "Name": "", "DefaultElection": true},
	  {"ID": "2"}
	]`
	got, err := DecodeElectionList([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []ElectionListEntry{
		{ID: "94", Name: "08/13/2024 -- August 2024 Democratic Primary",
			Default: true, DefaultRaw: "Y"},
		{ID: "89", Name: `Bridgeport, "Special"`, DefaultRaw: "N"},
		{ID: "1", Default: true, DefaultRaw: "true"},
		{ID: "2"},
	}
	if len(got) != len(want) {
		t.Fatalf("DecodeElectionList gave %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Name != w.Name ||
			g.Default != w.Default || g.DefaultRaw != w.DefaultRaw {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if raw, _ := got[1].Extra.Get("Extra"); string(raw) != "1" {
		t.Errorf("entry 1 Extra = %s, want 1", raw)
	}

	for _, tt := range []struct{ in, want string }{
		{`{}`, "decoding Elections.json: expected an array, found an object"},
		{`[{"ID": "1"}, 3]`, "decoding Elections.json: [1]: expected an object, found a number"},
	} {
		_, err := DecodeElectionList([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("DecodeElectionList(%s) error = %v, want %q", tt.in, err, tt.want)
		}
	}
	if list, err := DecodeElectionList([]byte(`[]`)); err != nil || list == nil || len(list) != 0 {
		t.Errorf("DecodeElectionList([]) = %v, %v, want an empty list", list, err)
	}
}
