package feed_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/feed"
	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// start serves the recorded testdata and returns a client for it with
// tiny timeouts and backoffs; tweak adjusts the options.
func start(t *testing.T, tweak func(*feed.Options)) (*feedtest.Server, *feed.Client, *logLines) {
	t.Helper()
	srv, err := feedtest.Start(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	logs := &logLines{}
	opts := feed.Options{
		Timeout:    10 * time.Second,
		Retries:    2,
		Backoff:    time.Millisecond,
		MaxBackoff: 5 * time.Millisecond,
		Log:        logs.add,
	}
	if tweak != nil {
		tweak(&opts)
	}
	c, err := feed.New(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c, logs
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// recorded returns the documents the testdata holds for one version.
func recorded(t *testing.T, id snapshot.ElectionID, v snapshot.Version) (ed, ld []byte) {
	t.Helper()
	a, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := a.Read(id, v)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, ld, err = legacy.Split(rec.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return ed, ld
}

func countRequests(srv *feedtest.Server, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// checkSnapshot checks that s holds exactly the recorded documents of
// version v of election id.
func checkSnapshot(t *testing.T, s *snapshot.Snapshot, id snapshot.ElectionID,
	v snapshot.Version) {
	t.Helper()
	if s.Election != id || s.Version != v {
		t.Errorf("snapshot of %s/%s, want %s/%s", s.Election, s.Version, id, v)
	}
	wantED, wantLD := recorded(t, id, v)
	for _, f := range []struct {
		name string
		want []byte
	}{
		{snapshot.ElectionDataFile, wantED},
		{snapshot.LookupDataFile, wantLD},
		{snapshot.VersionFile, []byte(`{"Version":` + v.String() + `}`)},
	} {
		got, ok := s.File(f.name)
		if !ok || !bytes.Equal(got, f.want) {
			t.Errorf("snapshot %s: %d bytes, want the %d recorded for version %s",
				f.name, len(got), len(f.want), v)
		}
	}
	if len(s.Files) != 3 || len(s.Documents) != 3 {
		t.Errorf("snapshot has %d files and %d hashes, want 3", len(s.Files), len(s.Documents))
	}
}

func TestElection(t *testing.T) {
	srv, c, _ := start(t, func(o *feed.Options) { o.UserAgent = "" })
	before := time.Now()
	s, err := c.Election(context.Background(), "80")
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, s, "80", 13392)
	if got, want := s.SourceURL, srv.URL+"election/80/13392/"; got != want {
		t.Errorf("SourceURL = %s, want %s", got, want)
	}
	if s.Source != snapshot.Fetched || s.FetchedAt.Location() != time.UTC ||
		s.FetchedAt.Before(before) || s.FetchedAt.After(time.Now()) {
		t.Errorf("Source %s FetchedAt %v, want fetched, UTC, during the call",
			s.Source, s.FetchedAt)
	}
	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Errorf("served %d requests, want 4: %v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if r.UserAgent != feed.DefaultUserAgent() || r.Accept != "application/json" {
			t.Errorf("request %s: User-Agent %q Accept %q, want %q and application/json",
				r.Path, r.UserAgent, r.Accept, feed.DefaultUserAgent())
		}
	}
	if !strings.HasPrefix(feed.DefaultUserAgent(), "ctrunner/") {
		t.Errorf("DefaultUserAgent() = %q, want it to name ctrunner", feed.DefaultUserAgent())
	}
}

func TestElectionList(t *testing.T) {
	srv, c, _ := start(t, nil)
	got, err := c.ElectionList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(feedtest.TestdataDir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ElectionList() = %d bytes, want the %d of index.json", len(got), len(want))
	}

	if err := srv.Inject(snapshot.ElectionListFile,
		feedtest.Fault{Kind: feedtest.Status, Status: 200, Body: `{"ID":"1"}`}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ElectionList(context.Background())
	if !errors.Is(err, feed.ErrBadBody) || !strings.Contains(err.Error(), "not a JSON array") {
		t.Errorf("ElectionList() of an object: error = %v, want not a JSON array", err)
	}
}

func TestFaults(t *testing.T) {
	const path = "election/24/42355/Electiondata.json"
	tests := []struct {
		name  string
		fault feedtest.Fault
		tweak func(*feed.Options)
		// want is part of the error, or "" when the fetch must succeed.
		want     string
		wantIs   []error
		requests int // requests for path
	}{
		{name: "html", fault: feedtest.Fault{Kind: feedtest.HTML},
			want:     "HTTP 200: body is an HTML page, not JSON",
			wantIs:   []error{feed.ErrBadBody},
			requests: 3},
		{name: "html once", fault: feedtest.Fault{Kind: feedtest.HTML, Count: 1}, requests: 2},
		{name: "xml 403", fault: feedtest.Fault{Kind: feedtest.XML},
			want: "HTTP 403: Forbidden (body is XML, not JSON", requests: 1},
		{name: "truncated json", fault: feedtest.Fault{Kind: feedtest.Truncate},
			want:     "HTTP 200: truncated JSON (unexpected end after",
			wantIs:   []error{feed.ErrBadBody},
			requests: 3},
		{name: "content-length lie", fault: feedtest.Fault{Kind: feedtest.Short},
			want: "HTTP 200: body not complete: unexpected EOF", requests: 3},
		{name: "trailing bytes", fault: feedtest.Fault{Kind: feedtest.Trailing},
			want: "bytes of trailing data after the JSON value", requests: 3},
		{name: "two values", fault: feedtest.Fault{Kind: feedtest.Double},
			want: "two JSON values back to back", requests: 3},
		{name: "bom", fault: feedtest.Fault{Kind: feedtest.BOM}, requests: 1},
		{name: "gzip without header", fault: feedtest.Fault{Kind: feedtest.Gzip}, requests: 1},
		{name: "stall", fault: feedtest.Fault{Kind: feedtest.Stall},
			tweak: func(o *feed.Options) { o.Timeout = 300 * time.Millisecond; o.Retries = 1 },
			want:  "no answer within 300ms", requests: 2,
			wantIs: []error{feed.ErrTimeout, context.DeadlineExceeded}},
		{name: "500 then success",
			fault: feedtest.Fault{Kind: feedtest.Status, Status: 500, Count: 1}, requests: 2},
		{name: "500 always", fault: feedtest.Fault{Kind: feedtest.Status, Status: 500},
			want: "HTTP 500: Internal Server Error", requests: 3},
		{name: "no retries", fault: feedtest.Fault{Kind: feedtest.Status, Status: 502},
			tweak: func(o *feed.Options) { o.Retries = -1 },
			want:  "HTTP 502", requests: 1},
		{name: "404 not retried", fault: feedtest.Fault{Kind: feedtest.Status, Status: 404},
			want: "HTTP 404: Not Found", wantIs: []error{feed.ErrNotFound}, requests: 1},
		{name: "oversize", fault: feedtest.Fault{Kind: feedtest.Oversize, Size: 2 << 20},
			tweak: func(o *feed.Options) { o.MaxBytes = 2 << 20 },
			want:  "body larger than 2097152 bytes", wantIs: []error{feed.ErrTooLarge},
			requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, logs := start(t, tt.tweak)
			if err := srv.Inject(path, tt.fault); err != nil {
				t.Fatal(err)
			}
			s, err := c.Election(context.Background(), "24")
			if got := countRequests(srv, path); got != tt.requests {
				t.Errorf("%d requests for %s, want %d", got, path, tt.requests)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Election(24) error: %v", err)
				}
				checkSnapshot(t, s, "24", 42355)
				return
			}
			if err == nil {
				t.Fatalf("Election(24) succeeded, want error %q", tt.want)
			}
			msg := err.Error()
			prefix := "GET " + srv.URL + path + ": "
			if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, prefix) ||
				strings.Contains(msg, "\n") {
				t.Errorf("Election(24) error = %q, want one line naming the URL and %q",
					msg, tt.want)
			}
			var fe *feed.Error
			if !errors.As(err, &fe) || fe.URL != srv.URL+path {
				t.Errorf("Election(24) error %v is not a *feed.Error for %s", err, path)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
				}
			}
			if retries := strings.Count(logs.String(), "retrying"); retries != tt.requests-1 {
				t.Errorf("logged %d retries, want %d:\n%s", retries, tt.requests-1, logs)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, status := range []int{503, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			srv, c, _ := start(t, nil)
			const path = "election/24/Version.json"
			err := srv.Inject(path, feedtest.Fault{Kind: feedtest.Status, Status: status,
				RetryAfter: "1", Count: 1})
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			v, _, err := c.Version(context.Background(), "24")
			if err != nil {
				t.Fatalf("Version(24) error: %v", err)
			}
			if v != 42355 {
				t.Errorf("Version(24) = %s, want 42355", v)
			}
			if waited := time.Since(begin); waited < time.Second {
				t.Errorf("Version(24) returned after %v, want at least the 1s of Retry-After",
					waited)
			}
		})
	}
}

func TestVersionMovesDuringFetch(t *testing.T) {
	srv, c, logs := start(t, nil)
	srv.SetVersion("80", 1316)
	srv.MoveVersionAfter("80", "election/80/1316/Lookupdata.json", 13392)
	s, err := c.Election(context.Background(), "80")
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, s, "80", 13392)
	if got := countRequests(srv, "election/80/1316/Electiondata.json"); got != 1 {
		t.Errorf("%d requests for version 1316, want 1", got)
	}
	if !strings.Contains(logs.String(), "version moved from 1316 to 13392") {
		t.Errorf("log = %q, want a line about the version moving", logs)
	}
}

func TestVersionKeepsMoving(t *testing.T) {
	srv, c, _ := start(t, func(o *feed.Options) { o.VersionRetries = 2 })
	srv.SetVersion("80", 1313)
	for _, step := range [][2]snapshot.Version{{1313, 1314}, {1314, 1315}, {1315, 1316}} {
		srv.MoveVersionAfter("80", "election/80/"+step[0].String()+"/Electiondata.json", step[1])
	}
	_, err := c.Election(context.Background(), "80")
	if !errors.Is(err, feed.ErrVersionMoving) {
		t.Fatalf("Election(80) error = %v, want ErrVersionMoving", err)
	}
	if want := "versions 1313, 1314, 1315, 1316"; !strings.Contains(err.Error(), want) {
		t.Errorf("Election(80) error = %q, want it to list %q", err, want)
	}
}

func TestVersionGoneAfterMove(t *testing.T) {
	// The announced version's documents vanish because a newer version
	// replaced it: the client must look at Version.json again.
	srv, c, _ := start(t, nil)
	srv.SetVersion("80", 999)
	srv.MoveVersionAfter("80", "election/80/Version.json", 1315)
	s, err := c.Election(context.Background(), "80")
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, s, "80", 1315)

	srv.SetVersion("80", 999) // gone and not moving: the 404 is the answer

	_, err = c.Election(context.Background(), "80")
	if !errors.Is(err, feed.ErrNotFound) {
		t.Errorf("Election(80) of a missing version: error = %v, want ErrNotFound", err)
	}
}

