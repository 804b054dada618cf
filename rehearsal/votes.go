package rehearsal

import "math"

// voteEntry is one candidate's count, {candidate: {V, TO}}, in a list of
// townVotes, stateVotes or candidateGrouping.
type voteEntry struct {
	count
	candidate string
	share     *percent
	alpha     float64    // the candidate's curve, for town counts
	slot      int        // the statewide sum it adds to, or -1
	ref       *voteEntry // grouping: the candidate's stateVotes entry
	cur       int64      // the count at the moment rendered
}

// voteList is the list of one office in one town or statewide.
type voteList struct {
	entries    []*voteEntry
	finalTotal int64
	ref        *voteList // grouping: the office's stateVotes list
}

// bindVoteList binds the counts of a list [{candidate: {V, TO}}]. Entries
// whose V is not a count are left as they are.
func bindVoteList(n *node) *voteList {
	l := &voteList{}
	if n == nil || n.kind != '[' {
		return l
	}
	for _, item := range n.items {
		for _, mem := range item.objectMembers() {
			c, ok := newCount(mem.value.get("V"))
			if !ok {
				continue
			}
			e := &voteEntry{count: c, candidate: mem.key, slot: -1}
			e.share = newPercent(mem.value.get("TO"))
			l.entries = append(l.entries, e)
			l.finalTotal += c.final
		}
	}
	return l
}

func (l *voteList) total() int64 {
	var sum int64
	for _, e := range l.entries {
		sum += e.cur
	}
	return sum
}

// write sets every count to its current value and its share to the part
// of whole.
func (l *voteList) write(whole int64) {
	for _, e := range l.entries {
		e.set(e.cur)
		e.share.set(e.cur, whole)
	}
}

// townResult is one town's member of townVotes.
type townResult struct {
	town   *town
	member *member
	lists  []*voteList
}

// sumSet accumulates counts under names: the final sums and the sums at
// the moment rendered.
type sumSet struct {
	index      map[string]int
	final, cur []int64
}

// slot returns the index of name, adding it if new.
func (s *sumSet) slot(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	if s.index == nil {
		s.index = map[string]int{}
	}
	s.index[name] = len(s.final)
	s.final = append(s.final, 0)
	s.cur = append(s.cur, 0)
	return len(s.final) - 1
}

// lookup returns the index of name, or -1.
func (s *sumSet) lookup(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

func (s *sumSet) reset() { clear(s.cur) }

// sumName names the statewide sum of one candidate of one office.
func sumName(office, candidate string) string { return office + "\x00" + candidate }

// bindTownVotes binds every town's lists and draws each candidate's curve
// on first sight.
func (m *model) bindTownVotes(draw func() float64) {
	alphas := map[string]float64{}
	tv := m.root.get("townVotes")
	if tv == nil || tv.kind != '{' {
		return
	}
	for i := range tv.members {
		mem := &tv.members[i]
		tr := townResult{town: m.byID[mem.key], member: mem}
		for _, office := range mem.value.objectMembers() {
			l := bindVoteList(office.value)
			for _, e := range l.entries {
				name := sumName(office.key, e.candidate)
				a, ok := alphas[name]
				if !ok {
					a = 0.75 + 0.6*draw()
					alphas[name] = a
				}
				e.alpha = a
				e.slot = m.sums.slot(name)
				m.sums.final[e.slot] += e.final
			}
			tr.lists = append(tr.lists, l)
		}
		m.townVotes = append(m.townVotes, tr)
	}
}

// bindStateVotes binds stateVotes to the sums of the towns.
func (m *model) bindStateVotes() {
	m.stateByOffice = map[string]*voteList{}
	for _, office := range m.root.get("stateVotes").objectMembers() {
		l := bindVoteList(office.value)
		for _, e := range l.entries {
			e.slot = m.sums.lookup(sumName(office.key, e.candidate))
		}
		m.stateVotes = append(m.stateVotes, l)
		if _, dup := m.stateByOffice[office.key]; !dup {
			m.stateByOffice[office.key] = l
		}
	}
}

// bindGrouping binds candidateGrouping to stateVotes: a person's combined
// count grows as the count of the same candidate ID statewide, or as the
// office's total when that ID is not there.
func (m *model) bindGrouping() {
	for _, office := range m.root.get("candidateGrouping").objectMembers() {
		l := bindVoteList(office.value)
		l.ref = m.stateByOffice[office.key]
		if l.ref != nil {
			for _, e := range l.entries {
				for _, s := range l.ref.entries {
					if s.candidate == e.candidate && s.final > 0 {
						e.ref = s
						break
					}
				}
			}
		}
		m.grouping = append(m.grouping, l)
	}
}

// renderVotes computes every town's counts, then the statewide ones.
func (m *model) renderVotes(f float64) {
	m.sums.reset()
	for _, tr := range m.townVotes {
		tr.member.hidden = tr.town.k == 0
		x := tr.town.fraction(f)
		for _, l := range tr.lists {
			for _, e := range l.entries {
				e.cur = int64(math.Floor(float64(e.final) * math.Pow(x, e.alpha)))
				m.sums.cur[e.slot] += e.cur
			}
			l.write(l.total())
		}
	}

	for _, l := range m.stateVotes {
		for _, e := range l.entries {
			if e.slot < 0 {
				e.cur = scaled(e.final, 0, 0, f)
				continue
			}
			e.cur = scaled(e.final, m.sums.cur[e.slot], m.sums.final[e.slot], f)
		}
		l.write(l.total())
	}

	for _, l := range m.grouping {
		for _, e := range l.entries {
			switch {
			case e.ref != nil:
				e.cur = scaleInt(e.final, e.ref.cur, e.ref.final)
			case l.ref != nil:
				e.cur = scaled(e.final, l.ref.total(), l.ref.finalTotal, f)
			default:
				e.cur = scaled(e.final, 0, 0, f)
			}
		}
		whole := l.total()
		if l.ref != nil {
			whole = l.ref.total()
		}
		l.write(whole)
	}
}
