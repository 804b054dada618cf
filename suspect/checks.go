package suspect

import (
	"fmt"
	"math"
	"strings"

	"ctrunner/snapshot"
)

// checkTowns flags the towns that had results in prev and have none in
// next.
func checkTowns(out *collector, prev, next *decoded, lab *labeler) {
	nextVotes := &next.ed.data.TownVotes
	for town, offices := range prev.ed.data.TownVotes.All() {
		if nextVotes.Has(town) {
			continue
		}
		out.add(TownDisappeared, func() string {
			return fmt.Sprintf("%s: had results for %s, now missing from townVotes",
				lab.town(town, ""), plural(offices.Len(), "office"))
		})
	}
}

// checkOfficial flags the towns whose results were official in prev and
// are not in next. A town missing from next's townStatus is not flagged.
func checkOfficial(out *collector, prev, next *decoded, lab *labeler) {
	nextStatus := &next.ed.data.TownStatus
	for town, before := range prev.ed.data.TownStatus.All() {
		after, ok := nextStatus.Get(town)
		if !ok || !before.Official() || after.Official() {
			continue
		}
		out.add(OfficialRevoked, func() string {
			return fmt.Sprintf("%s: official results now %q", lab.town(town, ""),
				strings.TrimSpace(after.Status))
		})
	}
}

// voteKey names one candidate of one office.
type voteKey struct {
	office    snapshot.OfficeID
	candidate snapshot.CandidateID
}

// checkVotes flags the counts that went down from prev to next, in towns
// and statewide. A town turning official may lower its counts: the part of
// a statewide decrease such towns explain is not flagged either.
func checkVotes(out *collector, prev, next *decoded, lab *labeler) {
	var explained map[voteKey]int64
	for town, offices := range prev.ed.data.TownVotes.All() {
		nextOffices, ok := next.ed.data.TownVotes.Get(town)
		if !ok {
			continue // checkTowns reports it
		}
		madeOfficial := !official(prev, town) && official(next, town)
		for office, before := range offices.All() {
			after, _ := nextOffices.Get(office)
			for i, v := range before {
				b, a, missing, down := decreased(v, after, i)
				switch {
				case !down:
				case madeOfficial:
					if explained == nil {
						explained = make(map[voteKey]int64)
					}
					explained[voteKey{office, v.Candidate}] += b - a
				default:
					out.add(VotesDecreased, func() string {
						return voteChange(lab, town, office, v.Candidate, b, a, missing)
					})
				}
			}
		}
	}

	for office, before := range prev.ed.data.StateVotes.All() {
		after, _ := next.ed.data.StateVotes.Get(office)
		for i, v := range before {
			b, a, missing, down := decreased(v, after, i)
			if down && b-a > explained[voteKey{office, v.Candidate}] {
				out.add(VotesDecreased, func() string {
					return voteChange(lab, "", office, v.Candidate, b, a, missing)
				})
			}
		}
	}
}

// decreased compares a count of prev with the same candidate's count in
// list, the next version's list of the same office and place, where the
// candidate is expected near index i. A candidate that had votes and is
// missing from list counts as 0. Counts that are not numbers are skipped.
func decreased(v snapshot.Vote, list []snapshot.Vote, i int) (before, after int64,
	missing, down bool) {
	before, ok := v.Votes.Int()
	if !ok || before <= 0 {
		return 0, 0, false, false
	}
	w, found := findVote(list, v.Candidate, i)
	if !found {
		return before, 0, true, true
	}
	after, ok = w.Votes.Int()
	return before, after, false, ok && after < before
}

// findVote returns the candidate's entry in list, looking at index i first
// since lists keep their order from one version to the next.
func findVote(list []snapshot.Vote, candidate snapshot.CandidateID, i int) (snapshot.Vote,
	bool) {
	if i < len(list) && list[i].Candidate == candidate {
		return list[i], true
	}
	for _, v := range list {
		if v.Candidate == candidate {
			return v, true
		}
	}
	return snapshot.Vote{}, false
}

