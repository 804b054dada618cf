package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"ctrunner/export"
	"ctrunner/snapshot"
)

func parseCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "parse",
		Usage: "convert JSON from 'ctrunner download' on stdin to CSV on stdout",
		Description: "--data-type election-list writes ID,Name,DefaultElection.\n" +
			"--data-type election-data writes office,town,candidate,party,votes,vote_percent,\n" +
			"in the old tool's row order and quoting. Unlike the old tool it keeps rows whose\n" +
			"candidate, party, office or town is missing from the lookup data, showing the\n" +
			"raw code, and warns about each such code on stderr.",
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:     "data-type",
				Usage:    "election-list or election-data",
				Required: true,
			},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			kind := c.String("data-type")
			if kind != "election-list" && kind != "election-data" {
				return usagef("parse: --data-type must be election-list or election-data, not %q", kind)
			}
			raw, err := io.ReadAll(s.stdin)
			if err != nil {
				return fmt.Errorf("reading stdin: %w", err)
			}
			out := bufio.NewWriterSize(s.stdout, 1<<16)

			if kind == "election-list" {
				list, err := snapshot.DecodeElectionList(raw)
				if err != nil {
					return fmt.Errorf("stdin: %w", err)
				}
				if err := export.ElectionListCSV(out, list); err != nil {
					return err
				}
				return out.Flush()
			}

			_, ed, ld, err := snapshot.ParseWrapper(raw)
			if err != nil {
				return fmt.Errorf("stdin: %w", err)
			}
			warn := func(msg string) { s.warnf("warning: %s", msg) }
			if err := export.ResultsCSV(out, ed, ld, warn); err != nil {
				return err
			}
			return out.Flush()
		},
	}
}
