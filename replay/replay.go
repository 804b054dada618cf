// Package replay serves an archive of election snapshots again at the
// Connecticut API's own paths, advancing through the snapshots on a clock
// driven by their recorded fetch times, so that a watcher, a dashboard or
// ctrunner itself can be rehearsed against a recorded night.
//
// A Server answers under its base URL:
//
//	Elections.json                        the latest archived election list
//	election/{id}/Version.json            the Version.json of the election's
//	                                      current snapshot, as archived
//	election/{id}/{v}/Electiondata.json   the documents of version v, as
//	election/{id}/{v}/Lookupdata.json     archived
//
// An election's current snapshot is its latest one fetched at or before
// the replay clock; an election without one yet has no Version.json (404).
// The documents of every version whose snapshot the clock has passed stay
// downloadable; later ones are 404s, as they were on the night. A snapshot
// without a Version.json (one imported from the old tool's folders) is
// announced as {"Version":N}. A store without an archived election list
// gets one made up from the elections served; an archived list that lacks
// a served election (a simulated night, say) gets an entry for it added at
// its end, the rest of its bytes as archived.
//
// Snapshots are loaded when first asked for and kept in a small cache
// (Options.CacheBytes), so a whole night is never held in memory.
//
// The clock and some faults are controlled over HTTP under /_replay/ (all
// POST but status, parameters in the query string):
//
//	/_replay/pause                     stop the clock
//	/_replay/resume                    start it again
//	/_replay/step                      pause, then move the clock to the next
//	                                   snapshot's fetch time (409 at the end)
//	/_replay/seek?time=RFC3339         move the clock, running or not
//	/_replay/seek?snapshot=ID          move it to a snapshot's fetch time (ID
//	                                   or a prefix of at least 4 hex digits)
//	/_replay/speed?speed=N             run N times faster than recorded
//	/_replay/faults?error_rate=F&status=S&latency=D&stall=true
//	                                   replace the faults: answer a share F of
//	                                   requests (0 to 1, spread evenly) with
//	                                   status S (default 503), delay every
//	                                   answer by D, hold every request until
//	                                   stall is turned off; no parameters
//	                                   clear them all
//	GET /_replay/status                the clock, each election's current
//	                                   snapshot and the faults, as JSON
//
// Each control request answers with the status.
package replay

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ctrunner/snapshot"
	"ctrunner/store"
)

// Options shape a replay.
type Options struct {
	// Elections are the elections to serve; none means every election of
	// the store.
	Elections []snapshot.ElectionID
	// Speed is how many times faster than recorded the clock runs; zero
	// means 1.
	Speed float64
	// Start is where the clock starts; zero means the fetch time of the
	// first snapshot served.
	Start time.Time
	// Paused starts the clock paused.
	Paused bool
	// CacheBytes bounds the loaded snapshots kept in memory; zero means
	// DefaultCacheBytes.
	CacheBytes int64
	// Wall is the wall clock, time.Now when nil (tests set it).
	Wall func() time.Time
}

// Server is a replay of a store, an http.Handler.
type Server struct {
	elections map[snapshot.ElectionID]*timeline
	ids       []snapshot.ElectionID // served, in numeric order
	times     []time.Time           // every served fetch time, sorted, distinct
	list      []byte                // Elections.json
	clock     *clock
	cache     *snapshotCache
	requests  atomic.Int64 // API requests answered, faults included
	closed    chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	faults Faults
	stall  chan struct{} // closed when the stall is lifted
	served int64         // requests counted for ErrorRate
	failed int64
}

// timeline is one election's snapshots, oldest first.
type timeline struct {
	id      snapshot.ElectionID
	entries []*stored
}

// stored is one snapshot of a timeline.
type stored struct {
	store.Entry
	// versionDoc is the Version.json to serve, once known: made up at
	// start for a snapshot without one, read on first use otherwise.
	versionDoc atomic.Pointer[[]byte]
}

