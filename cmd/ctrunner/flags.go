package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/feed"
	"ctrunner/store"
)

// defaultStore is the archive folder used when neither --store nor
// CTRUNNER_STORE is given: a folder in the current directory.
const defaultStore = "ctrunner-archive"

func storeFlag(aliases ...string) cli.Flag {
	return &cli.StringFlag{
		Name:    "store",
		Aliases: aliases,
		Usage:   "archive folder (a git repository or a zstd store)",
		EnvVars: []string{"CTRUNNER_STORE"},
		Value:   defaultStore,
	}
}

func apiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    "api",
			Usage:   "base URL of the election night reporting API",
			EnvVars: []string{"CTRUNNER_API"},
			Value:   feed.DefaultBaseURL,
		},
		&cli.StringFlag{
			Name:  "user-agent",
			Usage: "User-Agent header sent with every request (default: ctrunner/VERSION)",
		},
		&cli.DurationFlag{
			Name:  "timeout",
			Usage: "give up on one request after this long",
			Value: 30 * time.Second,
		},
		&cli.IntFlag{
			Name:  "retries",
			Usage: "retries of one request after network errors, 429 and 5xx",
			Value: 4,
		},
	}
}

// newClient builds the API client from the command's flags. Retries are
// reported on stderr.
func newClient(c *cli.Context, io streams) (*feed.Client, error) {
	feed.ToolVersion = version
	retries := c.Int("retries")
	switch {
	case retries < 0:
		return nil, usagef("--retries must be 0 or more, not %d", retries)
	case retries == 0:
		retries = -1 // feed.Options reads 0 as "the default"
	}
	if c.Duration("timeout") <= 0 {
		return nil, usagef("--timeout must be positive, e.g. 30s")
	}
	client, err := feed.New(c.String("api"), feed.Options{
		UserAgent: c.String("user-agent"),
		Timeout:   c.Duration("timeout"),
		Retries:   retries,
		Log:       func(msg string) { io.warnf("%s", msg) },
	})
	if err != nil {
		return nil, usagef("--api %q: %v", c.String("api"), err)
	}
	return client, nil
}

// jobsFlag bounds how many elections are fetched at once.
func jobsFlag() cli.Flag {
	return &cli.IntFlag{
		Name:  "jobs",
		Usage: "elections fetched at once (1 to 16)",
		Value: 4,
		Action: func(_ *cli.Context, n int) error {
			if n < 1 || n > 16 {
				return usagef("--jobs must be from 1 to 16, not %d", n)
			}
			return nil
		},
	}
}

// openStore opens the archive named by --store for reading.
func openStore(c *cli.Context) (store.Store, error) {
	return store.Open(c.String("store"), store.Options{})
}

// backendFlag chooses the kind of store a command creates; an existing
// store keeps its kind.
func backendFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "backend",
		Usage:   "kind of a new store: git (a bare git repository) or zstd (compressed deltas)",
		EnvVars: []string{"CTRUNNER_BACKEND"},
		Value:   store.BackendGit,
		Action: func(_ *cli.Context, b string) error {
			if b != store.BackendGit && b != store.BackendZstd {
				return usagef("--backend must be git or zstd, not %q", b)
			}
			return nil
		},
	}
}

// chosenBackend is the --backend the user gave, or "" (git for a new
// store, whatever kind an existing one is).
func chosenBackend(c *cli.Context) string {
	if c.IsSet("backend") {
		return c.String("backend")
	}
	return ""
}

// updateStore opens the store named by --store, creating it with the kind
// --backend names if it does not exist, and runs fn as one batch: every
// write fn makes is stored, or none. A store this call created is removed
// again when the batch fails, so a failed first run leaves no empty store.
func updateStore(c *cli.Context, io streams, fn func(st store.Store, b store.Batch) error) error {
	dir := c.String("store")
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, fs.ErrNotExist)

	st, err := store.Open(dir, store.Options{Create: true, Backend: chosenBackend(c)})
	if err != nil {
		return err
	}
	err = st.Update(c.Context, func(b store.Batch) error { return fn(st, b) })
	if err == nil {
		autoPack(c, io, st)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil && created {
		os.RemoveAll(dir)
	}
	return err
}

// autoPack packs a git store once enough loose objects have piled up
// (about 300 snapshots). A failure is only reported: the snapshots are
// stored either way, and a later run or ctrunner pack tries again.
func autoPack(c *cli.Context, io streams, st store.Store) {
	p, ok := st.(store.AutoPacker)
	if !ok {
		return
	}
	r, packed, err := p.AutoPack(c.Context, store.DefaultAutoPackObjects)
	switch {
	case err != nil:
		io.warnf("warning: packing the store failed (%v); run ctrunner pack", err)
	case packed:
		io.warnf("packed %d loose objects (%d → %d bytes)", r.Packed, r.BytesBefore, r.BytesAfter)
	}
}

// easternLayouts are the Eastern wall-clock forms that time flags accept
// besides RFC 3339: what a reporter reads off the results page.
var easternLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04",
	"2006-01-02T15:04:05", "2006-01-02T15:04"}

// parseTimeFlag reads the value v of the time flag --name of command: an
// RFC 3339 time, or an Eastern wall-clock time such as 2022-11-08 21:30,
// maybe followed by EST or EDT as log, replay and plot print it (the zone
// picks which of the two 1:30s the end of daylight saving time means).
// An empty value is the zero time.
func parseTimeFlag(command, name, v string) (time.Time, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	wall, zone := s, ""
	for _, z := range []string{"EST", "EDT"} {
		if rest, ok := strings.CutSuffix(s, " "+z); ok {
			wall, zone = strings.TrimSpace(rest), z
		}
	}
	for _, layout := range easternLayouts {
		t, err := time.ParseInLocation(layout, wall, easternTime)
		if err != nil {
			continue
		}
		if zone == "" {
			return t, nil
		}
		// The same wall clock at the zone's offset, if Eastern time kept
		// that zone then.
		offset := -5 * time.Hour
		if zone == "EDT" {
			offset = -4 * time.Hour
		}
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0,
			time.UTC).Add(-offset)
		if got, _ := t.In(easternTime).Zone(); got == zone {
			return t, nil
		}
		return time.Time{}, usagef("%s: --%s %q: Eastern time was not %s then", command,
			name, v, zone)
	}
	return time.Time{}, usagef("%s: --%s %q is not a time like 2022-11-08T21:30:00-05:00 "+
		"or 2022-11-08 21:30 (Eastern time)", command, name, v)
}
