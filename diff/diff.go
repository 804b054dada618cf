// Package diff compares two snapshots of one election in election terms:
// vote changes per office, town and candidate, towns that reported or
// certified, turnout, leads, lookup-data changes and ballot questions.
// It reads parsed documents, never their text, so a new version whose
// counts are unchanged reports no change.
package diff

import (
	"errors"
	"strings"

	"ctrunner/export"
	"ctrunner/snapshot"
)

// Input is one side of a comparison: the two decoded documents of a
// snapshot and how the output should name it.
type Input struct {
	Label    string // e.g. "80@1316"; empty means "version N"
	Version  snapshot.Version
	Election *snapshot.ElectionData
	Lookup   *snapshot.LookupData
}

// Side names one compared snapshot in a Report.
type Side struct {
	Label   string           `json:"label"`
	Version snapshot.Version `json:"version"`
}

// Kind says whether a Change adds, removes or changes a value.
type Kind string

// The kinds of change.
const (
	Added   Kind = "added"   // only the newer snapshot has the value
	Removed Kind = "removed" // only the older snapshot has the value
	Changed Kind = "changed" // both have it, with different values
)

// Change is one difference between the two snapshots. Which fields are
// set depends on the section the change is in; see Report.
type Change struct {
	Kind      Kind              `json:"kind"`
	OfficeID  snapshot.OfficeID `json:"office_id,omitempty"`
	Office    string            `json:"office,omitempty"`
	TownID    snapshot.TownID   `json:"town_id,omitempty"`
	Town      string            `json:"town,omitempty"`
	SubjectID string            `json:"subject_id,omitempty"`
	Subject   string            `json:"subject,omitempty"`
	Party     string            `json:"party,omitempty"`
	Field     string            `json:"field"`
	From      string            `json:"from"`
	To        string            `json:"to"`
	// Delta is To minus From when both are counts (an absent side
	// counting as 0), and nil otherwise.
	Delta *int64 `json:"delta"`
}

// magnitude is the size of a change for ordering: |Delta|, or -1 when the
// change is not a count.
func (c *Change) magnitude() int64 {
	switch {
	case c.Delta == nil:
		return -1
	case *c.Delta < 0:
		return -*c.Delta
	}
	return *c.Delta
}

// Report is what changed between two snapshots of one election. Each
// section lists Changes; the fields a section sets are:
//
//	Summary          Field: ballots_cast, precincts_reporting, registered_voters,
//	                 towns_reporting, towns_partly_reporting, turnout_percent,
//	                 show_vote_totals, reports_ir, results_official
//	Votes            Office, Town ("statewide" for the state totals), Subject
//	                 (candidate), Party; Field "votes"
//	OfficePrecincts  Office; Field "precincts_reporting"
//	Leads            Office, Town; Field "leader"; From and To are the leading
//	                 candidates ("tie: A, B" for a tie), each person's party
//	                 lines added up and named by their strongest line
//	                 ("Ned Lamont (D)")
//	Towns            Town; Field "reported" (Added: the town newly reported,
//	                 Removed: it vanished from the counts), "status" or
//	                 "precincts_reporting"
//	Turnout          Town (its voterTurnout name, "Total" for the total);
//	                 Field: eligible, voted, absentee_received, absentee_counted,
//	                 eday_reg_received, eday_reg_counted, early_voting_received,
//	                 early_voting_counted, turnout_percent, precincts_reporting
//	Lookup           SubjectID (the code); Field: town_name, office_name,
//	                 party_code, party_name, candidate_name, candidate_party
//	BallotQuestions  Town (the API's key: a town name or "State Wide"),
//	                 SubjectID (the question's position, from 1), Subject
//	                 (its text); Field: question, yes, no
//
// Votes and Leads are grouped by office, the office with the largest
// change first; within an office Votes run from the largest change down.
type Report struct {
	Election snapshot.ElectionID `json:"election"`
	From     Side                `json:"from"`
	To       Side                `json:"to"`
	// Identical is true when no section holds a change.
	Identical bool `json:"identical"`
	// Filtered describes the filter applied, if any.
	Filtered string `json:"filter,omitempty"`

	Summary         []Change `json:"summary"`
	Votes           []Change `json:"votes"`
	OfficePrecincts []Change `json:"office_precincts"`
	Leads           []Change `json:"leads"`
	Towns           []Change `json:"towns"`
	Turnout         []Change `json:"turnout"`
	Lookup          []Change `json:"lookup"`
	BallotQuestions []Change `json:"ballot_questions"`

	knownOffices map[snapshot.OfficeID]string
	knownTowns   map[string]bool // IDs and lowercased names
}

