// Package watch follows elections on election night: it polls each
// election's Version.json, fetches and stores every new version as it is
// published, runs it through the sanity gates (package suspect), records
// every poll in the poll journal (package polls) and, if asked, publishes
// each new snapshot that passes the gates.
//
// # How an election is followed
//
// Each watched election has a goroutine of its own that polls every
// Options.Interval, with jitter. A poll reads Version.json with the
// validators (ETag, Last-Modified) of the version stored last, so that an
// unchanged version is a 304 or a version number already stored. A new
// version is fetched as a consistent set of documents (feed's Election),
// its documents are decoded, and it is compared by a suspect.Checker with
// the last accepted version, primed at start from the store's latest
// snapshot without suspect reasons. It is then stored with its reasons in
// Meta.Suspect: suspect versions are kept, never dropped, but only those
// without reasons are published (unless Options.PublishSuspect), in the
// same store Update as the snapshot.
//
// A failed poll backs that election off, doubling its wait up to
// Options.MaxBackoff, or longer if the server asked for it with
// Retry-After; the other elections go on.
//
// Stopping: when ctx is cancelled, a fetch under way is abandoned (nothing
// of it is stored), but a store Update under way completes: its context is
// not the caller's. Run returns once every election's goroutine has ended.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ctrunner/feed"
	"ctrunner/polls"
	"ctrunner/snapshot"
	"ctrunner/store"
	"ctrunner/suspect"
)

// Defaults for the zero fields of Options.
const (
	DefaultInterval     = 30 * time.Second
	DefaultJitter       = 0.1
	DefaultListInterval = 5 * time.Minute
	DefaultTimeout      = 30 * time.Second
	// DefaultRecheck: every 10th unchanged poll fetches the documents.
	DefaultRecheck = 10
	// maxRetryAfter caps the wait a server can ask for.
	maxRetryAfter = 30 * time.Minute
)

// PublishReason is the reason watch gives the publications it records.
const PublishReason = "watch"

// Options say what to watch and how.
type Options struct {
	// Client fetches the election list and new versions.
	Client *feed.Client
	// HTTPClient makes the Version.json polls; give it the one Client
	// uses, so that one connection pool serves both.
	HTTPClient *http.Client
	// UserAgent is sent with every poll.
	UserAgent string
	// Timeout bounds one Version.json request.
	Timeout time.Duration
	// Store receives the new versions.
	Store store.Store
	// Journal, if not nil, records every poll.
	Journal *polls.Journal
	// Log gets the structured log lines.
	Log *slog.Logger

	// Elections are watched whatever the list says. All adds every
	// election of the list, Default the list's default one; the list is
	// read again every ListInterval for new ones.
	Elections []snapshot.ElectionID
	All       bool
	Default   bool

	// Interval is the time between two polls of one election; each wait
	// is drawn within ±Jitter (a fraction) of it.
	Interval     time.Duration
	Jitter       float64
	MaxBackoff   time.Duration // longest wait after failures; 10×Interval if zero
	ListInterval time.Duration
	// Recheck makes every Recheck-th poll that finds the version unchanged
	// fetch the documents all the same, so that a version number published
	// again with other documents is caught (and stored, flagged
	// version-reused). DefaultRecheck if zero; never if negative.
	Recheck int
	// Heartbeat, if positive, is the time between two summary log lines.
	Heartbeat time.Duration

	// Publish publishes each new snapshot without suspect reasons, or
	// each new snapshot with PublishSuspect.
	Publish        bool
	PublishSuspect bool
	// Committed, if set, is called after each new snapshot is stored, from
	// the goroutine of its election (one call per election at a time), for
	// instance to rewrite a publish folder.
	Committed func(ctx context.Context, c Commit)
}

// Commit is a new snapshot that watch stored.
type Commit struct {
	Entry    store.Entry
	Snapshot *snapshot.Snapshot
	// Publication is set when the snapshot was published with it.
	Publication *store.Publication
}

// Stats count what a Run did.
type Stats struct {
	Polls, NewVersions, Suspect, Failures int64
}

