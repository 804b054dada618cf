package night

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"ctrunner/snapshot"
)

// Race is where one office stands statewide in one snapshot.
type Race struct {
	OfficeID snapshot.OfficeID `json:"office_id"`
	Office   string            `json:"office"`
	// PrecinctsReporting is the office's own line, "33 of 121 (27.27%)",
	// empty when the API gives none.
	PrecinctsReporting string `json:"precincts_reporting,omitempty"`
	// Votes is the office's total over every candidate.
	Votes int64 `json:"votes"`
	// Leader and RunnerUp are the candidates with the most votes, nil
	// while nobody has a vote (Leader) or nobody else has (RunnerUp).
	Leader   *Standing `json:"leader"`
	RunnerUp *Standing `json:"runner_up"`
	// Tie is true when the leader and the runner-up have as many votes.
	Tie bool `json:"tie"`
	// MarginVotes and MarginPoints are the leader's lead over the
	// runner-up, in votes and in percentage points of the office's votes
	// (the leader's whole share when unopposed).
	MarginVotes  int64   `json:"margin_votes"`
	MarginPoints float64 `json:"margin_points"`
	// LeadChanged is true when someone else led (or others tied) in the
	// snapshot before, PreviousLeader naming them.
	LeadChanged    bool   `json:"lead_changed"`
	PreviousLeader string `json:"previous_leader,omitempty"`
}

// Standing is one candidate's statewide count in an office, all their
// party lines added up.
type Standing struct {
	Candidate string `json:"candidate"`
	// Party is the code of the party line with the most votes; Parties
	// lists every line's code, that one first.
	Party   string   `json:"party"`
	Parties []string `json:"parties"`
	Votes   int64    `json:"votes"`
	// Share is the percentage of the office's votes, to two decimals.
	Share float64 `json:"share_percent"`

	person string // who the candidate is, whatever their party lines
}

// Label names the candidate with their main party: "Ned Lamont (D)".
func (s *Standing) Label() string {
	if s.Party == "" {
		return s.Candidate
	}
	return s.Candidate + " (" + s.Party + ")"
}

// race is what one decoded snapshot says about one office.
type race struct {
	name      string
	votes     int64
	standings []Standing // most votes first; equal counts keep ballot order
	leader    string     // who leads, "" without votes; "tie: A, B" for a tie
	// leaderKey identifies the people leading (not their party lines,
	// whose order among themselves can change), "" without votes.
	leaderKey string
}

// raceOf returns where office id stands in d, computed once per snapshot.
func (d *decoded) raceOf(id snapshot.OfficeID) *race {
	if r, ok := d.standing[id]; ok {
		return r
	}
	r := &race{name: officeName(d.ld, id)}
	lines, _ := d.ed.StateVotes.Get(id)
	byName := map[string]int{}
	type line struct {
		party string
		votes int64
	}
	var parties [][]line
	for _, v := range lines {
		name, party := candidateName(d.ld, v.Candidate)
		votes, _ := v.Votes.Int()
		key := name
		if name == "" {
			key = "\x00" + string(v.Candidate)
		}
		i, ok := byName[key]
		if !ok {
			i = len(r.standings)
			byName[key] = i
			r.standings = append(r.standings, Standing{Candidate: name, person: key})
			parties = append(parties, nil)
		}
		r.standings[i].Votes += votes
		parties[i] = append(parties[i], line{party, votes})
		r.votes += votes
	}
	for i := range r.standings {
		s := &r.standings[i]
		slices.SortStableFunc(parties[i], func(a, b line) int { return cmp.Compare(b.votes, a.votes) })
		for _, l := range parties[i] {
			if l.party != "" && !slices.Contains(s.Parties, l.party) {
				s.Parties = append(s.Parties, l.party)
			}
		}
		if len(s.Parties) > 0 {
			s.Party = s.Parties[0]
		}
		if r.votes > 0 {
			s.Share = round2(100 * float64(s.Votes) / float64(r.votes))
		}
	}
	slices.SortStableFunc(r.standings, func(a, b Standing) int { return cmp.Compare(b.Votes, a.Votes) })

	if len(r.standings) > 0 && r.standings[0].Votes > 0 {
		var top, people []string
		for _, s := range r.standings {
			if s.Votes == r.standings[0].Votes {
				top = append(top, s.Label())
				people = append(people, s.person)
			}
		}
		r.leader = top[0]
		if len(top) > 1 {
			slices.Sort(top)
			r.leader = "tie: " + strings.Join(top, ", ")
		}
		slices.Sort(people)
		r.leaderKey = strings.Join(people, "\x00\x00")
	}
	d.standing[id] = r
	return r
}

