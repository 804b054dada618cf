package diff

import (
	"strconv"
	"strings"

	"ctrunner/snapshot"
)

// towns lists the towns that newly reported or vanished from the counts,
// and changes of each town's status and precincts reporting.
func (c *comparer) towns() {
	x, y := &c.a.Election.TownVotes, &c.b.Election.TownVotes
	for _, id := range unionKeys(x, y) {
		hasFrom, hasTo := x.Has(id), y.Has(id)
		if hasFrom == hasTo {
			continue
		}
		kind := Added
		if !hasTo {
			kind = Removed
		}
		c.r.Towns = append(c.r.Towns, Change{Kind: kind, TownID: id, Town: c.townName(id),
			Field: "reported"})
	}

	sx, sy := &c.a.Election.TownStatus, &c.b.Election.TownStatus
	for _, id := range unionKeys(sx, sy) {
		from, hasFrom := sx.Get(id)
		to, hasTo := sy.Get(id)
		for _, f := range []struct{ name, from, to string }{
			{"status", statusText(from.Status), statusText(to.Status)},
			{"precincts_reporting", from.PrecinctsReporting, to.PrecinctsReporting},
		} {
			if ch, ok := field(text, f.name, f.from, f.to, hasFrom, hasTo); ok {
				ch.TownID, ch.Town = id, c.townName(id)
				c.r.Towns = append(c.r.Towns, ch)
			}
		}
	}
}

// statusText is a town status without the API's brackets:
// "( *Unofficial Results )" becomes "*Unofficial Results".
func statusText(s string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "()"))
}

// turnout compares each town's turnout figures, and the total's.
func (c *comparer) turnout() {
	x, y := &c.a.Election.VoterTurnout, &c.b.Election.VoterTurnout
	for _, id := range unionKeys(x, y) {
		from, hasFrom := x.Get(id)
		to, hasTo := y.Get(id)
		name := to.Name
		if !hasTo {
			name = from.Name
		}
		if name == "" {
			name = c.townName(id)
		}
		fields := []struct {
			kind     valueKind
			name     string
			from, to string
		}{
			{count, "eligible", string(from.Eligible), string(to.Eligible)},
			{count, "voted", string(from.Voted), string(to.Voted)},
			{count, "absentee_received", string(from.AbsenteeReceived), string(to.AbsenteeReceived)},
			{count, "absentee_counted", string(from.AbsenteeCounted), string(to.AbsenteeCounted)},
			{count, "eday_reg_received", string(from.ElectionDayRegReceived),
				string(to.ElectionDayRegReceived)},
			{count, "eday_reg_counted", string(from.ElectionDayRegCounted),
				string(to.ElectionDayRegCounted)},
			{count, "early_voting_received", string(from.EarlyVotingReceived),
				string(to.EarlyVotingReceived)},
			{count, "early_voting_counted", string(from.EarlyVotingCounted),
				string(to.EarlyVotingCounted)},
			{percent, "turnout_percent", string(from.Turnout), string(to.Turnout)},
			{text, "precincts_reporting", from.PrecinctsReporting, to.PrecinctsReporting},
		}
		for _, f := range fields {
			ch, ok := field(f.kind, f.name, f.from, f.to, hasFrom && f.from != "", hasTo && f.to != "")
			if ok {
				ch.TownID, ch.Town = id, name
				c.r.Turnout = append(c.r.Turnout, ch)
			}
		}
	}
}

