package snapshot

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Extra holds the members of an API object that the decoders do not know,
// by key in document order, as raw JSON. New fields appear in the API from
// time to time; they are kept rather than refused.
type Extra = Ordered[string, json.RawMessage]

// ElectionData is the decoded Electiondata.json: the counts of one version
// of one election.
type ElectionData struct {
	// Election is the election-wide status ("election").
	Election ElectionStatus
	// VoterTurnout is the turnout per town ("voterTurnout"). It holds one
	// more entry than there are towns, the total; see Total.
	VoterTurnout Ordered[TownID, Turnout]
	// TownStatus says per town whether its results are official.
	TownStatus Ordered[TownID, TownStatus]
	// TownVotes holds per town, per office, the votes of each candidate.
	// Towns that have not reported are absent.
	TownVotes Ordered[TownID, Ordered[OfficeID, []Vote]]
	// StateVotes holds per office the votes of each candidate over all
	// towns.
	StateVotes Ordered[OfficeID, []Vote]
	// CandidateGrouping holds per office the combined votes of a person
	// endorsed by several parties (a guess from the data).
	CandidateGrouping Ordered[OfficeID, []Vote]
	// OfficePrecincts holds per office its precincts reporting line,
	// "33 of 121 (27.27%)".
	OfficePrecincts Ordered[OfficeID, string]
	// Districts lists the polling places of each town and whether they
	// have reported.
	Districts []District
	// BallotQuestions holds the questions per town name ("ballotQuestion");
	// the statewide count is under "State Wide".
	BallotQuestions Ordered[string, []BallotQuestion]
	// Reports holds the report flags ("reports").
	Reports Reports
	// Extra holds top-level members the decoder does not know.
	Extra Extra
}

// ElectionStatus is the election-wide part of ElectionData ("election").
type ElectionStatus struct {
	ID                   ElectionID
	BallotsCast          Count   // BC
	PrecinctsReporting   string  // PR: "760 of 763 (99.61%)"
	RegisteredVoters     Count   // RV
	TownsReporting       string  // T: "169 of 169"
	TownsPartlyReporting string  // PT (a guess from the data)
	Turnout              Percent // TO
	ShowVoteTotals       Flag    // SVT (a guess from the data)
	Extra                Extra
}

// Turnout is one town's voter turnout, or the total.
type Turnout struct {
	Name                   string  // NM; "Total" for the total
	PrecinctsReporting     string  // PR
	Eligible               Count   // EV
	Voted                  Count   // VV
	AbsenteeReceived       Count   // ABR
	AbsenteeCounted        Count   // ABC
	ElectionDayRegReceived Count   // EDR: election-day registrations
	ElectionDayRegCounted  Count   // EDC
	EarlyVotingReceived    Count   // EBR, from 2024
	EarlyVotingCounted     Count   // EBC, from 2024
	Turnout                Percent // TO
	Extra                  Extra
}

// TownStatus says whether a town's results are official.
type TownStatus struct {
	Status             string // TS: "( *Unofficial Results )" or "( Official Results )"
	PrecinctsReporting string // PR
	Extra              Extra
}

// Official reports whether the status text says the results are official.
func (s TownStatus) Official() bool {
	t := strings.ToLower(s.Status)
	return strings.Contains(t, "official") && !strings.Contains(t, "unofficial")
}

// Vote is one candidate's count in one town or statewide. The API writes
// each as a one-key object {candidate ID: {V, TO}}.
type Vote struct {
	Candidate CandidateID
	Votes     Count   // V
	Share     Percent // TO
	// HasVotes and HasShare say whether V and TO were present at all.
	HasVotes, HasShare bool
	Extra              Extra
}

// District is one town's list of polling places in "districts".
type District struct {
	Town   TownID
	Places []Precinct
}

// Precinct is one polling place in "districts".
type Precinct struct {
	ID       PollingPlaceID
	TownName string // TN
	Name     string // PN: "1-Andover Town Hall"
	Reported Flag   // S (a guess from the data)
	Extra    Extra
}

