package export

import (
	"fmt"
	"io"

	"ctrunner/snapshot"
)

// Anomaly marks what a result row's documents failed to say about it.
type Anomaly uint8

// The anomalies a row can have. The old tool dropped rows with any of them
// except OfficeUnknown (which it never met); Results keeps them all.
const (
	// OfficeUnknown: the office is not in LookupData officeList.
	OfficeUnknown Anomaly = 1 << iota
	// TownUnknown: the town is in townVotes but not in LookupData townIds.
	TownUnknown
	// CandidateUnknown: the candidate is not in LookupData candidateIds.
	CandidateUnknown
	// PartyUnknown: the candidate's party is not in LookupData partyIds.
	PartyUnknown
	// VoteFieldMissing: the vote entry has no V or no TO.
	VoteFieldMissing
)

// StatewideTown is the town column of the rows that total all towns.
const StatewideTown = "statewide"

// ResultRow is one line of the results CSV: one candidate's count in one
// town, or statewide. The text fields are what the CSV shows; the IDs say
// what they were looked up from.
type ResultRow struct {
	Office      string // office name, or "unknown office <ID>"
	Town        string // town name, "statewide", or "unknown town <ID>"
	Candidate   string // candidate name, or "unknown candidate <ID>"
	Party       string // party code, "" for an unknown candidate, or "unknown party <ID>"
	Votes       snapshot.Count
	VotePercent snapshot.Percent

	OfficeID    snapshot.OfficeID
	TownID      snapshot.TownID // empty for statewide rows
	CandidateID snapshot.CandidateID
	PartyID     snapshot.PartyID // empty for an unknown candidate
	Anomalies   Anomaly
}

// LegacyDropped reports whether the old Python tool would have left this
// row out of its CSV.
func (r ResultRow) LegacyDropped() bool {
	return r.Anomalies&(TownUnknown|CandidateUnknown|PartyUnknown|VoteFieldMissing) != 0
}

// resultsHeader is the first line of the results CSV.
var resultsHeader = []string{"office", "town", "candidate", "party", "votes", "vote_percent"}

// Results lists the result rows of one version in the old tool's order:
// first the statewide rows, office by office in stateVotes order; then
// each town in LookupData townIds order, office by office in that town's
// townVotes order; then the towns that townVotes has but townIds lacks.
//
// Rows whose office, town, candidate or party LookupData does not name are
// kept in place with the code visible ("unknown candidate 27999"). warn,
// if not nil, is called once per distinct unknown code, and once if vote
// entries lack V or TO.
func Results(ed *snapshot.ElectionData, ld *snapshot.LookupData, warn func(string)) []ResultRow {
	b := newRowBuilder(ed, ld, warn)
	rows := make([]ResultRow, 0, b.estimateRows())
	for office, votes := range ed.StateVotes.All() {
		rows = b.appendVotes(rows, office, "", StatewideTown, votes)
	}
	for town, name := range ld.TownIDs.All() {
		offices, ok := ed.TownVotes.Get(town)
		if !ok {
			continue
		}
		for office, votes := range offices.All() {
			rows = b.appendVotes(rows, office, town, name, votes)
		}
	}
	for town, offices := range ed.TownVotes.All() {
		if ld.TownIDs.Has(town) {
			continue
		}
		b.warnOnce("town "+string(town), fmt.Sprintf(
			"town %s is in ElectionData townVotes but not in LookupData townIds; "+
				"kept with its code", town))
		for office, votes := range offices.All() {
			n := len(rows)
			rows = b.appendVotes(rows, office, town, "unknown town "+string(town), votes)
			for i := n; i < len(rows); i++ {
				rows[i].Anomalies |= TownUnknown
			}
		}
	}
	b.reportMissingFields()
	return rows
}

// rowBuilder turns vote entries into rows, looking up names and warning
// about codes it cannot name.
type rowBuilder struct {
	ed      *snapshot.ElectionData
	ld      *snapshot.LookupData
	warn    func(string)
	offices map[snapshot.OfficeID]string
	warned  map[string]bool

	missingFields int    // vote entries without V or TO
	firstMissing  string // where the first one was
}

func newRowBuilder(ed *snapshot.ElectionData, ld *snapshot.LookupData,
	warn func(string)) *rowBuilder {
	b := &rowBuilder{ed: ed, ld: ld, warn: warn, warned: map[string]bool{}}
	b.offices = make(map[snapshot.OfficeID]string, len(ld.Offices))
	for _, o := range ld.Offices {
		if _, ok := b.offices[o.ID]; !ok {
			b.offices[o.ID] = o.Name
		}
	}
	return b
}

