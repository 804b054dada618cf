package chart

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ctrunner/export"
	"ctrunner/snapshot"
)

// ErrNoSnapshots is returned for a chart of no snapshots at all.
var ErrNoSnapshots = errors.New("no snapshots to chart")

// ErrUnknownOffice is returned when ShareOptions.Office names no office
// with statewide votes, or more than one; the message says which.
var ErrUnknownOffice = errors.New("unknown office")

// ShareOptions choose the office of a shares chart and how many of its
// candidacies to draw.
type ShareOptions struct {
	// Office is an office ID, an office's name that no other office has,
	// or a part of a name that only one office's name contains (any letter
	// case); "" chooses the top of the ballot (see TopOffice).
	Office string
	// MaxLines is the most candidacies drawn: those with the most votes
	// in the newest snapshot. 0 draws them all.
	MaxLines int
}

// Shares charts, for one office, each candidacy's share of the statewide
// vote in every entry, oldest first as given, with the office's precincts
// reporting at that snapshot. The office is looked up among those with
// statewide votes in the newest (last) entry.
//
// A candidacy is a person on one party line, as the API counts them: a
// person endorsed by two parties has two lines. Write-ins are the party
// line the lookup data calls WI. The shares are the API's own; where one
// is missing, it is computed from the votes, with a note.
func Shares(entries []Entry, load Load, opts ShareOptions) (*Chart, error) {
	if len(entries) == 0 {
		return nil, ErrNoSnapshots
	}
	newestEntry := entries[len(entries)-1]
	newest, err := load(newestEntry)
	if err != nil {
		return nil, err
	}
	ld, err := decodeLookup(newest, map[string]*snapshot.LookupData{})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", newestEntry.ID.Short(), err)
	}
	newestRows, err := statewideVotes(newestEntry, newest)
	if err != nil {
		return nil, err
	}
	var withVotes []snapshot.OfficeID
	for _, r := range newestRows.rows {
		id := snapshot.OfficeID(r[newestRows.col.office].Text)
		if !slices.Contains(withVotes, id) {
			withVotes = append(withVotes, id)
		}
	}
	office, err := pickOffice(opts.Office, withVotes, ld, newestEntry.Election)
	if err != nil {
		return nil, err
	}

	c := &Chart{Kind: KindShares, OfficeID: office.ID, Subject: office.Name,
		Snapshots: len(entries)}
	c.setElection(newestEntry.Election, ld)
	s := shareSeries{chart: c, office: office.ID, lines: map[string]*Line{}}
	for i, e := range entries {
		snap := newest
		if i < len(entries)-1 {
			if snap, err = load(e); err != nil {
				return nil, err
			}
		}
		votes, err := statewideVotes(e, snap)
		if err != nil {
			return nil, err
		}
		s.add(e, snap, votes, i == len(entries)-1)
	}
	s.finish()
	capLines(c, opts.MaxLines)
	return c, nil
}

// timelineColumns are the positions of the export timeline's columns.
type timelineColumns struct {
	office, candidateID, candidate, party, votes, share, reporting, total int
}

// snapshotVotes is one snapshot's statewide votes, as timeline rows.
type snapshotVotes struct {
	rows [][]export.Value
	col  timelineColumns
}

// statewideVotes lists a snapshot's statewide votes of every office, as
// the export timeline reads them.
func statewideVotes(e Entry, snap *snapshot.Snapshot) (snapshotVotes, error) {
	t, err := export.Timeline([]Entry{e}, func(Entry) (*snapshot.Snapshot, error) {
		return snap, nil
	})
	if err != nil {
		return snapshotVotes{}, err
	}
	at := func(name string) int {
		i := slices.Index(t.Columns, name)
		if i < 0 {
			panic("chart: the export timeline has no column " + name)
		}
		return i
	}
	return snapshotVotes{rows: t.Rows, col: timelineColumns{
		office: at("office_id"), candidateID: at("candidate_id"), candidate: at("candidate"),
		party: at("party"), votes: at("votes"), share: at("share_percent"),
		reporting: at("precincts_reporting"), total: at("precincts_total"),
	}}, nil
}

