package export

import (
	"fmt"
	"time"

	"ctrunner/snapshot"
)

// TimelineEntry names one stored snapshot of an election for Timeline.
type TimelineEntry struct {
	ID snapshot.Hash
	snapshot.Meta
}

// TimelineColumns are the columns of the timeline table, in order.
var TimelineColumns = []Column{
	{"fetched_at", KindText}, {"version", KindInt}, {"snapshot_id", KindText},
	{"office_id", KindText}, {"office", KindText}, {"candidate_id", KindText},
	{"candidate", KindText}, {"party", KindText}, {"votes", KindInt},
	{"share_percent", KindFloat}, {"precincts_reporting", KindInt},
	{"precincts_total", KindInt},
}

// Timeline lists, for each entry in the order given (oldest first is the
// natural order), every statewide vote of every office: one row per
// snapshot × office × candidate, with the office's precincts reporting
// from officePrecincts (null when the API left it out). It holds the whole
// table in memory; StreamTimeline writes the same rows as it goes.
func Timeline(entries []TimelineEntry,
	load func(TimelineEntry) (*snapshot.Snapshot, error)) (*Table, error) {
	t := newTable(TableTimeline, TimelineColumns)
	err := StreamTimeline(entries, load, func(row []Value) error {
		t.add(append([]Value(nil), row...)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// StreamTimeline passes the rows of Timeline to emit one at a time, as
// each snapshot is decoded, so that memory does not grow with the number
// of entries. The row passed to emit is reused after emit returns; an
// error from emit stops the walk and is returned as it is. load reads an
// entry's snapshot; it is called once per entry, in order. The lookup
// data is decoded once per distinct Lookupdata.json, which rarely changes
// during a night.
func StreamTimeline(entries []TimelineEntry,
	load func(TimelineEntry) (*snapshot.Snapshot, error), emit func(row []Value) error) error {
	lookups := map[string]*snapshot.LookupData{}
	row := make([]Value, len(TimelineColumns))
	var rows []ResultRow
	for _, e := range entries {
		snap, err := load(e)
		if err != nil {
			return err
		}
		ed, ld, err := decodeCached(snap, lookups)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", e.ID.Short(), err)
		}

		fetched := Text(e.FetchedAt.UTC().Format(time.RFC3339))
		version := Int(int64(e.Version))
		id := Text(e.ID.String())
		b := newRowBuilder(ed, ld, nil)
		for office, votes := range ed.StateVotes.All() {
			rows = b.appendVotes(rows[:0], office, "", StatewideTown, votes)
			line, _ := ed.OfficePrecincts.Get(office)
			k, p := reportingValues(line)
			for i := range rows {
				r := &rows[i]
				row = append(row[:0], fetched, version, id, Text(string(r.OfficeID)),
					Text(r.Office), Text(string(r.CandidateID)), Text(r.Candidate),
					Text(r.Party), CountValue(r.Votes), PercentValue(r.VotePercent), k, p)
				if err := emit(row); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// decodeCached decodes a snapshot's documents, reusing the lookup data
// already decoded from identical bytes.
func decodeCached(snap *snapshot.Snapshot,
	lookups map[string]*snapshot.LookupData) (*snapshot.ElectionData, *snapshot.LookupData, error) {
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ldRaw, _ := snap.File(snapshot.LookupDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return nil, nil, err
	}
	key := snapshot.SHA256(ldRaw)
	ld, ok := lookups[key]
	if !ok {
		ld, err = snapshot.DecodeLookupData(ldRaw)
		if err != nil {
			return nil, nil, err
		}
		lookups[key] = ld
	}
	return ed, ld, nil
}
