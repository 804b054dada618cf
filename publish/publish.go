// Package publish writes the published snapshot of each election into a
// folder a web page reads: DIR/{id}/raw.json and DIR/{id}/results.csv, the
// old tool's files, plus DIR/{id}/published.json saying what they are.
//
// # Atomic swap
//
// DIR/{id} is a symbolic link to a folder DIR/.versions/{id}-{version}-{n}
// that holds one version's files. A new version is written into a new
// folder (under a temporary name, renamed when complete), then a new link
// is made beside DIR/{id} and renamed over it: rename(2) replaces the link
// in one step, so DIR/{id} always names one complete version. The folder
// the link named before stays for Options.Grace after it was replaced, so
// a reader that resolved the link just before the swap can finish.
//
// A reader that opens DIR/{id}/raw.json and then DIR/{id}/results.csv can
// still get two versions if a swap comes between the two opens: each open
// resolves the link again. A reader that needs a matching pair resolves
// the link once (readlink DIR/{id}, or read published.json, which names
// the folder) and reads both files from the folder it names.
package publish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ctrunner/durable"
	"ctrunner/export"
	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// File names inside an election's folder.
const (
	RawFile       = "raw.json"
	ResultsFile   = "results.csv"
	PublishedFile = "published.json"
	// VersionsDir holds the version folders the links point at.
	VersionsDir = ".versions"
)

// DefaultGrace is how long a replaced version folder is kept.
const DefaultGrace = 10 * time.Minute

// Options tune Write.
type Options struct {
	// Grace is how long a version folder is kept after its link moved on;
	// DefaultGrace if zero.
	Grace time.Duration
	// Warn, if set, gets notes about the rendering, such as codes missing
	// from the lookup data (their rows are kept).
	Warn func(msg string)
}

// Record is the content of published.json.
type Record struct {
	Election    snapshot.ElectionID `json:"election"`
	Version     int64               `json:"version"`
	Snapshot    string              `json:"snapshot"`
	FetchedAt   time.Time           `json:"fetched_at"`
	PublishedAt time.Time           `json:"published_at"`
	// Folder is the version folder, relative to the publish folder, from
	// which raw.json and results.csv can be read as a pair.
	Folder string `json:"folder"`
}

// Render returns a snapshot as the old tool's raw.json and results.csv,
// as ctrunner checkout writes them; see RawJSON and ResultsCSV.
func Render(snap *snapshot.Snapshot, warn func(string)) (raw, csv []byte, err error) {
	if raw, err = RawJSON(snap); err != nil {
		return nil, nil, err
	}
	if csv, err = ResultsCSV(snap, warn); err != nil {
		return nil, nil, err
	}
	return raw, csv, nil
}

// RawJSON returns a snapshot as the old tool's raw.json wrapper. A snapshot
// imported from the old tool's folder gives back its original bytes.
func RawJSON(snap *snapshot.Snapshot) ([]byte, error) {
	if raw, ok := snap.File(snapshot.LegacyRawFile); ok {
		return raw, nil
	}
	edRaw, okED := snap.File(snapshot.ElectionDataFile)
	ldRaw, okLD := snap.File(snapshot.LookupDataFile)
	if !okED || !okLD {
		return nil, fmt.Errorf("snapshot %s lacks %s or %s", snap.ID().Short(),
			snapshot.ElectionDataFile, snapshot.LookupDataFile)
	}
	raw, err := legacy.Wrap(snap.Version, edRaw, ldRaw)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	return raw, nil
}

// ResultsCSV returns a snapshot's results as the old tool's results.csv,
// keeping every row. Codes missing from the lookup data are summed up in
// one call of warn, which says how to list them one by one.
func ResultsCSV(snap *snapshot.Snapshot, warn func(string)) ([]byte, error) {
	return resultsCSV(snap, false, warn)
}

// OldToolResultsCSV returns the results.csv the old tool itself wrote:
// ResultsCSV without the rows it dropped, those whose town, candidate or
// party the lookup data lacks or whose vote entry lacks a field (see
// export.ResultRow.LegacyDropped). warn is called as by ResultsCSV.
func OldToolResultsCSV(snap *snapshot.Snapshot, warn func(string)) ([]byte, error) {
	return resultsCSV(snap, true, warn)
}

