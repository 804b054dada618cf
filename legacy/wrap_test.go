package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ctrunner/snapshot"
)

// The wanted outputs below were produced by Python 3's
// json.dumps(json.loads(wrapper), indent=2).
func TestWrapPython(t *testing.T) {
	const lookup = `{"k":"v"}`
	const lookupOut = ",\n  \"LookupData\": {\n    \"k\": \"v\"\n  }\n}"
	tests := []struct {
		name, in, want string
	}{
		{"empty object", `{}`, "{\n  \"version\": 7,\n  \"ElectionData\": {}"},
		{"empty array", `{"a":[]}`,
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"a\": []\n  }"},
		{"nested empties", `{"a":{},"b":[{}],"c":[[]]}`,
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"a\": {},\n    \"b\": [\n" +
				"      {}\n    ],\n    \"c\": [\n      []\n    ]\n  }"},
		{"escapes",
			"{\"q\":\"say \\\"hi\\\"\\\\ \\/ \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f\"," +
				"\"u\":\"caf\\u00E9 \\u201cx\\u201d\"}",
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"q\": \"say \\\"hi\\\"\\\\ / " +
				"\\b\\f\\n\\r\\t \\u0001\\u001f\\u007f\",\n    \"u\": \"caf\\u00e9 " +
				"\\u201cx\\u201d\"\n  }"},
		{"raw UTF-8", "{\"raw\":\"caf\u00e9 \u2019 \U0001F600 \x7f\"}",
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"raw\": \"caf\\u00e9 " +
				"\\u2019 \\ud83d\\ude00 \\u007f\"\n  }"},
		{"surrogates", `{"pair":"\uD83D\uDE00","lone":"\ud800x","lowlone":"\udc00"}`,
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"pair\": \"\\ud83d\\ude00\"," +
				"\n    \"lone\": \"\\ud800x\",\n    \"lowlone\": \"\\udc00\"\n  }"},
		{"integers", `{"n":[0,-0,12,-7,123456789012345678901234567890]}`,
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"n\": [\n      0,\n      0," +
				"\n      12,\n      -7,\n      123456789012345678901234567890\n    ]\n  }"},
		{"floats", `{"f":[1.0,1.50,-0.0,1e5,1E-5,0.0001,1e16,1e15,123456789012345678.0,` +
			`1.5e300,1e400,-1e400,2.5E+3,0.1,100.25]}`,
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"f\": [\n      1.0,\n" +
				"      1.5,\n      -0.0,\n      100000.0,\n      1e-05,\n      0.0001,\n" +
				"      1e+16,\n      1000000000000000.0,\n      1.2345678901234568e+17,\n" +
				"      1.5e+300,\n      Infinity,\n      -Infinity,\n      2500.0,\n" +
				"      0.1,\n      100.25\n    ]\n  }"},
		{"literals", `{"lit":[true,false,null]}`,
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"lit\": [\n      true,\n" +
				"      false,\n      null\n    ]\n  }"},
		{"white space", " { \"sp\" : [ 1 , { \"x\" : \"y\" } ] , \"t\":\"\\t\" } ",
			"{\n  \"version\": 7,\n  \"ElectionData\": {\n    \"sp\": [\n      1,\n      {\n" +
				"        \"x\": \"y\"\n      }\n    ],\n    \"t\": \"\\t\"\n  }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Wrap(7, []byte(tt.in), []byte(lookup))
			if err != nil {
				t.Fatalf("Wrap(%q) error: %v", tt.in, err)
			}
			if want := tt.want + lookupOut; string(got) != want {
				t.Errorf("Wrap(%q) =\n%s\nwant\n%s", tt.in, got, want)
			}
		})
	}
}

func TestWrapErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"array", `[1]`, "not a JSON object"},
		{"empty", ``, "not a JSON object"},
		{"truncated", `{"a":[1,2`, "unexpected end"},
		{"trailing", `{"a":1} {}`, "data after the end"},
		{"bare word", `{"a":nope}`, "unexpected character"},
		{"control char", "{\"a\":\"x\ty\"}", "control character"},
		{"bad escape", `{"a":"\x"}`, "bad escape"},
		{"bad unicode", `{"a":"\u12G4"}`, `bad \u escape`},
		{"leading zero", `{"a":01}`, "expected ','"},
		{"lone minus", `{"a":-}`, "malformed number"},
		{"missing colon", `{"a" 1}`, "expected ':'"},
		{"unquoted key", `{a:1}`, "expected an object key"},
		{"unterminated", `{"a":"xyz`, "unterminated string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Wrap(1, []byte(tt.in), []byte(`{}`))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Wrap(%q) error = %v, want one containing %q", tt.in, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), "ElectionData") {
				t.Errorf("Wrap(%q) error = %v, want it to name ElectionData", tt.in, err)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	raw := "{\n  \"version\": 13392,\n  \"ElectionData\": {\n    \"b\": \"\\u00e9\",\n" +
		"    \"a\": [\n      1\n    ]\n  },\n  \"LookupData\": {}\n}"
	v, ed, ld, err := Split([]byte(raw))
	if err != nil {
		t.Fatalf("Split error: %v", err)
	}
	if v != 13392 {
		t.Errorf("Split version = %d, want 13392", v)
	}
	if got, want := string(ed), `{"b":"\u00e9","a":[1]}`; got != want {
		t.Errorf("Split ElectionData = %s, want %s", got, want)
	}
	if got, want := string(ld), `{}`; got != want {
		t.Errorf("Split LookupData = %s, want %s", got, want)
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not object", `[]`, "not a JSON object"},
		{"empty", ``, "not a JSON object"},
		{"bad json", `{"version":1,"ElectionData":{"a":tru},"LookupData":{}}`,
			"unexpected character"},
		{"bad key", `{"version":1,"ElectionData":{},"LookupData":{},}`, "expected an object key"},
		{"missing version", `{"ElectionData":{},"LookupData":{}}`, `missing key "version"`},
		{"missing lookup", `{"version":1,"ElectionData":{}}`, `missing key "LookupData"`},
		{"string version", `{"version":"1","ElectionData":{},"LookupData":{}}`,
			`"version" is "1"`},
		{"fraction version", `{"version":1.5,"ElectionData":{},"LookupData":{}}`,
			`"version" is 1.5`},
		{"negative version", `{"version":-1,"ElectionData":{},"LookupData":{}}`,
			`"version" is -1`},
		{"array data", `{"version":1,"ElectionData":[],"LookupData":{}}`,
			`"ElectionData" is not a JSON object`},
		{"null lookup", `{"version":1,"ElectionData":{},"LookupData":null}`,
			`"LookupData" is not a JSON object`},
		{"extra key", `{"version":1,"ElectionData":{},"LookupData":{},"x":1}`,
			`unexpected key "x"`},
		{"duplicate", `{"version":1,"version":2,"ElectionData":{},"LookupData":{}}`,
			`"version" appears twice`},
		{"trailing", `{"version":1,"ElectionData":{},"LookupData":{}} x`,
			"after the closing brace"},
		{"truncated", `{"version":1,"ElectionData":{"a":`, "ElectionData"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := Split([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Split(%q) error = %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

// roundTrip checks that Wrap(Split(raw)) gives raw back byte for byte.
func roundTrip(t *testing.T, name string, raw []byte, want snapshot.Version) {
	t.Helper()
	v, ed, ld, err := Split(raw)
	if err != nil {
		t.Errorf("%s: Split: %v", name, err)
		return
	}
	if v != want {
		t.Errorf("%s: Split version = %s, want %s", name, v, want)
	}
	if !json.Valid(ed) || bytes.ContainsAny(ed, "\n") {
		t.Errorf("%s: ElectionData is not compact JSON", name)
	}
	got, err := Wrap(v, ed, ld)
	if err != nil {
		t.Errorf("%s: Wrap: %v", name, err)
		return
	}
	if !bytes.Equal(got, raw) {
		i := 0
		for i < len(got) && i < len(raw) && got[i] == raw[i] {
			i++
		}
		t.Errorf("%s: Wrap(Split(raw)) differs from raw.json at byte %d of %d: got %q, want %q",
			name, i, len(raw), excerpt(got, i), excerpt(raw, i))
	}
}

func excerpt(b []byte, i int) []byte {
	lo, hi := max(i-20, 0), min(i+20, len(b))
	return b[lo:hi]
}

// roundTripArchive round-trips every version and top-level copy of dir and
// returns how many files it checked.
func roundTripArchive(t *testing.T, dir string) int {
	t.Helper()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := a.Problems(); len(p) > 0 {
		t.Errorf("Open(%s) problems: %v", dir, p)
	}
	n := 0
	for _, id := range a.Elections() {
		for _, v := range a.Versions(id) {
			ver, err := a.Read(id, v)
			if err != nil {
				t.Errorf("Read(%s, %s): %v", id, v, err)
				continue
			}
			roundTrip(t, ver.RawPath, ver.Raw, v)
			n++
		}
		latest, err := a.Latest(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Errorf("Latest(%s): %v", id, err)
			continue
		}
		roundTrip(t, latest.RawPath, latest.Raw, latest.Version)
		n++
	}
	return n
}

func TestRoundTripTestdata(t *testing.T) {
	n := roundTripArchive(t, testdataDir(t))
	if n < 20 {
		t.Errorf("round-tripped %d files, want at least 20", n)
	}
}

// TestRoundTripShared runs over the full recording when
// CTRUNNER_SHARED_ARCHIVE names it.
func TestRoundTripShared(t *testing.T) {
	dir := os.Getenv("CTRUNNER_SHARED_ARCHIVE")
	if dir == "" {
		t.Skip("CTRUNNER_SHARED_ARCHIVE not set")
	}
	n := roundTripArchive(t, dir)
	t.Logf("round-tripped %d raw.json files from %s", n, dir)
}

func testdataDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "ct-archive"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// FuzzWrap checks that whatever Wrap accepts, it renders as JSON with the
// same meaning, and that Split takes it apart again.
func FuzzWrap(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5,"x\u00e9"],"b":{"c":null}}`,
		`{"s":"\ud800\n\"","n":-0,"e":1E400}`, "{\"u\":\"\xff\U0001F600\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := Wrap(42, doc, []byte(`{}`))
		if err != nil {
			return
		}
		if bytes.Contains(out, []byte("Infinity")) {
			return // Python's extension, not JSON
		}
		for _, c := range out {
			if c >= 0x80 {
				t.Fatalf("Wrap output holds non-ASCII byte %#x", c)
			}
		}
		v, ed, _, err := Split(out)
		if err != nil {
			t.Fatalf("Split(Wrap(%q)): %v", doc, err)
		}
		if v != 42 {
			t.Fatalf("Split version = %d, want 42", v)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			t.Fatalf("Wrap accepted %q, which json.Compact rejects: %v", doc, err)
		}
		got, err := compactObject("doc", bytes.TrimSpace(doc))
		if err != nil || !bytes.Equal(got, compact.Bytes()) {
			t.Fatalf("compactObject(%q) = %q, %v; want %q", doc, got, err, compact.Bytes())
		}
		var in, back any
		if err := json.Unmarshal(doc, &in); err != nil {
			t.Fatalf("Wrap accepted %q, which Go rejects: %v", doc, err)
		}
		if err := json.Unmarshal(ed, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(in), normalize(back)) {
			t.Fatalf("Wrap changed the meaning of %q: got %s", doc, ed)
		}
	})
}

// normalize maps strings through a JSON round trip so that lone
// surrogates and invalid UTF-8 compare equal however they were written.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[normString(k)] = normalize(x)
		}
		return out
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
		return v
	case string:
		return normString(v)
	case float64:
		if v == 0 {
			return 0.0 // -0 is written as 0 for integers
		}
	}
	return v
}

func normString(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// largest returns the largest recorded raw.json (election 64, 3.5 MB).
func largest(b *testing.B) []byte {
	b.Helper()
	a, err := Open(filepath.Join("..", "testdata", "ct-archive"))
	if err != nil {
		b.Fatal(err)
	}
	v, err := a.Read("64", 5842)
	if err != nil {
		b.Fatal(err)
	}
	return v.Raw
}

func BenchmarkSplit(b *testing.B) {
	raw := largest(b)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, _, err := Split(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrap(b *testing.B) {
	raw := largest(b)
	v, ed, ld, err := Split(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Wrap(v, ed, ld); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	a, err := Open(filepath.Join("..", "testdata", "ct-archive"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := a.Read("64", 5842); err != nil {
			b.Fatal(err)
		}
	}
}
