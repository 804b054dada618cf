// Package suspect flags election-night versions whose numbers look wrong.
//
// On election night the feed sometimes publishes counts that are wrong: a
// town's votes shrink, precincts reporting go backwards, a town vanishes.
// Check compares a new version of an election with the last accepted one
// and returns the Reasons, in words a newsroom reads, for which the new
// version is suspect. A suspect version is still a version: storing it is
// the caller's business, and nothing here drops data.
//
// # Kinds
//
// Reasons come in the order of the kinds below; each kind lists at most
// MaxPerKind reasons, then one "and N more".
//
//   - decode-failed: a document does not decode. It is then the only kind.
//   - version-backwards: the version number is lower than the accepted one.
//   - version-reused: the version number is the accepted one's, but the
//     documents differ.
//   - town-disappeared: a town present in the accepted townVotes is absent.
//   - official-revoked: a town's townStatus went from official back to
//     anything else.
//   - votes-decreased: a candidate's count in a town, or statewide
//     (stateVotes), went down, or a candidate with votes left its list.
//   - precincts-decreased: the precincts reporting of the election
//     (election.PR), of a town (townStatus PR, else voterTurnout PR) or of
//     an office (officePrecincts) went down.
//   - state-total-mismatch: an office's stateVotes count for a candidate
//     is not the sum of that candidate's townVotes counts.
//   - negative-count: a vote count is below zero.
//   - shares-not-100: the shares (TO) of a vote list with votes do not add
//     up to 100% within their rounding.
//
// # What the recorded data shows
//
// Every recorded version in testdata/ct-archive (15 elections, 21
// versions, 2022 to 2024) has stateVotes equal to the sum of townVotes for
// every office and candidate, and townVotes never names an office or a
// candidate that stateVotes lacks. State-total-mismatch therefore assumes
// the property on a first version; after that, an office is checked only
// if the accepted version had the property for it, so an election that
// legitimately sums differently is not flagged over and over.
//
// Counts do legitimately go down: between election 80's last
// election-night version (1316) and its certified one (13392), 167 town
// counts fell (one from 163 to 31) as the towns' results became official,
// and some towns' precinct totals changed ("1 of 1" became "1 of 2"). So
// a town's decrease is not flagged when the town turns official in the
// same version, and a statewide decrease is flagged only by the part of it
// those towns do not explain. Precincts reporting compare the reported
// number only, never the total, and a number above the total is let
// through: Deep River's certified line is "2 of 1 (200%)". Reporting
// lines that do not read as "k of P", such as the empty PR of some
// voterTurnout entries, are skipped. Candidates with 0 votes do leave a town's list (election 81);
// only one that had votes is flagged.
//
// Details name towns, offices and candidates as Lookupdata.json does
// (the new version's, else the accepted one's), and fall back to the
// codes ("town 12", "office 9457", "candidate 27489") when it lacks them.
package suspect

import (
	"bytes"
	"fmt"
	"strings"

	"ctrunner/snapshot"
)

// Kind is a stable short code for one kind of suspect change.
type Kind string

// The kinds of Reason, in the order Check lists them.
const (
	DecodeFailed       Kind = "decode-failed"
	VersionBackwards   Kind = "version-backwards"
	VersionReused      Kind = "version-reused"
	TownDisappeared    Kind = "town-disappeared"
	OfficialRevoked    Kind = "official-revoked"
	VotesDecreased     Kind = "votes-decreased"
	PrecinctsDecreased Kind = "precincts-decreased"
	StateTotalMismatch Kind = "state-total-mismatch"
	NegativeCount      Kind = "negative-count"
	SharesNot100       Kind = "shares-not-100"
)

// Kinds lists every kind in the order Check reports them.
var Kinds = []Kind{
	DecodeFailed, VersionBackwards, VersionReused, TownDisappeared, OfficialRevoked, VotesDecreased,
	PrecinctsDecreased, StateTotalMismatch, NegativeCount, SharesNot100,
}

// MaxPerKind is the number of reasons of one kind Check lists before it
// sums up the rest in one reason, "and N more".
const MaxPerKind = 5

// Reason is one thing wrong with a new version, in words a newsroom reads.
type Reason struct {
	Kind   Kind   // a stable short code, e.g. "votes-decreased"
	Detail string // one line: "Hartford, Governor: Ned Lamont (D) 12,345 → 12,001"
}

// String returns the reason as "kind: detail".
func (r Reason) String() string { return string(r.Kind) + ": " + r.Detail }

// Version is one version of an election: its number and its two documents
// as fetched. Check keeps no reference to it; a Checker keeps the accepted
// one and the one checked last, whose bytes must then not be modified.
type Version struct {
	Number       snapshot.Version
	ElectionData []byte // Electiondata.json
	LookupData   []byte // Lookupdata.json
}

// IsZero reports whether v is the zero Version, which stands for "no
// version yet".
func (v Version) IsZero() bool {
	return v.Number == 0 && v.ElectionData == nil && v.LookupData == nil
}

