package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"ctrunner/legacy"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
)

// nightVersions is the length of the simulated night TestZstdNight
// archives, as bench/store.sh does by default.
const nightVersions = 300

// nightSnapshots returns a simulated night of n versions of election 80,
// made from its recorded final results as ctrunner simulate --seed 1 does.
func nightSnapshots(t testing.TB, n int) []*snapshot.Snapshot {
	t.Helper()
	_, electionData, lookupData, err := legacy.Split(bigDocument(t))
	if err != nil {
		t.Fatalf("splitting recorded document: %v", err)
	}
	night, err := rehearsal.New(electionData, lookupData, rehearsal.Options{
		Versions: n, Seed: 1, Start: t0, Interval: 2 * time.Minute,
		FirstVersion: 1000, VersionStep: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	var snaps []*snapshot.Snapshot
	for step := range night.Steps() {
		v := strconv.FormatInt(int64(step.Version), 10)
		snaps = append(snaps, snapshot.New(snapshot.Meta{
			Election:   "80",
			Version:    step.Version,
			FetchedAt:  step.FetchedAt,
			Source:     snapshot.Fetched,
			SourceURL:  "simulate:seed=1;from=testdata/ct-archive/80/13392/raw.json.gz",
			TimeSource: "simulated",
		}, []snapshot.File{
			{Name: snapshot.VersionFile, Data: []byte(`{"Version":` + v + `}`)},
			{Name: snapshot.ElectionDataFile, Data: step.ElectionData},
			{Name: snapshot.LookupDataFile, Data: step.LookupData},
		}))
	}
	return snaps
}

// storeUsage is where the bytes of a zstd store go, counted as du -sb
// counts them: files and folders by their apparent size.
type storeUsage struct {
	total, folders, journal int64
	// objects by kind: full, delta, keyframe delta
	objects [3]int64
	count   [3]int
}

func measureStore(t testing.TB, dir string) storeUsage {
	t.Helper()
	var u storeUsage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		u.total += info.Size()
		switch {
		case d.IsDir():
			u.folders += info.Size()
		case d.Name() == zstdJournalName:
			u.journal += info.Size()
		case strings.Contains(filepath.ToSlash(path), "/objects/"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h, err := parseObjectHeader(b, int64(len(b)))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			u.objects[h.kind] += info.Size()
			u.count[h.kind]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestZstdNight archives a simulated night of nightVersions versions of
// election 80 into zstd stores of several settings and prints, per
// version, the bytes on disk by component, the time to archive a version
// (with fsync) by one Store and by a new Store (as one process per version
// does), and the time to load the oldest, the newest and the deepest
// version from a new Store. Run it with
// CTRUNNER_ZSTD_NIGHT=1 go test -run ZstdNight -v ./store/; set
// CTRUNNER_ZSTD_NIGHT=all for more settings than the default ones.
func TestZstdNight(t *testing.T) {
	mode := os.Getenv("CTRUNNER_ZSTD_NIGHT")
	if mode == "" || testing.Short() {
		t.Skip("set CTRUNNER_ZSTD_NIGHT=1 to measure stores of a simulated night")
	}
	snaps := nightSnapshots(t, nightVersions)
	type setting struct {
		name   string
		format int
		k, m   int
		level  zstd.EncoderLevel
	}
	settings := []setting{
		{"format 1 (before)", zstdFormatFanout, 32, 1, zstd.SpeedBetterCompression},
		{"default", zstdFormat, defaultKeyframeEvery, defaultKeyframeChain, defaultLevel},
	}
	if mode == "all" {
		settings = append(settings,
			setting{"better", zstdFormat, 32, 32, zstd.SpeedBetterCompression},
			setting{"full keyframes", zstdFormat, 32, 1, defaultLevel},
			setting{"K=64", zstdFormat, 64, 32, defaultLevel},
			setting{"K=64 full", zstdFormat, 64, 1, defaultLevel},
			setting{"K=128 full", zstdFormat, 128, 1, defaultLevel},
			setting{"K=16", zstdFormat, 16, 32, defaultLevel},
		)
	}
	n := int64(len(snaps))
	t.Logf("%d versions; bytes per version, times per version or per read", n)
	t.Logf("%-18s %3s %3s %6s %6s %6s %6s %6s %6s %6s %8s %8s %8s %8s %8s",
		"setting", "K", "M", "total", "full", "kf-dlt", "delta", "journl", "folder", "other",
		"put", "new put", "oldest", "newest", "deepest")
	for _, s := range settings {
		dir := filepath.Join(t.TempDir(), "store")
		if err := createZstdFormat(dir, s.format); err != nil {
			t.Fatal(err)
		}
		z, err := openZstd(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		z.codec.level, z.keyframeEvery, z.keyframeChain = s.level, s.k, s.m
		var entries []Entry
		start := time.Now()
		for _, sn := range snaps[:n-1] {
			entries = append(entries, putTB(t, z, sn))
		}
		put := time.Since(start) / time.Duration(n-1)
		z.Close()

		// The last version is archived by a new Store, as by a new
		// process: it reads its base's chain and makes its encoder.
		start = time.Now()
		z, err = openZstd(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		z.codec.level, z.keyframeEvery, z.keyframeChain = s.level, s.k, s.m
		entries = append(entries, putTB(t, z, snaps[n-1]))
		z.Close()
		coldPut := time.Since(start)

		u := measureStore(t, dir)
		other := u.total - u.folders - u.journal - u.objects[0] - u.objects[1] - u.objects[2]
		deepest, depth := entries[0], -1
		for _, e := range entries {
			h, err := readObjectHeader(objectLayout{dir: dir, fanout: s.format == zstdFormatFanout},
				e.Documents[snapshot.ElectionDataFile])
			if err != nil {
				t.Fatal(err)
			}
			if h.depth > depth {
				deepest, depth = e, h.depth
			}
		}
		read := func(e Entry) time.Duration {
			best := time.Hour
			for range 3 {
				best = min(best, coldLoad(t, dir, e))
			}
			return best.Round(100 * time.Microsecond)
		}
		t.Logf("%-18s %3d %3d %6d %6d %6d %6d %6d %6d %6d %8s %8s %8s %8s %8s",
			s.name, s.k, s.m, u.total/n, u.objects[0]/n, u.objects[2]/n, u.objects[1]/n,
			u.journal/n, u.folders/n, other/n, put.Round(100*time.Microsecond),
			coldPut.Round(100*time.Microsecond),
			read(entries[0]), read(entries[n-1]), read(deepest))
		t.Logf("%-18s objects: %d full, %d keyframe deltas, %d deltas; deepest chain %d",
			"", u.count[0], u.count[2], u.count[1], depth+1)
	}
}
