package main

import (
	"bufio"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/export"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// exportDescription documents the tables and their columns; the CSV and
// JSON lines forms are stable.
const exportDescription = `TABLE is one of the tables below. REF picks one snapshot for every table
but timeline, as for show (80, 80@13392, 80~1, a snapshot ID prefix);
--election 80 is the same as REF 80. timeline covers all of an election's
snapshots, oldest first; --as-of keeps those fetched at or before TIME
(RFC 3339, e.g. 2022-11-09T06:00:00Z).

--format csv (default) writes a header line and one line per row, quoted
as the old tool's CSV, CRLF line ends. --format jsonl writes one JSON
object per row with the same names; numbers are JSON numbers, and null
where the API wrote something that is not a number ("-", "").
Percentages are numbers of percent: 57.45 for "57.45%".

results      line, office_id, office, town_id, town, candidate_id, candidate,
             party, votes, share_percent
             One row per candidate per town, statewide rows first (town
             "statewide", town_id empty), line "party". Then line
             "combined": the statewide totals of a person over all their
             party lines (candidateGrouping), named by their first line.
turnout      town_id, town, precincts_reporting, precincts_total, eligible,
             voted, absentee_received, absentee_counted, edr_received,
             edr_counted, early_received, early_counted, turnout_percent
             One row per town plus the total (town "Total"); EDR are
             election-day registrations; early_* are null before 2024.
questions    town, position, question, yes, no, nth, ntl
             Ballot questions per town name, and "State Wide".
precincts    town_id, town, official, status, precincts_reporting,
             precincts_total
             Each town's status: official true/false, the text as written.
offices      office_id, office, type, order, district, district_text
candidates   candidate_id, candidate, party_id, party, party_name,
             office_ids, offices
             office_ids joined by ";", offices by "; ": the offices whose
             votes name the candidate.
timeline     fetched_at, version, snapshot_id, office_id, office,
             candidate_id, candidate, party, votes, share_percent,
             precincts_reporting, precincts_total
             One row per snapshot x office x statewide candidate; the
             precincts are the office's (null when the API leaves them out).`

func exportCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:        "export",
		Usage:       "write one table of a snapshot, or an election's timeline, as CSV or JSON lines",
		ArgsUsage:   "TABLE [REF]",
		Description: exportDescription,
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "election", Usage: "election ID (the latest snapshot, or all for timeline)"},
			&cli.StringFlag{Name: "format", Usage: "csv or jsonl", Value: "csv"},
			&cli.StringFlag{Name: "as-of", Usage: "timeline: keep snapshots fetched at or before `TIME` (RFC 3339)"},
		},
		Action: func(c *cli.Context) error {
			req, err := parseExportArgs(c)
			if err != nil {
				return err
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()

			var t *export.Table
			if req.table == export.TableTimeline {
				t, err = timelineTable(st, req)
			} else {
				t, err = snapshotTable(st, req)
			}
			if err != nil {
				return err
			}

			out := bufio.NewWriterSize(s.stdout, 1<<16)
			if req.format == "jsonl" {
				err = export.WriteTableJSONL(out, t)
			} else {
				err = export.WriteTableCSV(out, t)
			}
			if err != nil {
				return err
			}
			return out.Flush()
		},
	}
}

// exportRequest is the export command line, checked.
type exportRequest struct {
	table  string
	ref    string // REF, or the --election ID
	format string
	asOf   time.Time // zero: no limit
}

func parseExportArgs(c *cli.Context) (exportRequest, error) {
	tables := append(slices.Clone(export.SnapshotTables), export.TableTimeline)
	req := exportRequest{format: c.String("format")}
	args := c.Args().Slice()
	switch len(args) {
	case 0:
		return req, usagef("export: missing TABLE (one of %s)", strings.Join(tables, ", "))
	case 1, 2:
	default:
		return req, usagef("export: too many arguments: %s", strings.Join(args, " "))
	}
	req.table = args[0]
	if !slices.Contains(tables, req.table) {
		return req, usagef("export: unknown table %q (one of %s)", req.table,
			strings.Join(tables, ", "))
	}
	if req.format != "csv" && req.format != "jsonl" {
		return req, usagef("export: --format must be csv or jsonl, not %q", req.format)
	}

	election := c.String("election")
	switch {
	case len(args) == 2 && election != "":
		return req, usagef("export: give REF or --election, not both")
	case len(args) == 2:
		req.ref = args[1]
	case election != "":
		if _, err := snapshot.ParseElectionID(election); err != nil {
			return req, usagef("export: --election: %v", err)
		}
		req.ref = election
	default:
		return req, usagef("export: missing REF or --election (e.g. ctrunner export %s 80)",
			req.table)
	}

	if v := c.String("as-of"); v != "" {
		if req.table != export.TableTimeline {
			return req, usagef("export: --as-of applies to the timeline table only")
		}
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return req, usagef("export: --as-of %q is not an RFC 3339 time "+
				"(e.g. 2022-11-09T06:00:00Z)", v)
		}
		req.asOf = at
	}
	return req, nil
}

// snapshotTable builds a table of the one snapshot REF names.
func snapshotTable(st store.Store, req exportRequest) (*export.Table, error) {
	_, snap, err := loadRef(st, req.ref)
	if err != nil {
		return nil, err
	}
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
	t, _ := export.SnapshotTable(req.table, ed, ld)
	return t, nil
}

// timelineTable builds the timeline of the election REF names, oldest
// snapshot first.
func timelineTable(st store.Store, req exportRequest) (*export.Table, error) {
	id, err := snapshot.ParseElectionID(req.ref)
	if err != nil {
		return nil, usagef("export: timeline takes an election ID, not %q", req.ref)
	}
	log, err := st.Log(id)
	if err != nil {
		return nil, err
	}
	kept := make([]store.Entry, 0, len(log))
	entries := make([]export.TimelineEntry, 0, len(log))
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		if !req.asOf.IsZero() && e.FetchedAt.After(req.asOf) {
			continue
		}
		kept = append(kept, e)
		entries = append(entries, export.TimelineEntry{ID: e.ID, Meta: e.Meta})
	}

	// Timeline loads the entries one by one in order: the nth call is for
	// kept[n].
	n := 0
	return export.Timeline(entries, func(te export.TimelineEntry) (*snapshot.Snapshot, error) {
		e := kept[n]
		n++
		snap, err := st.Load(e)
		if err != nil {
			return nil, fmt.Errorf("reading snapshot %s: %w", te.ID.Short(), err)
		}
		return snap, nil
	})
}
