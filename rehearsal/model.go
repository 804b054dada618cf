package rehearsal

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"ctrunner/snapshot"
)

// model is the final document as a tree plus, for every value the night
// changes, where it is, its final value and how it grows. render rewrites
// those values in the tree for one moment of the night and encodes it.
type model struct {
	root  *node
	size  int // length of the final document, to size the output
	towns []*town
	byID  map[string]*town

	townVotes     []townResult
	stateVotes    []*voteList
	stateByOffice map[string]*voteList
	grouping      []*voteList
	sums          sumSet // statewide sums of the town votes, per office and candidate
	offices       []officeLine
	turnout       []*turnoutLine
	total         *turnoutLine
	voted         int64 // ballots at the moment rendered (voterTurnout VV)
	votedFinal    int64
	status        []townStatusLine
	election      electionLines
	districts     []districtFlags
	questions     []*questionCount
	statewideQs   []*questionCount
	qSums         sumSet // sums of the towns' YES and NO, per question
	io            *flagLine
}

// newModel finds in the final document every value the night changes and
// draws the night's randomness, in document order.
func newModel(final []byte, ld *snapshot.LookupData, rng *rand.Rand) (*model, error) {
	root, err := parseTree(final)
	if err != nil {
		return nil, err
	}
	m := &model{root: root, size: len(final), byID: map[string]*town{}}
	m.findTowns()
	m.drawTimes(rng)

	m.bindTownVotes(rng.Float64)
	m.bindStateVotes()
	m.bindGrouping()
	m.bindOffices()
	m.bindTurnout()
	m.bindStatus()
	m.bindElection()
	m.bindDistricts()
	m.bindQuestions(ld, rng.Float64)
	m.bindReports()
	return m, nil
}

// render rewrites the tree for progress f in (0, 1) and encodes it.
func (m *model) render(f float64) []byte {
	for _, t := range m.towns {
		t.update(f)
	}
	m.renderVotes(f)
	m.renderOffices(f)
	m.renderTurnout(f)
	m.renderStatus(f)
	m.renderElection(f)
	m.renderDistricts(f)
	m.renderQuestions(f)
	if m.io != nil {
		m.io.set(false)
	}
	return appendTree(make([]byte, 0, m.size+m.size/8), m.root)
}

// town is one town of the election and its reporting schedule.
type town struct {
	id string
	// units is the number of precincts the town has reported in the
	// final document (1 for a town with votes but no precinct count, 0
	// for a town without results).
	units int64
	// times holds each unit's report time in (0, 1], in order.
	times []float64
	// officialAt is when a town official in the final document becomes
	// so, once all its units are in: late in the night.
	officialAt float64
	k          int64 // units reported at the moment rendered
}

func (t *town) update(f float64) {
	t.k = int64(sort.Search(len(t.times), func(i int) bool { return t.times[i] > f }))
}

// done reports whether the town has reported all it will report.
func (t *town) done() bool { return t.k == t.units }

// fraction returns the share of the town's units in, or f for a town
// without units.
func (t *town) fraction(f float64) float64 {
	if t == nil || t.units == 0 {
		return f
	}
	return float64(t.k) / float64(t.units)
}

// scale returns floor(final × the share of the town's units in).
func (t *town) scale(final int64, f float64) int64 {
	if t == nil || t.units == 0 {
		return int64(math.Floor(float64(final) * f))
	}
	return scaleInt(final, t.k, t.units)
}

// scaled grows a total that should be part/whole of the way to final: the
// statewide count of a candidate is its final count times the share of its
// final town sum counted so far, which is exactly the sum of the towns when
// the final document has that property. With no town sum, it follows f.
func scaled(final, part, whole int64, f float64) int64 {
	if whole > 0 {
		return scaleInt(final, part, whole)
	}
	return int64(math.Floor(float64(final) * f))
}

// maxUnits bounds the precincts of one town the model tracks, so that a
// document claiming millions costs no memory; the largest town has about
// fifty. A town with more reports them in maxUnits steps.
const maxUnits = 10000