// BallotQuestion is one question's count in one town or statewide.
type BallotQuestion struct {
	Question string // QN
	Yes      Count  // YES
	No       Count  // NO
	NTH, NTL string // often "-"; perhaps thresholds
	Extra    Extra
}

// Reports holds ElectionData's "reports" flags.
type Reports struct {
	IR    Flag
	IO    Flag // appears to mean the results are official
	Extra Extra
}

// Total returns the voterTurnout entry that sums all towns, the one named
// "Total" (its key is not a town ID).
func (ed *ElectionData) Total() (Turnout, bool) {
	for key, t := range ed.VoterTurnout.All() {
		if strings.EqualFold(strings.TrimSpace(t.Name), "Total") || key == "Total" {
			return t, true
		}
	}
	return Turnout{}, false
}

// DecodeElectionData decodes an Electiondata.json document. Unknown members
// are kept in Extra fields and values that are not numbers where numbers
// are expected are kept as text; only a document of the wrong shape is an
// error.
func DecodeElectionData(raw []byte) (*ElectionData, error) {
	d := newDecoder(raw)
	ed, err := decodeElectionData(d)
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", ElectionDataFile, err)
	}
	return ed, nil
}

func decodeElectionData(d *decoder) (*ElectionData, error) {
	ed := new(ElectionData)
	var haveTownVotes, haveStateVotes bool
	err := d.objectNotNull(func(key string) error {
		switch key {
		case "election":
			return decodeElectionStatus(d, &ed.Election)
		case "voterTurnout":
			return decodeOrdered(d, &ed.VoterTurnout, decodeTurnout)
		case "townStatus":
			return decodeOrdered(d, &ed.TownStatus, decodeTownStatus)
		case "townVotes":
			haveTownVotes = true
			return decodeOrdered(d, &ed.TownVotes, decodeOfficeVotes)
		case "stateVotes":
			haveStateVotes = true
			return decodeOrdered(d, &ed.StateVotes, decodeVotes)
		case "candidateGrouping":
			return decodeOrdered(d, &ed.CandidateGrouping, decodeVotes)
		case "officePrecincts":
			return decodeOrdered(d, &ed.OfficePrecincts, (*decoder).scalar)
		case "districts":
			return d.array(func() error { return decodeDistricts(d, &ed.Districts) })
		case "ballotQuestion":
			return decodeOrdered(d, &ed.BallotQuestions, decodeBallotQuestions)
		case "reports":
			return decodeReports(d, &ed.Reports)
		}
		return d.extra(&ed.Extra, key)
	})
	switch {
	case err != nil:
		return nil, err
	case !haveTownVotes:
		return nil, missing("townVotes")
	case !haveStateVotes:
		return nil, missing("stateVotes")
	}
	return ed, nil
}

func decodeElectionStatus(d *decoder, e *ElectionStatus) error {
	return d.object(func(key string) error {
		var err error
		var s string
		switch key {
		case "ID", "BC", "PR", "RV", "T", "PT", "TO", "SVT":
			s, err = d.scalar()
		default:
			return d.extra(&e.Extra, key)
		}
		switch key {
		case "ID":
			e.ID = ElectionID(s)
		case "BC":
			e.BallotsCast = Count(s)
		case "PR":
			e.PrecinctsReporting = s
		case "RV":
			e.RegisteredVoters = Count(s)
		case "T":
			e.TownsReporting = s
		case "PT":
			e.TownsPartlyReporting = s
		case "TO":
			e.Turnout = Percent(s)
		case "SVT":
			e.ShowVoteTotals = Flag{s}
		}
		return err
	})
}