func resultsCSV(snap *snapshot.Snapshot, dropUnknown bool, warn func(string)) ([]byte, error) {
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ldRaw, _ := snap.File(snapshot.LookupDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	ld, err := snapshot.DecodeLookupData(ldRaw)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	unknown := 0
	rows := export.Results(ed, ld, func(string) { unknown++ })
	if unknown > 0 && warn != nil {
		what := fmt.Sprintf("%d codes are", unknown)
		if unknown == 1 {
			what = "1 code is"
		}
		kept := fmt.Sprintf("their rows are kept with the codes (ctrunner show %s@%s "+
			"--format raw | ctrunner parse --data-type election-data names each one)",
			snap.Election, snap.Version)
		if dropUnknown {
			kept = "their rows are left out, as the old tool did"
		}
		warn(fmt.Sprintf("election %s version %s: %s missing from the lookup data; %s",
			snap.Election, snap.Version, what, kept))
	}
	if dropUnknown {
		kept := rows[:0]
		for _, r := range rows {
			if !r.LegacyDropped() {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	var b bytes.Buffer
	if err := export.WriteResultsCSV(&b, rows); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write makes snap the published version of its election in the publish
// folder dir, which it creates if needed, and returns the version folder
// it wrote, relative to dir. Old version folders of the election whose
// grace period is over are removed.
func Write(dir string, snap *snapshot.Snapshot, at time.Time, opts Options) (string, error) {
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	raw, csv, err := Render(snap, opts.Warn)
	if err != nil {
		return "", err
	}
	id := snap.Election
	link := filepath.Join(dir, string(id))
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return "", fmt.Errorf("publishing election %s: %s is not a link that ctrunner made; "+
			"move it away", id, link)
	}
	versions := filepath.Join(dir, VersionsDir)
	if err := os.MkdirAll(versions, 0o755); err != nil {
		return "", fmt.Errorf("publishing election %s: %w", id, err)
	}

	rec := Record{Election: id, Version: int64(snap.Version), Snapshot: snap.ID().String(),
		FetchedAt: snap.FetchedAt.UTC(), PublishedAt: at.UTC()}
	name, err := writeVersion(versions, snap, &rec, raw, csv)
	if err != nil {
		return "", fmt.Errorf("publishing election %s: %w", id, err)
	}
	previous, _ := os.Readlink(link)
	if err := swapLink(dir, link, rec.Folder); err != nil {
		os.RemoveAll(filepath.Join(versions, name))
		return "", fmt.Errorf("publishing election %s: %w", id, err)
	}
	// The grace period of the folder just replaced starts now.
	if previous != "" && previous != rec.Folder {
		now := time.Now()
		os.Chtimes(filepath.Join(dir, previous), now, now)
	}
	clean(versions, id, name, opts.Grace)
	return rec.Folder, nil
}

// writeVersion writes a version folder under a temporary name and renames
// it to {id}-{version}-{n}, n the first number not taken. It fills in
// rec.Folder and returns the folder's name.
func writeVersion(versions string, snap *snapshot.Snapshot, rec *Record,
	raw, csv []byte) (string, error) {
	tmp, err := os.MkdirTemp(versions, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, f := range []struct {
		name string
		data []byte
	}{{RawFile, raw}, {ResultsFile, csv}} {
		if err := durable.WriteFile(filepath.Join(tmp, f.name), f.data); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	prefix := fmt.Sprintf("%s-%s-", snap.Election, snap.Version)
	for n := nextNumber(versions, prefix); ; n++ {
		name := prefix + strconv.Itoa(n)
		rec.Folder = VersionsDir + "/" + name
		meta, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return "", err
		}
		metaPath := filepath.Join(tmp, PublishedFile)
		os.Remove(metaPath)
		if err := durable.WriteFile(metaPath, append(meta, '\n')); err != nil {
			return "", err
		}
		if err := durable.SyncDir(tmp); err != nil {
			return "", err
		}
		err = os.Rename(tmp, filepath.Join(versions, name))
		if err == nil {
			return name, durable.SyncDir(versions)
		}
		if _, statErr := os.Stat(filepath.Join(versions, name)); statErr != nil || n > 1<<20 {
			return "", err
		}
		// Another publisher took the name meanwhile: try the next.
	}
}

// nextNumber returns one more than the highest n of the folders named
// prefix+n.
func nextNumber(versions, prefix string) int {
	entries, _ := os.ReadDir(versions)
	n := 1
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if k, err := strconv.Atoi(rest); err == nil && k >= n {
			n = k + 1
		}
	}
	return n
}

// swapLink points link at target (relative to dir) with one rename.
func swapLink(dir, link, target string) error {
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.link-%d", filepath.Base(link),
		time.Now().UnixNano()))
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return durable.SyncDir(dir)
}

// clean removes the version folders of election id other than current
// whose grace period is over, and temporary folders as old.
func clean(versions string, id snapshot.ElectionID, current string, grace time.Duration) {
	entries, err := os.ReadDir(versions)
	if err != nil {
		return
	}
	prefix := string(id) + "-"
	for _, e := range entries {
		name := e.Name()
		if name == current || !(strings.HasPrefix(name, prefix) ||
			strings.HasPrefix(name, ".tmp-")) {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < grace {
			continue
		}
		os.RemoveAll(filepath.Join(versions, name))
	}
}

// Current reads the published.json of election id in the publish folder
// dir.
func Current(dir string, id snapshot.ElectionID) (Record, error) {
	var rec Record
	data, err := os.ReadFile(filepath.Join(dir, string(id), PublishedFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("reading %s: %w", PublishedFile, err)
	}
	return rec, nil
}
