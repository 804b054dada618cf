package store

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"ctrunner/snapshot"
)

// journalLines writes a zstd store with every kind of record (snapshots
// with inline and stored documents, inherited and changed members,
// suspect reasons, a batch, an election list, publications) and returns
// its journal's lines.
func journalLines(t testing.TB) [][]byte {
	t.Helper()
	s, dir := openZstdTest(t)
	ctx := context.Background()
	e1, _, err := s.Put(ctx, snap("80", 1, t0, docs(1, "a")...))
	if err != nil {
		t.Fatal(err)
	}
	sus := snap("80", 2, t0.Add(time.Minute), docs(2, "a")...)
	sus.Suspect = []string{"votes-decreased: Governor in \"Hartford\" went down", "naïve: ünïcode\ttab"}
	sus.SourceURL = "https://example.invalid/a?b=c&d=\\e"
	if _, _, err := s.Put(ctx, sus); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(b Batch) error {
		for v := int64(3); v < 6; v++ {
			if _, _, err := b.Put(snap("81", v, t0.Add(time.Duration(v)*time.Minute),
				docs(v, "b")...)); err != nil {
				return err
			}
		}
		_, err := b.PutElectionList([]byte(`[{"id":"80","name":"N\u00e9"}]`), t0, "http://127.0.0.1/Elections.json")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, e1, t0.Add(time.Hour), "rollback to \"the first\""); err != nil {
		t.Fatal(err)
	}
	small := snap("82", 7, t0, snapshot.File{Name: snapshot.VersionFile, Data: []byte("{\"Version\":7}\n\t\\/")})
	if _, _, err := s.Put(ctx, small); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, zstdJournalName))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

// checkScanners compares the scanners with encoding/json on one line:
// where a scanner accepts, it must read what encoding/json reads.
func checkScanners(t *testing.T, line []byte) (lineOK, recOK bool) {
	t.Helper()
	l, ok := scanZstdLine(line)
	if ok {
		var want zstdLine
		if err := json.Unmarshal(line, &want); err != nil {
			t.Fatalf("scanZstdLine accepted %q, which encoding/json refuses: %v", line, err)
		}
		if l.scanned != nil {
			wantR, wantDocs, err := decodeZstdRecord2(l.Rec)
			wantR.Files = nil // decoded into docs
			if err != nil || !reflect.DeepEqual(l.scanned.r, wantR) ||
				!reflect.DeepEqual(l.scanned.docs, wantDocs) {
				t.Fatalf("scanZstdLine(%q) read the record as %+v %+v, encoding/json as %+v %+v (%v)",
					line, l.scanned.r, l.scanned.docs, wantR, wantDocs, err)
			}
			l.scanned = nil
		}
		if !reflect.DeepEqual(normalizeLine(l), normalizeLine(want)) {
			t.Fatalf("scanZstdLine(%q) = %+v, encoding/json %+v", line, l, want)
		}
	}
	var raw zstdLine
	if json.Unmarshal(line, &raw) != nil || raw.Rec == nil {
		return ok, false
	}
	r, docs, recOK := scanZstdRecord2(raw.Rec)
	if recOK {
		wantR, wantDocs, err := decodeZstdRecord2(raw.Rec)
		if err != nil {
			t.Fatalf("scanZstdRecord2 accepted %q, which encoding/json refuses: %v", raw.Rec, err)
		}
		wantR.Files = nil // decoded into docs
		if !reflect.DeepEqual(r, wantR) || !reflect.DeepEqual(docs, wantDocs) {
			t.Fatalf("scanZstdRecord2(%q) =\n%+v %+v\nencoding/json:\n%+v %+v",
				raw.Rec, r, docs, wantR, wantDocs)
		}
	}
	return ok, recOK
}

// normalizeLine makes empty raw messages nil, as both readers mean the
// same by them.
func normalizeLine(l zstdLine) zstdLine {
	if len(l.Rec) == 0 {
		l.Rec = nil
	}
	if len(l.End) == 0 {
		l.End = nil
	}
	return l
}

