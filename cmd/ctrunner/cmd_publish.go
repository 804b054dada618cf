package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/publish"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// publishFlags are the flags publish and rollback share with watch.
func publishFlags() []cli.Flag {
	return []cli.Flag{
		storeFlag(),
		&cli.StringFlag{Name: "publish-dir", Usage: "rewrite this publish folder too"},
		&cli.DurationFlag{Name: "publish-grace",
			Usage: "keep a replaced version folder this long", Value: publish.DefaultGrace},
		&cli.StringFlag{Name: "on-publish", Usage: "shell command run after the publication"},
		&cli.DurationFlag{Name: "on-publish-timeout",
			Usage: "kill the --on-publish command after this long",
			Value: publish.DefaultHookTimeout},
	}
}

func publishCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "publish",
		Usage:     "make a snapshot the published one of its election",
		ArgsUsage: "REF",
		Description: "Records in the store that REF (80, 80@13392, 80~1 or a snapshot ID\n" +
			"prefix) is its election's published snapshot, with reason \"publish\".\n" +
			"With --publish-dir, DIR/{id}/raw.json and results.csv are swapped to it\n" +
			"atomically; without it, the publish folder ctrunner watch last used with\n" +
			"this store is (--publish-dir '' leaves it alone). --on-publish runs a\n" +
			"command afterwards, as for watch. Prints\n" +
			"one line on stdout. A suspect snapshot is published all the same, with a\n" +
			"note on stderr.",
		Flags: publishFlags(),
		Action: func(c *cli.Context) error {
			ref, err := oneArg(c, "the snapshot to publish (e.g. 80, 80@13392, 80~1)")
			if err != nil {
				return err
			}
			if err := checkPublishFlags(c); err != nil {
				return err
			}
			return withStore(c, func(st store.Store) error {
				e, err := store.Resolve(st, ref)
				if err != nil {
					return err
				}
				return publishEntry(c, io, st, e, "publish")
			})
		},
	}
}

func rollbackCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "publish an election's previously published snapshot again",
		ArgsUsage: "ELECTION",
		Description: "Publishes again the snapshot that was published before the current one\n" +
			"(the newest earlier publication of a snapshot older than the current\n" +
			"one), or the snapshot --to names, with reason \"rollback\". Rolling back\n" +
			"again goes further back; ctrunner publish goes forward. --publish-dir\n" +
			"and --on-publish work as for publish. Prints one line on stdout.",
		Flags: append(publishFlags(), &cli.StringFlag{Name: "to",
			Usage: "the snapshot to publish (REF; default: the previous publication)"}),
		Action: func(c *cli.Context) error {
			arg, err := oneArg(c, "the election to roll back")
			if err != nil {
				return err
			}
			id, err := snapshot.ParseElectionID(arg)
			if err != nil {
				return usagef("rollback: %v", err)
			}
			if err := checkPublishFlags(c); err != nil {
				return err
			}
			return withStore(c, func(st store.Store) error {
				e, err := rollbackTarget(st, id, c.String("to"))
				if err != nil {
					return err
				}
				return publishEntry(c, io, st, e, "rollback")
			})
		},
	}
}

func checkPublishFlags(c *cli.Context) error {
	if c.Duration("publish-grace") <= 0 || c.Duration("on-publish-timeout") <= 0 {
		return usagef("%s: --publish-grace and --on-publish-timeout must be positive",
			c.Command.Name)
	}
	if dir := c.String("publish-dir"); dir != "" {
		if err := checkDest(dir, c.String("store")); err != nil {
			return usagef("%s: --publish-dir %s would overwrite the store", c.Command.Name, dir)
		}
	}
	return nil
}

