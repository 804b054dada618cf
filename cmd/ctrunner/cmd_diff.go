package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"ctrunner/diff"
	"ctrunner/snapshot"
	"ctrunner/store"
)

func diffCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "show what changed between two snapshots of an election",
		ArgsUsage: "REF1 [REF2]",
		Description: "Compares two snapshots of one election as results, not as text: vote\n" +
			"changes per office, town and candidate, towns that reported or became\n" +
			"official, turnout, leads, lookup-data changes and ballot questions.\n" +
			"REF2 defaults to the snapshot archived after REF1. REFs take the forms\n" +
			"of ctrunner show (80, 80@13392, 80~1, a snapshot ID prefix).\n" +
			"--office keeps one office (an ID or part of its name); --town one town\n" +
			"(an ID or its name, or statewide). --csv and --json print every change\n" +
			"in a stable form; the text form lists the largest changes first.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "csv", Usage: "print the changes as CSV"},
			&cli.BoolFlag{Name: "json", Usage: "print the changes as JSON"},
			&cli.StringFlag{Name: "office", Usage: "only this office: an ID or part of its name"},
			&cli.StringFlag{Name: "town", Usage: "only this town: an ID or its name"},
			&cli.IntFlag{Name: "top", Usage: "text: show at most `N` vote changes per office (0: all)"},
		},
		Action: func(c *cli.Context) error {
			refs := c.Args().Slice()
			switch {
			case len(refs) == 0:
				return usagef("diff: missing the snapshot to compare (e.g. ctrunner diff 80~1 80)")
			case len(refs) > 2:
				return usagef("diff: too many arguments: %s (give one or two REFs)",
					strings.Join(refs, " "))
			case c.Bool("csv") && c.Bool("json"):
				return usagef("diff: give --csv or --json, not both")
			case c.Int("top") < 0:
				return usagef("diff: --top must be 0 or more, not %d", c.Int("top"))
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()

			report, err := diffRefs(st, refs)
			if err != nil {
				return err
			}
			report, err = report.Filter(diff.Filter{Office: c.String("office"), Town: c.String("town")})
			if err != nil {
				return usagef("diff: %v", err)
			}
			switch {
			case c.Bool("csv"):
				return diff.WriteCSV(s.stdout, report)
			case c.Bool("json"):
				return diff.WriteJSON(s.stdout, report)
			}
			return diff.WriteText(s.stdout, report, diff.TextOptions{Top: c.Int("top")})
		},
	}
}

// diffRefs loads the snapshots refs name, the second defaulting to the one
// archived after the first, and compares them.
func diffRefs(st store.Store, refs []string) (*diff.Report, error) {
	from, fromSnap, err := loadRef(st, refs[0])
	if err != nil {
		return nil, err
	}
	var to store.Entry
	var toSnap *snapshot.Snapshot
	if len(refs) == 2 {
		to, toSnap, err = loadRef(st, refs[1])
	} else {
		to, toSnap, err = loadNext(st, refs[0], from)
	}
	if err != nil {
		return nil, err
	}
	if from.Election != to.Election {
		return nil, usagef("diff: %s is election %s and %s election %s; "+
			"diff compares two snapshots of one election", refs[0], from.Election,
			refs[len(refs)-1], to.Election)
	}

	a, err := diffInput(from, fromSnap)
	if err != nil {
		return nil, err
	}
	b, err := diffInput(to, toSnap)
	if err != nil {
		return nil, err
	}
	r, err := diff.Compare(a, b)
	if err != nil {
		return nil, err
	}
	// The documents name the election they were published for, which a
	// simulated election's are not; the store's name is the one asked for.
	r.Election = from.Election
	return r, nil
}

// loadNext loads the snapshot archived right after e in its election's
// log (which runs newest first).
func loadNext(st store.Store, ref string, e store.Entry) (store.Entry, *snapshot.Snapshot, error) {
	entries, err := st.Log(e.Election)
	if err != nil {
		return store.Entry{}, nil, err
	}
	for i, entry := range entries {
		if entry.Commit != e.Commit {
			continue
		}
		if i == 0 {
			break
		}
		next := entries[i-1]
		snap, err := st.Load(next)
		if err != nil {
			return next, nil, fmt.Errorf("reading snapshot %s: %w", next.ID.Short(), err)
		}
		return next, snap, nil
	}
	return store.Entry{}, nil, fmt.Errorf("diff: %s is the latest snapshot of election %s, "+
		"so there is no next one to compare with (name both, e.g. ctrunner diff %s~1 %s)",
		ref, e.Election, e.Election, e.Election)
}

// diffInput decodes a snapshot's documents for diff.Compare.
func diffInput(e store.Entry, snap *snapshot.Snapshot) (diff.Input, error) {
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ldRaw, _ := snap.File(snapshot.LookupDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return diff.Input{}, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	ld, err := snapshot.DecodeLookupData(ldRaw)
	if err != nil {
		return diff.Input{}, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	return diff.Input{
		Label:    fmt.Sprintf("%s@%s", e.Election, e.Version),
		Version:  e.Version,
		Election: ed,
		Lookup:   ld,
	}, nil
}
