package night

import (
	"fmt"
	"strings"
	"time"

	"ctrunner/diff"
	"ctrunner/snapshot"
)

// Step is one snapshot of the night as it arrived.
type Step struct {
	Election  snapshot.ElectionID
	Snapshot  snapshot.Hash
	Version   snapshot.Version
	FetchedAt time.Time
	// TimeSource says where FetchedAt comes from when it is not the clock
	// at fetch time (an imported snapshot's file time).
	TimeSource string
	Source     snapshot.Source
	// Suspect holds the reasons watch's sanity gates doubted the snapshot.
	Suspect []string
	// PrecinctsReporting is the election-wide "760 of 763 (99.61%)".
	PrecinctsReporting string
	// Races are the offices followed, in the order chosen.
	Races []Race
	// Changes sums up what changed since the snapshot archived before.
	Changes Changes
	// FirstTold is true for the first Step a Play emits.
	FirstTold bool
}

// Changes sums up a diff.Report between a snapshot and the one archived
// before it, for one line.
type Changes struct {
	// First is true for the election's first snapshot: there is nothing
	// to compare it with, and every other field is zero.
	First bool `json:"first"`
	// Since is the version compared with.
	Since snapshot.Version `json:"since_version,omitempty"`
	// Identical is true when the results are the same, whatever the
	// versions (diff.Report.Identical).
	Identical bool `json:"identical"`
	// BallotsCast is the change in the election's ballots cast.
	BallotsCast int64 `json:"ballots_cast"`
	// VoteTowns counts the towns where some candidate's votes changed;
	// StatewideVotes is true when statewide votes changed.
	VoteTowns      int  `json:"vote_towns"`
	StatewideVotes bool `json:"statewide_votes"`
	// NewlyReporting and Vanished count the towns that appeared in, or
	// disappeared from, the votes by town.
	NewlyReporting int `json:"towns_newly_reporting"`
	Vanished       int `json:"towns_vanished"`
	// Official and Unofficial count the towns whose results became
	// official, or stopped being so.
	Official   int `json:"towns_official"`
	Unofficial int `json:"towns_unofficial"`
	// ResultsOfficial is the election's new "results official" flag
	// (reports.IO) when it changed, and nil otherwise.
	ResultsOfficial *bool `json:"results_official,omitempty"`
	// LeadChanges are, in ballot order, the offices whose statewide
	// leader changed (compared as Race.LeadChanged does).
	LeadChanges []Office `json:"lead_changes"`
	// Lookup and BallotQuestions count the changes of those sections.
	Lookup          int `json:"lookup_changes"`
	BallotQuestions int `json:"ballot_question_changes"`
	// Other names the other sections of the report that changed, when
	// none of the above did (e.g. "turnout").
	Other []string `json:"other,omitempty"`
}

// Office names an office of the ballot. Several offices can share a name
// (each town's Registrar of Voters).
type Office struct {
	ID   snapshot.OfficeID `json:"office_id"`
	Name string            `json:"office"`
}

// summarize sums r up; leads are the offices whose leader changed.
func summarize(r *diff.Report, leads []Office) Changes {
	c := Changes{Identical: r.Identical, LeadChanges: leads}
	for _, ch := range r.Summary {
		switch ch.Field {
		case "ballots_cast":
			if ch.Delta != nil {
				c.BallotsCast = *ch.Delta
			}
		case "results_official":
			official, _ := snapshot.Flag{Raw: ch.To}.Bool()
			c.ResultsOfficial = &official
		}
	}

	towns := map[snapshot.TownID]bool{}
	for _, ch := range r.Votes {
		if ch.TownID == "" {
			c.StatewideVotes = true
		} else {
			towns[ch.TownID] = true
		}
	}
	c.VoteTowns = len(towns)

	for _, ch := range r.Towns {
		switch ch.Field {
		case "reported":
			if ch.Kind == diff.Added {
				c.NewlyReporting++
			} else {
				c.Vanished++
			}
		case "status":
			from := snapshot.TownStatus{Status: ch.From}.Official()
			to := snapshot.TownStatus{Status: ch.To}.Official()
			switch {
			case to && !from:
				c.Official++
			case from && !to:
				c.Unofficial++
			}
		}
	}
	c.Lookup, c.BallotQuestions = len(r.Lookup), len(r.BallotQuestions)

	if !c.Identical && len(c.parts()) == 0 {
		for _, s := range []struct {
			name    string
			changes []diff.Change
		}{
			{"election figures", r.Summary},
			{"precincts reporting by office", r.OfficePrecincts},
			{"town precincts reporting", r.Towns},
			{"turnout", r.Turnout},
		} {
			if len(s.changes) > 0 {
				c.Other = append(c.Other, s.name)
			}
		}
	}
	return c
}

// maxLeadNames is how many office names the summary gives for the lead
// changes; the others are counted (offices of the same name once).
const maxLeadNames = 3

// Summary is the change on one line, such as "+12,345 ballots cast; votes
// in 14 towns; 3 towns newly reporting; 2 towns official; lead change:
// Governor", "no change in the results" or "first snapshot".
func (c Changes) Summary() string {
	switch {
	case c.First:
		return "first snapshot"
	case c.Identical:
		return "no change in the results"
	}
	parts := c.parts()
	if len(c.Other) > 0 {
		parts = append(parts, "changed: "+strings.Join(c.Other, ", "))
	}
	return strings.Join(parts, "; ")
}

func (c Changes) parts() []string {
	var parts []string
	if c.BallotsCast != 0 {
		parts = append(parts, signed(c.BallotsCast)+" ballots cast")
	}
	switch {
	case c.VoteTowns > 0:
		parts = append(parts, "votes in "+plural(c.VoteTowns, "town"))
	case c.StatewideVotes:
		parts = append(parts, "statewide votes changed")
	}
	if c.NewlyReporting > 0 {
		parts = append(parts, plural(c.NewlyReporting, "town")+" newly reporting")
	}
	if c.Vanished > 0 {
		parts = append(parts, plural(c.Vanished, "town")+" gone from the counts")
	}
	if c.Official > 0 {
		parts = append(parts, plural(c.Official, "town")+" official")
	}
	if c.Unofficial > 0 {
		parts = append(parts, plural(c.Unofficial, "town")+" no longer official")
	}
	switch {
	case c.ResultsOfficial == nil:
	case *c.ResultsOfficial:
		parts = append(parts, "results marked official")
	default:
		parts = append(parts, "results no longer marked official")
	}
	if len(c.LeadChanges) > 0 {
		var names []string
		seen := map[string]bool{}
		more := 0
		for _, o := range c.LeadChanges {
			switch {
			case seen[o.Name]:
			case len(names) < maxLeadNames:
				names = append(names, o.Name)
			default:
				more++
			}
			seen[o.Name] = true
		}
		s := "lead change: " + strings.Join(names, ", ")
		if more > 0 {
			s += fmt.Sprintf(" (+%d more)", more)
		}
		parts = append(parts, s)
	}
	if c.Lookup > 0 {
		parts = append(parts, "lookup data: "+plural(c.Lookup, "change"))
	}
	if c.BallotQuestions > 0 {
		parts = append(parts, "ballot questions changed")
	}
	return parts
}

// plural writes "1 town", "3 towns".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return snapshot.Thousands(int64(n)) + " " + noun + "s"
}

// signed writes n with a sign and thousands separators: "+1,234".
func signed(n int64) string {
	if n < 0 {
		return "-" + snapshot.Thousands(-n)
	}
	return "+" + snapshot.Thousands(n)
}