// withStore opens the store named by --store and runs fn with it.
func withStore(c *cli.Context, fn func(st store.Store) error) error {
	st, err := openStore(c)
	if err != nil {
		return err
	}
	err = fn(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollbackTarget finds the snapshot rollback publishes: the one ref
// names, or the one published before the current publication.
func rollbackTarget(st store.Store, id snapshot.ElectionID, ref string) (store.Entry, error) {
	if ref != "" {
		e, err := store.Resolve(st, ref)
		if err != nil {
			return e, err
		}
		if e.Election != id {
			return e, usagef("rollback: --to %s is a snapshot of election %s, not %s",
				ref, e.Election, id)
		}
		return e, nil
	}
	pubs, err := st.Publications(id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Entry{}, fmt.Errorf("election %s has never been published, so there "+
			"is nothing to roll back to (publish one with ctrunner publish REF)", id)
	}
	if err != nil {
		return store.Entry{}, err
	}
	log, err := st.Log(id)
	if err != nil {
		return store.Entry{}, err
	}
	// age orders snapshots by their place in the log, oldest first.
	age := map[string]int{}
	for i, e := range log {
		age[e.Commit] = len(log) - i
	}
	current := age[pubs[0].Entry.Commit]
	for _, p := range pubs[1:] {
		if age[p.Entry.Commit] < current {
			return p.Entry, nil
		}
	}
	return store.Entry{}, fmt.Errorf("election %s has had no snapshot older than %s "+
		"published; give the snapshot to roll back to with --to REF", id,
		pubs[0].Entry.ID.Short())
}

// publishDirFile, in the store folder, names the publish folder that
// ctrunner watch last published to, so that publish and rollback swap it
// too, and on a second line the store folder watch wrote it in. A copy of
// the store (a backup, a rehearsal copy, a replica of a zstd store) carries
// the file along; the second line keeps the copy from swapping the
// original's publish folder.
const publishDirFile = "ctrunner-publish-dir"

// rememberPublishDir records dir as the publish folder of the store in
// storeDir.
func rememberPublishDir(storeDir, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	absStore, err := filepath.Abs(storeDir)
	if err != nil {
		return err
	}
	return writeFileAtomically(filepath.Join(storeDir, publishDirFile), func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s\n%s\n", abs, absStore)
		return err
	})
}

// rememberedPublishDir returns the publish folder recorded in the store
// folder, if it still exists and was recorded by this store rather than
// by the store this one was copied from; if it was not, it says why in
// note.
func rememberedPublishDir(storeDir string) (dir, note string) {
	data, err := os.ReadFile(filepath.Join(storeDir, publishDirFile))
	if err != nil {
		return "", ""
	}
	dir, recordedStore, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	dir, recordedStore = strings.TrimSpace(dir), strings.TrimSpace(recordedStore)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", ""
	}
	if recordedStore != "" {
		// A file of a store made before the second line names no store.
		was, err1 := os.Stat(recordedStore)
		is, err2 := os.Stat(storeDir)
		if err1 != nil || err2 != nil || !os.SameFile(was, is) {
			return "", fmt.Sprintf("not swapping publish folder %s: ctrunner watch "+
				"published to it from the store %s, of which this store is a copy or "+
				"which moved (give --publish-dir to swap it)", dir, recordedStore)
		}
	}
	return dir, ""
}

// publishEntry records the publication of e, then rewrites the publish
// folder and runs the hook. A failure of those after the publication is
// recorded is an error too (exit 1), saying that the store has it.
func publishEntry(c *cli.Context, io streams, st store.Store, e store.Entry,
	reason string) error {
	if len(e.Suspect) > 0 {
		io.warnf("note: snapshot %s is suspect (%s); publishing it all the same",
			e.ID.Short(), e.Suspect[0])
	}
	out := publishTargets(c, io)
	if !c.IsSet("publish-dir") {
		dir, note := rememberedPublishDir(c.String("store"))
		if note != "" {
			io.warnf("note: %s", note)
		}
		if dir != "" {
			io.warnf("also swapping publish folder %s, which ctrunner watch publishes to "+
				"(--publish-dir '' leaves it as it is)", dir)
			out.dir = dir
		}
	}
	var snap *snapshot.Snapshot
	if out.dir != "" || out.hook.Command != "" {
		var err error
		if snap, err = st.Load(e); err != nil { // before publishing: fail early
			return fmt.Errorf("reading snapshot %s: %w", e.ID.Short(), err)
		}
	}
	p, err := st.Publish(c.Context, e, time.Now().UTC(), reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.stdout, "election %s version %s: published %s (%s)\n", e.Election,
		e.Version, e.ID.Short(), reason)
	if snap == nil {
		return nil
	}
	err = out.write(context.WithoutCancel(c.Context), snap, p.At,
		func(msg string) { io.warnf("note: %s", msg) })
	if err != nil {
		return fmt.Errorf("%w (the publication is recorded in the store; run the "+
			"command again to retry)", err)
	}
	return nil
}
