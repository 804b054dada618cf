// Package feedtest serves a legacy archive folder (see package legacy) as
// a fake Connecticut election night API on a loopback address, for tests
// and for trying the tool offline.
//
// The fake answers at the API's own paths under Server.URL:
//
//	Elections.json                            index.json as stored
//	election/{id}/Version.json                {"Version":N}, N the current version
//	election/{id}/{v}/Electiondata.json       the ElectionData of raw.json, compact
//	election/{id}/{v}/Lookupdata.json         the LookupData of raw.json, compact
//
// Every recorded version stays downloadable; the current version of an
// election is its highest recorded one until changed. Anything else is a
// 404.
//
// Faults can be injected for a path (or "*" for every path), for the next
// Count requests or, with Count 0, for all of them. The kinds are:
//
//	html       200 with an HTML page
//	xml        an XML error page, status 403 unless Status says otherwise
//	status     the given Status, with Body and Retry-After if set
//	truncate   200 with the first half of the document (a short JSON value)
//	short      Content-Length of the whole document, only half sent, then
//	           the connection is closed
//	trailing   the document followed by stray bytes
//	double     the document sent twice, back to back
//	bom        the document after a UTF-8 byte order mark
//	gzip       the document gzipped, without Content-Encoding
//	stall      no answer until the client gives up or the server closes
//	oversize   200 with the document padded by Size spaces
//
// The same controls are open over HTTP, for command-line tests and manual
// trials (all POST, parameters in the query string):
//
//	/_fake/fault?path=P&kind=K[&count=N][&status=S][&retry_after=R][&body=B][&size=Z]
//	/_fake/version?election=ID&version=V
//	/_fake/move?election=ID&after=P&version=V
//	/_fake/reset
//
// and GET /_fake/requests lists the requests served so far as JSON. A
// control request first waits (up to two seconds) for the requests other
// connections have under way, so that one a client sent before it, and
// perhaps gave up on, is answered as things were.
package feedtest

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// Kind names a fault; see the package comment.
type Kind string

// The fault kinds.
const (
	HTML     Kind = "html"
	XML      Kind = "xml"
	Status   Kind = "status"
	Truncate Kind = "truncate"
	Short    Kind = "short"
	Trailing Kind = "trailing"
	Double   Kind = "double"
	BOM      Kind = "bom"
	Gzip     Kind = "gzip"
	Stall    Kind = "stall"
	Oversize Kind = "oversize"
)

var kinds = []Kind{HTML, XML, Status, Truncate, Short, Trailing, Double, BOM, Gzip,
	Stall, Oversize}

// Fault is a way of answering a request wrongly.
type Fault struct {
	Kind Kind
	// Status is the HTTP status for Status (required) and XML (default
	// 403).
	Status int
	// Body replaces the default body of Status and XML answers.
	Body string
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Size is how many bytes of padding Oversize adds.
	Size int
	// Count is how many requests the fault applies to; 0 means all.
	Count int
}

// Request is one request the server answered.
type Request struct {
	Method    string
	Path      string // without the leading slash, e.g. "Elections.json"
	UserAgent string
	Accept    string
}

// Server is a running fake API.
type Server struct {
	// URL is the base URL of the API, with a trailing slash.
	URL string

	archive *legacy.Archive
	srv     *http.Server
	ln      net.Listener
	closed  chan struct{}  // closed by Close, releasing stalls
	served  sync.WaitGroup // request handlers in flight
	stalled atomic.Int64   // requests held by a Stall fault
	once    sync.Once

	mu       sync.Mutex
	isClosed bool
	// busy holds the connections that may carry a request not yet
	// answered, with whether that request is held by a Stall.
	busy     map[net.Conn]bool
	current  map[snapshot.ElectionID]snapshot.Version
	faults   map[string]*Fault
	moves    map[string][]move
	requests []Request
}

type move struct {
	election snapshot.ElectionID
	version  snapshot.Version
}

// docKey names one recorded version of one legacy folder.
type docKey struct {
	dir      string // absolute
	election snapshot.ElectionID
	version  snapshot.Version
}

// splitCache maps a docKey to its *splitDoc. It is shared by every server
// of the process, so that tests starting many servers over the same
// folder split each raw.json once: documents are read once per process.
var splitCache sync.Map

// splitDoc holds the two documents of one recorded version.
type splitDoc struct {
	once                     sync.Once
	electionData, lookupData []byte
	err                      error
}

// Start serves the legacy folder dir on 127.0.0.1 at a free port.
func Start(dir string) (*Server, error) { return Listen(dir, "127.0.0.1:0") }

// Listen serves the legacy folder dir at addr, which must be a loopback
// address such as "127.0.0.1:8089".
func Listen(dir, addr string) (*Server, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("starting fake API: %w", err)
	}
	a, err := legacy.Open(dir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("starting fake API: %w", err)
	}
	s := &Server{
		URL:     "http://" + ln.Addr().String() + "/",
		archive: a,
		ln:      ln,
		closed:  make(chan struct{}),
	}
	s.reset()
	s.busy = map[net.Conn]bool{}
	s.srv = &http.Server{Handler: s, ConnState: s.trackConn,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		}}
	go s.srv.Serve(ln)
	return s, nil
}

