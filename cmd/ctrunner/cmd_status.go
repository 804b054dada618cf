package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/polls"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// Exit codes of status, for monitors.
const (
	exitStale   = 3
	exitFailing = 4
)

func statusCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "say whether watch is keeping up, with an exit code a monitor can act on",
		ArgsUsage: "[ELECTION]",
		Description: "For ELECTION, or every election in the poll journal, prints one line:\n" +
			"the last poll and its outcome, the last change (the fetch time of the\n" +
			"latest snapshot) and its age, the failed polls in a row, the published\n" +
			"snapshot, and a state: ok, final, stale, failing or unpublished (nothing\n" +
			"stored and Version.json is a 404: the list names an election the API has\n" +
			"no data for). --json prints one JSON object per election.\n" +
			"\n" +
			"An election is final when its latest snapshot says its results are\n" +
			"official (reports.IO, or every town's status official). It is stale when it\n" +
			"is not final and either nothing changed for longer than --stale or no poll\n" +
			"was made for that long (watch is not running). It is failing when its last\n" +
			"--failing polls failed.\n" +
			"\n" +
			"Exit codes: 0 every election ok, final or unpublished; 3 one is stale (and none\n" +
			"failing); 4 one is failing; 1 the store or the journal could not be read;\n" +
			"2 the command line was wrong.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.DurationFlag{Name: "stale", Usage: "how long without a change is stale",
				Value: 30 * time.Minute},
			&cli.IntFlag{Name: "failing", Usage: "failed polls in a row that make failing",
				Value: 3},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per election"},
		},
		Action: func(c *cli.Context) error {
			return runStatus(c, io)
		},
	}
}

// electionStatus is one line of status.
type electionStatus struct {
	Election       snapshot.ElectionID `json:"election"`
	LastPoll       *time.Time          `json:"last_poll"`
	LastOutcome    polls.Outcome       `json:"last_outcome,omitempty"`
	LastChange     *time.Time          `json:"last_change"`
	LastVersion    int64               `json:"last_version,omitempty"`
	ChangeAge      string              `json:"last_change_age,omitempty"`
	FailuresInARow int                 `json:"failures_in_a_row"`
	Published      *publishedStatus    `json:"published"`
	Final          bool                `json:"final"`
	State          string              `json:"state"` // see the state constants
	Problem        string              `json:"problem,omitempty"`
}

