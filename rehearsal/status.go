package rehearsal

import (
	"math"
	"strings"

	"ctrunner/snapshot"
)

// officeLine is one officePrecincts line and the towns voting for the
// office.
type officeLine struct {
	line  *ratioLine
	towns []*town
}

// bindOffices binds officePrecincts; an office's precincts come in with
// the towns that have votes for it in the final document.
func (m *model) bindOffices() {
	townsOf := map[string][]*town{}
	for _, tr := range m.townVotes {
		for _, office := range tr.member.value.objectMembers() {
			townsOf[office.key] = append(townsOf[office.key], tr.town)
		}
	}
	for _, office := range m.root.get("officePrecincts").objectMembers() {
		if line := newRatioLine(office.value); line != nil {
			m.offices = append(m.offices, officeLine{line: line, towns: townsOf[office.key]})
		}
	}
}

func (m *model) renderOffices(f float64) {
	for _, o := range m.offices {
		k, u := unitsIn(o.towns)
		o.line.set(scaled(o.line.r.done, k, u, f))
	}
}

// unitsIn returns the units reported and the units to report of towns.
func unitsIn(towns []*town) (k, u int64) {
	for _, t := range towns {
		k += t.k
		u += t.units
	}
	return k, u
}

// turnoutKeys are the voterTurnout counts that grow during the night; EV,
// the eligible voters, stays as it is.
var turnoutKeys = []string{"VV", "ABR", "ABC", "EDR", "EDC", "EBR", "EBC"}

// turnoutLine is one voterTurnout entry: a town's or the total.
type turnoutLine struct {
	town   *town
	fields []*turnoutField
	voted  *turnoutField // VV
	ev     int64
	share  *percent // TO: VV of EV
	pr     *ratioLine
}

type turnoutField struct {
	count
	key string
	cur int64
}

func bindTurnoutLine(n *node) *turnoutLine {
	l := &turnoutLine{pr: newRatioLine(n.get("PR"))}
	for _, key := range turnoutKeys {
		if c, ok := newCount(n.get(key)); ok {
			f := &turnoutField{count: c, key: key}
			l.fields = append(l.fields, f)
			if key == "VV" {
				l.voted = f
			}
		}
	}
	if ev, ok := newCount(n.get("EV")); ok && l.voted != nil {
		l.ev = ev.final
		l.share = newPercent(n.get("TO"))
	}
	return l
}

func (m *model) bindTurnout() {
	for _, mem := range m.root.get("voterTurnout").objectMembers() {
		l := bindTurnoutLine(mem.value)
		if isTotal(mem) {
			if m.total == nil {
				m.total = l
			}
			continue
		}
		l.town = m.byID[mem.key]
		m.turnout = append(m.turnout, l)
	}
}

// renderTurnout grows each town's turnout with its precincts, and the
// total as the sum of the towns.
func (m *model) renderTurnout(f float64) {
	sums := map[string]int64{}
	finals := map[string]int64{}
	for _, l := range m.turnout {
		for _, fd := range l.fields {
			fd.cur = l.town.scale(fd.final, f)
			fd.set(fd.cur)
			sums[fd.key] += fd.cur
			finals[fd.key] += fd.final
		}
		if l.voted != nil {
			l.share.set(l.voted.cur, l.ev)
		}
		if l.pr != nil {
			l.pr.set(l.town.scale(l.pr.r.done, f))
		}
	}
	m.voted, m.votedFinal = sums["VV"], finals["VV"]
	if m.total == nil {
		return
	}

	t := m.total
	for _, fd := range t.fields {
		fd.cur = scaled(fd.final, sums[fd.key], finals[fd.key], f)
		fd.set(fd.cur)
	}
	if t.voted != nil {
		t.share.set(t.voted.cur, t.ev)
		m.voted, m.votedFinal = t.voted.cur, t.voted.final
	}
	if t.pr != nil {
		k, u := unitsIn(m.towns)
		t.pr.set(scaled(t.pr.r.done, k, u, f))
	}
}

// townStatusLine is one townStatus entry.
type townStatusLine struct {
	town                 *town
	ts                   *node
	official, unofficial []byte
	pr                   *ratioLine
}

// unofficialText is written for a town not yet official when the final
// document shows no unofficial town to copy the text from.
const unofficialText = `"( *Unofficial Results )"`

func (m *model) bindStatus() {
	unofficial := []byte(unofficialText)
	members := m.root.get("townStatus").objectMembers()
	for _, mem := range members {
		if ts := mem.value.get("TS"); ts != nil && ts.kind == 0 && !isOfficial(ts.text()) &&
			strings.Contains(strings.ToLower(ts.text()), "unofficial") {
			unofficial = ts.raw
			break
		}
	}
	for _, mem := range members {
		l := townStatusLine{town: m.byID[mem.key], pr: newRatioLine(mem.value.get("PR"))}
		if ts := mem.value.get("TS"); ts != nil && ts.kind == 0 && isOfficial(ts.text()) {
			l.ts, l.official, l.unofficial = ts, ts.raw, unofficial
		}
		m.status = append(m.status, l)
	}
}

// renderStatus makes a town official late in the night once it is fully
// in, if it is official in the end.
func (m *model) renderStatus(f float64) {
	for _, l := range m.status {
		if l.ts != nil {
			if l.town.done() && f >= l.town.officialAt {
				l.ts.setRaw(l.official)
			} else {
				l.ts.setRaw(l.unofficial)
			}
		}
		if l.pr != nil {
			l.pr.set(l.town.scale(l.pr.r.done, f))
		}
	}
}

