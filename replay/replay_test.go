package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// night0 is when the test nights start.
var night0 = time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC)

// fakeWall is a wall clock that moves only when told.
type fakeWall struct {
	mu sync.Mutex
	t  time.Time
}

func (w *fakeWall) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t
}

func (w *fakeWall) Advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = w.t.Add(d)
}

// recorded returns the recorded documents of every version of election 80.
func recorded(t testing.TB) []snapshot.Snapshot {
	t.Helper()
	a, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []snapshot.Snapshot
	for _, v := range a.Versions("80") {
		rec, err := a.Read("80", v)
		if err != nil {
			t.Fatal(err)
		}
		_, ed, ld, err := legacy.Split(rec.Raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *snapshot.New(snapshot.Meta{Election: "80", Version: v,
			Source: snapshot.Fetched}, []snapshot.File{
			{Name: snapshot.VersionFile, Data: []byte(`{"Version":` + v.String() + `}`)},
			{Name: snapshot.ElectionDataFile, Data: ed},
			{Name: snapshot.LookupDataFile, Data: ld},
		}))
	}
	return out
}

// testStore makes a store holding the recorded versions of election 80
// fetched a minute apart from night0 (with stray bytes in the first
// Version.json, which must be served as stored), and two versions of
// election 24 without a Version.json, as an import makes them, at 90s and
// 150s.
func testStore(t testing.TB) (store.Store, []store.Entry) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	var entries []store.Entry
	put := func(s *snapshot.Snapshot) {
		e, _, err := st.Put(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	for i, s := range recorded(t) {
		files := s.Files
		if i == 0 {
			files = append([]snapshot.File(nil), files...)
			for j := range files {
				if files[j].Name == snapshot.VersionFile {
					files[j].Data = []byte("{\"Version\": \"" + s.Version.String() + "\", \"x\": 1}\n")
				}
			}
		}
		s.FetchedAt = night0.Add(time.Duration(i) * time.Minute)
		put(snapshot.New(s.Meta, files))
	}
	for i, v := range []snapshot.Version{500, 501} {
		put(snapshot.New(snapshot.Meta{Election: "24", Version: v, Source: snapshot.Imported,
			FetchedAt: night0.Add(90*time.Second + time.Duration(i)*time.Minute)},
			[]snapshot.File{
				{Name: snapshot.ElectionDataFile, Data: []byte(`{"v":` + v.String() + `}`)},
				{Name: snapshot.LookupDataFile, Data: []byte(`{}`)},
			}))
	}
	return st, entries
}

func newTestServer(t testing.TB, opts Options) (*Server, []store.Entry, *fakeWall) {
	t.Helper()
	st, entries := testStore(t)
	wall := &fakeWall{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Wall = wall.Now
	s, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, entries, wall
}

// fetch answers one GET through the handler.
func fetch(s http.Handler, path string) (int, []byte) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+path, nil))
	return rec.Code, rec.Body.Bytes()
}

func post(s http.Handler, path string) (int, []byte) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+path, nil))
	return rec.Code, rec.Body.Bytes()
}

func TestClock(t *testing.T) {
	wall := &fakeWall{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newClock(wall.Now, night0, 60, true)

	wall.Advance(time.Second)
	if got, want := c.Now(), night0.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("after 1s at speed 60: Now() = %v, want %v", got, want)
	}
	c.Pause()
	wall.Advance(time.Hour)
	if got, want := c.Now(), night0.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("paused: Now() = %v, want %v", got, want)
	}
	c.Resume()
	c.SetSpeed(2)
	wall.Advance(10 * time.Second)
	if got, want := c.Now(), night0.Add(80*time.Second); !got.Equal(want) {
		t.Fatalf("after 10s at speed 2: Now() = %v, want %v", got, want)
	}
	c.Seek(night0)
	wall.Advance(time.Second)
	if got, want := c.Now(), night0.Add(2*time.Second); !got.Equal(want) {
		t.Fatalf("seek then 1s: Now() = %v, want %v", got, want)
	}
	at, ok := c.Step(func(now time.Time) (time.Time, bool) { return now.Add(time.Hour), true })
	if want := night0.Add(2*time.Second + time.Hour); !ok || !at.Equal(want) {
		t.Fatalf("Step = %v, %v, want %v, true", at, ok, want)
	}
	wall.Advance(time.Minute)
	if _, running, _ := c.State(); running || !c.Now().Equal(at) {
		t.Fatalf("after Step the clock runs (%v) or moved (%v)", running, c.Now())
	}

	// A huge speed saturates instead of wrapping around.
	c = newClock(wall.Now, night0, MaxSpeed, true)
	wall.Advance(100 * 365 * 24 * time.Hour)
	if c.Now().Before(night0) {
		t.Fatalf("after a century at MaxSpeed: Now() = %v, before the start", c.Now())
	}
}

