package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/feed"
	"ctrunner/polls"
	"ctrunner/publish"
	"ctrunner/snapshot"
	"ctrunner/store"
	"ctrunner/watch"
)

func watchCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "follow elections on election night, storing every new version",
		Description: "Polls each watched election's Version.json every --interval (with\n" +
			"jitter) and fetches its documents only when the version changed. Each new\n" +
			"version is checked by the sanity gates (votes or precincts going down,\n" +
			"towns vanishing, totals not adding up …) against the last accepted one and\n" +
			"stored with its suspect reasons; suspect versions are kept, never dropped.\n" +
			"An election that fails backs off (honouring Retry-After) while the others\n" +
			"go on. --election takes IDs, ALL (every election of the list, re-read every\n" +
			"--list-interval) or default (the list's default election); repeat it or\n" +
			"separate values with commas.\n" +
			"\n" +
			"Every poll is recorded in the store folder's poll journal\n" +
			"(ctrunner-polls.jsonl; see ctrunner polls and ctrunner status). Logs go to\n" +
			"stderr (--log-format text or json): one line per new version, a warning per\n" +
			"failure or suspect version, and a heartbeat every --heartbeat.\n" +
			"\n" +
			"With --publish-dir, each new snapshot without suspect reasons (or every new\n" +
			"one with --publish-suspect) is published in the store, in the same write as\n" +
			"the snapshot, and DIR/{id}/raw.json and results.csv are swapped in\n" +
			"atomically (DIR/{id} is a link to a complete version folder). --on-publish\n" +
			"runs a command after each publication (/bin/sh -c, with CTRUNNER_ELECTION,\n" +
			"CTRUNNER_VERSION, CTRUNNER_SNAPSHOT and CTRUNNER_PUBLISH_DIR set; output to\n" +
			"stderr; a failure is logged). --push sends a git store to a mirror in the\n" +
			"background after each new snapshot.\n" +
			"\n" +
			"SIGINT or SIGTERM stops it: a store write under way completes, a fetch\n" +
			"under way is dropped, and it exits 0.",
		Flags: append([]cli.Flag{
			storeFlag(),
			backendFlag(),
			&cli.StringSliceFlag{
				Name:    "election",
				Aliases: []string{"e"},
				Usage:   "election IDs to watch, ALL or default (default: ALL)",
			},
			&cli.DurationFlag{Name: "interval", Usage: "time between two polls of an election",
				Value: watch.DefaultInterval},
			&cli.IntFlag{Name: "recheck", Value: watch.DefaultRecheck,
				Usage: "every N-th poll that finds the version unchanged fetches the documents " +
					"anyway, to catch a version number reused with other documents (0: never)"},
			&cli.DurationFlag{Name: "max-backoff",
				Usage: "longest wait after failed polls", DefaultText: "10 × --interval"},
			&cli.DurationFlag{Name: "list-interval",
				Usage: "time between two reads of the election list (ALL, default)",
				Value: watch.DefaultListInterval},
			&cli.DurationFlag{Name: "heartbeat", Usage: "time between two summary log lines " +
				"(0: none)", Value: 5 * time.Minute},
			&cli.StringFlag{Name: "log-format", Usage: "text or json", Value: "text"},
			&cli.BoolFlag{Name: "publish",
				Usage: "publish each new snapshot that passes the sanity gates in the store"},
			&cli.StringFlag{Name: "publish-dir",
				Usage: "publish into this folder too (implies --publish)"},
			&cli.BoolFlag{Name: "publish-suspect",
				Usage: "publish suspect versions too (implies --publish)"},
			&cli.DurationFlag{Name: "publish-grace",
				Usage: "keep a replaced version folder this long", Value: publish.DefaultGrace},
			&cli.StringFlag{Name: "on-publish",
				Usage: "shell command run after each publication (implies --publish)"},
			&cli.DurationFlag{Name: "on-publish-timeout",
				Usage: "kill the --on-publish command after this long",
				Value: publish.DefaultHookTimeout},
			&cli.StringFlag{Name: "push",
				Usage: "push a git store to this mirror after each new snapshot"},
		}, apiFlags()...),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runWatch(c, io)
		},
	}
}

