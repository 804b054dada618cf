package night

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"ctrunner/snapshot"
)

// TimeLayout is how WriteText shows a fetch time, in the location given.
const TimeLayout = "2006-01-02 15:04:05 MST"

// WriteText writes s for a person to read, as one block ending in a blank
// line: a heading with the fetch time (in loc), the version and the
// precincts reporting, flagged when the snapshot is suspect; a line per
// race with the leader, their votes and share, and their margin over the
// runner-up, marked when the lead changed; and the changes on one line
// (Changes.Summary), which for the first snapshot told says what it is
// compared with.
func WriteText(w io.Writer, s *Step, loc *time.Location) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  version %s  precincts %s", s.FetchedAt.In(loc).Format(TimeLayout),
		s.Version, orDash(s.PrecinctsReporting))
	if len(s.Suspect) > 0 {
		fmt.Fprintf(&b, "  SUSPECT: %s", strings.Join(s.Suspect, "; "))
	}
	b.WriteByte('\n')

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for i := range s.Races {
		fmt.Fprintln(tw, "  "+strings.Join(raceCells(&s.Races[i], s.PrecinctsReporting), "\t"))
	}
	tw.Flush()

	summary := s.Changes.Summary()
	if s.FirstTold && !s.Changes.First {
		summary = fmt.Sprintf("since version %s (not shown): %s", s.Changes.Since, summary)
	}
	fmt.Fprintf(&b, "  %s\n\n", summary)

	_, err := io.WriteString(w, trimLineEnds(b.String()))
	return err
}

// raceCells are the columns of a race's line; the office's own precincts
// reporting is shown when it differs from the election's.
func raceCells(r *Race, precincts string) []string {
	cells := []string{r.Office}
	if r.Leader == nil {
		cells = append(cells, "no votes yet")
	} else {
		l := r.Leader
		margin := fmt.Sprintf("leads by %s (%s pts)", snapshot.Thousands(r.MarginVotes),
			points(r.MarginPoints))
		switch {
		case r.Tie:
			margin = "tied with " + r.RunnerUp.Label()
		case r.RunnerUp == nil:
			margin = "unopposed"
		}
		cells = append(cells, l.Label(), snapshot.Thousands(l.Votes), points(l.Share)+"%", margin)
	}
	if r.PrecinctsReporting != "" && r.PrecinctsReporting != precincts {
		cells = append(cells, "precincts "+r.PrecinctsReporting)
	}
	if r.LeadChanged {
		cells = append(cells, "LEAD CHANGE, was "+r.PreviousLeader)
	}
	return cells
}

func points(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// trimLineEnds removes the spaces tabwriter leaves before line ends.
func trimLineEnds(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// stepJSON is the JSON form of a Step; see WriteJSON.
type stepJSON struct {
	Election           string      `json:"election"`
	Snapshot           string      `json:"snapshot"`
	Version            int64       `json:"version"`
	FetchedAt          time.Time   `json:"fetched_at"`
	TimeSource         string      `json:"time_source,omitempty"`
	Source             string      `json:"source"`
	Suspect            []string    `json:"suspect,omitempty"`
	PrecinctsReporting string      `json:"precincts_reporting"`
	Races              []Race      `json:"races"`
	Changes            changesJSON `json:"changes"`
}

type changesJSON struct {
	Changes
	Summary string `json:"summary"`
}

// WriteJSON writes s as one JSON object on one line: election, snapshot
// (the full ID), version, fetched_at (UTC), time_source (when not the
// fetch clock), source, suspect (the reasons, when suspect),
// precincts_reporting, races (the fields of Race) and changes (the fields
// of Changes, and summary, its one line).
func WriteJSON(w io.Writer, s *Step) error {
	races := s.Races
	if races == nil {
		races = []Race{}
	}
	c := s.Changes
	if c.LeadChanges == nil {
		c.LeadChanges = []Office{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(stepJSON{
		Election:           string(s.Election),
		Snapshot:           s.Snapshot.String(),
		Version:            int64(s.Version),
		FetchedAt:          s.FetchedAt.UTC(),
		TimeSource:         s.TimeSource,
		Source:             string(s.Source),
		Suspect:            s.Suspect,
		PrecinctsReporting: s.PrecinctsReporting,
		Races:              races,
		Changes:            changesJSON{Changes: c, Summary: c.Summary()},
	})
}