func TestScanZstdJournal(t *testing.T) {
	lines := journalLines(t)
	if len(lines) < 8 {
		t.Fatalf("journal of %d lines, want at least 8", len(lines))
	}
	for _, line := range lines {
		lineOK, recOK := checkScanners(t, line)
		// The scanners are meant for what the writer writes: every line
		// of this journal, and every record, takes the fast path.
		if !lineOK {
			t.Errorf("scanZstdLine refused a line the writer wrote: %s", line)
		}
		if bytes.HasPrefix(line, []byte(`{"rec"`)) && !recOK {
			t.Errorf("scanZstdRecord2 refused a record the writer wrote: %s", line)
		}
	}
}

func TestScanZstdOddLines(t *testing.T) {
	for _, line := range []string{
		``, `{}`, `[]`, `{"rec":{}}`, `{"rec":{"seq":1},"crc32c":"00"} `,
		`{"rec":{"seq":1,"seq":2},"crc32c":"00"}`,
		`{"rec":{"seq":1.5},"crc32c":"00"}`, `{"rec":{"seq":01},"crc32c":"00"}`,
		`{"rec":{"seq":-0},"crc32c":"00"}`, `{"rec":{"seq":99999999999999999999},"crc32c":"00"}`,
		`{"rec":{"id":"\u0041"},"crc32c":"00"}`, `{"rec":{"id":"a\"b\\c\/d\n"},"crc32c":"00"}`,
		`{"rec":{"id":"` + "\xff" + `"},"crc32c":"00"}`, `{"rec":{"id":"` + "\x01" + `"},"crc32c":"00"}`,
		`{"rec":{"source":null},"crc32c":"00"}`, `{"rec":{"Seq":3},"crc32c":"00"}`,
		`{"rec":{"suspect":[]},"crc32c":"00"}`, `{"rec":{"files":[]},"crc32c":"00"}`,
		`{"rec":{"files":[["a","b",1,"c","d"]]},"crc32c":"00"}`,
		`{"rec":{"files":[["a","b"]]},"crc32c":"00"}`,
		`{"rec":{"files":[["a","b",3,""]]},"crc32c":"00"}`,
		`{"rec":{"x":[1,{"y":"z"}]},"batch":3,"crc32c":"00"}`,
		`{"end":{"batch":7,"records":3},"crc32c":"00"}`,
		`{"rec":{"seq":1},"end":{},"crc32c":"00"}`,
		`{"rec":{"seq":1},"crc32c":"00"`, `{"rec":{"seq":1}"crc32c":"00"}`,
	} {
		checkScanners(t, []byte(line))
	}
}

// FuzzScanZstdLine holds the scanners to encoding/json's reading on any
// line they accept.
func FuzzScanZstdLine(f *testing.F) {
	for _, line := range journalLines(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkScanners(t, line)
	})
}

// TestScanZstdDeepLine: a damaged line of millions of brackets is refused
// by the scanners, as encoding/json refuses it, rather than overflowing
// the stack of whoever opens the store.
func TestScanZstdDeepLine(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		deep := strings.Repeat(open, 20_000_000/len(open))
		for _, line := range []string{`{"rec":` + deep, `{"end":` + deep, `{"rec":{"files":` + deep} {
			if _, ok := scanZstdLine([]byte(line)); ok {
				t.Errorf("scanZstdLine accepted a line of %d nested values", len(deep)/len(open))
			}
			if _, err := parseZstdJournalLine([]byte(line), zstdFormat); err == nil {
				t.Errorf("parseZstdJournalLine read a line of %d nested values", len(deep)/len(open))
			}
		}
		if _, _, ok := scanZstdRecord2([]byte(deep)); ok {
			t.Error("scanZstdRecord2 accepted a record of nested values")
		}
	}
	// Nesting the writer's shape never reaches is still read.
	checkScanners(t, []byte(`{"rec":{"x":[[[[[[1]]]]]]},"crc32c":"00"}`))
}
