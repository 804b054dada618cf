package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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
			"raw code, and warns about each such code on stderr. The JSON array that\n" +
			"'download --all' prints gives one CSV of every election.",
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

			wrappers, err := splitWrappers(raw)
			if err != nil {
				return fmt.Errorf("stdin: %w", err)
			}
			warn := func(msg string) { s.warnf("warning: %s", msg) }
			var rows []export.ResultRow
			for i, w := range wrappers {
				_, ed, ld, err := snapshot.ParseWrapper(w)
				if err != nil {
					if len(wrappers) > 1 {
						return fmt.Errorf("stdin: wrapper %d of %d: %w", i+1, len(wrappers), err)
					}
					return fmt.Errorf("stdin: %w", err)
				}
				rows = append(rows, export.Results(ed, ld, warn)...)
			}
			if err := export.WriteResultsCSV(out, rows); err != nil {
				return err
			}
			return out.Flush()
		},
	}
}

// splitWrappers returns the one wrapper object of raw, or each element when
// raw is a JSON array of wrappers (the output of download --all).
func splitWrappers(raw []byte) ([][]byte, error) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return [][]byte{raw}, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(trimmed, &list); err != nil {
		return nil, fmt.Errorf("reading a JSON array of wrappers: %w", err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("an empty JSON array holds no election data")
	}
	out := make([][]byte, len(list))
	for i, w := range list {
		out[i] = w
	}
	return out, nil
}
