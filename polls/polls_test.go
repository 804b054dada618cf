package polls

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"testing"
	"time"
)

func record(i int) Record {
	return Record{Time: time.Date(2024, 11, 5, 20, 0, i, 0, time.UTC), Election: "80",
		Status: 200, LatencyMS: 1.5, Bytes: 16, Version: 1313, Outcome: Unchanged}
}

func readAll(t *testing.T, dir string) ([]Record, int) {
	t.Helper()
	var got []Record
	unreadable, err := Each(dir, func(r Record) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	return got, unreadable
}

func TestAppendEach(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{record(0), record(1)}
	want[1].Outcome, want[1].Reasons = Suspect, []string{"votes-decreased: x"}
	for _, r := range want {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, unreadable := readAll(t, dir)
	if !reflect.DeepEqual(got, want) || unreadable != 0 {
		t.Errorf("Each = %+v, %d unreadable; want %+v, 0", got, unreadable, want)
	}
}

// TestTornLastLine: a write cut short leaves a torn last line, which
// readers skip; the next Open ends it so that new records read back.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Append(record(0))
	j.Close()
	f, err := os.OpenFile(Path(dir), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2024-11-05T20:00:01Z","election":"80","sta`)
	f.Close()

	got, unreadable := readAll(t, dir)
	if len(got) != 1 || unreadable != 0 {
		t.Errorf("with a torn last line: %d records, %d unreadable; want 1, 0", len(got),
			unreadable)
	}

	j, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Append(record(2))
	j.Close()
	got, unreadable = readAll(t, dir)
	if len(got) != 2 || !got[1].Time.Equal(record(2).Time) ||
		unreadable != 1 {
		t.Errorf("after reopening: %d records, %d unreadable; want 2, 1", len(got), unreadable)
	}
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{MaxBytes: 400})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := j.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if _, err := os.Stat(Path(dir) + ".1"); err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	got, _ := readAll(t, dir)
	if len(got) < 2 || !got[len(got)-1].Time.Equal(record(9).Time) {
		t.Fatalf("after rotation: %d records, the last %v", len(got), got[len(got)-1].Time)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].Time.After(got[i-1].Time) {
			t.Errorf("records out of order at %d", i)
		}
	}
}

func TestEachMissing(t *testing.T) {
	_, err := Each(t.TempDir(), func(Record) {})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Each of a store without a journal: %v, want fs.ErrNotExist", err)
	}
}