// shareSeries gathers the lines of a shares chart snapshot by snapshot.
type shareSeries struct {
	chart  *Chart
	office snapshot.OfficeID
	order  []string // candidate IDs, as first met
	lines  map[string]*Line

	noVotes           int // snapshots before the office's first votes
	computedShares    int // shares the API left out, computed from the votes
	missingShares     int // points left out: neither share nor votes
	statewideFallback int // snapshots without the office's precincts
	noPrecincts       int // snapshots without any precincts
}

// add adds the points of one snapshot; newest says it is the last one,
// whose votes rank the lines.
func (s *shareSeries) add(e Entry, snap *snapshot.Snapshot, v snapshotVotes, newest bool) {
	var rows [][]export.Value
	var sum int64
	for _, r := range v.rows {
		if snapshot.OfficeID(r[v.col.office].Text) != s.office {
			continue
		}
		rows = append(rows, r)
		if r[v.col.votes].Valid {
			sum += r[v.col.votes].Int
		}
	}
	if len(rows) == 0 {
		return
	}
	if sum == 0 {
		// No votes counted yet: the shares mean nothing.
		s.noVotes++
		return
	}

	reporting, total := rows[0][v.col.reporting], rows[0][v.col.total]
	k, p := reporting.Int, total.Int
	state := false
	if !reporting.Valid || !total.Valid || p <= 0 {
		edRaw, _ := snap.File(snapshot.ElectionDataFile)
		line, _ := snapshot.Summarize(edRaw)
		var ok bool
		if k, p, ok = export.ParseReporting(line); ok && p > 0 {
			state = true
			s.statewideFallback++
		} else {
			k, p = 0, 0
			s.noPrecincts++
		}
	}

	for _, r := range rows {
		id := r[v.col.candidateID].Text
		l, ok := s.lines[id]
		if !ok {
			l = &Line{Key: id}
			s.lines[id] = l
			s.order = append(s.order, id)
		}
		l.Name, l.Party = r[v.col.candidate].Text, r[v.col.party].Text

		pt := Point{FetchedAt: e.FetchedAt.UTC(), Version: e.Version, Reporting: k, Total: p,
			StatePrecincts: state}
		votes, share := r[v.col.votes], r[v.col.share]
		if votes.Valid {
			pt.Votes = votes.Int
			if newest {
				l.FinalVotes = votes.Int
			}
		}
		switch {
		case share.Valid:
			pt.Percent = share.Float
		case votes.Valid:
			s.computedShares++
			if sum > 0 {
				pt.Percent = 100 * float64(votes.Int) / float64(sum)
			}
		default:
			s.missingShares++
			continue
		}
		l.Points = append(l.Points, pt)
	}
}

// finish ranks the lines by their votes in the newest snapshot, most
// first, and notes what the data lacked.
func (s *shareSeries) finish() {
	c := s.chart
	for _, id := range s.order {
		c.Lines = append(c.Lines, *s.lines[id])
	}
	slices.SortStableFunc(c.Lines, func(a, b Line) int { return cmp.Compare(b.FinalVotes, a.FinalVotes) })

	if s.noVotes > 0 {
		c.notef("left out %s from before the office's first votes",
			plural(s.noVotes, "snapshot"))
	}
	if s.computedShares > 0 {
		c.notef("computed from the votes %s the API left out", plural(s.computedShares, "share"))
	}
	if s.missingShares > 0 {
		c.notef("left out %s without votes or share", plural(s.missingShares, "point"))
	}
	if s.statewideFallback > 0 {
		c.notef("the API gives no precincts reporting for the office in %s; the state's "+
			"stand in", plural(s.statewideFallback, "snapshot"))
	}
	if s.noPrecincts > 0 {
		c.notef("the API gives no precincts reporting at all in %s; a chart against "+
			"precincts leaves them out", plural(s.noPrecincts, "snapshot"))
	}
	if len(c.Lines) == 0 {
		c.notef("office %s has no statewide votes in these snapshots", s.office)
	}
}