// FromSnapshot returns the version a snapshot holds. A document the
// snapshot lacks is nil, which Check reports as a decode failure.
func FromSnapshot(s *snapshot.Snapshot) Version {
	ed, _ := s.File(snapshot.ElectionDataFile)
	ld, _ := s.File(snapshot.LookupDataFile)
	return Version{Number: s.Version, ElectionData: ed, LookupData: ld}
}

// Check returns the reasons next is suspect compared with prev, the last
// accepted version of the same election, or nil if it is not. When prev is
// zero only the checks on next alone run (decoding, state totals,
// negative counts, shares). A prev that does not decode counts as zero,
// apart from its version number.
//
// Check decodes both versions (Lookupdata.json once if the two are the
// same bytes); a Checker decodes each version only once.
func Check(prev, next Version) []Reason {
	var p *decoded
	if !prev.IsZero() {
		p = decode(prev, nil)
	}
	return compare(p, decode(next, p))
}

// Checker checks the versions of one election as they come, keeping the
// last accepted one decoded. The zero Checker has no accepted version yet.
// A Checker is not safe for concurrent use.
type Checker struct {
	accepted *decoded
	last     *decoded // the version Check saw last, so that Accept can reuse it
}

// Check returns the reasons next is suspect compared with the accepted
// version, as the function Check does. When there are none, next becomes
// the accepted version; a suspect version is not accepted until Accept is
// called with it.
func (c *Checker) Check(next Version) []Reason {
	d := decode(next, c.accepted)
	reasons := compare(c.accepted, d)
	c.last = d
	if len(reasons) == 0 {
		c.accepted = d
	}
	return reasons
}

// Accept makes v the accepted version that later ones are compared with,
// for instance when resuming from a store or once a person has cleared a
// suspect version. It fails, leaving the accepted version as it was, when
// a document of v does not decode.
func (c *Checker) Accept(v Version) error {
	d := c.last
	if d == nil || !d.is(v) {
		d = decode(v, c.accepted)
	}
	if len(d.errs) > 0 {
		return fmt.Errorf("accepting version %d: %w", v.Number, d.errs[0])
	}
	c.accepted = d
	return nil
}

// Accepted returns the number of the accepted version; ok is false when
// there is none.
func (c *Checker) Accepted() (v snapshot.Version, ok bool) {
	if c.accepted == nil {
		return 0, false
	}
	return c.accepted.number, true
}

// compare runs every check of next against prev, which may be nil.
func compare(prev, next *decoded) []Reason {
	var out collector
	if len(next.errs) > 0 {
		for _, err := range next.errs {
			msg := strings.Join(strings.Fields(err.Error()), " ")
			out.add(DecodeFailed, func() string { return msg })
		}
		return out.reasons()
	}
	if prev != nil && next.number < prev.number {
		out.add(VersionBackwards, func() string {
			return fmt.Sprintf("version %d → %d", prev.number, next.number)
		})
	}
	if prev != nil && next.number == prev.number && prev.ed != nil && prev.ld != nil &&
		(!bytes.Equal(prev.ed.raw, next.ed.raw) || !bytes.Equal(prev.ld.raw, next.ld.raw)) {
		out.add(VersionReused, func() string {
			return fmt.Sprintf("version %d published again with different documents", next.number)
		})
	}
	if prev != nil && len(prev.errs) > 0 {
		prev = nil
	}

	lab := newLabeler(next, prev)
	if prev != nil {
		checkTowns(&out, prev, next, lab)
		checkOfficial(&out, prev, next, lab)
		checkVotes(&out, prev, next, lab)
		checkPrecincts(&out, prev, next, lab)
	}
	checkStateTotals(&out, prev, next, lab)
	checkNegative(&out, next, lab)
	checkShares(&out, next, lab)
	return out.reasons()
}

// collector gathers reasons by kind, keeping the first MaxPerKind of each
// and counting the rest.
type collector struct {
	byKind map[Kind][]Reason
	more   map[Kind]int
}

// add records a reason of kind; detail is called only if the reason is
// kept, so that a broken feed costs no formatting.
func (c *collector) add(kind Kind, detail func() string) {
	if c.byKind == nil {
		c.byKind = make(map[Kind][]Reason)
		c.more = make(map[Kind]int)
	}
	if len(c.byKind[kind]) >= MaxPerKind {
		c.more[kind]++
		return
	}
	c.byKind[kind] = append(c.byKind[kind], Reason{Kind: kind, Detail: detail()})
}

// reasons returns the reasons in the order of Kinds, or nil.
func (c *collector) reasons() []Reason {
	var out []Reason
	for _, k := range Kinds {
		out = append(out, c.byKind[k]...)
		if n := c.more[k]; n > 0 {
			out = append(out, Reason{Kind: k, Detail: fmt.Sprintf("and %d more", n)})
		}
	}
	return out
}
