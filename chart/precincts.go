package chart

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"ctrunner/export"
	"ctrunner/snapshot"
)

// MaxTowns is the most towns a precincts chart draws besides the state:
// more lines than that cannot be told apart.
const MaxTowns = 8

// StatewideKey is the key of the line that covers the whole state.
const StatewideKey = "statewide"

// ErrUnknownTown is returned when PrecinctOptions.Towns names a town the
// election does not have.
var ErrUnknownTown = errors.New("unknown town")

// PrecinctOptions choose the towns of a precincts chart.
type PrecinctOptions struct {
	// Towns are town IDs or names (any letter case), at most MaxTowns,
	// drawn after the statewide line in the order given.
	Towns []string
}

// Precincts charts the share of precincts reporting in every entry,
// oldest first as given: statewide (the election's precincts reporting
// line), then each chosen town (its townStatus line). Towns are looked up
// in the newest (last) entry's lookup data. A snapshot whose line is
// missing or not "k of P" has no point on that line, with a note.
func Precincts(entries []Entry, load Load, opts PrecinctOptions) (*Chart, error) {
	if len(entries) == 0 {
		return nil, ErrNoSnapshots
	}
	lookups := map[string]*snapshot.LookupData{}
	newestEntry := entries[len(entries)-1]
	newest, err := load(newestEntry)
	if err != nil {
		return nil, err
	}
	ld, err := decodeLookup(newest, lookups)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", newestEntry.ID.Short(), err)
	}
	towns, err := pickTowns(opts.Towns, ld, newestEntry.Election)
	if err != nil {
		return nil, err
	}

	c := &Chart{Kind: KindPrecincts, Subject: "Precincts reporting", Snapshots: len(entries)}
	c.setElection(newestEntry.Election, ld)
	lines := []*Line{{Key: StatewideKey, Name: "Statewide"}}
	for _, id := range towns {
		name, _ := ld.TownIDs.Get(id)
		lines = append(lines, &Line{Key: string(id), Name: name})
	}
	missing := make([]int, len(lines))

	for i, e := range entries {
		cached := func(e Entry) (*snapshot.Snapshot, error) {
			if i == len(entries)-1 {
				return newest, nil
			}
			return load(e)
		}
		_, ed, eld, err := loadDocuments(e, cached, lookups)
		if err != nil {
			return nil, err
		}
		add := func(n int, line string) {
			k, p, ok := export.ParseReporting(line)
			if !ok || p <= 0 {
				missing[n]++
				return
			}
			lines[n].Points = append(lines[n].Points, Point{FetchedAt: e.FetchedAt.UTC(),
				Version: e.Version, Reporting: k, Total: p,
				Percent: 100 * float64(k) / float64(p)})
		}

		add(0, ed.Election.PrecinctsReporting)
		if len(towns) == 0 {
			continue
		}
		status := townPrecincts(export.PrecinctsTable(ed, eld))
		for n, id := range towns {
			add(n+1, status[id])
		}
	}

	for n, l := range lines {
		c.Lines = append(c.Lines, *l)
		if missing[n] > 0 {
			c.notef("%s: left out %d of %s, which give no precincts reporting",
				l.Name, missing[n], plural(len(entries), "snapshot"))
		}
	}
	return c, nil
}

// townPrecincts reads the precincts table of one snapshot back into each
// town's "k of P" line ("" for a town whose counts are not numbers).
func townPrecincts(t *export.Table) map[snapshot.TownID]string {
	id := slices.Index(t.Columns, "town_id")
	k := slices.Index(t.Columns, "precincts_reporting")
	p := slices.Index(t.Columns, "precincts_total")
	if id < 0 || k < 0 || p < 0 {
		panic("chart: the export precincts table lacks town_id or precincts columns")
	}
	lines := make(map[snapshot.TownID]string, len(t.Rows))
	for _, r := range t.Rows {
		if r[k].Valid && r[p].Valid {
			lines[snapshot.TownID(r[id].Text)] = r[k].String() + " of " + r[p].String()
		}
	}
	return lines
}

// pickTowns resolves town IDs or names, dropping repeats.
func pickTowns(want []string, ld *snapshot.LookupData,
	election snapshot.ElectionID) ([]snapshot.TownID, error) {
	var towns []snapshot.TownID
	for _, w := range want {
		w = strings.TrimSpace(w)
		id, ok := findTown(w, ld)
		if !ok {
			return nil, fmt.Errorf("%w: election %s has no town with ID or name %q",
				ErrUnknownTown, election, w)
		}
		if !slices.Contains(towns, id) {
			towns = append(towns, id)
		}
	}
	if len(towns) > MaxTowns {
		return nil, fmt.Errorf("%d towns is too many to tell apart on one chart (at most %d)",
			len(towns), MaxTowns)
	}
	return towns, nil
}

// findTown finds a town by ID or by name in any letter case.
func findTown(w string, ld *snapshot.LookupData) (snapshot.TownID, bool) {
	if ld.TownIDs.Has(snapshot.TownID(w)) {
		return snapshot.TownID(w), true
	}
	for id, name := range ld.TownIDs.All() {
		if strings.EqualFold(strings.TrimSpace(name), w) {
			return id, true
		}
	}
	return "", false
}