// capLines keeps the first max lines and names the others in Omitted.
func capLines(c *Chart, max int) {
	if max <= 0 || len(c.Lines) <= max {
		return
	}
	for _, l := range c.Lines[max:] {
		c.Omitted = append(c.Omitted, l.Label())
	}
	c.Lines = c.Lines[:max]
}

// TopOffice returns the top of the ballot among offices: the one the
// lookup data's officeList shows first (lowest display order OO, then
// document order). Offices whose order is not a number come after the
// others. ok is false when offices is empty.
func TopOffice(ld *snapshot.LookupData, offices []snapshot.OfficeID) (o snapshot.Office, ok bool) {
	bestOrder := int64(0)
	for _, cand := range ld.Offices {
		if !slices.Contains(offices, cand.ID) {
			continue
		}
		order, numeric := snapshot.Count(cand.Order).Int()
		if !numeric {
			order = 1 << 62
		}
		if !ok || order < bestOrder {
			o, bestOrder, ok = cand, order, true
		}
	}
	if !ok && len(offices) > 0 {
		// Votes for an office the lookup data does not list.
		return snapshot.Office{ID: offices[0], Key: offices[0],
			Name: "unknown office " + string(offices[0])}, true
	}
	return o, ok
}

// pickOffice finds the office a shares chart is of among the offices
// with statewide votes.
func pickOffice(want string, withVotes []snapshot.OfficeID, ld *snapshot.LookupData,
	election snapshot.ElectionID) (snapshot.Office, error) {
	want = strings.TrimSpace(want)
	if want == "" {
		o, ok := TopOffice(ld, withVotes)
		if !ok {
			return o, fmt.Errorf("%w: election %s has no statewide votes in its newest snapshot",
				ErrUnknownOffice, election)
		}
		return o, nil
	}

	var candidates []snapshot.Office
	for _, id := range withVotes {
		o, ok := ld.Office(id)
		if !ok {
			o = snapshot.Office{ID: id, Key: id, Name: "unknown office " + string(id)}
		}
		candidates = append(candidates, o)
	}
	for _, o := range candidates {
		if string(o.ID) == want {
			return o, nil
		}
	}
	var named []snapshot.Office
	for _, o := range candidates {
		if strings.EqualFold(o.Name, want) {
			named = append(named, o)
		}
	}
	switch len(named) {
	case 0:
	case 1:
		return named[0], nil
	default:
		// Several offices share the name (each town's Registrar of
		// Voters): only an ID tells them apart.
		ids := make([]string, 0, 4)
		for _, o := range named[:min(len(named), 3)] {
			ids = append(ids, string(o.ID))
		}
		if len(named) > 3 {
			ids = append(ids, fmt.Sprintf("and %d more", len(named)-3))
		}
		return snapshot.Office{}, ambiguousOffice(fmt.Sprintf("%d offices of election %s "+
			"are named %q (IDs %s); give the ID of one", len(named), election,
			named[0].Name, strings.Join(ids, ", ")))
	}
	var matches []snapshot.Office
	for _, o := range candidates {
		if strings.Contains(strings.ToLower(o.Name), strings.ToLower(want)) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return snapshot.Office{}, fmt.Errorf("%w: no office of election %s with statewide "+
			"votes has ID or name %q", ErrUnknownOffice, election, want)
	}
	names := make([]string, 0, 4)
	for _, o := range matches[:min(len(matches), 3)] {
		names = append(names, strconv.Quote(o.Name))
	}
	if len(matches) > 3 {
		names = append(names, fmt.Sprintf("and %d more", len(matches)-3))
	}
	return snapshot.Office{}, ambiguousOffice(fmt.Sprintf("%q matches %d offices of "+
		"election %s: %s", want, len(matches), election, strings.Join(names, ", ")))
}

// ambiguousOffice is the error of an office asked for that names several:
// ErrUnknownOffice to errors.Is, without saying "unknown".
type ambiguousOffice string

func (e ambiguousOffice) Error() string { return string(e) }
func (e ambiguousOffice) Unwrap() error { return ErrUnknownOffice }
