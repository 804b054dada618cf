package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"ctrunner/snapshot"
)

// benchVersions is how many versions of Electiondata.json the benchmarks
// and the tuning table archive.
const benchVersions = 50

// electionDataSnapshot is version i of an election-80 snapshot holding
// data as its Electiondata.json.
func electionDataSnapshot(i int, data []byte) *snapshot.Snapshot {
	return snap("80", int64(13000+i), t0.Add(time.Duration(i)*time.Minute),
		snapshot.File{Name: snapshot.ElectionDataFile, Data: data})
}

// putTB is mustPut for tests and benchmarks.
func putTB(t testing.TB, s Store, sn *snapshot.Snapshot) Entry {
	t.Helper()
	e, added, err := s.Put(context.Background(), sn)
	if err != nil || !added {
		t.Fatalf("Put(%s@%s) = %v, %v; want added", sn.Election, sn.Version, added, err)
	}
	return e
}

// objectBytes returns the bytes of the object files of the documents
// called name in entries, each object counted once.
func objectBytes(t testing.TB, dir string, entries []Entry, name string) int64 {
	t.Helper()
	seen := map[string]bool{}
	var total int64
	for _, e := range entries {
		sum := e.Documents[name]
		if seen[sum] {
			continue
		}
		seen[sum] = true
		info, err := os.Stat(objectPath(dir, sum))
		if err != nil {
			t.Fatal(err)
		}
		total += info.Size()
	}
	return total
}

// coldLoad loads e from a new Store on dir, with nothing cached, and
// returns how long the Load took.
func coldLoad(t testing.TB, dir string, e Entry) time.Duration {
	t.Helper()
	r, err := openZstd(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if _, err := r.Load(e); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// TestZstdTuning prints the table the keyframe interval and the level were
// chosen from: bytes on disk per version, ingest time per version (without
// fsync) and cold read times, for versions of election 80's
// Electiondata.json. Run it with CTRUNNER_ZSTD_TUNING=1 go test -run
// ZstdTuning -v ./store/.
func TestZstdTuning(t *testing.T) {
	if os.Getenv("CTRUNNER_ZSTD_TUNING") == "" {
		t.Skip("set CTRUNNER_ZSTD_TUNING=1 to print the tuning table")
	}
	versions := electionDataVersions(t, benchVersions)
	t.Logf("%d versions of Electiondata.json, %d bytes each", len(versions), len(versions[0]))
	t.Logf("%-8s %3s %10s %9s %9s %9s %9s %9s", "level", "K", "B/version",
		"keyframe", "delta", "put", "oldest", "worst")
	levels := []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault,
		zstd.SpeedBetterCompression, zstd.SpeedBestCompression}
	for _, level := range levels {
		for _, k := range []int{8, 16, 32, 64} {
			dir := filepath.Join(t.TempDir(), "store")
			if err := createZstd(dir); err != nil {
				t.Fatal(err)
			}
			z, err := openZstd(dir, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			z.codec.level, z.keyframeEvery, z.noSync = level, k, true
			var entries []Entry
			start := time.Now()
			for i, data := range versions {
				entries = append(entries, putTB(t, z, electionDataSnapshot(i, data)))
			}
			put := time.Since(start) / time.Duration(len(versions))
			z.Close()

			total := objectBytes(t, dir, entries, snapshot.ElectionDataFile)
			keyframe := objectBytes(t, dir, entries[:1], snapshot.ElectionDataFile)
			delta := objectBytes(t, dir, entries[1:2], snapshot.ElectionDataFile)
			worst := min(k, len(entries)) - 1 // the deepest delta
			t.Logf("%-8s %3d %10d %9d %9d %9s %9s %9s", level, k, total/int64(len(entries)),
				keyframe, delta, put.Round(10*time.Microsecond),
				coldLoad(t, dir, entries[0]).Round(10*time.Microsecond),
				coldLoad(t, dir, entries[worst]).Round(10*time.Microsecond))
		}
	}
}

// BenchmarkZstdPut archives benchVersions versions of election 80's
// Electiondata.json per iteration, with and without fsync, and reports
// the bytes on disk per version.
func BenchmarkZstdPut(b *testing.B) {
	versions := electionDataVersions(b, benchVersions)
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("noSync=%v", noSync), func(b *testing.B) {
			b.SetBytes(int64(len(versions[0]) * len(versions)))
			var perVersion float64
			for range b.N {
				b.StopTimer()
				z, dir := openZstdTest(b)
				z.noSync = noSync
				var entries []Entry
				b.StartTimer()
				for i, data := range versions {
					entries = append(entries, putTB(b, z, electionDataSnapshot(i, data)))
				}
				b.StopTimer()
				perVersion = float64(objectBytes(b, dir, entries, snapshot.ElectionDataFile)) /
					float64(len(entries))
				z.Close()
				b.StartTimer()
			}
			b.ReportMetric(perVersion, "disk-B/version")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(versions)),
				"ns/version")
		})
	}
}

// BenchmarkZstdLoad loads the oldest, the newest and the version with the
// longest delta chain of benchVersions versions, with nothing cached.
func BenchmarkZstdLoad(b *testing.B) {
	versions := electionDataVersions(b, benchVersions)
	z, dir := openZstdTest(b)
	z.noSync = true
	var entries []Entry
	for i, data := range versions {
		entries = append(entries, putTB(b, z, electionDataSnapshot(i, data)))
	}
	z.Close()
	for _, c := range []struct {
		name  string
		entry Entry
	}{
		{"oldest", entries[0]},
		{"newest", entries[len(entries)-1]},
		{"deepest", entries[defaultKeyframeEvery-1]},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := reopenZstd(b, dir)
			b.SetBytes(int64(len(versions[0])))
			for range b.N {
				r.codecMu.Lock()
				r.codec.cache = newZstdCache(rawCacheSize)
				r.codecMu.Unlock()
				if _, err := r.Load(c.entry); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
