// Package chart turns an election's snapshots into the charts people watch
// on election night: each candidate's share of the statewide vote for one
// office as precincts report, and precincts reporting over time, statewide
// or per town.
//
// Shares and Precincts read the snapshots and return a Chart: its titles
// and its lines, one point per snapshot, with no drawing involved, so the
// numbers can be checked on their own. Render draws a Chart as SVG, PNG or
// PDF with gonum.org/v1/plot. The package reads no files; its callers pass
// a function that loads each snapshot.
package chart

import (
	"fmt"
	"strings"
	"time"

	"ctrunner/export"
	"ctrunner/snapshot"
)

// Kind names one of the charts.
type Kind string

// The charts the package makes.
const (
	// KindShares is each candidate's share of one office's statewide
	// vote, snapshot by snapshot.
	KindShares Kind = "shares"
	// KindPrecincts is the share of precincts reporting, snapshot by
	// snapshot, statewide and in chosen towns.
	KindPrecincts Kind = "precincts"
)

// Kinds lists the charts in the order the help text shows them.
var Kinds = []Kind{KindShares, KindPrecincts}

// Entry names one stored snapshot of an election.
type Entry = export.TimelineEntry

// Load reads the snapshot an entry names.
type Load func(Entry) (*snapshot.Snapshot, error)

// Chart is what one chart shows: the election and subject its title
// names, and its lines. Notes say what the data lacked and how the chart
// coped (a share computed from the votes, a point left out), one sentence
// each, for the caller to show.
type Chart struct {
	Kind         Kind                `json:"kind"`
	Election     snapshot.ElectionID `json:"election"`
	ElectionName string              `json:"election_name"` // "November 2022 State Election"
	ElectionDate string              `json:"election_date"` // "11/08/2022", as the API writes it
	// Subject is the office of a shares chart, "Precincts reporting" for
	// the other.
	Subject  string            `json:"subject"`
	OfficeID snapshot.OfficeID `json:"office_id,omitempty"`
	// Snapshots is the number of snapshots read, oldest to newest.
	Snapshots int    `json:"snapshots"`
	Lines     []Line `json:"lines"`
	// Omitted names the lines left out to keep the chart readable (the
	// candidates with the fewest final votes), as Line.Label gives them.
	Omitted []string `json:"omitted,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Line is one line of a chart: a candidacy (a person on one party line),
// a town, or the whole state.
type Line struct {
	// Key is the candidate ID, the town ID, or "statewide".
	Key   string `json:"key"`
	Name  string `json:"name"`
	Party string `json:"party,omitempty"` // the party code of a candidacy: D, R, WF, WI (write-in)…
	// FinalVotes is a candidacy's statewide votes in the newest snapshot,
	// by which the lines of a shares chart are ranked.
	FinalVotes int64   `json:"final_votes,omitempty"`
	Points     []Point `json:"points"`
}

// Label is the line's name in a legend: "Ned Lamont and Susan Bysiewicz
// (D)" for a candidacy, the town's name for a town.
func (l Line) Label() string {
	if l.Party == "" {
		return l.Name
	}
	return l.Name + " (" + l.Party + ")"
}

// Point is one snapshot's value of a line.
type Point struct {
	FetchedAt time.Time        `json:"fetched_at"`
	Version   snapshot.Version `json:"version"`
	// Reporting of Total precincts had reported: for a candidacy, the
	// office's precincts (the state's where the API left the office's
	// out); both 0 when neither was given.
	Reporting int64 `json:"precincts_reporting"`
	Total     int64 `json:"precincts_total"`
	// StatePrecincts says Reporting and Total are the state's, standing
	// in for an office's the API left out.
	StatePrecincts bool `json:"state_precincts,omitempty"`
	// Votes is a candidacy's statewide votes.
	Votes int64 `json:"votes,omitempty"`
	// Percent is the value drawn: the candidacy's share of the office's
	// votes, or the share of the line's precincts reporting.
	Percent float64 `json:"percent"`
}

// PrecinctsPercent returns the share of precincts reporting at the point,
// in percent; ok is false when the precincts are not known.
func (p Point) PrecinctsPercent() (pct float64, ok bool) {
	if p.Total <= 0 {
		return 0, false
	}
	return 100 * float64(p.Reporting) / float64(p.Total), true
}

// setElection fills in the election's name and date from its lookup data,
// splitting the API's "11/08/2022 -- November 2022 State Election".
func (c *Chart) setElection(id snapshot.ElectionID, ld *snapshot.LookupData) {
	c.Election = id
	name := strings.TrimSpace(ld.Election.Name)
	date := strings.TrimSpace(ld.Election.Date)
	if d, rest, ok := strings.Cut(name, " -- "); ok {
		name = strings.TrimSpace(rest)
		if date == "" {
			date = strings.TrimSpace(d)
		}
	}
	if name == "" {
		name = "Election " + string(id)
	}
	c.ElectionName, c.ElectionDate = name, date
}

// plural is "1 snapshot", "2 snapshots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// notef adds a note to the chart.
func (c *Chart) notef(format string, args ...any) {
	c.Notes = append(c.Notes, fmt.Sprintf(format, args...))
}

// loadDocuments loads an entry's snapshot and decodes its documents,
// reusing the lookup data already decoded from identical bytes, which
// rarely change during a night.
func loadDocuments(e Entry, load Load,
	lookups map[string]*snapshot.LookupData) (*snapshot.Snapshot, *snapshot.ElectionData,
	*snapshot.LookupData, error) {
	snap, err := load(e)
	if err != nil {
		return nil, nil, nil, err
	}
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("snapshot %s: %w", e.ID.Short(), err)
	}
	ld, err := decodeLookup(snap, lookups)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("snapshot %s: %w", e.ID.Short(), err)
	}
	return snap, ed, ld, nil
}

// decodeLookup decodes a snapshot's Lookupdata.json, or returns the copy
// already decoded from the same bytes.
func decodeLookup(snap *snapshot.Snapshot,
	lookups map[string]*snapshot.LookupData) (*snapshot.LookupData, error) {
	raw, _ := snap.File(snapshot.LookupDataFile)
	key := snapshot.SHA256(raw)
	if ld, ok := lookups[key]; ok {
		return ld, nil
	}
	ld, err := snapshot.DecodeLookupData(raw)
	if err != nil {
		return nil, err
	}
	lookups[key] = ld
	return ld, nil
}