func decodeTurnout(d *decoder) (Turnout, error) {
	var t Turnout
	err := d.object(func(key string) error {
		var dst *string
		switch key {
		case "NM":
			dst = &t.Name
		case "PR":
			dst = &t.PrecinctsReporting
		case "EV":
			dst = (*string)(&t.Eligible)
		case "VV":
			dst = (*string)(&t.Voted)
		case "ABR":
			dst = (*string)(&t.AbsenteeReceived)
		case "ABC":
			dst = (*string)(&t.AbsenteeCounted)
		case "EDR":
			dst = (*string)(&t.ElectionDayRegReceived)
		case "EDC":
			dst = (*string)(&t.ElectionDayRegCounted)
		case "EBR":
			dst = (*string)(&t.EarlyVotingReceived)
		case "EBC":
			dst = (*string)(&t.EarlyVotingCounted)
		case "TO":
			dst = (*string)(&t.Turnout)
		default:
			return d.extra(&t.Extra, key)
		}
		var err error
		*dst, err = d.scalar()
		return err
	})
	return t, err
}

func decodeTownStatus(d *decoder) (TownStatus, error) {
	var s TownStatus
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "TS":
			s.Status, err = d.scalar()
		case "PR":
			s.PrecinctsReporting, err = d.scalar()
		default:
			err = d.extra(&s.Extra, key)
		}
		return err
	})
	return s, err
}

// decodeOfficeVotes reads one town's townVotes entry: office ID → votes.
func decodeOfficeVotes(d *decoder) (Ordered[OfficeID, []Vote], error) {
	var o Ordered[OfficeID, []Vote]
	err := decodeOrdered(d, &o, decodeVotes)
	return o, err
}

// decodeVotes reads a list of one-key objects {candidate ID: {V, TO}}. An
// object with several keys gives several votes, in order.
func decodeVotes(d *decoder) ([]Vote, error) {
	var votes []Vote
	err := d.array(func() error {
		return d.object(func(candidate string) error {
			v := Vote{Candidate: CandidateID(candidate)}
			err := d.object(func(key string) error {
				var err error
				var s string
				switch key {
				case "V":
					s, err = d.scalar()
					v.Votes, v.HasVotes = Count(s), true
				case "TO":
					s, err = d.scalar()
					v.Share, v.HasShare = Percent(s), true
				default:
					err = d.extra(&v.Extra, key)
				}
				return err
			})
			votes = append(votes, v)
			return err
		})
	})
	return votes, err
}

// decodeDistricts reads one element of "districts", a one-key object
// {town ID: [{place ID: {TN, PN, S}}]}, appending a District per key.
func decodeDistricts(d *decoder, districts *[]District) error {
	return d.object(func(town string) error {
		dist := District{Town: TownID(town)}
		err := d.array(func() error {
			return d.object(func(place string) error {
				p, err := decodePrecinct(d)
				p.ID = PollingPlaceID(place)
				dist.Places = append(dist.Places, p)
				return err
			})
		})
		*districts = append(*districts, dist)
		return err
	})
}

func decodePrecinct(d *decoder) (Precinct, error) {
	var p Precinct
	err := d.object(func(key string) error {
		var err error
		var s string
		switch key {
		case "TN":
			p.TownName, err = d.scalar()
		case "PN":
			p.Name, err = d.scalar()
		case "S":
			s, err = d.scalar()
			p.Reported = Flag{s}
		default:
			err = d.extra(&p.Extra, key)
		}
		return err
	})
	return p, err
}

func decodeBallotQuestions(d *decoder) ([]BallotQuestion, error) {
	var qs []BallotQuestion
	err := d.array(func() error {
		var q BallotQuestion
		err := d.object(func(key string) error {
			var dst *string
			switch key {
			case "QN":
				dst = &q.Question
			case "YES":
				dst = (*string)(&q.Yes)
			case "NO":
				dst = (*string)(&q.No)
			case "NTH":
				dst = &q.NTH
			case "NTL":
				dst = &q.NTL
			default:
				return d.extra(&q.Extra, key)
			}
			var err error
			*dst, err = d.scalar()
			return err
		})
		qs = append(qs, q)
		return err
	})
	return qs, err
}

func decodeReports(d *decoder, r *Reports) error {
	return d.object(func(key string) error {
		var err error
		var s string
		switch key {
		case "IR":
			s, err = d.scalar()
			r.IR = Flag{s}
		case "IO":
			s, err = d.scalar()
			r.IO = Flag{s}
		default:
			err = d.extra(&r.Extra, key)
		}
		return err
	})
}
