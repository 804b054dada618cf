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
		Usage:     "serve the archive again as the API, on the clock of a recorded night",
		ArgsUsage: "--serve ADDR [ELECTION...]",
		Description: "Serves the snapshots of --store (of the ELECTIONs given, default all) at the\n" +
			"API's own paths on a loopback address, byte for byte as archived. A clock\n" +
			"runs through their recorded fetch times, --speed times faster than on the\n" +
			"night, from --start (a time or a snapshot ID; default the first snapshot):\n" +
			"each election serves its latest snapshot fetched by the clock's time, and\n" +
			"every version passed stays downloadable. Point ctrunner archive or watch at\n" +
			"it with --api.\n" +
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
				Usage: "where the clock starts: a time (RFC 3339) or a snapshot ID",
			},
			&cli.BoolFlag{Name: "paused", Usage: "start with the clock paused"},
		},
		Action: func(c *cli.Context) error {
			return runReplay(c, io)
		},
	}
}

func runReplay(c *cli.Context, io streams) error {
	addr := c.String("serve")
	if addr == "" {
		return usagef("replay: give --serve ADDR, e.g. --serve 127.0.0.1:8090 " +
			"(printing a replay without serving it is not done yet)")
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