// CheckLoopback returns an error unless addr is host:port with a
// loopback host ("localhost" counts).
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: only a loopback address such as 127.0.0.1 is "+
			"served", addr)
	}
	return nil
}

// Archive returns the legacy folder being served, for its Problems.
func (s *Server) Archive() *legacy.Archive { return s.archive }

// Close stops the server, releasing stalled requests, and returns once
// every request handler has finished.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.isClosed = true
		close(s.closed)
		s.mu.Unlock()
		err = s.srv.Close()
		s.served.Wait()
	})
	return err
}

// reset restores the default versions and drops faults, moves and the
// request log.
func (s *Server) reset() {
	s.current = make(map[snapshot.ElectionID]snapshot.Version)
	for _, id := range s.archive.Elections() {
		if vs := s.archive.Versions(id); len(vs) > 0 {
			s.current[id] = vs[len(vs)-1]
		} else if latest, err := s.archive.Latest(id); err == nil {
			s.current[id] = latest.Version
		}
	}
	s.faults = make(map[string]*Fault)
	s.moves = make(map[string][]move)
	s.requests = nil
}

// Reset restores the default versions and drops faults, pending version
// moves and the request log.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// SetVersion makes v the version Version.json announces for election id.
// A version that was never recorded is announced, but its documents are
// 404s.
func (s *Server) SetVersion(id snapshot.ElectionID, v snapshot.Version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current[id] = v
}

// CurrentVersion returns the version Version.json announces for id.
func (s *Server) CurrentVersion(id snapshot.ElectionID) (snapshot.Version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.current[id]
	return v, ok
}

// Inject makes the server answer requests for path (relative to URL, e.g.
// "election/80/13392/Electiondata.json", or "*" for every path) with f.
// It replaces any fault set before for that path.
func (s *Server) Inject(path string, f Fault) error {
	if !slices.Contains(kinds, f.Kind) {
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	if f.Kind == Status && (f.Status < 100 || f.Status > 999) {
		return fmt.Errorf("fault kind status needs a status code, not %d", f.Status)
	}
	if f.Count < 0 {
		return fmt.Errorf("fault count %d is negative", f.Count)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[strings.TrimPrefix(path, "/")] = &f
	return nil
}

// MoveVersionAfter sets election id's current version to v as soon as a
// request for path is answered (the answer itself is of the version
// before), once. Several moves can wait on the
// same path; they happen in the order they were asked for, one per
// response.
func (s *Server) MoveVersionAfter(id snapshot.ElectionID, path string, v snapshot.Version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path = strings.TrimPrefix(path, "/")
	s.moves[path] = append(s.moves[path], move{election: id, version: v})
}

// Requests returns the API requests answered so far, oldest first. Control
// requests under /_fake/ are not listed.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Stalled returns how many requests a Stall fault is holding right now.
func (s *Server) Stalled() int { return int(s.stalled.Load()) }

// TestdataDir returns the repository's testdata/ct-archive folder, found
// from this source file's location, so that tests of any package can serve
// the recorded elections.
func TestdataDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "ct-archive")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "ct-archive")
}

// connKey keys the connection of a request in its context.
type connKey struct{}

// trackConn keeps s.busy: a new or active connection may carry a request
// that has not been answered yet.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew, http.StateActive:
		s.busy[c] = false
	default:
		delete(s.busy, c)
	}
}

// settle waits, for at most settleWait, until no connection but self
// carries a request being answered or still to be read, other than
// requests held by a Stall. A control request settles before it changes
// anything, so that a request a client sent before it (from a process
// that gave up on it and exited, say) does not take a fault or see a
// version meant for the requests after it.
func (s *Server) settle(self net.Conn) {
	deadline := time.Now().Add(settleWait)
	for {
		s.mu.Lock()
		pending := 0
		for c, stalled := range s.busy {
			if c != self && !stalled {
				pending++
			}
		}
		s.mu.Unlock()
		if pending == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// settleWait bounds how long a control request waits for other requests.
const settleWait = 2 * time.Second

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Handlers register under the lock, so none starts once Close waits.
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	}
	s.served.Add(1)
	s.mu.Unlock()
	defer s.served.Done()

	path := strings.TrimPrefix(r.URL.Path, "/")
	if strings.HasPrefix(path, "_fake/") {
		s.control(w, r, strings.TrimPrefix(path, "_fake/"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path,
		UserAgent: r.UserAgent(), Accept: r.Header.Get("Accept")})
	fault := s.takeFault(path)
	s.mu.Unlock()

	body, status := s.document(path)
	// A version move waiting on path happens as the answer goes out, so
	// that no request the client sends after reading it sees the old
	// version.
	s.applyMove(path)
	if fault != nil {
		s.serveFault(w, r, *fault, body)
	} else if status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
	} else {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// takeFault returns the fault to apply to a request for path, counting it
// down. The caller holds s.mu.
func (s *Server) takeFault(path string) *Fault {
	for _, key := range []string{path, "*"} {
		f, ok := s.faults[key]
		if !ok {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				delete(s.faults, key)
			}
		}
		applied := *f
		return &applied
	}
	return nil
}

// applyMove applies the first version move waiting on path.
func (s *Server) applyMove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := s.moves[path]
	if len(pending) == 0 {
		return
	}
	m := pending[0]
	if len(pending) == 1 {
		delete(s.moves, path)
	} else {
		s.moves[path] = pending[1:]
	}
	s.current[m.election] = m.version
}

