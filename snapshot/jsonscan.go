package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON reader behind the document decoders. It
// reads straight from the byte slice in one pass, keeps object key order,
// and reports type mismatches with the path of the offending value, which
// encoding/json cannot do without decoding everything twice.

// maxDepth bounds the nesting of values skipped or kept raw, so that hostile
// input cannot exhaust the stack.
const maxDepth = 10000

// utf8BOM is the byte order mark some servers put before a JSON document.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decoder reads one JSON document from a byte slice.
type decoder struct {
	data []byte
	pos  int
}

// newDecoder returns a decoder over data with any UTF-8 byte order mark
// skipped.
func newDecoder(data []byte) *decoder {
	return &decoder{data: bytes.TrimPrefix(data, utf8BOM)}
}

// decodeError is a decoding failure with the path of the value it is about.
type decodeError struct {
	path []string // innermost segment first
	msg  string
}

func (e *decodeError) Error() string {
	if len(e.path) == 0 {
		return e.msg
	}
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		seg := e.path[i]
		if b.Len() > 0 && !strings.HasPrefix(seg, "[") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	b.WriteString(": ")
	b.WriteString(e.msg)
	return b.String()
}

// within adds seg in front of the path of err when err is a decodeError.
func within(err error, seg string) error {
	if de, ok := err.(*decodeError); ok {
		de.path = append(de.path, seg)
	}
	return err
}

// missing reports a required field that a document lacks.
func missing(field string) error {
	return &decodeError{path: []string{field}, msg: "required field is missing"}
}

// syntaxError reports malformed JSON at offset off.
func (d *decoder) syntaxError(off int, what string) error {
	if off > len(d.data) {
		off = len(d.data)
	}
	line := 1 + bytes.Count(d.data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(d.data[:off], '\n')
	return &decodeError{msg: fmt.Sprintf("invalid JSON at line %d, column %d (offset %d): %s",
		line, col, off, what)}
}

// unexpected reports the byte at the current position as a syntax error.
func (d *decoder) unexpected(context string) error {
	if d.pos >= len(d.data) {
		return d.syntaxError(d.pos, "unexpected end of input "+context)
	}
	return d.syntaxError(d.pos, fmt.Sprintf("unexpected %q %s", d.data[d.pos], context))
}

// expected reports a value of the wrong kind at the current position.
func (d *decoder) expected(want string) error {
	if d.pos >= len(d.data) {
		return d.syntaxError(d.pos, "unexpected end of input, expected "+want)
	}
	return &decodeError{msg: "expected " + want + ", found " + kindName(d.data[d.pos])}
}

// kindName names the kind of JSON value starting with c.
func kindName(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return fmt.Sprintf("%q", c)
}

// skipSpace moves past JSON white space and returns the next byte, or 0 at
// the end of the input (a NUL byte in the input also gives 0; callers that
// must tell them apart check d.pos).
func (d *decoder) skipSpace() byte {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return c
		}
	}
	return 0
}

// end checks that nothing but white space follows the document.
func (d *decoder) end() error {
	if d.skipSpace(); d.pos < len(d.data) {
		return d.syntaxError(d.pos, "unexpected data after the JSON value")
	}
	return nil
}

// object calls member once per member of the object at the current
// position, in document order, with the decoder at the member's value;
// member must consume that value. A null counts as an empty object. Errors
// from member get the key added to their path.
func (d *decoder) object(member func(key string) error) error {
	if d.skipSpace() == 'n' {
		return d.null()
	}
	return d.objectNotNull(member)
}

// objectNotNull is object without the null case.
func (d *decoder) objectNotNull(member func(key string) error) error {
	if d.skipSpace() != '{' {
		return d.expected("an object")
	}
	d.pos++
	if d.skipSpace() == '}' {
		d.pos++
		return nil
	}
	for {
		if d.skipSpace() != '"' {
			return d.unexpected("where an object key should be")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.skipSpace() != ':' {
			return d.unexpected("after an object key")
		}
		d.pos++
		if err := member(key); err != nil {
			return within(err, key)
		}
		switch d.skipSpace() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.unexpected("after an object member")
		}
	}
}

// array calls elem once per element of the array at the current position,
// with the decoder at the element; elem must consume it. A null counts as
// an empty array. Errors from elem get the index added to their path.
func (d *decoder) array(elem func() error) error {
	switch d.skipSpace() {
	case 'n':
		return d.null()
	case '[':
	default:
		return d.expected("an array")
	}
	d.pos++
	if d.skipSpace() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(); err != nil {
			return within(err, fmt.Sprintf("[%d]", i))
		}
		switch d.skipSpace() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.unexpected("after an array element")
		}
	}
}

// null consumes a JSON null.
func (d *decoder) null() error {
	return d.literal("null")
}

// literal consumes the literal word.
func (d *decoder) literal(word string) error {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(word)) {
		return d.unexpected("in a literal")
	}
	d.pos += len(word)
	return nil
}

// scalar reads a value that should be a string and returns its text: the
// contents of a string, the digits of a number, "true" or "false", "" for
// null. Anything else is kept as its raw JSON text rather than refused, so
// that an odd leaf never makes a whole document unreadable.
func (d *decoder) scalar() (string, error) {
	switch c := d.skipSpace(); {
	case c == '"':
		return d.str()
	case c == 'n':
		return "", d.null()
	case c == 't':
		return "true", d.literal("true")
	case c == 'f':
		return "false", d.literal("false")
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.pos
		err := d.number()
		return string(d.data[start:d.pos]), err
	}
	raw, err := d.raw()
	return string(raw), err
}

