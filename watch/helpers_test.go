package watch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/feed"
	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
	"ctrunner/polls"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// night is a rehearsal night of one election written as a legacy folder.
type night struct {
	id    snapshot.ElectionID
	steps []rehearsal.Step
}

// writeNights writes a night of n versions for each election into a new
// legacy folder that feedtest can serve, and returns the folder and the
// nights. Each night ends with the election's recorded final results.
func writeNights(t testing.TB, n int,
	ids ...snapshot.ElectionID) (string, map[snapshot.ElectionID]*night) {
	t.Helper()
	dir := t.TempDir()
	recorded, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	nights := map[snapshot.ElectionID]*night{}
	var index []map[string]string
	for i, id := range ids {
		latest, err := recorded.Latest(id)
		if err != nil {
			t.Fatal(err)
		}
		_, ed, ld, err := legacy.Split(latest.Raw)
		if err != nil {
			t.Fatal(err)
		}
		rn, err := rehearsal.New(ed, ld, rehearsal.Options{Versions: n, Seed: int64(i + 1),
			Start: time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC), Interval: time.Minute,
			FirstVersion: snapshot.Version(1000 * (i + 1)), VersionStep: 3})
		if err != nil {
			t.Fatal(err)
		}
		nt := &night{id: id}
		for step := range rn.Steps() {
			raw, err := legacy.Wrap(step.Version, step.ElectionData, step.LookupData)
			if err != nil {
				t.Fatal(err)
			}
			folder := filepath.Join(dir, string(id), step.Version.String())
			if err := os.MkdirAll(folder, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, "raw.json"), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			nt.steps = append(nt.steps, step)
		}
		nights[id] = nt
		index = append(index, map[string]string{"ID": string(id), "Name": "night " + string(id),
			"DefaultElection": "N"})
	}
	data, _ := json.Marshal(index)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, nights
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines whose msg is one of msgs.
func (b *syncBuffer) lines(t testing.TB, msgs ...string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		for _, msg := range msgs {
			if m["msg"] == msg {
				out = append(out, m)
			}
		}
	}
	return out
}

// rig is a watch run against a fake API, with its store and journal.
type rig struct {
	t       testing.TB
	dir     string // the store
	st      store.Store
	journal *polls.Journal
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan struct{}
	stats   Stats
	commits chan Commit
}

// startWatch runs watch against the API at base with opts (Client,
// HTTPClient, Store, Journal, Log filled in) until the test stops it.
func startWatch(t testing.TB, base string, opts Options) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), logs: &syncBuffer{}, done: make(chan struct{}),
		commits: make(chan Commit, 1000)}
	st, err := store.Open(r.dir, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	r.st = st
	if r.journal, err = polls.Open(r.dir, polls.Options{}); err != nil {
		t.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	opts.HTTPClient = &http.Client{Transport: transport}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	opts.Client, err = feed.New(base, feed.Options{HTTPClient: opts.HTTPClient,
		Timeout: opts.Timeout, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Journal = st, r.journal
	opts.Log = slog.New(slog.NewJSONHandler(r.logs, nil))
	opts.Committed = func(_ context.Context, c Commit) { r.commits <- c }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		stats, err := Run(ctx, opts)
		if err != nil {
			t.Error(err)
		}
		r.stats = stats
		transport.CloseIdleConnections()
	}()
	t.Cleanup(func() {
		r.stop()
		r.journal.Close()
		r.st.Close()
	})
	return r
}

// stop ends the run; it may be called more than once.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("watch did not stop within 10s of its context being cancelled")
	}
	r.cancel = nil
}

// waitVersion waits until the store holds version v of election id.
func (r *rig) waitVersion(id snapshot.ElectionID, v snapshot.Version) store.Entry {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := r.st.Log(id)
		for _, e := range entries {
			if e.Version == v {
				return e
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("election %s version %s never stored; log:\n%s", id, v, r.logs.buf.String())
	return store.Entry{}
}

// records returns the poll journal's records of election id.
func (r *rig) records(id snapshot.ElectionID) []polls.Record {
	r.t.Helper()
	r.journal.Sync()
	var out []polls.Record
	if _, err := polls.Each(r.dir, func(rec polls.Record) {
		if rec.Election == id {
			out = append(out, rec)
		}
	}); err != nil {
		r.t.Fatal(err)
	}
	return out
}

func versionsOf(entries []store.Entry) string {
	var parts []string
	for i := len(entries) - 1; i >= 0; i-- {
		parts = append(parts, entries[i].Version.String())
	}
	return strings.Join(parts, " ")
}

func stepVersions(steps []rehearsal.Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, fmt.Sprint(s.Version))
	}
	return strings.Join(parts, " ")
}