// findTowns lists the towns named anywhere in the document, and how many
// precincts each reports in the end.
func (m *model) findTowns() {
	add := func(id string) *town {
		t := m.byID[id]
		if t == nil {
			t = &town{id: id}
			m.byID[id] = t
			m.towns = append(m.towns, t)
		}
		return t
	}
	for _, mem := range m.root.get("townStatus").objectMembers() {
		t := add(mem.key)
		if r, ok := parseRatio(mem.value.get("PR").text()); ok {
			t.units = min(r.done, maxUnits)
		}
	}
	for _, mem := range m.root.get("townVotes").objectMembers() {
		if t := add(mem.key); t.units == 0 {
			t.units = 1
		}
	}
	for _, mem := range m.root.get("voterTurnout").objectMembers() {
		if !isTotal(mem) {
			add(mem.key)
		}
	}
}

// isTotal reports whether a voterTurnout member is the total of all towns.
func isTotal(mem member) bool {
	return mem.key == "Total" ||
		strings.EqualFold(strings.TrimSpace(mem.value.get("NM").text()), "Total")
}

// isOfficial reads a townStatus TS line.
func isOfficial(ts string) bool {
	s := strings.ToLower(ts)
	return strings.Contains(s, "official") && !strings.Contains(s, "unofficial")
}

// drawTimes gives each town a span of the night and each of its units a
// report time in it. Larger towns report over a longer span; small towns
// tend to come in early.
func (m *model) drawTimes(rng *rand.Rand) {
	var most int64 = 1
	for _, t := range m.towns {
		most = max(most, t.units)
	}
	for _, t := range m.towns {
		t.officialAt = 0.85 + 0.15*rng.Float64()
		if t.units == 0 {
			continue
		}
		z := math.Log1p(float64(t.units)) / math.Log1p(float64(most))
		span := 0.08 + 0.5*z*(0.6+0.4*rng.Float64())
		start := (1 - span) * math.Pow(rng.Float64(), 1.3-0.6*z)
		t.times = make([]float64, t.units)
		for i := range t.times {
			t.times[i] = min(1, start+span*(1-rng.Float64()))
		}
		sort.Float64s(t.times)
	}
}

// objectMembers returns an object's members, or nil for anything else.
func (n *node) objectMembers() []member {
	if n == nil || n.kind != '{' {
		return nil
	}
	return n.members
}

// count is a count in the tree and its final value.
type count struct {
	n      *node
	final  int64
	commas bool
}

// newCount binds a count node; ok is false when it holds no count.
func newCount(n *node) (c count, ok bool) {
	if n == nil || n.kind != 0 {
		return c, false
	}
	final, commas, ok := parseCount(n.text())
	return count{n: n, final: final, commas: commas}, ok
}

func (c count) set(v int64) { c.n.setText(formatCount(v, c.commas)) }

// percent is a percentage in the tree, rewritten in its own style.
type percent struct {
	n     *node
	style percentStyle
}

// newPercent binds a percentage node, or returns nil.
func newPercent(n *node) *percent {
	if n == nil || n.kind != 0 {
		return nil
	}
	st, ok := parsePercentStyle(n.text())
	if !ok {
		return nil
	}
	return &percent{n: n, style: st}
}

func (p *percent) set(part, whole int64) {
	if p != nil {
		p.n.setText(p.style.format(part, whole))
	}
}

// ratioLine is a reporting line in the tree: "760 of 763 (99.61%)".
type ratioLine struct {
	n *node
	r ratio
}

// newRatioLine binds a reporting line node, or returns nil.
func newRatioLine(n *node) *ratioLine {
	if n == nil || n.kind != 0 {
		return nil
	}
	r, ok := parseRatio(n.text())
	if !ok {
		return nil
	}
	return &ratioLine{n: n, r: r}
}

func (l *ratioLine) set(done int64) {
	if l != nil {
		l.n.setText(l.r.format(done))
	}
}

// flagLine is a flag in the tree that is true in the final document.
type flagLine struct {
	n          *node
	truth, lie []byte
}

// newFlagLine binds a flag that is true in the final document, or returns
// nil.
func newFlagLine(n *node) *flagLine {
	if n == nil || n.kind != 0 {
		return nil
	}
	if v, ok := flagValue(n); !ok || !v {
		return nil
	}
	return &flagLine{n: n, truth: n.raw, lie: flagText(n, false)}
}

func (l *flagLine) set(v bool) {
	if v {
		l.n.setRaw(l.truth)
	} else {
		l.n.setRaw(l.lie)
	}
}