// str reads a JSON string at the current position. Unescaped control
// characters and invalid UTF-8 are kept as they are.
func (d *decoder) str() (string, error) {
	start := d.pos + 1
	n := bytes.IndexByte(d.data[start:], '"')
	if n < 0 {
		return "", d.syntaxError(len(d.data), "unterminated string")
	}
	body := d.data[start : start+n]
	if bytes.IndexByte(body, '\\') < 0 {
		d.pos = start + n + 1
		return string(body), nil
	}
	return d.strEscaped(start)
}

// strEscaped reads the rest of a string that holds escapes, from start.
func (d *decoder) strEscaped(start int) (string, error) {
	out := make([]byte, 0, 64)
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(out), nil
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			break
		}
		switch e := d.data[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, size, ok := d.unicodeEscape(i)
			if !ok {
				return "", d.syntaxError(i, "invalid \\u escape in a string")
			}
			out = utf8.AppendRune(out, r)
			i += size
			continue
		default:
			return "", d.syntaxError(i, fmt.Sprintf("invalid escape: %q after a backslash", e))
		}
		i += 2
	}
	return "", d.syntaxError(len(d.data), "unterminated string")
}

// unicodeEscape decodes the \uXXXX escape at i, joining a surrogate pair
// when one follows; a lone surrogate becomes U+FFFD. It returns the rune
// and how many bytes it took.
func (d *decoder) unicodeEscape(i int) (rune, int, bool) {
	r, ok := hex4(d.data, i+2)
	if !ok {
		return 0, 0, false
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, true
	}
	if i+7 < len(d.data) && d.data[i+6] == '\\' && d.data[i+7] == 'u' {
		if r2, ok := hex4(d.data, i+8); ok {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, 12, true
			}
		}
	}
	return utf8.RuneError, 6, true
}

// hex4 reads four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number consumes a JSON number.
func (d *decoder) number() error {
	i := d.pos
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] == '0':
		i++
	case i < len(d.data) && d.data[i] >= '1' && d.data[i] <= '9':
		i = skipDigits(d.data, i)
	default:
		return d.syntaxError(i, "invalid number")
	}
	if i < len(d.data) && d.data[i] == '.' {
		j := skipDigits(d.data, i+1)
		if j == i+1 {
			return d.syntaxError(j, "invalid number")
		}
		i = j
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		j := skipDigits(d.data, i)
		if j == i {
			return d.syntaxError(j, "invalid number")
		}
		i = j
	}
	d.pos = i
	return nil
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// raw consumes any JSON value and returns its bytes, checking its syntax.
func (d *decoder) raw() (json.RawMessage, error) {
	d.skipSpace()
	start := d.pos
	if err := d.skip(0); err != nil {
		return nil, err
	}
	return d.data[start:d.pos], nil
}

// skip consumes any JSON value nested depth levels deep, allocating
// nothing unless the value is malformed.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return d.syntaxError(d.pos, "values nested too deeply")
	}
	switch c := d.skipSpace(); {
	case c == '{':
		return d.skipContainer(depth, '}')
	case c == '[':
		return d.skipContainer(depth, ']')
	case c == '"':
		return d.skipString()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.null()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return d.unexpected("where a value should be")
}

// skipContainer consumes the object or array at the current position,
// which closes with the byte end.
func (d *decoder) skipContainer(depth int, end byte) error {
	d.pos++
	if d.skipSpace() == end {
		d.pos++
		return nil
	}
	for {
		if end == '}' {
			if d.skipSpace() != '"' {
				return d.unexpected("where an object key should be")
			}
			if err := d.skipString(); err != nil {
				return err
			}
			if d.skipSpace() != ':' {
				return d.unexpected("after an object key")
			}
			d.pos++
		}
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		switch c := d.skipSpace(); {
		case c == ',':
			d.pos++
		case c == end:
			d.pos++
			return nil
		default:
			return d.unexpected("after a member or element")
		}
	}
}

// skipString consumes a string without building it, checking its escapes.
func (d *decoder) skipString() error {
	i := d.pos + 1
	for {
		q := bytes.IndexByte(d.data[i:], '"')
		if q < 0 {
			return d.syntaxError(len(d.data), "unterminated string")
		}
		bs := bytes.IndexByte(d.data[i:i+q], '\\')
		if bs < 0 {
			d.pos = i + q + 1
			return nil
		}
		i += bs
		if i+1 >= len(d.data) {
			return d.syntaxError(len(d.data), "unterminated string")
		}
		switch e := d.data[i+1]; e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if _, ok := hex4(d.data, i+2); !ok {
				return d.syntaxError(i, "invalid \\u escape in a string")
			}
			i += 6
		default:
			return d.syntaxError(i, fmt.Sprintf("invalid escape: %q after a backslash", e))
		}
	}
}

// extra keeps the value at the current position, a member the decoders do
// not know, under key in o. The bytes are copied.
func (d *decoder) extra(o *Ordered[string, json.RawMessage], key string) error {
	raw, err := d.raw()
	if err != nil {
		return err
	}
	o.Set(key, bytes.Clone(raw))
	return nil
}