// electionLines are the members of "election" that change.
type electionLines struct {
	ballots    *count // BC
	registered int64  // RV
	turnout    *percent
	precincts  *ratioLine // PR
	towns      *ratioLine // T: towns fully in
	partly     *ratioLine // PT: towns partly in
}

func (m *model) bindElection() {
	e := m.root.get("election")
	el := &m.election
	if bc, ok := newCount(e.get("BC")); ok {
		el.ballots = &bc
		if rv, ok := newCount(e.get("RV")); ok {
			el.registered = rv.final
			el.turnout = newPercent(e.get("TO"))
		}
	}
	el.precincts = newRatioLine(e.get("PR"))
	el.towns = newRatioLine(e.get("T"))
	el.partly = newRatioLine(e.get("PT"))
}

// renderElection sets the election-wide lines; it runs after
// renderTurnout, whose ballots it reports.
func (m *model) renderElection(f float64) {
	el := &m.election
	if el.ballots != nil {
		bc := scaled(el.ballots.final, m.voted, m.votedFinal, f)
		el.ballots.set(bc)
		el.turnout.set(bc, el.registered)
	}
	if el.precincts != nil {
		k, u := unitsIn(m.towns)
		el.precincts.set(scaled(el.precincts.r.done, k, u, f))
	}
	var in, partly, reporting int64
	for _, t := range m.towns {
		if t.units == 0 {
			continue
		}
		reporting++
		switch {
		case t.k == t.units:
			in++
		case t.k > 0:
			partly++
		}
	}
	if el.towns != nil {
		el.towns.set(scaled(el.towns.r.done, in, reporting, f))
	}
	if el.partly != nil {
		el.partly.set(min(partly, el.partly.r.total))
	}
}

// districtFlags are the S flags of one town's polling places that are set
// in the final document.
type districtFlags struct {
	town  *town
	flags []*flagLine
}

func (m *model) bindDistricts() {
	d := m.root.get("districts")
	if d == nil || d.kind != '[' {
		return
	}
	for _, item := range d.items {
		for _, mem := range item.objectMembers() {
			df := districtFlags{town: m.byID[mem.key]}
			if mem.value.kind != '[' {
				continue
			}
			for _, place := range mem.value.items {
				for _, p := range place.objectMembers() {
					if fl := newFlagLine(p.value.get("S")); fl != nil {
						df.flags = append(df.flags, fl)
					}
				}
			}
			m.districts = append(m.districts, df)
		}
	}
}

// renderDistricts sets the flags of a town's first polling places, in
// document order, as its precincts come in.
func (m *model) renderDistricts(f float64) {
	for _, df := range m.districts {
		in := df.town.scale(int64(len(df.flags)), f)
		for i, fl := range df.flags {
			fl.set(int64(i) < in)
		}
	}
}

// questionCount is a YES or NO count of one ballot question in one town or
// statewide.
type questionCount struct {
	count
	town  *town
	slot  int // the statewide sum it adds to or reads, or -1
	alpha float64
}

// statewideKey is the ballotQuestion member that sums the towns.
const statewideKey = "state wide"

func (m *model) bindQuestions(ld *snapshot.LookupData, draw func() float64) {
	byName := map[string]*town{}
	for id, name := range ld.TownIDs.All() {
		byName[strings.ToLower(strings.TrimSpace(name))] = m.byID[string(id)]
	}
	alphas := map[int]float64{}
	bq := m.root.get("ballotQuestion").objectMembers()
	for _, mem := range bq {
		name := strings.ToLower(strings.TrimSpace(mem.key))
		if name == statewideKey {
			continue
		}
		for _, c := range bindQuestionCounts(mem.value) {
			c.town = byName[name]
			c.slot = m.qSums.slot(c.name)
			m.qSums.final[c.slot] += c.final
			if _, ok := alphas[c.slot]; !ok {
				alphas[c.slot] = 0.85 + 0.35*draw()
			}
			c.alpha = alphas[c.slot]
			m.questions = append(m.questions, c.questionCount)
		}
	}
	for _, mem := range bq {
		if strings.ToLower(strings.TrimSpace(mem.key)) == statewideKey {
			for _, c := range bindQuestionCounts(mem.value) {
				c.slot = m.qSums.lookup(c.name)
				m.statewideQs = append(m.statewideQs, c.questionCount)
			}
		}
	}
}

// namedCount is a question count and the name of its statewide sum.
type namedCount struct {
	*questionCount
	name string
}

// bindQuestionCounts binds the YES and NO counts of a list of questions.
func bindQuestionCounts(n *node) []namedCount {
	if n == nil || n.kind != '[' {
		return nil
	}
	var counts []namedCount
	for _, q := range n.items {
		qn := strings.TrimSpace(q.get("QN").text())
		for _, side := range []string{"YES", "NO"} {
			if c, ok := newCount(q.get(side)); ok {
				counts = append(counts,
					namedCount{&questionCount{count: c, slot: -1}, side + "\x00" + qn})
			}
		}
	}
	return counts
}

// renderQuestions grows each town's YES and NO with its precincts, and
// "State Wide" as their sum.
func (m *model) renderQuestions(f float64) {
	m.qSums.reset()
	for _, c := range m.questions {
		cur := int64(math.Floor(float64(c.final) * math.Pow(c.town.fraction(f), c.alpha)))
		c.set(cur)
		m.qSums.cur[c.slot] += cur
	}
	for _, c := range m.statewideQs {
		if c.slot < 0 {
			c.set(scaled(c.final, 0, 0, f))
			continue
		}
		c.set(scaled(c.final, m.qSums.cur[c.slot], m.qSums.final[c.slot], f))
	}
}

func (m *model) bindReports() {
	m.io = newFlagLine(m.root.get("reports").get("IO"))
}
