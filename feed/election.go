package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"ctrunner/snapshot"
)

// ElectionList fetches Elections.json, which must be a JSON array, and
// returns its bytes as received (less any byte order mark).
func (c *Client) ElectionList(ctx context.Context) ([]byte, error) {
	body, err := c.get(ctx, snapshot.ElectionListFile)
	if err != nil {
		return nil, err
	}
	if trimmed := bytes.TrimSpace(body); trimmed[0] != '[' {
		return nil, c.shapeError(snapshot.ElectionListFile,
			"election list is not a JSON array: body starts "+excerpt(trimmed, 40))
	}
	return body, nil
}

// Version fetches election/{id}/Version.json and returns the version it
// names with the bytes as received. The body must be an object whose
// "Version" is a non-negative integer, or a string of digits; other
// fields are allowed.
func (c *Client) Version(ctx context.Context,
	id snapshot.ElectionID) (snapshot.Version, []byte, error) {
	if _, err := snapshot.ParseElectionID(string(id)); err != nil {
		return 0, nil, err
	}
	path := "election/" + string(id) + "/" + snapshot.VersionFile
	body, err := c.get(ctx, path)
	if err != nil {
		return 0, nil, err
	}
	v, reason := ParseVersion(body)
	if reason != "" {
		return 0, nil, c.shapeError(path, reason)
	}
	return v, body, nil
}

func (c *Client) shapeError(path, reason string) *Error {
	return &Error{Method: http.MethodGet, URL: c.base + path, Status: http.StatusOK,
		Reason: reason, Err: ErrBadBody}
}

// ParseVersion reads the version from a Version.json body that holds one
// JSON value: an object whose "Version" (any capitalisation) is a
// non-negative integer or a string holding one. When the body is not
// acceptable it returns a one-line reason instead.
func ParseVersion(body []byte) (snapshot.Version, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return 0, "Version.json is not a JSON object: body starts " +
			excerpt(bytes.TrimSpace(body), 40)
	}
	raw, ok := fields["Version"]
	if !ok {
		for k, v := range fields { // tolerate another capitalisation
			if strings.EqualFold(k, "Version") {
				raw, ok = v, true
				break
			}
		}
	}
	if !ok {
		return 0, `Version.json has no "Version" field`
	}
	text := string(raw)
	if s, err := strconv.Unquote(text); err == nil && len(text) > 0 && text[0] == '"' {
		text = strings.TrimSpace(s)
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Sprintf(`Version.json "Version" is %s, not a non-negative integer`, raw)
	}
	return snapshot.Version(v), ""
}

// Election fetches a consistent snapshot of one election: Version.json,
// then that version's Electiondata.json and Lookupdata.json together,
// then Version.json again. If the version moved meanwhile, it starts over,
// up to Options.VersionRetries times, then fails with ErrVersionMoving.
//
// The snapshot holds the three documents as received (Version.json from
// the first read of the round that matched) and is stamped with the time
// the set was complete.
func (c *Client) Election(ctx context.Context,
	id snapshot.ElectionID) (*snapshot.Snapshot, error) {
	var seen []string
	for round := 0; round <= c.opts.VersionRetries; round++ {
		v, versionDoc, err := c.Version(ctx, id)
		if err != nil {
			return nil, err
		}
		seen = append(seen, v.String())
		ed, ld, docErr := c.documents(ctx, id, v)

		// A version folder can vanish once a newer one is published, so
		// a missing document is a reason to look at the version again.
		if docErr != nil && !errors.Is(docErr, ErrNotFound) {
			return nil, docErr
		}
		again, _, err := c.Version(ctx, id)
		if err != nil {
			return nil, err
		}
		if again == v {
			if docErr != nil {
				return nil, docErr
			}
			return c.snapshot(id, v, versionDoc, ed, ld), nil
		}
		if round == c.opts.VersionRetries {
			seen = append(seen, again.String())
		}
		c.opts.Log(fmt.Sprintf("election %s: version moved from %s to %s during the fetch; "+
			"starting over", id, v, again))
	}
	return nil, fmt.Errorf("fetching election %s: %w after %d tries (versions %s)",
		id, ErrVersionMoving, c.opts.VersionRetries+1, strings.Join(seen, ", "))
}

// documents fetches the two documents of one version concurrently.
func (c *Client) documents(ctx context.Context, id snapshot.ElectionID,
	v snapshot.Version) (electionData, lookupData []byte, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	folder := c.folder(id, v)
	var wg sync.WaitGroup
	var ldErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		lookupData, ldErr = c.get(ctx, folder+snapshot.LookupDataFile)
		if ldErr != nil {
			cancel()
		}
	}()
	electionData, err = c.get(ctx, folder+snapshot.ElectionDataFile)
	if err != nil {
		cancel()
	}
	wg.Wait()

	// Report the error that caused the other request's cancellation.
	switch {
	case err != nil && ldErr != nil && errors.Is(err, context.Canceled):
		return nil, nil, ldErr
	case err != nil:
		return nil, nil, err
	case ldErr != nil:
		return nil, nil, ldErr
	}
	return electionData, lookupData, nil
}

// folder returns the path of a version folder under the base URL.
func (c *Client) folder(id snapshot.ElectionID, v snapshot.Version) string {
	return "election/" + string(id) + "/" + v.String() + "/"
}

func (c *Client) snapshot(id snapshot.ElectionID, v snapshot.Version,
	versionDoc, electionData, lookupData []byte) *snapshot.Snapshot {
	meta := snapshot.Meta{
		Election:  id,
		Version:   v,
		FetchedAt: time.Now().UTC(),
		Source:    snapshot.Fetched,
		SourceURL: c.base + c.folder(id, v),
	}
	return snapshot.New(meta, []snapshot.File{
		{Name: snapshot.VersionFile, Data: versionDoc},
		{Name: snapshot.ElectionDataFile, Data: electionData},
		{Name: snapshot.LookupDataFile, Data: lookupData},
	})
}

// DefaultWorkers is how many elections Elections fetches at once when
// asked for zero workers.
const DefaultWorkers = 4

// Elections fetches each election with Election, at most workers at a
// time (DefaultWorkers if workers < 1), and passes each result to fn. It
// calls fn from one goroutine at a time, in the order fetches finish, and
// returns when all are done. Once ctx is done, the remaining elections
// are reported with its error without being fetched.
func (c *Client) Elections(ctx context.Context, ids []snapshot.ElectionID, workers int,
	fn func(id snapshot.ElectionID, s *snapshot.Snapshot, err error)) {
	if workers < 1 {
		workers = DefaultWorkers
	}
	jobs := make(chan snapshot.ElectionID)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				var s *snapshot.Snapshot
				err := ctx.Err()
				if err == nil {
					s, err = c.Election(ctx, id)
				}
				mu.Lock()
				fn(id, s, err)
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
}