// New prepares a replay of st. It reads the store's logs but no documents.
func New(st store.Store, opts Options) (*Server, error) {
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	if opts.Speed < 0 || opts.Speed > MaxSpeed || math.IsNaN(opts.Speed) {
		return nil, fmt.Errorf("speed %v is not from 0 to %v", opts.Speed, MaxSpeed)
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}

	ids := opts.Elections
	if len(ids) == 0 {
		var err error
		if ids, err = st.Elections(); err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("the store holds no snapshots to replay: %w", store.ErrNotFound)
		}
	}
	s := &Server{
		elections: make(map[snapshot.ElectionID]*timeline, len(ids)),
		cache:     newSnapshotCache(st, opts.CacheBytes),
		closed:    make(chan struct{}),
	}
	for _, id := range ids {
		if s.elections[id] != nil {
			continue
		}
		tl, err := loadTimeline(st, id)
		if err != nil {
			return nil, err
		}
		s.elections[id] = tl
		s.ids = append(s.ids, id)
		for _, e := range tl.entries {
			s.times = append(s.times, e.FetchedAt)
		}
	}
	slices.SortFunc(s.ids, compareIDs)
	slices.SortFunc(s.times, time.Time.Compare)
	s.times = slices.CompactFunc(s.times, time.Time.Equal)

	list, err := s.electionList(st)
	if err != nil {
		return nil, err
	}
	s.list = list

	start := opts.Start
	if start.IsZero() {
		start = s.times[0]
	}
	s.clock = newClock(opts.Wall, start, opts.Speed, !opts.Paused)
	return s, nil
}

// loadTimeline reads an election's log, oldest first. Snapshots are
// ordered by fetch time; those fetched at the same time keep the order of
// the log, the later one winning.
func loadTimeline(st store.Store, id snapshot.ElectionID) (*timeline, error) {
	log, err := st.Log(id)
	if err != nil {
		return nil, err
	}
	tl := &timeline{id: id}
	for i := len(log) - 1; i >= 0; i-- {
		e := &stored{Entry: log[i]}
		if _, ok := e.Documents[snapshot.VersionFile]; !ok {
			doc := []byte(`{"Version":` + e.Version.String() + `}`)
			e.versionDoc.Store(&doc)
		}
		tl.entries = append(tl.entries, e)
	}
	slices.SortStableFunc(tl.entries, func(a, b *stored) int {
		return a.FetchedAt.Compare(b.FetchedAt)
	})
	return tl, nil
}

