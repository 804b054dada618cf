package legacy

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"ctrunner/snapshot"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
// Real documents nest six levels deep.
const maxDepth = 1000

// Wrap renders the raw.json wrapper exactly as the legacy tool wrote it:
// Python's json.dumps(obj, indent=2) with default settings, applied to
// {"version": version, "ElectionData": ..., "LookupData": ...}. So, as
// Python does:
//
//   - every character outside printable ASCII is escaped as \uXXXX in
//     lowercase hex, above U+FFFF as a surrogate pair; \" \\ \n \r \t \b \f
//     use their short forms; "\/" becomes "/";
//   - members are separated by "," and a new line, keys from values by
//     ": "; empty objects and arrays are {} and [];
//   - key order is kept; integers are written as given (except -0, which
//     Python reads as 0); other numbers as Python's repr of the float;
//   - there is no trailing new line.
//
// Invalid UTF-8 inside strings becomes U+FFFD, as Go's JSON decoder reads
// it. Duplicate keys are kept as they are (Python would keep only the last
// value), since the API does not send them. Both documents must be JSON
// objects.
func Wrap(version snapshot.Version, electionData, lookupData []byte) ([]byte, error) {
	w := &pyWriter{}
	w.out.grow(len(electionData)*2 + len(lookupData)*2 + 64)
	w.out.writeString("{\n  \"version\": ")
	w.out.writeString(strconv.FormatInt(int64(version), 10))
	for _, doc := range []struct {
		key  string
		data []byte
	}{{keyElectionData, electionData}, {keyLookupData, lookupData}} {
		w.out.writeString(",\n  \"")
		w.out.writeString(doc.key)
		w.out.writeString("\": ")
		if err := w.document(doc.data); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", doc.key, err)
		}
	}
	w.out.writeString("\n}")
	return w.out.bytes(), nil
}

// pyWriter re-renders JSON in the layout of Python's json.dumps(indent=2)
// in one pass over the input. With out.discard set it only checks the
// syntax, as strictly as encoding/json.
type pyWriter struct {
	in  []byte
	pos int
	out sink
}

// sink collects output unless discard is set.
type sink struct {
	buf     []byte
	discard bool
}

func (s *sink) grow(n int) { s.buf = make([]byte, 0, n) }

func (s *sink) bytes() []byte { return s.buf }

func (s *sink) writeByte(c byte) {
	if !s.discard {
		s.buf = append(s.buf, c)
	}
}

func (s *sink) writeString(str string) {
	if !s.discard {
		s.buf = append(s.buf, str...)
	}
}

func (s *sink) write(b []byte) {
	if !s.discard {
		s.buf = append(s.buf, b...)
	}
}

// document renders one complete JSON object nested one level deep.
func (w *pyWriter) document(data []byte) error {
	w.in, w.pos = data, 0
	w.skipSpace()
	if w.pos >= len(w.in) || w.in[w.pos] != '{' {
		return w.errorf("not a JSON object")
	}
	if err := w.value(2); err != nil {
		return err
	}
	w.skipSpace()
	if w.pos != len(w.in) {
		return w.errorf("data after the end of the object")
	}
	return nil
}

func (w *pyWriter) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", w.pos, fmt.Sprintf(format, args...))
}

func (w *pyWriter) skipSpace() {
	for w.pos < len(w.in) {
		switch w.in[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *pyWriter) newline(depth int) {
	w.out.writeByte('\n')
	for i := 0; i < depth; i++ {
		w.out.writeString("  ")
	}
}

// value renders the value at w.pos; the members of an object or array
// are indented depth levels, its closing bracket depth-1.
func (w *pyWriter) value(depth int) error {
	if depth > maxDepth {
		return w.errorf("nested more than %d levels deep", maxDepth)
	}
	w.skipSpace()
	if w.pos >= len(w.in) {
		return w.errorf("unexpected end of input")
	}
	switch c := w.in[w.pos]; {
	case c == '{':
		return w.container(depth, '}', true)
	case c == '[':
		return w.container(depth, ']', false)
	case c == '"':
		return w.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return w.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(w.in[w.pos:], []byte(lit)) {
				w.out.writeString(lit)
				w.pos += len(lit)
				return nil
			}
		}
		return w.errorf("unexpected character %q", c)
	}
}

// container renders an object (isObject) or an array starting at w.pos.
func (w *pyWriter) container(depth int, closer byte, isObject bool) error {
	w.out.writeByte(w.in[w.pos])
	w.pos++
	w.skipSpace()
	if w.pos < len(w.in) && w.in[w.pos] == closer {
		w.out.writeByte(closer)
		w.pos++
		return nil
	}
	for first := true; ; first = false {
		if !first {
			w.out.writeByte(',')
		}
		w.newline(depth)
		if isObject {
			w.skipSpace()
			if w.pos >= len(w.in) || w.in[w.pos] != '"' {
				return w.errorf("expected an object key")
			}
			if err := w.str(); err != nil {
				return err
			}
			w.skipSpace()
			if w.pos >= len(w.in) || w.in[w.pos] != ':' {
				return w.errorf("expected ':' after an object key")
			}
			w.pos++
			w.out.writeString(": ")
		}
		if err := w.value(depth + 1); err != nil {
			return err
		}
		w.skipSpace()
		if w.pos >= len(w.in) {
			return w.errorf("unexpected end of input")
		}
		switch w.in[w.pos] {
		case ',':
			w.pos++
		case closer:
			w.pos++
			w.newline(depth - 1)
			w.out.writeByte(closer)
			return nil
		default:
			return w.errorf("expected ',' or %q", closer)
		}
	}
}

const hexDigits = "0123456789abcdef"

// str renders the string starting at w.pos with Python's ASCII escaping.
func (w *pyWriter) str() error {
	w.pos++ // opening quote
	w.out.writeByte('"')
	for {
		// Copy the run of characters that need no escaping in one go.
		start := w.pos
		for w.pos < len(w.in) {
			c := w.in[w.pos]
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				break
			}
			w.pos++
		}
		w.out.write(w.in[start:w.pos])
		if w.pos >= len(w.in) {
			return w.errorf("unterminated string")
		}
		switch c := w.in[w.pos]; {
		case c == '"':
			w.pos++
			w.out.writeByte('"')
			return nil
		case c == '\\':
			if err := w.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return w.errorf("control character %#02x inside a string", c)
		default: // 0x7f or the start of a UTF-8 sequence
			r, size := utf8.DecodeRune(w.in[w.pos:])
			w.pos += size
			w.writeRune(r)
		}
	}
}