// race tells office id in d; prev is the snapshot before, compared with
// only when hasPrev.
func (d *decoded) race(id snapshot.OfficeID, prev *decoded, hasPrev bool) Race {
	r := d.raceOf(id)
	out := Race{OfficeID: id, Office: r.name, Votes: r.votes}
	out.PrecinctsReporting, _ = d.ed.OfficePrecincts.Get(id)
	if r.leader == "" {
		return out
	}
	leader := r.standings[0]
	out.Leader = &leader
	out.MarginVotes, out.MarginPoints = leader.Votes, leader.Share
	if len(r.standings) > 1 && r.standings[1].Votes > 0 {
		runnerUp := r.standings[1]
		out.RunnerUp = &runnerUp
		out.Tie = runnerUp.Votes == leader.Votes
		out.MarginVotes = leader.Votes - runnerUp.Votes
		out.MarginPoints = round2(100 * float64(out.MarginVotes) / float64(r.votes))
	}
	if hasPrev {
		if before := prev.raceOf(id); before.leaderKey != "" && before.leaderKey != r.leaderKey {
			out.LeadChanged, out.PreviousLeader = true, before.leader
		}
	}
	return out
}

// leadChanges lists the offices whose statewide leader differs between
// prev and d (both having one), in ballot order: another person, not the
// same person's strongest party line.
func (d *decoded) leadChanges(prev *decoded) []Office {
	var ids []snapshot.OfficeID
	for id := range d.ed.StateVotes.All() {
		before, now := prev.raceOf(id).leaderKey, d.raceOf(id).leaderKey
		if before != "" && now != "" && before != now {
			ids = append(ids, id)
		}
	}
	slices.SortStableFunc(ids, func(a, b snapshot.OfficeID) int {
		return cmp.Compare(d.rank(a), d.rank(b))
	})
	offices := make([]Office, len(ids))
	for i, id := range ids {
		offices[i] = Office{ID: id, Name: d.raceOf(id).name}
	}
	return offices
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// officeName names an office as export does, keeping an unknown code
// visible.
func officeName(ld *snapshot.LookupData, id snapshot.OfficeID) string {
	if o, ok := ld.Office(id); ok {
		return o.Name
	}
	return "unknown office " + string(id)
}

// candidateName names a candidacy and its party code as export does.
func candidateName(ld *snapshot.LookupData, id snapshot.CandidateID) (name, party string) {
	c, ok := ld.CandidateIDs.Get(id)
	if !ok {
		return "unknown candidate " + string(id), ""
	}
	if p, ok := ld.PartyIDs.Get(c.Party); ok {
		return c.Name, p.Code
	}
	return c.Name, "unknown party " + string(c.Party)
}

// ballotOrder ranks the offices of ld as the ballot lists them: by their
// display order (OO, a number; offices without one last), then by their
// place in officeList.
func ballotOrder(ld *snapshot.LookupData) map[snapshot.OfficeID]int {
	type office struct {
		id    snapshot.OfficeID
		order int64
		pos   int
	}
	var offices []office
	seen := map[snapshot.OfficeID]bool{}
	for i, o := range ld.Offices {
		if seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		order, err := strconv.ParseInt(strings.TrimSpace(o.Order), 10, 64)
		if err != nil {
			order = math.MaxInt64
		}
		offices = append(offices, office{o.ID, order, i})
	}
	slices.SortStableFunc(offices, func(a, b office) int {
		return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(a.pos, b.pos))
	})
	rank := make(map[snapshot.OfficeID]int, len(offices))
	for i, o := range offices {
		rank[o.id] = i
	}
	return rank
}