// watcher is one Run.
type watcher struct {
	opts Options
	base string
	log  *slog.Logger

	commitMu sync.Mutex // one store Update at a time

	polls, versions, suspects, failures atomic.Int64

	mu        sync.Mutex // guards followed
	followed  map[snapshot.ElectionID]context.CancelFunc
	wg        sync.WaitGroup
	listBytes []byte // the election list stored last
}

// Run watches until ctx is cancelled, then returns what it did. It fails
// only when its options are wrong.
func Run(ctx context.Context, opts Options) (Stats, error) {
	if err := setDefaults(&opts); err != nil {
		return Stats{}, err
	}
	w := &watcher{
		opts:     opts,
		base:     opts.Client.BaseURL(),
		log:      opts.Log,
		followed: make(map[snapshot.ElectionID]context.CancelFunc),
	}
	w.log.Info("watching", "elections", ids(opts.Elections), "all", opts.All,
		"default", opts.Default, "interval", opts.Interval.String(),
		"publish", opts.Publish)
	w.follow(ctx, opts.Elections)

	// The list is read every ListInterval; until it has been read once,
	// every Interval.
	var listTimer *time.Timer
	var listTick <-chan time.Time
	listRead := false
	readList := func() {
		listRead = w.readList(ctx) || listRead
		if listRead {
			listTimer.Reset(opts.ListInterval)
		} else {
			listTimer.Reset(w.jitter(opts.Interval))
		}
	}
	if opts.All || opts.Default {
		listTimer = time.NewTimer(0)
		defer listTimer.Stop()
		listTick = listTimer.C
	}
	var beat <-chan time.Time
	if opts.Heartbeat > 0 {
		t := time.NewTicker(opts.Heartbeat)
		defer t.Stop()
		beat = t.C
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-listTick:
			readList()
		case <-beat:
			w.heartbeat()
		}
	}
	w.wg.Wait()
	st := w.stats()
	w.log.Info("stopped", "polls", st.Polls, "new_versions", st.NewVersions,
		"suspect", st.Suspect, "failures", st.Failures)
	return st, nil
}

func setDefaults(o *Options) error {
	switch {
	case o.Client == nil || o.Store == nil || o.HTTPClient == nil:
		return errors.New("watch: Client, HTTPClient and Store are required")
	case len(o.Elections) == 0 && !o.All && !o.Default:
		return errors.New("watch: no election to watch")
	case o.Interval < 0 || o.Jitter < 0 || o.Jitter >= 1:
		return errors.New("watch: Interval must not be negative, Jitter within [0, 1)")
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Jitter == 0 {
		o.Jitter = DefaultJitter
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * o.Interval
	}
	if o.Recheck == 0 {
		o.Recheck = DefaultRecheck
	}
	if o.ListInterval <= 0 {
		o.ListInterval = DefaultListInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = feed.DefaultUserAgent()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return nil
}

func (w *watcher) stats() Stats {
	return Stats{Polls: w.polls.Load(), NewVersions: w.versions.Load(),
		Suspect: w.suspects.Load(), Failures: w.failures.Load()}
}

// follow starts a goroutine for each election not followed yet.
func (w *watcher) follow(ctx context.Context, elections []snapshot.ElectionID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range elections {
		if _, ok := w.followed[id]; ok || ctx.Err() != nil {
			continue
		}
		ectx, cancel := context.WithCancel(ctx)
		w.followed[id] = cancel
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(ectx, id)
		}()
	}
}

// unfollow stops following the elections not in keep that were chosen
// through the list (explicit ones stay).
func (w *watcher) unfollow(keep []snapshot.ElectionID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, cancel := range w.followed {
		if slices.Contains(keep, id) || slices.Contains(w.opts.Elections, id) {
			continue
		}
		w.log.Info("no longer in the election list; stopped following", "election", id)
		cancel()
		delete(w.followed, id)
	}
}

// readList reads the election list, stores it if it changed, and follows
// the elections it names (All) or its default one (Default). A failure is
// logged; the elections followed so far go on. It reports whether the
// list was read.
func (w *watcher) readList(ctx context.Context) bool {
	raw, err := w.opts.Client.ElectionList(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("reading the election list failed", "err", err.Error())
		}
		return false
	}
	list, err := snapshot.DecodeElectionList(raw)
	if err != nil {
		w.log.Warn("reading the election list failed", "err", err.Error())
		return false
	}
	if len(list) == 0 {
		// A list that comes back empty is a feed fault, not the end of
		// every election: keep following what was followed.
		w.log.Warn("the election list is empty; still watching the elections already followed")
		return false
	}
	var chosen []snapshot.ElectionID
	for _, e := range list {
		if _, err := snapshot.ParseElectionID(string(e.ID)); err != nil {
			w.log.Warn("the election list holds a bad entry; skipped", "err", err.Error())
			continue
		}
		if w.opts.All || e.Default {
			chosen = append(chosen, e.ID)
		}
	}
	if w.opts.Default && !w.opts.All && len(chosen) == 0 {
		w.log.Warn("the election list names no default election")
	}
	if !slices.Equal(raw, w.listBytes) {
		w.storeList(ctx, raw)
	}
	w.unfollow(chosen)
	w.follow(ctx, chosen)
	return true
}