func runWatch(c *cli.Context, io streams) error {
	opts, err := watchOptions(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c.String("log-format"), io)
	if err != nil {
		return err
	}
	opts.Log = log
	if err := watchHTTP(c, io, &opts); err != nil {
		return err
	}

	// main handles these signals too; a test that runs the command
	// in-process relies on this.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir := c.String("store")
	st, err := store.Open(dir, store.Options{Create: true, Backend: chosenBackend(c)})
	if err != nil {
		return err
	}
	defer st.Close()
	opts.Store = st
	journal, err := polls.Open(dir, polls.Options{})
	if err != nil {
		return err
	}
	if pd := c.String("publish-dir"); pd != "" {
		if err := rememberPublishDir(dir, pd); err != nil {
			return fmt.Errorf("recording the publish folder in %s: %w", dir, err)
		}
	}
	defer journal.Close()
	opts.Journal = journal

	var pusher *store.BackgroundPusher
	if remote := c.String("push"); remote != "" {
		p, ok := st.(store.Pusher)
		if !ok {
			return usagef("watch: --push needs a git store; %s is a zstd store "+
				"(replicate it by copying its folder)", dir)
		}
		// Push once before the night starts: a mirror that is missing or
		// refuses the store is a mistake to fix now, not to retry all
		// night. A mirror that cannot be reached yet is retried.
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := p.Push(pctx, remote)
		cancel()
		if err != nil && !store.Transient(err) && ctx.Err() == nil {
			return fmt.Errorf("watch: --push: %w", err)
		}
		if err != nil {
			log.Warn("push failed; retrying in the background", "err", err.Error())
		}
		pusher = store.NewBackgroundPusher(func(ctx context.Context) (store.PushReport, error) {
			return p.Push(ctx, remote)
		}, store.BackgroundOptions{
			Timeout: 10 * time.Minute,
			OnError: func(err error, retryIn time.Duration) {
				log.Warn("push failed", "err", err.Error(), "retry_in", retryIn.String())
			},
		})
	}
	out := publishTargets(c, io)
	resyncPublishDir(st, out.dir, log)
	hooks := newHookRunner(out.hook, log)
	opts.Committed = afterCommit(out, log, pusher, hooks)

	_, err = watch.Run(ctx, opts)
	hooks.close()
	if pusher != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if perr := pusher.Close(closeCtx); perr != nil {
			log.Warn("push at exit failed", "err", perr.Error())
		}
		cancel()
	}
	return err
}

// watchOptions reads the flags that say what to watch and how.
func watchOptions(c *cli.Context) (watch.Options, error) {
	var o watch.Options
	values := c.StringSlice("election")
	if len(values) == 0 {
		values = []string{"ALL"}
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			switch {
			case strings.EqualFold(part, "ALL"):
				o.All = true
			case strings.EqualFold(part, "default"):
				o.Default = true
			default:
				id, err := snapshot.ParseElectionID(part)
				if err != nil {
					return o, usagef("watch: --election: %v (want IDs, ALL or default)", err)
				}
				o.Elections = append(o.Elections, id)
			}
		}
	}
	o.Interval = c.Duration("interval")
	o.MaxBackoff = c.Duration("max-backoff")
	o.Recheck = c.Int("recheck")
	if o.Recheck == 0 {
		o.Recheck = -1 // never; watch.Options reads 0 as the default
	}
	o.ListInterval = c.Duration("list-interval")
	o.Heartbeat = c.Duration("heartbeat")
	switch {
	case o.Interval <= 0:
		return o, usagef("watch: --interval must be positive, e.g. 30s")
	case o.MaxBackoff < 0 || o.ListInterval <= 0 || o.Heartbeat < 0:
		return o, usagef("watch: --max-backoff, --list-interval and --heartbeat " +
			"must not be negative")
	case c.Duration("publish-grace") <= 0 || c.Duration("on-publish-timeout") <= 0:
		return o, usagef("watch: --publish-grace and --on-publish-timeout must be positive")
	}
	o.PublishSuspect = c.Bool("publish-suspect")
	o.Publish = c.Bool("publish") || o.PublishSuspect || c.String("publish-dir") != "" ||
		c.String("on-publish") != ""
	if dir := c.String("publish-dir"); dir != "" {
		if err := checkDest(dir, c.String("store")); err != nil {
			return o, usagef("watch: --publish-dir: %v", strings.TrimPrefix(err.Error(),
				"checkout: "))
		}
	}
	return o, nil
}