type publishedStatus struct {
	Snapshot string    `json:"snapshot"`
	Version  int64     `json:"version"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

// pollSummary is what status takes from the journal for one election.
type pollSummary struct {
	last     polls.Record
	failures int // in a row, up to the last poll
}

// The states of status.
const (
	stateOK      = "ok"
	stateFinal   = "final"
	stateStale   = "stale"
	stateFailing = "failing"
	// stateUnpublished: nothing stored, and Version.json is a 404.
	stateUnpublished = "unpublished"
)

func runStatus(c *cli.Context, io streams) error {
	only, err := optionalElection(c)
	if err != nil {
		return err
	}
	if c.Duration("stale") <= 0 || c.Int("failing") < 1 {
		return usagef("status: --stale must be positive and --failing at least 1")
	}

	dir := c.String("store")
	summaries, order, err := readPolls(dir, only)
	if err != nil && (only == "" || !errors.Is(err, fs.ErrNotExist)) {
		return err
	}
	if only != "" {
		order = []snapshot.ElectionID{only}
	}
	st, err := openStore(c)
	if err != nil {
		return err
	}
	defer st.Close()

	now := time.Now()
	var lines []electionStatus
	for _, id := range order {
		s, err := statusOf(st, id, summaries[id], now, c.Duration("stale"), c.Int("failing"))
		if err != nil {
			return err
		}
		lines = append(lines, s)
	}
	if err := printStatus(io, lines, c.Bool("json")); err != nil {
		return err
	}
	return statusExit(lines)
}

// readPolls sums up the journal per election, in the order elections
// first appear in it.
func readPolls(dir string, only snapshot.ElectionID) (map[snapshot.ElectionID]*pollSummary,
	[]snapshot.ElectionID, error) {
	summaries := map[snapshot.ElectionID]*pollSummary{}
	var order []snapshot.ElectionID
	_, err := polls.Each(dir, func(r polls.Record) {
		if only != "" && r.Election != only {
			return
		}
		s, ok := summaries[r.Election]
		if !ok {
			s = &pollSummary{}
			summaries[r.Election] = s
			order = append(order, r.Election)
		}
		s.last = r
		if r.Outcome == polls.Failed {
			s.failures++
		} else {
			s.failures = 0
		}
	})
	sortElectionIDs(order)
	return summaries, order, err
}

// statusOf works out the status of one election.
func statusOf(st store.Store, id snapshot.ElectionID, ps *pollSummary, now time.Time,
	stale time.Duration, failing int) (electionStatus, error) {
	s := electionStatus{Election: id}
	if ps != nil {
		t := ps.last.Time
		s.LastPoll, s.LastOutcome, s.FailuresInARow = &t, ps.last.Outcome, ps.failures
	}
	entries, err := st.Log(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s, err
	}
	if len(entries) > 0 {
		latest := entries[0]
		t := latest.FetchedAt
		s.LastChange, s.LastVersion = &t, int64(latest.Version)
		s.ChangeAge = now.Sub(t).Round(time.Second).String()
		if s.Final, err = isFinal(st, latest); err != nil {
			return s, err
		}
	}
	p, err := st.Published(id)
	switch {
	case err == nil:
		s.Published = &publishedStatus{Snapshot: p.Entry.ID.Short(),
			Version: int64(p.Entry.Version), At: p.At, Reason: p.Reason}
	case !errors.Is(err, store.ErrNotFound):
		return s, err
	}

	switch {
	case s.LastChange == nil && ps != nil && ps.last.Outcome == polls.Failed &&
		ps.last.Status == http.StatusNotFound:
		// The list names elections the API has no data for.
		s.State = stateUnpublished
	case s.FailuresInARow >= failing:
		s.State = stateFailing
		s.Problem = fmt.Sprintf("the last %d polls failed: %s", s.FailuresInARow,
			ps.last.Reason)
	case s.Final:
		s.State = stateFinal
	case s.LastPoll == nil:
		s.State, s.Problem = stateStale, "never polled (is ctrunner watch running?)"
	case now.Sub(*s.LastPoll) > stale:
		s.State = stateStale
		s.Problem = fmt.Sprintf("no poll for %s (is ctrunner watch running?)",
			now.Sub(*s.LastPoll).Round(time.Second))
	case s.LastChange == nil:
		s.State, s.Problem = stateStale, "no snapshot stored yet"
	case now.Sub(*s.LastChange) > stale:
		s.State = stateStale
		s.Problem = fmt.Sprintf("no change for %s and the results are not final",
			s.ChangeAge)
	default:
		s.State = stateOK
	}
	return s, nil
}

// isFinal reports whether a snapshot says the election's results are
// official: reports.IO, or every town in townStatus official.
func isFinal(st store.Store, e store.Entry) (bool, error) {
	snap, err := st.Load(e)
	if err != nil {
		return false, fmt.Errorf("reading snapshot %s: %w", e.ID.Short(), err)
	}
	raw, _ := snap.File(snapshot.ElectionDataFile)
	ed, err := snapshot.DecodeElectionData(raw)
	if err != nil {
		return false, nil // not known to be final
	}
	if io, ok := ed.Reports.IO.Bool(); ok && io {
		return true, nil
	}
	if ed.TownStatus.Len() == 0 {
		return false, nil
	}
	for _, ts := range ed.TownStatus.All() {
		if !ts.Official() {
			return false, nil
		}
	}
	return true, nil
}

func printStatus(io streams, lines []electionStatus, asJSON bool) error {
	if asJSON {
		return writeJSONLines(io.stdout, lines, func(s electionStatus) electionStatus { return s })
	}
	rows := [][]string{{"ELECTION", "LAST POLL (EASTERN)", "OUTCOME", "LAST CHANGE (EASTERN)",
		"AGE", "FAILURES", "PUBLISHED", "STATE"}}
	for _, s := range lines {
		published := ""
		if s.Published != nil {
			published = fmt.Sprintf("%s (version %d)", s.Published.Snapshot, s.Published.Version)
		}
		rows = append(rows, []string{string(s.Election), timeText(s.LastPoll),
			orDash(string(s.LastOutcome)), timeText(s.LastChange), orDash(s.ChangeAge),
			strconv.Itoa(s.FailuresInARow), orDash(published), string(s.State)})
	}
	return writeColumns(io.stdout, rows)
}

func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return eastern(*t)
}

// statusError carries status's exit code for a stale or failing election.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// ExitCode is the process's exit code.
func (e *statusError) ExitCode() int { return e.code }

// statusExit returns nil when every election is ok or final, else an
// error naming the worst ones, with exit code 4 (failing) or 3 (stale).
func statusExit(lines []electionStatus) error {
	for _, state := range []string{stateFailing, stateStale} {
		var msgs []string
		for _, s := range lines {
			if s.State == state {
				msgs = append(msgs, fmt.Sprintf("election %s is %s: %s", s.Election, state,
					s.Problem))
			}
		}
		if len(msgs) == 0 {
			continue
		}
		code := exitStale
		if state == stateFailing {
			code = exitFailing
		}
		return &statusError{code: code, msg: strings.Join(msgs, "; ")}
	}
	return nil
}
