package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/chart"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// plotDescription documents the charts; the README says the same.
const plotDescription = `CHART is one of:

shares     each candidacy's share of one office's statewide vote, one line
           per candidate and party line (legend "name (party)"; WI is a
           write-in), a marker at each snapshot. --office picks the office
           by ID, name or a part of a name only one office has; the default
           is the top of the ballot: the office with statewide votes that
           the lookup data's officeList orders first (its OO field, e.g.
           Governor). --x precincts (default) draws it against the share of
           the office's precincts reporting, --x time against the time each
           snapshot was fetched. Only the --max-candidates with the most
           votes in the newest snapshot are drawn; the others are named on
           stderr.
precincts  the share of precincts reporting against time: statewide, and in
           each --town (ID or name, repeatable or comma-separated, at most 8).

The chart covers all of ELECTION's snapshots, oldest to newest; --from and
--to (or --as-of, the same as --to) keep those fetched in that window (RFC
3339 times, e.g. 2022-11-08T20:00:00-05:00, or Eastern times such as
2022-11-08 20:00). Times on the axis are Eastern
(ET). The image format follows the --output extension: .svg, .png or .pdf;
the file appears complete or not at all. Nothing is printed on stdout; notes
and the name of the file written go to stderr.`

func plotCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:        "plot",
		Usage:       "draw vote shares or precincts reporting over an election's snapshots (SVG, PNG, PDF)",
		ArgsUsage:   "shares|precincts ELECTION",
		Description: plotDescription,
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "image `FILE` to write: .svg, .png or .pdf"},
			&cli.StringFlag{Name: "office", Usage: "shares: office ID or name (default: the top of the ballot)"},
			&cli.StringFlag{Name: "x", Usage: "shares: x axis, precincts or time", Value: string(chart.XPrecincts)},
			&cli.IntFlag{Name: "max-candidates", Usage: "shares: most candidacies drawn, by final votes (0: all)", Value: 8},
			&cli.StringSliceFlag{Name: "town", Usage: "precincts: a town `ID or NAME` to draw besides the state (repeatable)"},
			&cli.StringFlag{Name: "from", Usage: "keep snapshots fetched at or after `TIME` (RFC 3339, or 2022-11-08 20:00 Eastern)"},
			&cli.StringFlag{Name: "to", Aliases: []string{"as-of"}, Usage: "keep snapshots fetched at or before `TIME` (RFC 3339, or 2022-11-08 23:00 Eastern)"},
			&cli.IntFlag{Name: "width", Usage: "image width in pixels", Value: chart.DefaultWidth},
			&cli.IntFlag{Name: "height", Usage: "image height in pixels", Value: chart.DefaultHeight},
		},
		Action: func(c *cli.Context) error {
			req, err := parsePlotArgs(c)
			if err != nil {
				return err
			}
			return withStore(c, func(st store.Store) error { return runPlot(st, req, s) })
		},
	}
}

// plotRequest is the plot command line, checked.
type plotRequest struct {
	kind     chart.Kind
	election snapshot.ElectionID
	output   string
	style    chart.Style
	shares   chart.ShareOptions
	towns    chart.PrecinctOptions
	from, to time.Time // zero: no limit
}

func parsePlotArgs(c *cli.Context) (plotRequest, error) {
	var req plotRequest
	kinds := make([]string, len(chart.Kinds))
	for i, k := range chart.Kinds {
		kinds[i] = string(k)
	}
	args := c.Args().Slice()
	switch {
	case len(args) == 0:
		return req, usagef("plot: missing CHART (one of %s)", strings.Join(kinds, ", "))
	case len(args) == 1:
		return req, usagef("plot: missing ELECTION (e.g. ctrunner plot %s 80 --output chart.png)",
			args[0])
	case len(args) > 2:
		return req, usagef("plot: too many arguments: %s", strings.Join(args, " "))
	}
	req.kind = chart.Kind(args[0])
	if !slices.Contains(kinds, args[0]) {
		return req, usagef("plot: unknown chart %q (one of %s)", args[0], strings.Join(kinds, ", "))
	}
	id, err := snapshot.ParseElectionID(args[1])
	if err != nil {
		return req, usagef("plot: %v", err)
	}
	req.election = id

	req.output = c.String("output")
	format, ok := chart.FormatOf(req.output)
	switch {
	case req.output == "":
		return req, usagef("plot: missing --output FILE (.svg, .png or .pdf)")
	case !ok:
		return req, usagef("plot: --output %q: the name must end in .svg, .png or .pdf", req.output)
	}
	req.style = chart.Style{Format: format, Width: c.Int("width"), Height: c.Int("height"),
		X: chart.XAxis(c.String("x"))}
	for _, f := range []string{"width", "height"} {
		if n := c.Int(f); n < 200 || n > 8000 {
			return req, usagef("plot: --%s must be from 200 to 8000 pixels, not %d", f, n)
		}
	}
	if req.style.X != chart.XPrecincts && req.style.X != chart.XTime {
		return req, usagef("plot: --x must be precincts or time, not %q", req.style.X)
	}

	if err := parseChartOptions(c, &req); err != nil {
		return req, err
	}
	if req.from, err = parseTimeFlag("plot", "from", c.String("from")); err != nil {
		return req, err
	}
	if req.to, err = parseTimeFlag("plot", "to", c.String("to")); err != nil {
		return req, err
	}
	if !req.from.IsZero() && !req.to.IsZero() && req.from.After(req.to) {
		return req, usagef("plot: --from %s is after --to %s", c.String("from"), c.String("to"))
	}
	return req, nil
}

