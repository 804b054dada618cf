package feed

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// badBody is why a body is not acceptable; err is ErrBadBody or
// ErrTooLarge.
type badBody struct {
	reason string
	err    error
}

// cleanBody undoes the harmless oddities a server may add: a gzip stream
// sent without Content-Encoding is decompressed (within maxBytes) and a
// UTF-8 byte order mark is dropped.
func cleanBody(body []byte, maxBytes int64) ([]byte, *badBody) {
	if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, &badBody{reason: "broken gzip body: " + err.Error(), err: ErrBadBody}
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxBytes+1))
		if err != nil {
			return nil, &badBody{reason: "broken gzip body: " + err.Error(), err: ErrBadBody}
		}
		if int64(len(plain)) > maxBytes {
			return nil, &badBody{
				reason: fmt.Sprintf("gzip body inflates to more than %d bytes", maxBytes),
				err:    ErrTooLarge,
			}
		}
		body = plain
	}
	return bytes.TrimPrefix(body, utf8BOM), nil
}

// checkJSON checks that body is exactly one complete JSON value, allowing
// white space around it.
func checkJSON(body []byte) *badBody {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return &badBody{reason: "empty body", err: ErrBadBody}
	}
	if trimmed[0] == '<' {
		return &badBody{reason: describeMarkup(trimmed), err: ErrBadBody}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var value json.RawMessage
	if err := dec.Decode(&value); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &badBody{
				reason: fmt.Sprintf("truncated JSON (unexpected end after %d bytes)", len(body)),
				err:    ErrBadBody,
			}
		case errors.As(err, &syntax):
			return &badBody{
				reason: fmt.Sprintf("invalid JSON at byte %d: %v; body starts %s",
					syntax.Offset, err, excerpt(trimmed, 40)),
				err: ErrBadBody,
			}
		default:
			return &badBody{reason: "invalid JSON: " + err.Error(), err: ErrBadBody}
		}
	}
	end := dec.InputOffset()
	rest := bytes.TrimSpace(body[end:])
	if len(rest) == 0 {
		return nil
	}
	if json.Valid(rest) || rest[0] == '{' || rest[0] == '[' {
		return &badBody{
			reason: fmt.Sprintf("two JSON values back to back (the second at byte %d)",
				int(end)+bytes.Index(body[end:], rest[:1])),
			err: ErrBadBody,
		}
	}
	return &badBody{
		reason: fmt.Sprintf("%d bytes of trailing data after the JSON value: %s",
			len(rest), excerpt(rest, 40)),
		err: ErrBadBody,
	}
}

// describeMarkup says what kind of markup a body starting with '<' is.
func describeMarkup(body []byte) string {
	head := bytes.ToLower(body[:min(len(body), 512)])
	switch {
	case bytes.Contains(head, []byte("<html")) || bytes.Contains(head, []byte("<!doctype html")):
		return "body is an HTML page, not JSON"
	case bytes.HasPrefix(head, []byte("<?xml")) || bytes.Contains(head, []byte("<error")):
		return "body is XML, not JSON: " + excerpt(body, 160)
	default:
		return "body is markup, not JSON: " + excerpt(body, 80)
	}
}
