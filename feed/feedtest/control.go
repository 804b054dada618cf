package feedtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"ctrunner/snapshot"
)

// control answers a request under /_fake/; see the package comment.
func (s *Server) control(w http.ResponseWriter, r *http.Request, action string) {
	if action == "requests" {
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Requests())
		return
	}
	switch action {
	case "fault", "version", "move", "reset":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	self, _ := r.Context().Value(connKey{}).(net.Conn)
	s.settle(self)
	q := r.URL.Query()
	var err error
	switch action {
	case "fault":
		err = s.controlFault(q)
	case "version":
		var id snapshot.ElectionID
		var v snapshot.Version
		if id, v, err = electionVersion(q); err == nil {
			s.SetVersion(id, v)
		}
	case "move":
		var id snapshot.ElectionID
		var v snapshot.Version
		if id, v, err = electionVersion(q); err == nil {
			if q.Get("after") == "" {
				err = fmt.Errorf("missing parameter after")
			} else {
				s.MoveVersionAfter(id, q.Get("after"), v)
			}
		}
	case "reset":
		s.Reset()
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *Server) controlFault(q url.Values) error {
	path := q.Get("path")
	if path == "" {
		return fmt.Errorf("missing parameter path")
	}
	f := Fault{
		Kind:       Kind(q.Get("kind")),
		Body:       q.Get("body"),
		RetryAfter: q.Get("retry_after"),
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"status", &f.Status}, {"count", &f.Count}, {"size", &f.Size}} {
		text := q.Get(p.name)
		if text == "" {
			continue
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			return fmt.Errorf("parameter %s: %q is not a number", p.name, text)
		}
		*p.dst = n
	}
	return s.Inject(path, f)
}

func electionVersion(q url.Values) (snapshot.ElectionID, snapshot.Version, error) {
	id, err := snapshot.ParseElectionID(q.Get("election"))
	if err != nil {
		return "", 0, fmt.Errorf("parameter election: %w", err)
	}
	v, err := strconv.ParseInt(q.Get("version"), 10, 64)
	if err != nil || v < 0 {
		return "", 0, fmt.Errorf("parameter version: %q is not a version number",
			q.Get("version"))
	}
	return id, snapshot.Version(v), nil
}