// parseChartOptions reads the flags that only one chart takes.
func parseChartOptions(c *cli.Context, req *plotRequest) error {
	var towns []string
	for _, v := range c.StringSlice("town") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				towns = append(towns, t)
			}
		}
	}
	if req.kind == chart.KindShares {
		switch {
		case len(towns) > 0:
			return usagef("plot: --town applies to the precincts chart only")
		case c.Int("max-candidates") < 0:
			return usagef("plot: --max-candidates must be 0 (all) or more, not %d",
				c.Int("max-candidates"))
		}
		req.shares = chart.ShareOptions{Office: c.String("office"),
			MaxLines: c.Int("max-candidates")}
		return nil
	}
	switch {
	case c.IsSet("office"):
		return usagef("plot: --office applies to the shares chart only")
	case c.IsSet("max-candidates"):
		return usagef("plot: --max-candidates applies to the shares chart only")
	case req.style.X == chart.XPrecincts && c.IsSet("x"):
		return usagef("plot: the precincts chart is drawn against time; --x precincts " +
			"applies to the shares chart only")
	case len(towns) > chart.MaxTowns:
		return usagef("plot: %d towns is too many lines to tell apart; give at most %d",
			len(towns), chart.MaxTowns)
	}
	req.style.X = chart.XTime
	req.towns = chart.PrecinctOptions{Towns: towns}
	return nil
}

// runPlot builds the chart from the store and writes its image.
func runPlot(st store.Store, req plotRequest, s streams) error {
	log, err := st.Log(req.election)
	if err != nil {
		return err
	}
	var entries []chart.Entry
	byID := map[snapshot.Hash]store.Entry{}
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		if (!req.from.IsZero() && e.FetchedAt.Before(req.from)) ||
			(!req.to.IsZero() && e.FetchedAt.After(req.to)) {
			continue
		}
		entries = append(entries, chart.Entry{ID: e.ID, Meta: e.Meta})
		byID[e.ID] = e
	}
	if len(entries) == 0 {
		return fmt.Errorf("election %s has no snapshots fetched %s (%d in all; see ctrunner log %s)",
			req.election, windowText(req.from, req.to), len(log), req.election)
	}
	load := func(e chart.Entry) (*snapshot.Snapshot, error) {
		snap, err := st.Load(byID[e.ID])
		if err != nil {
			return nil, fmt.Errorf("reading snapshot %s: %w", e.ID.Short(), err)
		}
		return snap, nil
	}

	var c *chart.Chart
	if req.kind == chart.KindShares {
		c, err = chart.Shares(entries, load, req.shares)
	} else {
		c, err = chart.Precincts(entries, load, req.towns)
	}
	// An office or town asked for that the election lacks is a mistake on
	// the command line, as in replay and diff.
	switch {
	case errors.Is(err, chart.ErrUnknownOffice) && strings.TrimSpace(req.shares.Office) != "":
		return usagef("plot: --office: %v (ctrunner export offices %s lists them)", err, req.election)
	case errors.Is(err, chart.ErrUnknownOffice):
		return fmt.Errorf("plot: %w", err)
	case errors.Is(err, chart.ErrUnknownTown):
		return usagef("plot: --town: %v (ctrunner export precincts %s lists them)", err, req.election)
	case err != nil:
		return err
	}
	notePlot(c, req, entries, s)

	err = writeFileAtomically(req.output, func(w io.Writer) error {
		return chart.Render(w, c, req.style)
	})
	if err != nil {
		return err
	}
	// The snapshots drawn: the points of the fullest line.
	drawn := 0
	for _, l := range c.Lines {
		drawn = max(drawn, len(l.Points))
	}
	count := fmt.Sprintf("%d of %d snapshots drawn", drawn, len(entries))
	if drawn == len(entries) {
		count = fmt.Sprintf("%d %s", drawn, plural(drawn, "snapshot"))
	}
	s.warnf("wrote %s: %s, %s of election %s, %s", req.output, req.kind, c.Subject,
		req.election, count)
	return nil
}

// notePlot tells on stderr what the chart leaves out or could not know.
func notePlot(c *chart.Chart, req plotRequest, entries []chart.Entry, s streams) {
	for _, n := range c.Notes {
		s.warnf("note: %s", n)
	}
	if n := len(c.Omitted); n > 0 {
		s.warnf("note: %d candidacies with fewer votes are not drawn (--max-candidates 0 "+
			"draws all): %s", n, strings.Join(c.Omitted, "; "))
	}
	first, last := entries[0].FetchedAt, entries[len(entries)-1].FetchedAt
	if req.style.X == chart.XTime && len(entries) > 1 && last.Sub(first) < time.Minute {
		s.warnf("note: the %d snapshots were fetched within a minute of each other "+
			"(imported snapshots carry their files' times), so they sit on top of each other",
			len(entries))
	}
}

// windowText describes a --from/--to window.
func windowText(from, to time.Time) string {
	switch {
	case !from.IsZero() && !to.IsZero():
		return "from " + from.Format(time.RFC3339) + " to " + to.Format(time.RFC3339)
	case !from.IsZero():
		return "at or after " + from.Format(time.RFC3339)
	case !to.IsZero():
		return "at or before " + to.Format(time.RFC3339)
	}
	return "at all"
}
