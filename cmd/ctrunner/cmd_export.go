package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/durable"
	"ctrunner/export"
	"ctrunner/export/sqlite"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// exportDescription documents the tables and their columns; the CSV and
// JSON lines forms are stable.
const exportDescription = `TABLE is one of the tables below. REF picks one snapshot for every table
but timeline and snapshots, as for show (80, 80@13392, 80~1, a snapshot
ID prefix); --election 80 is the same as REF 80. timeline and snapshots
cover all of an election's snapshots, oldest first; --as-of keeps those
fetched at or before TIME (RFC 3339, e.g. 2022-11-09T06:00:00Z, or an
Eastern time such as 2022-11-09 01:00).

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
             precincts are the office's (null when the API leaves them out).
snapshots    snapshot_id, election_id, version, fetched_at, source,
             source_url, time_source, precincts_reporting, precincts_total,
             suspect
             One row per snapshot of the election, oldest first (--as-of
             applies); suspect holds the sanity gates' reasons, "; "-joined.

--output FILE writes FILE instead of stdout, under a temporary name
renamed into place at the end: FILE is complete or untouched.

--format sqlite writes a SQLite database, to --output only. TABLE all
writes every table in one file: the snapshot tables of REF (the latest
snapshot for an election ID), plus snapshots and timeline over all of the
election's snapshots, plus export_info saying which snapshot each table
was made from. Columns keep their names; numbers are INTEGER or REAL,
NULL where the CSV shows text that is not a number, flags 0 or 1.

--layout legacy DIR [ELECTION...] writes the old tool's folder instead of
a table: DIR/index.json, DIR/{id}/{version}/raw.json and results.csv for
every snapshot of the elections (default: all), and DIR/{id}/raw.json and
results.csv of the latest. It only adds: a version folder already in DIR
is kept as it is; the latest copies and index.json are replaced. A DIR
that is not empty must look like an old tool's folder. results.csv keeps
the rows the old tool dropped unless --drop-unknown is given.`

func exportCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:        "export",
		Usage:       "write tables of a snapshot or an election as CSV, JSON lines or SQLite, or the old tool's folder",
		ArgsUsage:   "TABLE [REF] | all REF --format sqlite | --layout legacy DIR [ELECTION...]",
		Description: exportDescription,
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "election", Usage: "election ID (the latest snapshot, or all for timeline)"},
			&cli.StringFlag{Name: "format", Usage: "csv, jsonl or sqlite", Value: "csv"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write `FILE` instead of stdout"},
			&cli.StringFlag{Name: "as-of", Usage: "timeline, snapshots: keep snapshots fetched at or before `TIME` (RFC 3339, or 2022-11-08 23:00 Eastern)"},
			&cli.StringFlag{Name: "layout", Usage: "legacy: write the old tool's folder DIR instead of a table"},
			&cli.BoolFlag{Name: "drop-unknown", Usage: "--layout legacy: leave out of results.csv the rows the old tool dropped"},
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

			switch {
			case req.layout != "":
				return exportLegacy(st, req, c.String("store"), s)
			case req.format == "sqlite":
				return exportSQLite(st, req)
			case req.output != "":
				return writeFileAtomically(req.output, func(w io.Writer) error {
					return exportText(st, req, w)
				})
			}
			out := bufio.NewWriterSize(s.stdout, 1<<16)
			if err := exportText(st, req, out); err != nil {
				return err
			}
			return out.Flush()
		},
	}
}

// tableAll is the TABLE that writes every table into one SQLite file.
const tableAll = "all"

// exportRequest is the export command line, checked.
type exportRequest struct {
	table  string
	ref    string // REF, or the --election ID
	format string
	output string
	asOf   time.Time // zero: no limit

	layout      string // "legacy", or empty for a table
	dir         string // the --layout folder
	elections   []snapshot.ElectionID
	dropUnknown bool
}

// exportTables lists every TABLE the command takes, as the errors name
// them.
func exportTables() []string {
	return append(slices.Clone(export.SnapshotTables), export.TableTimeline,
		export.TableSnapshots, tableAll)
}