// watchHTTP builds the one HTTP client that polls and fetches share.
func watchHTTP(c *cli.Context, io streams, o *watch.Options) error {
	feed.ToolVersion = version
	retries := c.Int("retries")
	switch {
	case retries < 0:
		return usagef("--retries must be 0 or more, not %d", retries)
	case retries == 0:
		retries = -1 // feed.Options reads 0 as "the default"
	}
	if c.Duration("timeout") <= 0 {
		return usagef("--timeout must be positive, e.g. 30s")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 8
	transport.IdleConnTimeout = 90 * time.Second
	o.HTTPClient = &http.Client{Transport: transport, CheckRedirect: sameHost}
	o.UserAgent = c.String("user-agent")
	if o.UserAgent == "" {
		o.UserAgent = feed.DefaultUserAgent()
	}
	o.Timeout = c.Duration("timeout")
	client, err := feed.New(c.String("api"), feed.Options{
		UserAgent:  o.UserAgent,
		Timeout:    o.Timeout,
		Retries:    retries,
		HTTPClient: o.HTTPClient,
		Log:        func(msg string) { o.Log.Warn("retrying a request", "detail", msg) },
	})
	if err != nil {
		return usagef("--api %q: %v", c.String("api"), err)
	}
	o.Client = client
	return nil
}

// sameHost follows a redirect only to the host of the first request.
func sameHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("refusing redirect to another host (%s)", req.URL.Host)
	}
	return nil
}

// newLogger returns the structured logger of watch, writing to stderr.
func newLogger(format string, io streams) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(io.stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(io.stderr, nil)), nil
	}
	return nil, usagef("--log-format must be text or json, not %q", format)
}

// afterCommit returns what watch does after storing a new snapshot: ask
// for a push, and for a published one rewrite the publish folder and run
// the --on-publish command. Failures are logged, never fatal: the
// snapshot and its publication are stored either way.
func afterCommit(out publishOutputs, log *slog.Logger, pusher *store.BackgroundPusher,
	hooks *hookRunner) func(context.Context, watch.Commit) {
	// A note on the documents (codes missing from the lookup data) would
	// repeat with every version of the night: it is logged once per
	// election, later ones only at debug level.
	var noted sync.Map
	note := func(id snapshot.ElectionID) func(string) {
		return func(msg string) {
			if _, seen := noted.LoadOrStore(id, true); seen {
				log.Debug(msg)
				return
			}
			log.Info(msg + " (said once per election)")
		}
	}
	return func(ctx context.Context, wc watch.Commit) {
		if pusher != nil {
			pusher.Notify()
		}
		if wc.Publication == nil {
			return
		}
		if out.dir != "" {
			_, err := publish.Write(out.dir, wc.Snapshot, wc.Publication.At,
				publish.Options{Grace: out.grace, Warn: note(wc.Snapshot.Election)})
			if err != nil {
				log.Warn("publishing failed", "election", wc.Entry.Election,
					"version", int64(wc.Entry.Version), "err", err.Error())
			}
		}
		hooks.notify(publish.Event{
			Election:   string(wc.Snapshot.Election),
			Version:    wc.Snapshot.Version.String(),
			Snapshot:   wc.Snapshot.ID().String(),
			PublishDir: out.dir,
		})
	}
}

