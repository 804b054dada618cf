package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// archiveRoots returns the legacy archives to test against: the one in
// testdata, and the full recording when CTRUNNER_SHARED_ARCHIVE names it.
func archiveRoots(t *testing.T) []string {
	roots := []string{filepath.Join("..", "testdata", "ct-archive")}
	if shared := os.Getenv("CTRUNNER_SHARED_ARCHIVE"); shared != "" {
		roots = append(roots, shared)
	} else {
		t.Log("CTRUNNER_SHARED_ARCHIVE not set; testing the testdata archive only")
	}
	return roots
}

// readMaybeGzip reads path, or path.gz uncompressed.
func readMaybeGzip(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err == nil {
		return data
	}
	gz, gzErr := os.ReadFile(path + ".gz")
	if gzErr != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("reading %s.gz: %v", path, err)
	}
	data, err = io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading %s.gz: %v", path, err)
	}
	return data
}

// wrapperFiles lists every raw.json or raw.json.gz under root, without the
// .gz suffix.
func wrapperFiles(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch d.Name() {
		case "raw.json", "raw.json.gz":
			files = append(files, filepath.Join(filepath.Dir(path), "raw.json"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no raw.json under %s", root)
	}
	return files
}

// objectKeys returns the keys of the JSON object raw in document order,
// read with encoding/json's tokenizer as an independent check.
func objectKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

type plainVote map[string]struct{ V, TO string }

type plainDocs struct {
	Version      int64
	ElectionData json.RawMessage
	LookupData   json.RawMessage
}

type plainElectionData struct {
	Election   struct{ PR string }
	TownVotes  map[string]map[string][]plainVote
	StateVotes map[string][]plainVote
}

type plainLookupData struct {
	OfficeList   []map[string]struct{ ID, NM string }
	CandidateIDs map[string]struct{ NM, P string }
	TownIDs      json.RawMessage
	PartyIDs     json.RawMessage
}

// TestDecodeArchive decodes every recorded version and checks the typed
// documents against encoding/json's reading of the same bytes.
func TestDecodeArchive(t *testing.T) {
	for _, root := range archiveRoots(t) {
		for _, file := range wrapperFiles(t, root) {
			checkRecordedWrapper(t, file, readMaybeGzip(t, file))
		}
	}
}

func checkRecordedWrapper(t *testing.T, file string, raw []byte) {
	version, ed, ld, err := ParseWrapper(raw)
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	var plain plainDocs
	if err := json.Unmarshal(raw, &plain); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if int64(version) != plain.Version {
		t.Errorf("%s: version = %d, want %d", file, version, plain.Version)
	}

	// The stand-alone decoders agree with the wrapper's.
	ed2, err := DecodeElectionData(plain.ElectionData)
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	if _, err := DecodeLookupData(plain.LookupData); err != nil {
		t.Errorf("%s: %v", file, err)
	}
	if !slices.Equal(ed2.TownVotes.Keys(), ed.TownVotes.Keys()) {
		t.Errorf("%s: DecodeElectionData and ParseWrapper disagree on townVotes", file)
	}

	pr, err := Summarize(plain.ElectionData)
	if err != nil || pr != ed.Election.PrecinctsReporting {
		t.Errorf("%s: Summarize = %q, %v, want %q", file, pr, err, ed.Election.PrecinctsReporting)
	}

	var ped plainElectionData
	var pld plainLookupData
	if err := json.Unmarshal(plain.ElectionData, &ped); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.Unmarshal(plain.LookupData, &pld); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	checkVotes(t, file+": stateVotes", ed.StateVotes, ped.StateVotes)
	for town, offices := range ped.TownVotes {
		got, _ := ed.TownVotes.Get(TownID(town))
		checkVotes(t, file+": townVotes."+town, got, offices)
	}
	var edTop struct{ TownVotes, StateVotes json.RawMessage }
	if err := json.Unmarshal(plain.ElectionData, &edTop); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	townVotesKeys := asTownIDs(objectKeys(t, edTop.TownVotes))
	checkKeys(t, file+": townVotes", ed.TownVotes.Keys(), townVotesKeys...)
	checkKeys(t, file+": townIds", asStrings(ld.TownIDs.Keys()), objectKeys(t, pld.TownIDs)...)
	checkKeys(t, file+": partyIds", asStrings(ld.PartyIDs.Keys()), objectKeys(t, pld.PartyIDs)...)

	if len(ld.Offices) != len(pld.OfficeList) {
		t.Errorf("%s: %d offices, want %d", file, len(ld.Offices), len(pld.OfficeList))
	}
	for i, item := range pld.OfficeList {
		for _, o := range item {
			if i >= len(ld.Offices) {
				break
			}
			if got := ld.Offices[i]; got.ID != OfficeID(o.ID) || got.Name != o.NM {
				t.Errorf("%s: officeList[%d] = %+v, want %+v", file, i, ld.Offices[i], o)
			}
		}
	}
	if ld.CandidateIDs.Len() != len(pld.CandidateIDs) {
		t.Errorf("%s: %d candidates, want %d", file, ld.CandidateIDs.Len(), len(pld.CandidateIDs))
	}
	for id, c := range pld.CandidateIDs {
		got, _ := ld.CandidateIDs.Get(CandidateID(id))
		if got.Name != c.NM || got.Party != PartyID(c.P) {
			t.Errorf("%s: candidate %s = %+v, want %+v", file, id, got, c)
		}
	}
}

func asTownIDs(keys []string) []TownID {
	out := make([]TownID, len(keys))
	for i, k := range keys {
		out[i] = TownID(k)
	}
	return out
}

// checkVotes compares decoded votes per office with encoding/json's.
func checkVotes(t *testing.T, what string, got Ordered[OfficeID, []Vote],
	want map[string][]plainVote) {
	t.Helper()
	if got.Len() != len(want) {
		t.Errorf("%s: %d offices, want %d", what, got.Len(), len(want))
	}
	for office, entries := range want {
		votes, _ := got.Get(OfficeID(office))
		var flat []Vote
		for _, e := range entries {
			if len(e) != 1 {
				t.Fatalf("%s.%s: entry with %d keys", what, office, len(e))
			}
			for c, v := range e {
				v := Vote{Candidate: CandidateID(c), Votes: Count(v.V), Share: Percent(v.TO)}
				flat = append(flat, v)
			}
		}
		if len(votes) != len(flat) {
			t.Errorf("%s.%s: %d votes, want %d", what, office, len(votes), len(flat))
			continue
		}
		for i := range flat {
			g, w := votes[i], flat[i]
			if g.Candidate != w.Candidate || g.Votes != w.Votes || g.Share != w.Share {
				t.Errorf("%s.%s[%d] = %+v, want %+v", what, office, i, g, w)
			}
		}
	}
}

func TestDecodeArchiveElectionList(t *testing.T) {
	for _, root := range archiveRoots(t) {
		raw := readMaybeGzip(t, filepath.Join(root, "index.json"))
		list, err := DecodeElectionList(raw)
		if err != nil {
			t.Fatal(err)
		}
		var plain []struct{ ID, Name, DefaultElection string }
		if err := json.Unmarshal(raw, &plain); err != nil {
			t.Fatal(err)
		}
		if len(list) != len(plain) {
			t.Fatalf("%s: %d elections, want %d", root, len(list), len(plain))
		}
		defaults := 0
		for i, p := range plain {
			e := list[i]
			if string(e.ID) != p.ID || e.Name != p.Name || e.DefaultRaw != p.DefaultElection ||
				e.Default != (p.DefaultElection == "Y") {
				t.Errorf("%s: entry %d = %+v, want %+v", root, i, e, p)
			}
			if e.Default {
				defaults++
			}
		}
		if defaults != 1 {
			t.Errorf("%s: %d default elections, want 1", root, defaults)
		}
	}
}
