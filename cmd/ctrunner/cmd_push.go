package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/store"
)

func pushCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "replicate a git store to a mirror: a bare git repository or a git server",
		ArgsUsage: "REMOTE",
		Description: "Sends every branch of the store (the elections and the election list) to\n" +
			"REMOTE: a folder holding a bare git repository (--init creates it; pushing\n" +
			"to a folder needs git installed) or an http(s):// URL of a git server, with\n" +
			"user and password in the URL if it needs them. Only what the mirror lacks\n" +
			"is sent, and branches are only moved forward: a remote branch that holds\n" +
			"commits the store lacks stops the push before anything is sent. While the\n" +
			"remote cannot be reached, push tries again (--retries, --retry-wait), each\n" +
			"attempt bounded by --timeout; a later push catches up. Prints one line per\n" +
			"branch; a summary goes to stderr. Writers are held up only while push reads\n" +
			"the branches. A zstd store is replicated by copying its folder instead.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{
				Name:  "init",
				Usage: "create REMOTE as an empty bare repository if it is a folder that is missing",
			},
			&cli.IntFlag{
				Name:  "retries",
				Usage: "attempts after the first while the remote cannot be reached",
				Value: 3,
			},
			&cli.DurationFlag{
				Name:  "timeout",
				Usage: "give up on one attempt after this long",
				Value: 10 * time.Minute,
			},
			&cli.DurationFlag{
				Name:  "retry-wait",
				Usage: "pause before the first retry, doubled before each next one (at most 1m)",
				Value: 2 * time.Second,
			},
		},
		Action: func(c *cli.Context) error {
			remote, err := oneArg(c, "REMOTE (a folder or an http(s):// URL)")
			if err != nil {
				return err
			}
			retry, err := pushRetry(c, io)
			if err != nil {
				return err
			}
			isURL := strings.Contains(remote, "://")
			if c.Bool("init") && isURL {
				return usagef("push: --init creates a folder; make the repository " +
					"on the git server instead")
			}

			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			p, ok := st.(store.Pusher)
			if !ok {
				return fmt.Errorf("store %s is a %s store, which push cannot send: "+
					"replicate it by copying its folder (objects/ first, then "+
					"journal.jsonl; its objects never change)", c.String("store"),
					store.BackendZstd)
			}
			if c.Bool("init") {
				created, err := store.InitMirror(remote)
				if err != nil {
					return err
				}
				if created {
					io.warnf("created an empty mirror at %s", remote)
				}
			}

			r, err := store.PushWithRetry(c.Context, p, remote, retry)
			if err != nil {
				return err
			}
			return printPush(io, r)
		},
	}
}

// pushRetry reads the retry flags of push.
func pushRetry(c *cli.Context, io streams) (store.Retry, error) {
	retries := c.Int("retries")
	if retries < 0 {
		return store.Retry{}, usagef("push: --retries must be 0 or more, not %d", retries)
	}
	if c.Duration("timeout") <= 0 {
		return store.Retry{}, usagef("push: --timeout must be positive, e.g. 10m")
	}
	if c.Duration("retry-wait") < 0 {
		return store.Retry{}, usagef("push: --retry-wait must not be negative")
	}
	return store.Retry{
		Attempts: retries + 1,
		Timeout:  c.Duration("timeout"),
		Wait:     c.Duration("retry-wait"),
		OnRetry: func(n int, err error, wait time.Duration) {
			io.warnf("attempt %d failed: %v; trying again in %s", n, err, wait)
		},
	}, nil
}

// printPush prints one line per branch on stdout and a summary on stderr.
func printPush(io streams, r store.PushReport) error {
	for _, b := range r.Branches {
		var err error
		switch {
		case b.UpToDate():
			_, err = fmt.Fprintf(io.stdout, "%s: up to date\n", b.Name)
		case b.Old == "":
			_, err = fmt.Fprintf(io.stdout, "%s: new → %s\n", b.Name, b.New[:7])
		default:
			_, err = fmt.Fprintf(io.stdout, "%s: %s → %s\n", b.Name, b.Old[:7], b.New[:7])
		}
		if err != nil {
			return err
		}
	}
	n, total := r.Updated(), len(r.Branches)
	switch {
	case total == 0:
		io.warnf("nothing to push: the store has no branches yet")
	case n == 0:
		io.warnf("%s is up to date (%d %s)", r.Remote, total, branches(total))
	default:
		io.warnf("pushed %d of %d %s to %s", n, total, branches(total), r.Remote)
	}
	return nil
}

// branches is "branch" or "branches", as n asks.
func branches(n int) string {
	if n == 1 {
		return "branch"
	}
	return "branches"
}