// lookup lists towns, offices, parties and candidates the lookup data
// added, removed or renamed.
func (c *comparer) lookup() {
	la, lb := c.a.Lookup, c.b.Lookup
	add := func(ch Change, ok bool, id string) {
		if ok {
			ch.SubjectID = id
			c.r.Lookup = append(c.r.Lookup, ch)
		}
	}

	for _, id := range unionKeys(&la.TownIDs, &lb.TownIDs) {
		from, hasFrom := la.TownIDs.Get(id)
		to, hasTo := lb.TownIDs.Get(id)
		ch, ok := field(text, "town_name", from, to, hasFrom, hasTo)
		ch.TownID, ch.Town = id, c.townName(id)
		add(ch, ok, string(id))
	}

	officesA, officesB := officeMap(la), officeMap(lb)
	for _, id := range unionKeys(officesA, officesB) {
		from, hasFrom := officesA.Get(id)
		to, hasTo := officesB.Get(id)
		ch, ok := field(text, "office_name", from.Name, to.Name, hasFrom, hasTo)
		ch.OfficeID, ch.Office = id, c.officeName(id)
		add(ch, ok, string(id))
	}

	for _, id := range unionKeys(&la.PartyIDs, &lb.PartyIDs) {
		from, hasFrom := la.PartyIDs.Get(id)
		to, hasTo := lb.PartyIDs.Get(id)
		ch, ok := field(text, "party_code", from.Code, to.Code, hasFrom, hasTo)
		add(ch, ok, string(id))
		if hasFrom && hasTo {
			ch, ok = field(text, "party_name", from.Name, to.Name, true, true)
			add(ch, ok, string(id))
		}
	}

	for _, id := range unionKeys(&la.CandidateIDs, &lb.CandidateIDs) {
		from, hasFrom := la.CandidateIDs.Get(id)
		to, hasTo := lb.CandidateIDs.Get(id)
		ch, ok := field(text, "candidate_name", from.Name, to.Name, hasFrom, hasTo)
		add(ch, ok, string(id))
		if hasFrom && hasTo {
			ch, ok = field(text, "candidate_party", partyCode(la, from.Party),
				partyCode(lb, to.Party), true, true)
			ch.Subject = to.Name
			add(ch, ok, string(id))
		}
	}
}

// officeMap is a lookup's office list keyed by office ID, first entry
// winning.
func officeMap(ld *snapshot.LookupData) *snapshot.Ordered[snapshot.OfficeID, snapshot.Office] {
	var m snapshot.Ordered[snapshot.OfficeID, snapshot.Office]
	for _, o := range ld.Offices {
		if !m.Has(o.ID) {
			m.Set(o.ID, o)
		}
	}
	return &m
}

// partyCode names a party by its code, or as export does when the lookup
// lacks it.
func partyCode(ld *snapshot.LookupData, id snapshot.PartyID) string {
	if p, ok := ld.PartyIDs.Get(id); ok {
		return p.Code
	}
	return "unknown party " + string(id)
}

// ballotQuestions compares the questions of each place, by position.
func (c *comparer) ballotQuestions() {
	townIDs := map[string]snapshot.TownID{}
	for _, ld := range []*snapshot.LookupData{c.a.Lookup, c.b.Lookup} {
		for id, name := range ld.TownIDs.All() {
			townIDs[strings.ToLower(name)] = id
		}
	}
	x, y := &c.a.Election.BallotQuestions, &c.b.Election.BallotQuestions
	for _, place := range unionKeys(x, y) {
		c.r.knownTowns[strings.ToLower(place)] = true
		qa, _ := x.Get(place)
		qb, _ := y.Get(place)
		for i := range max(len(qa), len(qb)) {
			var from, to snapshot.BallotQuestion
			hasFrom, hasTo := i < len(qa), i < len(qb)
			if hasFrom {
				from = qa[i]
			}
			subject := from.Question
			if hasTo {
				to = qb[i]
				subject = to.Question
			}
			for _, f := range []struct {
				kind     valueKind
				name     string
				from, to string
			}{
				{text, "question", from.Question, to.Question},
				{count, "yes", string(from.Yes), string(to.Yes)},
				{count, "no", string(from.No), string(to.No)},
			} {
				ch, ok := field(f.kind, f.name, f.from, f.to, hasFrom, hasTo)
				if !ok {
					continue
				}
				ch.TownID, ch.Town = townIDs[strings.ToLower(place)], place
				ch.SubjectID, ch.Subject = strconv.Itoa(i+1), subject
				c.r.BallotQuestions = append(c.r.BallotQuestions, ch)
			}
		}
	}
}