func TestVersionDocument(t *testing.T) {
	tests := []struct {
		body string
		want snapshot.Version
		err  string
	}{
		{`{"Version":13392}`, 13392, ""},
		{` {"Version": 7, "Updated": "now"} `, 7, ""},
		{`{"Version":"13392"}`, 13392, ""},
		{`{"version":12}`, 12, ""},
		{`{"Version":0}`, 0, ""},
		{`{"Other":1}`, 0, `has no "Version" field`},
		{`{"Version":-4}`, 0, `"Version" is -4, not a non-negative integer`},
		{`{"Version":13.5}`, 0, `"Version" is 13.5`},
		{`{"Version":1e4}`, 0, `"Version" is 1e4`},
		{`{"Version":"abc"}`, 0, `"Version" is "abc"`},
		{`{"Version":null}`, 0, `"Version" is null`},
		{`[13392]`, 0, "not a JSON object"},
		{`13392`, 0, "not a JSON object"},
	}
	srv, c, _ := start(t, func(o *feed.Options) { o.Retries = -1 })
	for _, tt := range tests {
		err := srv.Inject("election/24/Version.json",
			feedtest.Fault{Kind: feedtest.Status, Status: 200, Body: tt.body})
		if err != nil {
			t.Fatal(err)
		}
		got, raw, err := c.Version(context.Background(), "24")
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Version(%s) error: %v", tt.body, err)
		case tt.err == "" && (got != tt.want || string(raw) != tt.body):
			t.Errorf("Version(%s) = %d, %q, want %d and the body", tt.body, got, raw, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Version(%s) error = %v, want one containing %q", tt.body, err, tt.err)
		case tt.err != "" && !errors.Is(err, feed.ErrBadBody):
			t.Errorf("Version(%s) error = %v, want ErrBadBody", tt.body, err)
		}
	}
	if _, _, err := c.Version(context.Background(), "../80"); err == nil {
		t.Errorf("Version(../80) succeeded, want an error")
	}
}