// storeList archives the election list.
func (w *watcher) storeList(ctx context.Context, raw []byte) {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	added := false
	err := w.opts.Store.Update(context.WithoutCancel(ctx), func(b store.Batch) error {
		var err error
		added, err = b.PutElectionList(raw, time.Now().UTC(),
			w.base+snapshot.ElectionListFile)
		return err
	})
	if err != nil {
		w.log.Warn("storing the election list failed", "err", err.Error())
		return
	}
	w.listBytes = raw
	if added {
		w.log.Info("new election list")
	}
}

// heartbeat logs a summary of the run so far and of the process.
func (w *watcher) heartbeat() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.mu.Lock()
	n := len(w.followed)
	w.mu.Unlock()
	st := w.stats()
	w.log.Info("heartbeat", "elections", n, "polls", st.Polls, "new_versions", st.NewVersions,
		"suspect", st.Suspect, "failures", st.Failures, "goroutines", runtime.NumGoroutine(),
		"heap_bytes", m.HeapAlloc, "open_files", openFiles())
}

// openFiles counts the process's open file descriptors, or -1 where
// /proc is not available.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries) - 1 // the descriptor ReadDir itself held
}

// election is what the goroutine of one election keeps between polls.
type election struct {
	id        snapshot.ElectionID
	checker   suspect.Checker
	stored    bool             // whether the store holds a snapshot of it
	version   snapshot.Version // of the snapshot stored last
	validator validators       // sent with the next poll
	failures  int              // failed polls in a row
	unchanged int              // polls in a row that found the version unchanged
}

// run follows one election until ctx is cancelled.
func (w *watcher) run(ctx context.Context, id snapshot.ElectionID) {
	e := &election{id: id}
	w.prime(e)
	// Spread the first polls of many elections over a tenth of the interval.
	timer := time.NewTimer(rand.N(w.opts.Interval/10 + 1))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(w.poll(ctx, e))
	}
}

// prime loads what the store knows of the election: the version stored
// last, and the latest snapshot without suspect reasons as the version the
// sanity gates compare the next one with.
func (w *watcher) prime(e *election) {
	entries, err := w.opts.Store.Log(e.id)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		w.log.Warn("reading the store failed; the sanity gates start afresh",
			"election", e.id, "err", err.Error())
		return
	}
	e.stored, e.version = true, entries[0].Version
	for _, entry := range entries {
		if len(entry.Suspect) > 0 {
			continue
		}
		snap, err := w.opts.Store.Load(entry)
		if err == nil {
			err = e.checker.Accept(suspect.FromSnapshot(snap))
		}
		if err != nil {
			w.log.Warn("priming the sanity gates failed; they start afresh",
				"election", e.id, "snapshot", entry.ID.Short(), "err", err.Error())
		}
		return
	}
}

