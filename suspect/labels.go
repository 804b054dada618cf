package suspect

import (
	"strings"

	"ctrunner/snapshot"
)

// labeler names towns, offices and candidates in details, from the new
// version's Lookupdata.json first, then the accepted version's.
type labeler struct {
	lookups []*snapshot.LookupData
}

func newLabeler(next, prev *decoded) *labeler {
	l := &labeler{}
	for _, d := range []*decoded{next, prev} {
		if d != nil && d.ld != nil {
			l.lookups = append(l.lookups, d.ld.data)
		}
	}
	return l
}

// town returns the town's name, or fallback (such as voterTurnout's NM),
// or "town ID".
func (l *labeler) town(id snapshot.TownID, fallback string) string {
	for _, ld := range l.lookups {
		if name, ok := ld.TownIDs.Get(id); ok && strings.TrimSpace(name) != "" {
			return strings.TrimSpace(name)
		}
	}
	if s := strings.TrimSpace(fallback); s != "" {
		return s
	}
	return "town " + string(id)
}

// office returns the office's name, followed by its district text when
// another office has the same name and that tells them apart, else by its
// ID ("Registrar of Voters [13501]"); "office ID" when it has no name.
func (l *labeler) office(id snapshot.OfficeID) string {
	for _, ld := range l.lookups {
		o, ok := ld.Office(id)
		name := strings.TrimSpace(o.Name)
		if !ok || name == "" {
			continue
		}
		var sameName, sameDistrict int
		for _, other := range ld.Offices {
			if strings.TrimSpace(other.Name) == name {
				sameName++
				if other.DistrictText == o.DistrictText {
					sameDistrict++
				}
			}
		}
		switch {
		case sameName == 1:
			return name
		case sameDistrict == 1 && strings.TrimSpace(o.DistrictText) != "":
			return name + ", " + strings.TrimSpace(o.DistrictText)
		}
		return name + " [" + string(id) + "]"
	}
	return "office " + string(id)
}

// candidate returns "Name (party code)"; an unknown candidate is
// "candidate ID" and an unknown party "party ID".
func (l *labeler) candidate(id snapshot.CandidateID) string {
	for _, ld := range l.lookups {
		c, ok := ld.CandidateIDs.Get(id)
		name := strings.TrimSpace(c.Name)
		if !ok || name == "" {
			continue
		}
		switch party := l.party(c.Party); {
		case party != "":
			return name + " (" + party + ")"
		case c.Party != "":
			return name + " (party " + string(c.Party) + ")"
		}
		return name
	}
	return "candidate " + string(id)
}

// party returns the party's short code, or "".
func (l *labeler) party(id snapshot.PartyID) string {
	for _, ld := range l.lookups {
		if p, ok := ld.PartyIDs.Get(id); ok && strings.TrimSpace(p.Code) != "" {
			return strings.TrimSpace(p.Code)
		}
	}
	return ""
}

// place returns "Town, Office" for a town's list and "Statewide, Office"
// for stateVotes (town "").
func (l *labeler) place(town snapshot.TownID, office snapshot.OfficeID) string {
	if town == "" {
		return "Statewide, " + l.office(office)
	}
	return l.town(town, "") + ", " + l.office(office)
}

// reported reads the number reported in a reporting line such as
// "760 of 763 (99.61%)", "169 of 169" or "1,024 of 1,100". ok is false for
// anything else, including the empty lines some voterTurnout entries have
// and negative numbers.
func reported(line string) (done int64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 3 || !strings.EqualFold(f[1], "of") {
		return 0, false
	}
	done, ok = snapshot.Count(f[0]).Int()
	if !ok || done < 0 {
		return 0, false
	}
	total := f[2]
	if i := strings.IndexByte(total, '('); i > 0 {
		total = total[:i]
	}
	if n, ok := snapshot.Count(total).Int(); !ok || n < 0 {
		return 0, false
	}
	return done, true
}

// line returns a reporting line for a detail: trimmed, or `""` if empty.
func line(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return `""`
	}
	return s
}
