// Package feed fetches documents from Connecticut's election night
// reporting API: the election list, an election's current version, and
// consistent snapshots of an election's documents.
//
// Every request has a time limit, a body size limit and bounded retries
// with exponential backoff. A body must be exactly one JSON value; a UTF-8
// byte order mark is dropped and a gzip body sent without
// Content-Encoding is decompressed, but HTML pages, XML error pages,
// truncated or doubled JSON and trailing bytes are errors (*Error).
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the live API. Tests and replays use a local server.
const DefaultBaseURL = "https://ctemspublic.pcctg.net/ng-app/data/"

// ToolVersion is the ctrunner version named in the default User-Agent.
// The command sets it at start-up.
var ToolVersion = "dev"

// DefaultUserAgent returns the User-Agent sent when Options.UserAgent is
// empty: "ctrunner/<ToolVersion> (+election results archiver)".
func DefaultUserAgent() string {
	return "ctrunner/" + ToolVersion + " (+election results archiver)"
}

// Defaults for the zero fields of Options.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxBytes       = 64 << 20
	DefaultRetries        = 4
	DefaultBackoff        = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryAfter  = 2 * time.Minute
	DefaultVersionRetries = 3
)

// Options tunes a Client. Zero fields take the defaults above.
type Options struct {
	// UserAgent is sent with every request; see DefaultUserAgent.
	UserAgent string
	// Timeout bounds one request, reading the body included.
	Timeout time.Duration
	// MaxBytes bounds a body; a longer one is an error, never truncated.
	MaxBytes int64
	// Retries is how many times a failed request is tried again after a
	// network error, a timeout, HTTP 429 or 5xx, or a body that is not
	// one JSON value (the API's files are rewritten in place, so a read
	// can catch one half written). Negative means never.
	Retries int
	// Backoff is the first wait before a retry; it doubles each time, up
	// to MaxBackoff, with random jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter caps the wait a server can ask for with Retry-After.
	MaxRetryAfter time.Duration
	// VersionRetries is how many times Election starts over when the
	// version moves during a fetch. Negative means never.
	VersionRetries int
	// HTTPClient makes the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Log, if set, gets one line for each retry, suitable for stderr.
	Log func(msg string)
}

// Client talks to one API base URL. It is safe for concurrent use.
type Client struct {
	base string // with a trailing slash
	opts Options
}

// New returns a client for the API at baseURL, which must be an http or
// https URL; a missing trailing slash is added.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("API base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API base URL %q: want an http:// or https:// URL", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("API base URL %q: must not have a query or fragment", baseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent()
	}
	setDefault(&opts.Timeout, DefaultTimeout)
	setDefault(&opts.MaxBytes, DefaultMaxBytes)
	setDefault(&opts.Retries, DefaultRetries)
	setDefault(&opts.Backoff, DefaultBackoff)
	setDefault(&opts.MaxBackoff, DefaultMaxBackoff)
	setDefault(&opts.MaxRetryAfter, DefaultMaxRetryAfter)
	setDefault(&opts.VersionRetries, DefaultVersionRetries)
	opts.Retries = max(opts.Retries, 0)
	opts.VersionRetries = max(opts.VersionRetries, 0)
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{CheckRedirect: sameHostRedirect}
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	return &Client{base: u.String(), opts: opts}, nil
}

// sameHostRedirect follows a redirect only to the host of the original
// request, so that a misconfigured server cannot send the client
// elsewhere.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("refusing redirect to another host (%s)", req.URL.Host)
	}
	return nil
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// BaseURL returns the API base URL, with its trailing slash.
func (c *Client) BaseURL() string { return c.base }

// get fetches base+path, retrying as Options say, and returns the checked
// body.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	u := c.base + path
	for attempt := 0; ; attempt++ {
		body, ferr := c.try(ctx, u)
		if ferr == nil {
			return body, nil
		}
		if !ferr.retry || attempt >= c.opts.Retries || ctx.Err() != nil {
			return nil, ferr
		}
		wait := c.backoff(attempt)
		if ferr.retryAfter > 0 {
			wait = min(ferr.retryAfter, c.opts.MaxRetryAfter)
		}
		c.opts.Log(fmt.Sprintf("retrying in %s (attempt %d of %d): %v",
			wait.Round(time.Millisecond), attempt+2, c.opts.Retries+1, ferr))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &Error{Method: http.MethodGet, URL: u, Status: ferr.Status,
				Reason: fmt.Sprintf("%s, then %v while waiting to retry", ferr.Reason, ctx.Err()),
				Err:    ctx.Err()}
		case <-t.C:
		}
	}
}

// backoff returns the wait before retry number attempt+1: the base
// doubled per attempt, capped, and drawn at random from its upper half.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.Backoff
	for i := 0; i < attempt && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// errorBodyBytes is how much of an error answer's body is read.
const errorBodyBytes = 4096

// try makes one request.
func (c *Client) try(ctx context.Context, u string) ([]byte, *Error) {
	ferr := &Error{Method: http.MethodGet, URL: u}
	reqCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u, nil)
	if err != nil {
		ferr.Reason, ferr.Err = "building request: "+err.Error(), err
		return nil, ferr
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "application/json")

	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, ferr, err, "no answer")
	}
	defer resp.Body.Close()
	ferr.Status = resp.StatusCode

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Only the start of an error page is worth reading.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyBytes))
		ferr.Reason = http.StatusText(resp.StatusCode)
		if text := strings.TrimSpace(string(body)); text != "" && text != ferr.Reason {
			ferr.Reason = strings.TrimSpace(ferr.Reason + " " + describeErrorBody(body))
		}
		ferr.retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		ferr.retryAfter = RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return nil, ferr
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBytes+1))
	if err != nil {
		return nil, c.transportError(ctx, ferr, err, "body not complete")
	}
	if int64(len(body)) > c.opts.MaxBytes {
		ferr.Reason = fmt.Sprintf("body larger than %d bytes", c.opts.MaxBytes)
		ferr.Err = ErrTooLarge
		return nil, ferr
	}

	body, bad := cleanBody(body, c.opts.MaxBytes)
	if bad == nil {
		bad = checkJSON(body)
	}
	if bad != nil {
		ferr.Reason, ferr.Err = bad.reason, bad.err
		ferr.retry = bad.err == ErrBadBody
		return nil, ferr
	}
	return body, nil
}

// transportError fills ferr for an error from the transport or from
// reading the body, telling a timeout from a cancellation by the caller.
func (c *Client) transportError(ctx context.Context, ferr *Error, err error,
	what string) *Error {
	switch {
	case ctx.Err() != nil:
		ferr.Reason, ferr.Err = "canceled: "+ctx.Err().Error(), ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		ferr.Reason = fmt.Sprintf("%s within %s", what, c.opts.Timeout)
		ferr.Err = fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
		ferr.retry = true
	default:
		ferr.Reason = fmt.Sprintf("%s: %v", what, unwrapURLError(err))
		ferr.Err = err
		ferr.retry = true
	}
	return ferr
}

// unwrapURLError drops the "Get URL:" prefix that *url.Error adds, since
// Error names the URL already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// describeErrorBody summarises the body of an error answer.
func describeErrorBody(body []byte) string {
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "<") {
		return "(" + describeMarkup([]byte(trimmed)) + ")"
	}
	return "(body " + excerpt([]byte(trimmed), 120) + ")"
}

// RetryAfter reads a Retry-After header: seconds (at most a day) or an
// HTTP date. It returns 0 when the header is absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
