package watch

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
	"ctrunner/polls"
	"ctrunner/snapshot"
)

// TestRunCapturesEveryVersion watches ALL of a fake API whose versions
// advance, with a suspect version (counts going down) in the middle: every
// version is stored, only the clean ones are published, and the log has
// one line per new version.
func TestRunCapturesEveryVersion(t *testing.T) {
	dir, nights := writeNights(t, 8, "24", "37")
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for id, n := range nights {
		srv.SetVersion(id, n.steps[0].Version)
	}
	r := startWatch(t, srv.URL, Options{All: true, Interval: 20 * time.Millisecond,
		Publish: true})

	// Version 5 of election 24 serves the counts of version 2: suspect.
	const bad = 5
	n24 := nights["24"]
	err = srv.Inject(fmt.Sprintf("election/24/%s/%s", n24.steps[bad].Version,
		snapshot.ElectionDataFile), feedtest.Fault{Kind: feedtest.Status, Status: 200,
		Body: string(n24.steps[2].ElectionData)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		for id, n := range nights {
			srv.SetVersion(id, n.steps[i].Version)
		}
		for id, n := range nights {
			r.waitVersion(id, n.steps[i].Version)
		}
	}
	r.stop()

	for id, n := range nights {
		entries, err := r.st.Log(id)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := versionsOf(entries), stepVersions(n.steps); got != want {
			t.Errorf("election %s: stored versions %s, want %s", id, got, want)
		}
		pubs, err := r.st.Publications(id)
		if err != nil {
			t.Fatal(err)
		}
		published := map[snapshot.Version]bool{}
		for _, p := range pubs {
			published[p.Entry.Version] = true
		}
		for i, step := range n.steps {
			isBad := id == "24" && i == bad
			if got, want := published[step.Version], !isBad; got != want {
				t.Errorf("election %s version %s: published = %v, want %v", id, step.Version,
					got, want)
			}
		}
		for _, e := range entries {
			isBad := id == "24" && e.Version == n24.steps[bad].Version
			if got := len(e.Suspect) > 0; got != isBad {
				t.Errorf("election %s version %s: suspect reasons %q, want suspect = %v",
					id, e.Version, e.Suspect, isBad)
			}
			if isBad && !strings.HasPrefix(e.Suspect[0], "votes-decreased: ") {
				t.Errorf("suspect reason %q, want votes-decreased first", e.Suspect[0])
			}
		}
	}

	lines := r.logs.lines(t, "new version", "suspect version")
	if got, want := len(lines), 16; got != want {
		t.Errorf("%d log lines for new versions, want %d:\n%s", got, want, r.logs.buf.String())
	}
	if suspect := r.logs.lines(t, "suspect version"); len(suspect) != 1 ||
		suspect[0]["level"] != "WARN" || suspect[0]["election"] != "24" {
		t.Errorf("suspect log lines = %v, want one warning for election 24", suspect)
	}
	outcomes := map[polls.Outcome]int{}
	for _, rec := range r.records("24") {
		outcomes[rec.Outcome]++
	}
	if outcomes[polls.New] != 7 || outcomes[polls.Suspect] != 1 {
		t.Errorf("journal outcomes of election 24 = %v, want 7 new and 1 suspect", outcomes)
	}
	if got := r.stats.NewVersions; got != 16 {
		t.Errorf("Stats.NewVersions = %d, want 16", got)
	}
}

// etagServer serves the fake API with an ETag on Version.json, answering
// 304 when the client sends it back.
func etagServer(srv *feedtest.Server) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) == 3 && parts[2] == snapshot.VersionFile {
			v, _ := srv.CurrentVersion(snapshot.ElectionID(parts[1]))
			etag := fmt.Sprintf(`"v%d"`, v)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
		}
		srv.ServeHTTP(w, r)
	}))
}

