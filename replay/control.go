package replay

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"ctrunner/snapshot"
)

// Faults are the ways a replay answers wrongly, for rehearsing.
type Faults struct {
	// ErrorRate is the share of API requests, from 0 to 1, answered with
	// ErrorStatus instead of the document. The errors are spread evenly:
	// with 0.25, every fourth request fails.
	ErrorRate float64
	// ErrorStatus is the status of those answers; zero means 503.
	ErrorStatus int
	// Latency delays every answer.
	Latency time.Duration
	// Stall holds every request until the stall is lifted, the client
	// gives up or the server closes.
	Stall bool
}

// Status describes the state of a replay, as /_replay/status shows it.
type Status struct {
	Clock   time.Time `json:"clock"`
	Running bool      `json:"running"`
	Speed   float64   `json:"speed"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	// Next is the fetch time of the next snapshot, if any.
	Next      *time.Time       `json:"next"`
	Elections []ElectionStatus `json:"elections"`
	Faults    FaultStatus      `json:"faults"`
	// Requests counts the API requests received, control requests aside.
	Requests int64 `json:"requests"`
	// CachedSnapshots and CachedBytes describe the snapshots kept loaded.
	CachedSnapshots int   `json:"cached_snapshots"`
	CachedBytes     int64 `json:"cached_bytes"`
}

// ElectionStatus is where one election stands in a replay.
type ElectionStatus struct {
	Election snapshot.ElectionID `json:"election"`
	// Snapshots is how many snapshots the election has, Passed how many of
	// them the clock has reached.
	Snapshots int `json:"snapshots"`
	Passed    int `json:"passed"`
	// Snapshot, Version and FetchedAt describe the current snapshot; they
	// are left out before the first.
	Snapshot  string           `json:"snapshot,omitempty"`
	Version   snapshot.Version `json:"version,omitempty"`
	FetchedAt *time.Time       `json:"fetched_at,omitempty"`
}

// FaultStatus is Faults as JSON.
type FaultStatus struct {
	ErrorRate   float64 `json:"error_rate"`
	ErrorStatus int     `json:"error_status"`
	Latency     string  `json:"latency"`
	Stall       bool    `json:"stall"`
}

// Pause stops the clock.
func (s *Server) Pause() { s.clock.Pause() }

// Resume starts the clock again from where it stands.
func (s *Server) Resume() { s.clock.Resume() }

// Seek moves the clock to t, leaving it running or paused.
func (s *Server) Seek(t time.Time) { s.clock.Seek(t) }

// SetSpeed makes the clock run speed times faster than recorded.
func (s *Server) SetSpeed(speed float64) error {
	if !(speed > 0 && speed <= MaxSpeed) {
		return fmt.Errorf("speed %v is not above 0 and at most %v", speed, MaxSpeed)
	}
	s.clock.SetSpeed(speed)
	return nil
}

// Step pauses the clock and moves it to the fetch time of the next
// snapshot. It reports false, leaving the clock paused where it was, when
// no snapshot is left.
func (s *Server) Step() (time.Time, bool) { return s.clock.Step(s.next) }

// Now returns the replay clock's time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// SetFaults replaces the faults in force. Lifting a stall releases the
// requests it holds.
func (s *Server) SetFaults(f Faults) error {
	switch {
	case !(f.ErrorRate >= 0 && f.ErrorRate <= 1):
		return fmt.Errorf("error rate %v is not from 0 to 1", f.ErrorRate)
	case f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599):
		return fmt.Errorf("error status %d is not from 400 to 599", f.ErrorStatus)
	case f.Latency < 0:
		return fmt.Errorf("latency %v is negative", f.Latency)
	}
	f.ErrorStatus = cmp.Or(f.ErrorStatus, http.StatusServiceUnavailable)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.served, s.failed = 0, 0
	if f.Stall && s.stall == nil {
		s.stall = make(chan struct{})
	} else if !f.Stall && s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
	return nil
}

// Status returns the state of the replay.
func (s *Server) Status() Status {
	now, running, speed := s.clock.State()
	st := Status{Clock: now, Running: running, Speed: speed, First: s.First(), Last: s.Last(),
		Requests: s.requests.Load()}
	if next, ok := s.next(now); ok {
		st.Next = &next
	}
	for _, id := range s.ids {
		tl := s.elections[id]
		es := ElectionStatus{Election: id, Snapshots: len(tl.entries)}
		for i, e := range tl.entries {
			if e.FetchedAt.After(now) {
				break
			}
			es.Passed = i + 1
		}
		if es.Passed > 0 {
			e := tl.entries[es.Passed-1]
			es.Snapshot, es.Version, es.FetchedAt = e.ID.String(), e.Version, &e.FetchedAt
		}
		st.Elections = append(st.Elections, es)
	}
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	st.Faults = FaultStatus{ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		Latency: f.Latency.String(), Stall: f.Stall}
	st.CachedSnapshots, st.CachedBytes = s.cache.Len()
	return st
}

// applyFaults delays, holds or fails a request as the faults in force
// say. It reports whether the request should be answered normally.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f, stall := s.faults, s.stall
	fail := false
	if f.ErrorRate > 0 {
		s.served++
		if due := int64(math.Floor(float64(s.served) * f.ErrorRate)); due > s.failed {
			s.failed++
			fail = true
		}
	}
	s.mu.Unlock()

	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-s.closed:
		}
	}
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return false
		case <-s.closed:
		}
	}
	select {
	case <-s.closed:
		http.Error(w, "replay closing", http.StatusServiceUnavailable)
		return false
	default:
	}
	if fail {
		http.Error(w, http.StatusText(f.ErrorStatus), f.ErrorStatus)
		return false
	}
	return true
}

// control answers a request under /_replay/; see the package comment.
func (s *Server) control(w http.ResponseWriter, r *http.Request, action string) {
	switch action {
	case "status":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
	case "pause", "resume", "step", "seek", "speed", "faults":
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}

	q := r.URL.Query()
	var err error
	status := http.StatusBadRequest
	switch action {
	case "pause":
		s.Pause()
	case "resume":
		s.Resume()
	case "step":
		if _, ok := s.Step(); !ok {
			err, status = errors.New("no snapshot after the clock's time"), http.StatusConflict
		}
	case "seek":
		err = s.controlSeek(q)
	case "speed":
		var speed float64
		if speed, err = strconv.ParseFloat(q.Get("speed"), 64); err != nil {
			err = fmt.Errorf("parameter speed: %q is not a number", q.Get("speed"))
		} else {
			err = s.SetSpeed(speed)
		}
	case "faults":
		err = s.controlFaults(q)
	}
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s.Status())
}

func (s *Server) controlSeek(q url.Values) error {
	switch t, id := q.Get("time"), q.Get("snapshot"); {
	case t != "" && id != "":
		return errors.New("give either time or snapshot, not both")
	case t != "":
		at, err := time.Parse(time.RFC3339, t)
		if err != nil {
			return fmt.Errorf("parameter time: %q is not a time like 2024-11-05T21:00:00-05:00", t)
		}
		s.Seek(at)
	case id != "":
		at, err := s.FindSnapshot(id)
		if err != nil {
			return err
		}
		s.Seek(at)
	default:
		return errors.New("missing parameter time or snapshot")
	}
	return nil
}

func (s *Server) controlFaults(q url.Values) error {
	var f Faults
	var err error
	if text := q.Get("error_rate"); text != "" {
		if f.ErrorRate, err = strconv.ParseFloat(text, 64); err != nil {
			return fmt.Errorf("parameter error_rate: %q is not a number", text)
		}
	}
	if text := q.Get("status"); text != "" {
		if f.ErrorStatus, err = strconv.Atoi(text); err != nil {
			return fmt.Errorf("parameter status: %q is not a number", text)
		}
	}
	if text := q.Get("latency"); text != "" {
		if f.Latency, err = time.ParseDuration(text); err != nil {
			return fmt.Errorf("parameter latency: %q is not a duration like 200ms", text)
		}
	}
	if text := q.Get("stall"); text != "" {
		if f.Stall, err = strconv.ParseBool(text); err != nil {
			return fmt.Errorf("parameter stall: %q is not true or false", text)
		}
	}
	return s.SetFaults(f)
}