// electionTable reports whether a table covers all of an election's
// snapshots rather than one.
func electionTable(name string) bool {
	return name == export.TableTimeline || name == export.TableSnapshots
}

func parseExportArgs(c *cli.Context) (exportRequest, error) {
	req := exportRequest{format: c.String("format"), output: c.String("output"),
		layout: c.String("layout"), dropUnknown: c.Bool("drop-unknown")}
	if req.layout != "" {
		return parseLegacyArgs(c, req)
	}
	if req.dropUnknown {
		return req, usagef("export: --drop-unknown applies to --layout legacy only")
	}

	tables := exportTables()
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
	switch req.format {
	case "csv", "jsonl":
		if req.table == tableAll {
			return req, usagef("export: TABLE all needs --format sqlite " +
				"(one database holds every table)")
		}
	case "sqlite":
		if req.output == "" || req.output == "-" {
			return req, usagef("export: --format sqlite needs --output FILE " +
				"(a database is not written to stdout)")
		}
	default:
		return req, usagef("export: --format must be csv, jsonl or sqlite, not %q", req.format)
	}
	if req.output == "-" {
		req.output = ""
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
		if !electionTable(req.table) {
			return req, usagef("export: --as-of applies to the timeline and snapshots tables only")
		}
		at, err := parseTimeFlag("export", "as-of", v)
		if err != nil {
			return req, err
		}
		req.asOf = at
	}
	return req, nil
}

// parseLegacyArgs checks the command line of --layout legacy DIR
// [ELECTION...].
func parseLegacyArgs(c *cli.Context, req exportRequest) (exportRequest, error) {
	if req.layout != "legacy" {
		return req, usagef("export: --layout must be legacy, not %q", req.layout)
	}
	for _, flag := range []string{"format", "output", "as-of"} {
		if c.IsSet(flag) {
			return req, usagef("export: --%s does not apply to --layout legacy", flag)
		}
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		return req, usagef("export: --layout legacy needs the folder to write " +
			"(e.g. ctrunner export --layout legacy old-archive)")
	}
	req.dir = args[0]
	ids := args[1:]
	if e := c.String("election"); e != "" {
		ids = append(ids, e)
	}
	for _, arg := range ids {
		id, err := snapshot.ParseElectionID(arg)
		if err != nil {
			return req, usagef("export: election %q: %v", arg, err)
		}
		if !slices.Contains(req.elections, id) {
			req.elections = append(req.elections, id)
		}
	}
	return req, nil
}

// openRows starts writing a table: its name, columns and what it was made
// from (which only a SQLite file records).
type openRows func(name string, cols []export.Column, from sqlite.Origin) (export.RowWriter, error)

// exportText writes the requested table to w as CSV or JSON lines.
func exportText(st store.Store, req exportRequest, w io.Writer) error {
	return writeTables(st, req, func(name string, cols []export.Column,
		_ sqlite.Origin) (export.RowWriter, error) {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		if req.format == "jsonl" {
			return export.NewJSONLRowWriter(w, name, names), nil
		}
		return export.NewCSVRowWriter(w, name, names), nil
	})
}

// exportSQLite writes the requested table, or all of them, into a new
// SQLite file.
func exportSQLite(st store.Store, req exportRequest) error {
	f, err := sqlite.Create(req.output)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer f.Abort()
	if err := writeTables(st, req, f.Table); err != nil {
		return err
	}
	return f.Commit()
}

