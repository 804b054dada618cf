package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/night"
	"ctrunner/replay"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// printFlags are the replay flags of the printing mode only.
var printFlags = []string{"office", "no-wait", "from", "to", "json", "utc"}

// runReplayPrint prints the night of one election (replay without --serve).
func runReplayPrint(c *cli.Context, io streams) error {
	for _, name := range []string{"start", "paused"} {
		if c.IsSet(name) {
			return usagef("replay: --%s is for --serve; to print from a time, use --from", name)
		}
	}
	var id snapshot.ElectionID
	switch args := c.Args().Slice(); len(args) {
	case 0:
		return usagef("replay: give the ELECTION to print (e.g. ctrunner replay 80), " +
			"or --serve ADDR to serve the store")
	case 1:
		var err error
		if id, err = snapshot.ParseElectionID(args[0]); err != nil {
			return usagef("replay: %v", err)
		}
	default:
		return usagef("replay: prints one election at a time, not %s (--serve serves several)",
			strings.Join(args, " "))
	}
	speed, err := printSpeed(c, io)
	if err != nil {
		return err
	}
	from, err := parseTimeFlag("replay", "from", c.String("from"))
	if err != nil {
		return err
	}
	to, err := parseTimeFlag("replay", "to", c.String("to"))
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return usagef("replay: --from %s is after --to %s", c.String("from"), c.String("to"))
	}

	st, err := openStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := night.Open(st, id, night.Options{Offices: c.StringSlice("office"),
		From: from, To: to, Speed: speed})
	var officeErr *night.OfficeError
	switch {
	case errors.As(err, &officeErr):
		return usagef("replay: --office: %v", err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("replay: %w (see ctrunner log --store %s)", err, c.String("store"))
	case err != nil:
		return fmt.Errorf("replay: %w", err)
	}

	loc := easternTime
	if c.Bool("utc") {
		loc = time.UTC
	}
	err = n.Play(c.Context, func(s *night.Step) error {
		if c.Bool("json") {
			return night.WriteJSON(io.stdout, s)
		}
		return night.WriteText(io.stdout, s, loc)
	})
	if errors.Is(err, context.Canceled) {
		return nil // interrupted: what was printed stands
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// printSpeed is how many times faster than recorded the night is printed,
// 0 for at once: --speed, --no-wait, or else as recorded when stdout is a
// terminal and at once when it is not.
func printSpeed(c *cli.Context, io streams) (float64, error) {
	switch {
	case c.IsSet("speed") && c.Bool("no-wait"):
		return 0, usagef("replay: give --speed or --no-wait, not both")
	case c.Bool("no-wait"):
		return 0, nil
	case c.IsSet("speed"):
		speed := c.Float64("speed")
		if !(speed > 0 && speed <= replay.MaxSpeed) {
			return 0, usagef("replay: --speed must be above 0 and at most %.0f, not %v",
				replay.MaxSpeed, speed)
		}
		return speed, nil
	case isTerminal(io.stdout):
		return 1, nil
	}
	return 0, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
