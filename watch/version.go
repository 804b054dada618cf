package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"ctrunner/feed"
	"ctrunner/snapshot"
)

// maxVersionBytes bounds a Version.json body; the real one is a few bytes.
const maxVersionBytes = 1 << 20

// validators are the ETag and Last-Modified a server sent with a version,
// sent back as If-None-Match and If-Modified-Since.
type validators struct {
	etag, lastModified string
}

// versionAnswer is what one Version.json request got.
type versionAnswer struct {
	status      int
	bytes       int64
	version     snapshot.Version
	notModified bool // 304: the version is the one the validators belong to
	validators  validators
	retryAfter  time.Duration
}

// pollError is a failed Version.json request.
type pollError struct {
	url    string
	status int
	reason string
}

func (e *pollError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("GET %s: HTTP %d: %s", e.url, e.status, e.reason)
	}
	return fmt.Sprintf("GET %s: %s", e.url, e.reason)
}

// fetchVersion reads an election's Version.json once, without retrying
// (the next poll is the retry), sending the validators of the version
// stored last so that an unchanged version costs a 304. The body must be
// what feed accepts: a JSON object whose "Version" is a non-negative
// integer or a string of digits, other fields allowed, after an optional
// byte order mark.
func (w *watcher) fetchVersion(ctx context.Context, id snapshot.ElectionID,
	prev validators) (versionAnswer, error) {
	var a versionAnswer
	u := w.base + "election/" + string(id) + "/" + snapshot.VersionFile
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return a, &pollError{url: u, reason: err.Error()}
	}
	req.Header.Set("User-Agent", w.opts.UserAgent)
	req.Header.Set("Accept", "application/json")
	if prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	if prev.lastModified != "" {
		req.Header.Set("If-Modified-Since", prev.lastModified)
	}

	resp, err := w.opts.HTTPClient.Do(req)
	if err != nil {
		reason := "no answer: " + unwrapURLError(err).Error()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			reason = fmt.Sprintf("no answer within %s", w.opts.Timeout)
		}
		return a, &pollError{url: u, reason: reason}
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	a.validators = validators{resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")}

	switch {
	case resp.StatusCode == http.StatusNotModified && (prev.etag != "" || prev.lastModified != ""):
		n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, maxVersionBytes))
		a.bytes, a.notModified, a.validators = n, true, prev
		return a, nil
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxVersionBytes))
		a.bytes = int64(len(body))
		a.retryAfter = feed.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		reason := http.StatusText(resp.StatusCode)
		if isMarkup(body) {
			reason += " (an HTML or XML page)"
		}
		return a, &pollError{url: u, status: resp.StatusCode, reason: reason}
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxVersionBytes+1))
	a.bytes = int64(len(body))
	if err != nil {
		return a, &pollError{url: u, status: a.status,
			reason: "body not complete: " + unwrapURLError(err).Error()}
	}
	if len(body) > maxVersionBytes {
		return a, &pollError{url: u, status: a.status,
			reason: fmt.Sprintf("body larger than %d bytes", maxVersionBytes)}
	}
	v, reason := parseVersionDoc(body)
	if reason != "" {
		return a, &pollError{url: u, status: a.status, reason: reason}
	}
	a.version = v
	return a, nil
}

// parseVersionDoc reads a Version.json body as feed does, returning a
// reason when it is not acceptable.
func parseVersionDoc(body []byte) (snapshot.Version, string) {
	body = bytes.TrimSpace(bytes.TrimPrefix(body, []byte{0xef, 0xbb, 0xbf}))
	if isMarkup(body) {
		return 0, "body is an HTML or XML page, not JSON"
	}
	// feed.ParseVersion refuses what is not one JSON object; a body that
	// starts with one and goes on is refused here.
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err == nil && fields != nil &&
		len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return 0, "Version.json has trailing data after the JSON object"
	}
	return feed.ParseVersion(body)
}

func isMarkup(body []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(body), []byte("<"))
}

// unwrapURLError drops the "Get URL:" prefix of a *url.Error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
