package snapshot

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// benchDocuments returns the ElectionData and LookupData of a recorded
// version in testdata.
func benchDocuments(b *testing.B, election, version string) (ed, ld []byte) {
	b.Helper()
	path := filepath.Join("..", "testdata", "ct-archive", election, version, "raw.json")
	raw := readMaybeGzip(b, path)
	var docs plainDocs
	if err := json.Unmarshal(raw, &docs); err != nil {
		b.Fatal(err)
	}
	return docs.ElectionData, docs.LookupData
}

func BenchmarkDecodeElectionData(b *testing.B) {
	for _, fixture := range [][2]string{{"64", "5842"}, {"80", "13392"}} {
		ed, _ := benchDocuments(b, fixture[0], fixture[1])
		b.Run(fixture[0], func(b *testing.B) {
			b.SetBytes(int64(len(ed)))
			for b.Loop() {
				if _, err := DecodeElectionData(ed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeLookupData(b *testing.B) {
	_, ld := benchDocuments(b, "64", "5842")
	b.SetBytes(int64(len(ld)))
	for b.Loop() {
		if _, err := DecodeLookupData(ld); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseWrapper(b *testing.B) {
	raw := readMaybeGzip(b, filepath.Join("..", "testdata", "ct-archive", "64", "5842", "raw.json"))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, _, err := ParseWrapper(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingJSONMaps is the baseline: encoding/json into plain maps,
// which loses key order.
func BenchmarkEncodingJSONMaps(b *testing.B) {
	ed, _ := benchDocuments(b, "64", "5842")
	b.SetBytes(int64(len(ed)))
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(ed, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummarize compares Summarize with a full decode on election 80,
// with "election" first as the API writes it and moved last, the worst
// case for the early stop.
func BenchmarkSummarize(b *testing.B) {
	ed, _ := benchDocuments(b, "80", "13392")
	var top Ordered[string, json.RawMessage]
	if err := json.Unmarshal(ed, &top); err != nil {
		b.Fatal(err)
	}
	election, _ := top.Get("election")
	var last Ordered[string, json.RawMessage]
	for k, v := range top.All() {
		if k != "election" {
			last.Set(k, v)
		}
	}
	last.Set("election", election)
	electionLast, err := json.Marshal(last)
	if err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name string
		doc  []byte
	}{{"first", ed}, {"last", electionLast}} {
		b.Run("scan-election-"+bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.doc)))
			for b.Loop() {
				if pr, err := Summarize(bc.doc); err != nil || pr == "" {
					b.Fatal(pr, err)
				}
			}
		})
	}
	b.Run("full-decode", func(b *testing.B) {
		b.SetBytes(int64(len(ed)))
		for b.Loop() {
			d, err := DecodeElectionData(ed)
			if err != nil || d.Election.PrecinctsReporting == "" {
				b.Fatal(err)
			}
		}
	})
}
