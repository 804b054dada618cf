package main

import (
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/store"
)

func logCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "list snapshots, newest first",
		ArgsUsage: "[ELECTION]",
		Description: "One line per snapshot, newest first, under a header: short snapshot ID,\n" +
			"fetch time (Eastern), API version, precincts reporting, and whether it was\n" +
			"fetched, imported or simulated. Without ELECTION every election is listed, with an\n" +
			"ELECTION column first. --json prints one JSON object per snapshot and line\n" +
			"(times in UTC).",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per snapshot"},
		},
		Action: func(c *cli.Context) error {
			id, err := optionalElection(c)
			if err != nil {
				return err
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()

			var entries []store.Entry
			all := id == ""
			if all {
				entries, err = allEntries(st)
			} else {
				entries, err = st.Log(id)
			}
			if err != nil {
				return err
			}

			if c.Bool("json") {
				return writeJSONLines(io.stdout, entries, entryJSON)
			}
			header := []string{"SNAPSHOT", "FETCHED (EASTERN)", "VERSION",
				"PRECINCTS REPORTING", "SOURCE"}
			if all {
				header = append([]string{"ELECTION"}, header...)
			}
			rows := make([][]string, 0, len(entries)+1)
			rows = append(rows, header)
			cells := make([]string, len(header)*len(entries))
			for i, e := range entries {
				source := string(e.Source)
				if len(e.Suspect) > 0 {
					source += ", suspect: " + suspectKinds(e.Suspect)
				}
				row := cells[i*len(header) : (i+1)*len(header)][:0]
				if all {
					row = append(row, string(e.Election))
				}
				row = append(row, e.ID.Short(), eastern(e.FetchedAt), e.Version.String(),
					orDash(e.PrecinctsReporting), source)
				rows = append(rows, row)
			}
			return writeColumns(io.stdout, rows)
		},
	}
}

// allEntries returns every election's snapshots, newest first by fetch
// time; snapshots of one election keep their archive order.
func allEntries(st store.Store) ([]store.Entry, error) {
	ids, err := st.Elections()
	if err != nil {
		return nil, err
	}
	logs := make([][]store.Entry, 0, len(ids))
	n := 0
	for _, id := range ids {
		entries, err := st.Log(id)
		if err != nil {
			return nil, err
		}
		logs = append(logs, entries)
		n += len(entries)
	}
	// Merge the logs by fetch time, newest first, keeping each election's
	// own order: imported snapshots carry file times, which need not
	// follow the order they were archived in.
	all := make([]store.Entry, 0, n)
	for len(all) < n {
		next := -1
		for i, l := range logs {
			if len(l) > 0 && (next < 0 || l[0].FetchedAt.After(logs[next][0].FetchedAt)) {
				next = i
			}
		}
		all = append(all, logs[next][0])
		logs[next] = logs[next][1:]
	}
	return all, nil
}

// entryRecord is the JSON form of a stored snapshot's metadata, shared by
// log --json and show --format json.
type entryRecord struct {
	ID                 string            `json:"id"`
	Commit             string            `json:"commit,omitempty"`
	Election           string            `json:"election"`
	Version            int64             `json:"version"`
	FetchedAt          time.Time         `json:"fetched_at"`
	TimeSource         string            `json:"time_source,omitempty"`
	Source             string            `json:"source"`
	SourceURL          string            `json:"source_url"`
	PrecinctsReporting string            `json:"precincts_reporting"`
	Suspect            []string          `json:"suspect,omitempty"`
	Documents          map[string]string `json:"documents_sha256"`
}

func entryJSON(e store.Entry) entryRecord {
	return entryRecord{
		ID:                 e.ID.String(),
		Commit:             e.Commit,
		Election:           string(e.Election),
		Version:            int64(e.Version),
		FetchedAt:          e.FetchedAt.UTC(),
		TimeSource:         e.TimeSource,
		Source:             string(e.Source),
		SourceURL:          e.SourceURL,
		PrecinctsReporting: e.PrecinctsReporting,
		Suspect:            e.Suspect,
		Documents:          e.Documents,
	}
}

// easternTime is Connecticut's time zone, used for every time a person reads.
var easternTime = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return time.UTC
	}
	return loc
}()

func eastern(t time.Time) string {
	return t.In(easternTime).Format("2006-01-02 15:04:05 MST")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// suspectKinds names the kinds of a snapshot's suspect reasons once each,
// "votes-decreased, town-disappeared", for a column of the listing; show
// and --json give the reasons whole.
func suspectKinds(reasons []string) string {
	var kinds []string
	for _, r := range reasons {
		kind, _, _ := strings.Cut(r, ":")
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
	}
	return strings.Join(kinds, ", ")
}
