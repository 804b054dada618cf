package legacy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ctrunner/snapshot"
)

func rawFor(v string) string {
	return "{\n  \"version\": " + v + ",\n  \"ElectionData\": {},\n  \"LookupData\": {}\n}"
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// writeTree creates files (path → content) under a new temporary folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpen(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"index.json":                `[{"ID": "9"}]`,
		"notes.txt":                 "stray",
		"abc/raw.json":              rawFor("1"),
		"9/raw.json":                rawFor("100"),
		"9/results.csv":             "latest",
		"9/100/raw.json":            rawFor("100"),
		"9/100/results.csv":         "v100",
		"9/20/raw.json.gz":          gzipped(t, rawFor("20")),
		"9/20/results.csv.gz":       gzipped(t, "v20"),
		"9/3/raw.json":              rawFor("3"),
		"9/3/raw.json.gz":           gzipped(t, "not json, must not be read"),
		"9/3/extra.bin":             "stray",
		"9/empty/":                  "",
		"9/7/":                      "",
		"9/8/raw.json":              `{"version": 8, "ElectionData": {`,
		"9/6/raw.json":              rawFor("66"),
		"10/":                       "",
		"100/55/raw.json":           rawFor("55"),
		"100/055/raw.json":          rawFor("55"),
		"100/99999999999999999999/": "",
	})
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}

	wantIDs := []snapshot.ElectionID{"9", "10", "100"}
	if got, want := a.Elections(), wantIDs; !reflect.DeepEqual(got, want) {
		t.Errorf("Elections() = %v, want %v", got, want)
	}
	wantVersions := []snapshot.Version{3, 6, 8, 20, 100}
	if got, want := a.Versions("9"), wantVersions; !reflect.DeepEqual(got, want) {
		t.Errorf("Versions(9) = %v, want %v", got, want)
	}
	if got := a.Versions("10"); len(got) != 0 {
		t.Errorf("Versions(10) = %v, want none", got)
	}
	if got := a.Versions("404"); got != nil {
		t.Errorf("Versions(404) = %v, want nil", got)
	}

	var problems []string
	for _, p := range a.Problems() {
		problems = append(problems, p.Error())
	}
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"notes.txt", "abc", "extra.bin", "empty",
		filepath.Join("9", "7") + ": version folder without raw.json",
		"55: same version as folder 055", "99999999999999999999: version number out of range"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Problems() = %q, want one mentioning %q", problems, want)
		}
	}
	if len(problems) != 7 {
		t.Errorf("Problems() has %d entries, want 7: %q", len(problems), problems)
	}

	tests := []struct {
		v                  snapshot.Version
		results, rawSuffix string
	}{
		{3, "", filepath.Join("3", "raw.json")},
		{20, "v20", filepath.Join("20", "raw.json.gz")},
		{100, "v100", filepath.Join("100", "raw.json")},
	}
	for _, tt := range tests {
		got, err := a.Read("9", tt.v)
		if err != nil {
			t.Errorf("Read(9, %s): %v", tt.v, err)
			continue
		}
		if string(got.Raw) != rawFor(tt.v.String()) {
			t.Errorf("Read(9, %s).Raw = %q, want %q", tt.v, got.Raw, rawFor(tt.v.String()))
		}
		if string(got.Results) != tt.results {
			t.Errorf("Read(9, %s).Results = %q, want %q", tt.v, got.Results, tt.results)
		}
		if tt.results == "" && got.Results != nil {
			t.Errorf("Read(9, %s).Results = %q, want nil", tt.v, got.Results)
		}
		if !strings.HasSuffix(got.RawPath, tt.rawSuffix) {
			t.Errorf("Read(9, %s).RawPath = %s, want one ending in %s",
				tt.v, got.RawPath, tt.rawSuffix)
		}
		if got.Version != tt.v || got.Election != "9" || got.ModTime.IsZero() {
			t.Errorf("Read(9, %s) = %s/%s at %v, want 9/%s and a mod time",
				tt.v, got.Election, got.Version, got.ModTime, tt.v)
		}
	}

	errTests := []struct {
		id   snapshot.ElectionID
		v    snapshot.Version
		want string
	}{
		{"9", 8, filepath.Join("8", "raw.json") + ": not valid JSON"},
		{"9", 6, "holds version 66, not 6"},
		{"9", 5, "file does not exist"},
		{"77", 1, "file does not exist"},
	}
	for _, tt := range errTests {
		_, err := a.Read(tt.id, tt.v)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Read(%s, %s) error = %v, want one containing %q", tt.id, tt.v, err, tt.want)
		}
	}

	latest, err := a.Latest("9")
	if err != nil {
		t.Fatalf("Latest(9): %v", err)
	}
	if latest.Version != 100 || string(latest.Results) != "latest" {
		t.Errorf("Latest(9) = version %s results %q, want 100 and %q",
			latest.Version, latest.Results, "latest")
	}
	for _, id := range []snapshot.ElectionID{"10", "404"} {
		if _, err := a.Latest(id); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Latest(%s) error = %v, want fs.ErrNotExist", id, err)
		}
	}

	list, err := a.ElectionList()
	if err != nil || string(list) != `[{"ID": "9"}]` {
		t.Errorf("ElectionList() = %q, %v", list, err)
	}
}

func TestElectionListErrors(t *testing.T) {
	a, err := Open(writeTree(t, map[string]string{"1/": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ElectionList(); !errors.Is(err, ErrNoElectionList) ||
		!errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ElectionList() without index.json: error = %v, want ErrNoElectionList", err)
	}
	for _, content := range []string{`{"ID": "1"}`, `[1,`, ``} {
		a, err := Open(writeTree(t, map[string]string{"index.json": content}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.ElectionList()
		if err == nil || !strings.Contains(err.Error(), "not a JSON array") {
			t.Errorf("ElectionList() of %q: error = %v, want not a JSON array", content, err)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestOpenTestdata(t *testing.T) {
	a, err := Open(testdataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	// Lexical order would put 83720 before 9437.
	want := []snapshot.Version{9437, 83720}
	if got := a.Versions("81"); !reflect.DeepEqual(got, want) {
		t.Errorf("Versions(81) = %v, want %v", got, want)
	}
	ids := a.Elections()
	for i := 1; i < len(ids); i++ {
		if !lessDigits(string(ids[i-1]), string(ids[i])) {
			t.Errorf("Elections() not in numeric order: %v", ids)
		}
	}
	v, err := a.Read("64", 5842)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Raw) < 3_000_000 || !bytes.HasPrefix(v.Results, []byte("office,town,")) {
		t.Errorf("Read(64, 5842): %d raw bytes, results start %q; want gunzipped files",
			len(v.Raw), v.Results[:min(len(v.Results), 20)])
	}
}