// escape renders the escape sequence at w.pos, as the character it stands
// for would be escaped by Python.
func (w *pyWriter) escape() error {
	if w.pos+1 >= len(w.in) {
		return w.errorf("unterminated string")
	}
	c := w.in[w.pos+1]
	w.pos += 2
	switch c {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		w.out.writeByte('\\')
		w.out.writeByte(c)
	case '/':
		w.out.writeByte('/')
	case 'u':
		if w.pos+4 > len(w.in) {
			return w.errorf("short \\u escape")
		}
		u, err := strconv.ParseUint(string(w.in[w.pos:w.pos+4]), 16, 16)
		if err != nil {
			return w.errorf("bad \\u escape %q", w.in[w.pos:w.pos+4])
		}
		w.pos += 4
		// Python joins a surrogate pair into one character and splits it
		// again on output, so each UTF-16 unit maps to itself; a lone
		// surrogate is kept as well.
		w.writeUnit(uint16(u))
	default:
		return w.errorf("bad escape \\%c", c)
	}
	return nil
}

func (w *pyWriter) writeRune(r rune) {
	if r > 0xffff {
		hi, lo := utf16.EncodeRune(r)
		w.writeUnit(uint16(hi))
		w.writeUnit(uint16(lo))
		return
	}
	w.writeUnit(uint16(r))
}

// writeUnit writes one UTF-16 code unit the way Python's ensure_ascii
// encoder does.
func (w *pyWriter) writeUnit(u uint16) {
	switch {
	case u == '"' || u == '\\':
		w.out.writeByte('\\')
		w.out.writeByte(byte(u))
	case u >= 0x20 && u <= 0x7e:
		w.out.writeByte(byte(u))
	case u == '\b':
		w.out.writeString(`\b`)
	case u == '\f':
		w.out.writeString(`\f`)
	case u == '\n':
		w.out.writeString(`\n`)
	case u == '\r':
		w.out.writeString(`\r`)
	case u == '\t':
		w.out.writeString(`\t`)
	default:
		w.out.write([]byte{'\\', 'u',
			hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf]})
	}
}

// number renders the JSON number at w.pos as Python would: integers as
// written, anything with a fraction or exponent as the repr of a float.
func (w *pyWriter) number() error {
	start := w.pos
	isFloat := false
	if w.in[w.pos] == '-' {
		w.pos++
	}
	switch {
	case w.pos < len(w.in) && w.in[w.pos] == '0':
		w.pos++
	case w.pos < len(w.in) && w.in[w.pos] >= '1' && w.in[w.pos] <= '9':
		w.digits()
	default:
		return w.errorf("malformed number")
	}
	if w.pos < len(w.in) && w.in[w.pos] == '.' {
		isFloat = true
		w.pos++
		if w.digits() == 0 {
			return w.errorf("malformed number")
		}
	}
	if w.pos < len(w.in) && (w.in[w.pos] == 'e' || w.in[w.pos] == 'E') {
		isFloat = true
		w.pos++
		if w.pos < len(w.in) && (w.in[w.pos] == '+' || w.in[w.pos] == '-') {
			w.pos++
		}
		if w.digits() == 0 {
			return w.errorf("malformed number")
		}
	}
	if w.out.discard {
		return nil
	}
	text := string(w.in[start:w.pos])
	switch {
	case !isFloat && text == "-0":
		w.out.writeByte('0')
	case !isFloat:
		w.out.writeString(text)
	default:
		w.out.writeString(pythonFloat(text))
	}
	return nil
}

func (w *pyWriter) digits() int {
	n := 0
	for w.pos < len(w.in) && w.in[w.pos] >= '0' && w.in[w.pos] <= '9' {
		w.pos++
		n++
	}
	return n
}

// pythonFloat returns repr(float(text)) as Python 3 prints it, and what
// json.dumps writes for an overflowing number.
func pythonFloat(text string) string {
	f, _ := strconv.ParseFloat(text, 64) // syntax checked by the caller
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}

	// Shortest round-tripping digits, then Python's layout rule: plain
	// notation when the decimal point falls within 16 places, else an
	// exponent of at least two digits.
	sci := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-1.2345e+06"
	sign := ""
	if sci[0] == '-' {
		sign, sci = "-", sci[1:]
	}
	mant, expText, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	point := exp + 1 // digits[:point] come before the decimal point

	var b strings.Builder
	b.WriteString(sign)
	switch {
	case point <= -4 || point > 16:
		b.WriteByte(digits[0])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if exp < 0 {
			b.WriteByte('-')
			exp = -exp
		} else {
			b.WriteByte('+')
		}
		if exp < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(exp))
	case point <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -point))
		b.WriteString(digits)
	case point >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", point-len(digits)))
		b.WriteString(".0")
	default:
		b.WriteString(digits[:point])
		b.WriteByte('.')
		b.WriteString(digits[point:])
	}
	return b.String()
}