// poll polls the election once and returns the wait before the next poll.
func (w *watcher) poll(ctx context.Context, e *election) time.Duration {
	start := time.Now()
	rec := polls.Record{Time: start.UTC(), Election: e.id}
	a, err := w.fetchVersion(ctx, e.id, e.validator)
	rec.Status, rec.Bytes, rec.Version = a.status, a.bytes, a.version
	if err != nil {
		return w.failed(ctx, e, rec, start, err, a.retryAfter)
	}
	if a.notModified || (e.stored && a.version == e.version) {
		e.validator = a.validators
		e.unchanged++
		if w.opts.Recheck < 0 || e.unchanged < w.opts.Recheck {
			rec.Version, rec.Outcome = e.version, polls.Unchanged
			return w.succeeded(e, rec, start)
		}
		// Fetch the documents anyway: identical ones add nothing (the
		// store deduplicates), other ones are a reused version number.
	}
	e.unchanged = 0

	snap, err := w.opts.Client.Election(ctx, e.id)
	if err != nil {
		return w.failed(ctx, e, rec, start, err, 0)
	}
	for _, f := range snap.Files {
		rec.Bytes += int64(len(f.Data))
	}
	rec.Version = snap.Version
	// The gates decode the documents; one that does not decode is not
	// stored (as archive does) but retried.
	reasons := e.checker.Check(suspect.FromSnapshot(snap))
	if err := undecodable(snap, reasons); err != nil {
		return w.failed(ctx, e, rec, start, err, 0)
	}
	for _, r := range reasons {
		snap.Suspect = append(snap.Suspect, r.String())
	}
	ed, _ := snap.File(snapshot.ElectionDataFile)
	snap.PrecinctsReporting, _ = snapshot.Summarize(ed)

	c, added, err := w.commit(ctx, snap)
	if err != nil {
		return w.failed(ctx, e, rec, start, err, 0)
	}
	e.stored, e.version = true, snap.Version
	if a.version == snap.Version {
		e.validator = a.validators // else the version moved during the fetch
	} else {
		e.validator = validators{}
	}
	rec.Snapshot = c.Entry.ID.Short()
	if !added {
		rec.Outcome = polls.Unchanged
		return w.succeeded(e, rec, start)
	}
	rec.Outcome, rec.Reasons = polls.New, snap.Suspect
	if len(snap.Suspect) > 0 {
		rec.Outcome = polls.Suspect
	}
	rec.Published = c.Publication != nil
	w.logNew(c)
	if w.opts.Committed != nil {
		w.opts.Committed(ctx, c)
	}
	return w.succeeded(e, rec, start)
}

// commit stores a new version and publishes it if it should be, in one
// store Update that the caller's cancellation does not interrupt.
func (w *watcher) commit(ctx context.Context, snap *snapshot.Snapshot) (Commit, bool, error) {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	c := Commit{Snapshot: snap}
	added := false
	publish := w.opts.Publish && (len(snap.Suspect) == 0 || w.opts.PublishSuspect)
	err := w.opts.Store.Update(context.WithoutCancel(ctx), func(b store.Batch) error {
		var err error
		c.Entry, added, err = b.Put(snap)
		if err != nil || !added || !publish {
			return err
		}
		// A publication the store refuses must not cost the snapshot: it
		// is logged, and the snapshot is stored without it.
		p, err := b.Publish(c.Entry, time.Now().UTC(), PublishReason)
		if err != nil {
			w.log.Warn("publishing in the store failed; the snapshot is stored unpublished",
				"election", snap.Election, "version", int64(snap.Version), "err", err.Error())
			return nil
		}
		c.Publication = &p
		return nil
	})
	if err != nil {
		return c, false, fmt.Errorf("storing election %s version %s: %w",
			snap.Election, snap.Version, err)
	}
	if added {
		w.autoPack(ctx)
	}
	return c, added, nil
}

