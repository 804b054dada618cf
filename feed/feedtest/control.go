package feedtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
			if err = s.recorded(id, v); err == nil {
				s.SetVersion(id, v)
			}
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
	if !servedPath(path) {
		return fmt.Errorf("path %q is none the API serves: give *, Elections.json, "+
			"election/ID/Version.json or election/ID/VERSION/Electiondata.json "+
			"(or Lookupdata.json), e.g. election/80/13392/Electiondata.json", path)
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

// recorded checks, for the HTTP control, that the folder holds version v
// of election id: a version set by mistake would only show later, as 404s.
func (s *Server) recorded(id snapshot.ElectionID, v snapshot.Version) error {
	versions := s.archive.Versions(id)
	if slices.Contains(versions, v) {
		return nil
	}
	if len(versions) == 0 {
		return fmt.Errorf("election %s is not in %s", id, s.archive.Dir())
	}
	names := make([]string, len(versions))
	for i, rv := range versions {
		names[i] = rv.String()
	}
	return fmt.Errorf("election %s has no recorded version %s (recorded: %s)", id, v,
		strings.Join(names, ", "))
}

// servedPath reports whether path is "*" or has the shape of a path the
// API serves, so that a fault set on a mistyped path is refused rather
// than never triggered.
func servedPath(path string) bool {
	parts := strings.Split(path, "/")
	switch {
	case path == "*" || path == "Elections.json":
		return true
	case len(parts) == 3:
		return parts[0] == "election" && isDigits(parts[1]) && parts[2] == "Version.json"
	case len(parts) == 4:
		return parts[0] == "election" && isDigits(parts[1]) && isDigits(parts[2]) &&
			(parts[3] == "Electiondata.json" || parts[3] == "Lookupdata.json")
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