func TestPaths(t *testing.T) {
	s, entries, wall := newTestServer(t, Options{Speed: 60})
	versions := recorded(t)
	v0, v1 := versions[0].Version.String(), versions[1].Version.String()

	// At the start the first snapshot of 80 is current; 24 has none yet.
	if code, body := fetch(s, "election/80/Version.json"); code != 200 ||
		string(body) != "{\"Version\": \""+v0+"\", \"x\": 1}\n" {
		t.Fatalf("Version.json at start = %d %q, want the stored bytes", code, body)
	}
	if code, _ := fetch(s, "election/24/Version.json"); code != 404 {
		t.Fatalf("Version.json of election 24 before its first snapshot = %d, want 404", code)
	}
	ed, _ := versions[0].File(snapshot.ElectionDataFile)
	if code, body := fetch(s, "election/80/"+v0+"/Electiondata.json"); code != 200 ||
		!bytes.Equal(body, ed) {
		t.Fatalf("Electiondata.json of %s = %d (%d bytes), want the stored %d bytes",
			v0, code, len(body), len(ed))
	}
	if code, _ := fetch(s, "election/80/"+v1+"/Electiondata.json"); code != 404 {
		t.Fatalf("Electiondata.json of the future version %s = %d, want 404", v1, code)
	}

	// The election list is made up, since the store has none.
	code, body := fetch(s, "Elections.json")
	list, err := snapshot.DecodeElectionList(body)
	if code != 200 || err != nil || len(list) != 2 || list[0].ID != "24" || list[1].ID != "80" {
		t.Fatalf("Elections.json = %d %s (%v), want elections 24 and 80", code, body, err)
	}

	// 100 s later (at speed 60) the clock is past 80's second and 24's
	// first snapshot, which has no Version.json of its own.
	wall.Advance(100 * time.Second / 60)
	if code, body := fetch(s, "election/80/Version.json"); code != 200 ||
		string(body) != `{"Version":`+v1+`}` {
		t.Fatalf("Version.json at +100s = %d %q, want version %s", code, body, v1)
	}
	if code, body := fetch(s, "election/24/Version.json"); code != 200 ||
		string(body) != `{"Version":500}` {
		t.Fatalf("Version.json of 24 = %d %q, want {\"Version\":500}", code, body)
	}
	if code, body := fetch(s, "election/24/500/Electiondata.json"); code != 200 ||
		string(body) != `{"v":500}` {
		t.Fatalf("Electiondata.json of 24 = %d %q", code, body)
	}
	// The passed version stays downloadable.
	if code, body := fetch(s, "election/80/"+v0+"/Electiondata.json"); code != 200 ||
		!bytes.Equal(body, ed) {
		t.Fatalf("Electiondata.json of the passed version %s = %d", v0, code)
	}

	for _, path := range []string{
		"election/99/Version.json",
		"election/80/0" + v0 + "/Electiondata.json",
		"election/80/" + v0 + "/Other.json",
		"election/80/" + v0 + "/Version.json",
		"election/80/x/Lookupdata.json",
		"election/80",
		"election/24/500/legacy-raw.json",
		"Version.json",
		"",
		"_replay/nothing",
	} {
		if code, _ := fetch(s, path); code != 404 {
			t.Errorf("GET /%s = %d, want 404", path, code)
		}
	}
	if code, _ := post(s, "election/80/Version.json"); code != 405 {
		t.Errorf("POST to Version.json = %d, want 405", code)
	}

	// Stepping and seeking by snapshot.
	s.Seek(night0)
	if at, ok := s.Step(); !ok || !at.Equal(night0.Add(time.Minute)) {
		t.Fatalf("Step from the start = %v, %v, want +1m", at, ok)
	}
	if at, ok := s.Step(); !ok || !at.Equal(night0.Add(90*time.Second)) {
		t.Fatalf("second Step = %v, %v, want +90s (election 24's first)", at, ok)
	}
	last := entries[len(versions)-1]
	at, err := s.FindSnapshot(last.ID.Short())
	if err != nil || !at.Equal(last.FetchedAt) {
		t.Fatalf("FindSnapshot(%s) = %v, %v, want %v", last.ID.Short(), at, err, last.FetchedAt)
	}
	if _, err := s.FindSnapshot("zz"); err == nil {
		t.Fatal("FindSnapshot(zz) did not fail")
	}
}