func TestCancel(t *testing.T) {
	srv, c, _ := start(t, nil)
	if err := srv.Inject("*", feedtest.Fault{Kind: feedtest.Stall}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	begin := time.Now()
	_, err := c.Election(ctx, "80")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Election(80) after cancel: error = %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Election(80) took %v after cancel, want prompt return", d)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests after cancel, want 1 (no retries)", n)
	}
}

func TestElections(t *testing.T) {
	srv, c, _ := start(t, nil)
	var ids []snapshot.ElectionID
	a, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, a.Elections()...)
	ids = append(ids, "999")
	got := make(map[snapshot.ElectionID]int)
	c.Elections(context.Background(), ids, 3,
		func(id snapshot.ElectionID, s *snapshot.Snapshot, err error) {
			got[id]++ // fn runs one at a time, so no lock is needed
			switch {
			case id == "999":
				if !errors.Is(err, feed.ErrNotFound) {
					t.Errorf("Election(999) error = %v, want ErrNotFound", err)
				}
			case err != nil:
				t.Errorf("Election(%s) error: %v", id, err)
			default:
				vs := a.Versions(id)
				checkSnapshot(t, s, id, vs[len(vs)-1])
			}
		})
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("fn called %d times for %s, want 1", got[id], id)
		}
	}
	if n := len(srv.Requests()); n != 4*(len(ids)-1)+1 {
		t.Errorf("%d requests, want %d", n, 4*(len(ids)-1)+1)
	}
}

