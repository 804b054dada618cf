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

// Timeline lists, for each entry in the order given (oldest first is the
// natural order), every statewide vote of every office: one row per
// snapshot × office × candidate, with the office's precincts reporting
// from officePrecincts (null when the API left it out). load reads an
// entry's snapshot; it is called once per entry, in order. The lookup
// data is decoded once per distinct Lookupdata.json, which rarely changes
// during a night.
func Timeline(entries []TimelineEntry,
	load func(TimelineEntry) (*snapshot.Snapshot, error)) (*Table, error) {
	t := &Table{Name: TableTimeline, Columns: []string{
		"fetched_at", "version", "snapshot_id", "office_id", "office", "candidate_id",
		"candidate", "party", "votes", "share_percent", "precincts_reporting",
		"precincts_total"}}
	lookups := map[string]*snapshot.LookupData{}
	for _, e := range entries {
		snap, err := load(e)
		if err != nil {
			return nil, err
		}
		ed, ld, err := decodeCached(snap, lookups)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", e.ID.Short(), err)
		}

		fetched := Text(e.FetchedAt.UTC().Format(time.RFC3339))
		version := Int(int64(e.Version))
		id := Text(e.ID.String())
		b := newRowBuilder(ed, ld, nil)
		var rows []ResultRow
		for office, votes := range ed.StateVotes.All() {
			rows = b.appendVotes(rows[:0], office, "", StatewideTown, votes)
			line, _ := ed.OfficePrecincts.Get(office)
			k, p := reportingValues(line)
			for i := range rows {
				r := &rows[i]
				t.add(fetched, version, id, Text(string(r.OfficeID)), Text(r.Office),
					Text(string(r.CandidateID)), Text(r.Candidate), Text(r.Party),
					CountValue(r.Votes), PercentValue(r.VotePercent), k, p)
			}
		}
	}
	return t, nil
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
