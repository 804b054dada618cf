package diff

import (
	"slices"
	"strings"

	"ctrunner/export"
	"ctrunner/snapshot"
)

// voteKey identifies one result row: n counts earlier rows with the same
// office, town and candidate, should a list repeat a candidate.
type voteKey struct {
	office    snapshot.OfficeID
	town      snapshot.TownID // "" for statewide
	candidate snapshot.CandidateID
	n         int
}

// raceKey identifies one race: an office statewide or in one town.
type raceKey struct {
	office snapshot.OfficeID
	town   snapshot.TownID
}

// leader is who leads one race: the people with the most votes, each
// person's party lines added up (a cross-endorsed candidate is one person
// on several lines, named alike), so that a person's lines overtaking one
// another is no change of leader.
type leader struct {
	people map[string]*person // by name
	order  []*person          // in the order of the documents
	first  *export.ResultRow  // the race's first row, naming office and town
}

// person is one candidate in one race, over all their party lines.
type person struct {
	name  string
	votes int64
	party string // the party of their line with the most votes
	best  int64  // that line's votes
	lines int
}

func (l *leader) add(r *export.ResultRow) {
	if l.people == nil {
		l.people, l.first = map[string]*person{}, r
	}
	p := l.people[r.Candidate]
	if p == nil {
		p = &person{name: r.Candidate}
		l.people[r.Candidate] = p
		l.order = append(l.order, p)
	}
	n, ok := r.Votes.Int()
	if !ok {
		n = 0
	}
	p.votes += n
	if p.lines == 0 || n > p.best {
		p.party, p.best = r.Party, n
	}
	p.lines++
}

// top returns the people with the most votes, none while nobody has a
// vote.
func (l *leader) top() []*person {
	var top []*person
	for _, p := range l.order {
		switch {
		case p.votes <= 0 || len(top) > 0 && p.votes < top[0].votes:
		case len(top) > 0 && p.votes == top[0].votes:
			top = append(top, p)
		default:
			top = append(top[:0], p)
		}
	}
	return top
}

// key identifies the leading people, so a change of leader shows.
func (l *leader) key() string {
	top := l.top()
	names := make([]string, len(top))
	for i, p := range top {
		names[i] = p.name
	}
	slices.Sort(names)
	return strings.Join(names, "\x00")
}

// String names the leading people, each with the party of their
// strongest line.
func (l *leader) String() string {
	top := l.top()
	names := make([]string, len(top))
	for i, p := range top {
		names[i] = p.name
		if p.party != "" {
			names[i] += " (" + p.party + ")"
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return "tie: " + strings.Join(names, ", ")
}

// indexRows keys the result rows of one side and finds each race's leader.
func indexRows(rows []export.ResultRow) (map[voteKey]int, map[raceKey]*leader, []raceKey) {
	index := make(map[voteKey]int, len(rows))
	leaders := map[raceKey]*leader{}
	var races []raceKey
	for i := range rows {
		r := &rows[i]
		k := voteKey{r.OfficeID, r.TownID, r.CandidateID, 0}
		for {
			if _, dup := index[k]; !dup {
				break
			}
			k.n++
		}
		index[k] = i

		race := raceKey{r.OfficeID, r.TownID}
		l := leaders[race]
		if l == nil {
			l = &leader{}
			leaders[race] = l
			races = append(races, race)
		}
		l.add(r)
	}
	return index, leaders, races
}

// votes compares every candidate's count statewide and in every town,
// and who leads each race. Names come from export.Results, so unknown
// codes show as export shows them.
func (c *comparer) votes() {
	rowsA := export.Results(c.a.Election, c.a.Lookup, nil)
	rowsB := export.Results(c.b.Election, c.b.Lookup, nil)
	indexA, leadersA, _ := indexRows(rowsA)
	_, leadersB, racesB := indexRows(rowsB)

	seen := make(map[voteKey]bool, len(rowsB))
	for i := range rowsB {
		rb := &rowsB[i]
		k := voteKey{rb.OfficeID, rb.TownID, rb.CandidateID, 0}
		for seen[k] {
			k.n++
		}
		seen[k] = true
		if j, ok := indexA[k]; ok {
			c.addVote(&rowsA[j], rb, rb)
		} else {
			c.addVote(nil, rb, rb)
		}
	}
	for i := range rowsA {
		ra := &rowsA[i]
		k := voteKey{ra.OfficeID, ra.TownID, ra.CandidateID, 0}
		for {
			if j, ok := indexA[k]; ok && j == i {
				break
			}
			k.n++
		}
		if !seen[k] {
			c.addVote(ra, nil, ra)
		}
	}

	for _, race := range racesB {
		la, lb := leadersA[race], leadersB[race]
		if la == nil {
			continue
		}
		ka, kb := la.key(), lb.key()
		if ka == "" || kb == "" || ka == kb {
			continue
		}
		r := lb.first
		c.r.Leads = append(c.r.Leads, Change{
			Kind: Changed, OfficeID: r.OfficeID, Office: r.Office, TownID: r.TownID,
			Town: r.Town, Field: "leader", From: la.String(), To: lb.String(),
		})
	}
}

// addVote records a change in one candidate's count, if there is one;
// names are taken from named.
func (c *comparer) addVote(from, to, named *export.ResultRow) {
	var x, y string
	if from != nil {
		x = string(from.Votes)
	}
	if to != nil {
		y = string(to.Votes)
	}
	ch, ok := field(count, "votes", x, y, from != nil, to != nil)
	if !ok {
		return
	}
	ch.OfficeID, ch.Office = named.OfficeID, named.Office
	ch.TownID, ch.Town = named.TownID, named.Town
	ch.SubjectID, ch.Subject, ch.Party = string(named.CandidateID), named.Candidate, named.Party
	c.r.Votes = append(c.r.Votes, ch)
}

// order sorts Votes, OfficePrecincts and Leads by office, the office with
// the largest vote change first, and Votes within an office from the
// largest change down. Ties keep the order of the documents.
func (c *comparer) order() {
	largest := map[snapshot.OfficeID]int64{}
	for i := range c.r.Votes {
		ch := &c.r.Votes[i]
		largest[ch.OfficeID] = max(largest[ch.OfficeID], ch.magnitude())
	}
	rank := func(id snapshot.OfficeID) int {
		if i, ok := c.officeOrder[id]; ok {
			return i
		}
		return len(c.officeOrder)
	}
	byOffice := func(x, y *Change) int {
		if lx, ly := largest[x.OfficeID], largest[y.OfficeID]; lx != ly {
			if lx > ly {
				return -1
			}
			return 1
		}
		if d := rank(x.OfficeID) - rank(y.OfficeID); d != 0 {
			return d
		}
		return strings.Compare(string(x.OfficeID), string(y.OfficeID))
	}
	slices.SortStableFunc(c.r.Votes, func(x, y Change) int {
		if d := byOffice(&x, &y); d != 0 {
			return d
		}
		mx, my := x.magnitude(), y.magnitude()
		switch {
		case mx > my:
			return -1
		case mx < my:
			return 1
		}
		return 0
	})
	for _, list := range []*[]Change{&c.r.OfficePrecincts, &c.r.Leads} {
		slices.SortStableFunc(*list, func(x, y Change) int { return byOffice(&x, &y) })
	}
}