func TestElectionsBounded(t *testing.T) {
	srv, c, _ := start(t, func(o *feed.Options) {
		o.Timeout = 100 * time.Millisecond
		o.Retries = -1
	})
	if err := srv.Inject("*", feedtest.Fault{Kind: feedtest.Stall}); err != nil {
		t.Fatal(err)
	}
	ids := []snapshot.ElectionID{"1", "2", "3", "4", "5", "6"}
	var mu sync.Mutex
	var peak int
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // sample how many requests are stalled at once
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			mu.Lock()
			peak = max(peak, srv.Stalled())
			mu.Unlock()
		}
	}()
	n := 0
	c.Elections(context.Background(), ids, 2,
		func(snapshot.ElectionID, *snapshot.Snapshot, error) { n++ })
	close(stop)
	<-done
	if n != len(ids) {
		t.Errorf("fn called %d times, want %d", n, len(ids))
	}
	if peak > 2 || peak == 0 {
		t.Errorf("at most %d requests in flight, want 2 with 2 workers", peak)
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "ftp://x/", "http://", "127.0.0.1:80", "http://h/?q=1"} {
		if _, err := feed.New(bad, feed.Options{}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", bad)
		}
	}
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:1/data", "http://127.0.0.1:1/data/"},
		{"https://127.0.0.1:1/", "https://127.0.0.1:1/"},
		{"http://127.0.0.1:1", "http://127.0.0.1:1/"},
	}
	for _, tt := range tests {
		c, err := feed.New(tt.in, feed.Options{})
		if err != nil {
			t.Errorf("New(%q) error: %v", tt.in, err)
			continue
		}
		if got := c.BaseURL(); got != tt.want {
			t.Errorf("New(%q).BaseURL() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSharedArchive fetches every election of the full recording, when
// CTRUNNER_SHARED_ARCHIVE names it, and checks that the fetched documents
// render back into the recorded raw.json byte for byte.
func TestSharedArchive(t *testing.T) {
	dir := os.Getenv("CTRUNNER_SHARED_ARCHIVE")
	if dir == "" {
		t.Skip("CTRUNNER_SHARED_ARCHIVE not set")
	}
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := feed.New(srv.URL, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := srv.Archive()
	n := 0
	c.Elections(context.Background(), a.Elections(), 0,
		func(id snapshot.ElectionID, s *snapshot.Snapshot, err error) {
			if err != nil {
				t.Errorf("Election(%s): %v", id, err)
				return
			}
			rec, err := a.Read(id, s.Version)
			if err != nil {
				t.Fatal(err)
			}
			ed, _ := s.File(snapshot.ElectionDataFile)
			ld, _ := s.File(snapshot.LookupDataFile)
			raw, err := legacy.Wrap(s.Version, ed, ld)
			if err != nil || !bytes.Equal(raw, rec.Raw) {
				t.Errorf("Wrap of fetched election %s version %s differs from %s (%v)",
					id, s.Version, rec.RawPath, err)
			}
			n++
		})
	t.Logf("fetched and re-wrapped %d elections", n)
}

func TestRetryAfterLimits(t *testing.T) {
	const path = "election/24/Version.json"
	t.Run("capped", func(t *testing.T) {
		srv, c, _ := start(t, func(o *feed.Options) { o.MaxRetryAfter = 10 * time.Millisecond })
		err := srv.Inject(path, feedtest.Fault{Kind: feedtest.Status, Status: 503,
			RetryAfter: "100", Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		if _, _, err := c.Version(context.Background(), "24"); err != nil {
			t.Fatalf("Version(24) error: %v", err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("Version(24) took %v, want the Retry-After capped at 10ms", d)
		}
	})
	t.Run("deadline while waiting", func(t *testing.T) {
		srv, c, _ := start(t, nil)
		err := srv.Inject(path, feedtest.Fault{Kind: feedtest.Status, Status: 503,
			RetryAfter: "30"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, _, err = c.Version(ctx, "24")
		if !errors.Is(err, context.DeadlineExceeded) ||
			!strings.Contains(err.Error(), "HTTP 503: Service Unavailable") ||
			!strings.Contains(err.Error(), "while waiting to retry") {
			t.Errorf("Version(24) error = %v, want the 503 and the deadline", err)
		}
	})
}

func TestRedirectToOtherHost(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s", r.URL)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	c, err := feed.New(srv.URL, feed.Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ElectionList(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refusing redirect to another host") {
		t.Errorf("ElectionList() error = %v, want the redirect refused", err)
	}
}