// autoPack packs a git store once enough loose objects have piled up.
func (w *watcher) autoPack(ctx context.Context) {
	p, ok := w.opts.Store.(store.AutoPacker)
	if !ok {
		return
	}
	r, packed, err := p.AutoPack(context.WithoutCancel(ctx), store.DefaultAutoPackObjects)
	switch {
	case err != nil:
		w.log.Warn("packing the store failed; run ctrunner pack", "err", err.Error())
	case packed:
		w.log.Info("packed the store", "objects", r.Packed, "bytes_before", r.BytesBefore,
			"bytes_after", r.BytesAfter)
	}
}

// logNew logs one line for a new version.
func (w *watcher) logNew(c Commit) {
	e := c.Entry
	attrs := []any{"election", e.Election, "version", int64(e.Version),
		"snapshot", e.ID.Short(), "precincts", e.PrecinctsReporting,
		"published", c.Publication != nil}
	w.versions.Add(1)
	if len(e.Suspect) > 0 {
		w.suspects.Add(1)
		w.log.Warn("suspect version", append(attrs, "suspect", suspectSummary(e.Suspect))...)
		return
	}
	w.log.Info("new version", attrs...)
}

// succeeded records a poll that went well and returns the next wait.
func (w *watcher) succeeded(e *election, rec polls.Record, start time.Time) time.Duration {
	if e.failures > 0 {
		w.log.Info("election recovered", "election", e.id, "failed_polls", e.failures)
	}
	e.failures = 0
	w.record(rec, start)
	return w.jitter(w.opts.Interval)
}

// failed records a failed poll and returns the wait before the next: the
// interval doubled per failure in a row, up to MaxBackoff, or what the
// server asked for if longer. A poll cut short by ctx is not recorded.
func (w *watcher) failed(ctx context.Context, e *election, rec polls.Record,
	start time.Time, err error, retryAfter time.Duration) time.Duration {
	if ctx.Err() != nil {
		return w.opts.Interval
	}
	e.failures++
	w.failures.Add(1)
	wait := w.opts.Interval
	for i := 1; i < e.failures && wait < w.opts.MaxBackoff; i++ {
		wait *= 2
	}
	wait = w.jitter(min(wait, w.opts.MaxBackoff))
	if retryAfter > wait {
		wait = min(retryAfter, maxRetryAfter)
	}
	rec.Outcome, rec.Reason = polls.Failed, oneLine(err.Error())
	w.log.Warn("poll failed", "election", e.id, "failures_in_a_row", e.failures,
		"retry_in", wait.Round(time.Millisecond).String(), "err", rec.Reason)
	w.record(rec, start)
	return wait
}

// record appends a poll to the journal.
func (w *watcher) record(rec polls.Record, start time.Time) {
	w.polls.Add(1)
	rec.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if w.opts.Journal == nil {
		return
	}
	if err := w.opts.Journal.Append(rec); err != nil {
		w.log.Warn("writing the poll journal failed", "err", err.Error())
	}
}

// jitter draws a wait within ±Jitter of d.
func (w *watcher) jitter(d time.Duration) time.Duration {
	spread := time.Duration(float64(d) * w.opts.Jitter)
	if spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}

// undecodable returns an error naming the documents of snap that did not
// decode, as the sanity gates reported them, or nil.
func undecodable(snap *snapshot.Snapshot, reasons []suspect.Reason) error {
	var msgs []string
	for _, r := range reasons {
		if r.Kind == suspect.DecodeFailed {
			msgs = append(msgs, r.Detail)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", snap.SourceURL, strings.Join(msgs, "; "))
}

func ids(list []snapshot.ElectionID) string {
	parts := make([]string, len(list))
	for i, id := range list {
		parts[i] = string(id)
	}
	return strings.Join(parts, ",")
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// suspectSummary gives a version's suspect reasons for one log line: the
// first three, "; "-separated, and how many more there are (ctrunner show
// lists them all).
func suspectSummary(reasons []string) string {
	const shown = 3
	s := strings.Join(reasons[:min(len(reasons), shown)], "; ")
	if len(reasons) > shown {
		s += fmt.Sprintf("; and %d more reasons (ctrunner show lists them)", len(reasons)-shown)
	}
	return s
}