// section is one named list of changes of a Report.
type section struct {
	name    string // the CSV section column
	changes *[]Change
}

func (r *Report) sections() []section {
	return []section{
		{"summary", &r.Summary},
		{"votes", &r.Votes},
		{"office_precincts", &r.OfficePrecincts},
		{"leads", &r.Leads},
		{"towns", &r.Towns},
		{"turnout", &r.Turnout},
		{"lookup", &r.Lookup},
		{"ballot_questions", &r.BallotQuestions},
	}
}

// Len is the number of changes in all sections.
func (r *Report) Len() int {
	n := 0
	for _, s := range r.sections() {
		n += len(*s.changes)
	}
	return n
}

// Compare lists what changed from a to b.
func Compare(a, b Input) (*Report, error) {
	if a.Election == nil || a.Lookup == nil || b.Election == nil || b.Lookup == nil {
		return nil, errors.New("comparing snapshots: both need ElectionData and LookupData")
	}
	c := newComparer(a, b)
	c.summary()
	c.votes()
	c.officePrecincts()
	c.towns()
	c.turnout()
	c.lookup()
	c.ballotQuestions()
	c.order()

	r := c.r
	for _, s := range r.sections() {
		if *s.changes == nil {
			*s.changes = []Change{}
		}
	}
	r.Identical = r.Len() == 0
	return r, nil
}

// comparer holds the state of one Compare.
type comparer struct {
	a, b Input
	r    *Report

	officeNames map[snapshot.OfficeID]string
	officeOrder map[snapshot.OfficeID]int // officeList position, newer lookup first
	townNames   map[snapshot.TownID]string
}

func newComparer(a, b Input) *comparer {
	c := &comparer{a: a, b: b,
		officeNames: map[snapshot.OfficeID]string{},
		officeOrder: map[snapshot.OfficeID]int{},
		townNames:   map[snapshot.TownID]string{},
	}
	for _, ld := range []*snapshot.LookupData{b.Lookup, a.Lookup} {
		for _, o := range ld.Offices {
			if _, ok := c.officeNames[o.ID]; !ok {
				c.officeNames[o.ID] = o.Name
				c.officeOrder[o.ID] = len(c.officeOrder)
			}
		}
		for id, name := range ld.TownIDs.All() {
			if _, ok := c.townNames[id]; !ok {
				c.townNames[id] = name
			}
		}
	}

	election := b.Election.Election.ID
	for _, id := range []snapshot.ElectionID{b.Lookup.Election.ID, a.Election.Election.ID} {
		if election == "" {
			election = id
		}
	}
	c.r = &Report{
		Election:     election,
		From:         Side{Label: a.Label, Version: a.Version},
		To:           Side{Label: b.Label, Version: b.Version},
		knownOffices: c.officeNames,
		knownTowns:   map[string]bool{strings.ToLower(export.StatewideTown): true},
	}
	for id, name := range c.townNames {
		c.r.knownTowns[string(id)] = true
		c.r.knownTowns[strings.ToLower(name)] = true
	}
	return c
}

// officeName names an office as export does, keeping unknown codes visible.
func (c *comparer) officeName(id snapshot.OfficeID) string {
	if name, ok := c.officeNames[id]; ok {
		return name
	}
	return "unknown office " + string(id)
}

// townName names a town as export does, keeping unknown codes visible.
func (c *comparer) townName(id snapshot.TownID) string {
	if name, ok := c.townNames[id]; ok {
		return name
	}
	return "unknown town " + string(id)
}

// valueKind says how two raw values are compared.
type valueKind int

