package export

import (
	"strings"
	"time"
)

// TableSnapshots lists an election's snapshots, one row each: what the
// timeline's snapshot_id, version and fetched_at refer to.
const TableSnapshots = "snapshots"

// snapshotsColumns are the columns of the snapshots table, in order.
var snapshotsColumns = []Column{
	{"snapshot_id", KindText}, {"election_id", KindText}, {"version", KindInt},
	{"fetched_at", KindText}, {"source", KindText}, {"source_url", KindText},
	{"time_source", KindText}, {"precincts_reporting", KindInt},
	{"precincts_total", KindInt}, {"suspect", KindText},
}

// SnapshotsTable lists the entries in the order given (oldest first is
// the natural order): each snapshot's ID, election, API version, fetch
// time (RFC 3339, UTC), source (fetched, imported …) and where it came
// from, the election-wide precincts reporting, and the reasons the sanity
// gates doubted it, joined by "; " (empty for an accepted snapshot).
func SnapshotsTable(entries []TimelineEntry) *Table {
	t := newTable(TableSnapshots, snapshotsColumns)
	for _, e := range entries {
		k, p := reportingValues(e.PrecinctsReporting)
		t.add(Text(e.ID.String()), Text(string(e.Election)), Int(int64(e.Version)),
			Text(e.FetchedAt.UTC().Format(time.RFC3339)), Text(string(e.Source)),
			Text(e.SourceURL), Text(e.TimeSource), k, p, Text(strings.Join(e.Suspect, "; ")))
	}
	return t
}
