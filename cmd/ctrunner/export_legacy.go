package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ctrunner/durable"
	"ctrunner/legacy"
	"ctrunner/publish"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// exportLegacy writes the old tool's folder for the requested elections
// (all by default) into req.dir. It only adds: a version folder already
// there is kept as it is. Each version folder appears complete under its
// final name or not at all; the election's latest copies and index.json
// are replaced file by file, each by a rename.
func exportLegacy(st store.Store, req exportRequest, storeDir string, s streams) error {
	dir := filepath.Clean(req.dir)
	if err := checkLegacyDir(dir, storeDir); err != nil {
		return err
	}
	ids := req.elections
	if len(ids) == 0 {
		var err error
		if ids, err = st.Elections(); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if _, err := st.Log(id); err != nil {
			return err // before anything is written: an unknown election
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}

	withUnknown := 0
	warn := func(string) { withUnknown++ }
	for _, id := range ids {
		if err := exportLegacyElection(st, id, dir, req.dropUnknown, warn, s); err != nil {
			return err
		}
	}
	if err := exportLegacyIndex(st, dir); err != nil {
		return err
	}
	if withUnknown > 0 {
		kept := "their rows are kept with the codes (--drop-unknown leaves them out, as the old tool did)"
		if req.dropUnknown {
			kept = "their rows are left out, as the old tool did"
		}
		what := fmt.Sprintf("%d results.csv files name", withUnknown)
		if withUnknown == 1 {
			what = "1 results.csv file names"
		}
		s.warnf("note: %s codes missing from the lookup data; %s", what, kept)
	}
	return nil
}

// checkLegacyDir refuses a folder that is a file, that is or holds the
// store, or that is neither empty nor an old tool's folder (one with
// index.json or an election folder), so that a mistyped DIR does not get
// election folders sprinkled into it.
func checkLegacyDir(dir, storeDir string) error {
	if fi, err := os.Lstat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("export: %s exists and is not a folder", dir)
	}
	absDir, err1 := filepath.Abs(dir)
	absStore, err2 := filepath.Abs(storeDir)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("export: cannot resolve %s", dir)
	}
	if rel, err := filepath.Rel(absDir, absStore); err == nil &&
		(rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("export: %s holds the store %s; give another folder", dir, storeDir)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || len(entries) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, e := range entries {
		if e.Name() == legacy.IndexFile || (e.IsDir() && isAllDigits(e.Name())) {
			return nil
		}
	}
	return fmt.Errorf("export: %s is not empty and holds no %s or election folder; "+
		"give a new, empty or old tool's folder", dir, legacy.IndexFile)
}

// exportLegacyElection writes the version folders of one election that
// DIR lacks, oldest first, then its latest copy. When two snapshots have
// the same API version, the folder holds the older one.
func exportLegacyElection(st store.Store, id snapshot.ElectionID, dir string,
	dropUnknown bool, warn func(string), s streams) error {
	log, err := st.Log(id)
	if err != nil {
		return err
	}
	electionDir := filepath.Join(dir, string(id))
	if err := os.MkdirAll(electionDir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// Folders left by an export that was killed half way.
	stale, _ := filepath.Glob(filepath.Join(electionDir, ".*.tmp-*"))
	for _, p := range stale {
		os.RemoveAll(p)
	}

	seen := map[snapshot.Version]bool{}
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		if seen[e.Version] {
			s.warnf("note: election %s version %s: snapshot %s has the version of an older "+
				"snapshot; its folder holds the older one", id, e.Version, e.ID.Short())
			continue
		}
		seen[e.Version] = true
		folder := filepath.Join(electionDir, e.Version.String())
		if _, err := os.Lstat(folder); err == nil {
			fmt.Fprintf(s.stdout, "election %s version %s: already in %s\n", id, e.Version, folder)
			continue
		}
		files, err := legacyFiles(st, e, dropUnknown, warn)
		if err != nil {
			return err
		}
		if err := writeLegacyFolder(folder, files, e.FetchedAt); err != nil {
			return err
		}
		fmt.Fprintf(s.stdout, "election %s version %s: written to %s\n", id, e.Version, folder)
	}

	// The latest copy; its notes were counted with its version folder.
	files, err := legacyFiles(st, log[0], dropUnknown, nil)
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(electionDir, f.Name)
		if err := writeFileAtomically(path, writeBytes(f.Data)); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Chtimes(path, log[0].FetchedAt, log[0].FetchedAt); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}

// legacyFiles renders a snapshot as the old tool's raw.json and
// results.csv, as checkout does.
func legacyFiles(st store.Store, e store.Entry, dropUnknown bool,
	warn func(string)) ([]snapshot.File, error) {
	snap, err := st.Load(e)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s: %w", e.ID.Short(), err)
	}
	raw, err := publish.RawJSON(snap)
	if err != nil {
		return nil, err
	}
	render := publish.ResultsCSV
	if dropUnknown {
		render = publish.OldToolResultsCSV
	}
	csv, err := render(snap, warn)
	if err != nil {
		return nil, err
	}
	return []snapshot.File{{Name: legacy.RawFile, Data: raw},
		{Name: legacy.ResultsFile, Data: csv}}, nil
}

// writeLegacyFolder writes files into a new folder beside folder and
// renames it into place. The files are dated with the fetch time, which
// is what 'ctrunner import' reads back as the snapshot's time.
func writeLegacyFolder(folder string, files []snapshot.File, fetchedAt time.Time) error {
	parent := filepath.Dir(folder)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(folder)+".tmp-")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		path := filepath.Join(tmp, f.Name)
		if err := durable.WriteFile(path, f.Data); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Chtimes(path, fetchedAt, fetchedAt); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp, folder); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return durable.SyncDir(parent)
}

// exportLegacyIndex writes index.json from the store's election list: as
// archived when it came from an old tool's index.json, indented by two
// spaces as the old tool wrote it when it was fetched compact. A store
// without an election list gets none.
func exportLegacyIndex(st store.Store, dir string) error {
	list, fetchedAt, err := st.ElectionList()
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(list, []byte("[\n")) {
		var b bytes.Buffer
		if err := json.Indent(&b, list, "", "  "); err != nil {
			return fmt.Errorf("export: the archived election list: %w", err)
		}
		list = b.Bytes()
	}
	path := filepath.Join(dir, legacy.IndexFile)
	if err := writeFileAtomically(path, writeBytes(list)); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return os.Chtimes(path, fetchedAt, fetchedAt)
}

// writeBytes is a write function for writeFileAtomically.
func writeBytes(data []byte) func(w io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
