package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/feed"
	"ctrunner/snapshot"
	"ctrunner/store"
)

func archiveCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:  "archive",
		Usage: "fetch elections and commit them to the archive",
		Description: "Fetches the election list and each chosen election (default: ALL) as a\n" +
			"consistent set of documents, then commits every one that changed since its\n" +
			"latest snapshot. Prints one line per election on stdout. If any election\n" +
			"fails, nothing is stored unless --keep-going is given.",
		Flags: append([]cli.Flag{
			storeFlag("dest"),
			backendFlag(),
			&cli.StringFlag{
				Name:    "election",
				Aliases: []string{"e"},
				Usage:   "election IDs to archive, comma-separated, or ALL",
				Value:   "ALL",
			},
			jobsFlag(),
			&cli.BoolFlag{
				Name:  "keep-going",
				Usage: "store the elections that were fetched even if others failed",
			},
		}, apiFlags()...),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runArchive(c, io)
		},
	}
}

func runArchive(c *cli.Context, io streams) error {
	client, err := newClient(c, io)
	if err != nil {
		return err
	}
	listRaw, list, err := fetchElectionList(c, client)
	listFetchedAt := time.Now().UTC()
	if err != nil {
		return err
	}
	ids, all, err := chosenElections(c.String("election"), list, io)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		io.warnf("the election list is empty: nothing to archive")
		return nil
	}

	progress := progressBar(io)
	results := fetchAll(c.Context, client, ids, c.Int("jobs"), progress)
	if progress != nil {
		fmt.Fprint(io.stderr, "\r\033[K")
	}

	failed := settle(results, all, io)
	if len(failed) > 0 && !c.Bool("keep-going") {
		err := fetchFailure(failed, len(results), io)
		if len(failed) == 1 {
			return fmt.Errorf("%w (nothing was stored)", err)
		}
		return fmt.Errorf("%w; nothing was stored (use --keep-going to store the rest)", err)
	}
	for _, r := range failed {
		io.warnf("election %s: %v", r.id, r.err)
	}

	// One batch: every snapshot of the run is stored, or none is.
	var report strings.Builder
	listAdded := false
	err = updateStore(c, io, func(_ store.Store, b store.Batch) error {
		var err error
		listAdded, err = b.PutElectionList(listRaw, listFetchedAt, c.String("api"))
		if err != nil {
			return err
		}
		for _, r := range results {
			if r.err != nil || r.skipped {
				continue
			}
			e, added, err := b.Put(r.snapshot)
			if err != nil {
				return err
			}
			status := "new snapshot " + e.ID.Short()
			if !added {
				status = "unchanged (" + e.ID.Short() + ")"
			}
			fmt.Fprintf(&report, "election %s version %s: %s\n", r.id, e.Version, status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w (nothing was stored)", err)
	}
	if listAdded {
		io.warnf("election list: new snapshot (%d elections)", len(list))
	}
	io.stdout.Write([]byte(report.String()))
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d elections failed (see above); the others were stored", len(failed), len(results))
	}
	return nil
}

// chosenElections turns the --election values into a sorted list of IDs.
// ALL means every election in the list; viaAll marks the IDs chosen that
// way. An ID missing from the list is still tried, with a warning.
func chosenElections(value string, list []snapshot.ElectionListEntry, io streams) (
	ids []snapshot.ElectionID, viaAll map[snapshot.ElectionID]bool, err error) {
	listed := make(map[snapshot.ElectionID]bool, len(list))
	for _, e := range list {
		listed[e.ID] = true
	}
	seen := map[snapshot.ElectionID]bool{}
	viaAll = map[snapshot.ElectionID]bool{}
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if strings.EqualFold(part, "ALL") {
			for _, e := range list {
				if _, err := snapshot.ParseElectionID(string(e.ID)); err != nil {
					io.warnf("warning: the election list holds a bad entry (%v); skipped", err)
					continue
				}
				viaAll[e.ID] = true
				if !seen[e.ID] {
					seen[e.ID] = true
					ids = append(ids, e.ID)
				}
			}
			continue
		}
		id, err := snapshot.ParseElectionID(part)
		if err != nil {
			return nil, nil, usagef("archive: --election: %v", err)
		}
		if !listed[id] {
			io.warnf("warning: election %s is not in the election list; trying it anyway", id)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	sortElectionIDs(ids)
	return ids, viaAll, nil
}

// settle sorts out failed fetches: an election chosen through ALL whose
// Version.json is a 404 is marked skipped with a warning (the list names
// elections the API has no data for); the other failures are returned.
func settle(results []fetchResult, viaAll map[snapshot.ElectionID]bool, io streams) []fetchResult {
	var failed []fetchResult
	for i, r := range results {
		if r.err == nil {
			continue
		}
		if viaAll[r.id] && unpublished(r.err) {
			io.warnf("election %s is in the election list but the API has no data for it "+
				"(%v); skipped", r.id, r.err)
			results[i].skipped = true
			continue
		}
		failed = append(failed, r)
	}
	return failed
}

// unpublished reports whether a fetch failed because the API has no
// Version.json for the election at all (HTTP 404), as happens for some
// elections that the list still names.
func unpublished(err error) bool {
	var ferr *feed.Error
	return errors.As(err, &ferr) && ferr.Status == http.StatusNotFound &&
		strings.HasSuffix(ferr.URL, "/"+snapshot.VersionFile)
}

// fetchFailure reports failed fetches: each on its own line when there are
// several, and one summary error.
func fetchFailure(failed []fetchResult, total int, io streams) error {
	if len(failed) == 1 {
		return fmt.Errorf("election %s: %w", failed[0].id, failed[0].err)
	}
	var names []string
	for _, r := range failed {
		io.warnf("election %s: %v", r.id, r.err)
		names = append(names, string(r.id))
	}
	return fmt.Errorf("%d of %d elections failed (%s)", len(failed), total, strings.Join(names, ", "))
}

// progressBar returns a progress callback drawing on stderr when stderr is
// a terminal, and nil otherwise.
func progressBar(io streams) func(done, total int) {
	f, ok := io.stderr.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(done, total int) {
		const width = 30
		filled := width * done / total
		fmt.Fprintf(f, "\r[%s%s] %d/%d elections", strings.Repeat("#", filled),
			strings.Repeat(" ", width-filled), done, total)
	}
}

// fetchElectionList fetches and decodes the election list.
func fetchElectionList(c *cli.Context, client *feed.Client) ([]byte, []snapshot.ElectionListEntry, error) {
	raw, err := client.ElectionList(c.Context)
	if err != nil {
		return nil, nil, err
	}
	list, err := snapshot.DecodeElectionList(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("election list from %s: %w", c.String("api"), err)
	}
	return raw, list, nil
}

// listedElections fetches the election list and returns its IDs in
// numeric order, each marked as chosen through ALL.
func listedElections(c *cli.Context, client *feed.Client, io streams) (
	[]snapshot.ElectionID, map[snapshot.ElectionID]bool, error) {
	_, list, err := fetchElectionList(c, client)
	if err != nil {
		return nil, nil, err
	}
	return chosenElections("ALL", list, io)
}
