package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/legacy"
	"ctrunner/snapshot"
	"ctrunner/store"
)

func importCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import a folder written by the old tool's 'archive' command",
		ArgsUsage: "DIR",
		Description: "Reads DIR/index.json and every DIR/{id}/{version}/raw.json (with its\n" +
			"results.csv) and stores each version as a snapshot, in version order. The\n" +
			"old files are kept byte for byte. The old tool recorded no fetch times, so\n" +
			"a snapshot's time is its raw.json's modification time, and the snapshot\n" +
			"says so. Importing the same folder twice adds nothing. If any file cannot\n" +
			"be read, nothing is stored unless --keep-going is given.",
		Flags: []cli.Flag{
			storeFlag(),
			backendFlag(),
			&cli.BoolFlag{Name: "keep-going", Usage: "skip unreadable versions instead of stopping"},
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "the folder to import")
			if err != nil {
				return err
			}
			return runImport(c, io, dir)
		},
	}
}

func runImport(c *cli.Context, io streams, dir string) error {
	archive, err := legacy.Open(dir)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}

	for _, p := range archive.Problems() {
		io.warnf("warning: %v", p)
	}
	if len(archive.Elections()) == 0 {
		return fmt.Errorf("%s holds no election folders ({id}/{version}/raw.json); nothing to import", dir)
	}

	// Read and check everything before the store is touched.
	var snaps []*snapshot.Snapshot
	for _, id := range archive.Elections() {
		got, err := importElection(archive, abs, id)
		if err != nil {
			if !c.Bool("keep-going") {
				return fmt.Errorf("%w (nothing was stored)", err)
			}
			io.warnf("skipping: %v", err)
		}
		snaps = append(snaps, got...)
	}
	list, listErr := archive.ElectionList()

	var report strings.Builder
	err = updateStore(c, io, func(_ store.Store, b store.Batch) error {
		if listErr == nil {
			at := time.Now().UTC()
			if fi, err := os.Stat(filepath.Join(abs, "index.json")); err == nil {
				at = fi.ModTime().UTC()
			}
			if _, err := b.PutElectionList(list, at, filepath.Join(abs, "index.json")); err != nil {
				return err
			}
		}
		for _, s := range snaps {
			id := s.ID()
			have, err := b.Contains(s.Election, id)
			if err != nil {
				return err
			}
			if have {
				fmt.Fprintf(&report, "election %s version %s: already in store (%s)\n",
					s.Election, s.Version, id.Short())
				continue
			}
			if _, _, err := b.Put(s); err != nil {
				return err
			}
			fmt.Fprintf(&report, "election %s version %s: imported as %s\n", s.Election, s.Version, id.Short())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w (nothing was stored)", err)
	}
	if listErr != nil {
		io.warnf("warning: %v; the election list was not imported", listErr)
	}
	io.stdout.Write([]byte(report.String()))
	return nil
}

// importElection reads every version of one election from the old tool's
// folder, oldest version first, plus the election's top-level "latest"
// copy when it holds something no version folder has.
func importElection(archive *legacy.Archive, root string, id snapshot.ElectionID) ([]*snapshot.Snapshot, error) {
	var snaps []*snapshot.Snapshot
	seen := map[snapshot.Version][]byte{}
	for _, v := range archive.Versions(id) {
		rec, err := archive.Read(id, v)
		if err != nil {
			return snaps, err
		}
		path := filepath.Join(root, string(id), v.String())
		s, err := importedSnapshot(id, rec, path)
		if err != nil {
			return snaps, err
		}
		if s.Version != v {
			return snaps, fmt.Errorf("%s: raw.json says version %s", path, s.Version)
		}
		seen[v] = rec.Raw
		snaps = append(snaps, s)
	}

	rec, err := archive.Latest(id)
	if errors.Is(err, fs.ErrNotExist) {
		return snaps, nil
	}
	if err != nil {
		return snaps, err
	}
	s, err := importedSnapshot(id, rec, filepath.Join(root, string(id)))
	if err != nil {
		return snaps, err
	}
	if raw, ok := seen[s.Version]; ok && bytes.Equal(raw, rec.Raw) {
		return snaps, nil
	}
	return append(snaps, s), nil
}

// importedSnapshot turns one raw.json (and results.csv) of the old tool
// into a snapshot. The API documents are cut out of the wrapper; the old
// files themselves are kept byte for byte.
func importedSnapshot(id snapshot.ElectionID, rec *legacy.Version, path string) (*snapshot.Snapshot, error) {
	version, ed, ld, err := legacy.Split(rec.Raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rec.RawPath, err)
	}
	files := []snapshot.File{
		{Name: snapshot.ElectionDataFile, Data: ed},
		{Name: snapshot.LookupDataFile, Data: ld},
		{Name: snapshot.LegacyRawFile, Data: rec.Raw},
	}
	if rec.Results != nil {
		files = append(files, snapshot.File{Name: snapshot.LegacyResultsFile, Data: rec.Results})
	}
	s := snapshot.New(snapshot.Meta{
		Election:   id,
		Version:    version,
		FetchedAt:  rec.ModTime.UTC(),
		Source:     snapshot.Imported,
		SourceURL:  path,
		TimeSource: "modification time of raw.json",
	}, files)
	if err := checkDocuments(s); err != nil {
		return nil, fmt.Errorf("%s: %w", rec.RawPath, err)
	}
	if err := checkElectionID(s, id); err != nil {
		return nil, fmt.Errorf("%s: %w", rec.RawPath, err)
	}
	return s, nil
}

// checkElectionID makes sure the documents belong to the election whose
// folder they were found in, so that a folder given one level too deep
// cannot create elections named after versions.
func checkElectionID(s *snapshot.Snapshot, id snapshot.ElectionID) error {
	edRaw, _ := s.File(snapshot.ElectionDataFile)
	ldRaw, _ := s.File(snapshot.LookupDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return err
	}
	ld, err := snapshot.DecodeLookupData(ldRaw)
	if err != nil {
		return err
	}
	for _, got := range []snapshot.ElectionID{ed.Election.ID, ld.Election.ID} {
		if got != "" && got != id {
			return fmt.Errorf("the data is of election %s, not %s (is the folder the old tool's "+
				"archive folder, the one holding index.json?)", got, id)
		}
	}
	return nil
}