// writeTables writes the table req names, or every table for all, each
// through a RowWriter from open. Everything that can fail before the
// first row is checked before open is called.
func writeTables(st store.Store, req exportRequest, open openRows) error {
	var (
		e    store.Entry
		snap *snapshot.Snapshot
		id   snapshot.ElectionID
		err  error
	)
	if electionTable(req.table) {
		if id, err = snapshot.ParseElectionID(req.ref); err != nil {
			return usagef("export: %s takes an election ID, not %q", req.table, req.ref)
		}
	} else {
		if e, snap, err = loadRef(st, req.ref); err != nil {
			return err
		}
		id = e.Election
	}
	var entries []store.Entry
	if electionTable(req.table) || req.table == tableAll {
		if entries, err = timelineEntries(st, id, req.asOf); err != nil {
			return err
		}
	}

	if snap != nil {
		ed, ld, err := decodeSnapshot(snap)
		if err != nil {
			return err
		}
		from := sqlite.Origin{Election: string(id),
			Snapshot: &export.TimelineEntry{ID: e.ID, Meta: e.Meta}}
		for _, name := range export.SnapshotTables {
			if req.table != name && req.table != tableAll {
				continue
			}
			t, _ := export.SnapshotTable(name, ed, ld)
			if err := writeTable(open, t, from); err != nil {
				return err
			}
		}
	}
	all := sqlite.Origin{Election: string(id)}
	if req.table == export.TableSnapshots || req.table == tableAll {
		if err := writeTable(open, export.SnapshotsTable(timelineOf(entries)), all); err != nil {
			return err
		}
	}
	if req.table == export.TableTimeline || req.table == tableAll {
		rw, err := open(export.TableTimeline, export.TimelineColumns, all)
		if err != nil {
			return err
		}
		if err := streamTimeline(st, entries, rw); err != nil {
			return err
		}
		return rw.Flush()
	}
	return nil
}

// writeTable writes a whole table through a RowWriter from open.
func writeTable(open openRows, t *export.Table, from sqlite.Origin) error {
	rw, err := open(t.Name, t.Schema(), from)
	if err != nil {
		return err
	}
	return export.WriteRows(rw, t)
}

// decodeSnapshot decodes a snapshot's two documents.
func decodeSnapshot(snap *snapshot.Snapshot) (*snapshot.ElectionData, *snapshot.LookupData, error) {
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ldRaw, _ := snap.File(snapshot.LookupDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	ld, err := snapshot.DecodeLookupData(ldRaw)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %w", snap.ID().Short(), err)
	}
	return ed, ld, nil
}

// timelineEntries lists an election's snapshots oldest first, those
// fetched after asOf left out (unless it is zero).
func timelineEntries(st store.Store, id snapshot.ElectionID, asOf time.Time) ([]store.Entry, error) {
	log, err := st.Log(id)
	if err != nil {
		return nil, err
	}
	kept := make([]store.Entry, 0, len(log))
	for i := len(log) - 1; i >= 0; i-- {
		if !asOf.IsZero() && log[i].FetchedAt.After(asOf) {
			continue
		}
		kept = append(kept, log[i])
	}
	return kept, nil
}

// timelineOf turns store entries into the export's.
func timelineOf(entries []store.Entry) []export.TimelineEntry {
	out := make([]export.TimelineEntry, len(entries))
	for i, e := range entries {
		out[i] = export.TimelineEntry{ID: e.ID, Meta: e.Meta}
	}
	return out
}

// streamTimeline writes the timeline of entries to rw, reading one
// snapshot at a time.
func streamTimeline(st store.Store, entries []store.Entry, rw export.RowWriter) error {
	// StreamTimeline loads the entries one by one in order: the nth call
	// is for entries[n].
	n := 0
	load := func(te export.TimelineEntry) (*snapshot.Snapshot, error) {
		e := entries[n]
		n++
		snap, err := st.Load(e)
		if err != nil {
			return nil, fmt.Errorf("reading snapshot %s: %w", te.ID.Short(), err)
		}
		return snap, nil
	}
	return export.StreamTimeline(timelineOf(entries), load, rw.WriteRow)
}

// writeFileAtomically writes path through write, under a temporary name
// beside it that is synced and renamed into place only when write
// succeeds: path is then complete, or untouched.
func writeFileAtomically(path string, write func(w io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("writing %s: is a folder", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	defer f.Close()

	out := bufio.NewWriterSize(f, 1<<16)
	if err := write(out); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return durable.SyncDir(dir)
}
