package feed

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors that an *Error can match with errors.Is.
var (
	// ErrNotFound matches an HTTP 404 answer.
	ErrNotFound = errors.New("not found")
	// ErrBadBody matches a body that is not exactly one JSON value of the
	// expected shape.
	ErrBadBody = errors.New("bad response body")
	// ErrTooLarge matches a body longer than Options.MaxBytes.
	ErrTooLarge = errors.New("response body too large")
	// ErrTimeout matches a request that got no complete answer within
	// Options.Timeout. Such errors also match context.DeadlineExceeded.
	ErrTimeout = errors.New("request timed out")
	// ErrVersionMoving is returned by Election when the election's version
	// changed during every attempt.
	ErrVersionMoving = errors.New("version kept moving")
)

// Error is a failed request: the URL, the HTTP status when one was
// received, and what was wrong.
type Error struct {
	Method string
	URL    string
	// Status is the HTTP status code, or 0 when no answer came.
	Status int
	// Reason says what was wrong, in a few words.
	Reason string
	// Err is the underlying error, if any.
	Err error

	retry      bool          // whether another attempt may succeed
	retryAfter time.Duration // the server's Retry-After, if any
}

// Error returns one line: method, URL, status and reason.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	switch {
	case e.Reason != "":
		b.WriteString(e.Reason)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(http.StatusText(e.Status))
	}
	return oneLine(b.String())
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether the error is an HTTP 404 when target is ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// oneLine replaces control characters so that an error stays on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// excerpt returns the start of body as printable text for an error
// message.
func excerpt(body []byte, n int) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body[:min(n, len(body))]),
		"?")), " ")
	if len(body) > n {
		s += "…"
	}
	return fmt.Sprintf("%q", s)
}
