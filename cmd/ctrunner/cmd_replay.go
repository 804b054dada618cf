package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/feed/feedtest"
	"ctrunner/replay"
	"ctrunner/snapshot"
	"ctrunner/store"
)

func replayCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "print an election's night as it arrived, or serve the archive again as the API",
		ArgsUsage: "ELECTION | --serve ADDR [ELECTION...]",
		Description: "Without --serve, prints the night of ELECTION as it arrived: for each\n" +
			"snapshot in the order archived, its fetch time (Eastern; --utc for UTC),\n" +
			"version and precincts reporting, a line per followed office (the leader,\n" +
			"party, votes, share and margin over the runner-up in votes and points,\n" +
			"LEAD CHANGE when someone else led before), and one line on what changed\n" +
			"since the snapshot before. Suspect snapshots say SUSPECT with the reasons.\n" +
			"--office follows an office ID, an office's name, or every office whose\n" +
			"name holds the text (any case); repeat it or give a comma list. The\n" +
			"default is the top of the ballot: the office with statewide votes that\n" +
			"comes first in the lookup data's display order. A candidate on several\n" +
			"party lines counts once, all lines added up.\n" +
			"\n" +
			"--speed N waits the recorded gaps between fetch times divided by N;\n" +
			"--no-wait prints at once. Without either it waits the real gaps when stdout\n" +
			"is a terminal and prints at once otherwise. --from and --to keep the\n" +
			"snapshots fetched in that range (RFC 3339, or 2022-11-08 21:30 in Eastern\n" +
			"time); the first one printed is still compared with the snapshot before\n" +
			"it. --json prints one JSON object per snapshot and line. Ctrl-C stops.\n" +
			"\n" +
			"With --serve, serves the snapshots of --store (of the ELECTIONs given,\n" +
			"default all) at the API's own paths on a loopback address, byte for byte\n" +
			"as archived. A clock runs through their recorded fetch times, --speed\n" +
			"times faster than on the night, from --start (a time or a snapshot ID;\n" +
			"default the first snapshot): each election serves its latest snapshot\n" +
			"fetched by the clock's time, and every version passed stays downloadable.\n" +
			"Point ctrunner archive or watch at it with --api. The printing flags do\n" +
			"not go with --serve, nor --start and --paused without it.\n" +
			"\n" +
			"Prints the base URL on stdout and serves until interrupted. The clock and\n" +
			"faults are controlled over HTTP:\n" +
			"\n" +
			"  POST /_replay/pause, /_replay/resume\n" +
			"  POST /_replay/step                      pause at the next snapshot\n" +
			"  POST /_replay/seek?time=T | ?snapshot=ID\n" +
			"  POST /_replay/speed?speed=N\n" +
			"  POST /_replay/faults?error_rate=F&status=S&latency=D&stall=true\n" +
			"  GET  /_replay/status                    the clock and each election, as JSON",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{
				Name:  "serve",
				Usage: "loopback host:port to serve on, e.g. 127.0.0.1:8090 (port 0: any free one)",
			},
			&cli.Float64Flag{
				Name:  "speed",
				Usage: "how many times faster than recorded the clock runs",
				Value: 1,
			},
			&cli.StringFlag{
				Name:  "start",
				Usage: "--serve: where the clock starts: a time (RFC 3339) or a snapshot ID",
			},
			&cli.BoolFlag{Name: "paused", Usage: "--serve: start with the clock paused"},
			&cli.StringSliceFlag{
				Name:  "office",
				Usage: "print: follow this office: an ID or (part of) its name; repeatable",
			},
			&cli.BoolFlag{Name: "no-wait", Usage: "print: print every snapshot at once"},
			&cli.StringFlag{Name: "from", Usage: "print: start at this fetch time"},
			&cli.StringFlag{Name: "to", Usage: "print: stop after this fetch time"},
			&cli.BoolFlag{Name: "json", Usage: "print: one JSON object per snapshot"},
			&cli.BoolFlag{Name: "utc", Usage: "print: show times in UTC"},
		},
		Action: func(c *cli.Context) error {
			if !c.IsSet("serve") {
				return runReplayPrint(c, io)
			}
			return runReplay(c, io)
		},
	}
}

func runReplay(c *cli.Context, io streams) error {
	addr := c.String("serve")
	for _, name := range printFlags {
		if c.IsSet(name) {
			return usagef("replay: --%s is for printing a night and does not go with --serve", name)
		}
	}
	if err := feedtest.CheckLoopback(addr); err != nil {
		return usagef("replay: --serve: %v", err)
	}
	speed := c.Float64("speed")
	if !(speed > 0 && speed <= replay.MaxSpeed) {
		return usagef("replay: --speed must be above 0 and at most %.0f, not %v",
			replay.MaxSpeed, speed)
	}
	var ids []snapshot.ElectionID
	for _, arg := range c.Args().Slice() {
		id, err := snapshot.ParseElectionID(arg)
		if err != nil {
			return usagef("replay: %v", err)
		}
		ids = append(ids, id)
	}

	st, err := openStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := newReplay(c, st, ids, speed)
	if err != nil {
		return err
	}
	defer r.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(io.stdout, "http://%s/\n", ln.Addr())
	io.warnf("replaying %d snapshots of election %s from %s to %s at %v× speed, clock at %s",
		r.Snapshots(), joinIDs(r.Elections()), r.First().Format(time.RFC3339),
		r.Last().Format(time.RFC3339), speed, r.Now().Format(time.RFC3339))

	select {
	case <-c.Context.Done():
		r.Close() // releases stalled requests first
		srv.Close()
		return nil
	case err := <-served:
		return fmt.Errorf("replay: %w", err)
	}
}

// newReplay prepares the replay of st and sets its clock to --start.
func newReplay(c *cli.Context, st store.Store, ids []snapshot.ElectionID,
	speed float64) (*replay.Server, error) {
	if len(ids) == 0 {
		all, err := st.Elections()
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("store %s holds no snapshots to replay "+
				"(fill it with ctrunner archive, import or simulate)", c.String("store"))
		}
	}
	r, err := replay.New(st, replay.Options{Elections: ids, Speed: speed,
		Paused: c.Bool("paused")})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("replay: %w (see ctrunner log --store %s)", err, c.String("store"))
	}
	if err != nil {
		return nil, err
	}

	start := c.String("start")
	if start == "" {
		return r, nil
	}
	if t, err := time.Parse(time.RFC3339, start); err == nil {
		r.Seek(t)
		return r, nil
	}
	t, err := r.FindSnapshot(start)
	if err != nil {
		r.Close()
		return nil, usagef("replay: --start %q is neither a time like 2024-11-05T21:00:00-05:00 "+
			"nor a snapshot replayed (%v)", start, err)
	}
	r.Seek(t)
	return r, nil
}

func joinIDs(ids []snapshot.ElectionID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