func voteChange(lab *labeler, town snapshot.TownID, office snapshot.OfficeID,
	candidate snapshot.CandidateID, before, after int64, missing bool) string {
	to := snapshot.Thousands(after)
	if missing {
		to = "missing"
	}
	return fmt.Sprintf("%s: %s %s → %s", lab.place(town, office), lab.candidate(candidate),
		snapshot.Thousands(before), to)
}

// official reports whether d's townStatus says the town's results are
// official.
func official(d *decoded, town snapshot.TownID) bool {
	s, ok := d.ed.data.TownStatus.Get(town)
	return ok && s.Official()
}

// checkPrecincts flags the reporting lines whose number reported went down:
// the election's, each town's (townStatus, or voterTurnout when townStatus
// did not flag it) and each office's.
func checkPrecincts(out *collector, prev, next *decoded, lab *labeler) {
	pe, ne := prev.ed.data, next.ed.data
	compareLines(out, pe.Election.PrecinctsReporting, ne.Election.PrecinctsReporting,
		func() string { return "Election" })

	flagged := make(map[snapshot.TownID]bool)
	for town, before := range pe.TownStatus.All() {
		after, ok := ne.TownStatus.Get(town)
		if ok && compareLines(out, before.PrecinctsReporting, after.PrecinctsReporting,
			func() string { return lab.town(town, "") }) {
			flagged[town] = true
		}
	}
	for town, before := range pe.VoterTurnout.All() {
		after, ok := ne.VoterTurnout.Get(town)
		if ok && !flagged[town] {
			compareLines(out, before.PrecinctsReporting, after.PrecinctsReporting,
				func() string { return lab.town(town, after.Name) })
		}
	}

	for office, before := range pe.OfficePrecincts.All() {
		if after, ok := ne.OfficePrecincts.Get(office); ok {
			compareLines(out, before, after,
				func() string { return lab.office(office) + ", all towns" })
		}
	}
}

// compareLines flags a reporting line whose number reported went down and
// reports whether it did.
func compareLines(out *collector, before, after string, label func() string) bool {
	b, ok1 := reported(before)
	a, ok2 := reported(after)
	if !ok1 || !ok2 || a >= b {
		return false
	}
	out.add(PrecinctsDecreased, func() string {
		return fmt.Sprintf("%s: precincts reporting %s → %s", label(), line(before), line(after))
	})
	return true
}

// stateSums is what an ElectionData says about its statewide totals.
type stateSums struct {
	mismatches []mismatch
	// offices holds the offices with a mismatch.
	offices map[snapshot.OfficeID]bool
}

// mismatch is a statewide count that is not the sum of the towns.
type mismatch struct {
	voteKey
	state    int64
	hasState bool // false when stateVotes lacks the candidate
	towns    int64
}

// totals compares the statewide counts of ed with the sums of its towns,
// once. Candidates with a count that is not a number, in a town or
// statewide, are left out.
func (ed *electionDoc) totals() *stateSums {
	if ed.sums != nil {
		return ed.sums
	}
	type sum struct {
		n             int64
		bad, inStates bool
	}
	sums := make(map[voteKey]*sum)
	var order []voteKey
	for _, offices := range ed.data.TownVotes.All() {
		for office, votes := range offices.All() {
			for _, v := range votes {
				k := voteKey{office, v.Candidate}
				s := sums[k]
				if s == nil {
					s = &sum{}
					sums[k] = s
					order = append(order, k)
				}
				n, ok := v.Votes.Int()
				s.n += n
				s.bad = s.bad || !ok
			}
		}
	}

	r := &stateSums{offices: make(map[snapshot.OfficeID]bool)}
	for office, votes := range ed.data.StateVotes.All() {
		for _, v := range votes {
			k := voteKey{office, v.Candidate}
			n, ok := v.Votes.Int()
			s := sums[k]
			if s == nil {
				s = &sum{}
			}
			s.inStates = true
			if ok && !s.bad && n != s.n {
				r.mismatches = append(r.mismatches,
					mismatch{voteKey: k, state: n, hasState: true, towns: s.n})
			}
		}
	}
	for _, k := range order {
		if s := sums[k]; !s.inStates && !s.bad && s.n != 0 {
			r.mismatches = append(r.mismatches, mismatch{voteKey: k, towns: s.n})
		}
	}
	for _, m := range r.mismatches {
		r.offices[m.office] = true
	}
	ed.sums = r
	return r
}

