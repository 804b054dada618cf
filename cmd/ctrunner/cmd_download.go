package main

import (
	"bytes"

	"github.com/urfave/cli/v2"

	"ctrunner/publish"
	"ctrunner/snapshot"
)

func downloadCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:  "download",
		Usage: "print raw JSON from the API on stdout (as the old tool did)",
		Description: "--election-list prints Elections.json as served. --election ID prints the\n" +
			"old tool's wrapper {\"version\": N, \"ElectionData\": …, \"LookupData\": …} of one\n" +
			"consistent fetch. --all prints a JSON array of such wrappers, one per election.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "election-list", Usage: "print the list of elections"},
			&cli.StringFlag{Name: "election", Usage: "print one election's data", Aliases: []string{"e"}},
			&cli.BoolFlag{Name: "all", Usage: "print every election's data"},
			jobsFlag(),
		}, apiFlags()...),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			modes := 0
			for _, set := range []bool{c.Bool("election-list"), c.IsSet("election"), c.Bool("all")} {
				if set {
					modes++
				}
			}
			if modes != 1 {
				return usagef("download: give exactly one of --election-list, --election ID, --all")
			}
			client, err := newClient(c, io)
			if err != nil {
				return err
			}

			switch {
			case c.Bool("election-list"):
				list, err := client.ElectionList(c.Context)
				if err != nil {
					return err
				}
				_, err = io.stdout.Write(list)
				return err

			case c.IsSet("election"):
				id, err := snapshot.ParseElectionID(c.String("election"))
				if err != nil {
					return usagef("download: %v", err)
				}
				s, err := fetchElection(c.Context, client, id)
				if err != nil {
					return err
				}
				wrapper, err := wrapperJSON(s)
				if err != nil {
					return err
				}
				_, err = io.stdout.Write(wrapper)
				return err
			}

			ids, all, err := listedElections(c, client, io)
			if err != nil {
				return err
			}
			results := fetchAll(c.Context, client, ids, c.Int("jobs"), nil)
			if failed := settle(results, all, io); len(failed) > 0 {
				return fetchFailure(failed, len(results), io)
			}
			var out bytes.Buffer
			out.WriteString("[")
			first := true
			for _, r := range results {
				if r.skipped {
					continue
				}
				wrapper, err := wrapperJSON(r.snapshot)
				if err != nil {
					return err
				}
				if !first {
					out.WriteString(",")
				}
				first = false
				out.WriteString("\n")
				out.Write(wrapper)
			}
			out.WriteString("\n]\n")
			_, err = io.stdout.Write(out.Bytes())
			return err
		},
	}
}

// wrapperJSON renders a snapshot as the old tool's raw.json.
func wrapperJSON(s *snapshot.Snapshot) ([]byte, error) { return publish.RawJSON(s) }
