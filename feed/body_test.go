package feed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name, body, want string // want "" means acceptable
	}{
		{"object", `{"a":1}`, ""},
		{"array with space", " [1, 2]\r\n", ""},
		{"string", `"x"`, ""},
		{"empty", "", "empty body"},
		{"blank", " \n\t", "empty body"},
		{"html", "<!DOCTYPE html><html><body>Down</body></html>",
			"body is an HTML page, not JSON"},
		{"html no doctype", "\n<HTML><p>x", "body is an HTML page, not JSON"},
		{"xml", `<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>`,
			"body is XML, not JSON: \"<?xml version=\\\"1.0\\\"?><Error><Code>AccessDenied"},
		{"other markup", "<p>hi", "body is markup, not JSON"},
		{"truncated", `{"a":[1,2`, "truncated JSON (unexpected end after 9 bytes)"},
		{"truncated string", `{"a":"xy`, "truncated JSON"},
		{"two values", `{"a":1}{"b":2}`, "two JSON values back to back (the second at byte 7)"},
		{"two values spaced", "[1]\n[2]", "two JSON values back to back (the second at byte 4)"},
		{"trailing", `{"a":1}garbage`, "7 bytes of trailing data after the JSON value"},
		{"trailing number", `{"a":1} 5`, "two JSON values back to back"},
		{"syntax", `{"a":tru}`, "invalid JSON at byte"},
		{"nul", "{\"a\":1}\x00", "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := checkJSON([]byte(tt.body))
			switch {
			case tt.want == "" && bad != nil:
				t.Errorf("checkJSON(%q) = %q, want acceptable", tt.body, bad.reason)
			case tt.want != "" && bad == nil:
				t.Errorf("checkJSON(%q) accepted, want %q", tt.body, tt.want)
			case tt.want != "" && !strings.Contains(bad.reason, tt.want):
				t.Errorf("checkJSON(%q) = %q, want %q", tt.body, bad.reason, tt.want)
			case tt.want != "" && bad.err != ErrBadBody:
				t.Errorf("checkJSON(%q) err = %v, want ErrBadBody", tt.body, bad.err)
			}
		})
	}
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCleanBody(t *testing.T) {
	doc := []byte(`{"a":"\u00e9"}`)
	bom := append([]byte{0xef, 0xbb, 0xbf}, doc...)
	tests := []struct {
		name    string
		body    []byte
		max     int64
		want    []byte
		wantErr error
	}{
		{"plain", doc, 100, doc, nil},
		{"bom", bom, 100, doc, nil},
		{"gzip", gz(t, doc), 100, doc, nil},
		{"gzip with bom", gz(t, bom), 100, doc, nil},
		{"gzip bomb", gz(t, bytes.Repeat([]byte(" "), 1000)), 100, nil, ErrTooLarge},
		{"broken gzip", gz(t, doc)[:12], 100, nil, ErrBadBody},
	}
	for _, tt := range tests {
		got, bad := cleanBody(tt.body, tt.max)
		switch {
		case tt.wantErr == nil && (bad != nil || !bytes.Equal(got, tt.want)):
			t.Errorf("cleanBody(%s) = %q, %v; want %q", tt.name, got, bad, tt.want)
		case tt.wantErr != nil && (bad == nil || bad.err != tt.wantErr):
			t.Errorf("cleanBody(%s) = %v, want %v", tt.name, bad, tt.wantErr)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"7", 7 * time.Second},
		{" 2 ", 2 * time.Second},
		{"99999999999", 24 * time.Hour},
		{"Tue, 05 Nov 2024 20:00:30 GMT", 30 * time.Second},
		{"Tue, 05 Nov 2024 19:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.in, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	c, err := New("http://127.0.0.1:1/", Options{Backoff: 100 * time.Millisecond,
		MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{4, 500 * time.Millisecond, time.Second},
		{60, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if got := c.backoff(tt.attempt); got < tt.min || got > tt.max {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, got, tt.min, tt.max)
			}
		}
	}
}

func TestErrorText(t *testing.T) {
	u := "http://127.0.0.1:40211/election/80/13392/Electiondata.json"
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Method: "GET", URL: u, Status: 200, Reason: "body is an HTML page, not JSON"},
			"GET " + u + ": HTTP 200: body is an HTML page, not JSON"},
		{&Error{Method: "GET", URL: u, Reason: "no answer within 30s"},
			"GET " + u + ": no answer within 30s"},
		{&Error{Method: "GET", URL: u, Status: 502}, "GET " + u + ": HTTP 502: Bad Gateway"},
		{&Error{Method: "GET", URL: u, Err: errors.New("boom\nagain")},
			"GET " + u + ": boom again"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	notFound := &Error{Method: "GET", URL: u, Status: http.StatusNotFound}
	if !errors.Is(notFound, ErrNotFound) || errors.Is(tests[2].err, ErrNotFound) {
		t.Errorf("errors.Is(ErrNotFound) does not follow the status")
	}
}