// TestRunConditionalRequests: with an ETag, an unchanged version costs a
// 304, and a version whose documents failed once is fetched again (the
// validators are kept only for a version stored).
func TestRunConditionalRequests(t *testing.T) {
	dir, nights := writeNights(t, 3, "24")
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := etagServer(srv)
	defer hs.Close()
	steps := nights["24"].steps
	srv.SetVersion("24", steps[0].Version)

	r := startWatch(t, hs.URL+"/", Options{Elections: []snapshot.ElectionID{"24"},
		Interval: 20 * time.Millisecond})
	r.waitVersion("24", steps[0].Version)
	path := fmt.Sprintf("election/24/%s/%s", steps[1].Version, snapshot.LookupDataFile)
	srv.Inject(path, feedtest.Fault{Kind: feedtest.Status, Status: 503, Count: 1})
	srv.SetVersion("24", steps[1].Version)
	r.waitVersion("24", steps[1].Version)
	time.Sleep(100 * time.Millisecond)
	r.stop()

	var notModified, failed int
	for _, rec := range r.records("24") {
		switch {
		case rec.Status == http.StatusNotModified && rec.Outcome == polls.Unchanged:
			notModified++
		case rec.Outcome == polls.Failed:
			failed++
		}
	}
	if notModified < 3 || failed != 1 {
		t.Errorf("journal: %d polls answered 304, %d failed; want at least 3 and 1",
			notModified, failed)
	}
	fetches := 0
	for _, req := range srv.Requests() {
		if strings.HasSuffix(req.Path, snapshot.LookupDataFile) {
			fetches++
		}
	}
	if fetches != 3 { // version 0, version 1 twice (the first failed)
		t.Errorf("Lookupdata.json fetched %d times, want 3", fetches)
	}
}

// TestRunFailingElection: an election whose answers fail in every way
// (HTML, 503 with Retry-After, a stall, 404 documents) backs off and
// recovers, and never holds up another election.
func TestRunFailingElection(t *testing.T) {
	dir, nights := writeNights(t, 6, "24", "37")
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	good, bad := nights["24"].steps, nights["37"].steps
	srv.SetVersion("24", good[0].Version)
	srv.SetVersion("37", bad[0].Version)
	r := startWatch(t, srv.URL, Options{Elections: []snapshot.ElectionID{"24", "37"},
		Interval: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Timeout: 300 * time.Millisecond})
	r.waitVersion("24", good[0].Version)
	r.waitVersion("37", bad[0].Version)

	// 37 fails in turn: HTML, a 503 asking for one second, a stall, then a
	// version whose documents are missing; 24 goes on meanwhile.
	versionPath := "election/37/" + snapshot.VersionFile
	srv.Inject(versionPath, feedtest.Fault{Kind: feedtest.HTML, Count: 2})
	r.waitFailures("37", 2)
	srv.Inject(versionPath, feedtest.Fault{Kind: feedtest.Status, Status: 503,
		RetryAfter: "1", Count: 1})
	r.waitFailures("37", 3)
	srv.Inject(versionPath, feedtest.Fault{Kind: feedtest.Stall, Count: 1})
	srv.SetVersion("37", 999999) // documents are 404s
	for i := 1; i < len(good); i++ {
		srv.SetVersion("24", good[i].Version)
		r.waitVersion("24", good[i].Version)
	}
	r.waitFailures("37", 6)
	srv.SetVersion("37", bad[5].Version)
	r.waitVersion("37", bad[5].Version)
	r.stop()

	recs := r.records("37")
	var reasons []string
	var after503 time.Duration
	for i, rec := range recs {
		if rec.Outcome != polls.Failed {
			continue
		}
		reasons = append(reasons, rec.Reason)
		if rec.Status == 503 && i+1 < len(recs) {
			after503 = recs[i+1].Time.Sub(rec.Time)
		}
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"HTML", "HTTP 503", "no answer within", "HTTP 404"} {
		if !strings.Contains(all, want) {
			t.Errorf("failures of election 37 do not mention %q:\n%s", want, all)
		}
	}
	if after503 < 900*time.Millisecond {
		t.Errorf("next poll %s after a 503 with Retry-After: 1, want at least 1s", after503)
	}
	if last := recs[len(recs)-1]; last.Outcome == polls.Failed {
		t.Errorf("election 37 did not recover: last poll %+v", last)
	}
	if rec := r.logs.lines(t, "election recovered"); len(rec) == 0 {
		t.Errorf("no recovery logged:\n%s", r.logs.buf.String())
	}
}

