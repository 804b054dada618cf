package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestZstdDamagedBatch damages a line in the middle of a batch whose end
// line is there: that is damage, not a torn write. Readers see what comes
// before the batch, Verify reports the line, and writers and Recover
// refuse to touch the journal.
func TestZstdDamagedBatch(t *testing.T) {
	t.Parallel()
	z, dir := openZstdTest(t)
	batchBase(t, z)
	base := mustLogLists(t, z)
	if _, err := batchOp(context.Background(), z); err != nil {
		t.Fatalf("batch = %v", err)
	}
	z.Close()
	full, err := os.ReadFile(filepath.Join(dir, zstdJournalName))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte("\n"))
	// Line 1 is the election list, lines 2 to 6 the batch's records, line
	// 7 its end.
	if len(lines) != 8 || len(lines[7]) != 0 {
		t.Fatalf("journal =\n%s\nwant 7 lines", full)
	}
	offset := func(n int) int { return len(bytes.Join(lines[:n-1], nil)) }

	flipped := bytes.Clone(full)
	at := offset(4) + bytes.Index(lines[3], []byte(`"id":`)) + 2
	flipped[at] ^= 0x01 // "id" → "hd": the checksum no longer matches
	deleted := bytes.Join(append(append([][]byte{}, lines[:3]...), lines[4:]...), nil)
	flippedEnd := bytes.Clone(full)
	flippedEnd[offset(7)+20] ^= 0x01
	tests := []struct {
		name string
		data []byte
		want string // in Verify's problem and the write's error
	}{
		{"flipped byte", flipped, fmt.Sprintf(
			"line 4 (byte %d, in batch 2 of 5 records: checksum", offset(4))},
		{"deleted line", deleted, fmt.Sprintf(
			"line 4 (byte %d, in batch 2 of 5 records: sequence number 5 follows 3", offset(4))},
		{"flipped end line", flippedEnd, fmt.Sprintf("line 7 (byte %d, in batch 2", offset(7))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := copyStore(t, dir)
			journal := filepath.Join(d, zstdJournalName)
			if tt.name == "flipped end line" {
				// A damaged end line alone is a torn batch; a good line
				// after it makes it damage.
				tt.data = append(bytes.Clone(tt.data), lines[0]...)
			}
			if err := os.WriteFile(journal, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			before := treeState(t, d)

			// Open and Log work for what comes before the batch.
			s := reopenZstd(t, d)
			if got := mustLogLists(t, s); len(got) != len(base) {
				t.Errorf("election lists of a damaged journal = %d, want %d", len(got), len(base))
			}

			// Verify reports the damage precisely.
			r, err := Verify(context.Background(), s, VerifyOptions{ReadData: true})
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			found := false
			for _, p := range r.Problems {
				found = found || p.Path == zstdJournalName && strings.Contains(p.What, tt.want) &&
					strings.Contains(p.What, "unreadable")
			}
			if !found {
				t.Errorf("Verify problems = %v, want one of the journal with %q", r.Problems, tt.want)
			}

			// Writers refuse, and leave the store as it is.
			_, err = s.PutElectionList(context.Background(), []byte("[1]"), t0.Add(time.Hour), "")
			want := "store " + d + ": journal.jsonl is damaged at " + tt.want
			if err == nil || !strings.Contains(err.Error(), want) ||
				!strings.HasSuffix(err.Error(), "; run ctrunner verify; not writing to a damaged store") {
				t.Errorf("write to a damaged store = %v, want %q…", err, want)
			}
			if _, err := batchOp(context.Background(), reopenZstd(t, d)); err == nil {
				t.Errorf("Update of a damaged store = nil error, want a refusal")
			}
			checkUnchanged(t, "writing to a damaged store", before, treeState(t, d))

			// So does Recover.
			if report, err := Recover(d); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Recover(damaged store) = %q, %v; want the damage reported", report, err)
			}
			checkUnchanged(t, "recovering a damaged store", before, treeState(t, d))
			if got, _ := os.ReadFile(journal); !bytes.Equal(got, tt.data) {
				t.Errorf("journal changed")
			}
		})
	}

	// The same batch cut short before its end line is still a torn write.
	t.Run("torn", func(t *testing.T) {
		t.Parallel()
		d := copyStore(t, dir)
		torn := bytes.Join(lines[:6], nil)
		torn = append(torn, lines[6][:10]...)
		if err := os.WriteFile(filepath.Join(d, zstdJournalName), torn, 0o644); err != nil {
			t.Fatal(err)
		}
		if report, err := Recover(d); err != nil || !strings.Contains(report, "cut") {
			t.Errorf("Recover(torn batch) = %q, %v; want a cut", report, err)
		}
		if got, _ := os.ReadFile(filepath.Join(d, zstdJournalName)); !bytes.Equal(got, lines[0]) {
			t.Errorf("journal after Recover =\n%s\nwant\n%s", got, lines[0])
		}
	})
}

func mustLogLists(t *testing.T, s Store) []Entry {
	t.Helper()
	z := s.(*zstdStore)
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.current(); err != nil {
		t.Fatalf("reading journal: %v", err)
	}
	var out []Entry
	for _, r := range z.index.lists {
		out = append(out, r.entry)
	}
	return out
}