// checkStateTotals flags the statewide counts of next that are not the sum
// of its towns, for the offices where prev's were (all of them when prev
// is nil: in the recorded data they always are).
func checkStateTotals(out *collector, prev, next *decoded, lab *labeler) {
	var known map[snapshot.OfficeID]bool
	if prev != nil {
		known = prev.ed.totals().offices
	}
	for _, m := range next.ed.totals().mismatches {
		if known[m.office] {
			continue
		}
		out.add(StateTotalMismatch, func() string {
			state := "missing"
			if m.hasState {
				state = snapshot.Thousands(m.state)
			}
			return fmt.Sprintf("%s: %s statewide %s, towns add up to %s",
				lab.office(m.office), lab.candidate(m.candidate), state, snapshot.Thousands(m.towns))
		})
	}
}

// eachList calls f with every vote list of ed: each town's, then the
// statewide ones (town "").
func eachList(ed *snapshot.ElectionData,
	f func(town snapshot.TownID, office snapshot.OfficeID, votes []snapshot.Vote)) {
	for town, offices := range ed.TownVotes.All() {
		for office, votes := range offices.All() {
			f(town, office, votes)
		}
	}
	for office, votes := range ed.StateVotes.All() {
		f("", office, votes)
	}
}

// checkNegative flags vote counts below zero.
func checkNegative(out *collector, next *decoded, lab *labeler) {
	eachList(next.ed.data, func(town snapshot.TownID, office snapshot.OfficeID,
		votes []snapshot.Vote) {
		for _, v := range votes {
			if n, ok := v.Votes.Int(); ok && n < 0 {
				out.add(NegativeCount, func() string {
					return fmt.Sprintf("%s: %s %s votes", lab.place(town, office),
						lab.candidate(v.Candidate), snapshot.Thousands(n))
				})
			}
		}
	})
}

// checkShares flags the vote lists with votes whose shares do not add up
// to 100%. Each share may be off by half a unit of its last decimal, and
// the sum by a further 0.01; lists where a count or a share is not a
// number are skipped.
func checkShares(out *collector, next *decoded, lab *labeler) {
	eachList(next.ed.data, func(town snapshot.TownID, office snapshot.OfficeID,
		votes []snapshot.Vote) {
		var total int64
		var sum, slack float64
		for _, v := range votes {
			n, ok1 := v.Votes.Int()
			share, ok2 := v.Share.Float()
			if !ok1 || !ok2 {
				return
			}
			total += n
			sum += share
			slack += halfUnit(string(v.Share))
		}
		if total <= 0 || math.Abs(sum-100) <= slack+0.01 {
			return
		}
		out.add(SharesNot100, func() string {
			return fmt.Sprintf("%s: shares add up to %.2f%%", lab.place(town, office), sum)
		})
	})
}

// halfUnit returns half a unit of the last decimal a percentage is
// written with: 0.005 for "47.80%", 0.5 for "100%".
func halfUnit(p string) float64 {
	p = strings.TrimSuffix(strings.TrimSpace(p), "%")
	_, frac, found := strings.Cut(strings.TrimSpace(p), ".")
	if !found {
		return 0.5
	}
	return 0.5 * math.Pow(10, -float64(len(frac)))
}

// plural writes "1 office", "3 offices".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