// electionList returns the store's latest election list, with an entry
// made up for each served election it lacks (a simulated night, say), or
// a list made up of the served elections if the store has none. The
// archived bytes are kept as they are; made-up entries go at the end.
func (s *Server) electionList(st store.Store) ([]byte, error) {
	list, _, err := st.ElectionList()
	if errors.Is(err, store.ErrNotFound) {
		list, err = []byte("[]"), nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := snapshot.DecodeElectionList(list)
	if err != nil {
		return nil, fmt.Errorf("reading the archived election list: %w", err)
	}
	listed := map[snapshot.ElectionID]bool{}
	hasDefault := false
	for _, e := range entries {
		listed[e.ID] = true
		hasDefault = hasDefault || e.Default
	}
	var missing []snapshot.ElectionID
	for _, id := range s.ids {
		if !listed[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return list, nil
	}
	trimmed := bytes.TrimRight(list, " \t\r\n")
	body := bytes.TrimSuffix(trimmed, []byte("]"))
	if len(body) == len(trimmed) {
		return nil, errors.New("the archived election list is not a JSON array")
	}
	body = bytes.TrimRight(body, " \t\r\n")
	b := bytes.NewBuffer(append([]byte(nil), body...))
	sep := len(entries) > 0
	for i, id := range missing {
		def := "N"
		if !hasDefault && i == len(missing)-1 {
			def = "Y"
		}
		if sep {
			b.WriteByte(',')
		}
		sep = true
		fmt.Fprintf(b, `{"ID":%q,"Name":"Election %s","DefaultElection":%q}`, id, id, def)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

func compareIDs(a, b snapshot.ElectionID) int {
	x, errX := strconv.ParseInt(string(a), 10, 64)
	y, errY := strconv.ParseInt(string(b), 10, 64)
	if errX != nil || errY != nil || x == y {
		return strings.Compare(string(a), string(b))
	}
	if x < y {
		return -1
	}
	return 1
}

// First and Last return the fetch times of the first and last snapshots
// served.
func (s *Server) First() time.Time { return s.times[0] }

// Last returns the fetch time of the last snapshot served.
func (s *Server) Last() time.Time { return s.times[len(s.times)-1] }

// Snapshots returns how many snapshots are served.
func (s *Server) Snapshots() int {
	n := 0
	for _, tl := range s.elections {
		n += len(tl.entries)
	}
	return n
}

// Elections returns the elections served, in numeric order.
func (s *Server) Elections() []snapshot.ElectionID { return slices.Clone(s.ids) }

// Close releases the requests held by a stall; the server answers 503
// from then on.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// FindSnapshot returns the fetch time of the served snapshot whose ID (or
// its commit) starts with prefix, of at least 4 hex digits.
func (s *Server) FindSnapshot(prefix string) (time.Time, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 4 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return time.Time{}, fmt.Errorf("snapshot %q is not a snapshot ID "+
			"(at least 4 hex digits)", prefix)
	}
	var found []*stored
	for _, id := range s.ids {
		for _, e := range s.elections[id].entries {
			if strings.HasPrefix(e.ID.String(), prefix) {
				found = append(found, e)
			}
		}
	}
	switch {
	case len(found) == 0:
		return time.Time{}, fmt.Errorf("no snapshot %s among those replayed: %w",
			prefix, store.ErrNotFound)
	case len(found) > 1 && found[0].ID != found[len(found)-1].ID:
		return time.Time{}, fmt.Errorf("snapshot %s is ambiguous: give more digits", prefix)
	}
	return found[0].FetchedAt, nil
}

// current returns the election's latest snapshot fetched at or before t.
func (tl *timeline) current(t time.Time) *stored {
	n, _ := slices.BinarySearchFunc(tl.entries, t, func(e *stored, t time.Time) int {
		if e.FetchedAt.After(t) {
			return 1
		}
		return -1
	})
	if n == 0 {
		return nil
	}
	return tl.entries[n-1]
}

// passed returns the latest snapshot of version v fetched at or before t.
func (tl *timeline) passed(v snapshot.Version, t time.Time) *stored {
	for i := len(tl.entries) - 1; i >= 0; i-- {
		e := tl.entries[i]
		if e.Version == v && !e.FetchedAt.After(t) {
			return e
		}
	}
	return nil
}

// next returns the first served fetch time after t.
func (s *Server) next(t time.Time) (time.Time, bool) {
	i, found := slices.BinarySearchFunc(s.times, t, time.Time.Compare)
	if found {
		i++
	}
	if i == len(s.times) {
		return time.Time{}, false
	}
	return s.times[i], true
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if action, ok := strings.CutPrefix(path, "_replay/"); ok {
		s.control(w, r, action)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.requests.Add(1)
	if !s.applyFaults(w, r) {
		return
	}
	body, status := s.document(path)
	if status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.Write(body)
}

// document returns the body the API would send for path at the clock's
// time, or a status other than 200 when there is none.
func (s *Server) document(path string) ([]byte, int) {
	if path == snapshot.ElectionListFile {
		return s.list, http.StatusOK
	}
	rest, ok := strings.CutPrefix(path, "election/")
	if !ok {
		return nil, http.StatusNotFound
	}
	id, rest, _ := strings.Cut(rest, "/")
	tl := s.elections[snapshot.ElectionID(id)]
	if tl == nil {
		return nil, http.StatusNotFound
	}
	now := s.clock.Now()
	if rest == snapshot.VersionFile {
		e := tl.current(now)
		if e == nil {
			return nil, http.StatusNotFound
		}
		return s.versionDoc(e)
	}

	version, name, _ := strings.Cut(rest, "/")
	if name != snapshot.ElectionDataFile && name != snapshot.LookupDataFile {
		return nil, http.StatusNotFound
	}
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != version {
		return nil, http.StatusNotFound
	}
	e := tl.passed(snapshot.Version(v), now)
	if e == nil {
		return nil, http.StatusNotFound
	}
	return s.file(e, name)
}

// versionDoc returns the Version.json of e, reading it once.
func (s *Server) versionDoc(e *stored) ([]byte, int) {
	if doc := e.versionDoc.Load(); doc != nil {
		return *doc, http.StatusOK
	}
	doc, status := s.file(e, snapshot.VersionFile)
	if status == http.StatusOK {
		e.versionDoc.Store(&doc)
	}
	return doc, status
}

// file returns the named document of e.
func (s *Server) file(e *stored, name string) ([]byte, int) {
	if _, ok := e.Documents[name]; !ok {
		return nil, http.StatusNotFound
	}
	snap, err := s.cache.Get(e.Entry)
	if err != nil {
		return nil, http.StatusInternalServerError
	}
	data, ok := snap.File(name)
	if !ok {
		return nil, http.StatusNotFound
	}
	return data, http.StatusOK
}
