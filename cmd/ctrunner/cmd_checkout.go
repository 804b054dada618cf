package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"ctrunner/durable"
	"ctrunner/snapshot"
)

func checkoutCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "write one snapshot's files into a folder",
		ArgsUsage: "REF",
		Description: "Writes raw.json and results.csv (the old tool's names and shapes; the\n" +
			"CSV keeps every row) and the raw documents exactly as archived. The folder\n" +
			"appears complete or not at all. An existing non-empty folder is replaced\n" +
			"only with --force.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "dest", Usage: "folder to write (required)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing folder"},
		},
		Action: func(c *cli.Context) error {
			ref, err := oneArg(c, "the snapshot to check out (e.g. 80, 80@13392, 80~1)")
			if err != nil {
				return err
			}
			dest := c.String("dest")
			if dest == "" {
				return usagef("checkout: give --dest DIR, the folder to write (e.g. --dest out)")
			}
			// Refuse a destination before reading anything, so that its
			// error is the only line.
			if err := checkDest(dest, c.String("store")); err != nil {
				return err
			}
			if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 && !c.Bool("force") {
				return fmt.Errorf("checkout: %s exists and is not empty (use --force to replace it)", dest)
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			e, snap, err := loadRef(st, ref)
			if err != nil {
				return err
			}
			files, err := checkoutFiles(snap, io)
			if err != nil {
				return err
			}
			if err := writeFolder(dest, files, c.Bool("force")); err != nil {
				return err
			}
			io.warnf("checked out election %s version %s (%s) into %s", e.Election, e.Version, e.ID.Short(), dest)
			return nil
		},
	}
}

// checkoutFiles lists what a checkout writes: the old tool's raw.json and
// results.csv, then every archived document under its own name.
func checkoutFiles(snap *snapshot.Snapshot, io streams) ([]snapshot.File, error) {
	raw, err := wrapperJSON(snap)
	if err != nil {
		return nil, err
	}
	var csv bytes.Buffer
	if err := resultsCSV(&csv, snap, io); err != nil {
		return nil, err
	}
	files := []snapshot.File{{Name: "raw.json", Data: raw}, {Name: "results.csv", Data: csv.Bytes()}}
	return append(files, snap.Files...), nil
}

// checkDest refuses a destination that is not a folder, or that is or
// holds the store: --force must never be able to delete the archive.
func checkDest(dest, storeDir string) error {
	if fi, err := os.Lstat(dest); err == nil && !fi.IsDir() {
		return fmt.Errorf("checkout: %s exists and is not a folder", dest)
	}
	absDest, err1 := filepath.Abs(dest)
	absStore, err2 := filepath.Abs(storeDir)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("checkout: cannot resolve %s", dest)
	}
	if rel, err := filepath.Rel(absDest, absStore); err == nil &&
		(rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("checkout: --dest %s would overwrite the store %s", dest, storeDir)
	}
	return nil
}

// writeFolder writes files into a new folder beside dest and renames it
// into place, so that dest is either untouched or complete.
func writeFolder(dest string, files []snapshot.File, force bool) error {
	dest = filepath.Clean(dest)
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 && !force {
		return fmt.Errorf("checkout: %s exists and is not empty (use --force to replace it)", dest)
	}
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	// Folders left by a checkout that was killed half way.
	stale, _ := filepath.Glob(filepath.Join(parent, "."+filepath.Base(dest)+".tmp-*"))
	for _, dir := range stale {
		os.RemoveAll(dir)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dest)+".tmp-")
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	defer os.RemoveAll(tmp)

	for _, f := range files {
		if err := durable.WriteFile(filepath.Join(tmp, f.Name), f.Data); err != nil {
			return fmt.Errorf("checkout: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}

	old := ""
	if _, err := os.Stat(dest); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dest, old); err != nil {
			return fmt.Errorf("checkout: moving the old %s aside: %w", dest, err)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		if old != "" {
			os.Rename(old, dest)
		}
		return fmt.Errorf("checkout: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return durable.SyncDir(parent)
}