const (
	text    valueKind = iota // compared after trimming spaces
	count                    // snapshot.Count: "1,278,959" equals "1278959"
	percent                  // snapshot.Percent: "57.62%" equals "57.62"
	boolean                  // snapshot.Flag: true equals "True"
)

// differ reports whether two raw values differ in meaning, and for counts
// the difference. A missing value is absent (""); an absent count counts
// as 0 in the delta.
func differ(k valueKind, from, to string) (bool, *int64) {
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	switch k {
	case count:
		x, okx := snapshot.Count(from).Int()
		y, oky := snapshot.Count(to).Int()
		if from == "" {
			x, okx = 0, true
		}
		if to == "" {
			y, oky = 0, true
		}
		if okx && oky {
			d := y - x
			return from != to && (from == "" || to == "" || d != 0), &d
		}
	case percent:
		x, okx := snapshot.Percent(from).Float()
		y, oky := snapshot.Percent(to).Float()
		if okx && oky {
			return x != y, nil
		}
	case boolean:
		x, okx := snapshot.Flag{Raw: from}.Bool()
		y, oky := snapshot.Flag{Raw: to}.Bool()
		if okx && oky {
			return x != y, nil
		}
	}
	return from != to, nil
}

// field compares one value and returns the change, if any, with the
// other fields of the change still to fill in.
func field(k valueKind, name, from, to string, hasFrom, hasTo bool) (Change, bool) {
	if !hasFrom {
		from = ""
	}
	if !hasTo {
		to = ""
	}
	changed, delta := differ(k, from, to)
	if !changed {
		return Change{}, false
	}
	kind := Changed
	switch {
	case !hasFrom || strings.TrimSpace(from) == "":
		kind = Added
	case !hasTo || strings.TrimSpace(to) == "":
		kind = Removed
	}
	return Change{Kind: kind, Field: name, From: from, To: to, Delta: delta}, true
}

// summary compares the election-wide figures.
func (c *comparer) summary() {
	x, y := c.a.Election, c.b.Election
	ex, ey := x.Election, y.Election
	fields := []struct {
		kind     valueKind
		name     string
		from, to string
	}{
		{count, "ballots_cast", string(ex.BallotsCast), string(ey.BallotsCast)},
		{text, "precincts_reporting", ex.PrecinctsReporting, ey.PrecinctsReporting},
		{count, "registered_voters", string(ex.RegisteredVoters), string(ey.RegisteredVoters)},
		{text, "towns_reporting", ex.TownsReporting, ey.TownsReporting},
		{text, "towns_partly_reporting", ex.TownsPartlyReporting, ey.TownsPartlyReporting},
		{percent, "turnout_percent", string(ex.Turnout), string(ey.Turnout)},
		{boolean, "show_vote_totals", ex.ShowVoteTotals.Raw, ey.ShowVoteTotals.Raw},
		{boolean, "reports_ir", x.Reports.IR.Raw, y.Reports.IR.Raw},
		{boolean, "results_official", x.Reports.IO.Raw, y.Reports.IO.Raw},
	}
	for _, f := range fields {
		if ch, ok := field(f.kind, f.name, f.from, f.to, f.from != "", f.to != ""); ok {
			c.r.Summary = append(c.r.Summary, ch)
		}
	}
}

// officePrecincts compares each office's precincts reporting.
func (c *comparer) officePrecincts() {
	x, y := &c.a.Election.OfficePrecincts, &c.b.Election.OfficePrecincts
	for _, id := range unionKeys(x, y) {
		from, hasFrom := x.Get(id)
		to, hasTo := y.Get(id)
		if ch, ok := field(text, "precincts_reporting", from, to, hasFrom, hasTo); ok {
			ch.OfficeID, ch.Office = id, c.officeName(id)
			c.r.OfficePrecincts = append(c.r.OfficePrecincts, ch)
		}
	}
}

// unionKeys lists the keys of x in order, then those only y has.
func unionKeys[K ~string, V any](x, y *snapshot.Ordered[K, V]) []K {
	keys := x.Keys()
	for k := range y.All() {
		if !x.Has(k) {
			keys = append(keys, k)
		}
	}
	return keys
}