// waitFailures waits until the journal holds n failed polls of id.
func (r *rig) waitFailures(id snapshot.ElectionID, n int) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		failed := 0
		for _, rec := range r.records(id) {
			if rec.Outcome == polls.Failed {
				failed++
			}
		}
		if failed >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("election %s: fewer than %d failed polls; log:\n%s", id, n, r.logs.buf.String())
}

// TestRunGoroutinesFlat: many polls leave no goroutines behind, and Run
// ends them all when stopped.
func TestRunGoroutinesFlat(t *testing.T) {
	dir, nights := writeNights(t, 2, "24", "37")
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	before := runtime.NumGoroutine()
	r := startWatch(t, srv.URL, Options{All: true, Interval: 5 * time.Millisecond})
	r.waitVersion("24", nights["24"].steps[1].Version)
	time.Sleep(50 * time.Millisecond)
	during := runtime.NumGoroutine()
	time.Sleep(300 * time.Millisecond)
	if later := runtime.NumGoroutine(); later > during+2 {
		t.Errorf("goroutines grew from %d to %d while polling", during, later)
	}
	r.stop()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after stopping:\n%s", before, after,
			buf[:runtime.Stack(buf, true)])
	}
	if r.stats.Polls < 20 {
		t.Errorf("only %d polls", r.stats.Polls)
	}
}

func TestParseVersionDoc(t *testing.T) {
	tests := []struct {
		body   string
		want   snapshot.Version
		reason string // a part of it; "" for none
	}{
		{`{"Version":1316}`, 1316, ""},
		{"\ufeff{\"Version\": \"42\", \"x\": 1}", 42, ""},
		{`{"version":7}`, 7, ""},
		{`<!DOCTYPE html><html></html>`, 0, "HTML"},
		{`{"Version":-1}`, 0, "non-negative"},
		{`{"Other":1}`, 0, `no "Version"`},
		{`{"Version":1}{"Version":2}`, 0, "trailing"},
		{`[1]`, 0, "not a JSON object"},
	}
	for _, tt := range tests {
		got, reason := parseVersionDoc([]byte(tt.body))
		if got != tt.want || !strings.Contains(reason, tt.reason) ||
			(tt.reason == "") != (reason == "") {
			t.Errorf("parseVersionDoc(%q) = %d, %q, want %d, %q", tt.body, got, reason,
				tt.want, tt.reason)
		}
	}
}

// TestRunListRetried: with ALL, an election list that fails at start is
// read again at the poll interval, not after ListInterval.
func TestRunListRetried(t *testing.T) {
	dir, nights := writeNights(t, 1, "24")
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Inject(snapshot.ElectionListFile, feedtest.Fault{Kind: feedtest.Status, Status: 503,
		Count: 2})
	r := startWatch(t, srv.URL, Options{All: true, Interval: 20 * time.Millisecond,
		ListInterval: time.Hour})
	r.waitVersion("24", nights["24"].steps[0].Version)
	if got := len(r.logs.lines(t, "reading the election list failed")); got != 2 {
		t.Errorf("%d failures of the election list logged, want 2", got)
	}
}

func TestSuspectSummary(t *testing.T) {
	reasons := []string{"a: 1", "b: 2", "c: 3", "d: 4", "e: 5"}
	if got, want := suspectSummary(reasons[:2]), "a: 1; b: 2"; got != want {
		t.Errorf("suspectSummary(2) = %q, want %q", got, want)
	}
	if got, want := suspectSummary(reasons),
		"a: 1; b: 2; c: 3; and 2 more reasons (ctrunner show lists them)"; got != want {
		t.Errorf("suspectSummary(5) = %q, want %q", got, want)
	}
}
