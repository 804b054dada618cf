package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"ctrunner/publish"
	"ctrunner/snapshot"
	"ctrunner/store"
)

func showCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print one snapshot",
		ArgsUsage: "REF",
		Description: "REF is an election (80: its latest snapshot), an election at an API\n" +
			"version (80@13392), an older snapshot (80~2: two before the latest), or a\n" +
			"snapshot ID prefix.\n" +
			"--format json (default) prints a summary; raw prints the old tool's\n" +
			"raw.json wrapper; csv prints the results as the old tool's results.csv,\n" +
			"keeping every row.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "format", Usage: "json, raw or csv", Value: "json"},
		},
		Action: func(c *cli.Context) error {
			ref, err := oneArg(c, "the snapshot to show (e.g. 80, 80@13392, 80~1)")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "json" && format != "raw" && format != "csv" {
				return usagef("show: --format must be json, raw or csv, not %q", format)
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
			switch format {
			case "raw":
				raw, err := wrapperJSON(snap)
				if err != nil {
					return err
				}
				_, err = s.stdout.Write(raw)
				return err
			case "csv":
				out := bufio.NewWriterSize(s.stdout, 1<<16)
				if err := resultsCSV(out, snap, s); err != nil {
					return err
				}
				return out.Flush()
			}
			enc := json.NewEncoder(s.stdout)
			enc.SetIndent("", "  ")
			sum, err := summarize(e, snap)
			if err != nil {
				return err
			}
			return enc.Encode(sum)
		},
	}
}

// loadRef resolves a REF and loads its snapshot.
func loadRef(st store.Store, ref string) (store.Entry, *snapshot.Snapshot, error) {
	e, err := store.Resolve(st, ref)
	if err != nil {
		return e, nil, err
	}
	snap, err := st.Load(e)
	if err != nil {
		return e, nil, fmt.Errorf("reading snapshot %s: %w", e.ID.Short(), err)
	}
	return e, snap, nil
}

// resultsCSV writes a snapshot's results in the old tool's CSV shape,
// keeping every row, with one note on stderr about codes missing from the
// lookup data.
func resultsCSV(w io.Writer, snap *snapshot.Snapshot, s streams) error {
	csv, err := publish.ResultsCSV(snap, func(msg string) { s.warnf("note: %s", msg) })
	if err != nil {
		return err
	}
	_, err = w.Write(csv)
	return err
}

// snapshotSummary is what show prints by default: the snapshot's
// provenance and the election's headline figures.
type snapshotSummary struct {
	entryRecord
	DocumentBytes      map[string]int `json:"document_bytes"`
	ElectionName       string         `json:"election_name"`
	ElectionDate       string         `json:"election_date"`
	TownsReporting     string         `json:"towns_reporting"`
	BallotsCast        string         `json:"ballots_cast"`
	RegisteredVoters   string         `json:"registered_voters"`
	TurnoutPercent     string         `json:"turnout_percent"`
	Offices            int            `json:"offices"`
	TownsWithVotes     int            `json:"towns_with_votes"`
	BallotQuestionsFor int            `json:"ballot_question_places"`
}

func summarize(e store.Entry, snap *snapshot.Snapshot) (snapshotSummary, error) {
	sum := snapshotSummary{entryRecord: entryJSON(e), DocumentBytes: map[string]int{}}
	for _, f := range snap.Files {
		sum.DocumentBytes[f.Name] = len(f.Data)
	}
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ldRaw, _ := snap.File(snapshot.LookupDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return sum, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	ld, err := snapshot.DecodeLookupData(ldRaw)
	if err != nil {
		return sum, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	sum.ElectionName = ld.Election.Name
	sum.ElectionDate = ld.Election.Date
	sum.TownsReporting = ed.Election.TownsReporting
	sum.BallotsCast = ed.Election.BallotsCast.String()
	sum.RegisteredVoters = ed.Election.RegisteredVoters.String()
	sum.TurnoutPercent = ed.Election.Turnout.String()
	sum.Offices = len(ld.Offices)
	sum.TownsWithVotes = ed.TownVotes.Len()
	sum.BallotQuestionsFor = ed.BallotQuestions.Len()
	return sum, nil
}