// rank is an office's place on the ballot; offices the lookup data lacks
// come last.
func (d *decoded) rank(id snapshot.OfficeID) int {
	if r, ok := d.order[id]; ok {
		return r
	}
	return len(d.order)
}

// topOfBallot returns the office a Night follows when Options.Offices is
// empty: of the offices with statewide votes (an entry in stateVotes, even
// of zeros), the first on the ballot, that is the one with the lowest
// display order (officeList's OO) and, among equals, the first in
// officeList. For a general election that is the governor or the
// president; for a municipal one it can be any town's first office. It
// returns false if d has no statewide votes at all.
func (d *decoded) topOfBallot() (snapshot.OfficeID, bool) {
	ids := d.ed.StateVotes.Keys()
	if len(ids) == 0 {
		return "", false
	}
	return slices.MinFunc(ids, func(a, b snapshot.OfficeID) int {
		return cmp.Compare(d.rank(a), d.rank(b))
	}), true
}

// OfficeError says that an office asked for matches no office of the
// election.
type OfficeError struct {
	Election snapshot.ElectionID
	Office   string
	// Examples name a few offices of the election, first on the ballot
	// first.
	Examples []string
}

func (e *OfficeError) Error() string {
	msg := fmt.Sprintf("no office of election %s matches %q", e.Election, e.Office)
	if len(e.Examples) == 0 {
		return msg + " (the election has no offices with votes)"
	}
	return fmt.Sprintf("%s (give an office ID or part of a name, such as %s)", msg,
		strings.Join(e.Examples, "; "))
}

// chooseOffices finds the offices of d that wants name: for each, the
// office with that ID, else those whose name is it (any case), else those
// whose name holds it, in ballot order. No wants means the top of the
// ballot.
func chooseOffices(election snapshot.ElectionID, d *decoded,
	wants []string) ([]snapshot.OfficeID, error) {
	all := d.ed.StateVotes.Keys()
	for id := range d.order {
		if !d.ed.StateVotes.Has(id) {
			all = append(all, id)
		}
	}
	slices.SortStableFunc(all, func(a, b snapshot.OfficeID) int {
		return cmp.Or(cmp.Compare(d.rank(a), d.rank(b)), strings.Compare(string(a), string(b)))
	})

	var chosen []snapshot.OfficeID
	add := func(ids ...snapshot.OfficeID) {
		for _, id := range ids {
			if !slices.Contains(chosen, id) {
				chosen = append(chosen, id)
			}
		}
	}
	for _, want := range wants {
		want = strings.TrimSpace(want)
		if want == "" {
			continue
		}
		var exact, part []snapshot.OfficeID
		for _, id := range all {
			name := strings.ToLower(officeName(d.ld, id))
			switch {
			case string(id) == want:
				exact = []snapshot.OfficeID{id}
			case name == strings.ToLower(want):
				exact = append(exact, id)
			case strings.Contains(name, strings.ToLower(want)):
				part = append(part, id)
			}
			if len(exact) == 1 && string(exact[0]) == want {
				break
			}
		}
		switch {
		case len(exact) > 0:
			add(exact...)
		case len(part) > 0:
			add(part...)
		default:
			return nil, &OfficeError{Election: election, Office: want, Examples: examples(d, all)}
		}
	}
	if len(chosen) > 0 {
		return chosen, nil
	}
	if top, ok := d.topOfBallot(); ok {
		return []snapshot.OfficeID{top}, nil
	}
	return nil, fmt.Errorf("election %s has no statewide votes in snapshot %s to follow",
		election, d.entry.ID.Short())
}

// examples names up to three distinct offices of ids, for an error.
func examples(d *decoded, ids []snapshot.OfficeID) []string {
	var names []string
	for _, id := range ids {
		name := officeName(d.ld, id)
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		if len(names) == 3 {
			break
		}
	}
	return names
}
