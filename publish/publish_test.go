package publish

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
)

// nightSnapshots returns the versions of a rehearsal night of election 24
// as snapshots.
func nightSnapshots(t *testing.T, n int) []*snapshot.Snapshot {
	t.Helper()
	recorded, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	latest, err := recorded.Latest("24")
	if err != nil {
		t.Fatal(err)
	}
	_, ed, ld, err := legacy.Split(latest.Raw)
	if err != nil {
		t.Fatal(err)
	}
	night, err := rehearsal.New(ed, ld, rehearsal.Options{Versions: n, Seed: 1,
		Start: time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC), Interval: time.Minute,
		FirstVersion: 1000, VersionStep: 3})
	if err != nil {
		t.Fatal(err)
	}
	var snaps []*snapshot.Snapshot
	for step := range night.Steps() {
		snaps = append(snaps, snapshot.New(snapshot.Meta{Election: "24", Version: step.Version,
			FetchedAt: step.FetchedAt, Source: snapshot.Fetched}, []snapshot.File{
			{Name: snapshot.VersionFile, Data: []byte(`{"Version":` + step.Version.String() + `}`)},
			{Name: snapshot.ElectionDataFile, Data: step.ElectionData},
			{Name: snapshot.LookupDataFile, Data: step.LookupData},
		}))
	}
	return snaps
}

// TestWriteNeverMixes publishes 200 times while a reader reads raw.json,
// results.csv and published.json over and over, each time through one
// resolution of the link: it must always get the three files of one
// version, complete.
func TestWriteNeverMixes(t *testing.T) {
	snaps := nightSnapshots(t, 10)
	wantCSV := map[int64][]byte{}
	for _, s := range snaps {
		_, csv, err := Render(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCSV[int64(s.Version)] = csv
	}
	dir := t.TempDir()
	if _, err := Write(dir, snaps[0], time.Now(), Options{}); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if msg := readPair(dir, wantCSV); msg != "" {
					t.Error(msg)
					return
				}
				reads.Add(1)
			}
		}()
	}
	// The grace period is the time a reader has to finish with the folder
	// it found through the link. Readers here are quick, but a loaded
	// machine can hold one back for a good part of a second: give them
	// longer than that, as the ten minutes of DefaultGrace do.
	for i := range 200 {
		if _, err := Write(dir, snaps[i%len(snaps)], time.Now(),
			Options{Grace: 10 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() < 100 {
		t.Errorf("only %d reads during 200 publishes", reads.Load())
	}

	// Old folders go once their grace period is over; the one just
	// replaced starts its own.
	// The folders the loop replaced are all older than a second then; the
	// one this write replaces has its grace period start as it is
	// replaced, a second being ample for this write to get to the clean-up.
	time.Sleep(1200 * time.Millisecond)
	_, err := Write(dir, snaps[3], time.Now(), Options{Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, VersionsDir))
	if len(entries) != 2 {
		t.Errorf("%d version folders left after the grace period, want 2", len(entries))
	}
	rec, err := Current(dir, "24")
	if err != nil || rec.Version != int64(snaps[3].Version) {
		t.Errorf("Current = %+v, %v; want version %s", rec, err, snaps[3].Version)
	}
}

// readPair reads one version through the link and says what is wrong
// with it, or "".
func readPair(dir string, wantCSV map[int64][]byte) string {
	target, err := os.Readlink(filepath.Join(dir, "24"))
	if err != nil {
		return "readlink: " + err.Error()
	}
	folder := filepath.Join(dir, target)
	raw, err1 := os.ReadFile(filepath.Join(folder, RawFile))
	csv, err2 := os.ReadFile(filepath.Join(folder, ResultsFile))
	meta, err3 := os.ReadFile(filepath.Join(folder, PublishedFile))
	if err1 != nil || err2 != nil || err3 != nil {
		return "reading " + target + ": " + strings.TrimSpace(
			strings.Join([]string{errText(err1), errText(err2), errText(err3)}, " "))
	}
	var wrapper struct{ Version int64 }
	var rec Record
	if err := json.Unmarshal(raw, &wrapper); err != nil {
		return target + ": raw.json: " + err.Error()
	}
	if err := json.Unmarshal(meta, &rec); err != nil {
		return target + ": published.json: " + err.Error()
	}
	if wrapper.Version != rec.Version || !bytes.Equal(csv, wantCSV[rec.Version]) {
		return target + ": raw.json, results.csv and published.json are not one version"
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWriteRefusesFolder(t *testing.T) {
	snaps := nightSnapshots(t, 1)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "24"), 0o755)
	_, err := Write(dir, snaps[0], time.Now(), Options{})
	if err == nil || !strings.Contains(err.Error(), "not a link") {
		t.Errorf("Write over a real folder: %v, want an error saying it is not a link", err)
	}
}

func TestHook(t *testing.T) {
	var out bytes.Buffer
	h := Hook{Output: &out, Command: `echo "$CTRUNNER_ELECTION $CTRUNNER_VERSION ` +
		`$CTRUNNER_SNAPSHOT $CTRUNNER_PUBLISH_DIR"`}
	err := h.Run(t.Context(), Event{Election: "80", Version: "1316", Snapshot: "abc",
		PublishDir: "/p"})
	if got, want := out.String(), "80 1316 abc /p\n"; err != nil || got != want {
		t.Errorf("hook output %q, %v; want %q", got, err, want)
	}

	start := time.Now()
	err = Hook{Command: "sleep 5 & sleep 5", Timeout: 100 * time.Millisecond,
		Output: &bytes.Buffer{}}.Run(t.Context(), Event{})
	if err == nil || !strings.Contains(err.Error(), "within") || time.Since(start) > 3*time.Second {
		t.Errorf("hook past its timeout: %v after %s", err, time.Since(start))
	}
	if err := (Hook{Command: "exit 3"}).Run(t.Context(), Event{}); err == nil {
		t.Error("failing hook: no error")
	}
}