func TestControl(t *testing.T) {
	s, entries, _ := newTestServer(t, Options{Paused: true})
	n := len(entries)

	// Step through every snapshot: each step shows exactly one new one.
	seen := 1
	for {
		code, body := post(s, "_replay/step")
		if code == http.StatusConflict {
			break
		}
		if code != 200 {
			t.Fatalf("step: %d %s", code, body)
		}
		var st Status
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		passed := 0
		for _, e := range st.Elections {
			passed += e.Passed
		}
		if seen++; passed != seen || st.Running {
			t.Fatalf("after %d steps: %d snapshots passed, running %v", seen-1, passed, st.Running)
		}
	}
	if seen != n {
		t.Fatalf("stepped through %d snapshots, want %d", seen, n)
	}

	for _, c := range []struct {
		action string
		code   int
	}{
		{"seek?snapshot=" + entries[2].ID.String(), 200},
		{"seek?time=2024-11-05T20:00:30Z", 200},
		{"seek?time=tonight", 400},
		{"seek", 400},
		{"seek?snapshot=0000000000", 400},
		{"speed?speed=10", 200},
		{"speed?speed=0", 400},
		{"speed?speed=fast", 400},
		{"faults?error_rate=2", 400},
		{"faults?latency=soon", 400},
		{"faults?status=200&error_rate=1", 400},
		{"faults", 200},
		{"resume", 200},
		{"pause", 200},
	} {
		if code, body := post(s, "_replay/"+c.action); code != c.code {
			t.Errorf("POST /_replay/%s = %d %s, want %d", c.action, code, body, c.code)
		}
	}
	if !s.Now().Equal(night0.Add(30 * time.Second)) {
		t.Errorf("after seek and pause: clock %v, want 20:00:30", s.Now())
	}
	if code, _ := fetch(s, "_replay/step"); code != 405 {
		t.Errorf("GET /_replay/step = %d, want 405", code)
	}
	code, body := fetch(s, "_replay/status")
	var st Status
	if err := json.Unmarshal(body, &st); code != 200 || err != nil || st.Speed != 10 ||
		len(st.Elections) != 2 || st.Elections[1].Passed != 1 {
		t.Fatalf("status = %d %s (%v)", code, body, err)
	}
}

func TestFaults(t *testing.T) {
	s, _, _ := newTestServer(t, Options{Paused: true})
	srv := httptest.NewServer(s)
	defer srv.Close()
	control := func(q string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/_replay/faults?"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("faults?%s: %s", q, resp.Status)
		}
	}
	get := func() int {
		t.Helper()
		resp, err := http.Get(srv.URL + "/election/80/Version.json")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// A quarter of the requests fail, evenly spread.
	control("error_rate=0.25&status=500")
	var codes []string
	for range 8 {
		codes = append(codes, http.StatusText(get()))
	}
	if got, want := strings.Join(codes, ","), "OK,OK,OK,Internal Server Error,OK,OK,OK,"+
		"Internal Server Error"; got != want {
		t.Fatalf("with error rate 0.25: %s, want %s", got, want)
	}

	control("latency=150ms")
	start := time.Now()
	if code := get(); code != 200 {
		t.Fatalf("with latency: status %d", code)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("with 150ms latency the answer took %v", d)
	}

	// A stall holds requests until it is lifted.
	control("stall=true")
	done := make(chan int)
	go func() { done <- get() }()
	select {
	case code := <-done:
		t.Fatalf("a stalled request was answered: %d", code)
	case <-time.After(200 * time.Millisecond):
	}
	control("")
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("after the stall: %d, want 200", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lifting the stall did not release the request")
	}

	// Closing the replay releases stalled requests too.
	control("stall=1")
	go func() { done <- get() }()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Fatalf("stalled request after Close: %d, want 503", code)
	}
}

func TestCacheBound(t *testing.T) {
	s, _, _ := newTestServer(t, Options{CacheBytes: 1})
	versions := recorded(t)
	s.Seek(night0.Add(time.Hour))
	for _, v := range versions {
		if code, _ := fetch(s, "election/80/"+v.Version.String()+"/Lookupdata.json"); code != 200 {
			t.Fatalf("Lookupdata.json of %s: %d", v.Version, code)
		}
	}
	if n, _ := s.cache.Len(); n != 1 {
		t.Fatalf("with a 1-byte budget %d snapshots are kept, want 1", n)
	}
}

func TestNewErrors(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "empty"), store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := New(st, Options{}); err == nil || !strings.Contains(err.Error(), "no snapshots") {
		t.Fatalf("New on an empty store: %v", err)
	}
	full, _ := testStore(t)
	if _, err := New(full, Options{Elections: []snapshot.ElectionID{"99"}}); err == nil {
		t.Fatal("New with a missing election did not fail")
	}
	if _, err := New(full, Options{Speed: -1}); err == nil {
		t.Fatal("New with speed -1 did not fail")
	}
}

// TestElectionListAddsServed checks that an archived election list is
// served as archived, with an entry added for each served election it
// lacks, so that ctrunner archive pointed at the replay finds them all.
func TestElectionListAddsServed(t *testing.T) {
	st, _ := testStore(t)
	archived := []byte("[\n  {\"ID\": \"80\", \"Name\": \"November 2022\", \"DefaultElection\": \"Y\"}\n]\n")
	if _, err := st.PutElectionList(context.Background(), archived, night0,
		"http://127.0.0.1/Elections.json"); err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Options{Wall: (&fakeWall{t: night0}).Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, body := fetch(s, "Elections.json")
	want := "[\n  {\"ID\": \"80\", \"Name\": \"November 2022\", \"DefaultElection\": \"Y\"}," +
		`{"ID":"24","Name":"Election 24","DefaultElection":"N"}]`
	if code != 200 || string(body) != want {
		t.Errorf("Elections.json = %d\n%s\nwant\n%s", code, body, want)
	}
}
