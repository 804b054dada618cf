package diff

import (
	"fmt"
	"strings"
)

// Filter narrows a Report to one office or one town. An empty field does
// not filter.
type Filter struct {
	// Office is an office ID, or a part of an office's name (any case).
	Office string
	// Town is a town ID or a town's name (any case); "statewide" selects
	// the state totals.
	Town string
}

// Filter returns the changes of r that name a matching office and a
// matching town: with Office set, only votes, office precincts, leads and
// lookup rows about offices remain; with Town set, only changes about that
// town. It fails if no office or town of either snapshot matches.
func (r *Report) Filter(f Filter) (*Report, error) {
	office, town := strings.TrimSpace(f.Office), strings.TrimSpace(f.Town)
	if office == "" && town == "" {
		return r, nil
	}
	if office != "" && !r.knowsOffice(office) {
		return nil, fmt.Errorf("no office of election %s matches %q "+
			"(give an office ID or part of its name)", r.Election, office)
	}
	if town != "" && !r.knownTowns[town] && !r.knownTowns[strings.ToLower(town)] {
		return nil, fmt.Errorf("no town of election %s matches %q "+
			"(give a town ID or its full name)", r.Election, town)
	}

	out := *r
	var desc []string
	if office != "" {
		desc = append(desc, "office "+office)
	}
	if town != "" {
		desc = append(desc, "town "+town)
	}
	out.Filtered = strings.Join(desc, ", ")
	for _, s := range out.sections() {
		var kept []Change
		for _, ch := range *s.changes {
			if (office == "" || officeMatches(office, string(ch.OfficeID), ch.Office)) &&
				(town == "" || townMatches(town, string(ch.TownID), ch.Town)) {
				kept = append(kept, ch)
			}
		}
		if kept == nil {
			kept = []Change{}
		}
		*s.changes = kept
	}
	out.Identical = out.Len() == 0
	return &out, nil
}

func (r *Report) knowsOffice(office string) bool {
	for id, name := range r.knownOffices {
		if officeMatches(office, string(id), name) {
			return true
		}
	}
	return false
}

func officeMatches(want, id, name string) bool {
	if id == "" {
		return false
	}
	return want == id || strings.Contains(strings.ToLower(name), strings.ToLower(want))
}

func townMatches(want, id, name string) bool {
	return (id != "" && want == id) || (name != "" && strings.EqualFold(want, name))
}
