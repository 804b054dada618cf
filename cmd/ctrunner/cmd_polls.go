package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/polls"
	"ctrunner/snapshot"
)

func pollsCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "polls",
		Usage:     "list the polls watch made, oldest first",
		ArgsUsage: "[ELECTION]",
		Description: "Reads the poll journal that ctrunner watch keeps in the store folder\n" +
			"(ctrunner-polls.jsonl) and prints one line per poll under a header: time\n" +
			"(Eastern), election, HTTP status, latency, bytes received, version seen,\n" +
			"outcome (new, unchanged, failed or suspect) and the reasons. --since keeps\n" +
			"the polls from a time (RFC 3339, e.g. 2024-11-05T20:00:00-05:00) or a\n" +
			"duration ago (e.g. 1h). --json prints the records as stored, one per line\n" +
			"(times in UTC).",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "since", Usage: "only polls from this time or duration ago"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per poll"},
		},
		Action: func(c *cli.Context) error {
			return runPolls(c, io)
		},
	}
}

func runPolls(c *cli.Context, io streams) error {
	id, err := optionalElection(c)
	if err != nil {
		return err
	}
	since, err := parseSince(c.String("since"), time.Now())
	if err != nil {
		return usagef("polls: --since: %v", err)
	}

	var records []polls.Record
	unreadable, err := polls.Each(c.String("store"), func(r polls.Record) {
		if (id == "" || r.Election == id) && !r.Time.Before(since) {
			records = append(records, r)
		}
	})
	if err != nil {
		return err
	}
	if unreadable > 0 {
		io.warnf("warning: skipped %s of the poll journal that did not decode",
			plural(unreadable, "line"))
	}

	if c.Bool("json") {
		return writeJSONLines(io.stdout, records, func(r polls.Record) polls.Record { return r })
	}
	rows := [][]string{{"TIME (EASTERN)", "ELECTION", "STATUS", "LATENCY", "BYTES", "VERSION",
		"OUTCOME", "DETAIL"}}
	for _, r := range records {
		rows = append(rows, []string{eastern(r.Time), string(r.Election),
			orDash(statusText(r.Status)), latencyText(r.LatencyMS), strconv.FormatInt(r.Bytes, 10),
			orDash(versionText(r.Version)), string(r.Outcome), orDash(pollDetail(r))})
	}
	return writeColumns(io.stdout, rows)
}

// parseSince reads --since: empty (the beginning), an RFC 3339 time, or a
// duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := parseTimeFlag("polls", "since", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2024-11-05T20:00:00-05:00, or "+
		"2024-11-05 20:00 Eastern) nor a duration (90m)", s)
}

func statusText(status int) string {
	if status == 0 {
		return ""
	}
	return strconv.Itoa(status)
}

func versionText(v snapshot.Version) string {
	if v == 0 {
		return ""
	}
	return v.String()
}

func latencyText(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Millisecond).String()
}

// pollDetail is the DETAIL column: the snapshot stored, and why a poll
// failed or a version is suspect.
func pollDetail(r polls.Record) string {
	var parts []string
	if r.Snapshot != "" && r.Outcome != polls.Unchanged {
		s := "snapshot " + r.Snapshot
		if r.Published {
			s += " (published)"
		}
		parts = append(parts, s)
	}
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	if n := len(r.Reasons); n > 0 {
		s := r.Reasons[0]
		if n > 1 {
			s += fmt.Sprintf(" (and %d more)", n-1)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
