package feedtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ctrunner/legacy"
	"ctrunner/snapshot"
)

func startTestdata(t *testing.T) *Server {
	t.Helper()
	srv, err := Start(TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// get fetches path from srv and returns the status and body.
func get(t *testing.T, srv *Server, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, body
}

func post(t *testing.T, srv *Server, pathAndQuery string) (int, string) {
	t.Helper()
	resp, err := http.Post(srv.URL+pathAndQuery, "", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", pathAndQuery, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServesRecordings(t *testing.T) {
	srv := startTestdata(t)
	a, err := legacy.Open(TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || !strings.HasSuffix(srv.URL, "/") {
		t.Errorf("URL = %s, want http://127.0.0.1:port/", srv.URL)
	}

	index, err := os.ReadFile(filepath.Join(TestdataDir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, srv, "Elections.json"); status != 200 || !bytes.Equal(body, index) {
		t.Errorf("GET Elections.json = %d, %d bytes; want 200 and index.json", status, len(body))
	}

	for _, id := range a.Elections() {
		versions := a.Versions(id)
		wantVersion := `{"Version":` + versions[len(versions)-1].String() + `}`
		if status, body := get(t, srv, "election/"+string(id)+"/Version.json"); status != 200 ||
			string(body) != wantVersion {
			t.Errorf("GET election/%s/Version.json = %d %s, want 200 %s", id, status, body,
				wantVersion)
		}
		for _, v := range versions {
			rec, err := a.Read(id, v)
			if err != nil {
				t.Fatal(err)
			}
			_, ed, ld, err := legacy.Split(rec.Raw)
			if err != nil {
				t.Fatal(err)
			}
			folder := "election/" + string(id) + "/" + v.String() + "/"
			for name, want := range map[string][]byte{"Electiondata.json": ed,
				"Lookupdata.json": ld} {
				status, body := get(t, srv, folder+name)
				if status != 200 || !bytes.Equal(body, want) {
					t.Errorf("GET %s%s = %d, %d bytes; want 200 and %d bytes", folder, name,
						status, len(body), len(want))
				}
			}
		}
	}

	for _, path := range []string{"", "foo", "election/80/Version.json/x",
		"election/abc/Version.json", "election/777/Version.json",
		"election/80/01313/Electiondata.json", "election/80/1313/raw.json",
		"election/80/4/Electiondata.json", "election/80/1313/Electiondata.json/",
		"_fake/nothing"} {
		if status, _ := get(t, srv, path); status != 404 {
			t.Errorf("GET %q = %d, want 404", path, status)
		}
	}
	if status, _ := post(t, srv, "Elections.json"); status != http.StatusMethodNotAllowed {
		t.Errorf("POST Elections.json = %d, want 405", status)
	}
}

func TestFaultKinds(t *testing.T) {
	const path = "election/24/Version.json"
	doc := []byte(`{"Version":42355}`)
	var gzipped bytes.Buffer
	zw := gzip.NewWriter(&gzipped)
	zw.Write(doc)
	zw.Close()

	tests := []struct {
		fault      Fault
		status     int
		body       []byte // nil: check contains instead
		contains   string
		retryAfter string
	}{
		{Fault{Kind: HTML}, 200, nil, "<html>", ""},
		{Fault{Kind: XML}, 403, nil, "<Code>AccessDenied</Code>", ""},
		{Fault{Kind: XML, Status: 404, Body: "<x/>"}, 404, []byte("<x/>"), "", ""},
		{Fault{Kind: Status, Status: 503, RetryAfter: "3"}, 503, nil, "Service Unavailable", "3"},
		{Fault{Kind: Status, Status: 200, Body: "{}"}, 200, []byte("{}"), "", ""},
		{Fault{Kind: Truncate}, 200, doc[:len(doc)/2], "", ""},
		{Fault{Kind: Trailing}, 200, nil, string(doc) + "\n<!--", ""},
		{Fault{Kind: Double}, 200, append(append([]byte{}, doc...), doc...), "", ""},
		{Fault{Kind: BOM}, 200, append([]byte("\xef\xbb\xbf"), doc...), "", ""},
		{Fault{Kind: Gzip}, 200, gzipped.Bytes(), "", ""},
		{Fault{Kind: Oversize, Size: 10}, 200, append(append([]byte{}, doc...), "          "...),
			"", ""},
	}
	srv := startTestdata(t)
	for _, tt := range tests {
		if err := srv.Inject(path, Fault{Kind: tt.fault.Kind, Status: tt.fault.Status,
			Body: tt.fault.Body, RetryAfter: tt.fault.RetryAfter, Size: tt.fault.Size,
			Count: 1}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.fault.Kind, resp.StatusCode, tt.status)
		}
		if tt.body != nil && !bytes.Equal(body, tt.body) {
			t.Errorf("%s: body %q, want %q", tt.fault.Kind, body, tt.body)
		}
		if !bytes.Contains(body, []byte(tt.contains)) {
			t.Errorf("%s: body %q, want it to contain %q", tt.fault.Kind, body, tt.contains)
		}
		if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", tt.fault.Kind, got, tt.retryAfter)
		}
		// Count 1: the next request is answered normally.
		if status, body := get(t, srv, path); status != 200 || !bytes.Equal(body, doc) {
			t.Errorf("%s: request after the fault = %d %q, want 200 %q",
				tt.fault.Kind, status, body, doc)
		}
	}

	// Short declares the whole length and sends half.
	if err := srv.Inject(path, Fault{Kind: Short}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != int64(len(doc)) {
		t.Errorf("short: Content-Length %d, read error %v; want %d and unexpected EOF",
			resp.ContentLength, err, len(doc))
	}
}

func TestFaultCount(t *testing.T) {
	srv := startTestdata(t)
	if err := srv.Inject("*", Fault{Kind: Status, Status: 500, Count: 2}); err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 4 {
		status, _ := get(t, srv, "election/24/Version.json")
		got = append(got, status)
	}
	if want := []int{500, 500, 200, 200}; !equalInts(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestInjectErrors(t *testing.T) {
	srv := startTestdata(t)
	for _, f := range []Fault{{Kind: "nope"}, {Kind: Status}, {Kind: HTML, Count: -1}} {
		if err := srv.Inject("x", f); err == nil {
			t.Errorf("Inject(%+v) succeeded, want an error", f)
		}
	}
}

func TestControlEndpoint(t *testing.T) {
	srv := startTestdata(t)
	const versionPath = "election/80/Version.json"
	steps := []struct {
		post       string
		wantStatus int
	}{
		{"_fake/fault?path=" + versionPath + "&kind=html&count=1", 200},
		{"_fake/fault?path=x&kind=bogus", 400},
		{"_fake/fault?kind=html", 400},
		{"_fake/fault?path=x&kind=status&status=abc", 400},
		{"_fake/version?election=80&version=1313", 200},
		{"_fake/version?election=8x&version=1", 400},
		{"_fake/version?election=80&version=-1", 400},
		{"_fake/move?election=80&after=" + versionPath + "&version=1314", 200},
		{"_fake/move?election=80&version=1314", 400},
		// Paths the API never serves, and versions the folder lacks.
		{"_fake/fault?path=election/80/Electiondata.json&kind=html", 400},
		{"_fake/fault?path=/Elections.json&kind=html", 400},
		{"_fake/fault?path=*&kind=html&count=0", 200},
		{"_fake/reset", 200},
		{"_fake/fault?path=" + versionPath + "&kind=html&count=1", 200},
		{"_fake/version?election=80&version=77", 400},
		{"_fake/version?election=999&version=1", 400},
		{"_fake/version?election=80&version=1313", 200},
		{"_fake/move?election=80&after=" + versionPath + "&version=1314", 200},
	}
	for _, s := range steps {
		if status, body := post(t, srv, s.post); status != s.wantStatus {
			t.Errorf("POST %s = %d %q, want %d", s.post, status, body, s.wantStatus)
		}
	}
	if _, body := get(t, srv, versionPath); !bytes.Contains(body, []byte("<html>")) {
		t.Errorf("first GET after the html fault = %q, want a page", body)
	}
	if _, body := get(t, srv, versionPath); string(body) != `{"Version":1314}` {
		t.Errorf("GET after the move = %s, want version 1314", body)
	}
	if status, _ := get(t, srv, "_fake/fault"); status != http.StatusMethodNotAllowed {
		t.Errorf("GET _fake/fault = %d, want 405", status)
	}

	status, body := get(t, srv, "_fake/requests")
	var reqs []Request
	if err := json.Unmarshal(body, &reqs); status != 200 || err != nil || len(reqs) != 2 ||
		reqs[0].Path != versionPath || reqs[0].UserAgent == "" {
		t.Errorf("GET _fake/requests = %d %s (%v), want the 2 API requests", status, body, err)
	}

	if status, _ := post(t, srv, "_fake/reset"); status != 200 {
		t.Errorf("POST _fake/reset = %d, want 200", status)
	}
	if _, body := get(t, srv, versionPath); string(body) != `{"Version":13392}` {
		t.Errorf("GET after reset = %s, want the recorded 13392", body)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests logged after reset, want 1", n)
	}
}

func TestMoveVersionOrder(t *testing.T) {
	srv := startTestdata(t)
	const p = "election/81/Version.json"
	srv.MoveVersionAfter("81", p, 1)
	srv.MoveVersionAfter("81", "/"+p, 2)
	var got []string
	for range 3 {
		_, body := get(t, srv, p)
		got = append(got, string(body))
	}
	want := []string{`{"Version":83720}`, `{"Version":1}`, `{"Version":2}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("versions = %v, want %v", got, want)
	}
	if v, ok := srv.CurrentVersion("81"); !ok || v != 2 {
		t.Errorf("CurrentVersion(81) = %d, %v; want 2", v, ok)
	}
}

func TestCloseReleasesStall(t *testing.T) {
	srv, err := Start(TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Inject("*", Fault{Kind: Stall}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL + "Elections.json")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stalled() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("request never stalled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a request was stalled")
	}
	if n := srv.Stalled(); n != 0 {
		t.Errorf("Stalled() = %d after Close, want 0", n)
	}
	if err := <-done; err == nil {
		t.Errorf("stalled GET succeeded after Close, want an error")
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8089", true},
		{"127.0.0.2:0", true},
		{"[::1]:80", true},
		{"localhost:80", true},
		{"0.0.0.0:8089", false},
		{":8089", false},
		{"10.0.0.1:80", false},
		{"example.com:80", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if err := CheckLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
	if _, err := Listen(TestdataDir(), "0.0.0.0:0"); err == nil {
		t.Errorf("Listen on 0.0.0.0 succeeded, want an error")
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Start(missing folder) succeeded, want an error")
	}
}

func TestLatestOnly(t *testing.T) {
	// An election folder holding only the top-level copy is served at
	// the version named inside it.
	dir := t.TempDir()
	raw := "{\n  \"version\": 12,\n  \"ElectionData\": {\"a\": 1},\n  \"LookupData\": {}\n}"
	if err := os.MkdirAll(filepath.Join(dir, "5"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "5", "raw.json"), []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, body := get(t, srv, "election/5/Version.json"); string(body) != `{"Version":12}` {
		t.Errorf("Version.json = %s, want 12", body)
	}
	if _, body := get(t, srv, "election/5/12/Electiondata.json"); string(body) != `{"a":1}` {
		t.Errorf("Electiondata.json = %s, want {\"a\":1}", body)
	}
	if status, _ := get(t, srv, "Elections.json"); status != 404 {
		t.Errorf("Elections.json without index.json = %d, want 404", status)
	}
	if v, ok := srv.CurrentVersion(snapshot.ElectionID("5")); !ok || v != 12 {
		t.Errorf("CurrentVersion(5) = %d, %v; want 12", v, ok)
	}
}

func TestTestdataDir(t *testing.T) {
	if _, err := os.Stat(filepath.Join(TestdataDir(), "index.json")); err != nil {
		t.Errorf("TestdataDir() = %s: %v", TestdataDir(), err)
	}
}

// TestControlSettles checks that a request sent before a fault is set is
// answered without it, even when the server reads it only afterwards.
func TestControlSettles(t *testing.T) {
	s, err := Start(TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A request whose last line is still on its way.
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(s.URL, "/"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /Elections.json HTTP/1.1\r\nHost: fake\r\n"); err != nil {
		t.Fatal(err)
	}

	set := make(chan error, 1)
	go func() {
		resp, err := http.Post(s.URL+"_fake/fault?path=Elections.json&kind=html&count=1", "", nil)
		if err == nil {
			resp.Body.Close()
		}
		set <- err
	}()
	select {
	case err := <-set:
		t.Fatalf("the fault was set (%v) while a request was under way", err)
	case <-time.After(100 * time.Millisecond):
	}

	io.WriteString(conn, "Connection: close\r\n\r\n")
	old, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(old), "application/json") {
		t.Errorf("the request sent before the fault was answered with\n%s", old)
	}
	if err := <-set; err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "Elections.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<html>") {
		t.Errorf("the request after the fault was answered with %q", body)
	}
}