// estimateRows counts the vote entries, to size the slice of rows once.
func (b *rowBuilder) estimateRows() int {
	n := 0
	for _, votes := range b.ed.StateVotes.All() {
		n += len(votes)
	}
	for _, offices := range b.ed.TownVotes.All() {
		for _, votes := range offices.All() {
			n += len(votes)
		}
	}
	return n
}

// electionID names the election in warnings.
func (b *rowBuilder) electionID() string {
	switch {
	case b.ed.Election.ID != "":
		return string(b.ed.Election.ID)
	case b.ld.Election.ID != "":
		return string(b.ld.Election.ID)
	}
	return "(unknown)"
}

// warnOnce passes msg, prefixed with the election, to the warning callback
// the first time key is seen.
func (b *rowBuilder) warnOnce(key, msg string) {
	if b.warned[key] {
		return
	}
	b.warned[key] = true
	if b.warn != nil {
		b.warn("election " + b.electionID() + ": " + msg)
	}
}

// appendVotes appends one row per vote of office in a town (townID empty
// for statewide rows, shown as townName).
func (b *rowBuilder) appendVotes(rows []ResultRow, office snapshot.OfficeID,
	townID snapshot.TownID, townName string, votes []snapshot.Vote) []ResultRow {
	officeName, ok := b.offices[office]
	var officeAnomaly Anomaly
	if !ok {
		officeName = "unknown office " + string(office)
		officeAnomaly = OfficeUnknown
		b.warnOnce("office "+string(office), fmt.Sprintf(
			"office %s is not in LookupData officeList; kept with its code", office))
	}
	for _, v := range votes {
		r := ResultRow{
			Office:      officeName,
			Town:        townName,
			Votes:       v.Votes,
			VotePercent: v.Share,
			OfficeID:    office,
			TownID:      townID,
			CandidateID: v.Candidate,
			Anomalies:   officeAnomaly,
		}
		b.nameCandidate(&r)
		if !v.HasVotes || !v.HasShare {
			r.Anomalies |= VoteFieldMissing
			b.missingFields++
			if b.missingFields == 1 {
				b.firstMissing = fmt.Sprintf("candidate %s, office %s, town %s",
					v.Candidate, office, townName)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// nameCandidate fills in the candidate's name and party code.
func (b *rowBuilder) nameCandidate(r *ResultRow) {
	c, ok := b.ld.CandidateIDs.Get(r.CandidateID)
	if !ok {
		r.Candidate = "unknown candidate " + string(r.CandidateID)
		r.Anomalies |= CandidateUnknown
		b.warnOnce("candidate "+string(r.CandidateID), fmt.Sprintf(
			"candidate %s (office %s) is not in LookupData candidateIds; kept with its code",
			r.CandidateID, r.OfficeID))
		return
	}
	r.Candidate = c.Name
	r.PartyID = c.Party
	p, ok := b.ld.PartyIDs.Get(c.Party)
	if !ok {
		r.Party = "unknown party " + string(c.Party)
		r.Anomalies |= PartyUnknown
		b.warnOnce("party "+string(c.Party), fmt.Sprintf(
			"party %s (candidate %s) is not in LookupData partyIds; kept with its code",
			c.Party, r.CandidateID))
		return
	}
	r.Party = p.Code
}

// reportMissingFields warns once about vote entries without V or TO.
func (b *rowBuilder) reportMissingFields() {
	if b.missingFields == 0 {
		return
	}
	b.warnOnce("missing fields", fmt.Sprintf(
		"%d vote entries lack V or TO (the first: %s); kept with empty fields",
		b.missingFields, b.firstMissing))
}

// WriteResultsCSV writes rows as the old tool's results.csv: a header line
// and one line per row, Python csv quoting, CRLF line ends.
func WriteResultsCSV(w io.Writer, rows []ResultRow) error {
	cw := NewWriter(w)
	cw.WriteRow(resultsHeader...)
	for i := range rows {
		r := &rows[i]
		cw.WriteRow(r.Office, r.Town, r.Candidate, r.Party, string(r.Votes), string(r.VotePercent))
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("writing results CSV: %w", err)
	}
	return nil
}

// ResultsCSV writes the results CSV of one version: Results rendered by
// WriteResultsCSV.
func ResultsCSV(w io.Writer, ed *snapshot.ElectionData, ld *snapshot.LookupData,
	warn func(string)) error {
	return WriteResultsCSV(w, Results(ed, ld, warn))
}

// ElectionListCSV writes the election list as the old tool did: columns
// ID, Name and DefaultElection (as written in the API, "Y" or "N").
func ElectionListCSV(w io.Writer, list []snapshot.ElectionListEntry) error {
	cw := NewWriter(w)
	cw.WriteRow("ID", "Name", "DefaultElection")
	for _, e := range list {
		cw.WriteRow(string(e.ID), e.Name, e.DefaultRaw)
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("writing election list CSV: %w", err)
	}
	return nil
}
