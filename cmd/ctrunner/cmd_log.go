package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/snapshot"
	"ctrunner/store"
)

func logCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "list snapshots, newest first",
		ArgsUsage: "[ELECTION]",
		Description: "One line per snapshot: short ID, fetch time (Eastern), API version,\n" +
			"precincts reporting, and whether it was fetched or imported. Without\n" +
			"ELECTION every election is listed. --json prints one JSON object per line.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per snapshot"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usagef("log: too many arguments")
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()

			var ids []snapshot.ElectionID
			if c.Args().Len() == 1 {
				id, err := snapshot.ParseElectionID(c.Args().First())
				if err != nil {
					return usagef("log: %v", err)
				}
				ids = []snapshot.ElectionID{id}
			} else if ids, err = st.Elections(); err != nil {
				return err
			}

			tw := tabwriter.NewWriter(io.stdout, 0, 0, 2, ' ', 0)
			enc := json.NewEncoder(io.stdout)
			for _, id := range ids {
				entries, err := st.Log(id)
				if err != nil {
					return err
				}
				for _, e := range entries {
					if c.Bool("json") {
						if err := enc.Encode(entryJSON(e)); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID.Short(), eastern(e.FetchedAt),
						e.Election, e.Version, orDash(e.PrecinctsReporting), e.Source)
				}
			}
			return tw.Flush()
		},
	}
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