// resyncPublishDir brings the publish folder in line with the store's
// publications at start: a crash between storing a publication and
// rewriting the folder, or a folder write that failed, is mended here.
func resyncPublishDir(st store.Store, dir string, log *slog.Logger) {
	if dir == "" {
		return
	}
	ids, err := st.Elections()
	if err != nil {
		return
	}
	for _, id := range ids {
		pub, err := st.Published(id)
		if err != nil {
			continue
		}
		if cur, err := publish.Current(dir, id); err == nil && cur.Snapshot == pub.Entry.ID.String() {
			continue
		}
		snap, err := st.Load(pub.Entry)
		if err == nil {
			_, err = publish.Write(dir, snap, pub.At, publish.Options{})
		}
		if err != nil {
			log.Warn("bringing the publish folder up to date failed", "election", id,
				"err", err.Error())
			continue
		}
		log.Info("publish folder brought up to date", "election", id,
			"version", int64(pub.Entry.Version))
	}
}

// hookRunner runs the --on-publish command off the polling path, one at a
// time, so that a slow command never delays a poll. Publications of an
// election that arrive while the command runs collapse into the latest.
type hookRunner struct {
	hook    publish.Hook
	log     *slog.Logger
	mu      sync.Mutex
	pending map[string]publish.Event
	order   []string
	wake    chan struct{}
	done    chan struct{}
	closing bool
}

func newHookRunner(h publish.Hook, log *slog.Logger) *hookRunner {
	r := &hookRunner{hook: h, log: log, pending: map[string]publish.Event{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go r.loop()
	return r
}

// notify queues ev, replacing an earlier one of the same election.
func (r *hookRunner) notify(ev publish.Event) {
	if r.hook.Command == "" {
		return
	}
	r.mu.Lock()
	if _, ok := r.pending[ev.Election]; !ok {
		r.order = append(r.order, ev.Election)
	}
	r.pending[ev.Election] = ev
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *hookRunner) loop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		if len(r.order) == 0 {
			closing := r.closing
			r.mu.Unlock()
			if closing {
				return
			}
			<-r.wake
			continue
		}
		ev := r.pending[r.order[0]]
		delete(r.pending, r.order[0])
		r.order = r.order[1:]
		r.mu.Unlock()
		if err := r.hook.Run(context.Background(), ev); err != nil {
			r.log.Warn("the --on-publish command failed", "election", ev.Election,
				"version", ev.Version, "err", err.Error())
		}
	}
}

// close runs what is still queued, then stops.
func (r *hookRunner) close() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	<-r.done
}

// publishOutputs are what a publication rewrites or runs besides the
// store: the --publish-dir folder and the --on-publish command.
type publishOutputs struct {
	dir   string
	grace time.Duration
	hook  publish.Hook
}

// publishTargets reads --publish-dir, --publish-grace, --on-publish and
// --on-publish-timeout.
func publishTargets(c *cli.Context, io streams) publishOutputs {
	return publishOutputs{
		dir:   c.String("publish-dir"),
		grace: c.Duration("publish-grace"),
		hook: publish.Hook{Command: c.String("on-publish"),
			Timeout: c.Duration("on-publish-timeout"), Output: io.stderr},
	}
}

// write rewrites the publish folder (if there is one) and runs the hook
// (if there is one) for a publication of snap. Both are tried; their
// failures are returned together.
func (p publishOutputs) write(ctx context.Context, snap *snapshot.Snapshot, at time.Time,
	note func(string)) error {
	var errs []error
	if p.dir != "" {
		_, err := publish.Write(p.dir, snap, at, publish.Options{Grace: p.grace, Warn: note})
		errs = append(errs, err)
	}
	if p.hook.Command != "" {
		errs = append(errs, p.hook.Run(ctx, publish.Event{
			Election:   string(snap.Election),
			Version:    snap.Version.String(),
			Snapshot:   snap.ID().String(),
			PublishDir: p.dir,
		}))
	}
	return errors.Join(errs...)
}