// document returns the body the API would send for path, or a status
// other than 200 when there is none.
func (s *Server) document(path string) ([]byte, int) {
	if path == snapshot.ElectionListFile {
		list, err := s.archive.ElectionList()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, http.StatusNotFound
		}
		if err != nil {
			return nil, http.StatusInternalServerError
		}
		return list, http.StatusOK
	}
	parts := strings.Split(path, "/")
	if len(parts) < 3 || parts[0] != "election" {
		return nil, http.StatusNotFound
	}
	id, err := snapshot.ParseElectionID(parts[1])
	if err != nil {
		return nil, http.StatusNotFound
	}
	if len(parts) == 3 && parts[2] == snapshot.VersionFile {
		v, ok := s.CurrentVersion(id)
		if !ok {
			return nil, http.StatusNotFound
		}
		return []byte(`{"Version":` + v.String() + `}`), http.StatusOK
	}
	if len(parts) != 4 || (parts[3] != snapshot.ElectionDataFile &&
		parts[3] != snapshot.LookupDataFile) {
		return nil, http.StatusNotFound
	}
	v, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != parts[2] {
		return nil, http.StatusNotFound
	}
	doc := s.split(id, snapshot.Version(v))
	switch {
	case errors.Is(doc.err, fs.ErrNotExist):
		return nil, http.StatusNotFound
	case doc.err != nil:
		return nil, http.StatusInternalServerError
	case parts[3] == snapshot.ElectionDataFile:
		return doc.electionData, http.StatusOK
	default:
		return doc.lookupData, http.StatusOK
	}
}

// split returns the documents of a recorded version, splitting raw.json
// the first time only.
func (s *Server) split(id snapshot.ElectionID, v snapshot.Version) *splitDoc {
	key := docKey{s.archive.Dir(), id, v}
	entry, _ := splitCache.LoadOrStore(key, &splitDoc{})
	doc := entry.(*splitDoc)
	doc.once.Do(func() {
		rec, err := s.archive.Read(id, v)
		if errors.Is(err, fs.ErrNotExist) {
			rec, err = s.latestAs(id, v)
		}
		if err != nil {
			doc.err = err
			return
		}
		_, doc.electionData, doc.lookupData, doc.err = legacy.Split(rec.Raw)
	})
	if errors.Is(doc.err, fs.ErrNotExist) {
		splitCache.CompareAndDelete(key, doc) // it may be recorded later
	}
	return doc
}

// latestAs returns the election's top-level copy if it holds version v.
func (s *Server) latestAs(id snapshot.ElectionID, v snapshot.Version) (*legacy.Version, error) {
	latest, err := s.archive.Latest(id)
	if err != nil {
		return nil, err
	}
	if latest.Version != v {
		return nil, fmt.Errorf("election %s version %s: %w", id, v, fs.ErrNotExist)
	}
	return latest, nil
}

// serveFault answers with fault f; body is the correct document, if any.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault, body []byte) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch f.Kind {
	case HTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>" +
			"<body><h1>We'll be back soon</h1></body></html>\n"))
	case XML:
		status := cmp.Or(f.Status, http.StatusForbidden)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		w.Write([]byte(cmp.Or(f.Body, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)))
	case Status:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		w.Write([]byte(cmp.Or(f.Body, http.StatusText(f.Status))))
	case Truncate:
		writeJSON(w, body[:len(body)/2])
	case Short:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		// Returning from a handler that wrote less than Content-Length
		// makes the server close the connection.
	case Trailing:
		writeJSON(w, append(slices.Clip(body), "\n<!-- served by cache -->\n"...))
	case Double:
		writeJSON(w, append(slices.Clip(body), body...))
	case BOM:
		writeJSON(w, append([]byte{0xef, 0xbb, 0xbf}, body...))
	case Gzip:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		writeJSON(w, buf.Bytes())
	case Stall:
		s.stalled.Add(1)
		defer s.stalled.Add(-1)
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			s.mu.Lock()
			if _, busy := s.busy[c]; busy {
				s.busy[c] = true
			}
			s.mu.Unlock()
		}
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		// Drop the connection without an answer.
		panic(http.ErrAbortHandler)
	case Oversize:
		writeJSON(w, append(slices.Clip(body), bytes.Repeat([]byte(" "), f.Size)...))
	}
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
