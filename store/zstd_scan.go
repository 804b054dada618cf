package store

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Opening a zstd store reads its whole journal, and encoding/json spent
// most of that time: a store of 10,000 snapshots took a quarter of a
// second of CPU to list. The scanners below read the lines as the writer
// lays them out (no spaces, members in any order, strings with the usual
// escapes) without reflection. They are a fast path only: anything they
// are not sure of, from a member they do not know to a null, a duplicate
// member, a surrogate escape or a number with a fraction, makes them answer
// ok=false, and the caller reads the line with encoding/json, whose
// reading is the one that counts. A test holds the two to the same
// results on every line the scanners accept.

// jsonScanner reads JSON values from b, starting at i.
type jsonScanner struct {
	b     []byte
	i     int
	depth int // of the objects and arrays the scanner is in
}

// maxScanDepth is the deepest nesting of objects and arrays the scanners
// read: the writer nests four deep. Deeper values are left to
// encoding/json, which refuses them past its own limit; reading them here
// recursively could overflow the stack on a damaged line of brackets.
const maxScanDepth = 16

// enter notes that the scanner goes into an object or array, and says
// whether it may.
func (s *jsonScanner) enter() bool {
	s.depth++
	return s.depth <= maxScanDepth
}

// next consumes c if it comes next.
func (s *jsonScanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string. Strings with surrogate escapes (\ud83d), control
// characters or invalid UTF-8 are refused.
func (s *jsonScanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	plain, ascii := true, true
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			if plain {
				return string(raw), true
			}
			return unescape(raw)
		case c == '\\':
			plain = false
			s.i += 2
		case c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
			s.i++
		default:
			s.i++
		}
	}
	return "", false
}

// unescape decodes the escapes str accepts.
func unescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
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
			// \u0026 and the like, as encoding/json writes &, < and >;
			// surrogates are left to encoding/json.
			if i+4 >= len(raw) {
				return "", false
			}
			r, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", false
			}
			out = utf8.AppendRune(out, rune(r))
			i += 4
		default:
			return "", false
		}
	}
	return string(out), true
}

// int reads an integer without fraction or exponent that fits an int64.
func (s *jsonScanner) int() (int64, bool) {
	start := s.i
	s.next('-')
	digits := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == digits || (s.b[digits] == '0' && s.i-digits > 1) {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	return n, err == nil
}

// object reads an object, calling member for each member with the
// scanner at its value; member reads the value and says whether it could.
// A member named twice is refused.
func (s *jsonScanner) object(member func(key string) bool) bool {
	defer func() { s.depth-- }()
	if !s.enter() || !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen []string
	for {
		key, ok := s.str()
		if !ok || slices.Contains(seen, key) || !s.next(':') || !member(key) {
			return false
		}
		seen = append(seen, key)
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// array reads an array, calling elem for each element.
func (s *jsonScanner) array(elem func() bool) bool {
	defer func() { s.depth-- }()
	if !s.enter() || !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// skip reads any value of objects, arrays, strings and integers, and
// returns its bytes.
func (s *jsonScanner) skip() ([]byte, bool) {
	start := s.i
	var ok bool
	switch {
	case s.i >= len(s.b):
		return nil, false
	case s.b[s.i] == '{':
		ok = s.object(func(string) bool { _, ok := s.skip(); return ok })
	case s.b[s.i] == '[':
		ok = s.array(func() bool { _, ok := s.skip(); return ok })
	case s.b[s.i] == '"':
		_, ok = s.str()
	default:
		_, ok = s.int()
	}
	return s.b[start:s.i], ok
}

// scanZstdLine reads a journal line as json.Unmarshal into a zstdLine
// would, or answers ok=false. If the line's record reads as one of format
// 2, it is kept in the line's scanned, for parseZstdRecord2.
func scanZstdLine(b []byte) (zstdLine, bool) {
	var l zstdLine
	s := &jsonScanner{b: b}
	ok := s.object(func(key string) bool {
		var ok bool
		switch key {
		case "rec":
			// Read the record of format 2 as it goes by, or else just
			// find its end.
			start := s.i
			if l.scanned, ok = s.record2(); !ok {
				s.i = start
				_, ok = s.skip()
			}
			l.Rec = json.RawMessage(b[start:s.i])
		case "end":
			var raw []byte
			raw, ok = s.skip()
			l.End = json.RawMessage(raw)
		case "batch":
			l.Batch, ok = s.int()
		case "crc32c":
			l.CRC32C, ok = s.str()
		}
		return ok
	})
	if !ok || s.i != len(b) || l.Rec == nil && l.End == nil {
		return zstdLine{}, false
	}
	return l, true
}

// scanZstdRecord2 reads a record of format 2 as decodeZstdRecord2 would,
// or answers ok=false.
func scanZstdRecord2(b []byte) (zstdRecord2, []zstdDocument, bool) {
	s := &jsonScanner{b: b}
	rec, ok := s.record2()
	if !ok || s.i != len(b) {
		return zstdRecord2{}, nil, false
	}
	return rec.r, rec.docs, true
}

// scannedRecord is a record of format 2 that scanZstdLine read.
type scannedRecord struct {
	r    zstdRecord2
	docs []zstdDocument
}

// record2 reads a record of format 2 from the scanner.
func (s *jsonScanner) record2() (*scannedRecord, bool) {
	var r zstdRecord2
	var docs []zstdDocument
	optional := func(p **string) bool {
		v, ok := s.str()
		*p = &v
		return ok
	}
	ok := s.object(func(key string) bool {
		var ok bool
		switch key {
		case "seq":
			r.Seq, ok = s.int()
		case "kind":
			r.Kind, ok = s.str()
		case "id":
			r.ID, ok = s.str()
		case "election":
			r.Election, ok = s.str()
		case "version":
			r.Version, ok = s.int()
		case "at":
			r.FetchedAt, ok = s.str()
		case "source":
			ok = optional(&r.Source)
		case "url":
			ok = optional(&r.SourceURL)
		case "time_source":
			ok = optional(&r.TimeSource)
		case "precincts":
			ok = optional(&r.Precincts)
		case "of":
			r.Of, ok = s.str()
		case "reason":
			r.Reason, ok = s.str()
		case "suspect":
			r.Suspect = []string{}
			ok = s.array(func() bool {
				v, ok := s.str()
				r.Suspect = append(r.Suspect, v)
				return ok
			})
		case "files":
			docs = []zstdDocument{}
			ok = s.array(func() bool {
				f, ok := scanZstdDocument(s)
				docs = append(docs, f)
				return ok
			})
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	if len(docs) == 0 {
		docs = nil // as decodeZstdRecord2 leaves an empty list
	}
	return &scannedRecord{r: r, docs: docs}, true
}

// scanZstdDocument reads one document of a record: [name, sha256, size]
// or [name, sha256, size, data].
func scanZstdDocument(s *jsonScanner) (zstdDocument, bool) {
	var f zstdDocument
	n := 0
	ok := s.array(func() bool {
		var ok bool
		switch n {
		case 0:
			f.Name, ok = s.str()
		case 1:
			f.SHA256, ok = s.str()
		case 2:
			f.Size, ok = s.int()
		case 3:
			var data string
			data, ok = s.str()
			f.Inline, f.Data = true, []byte(data)
		}
		n++
		return ok
	})
	return f, ok && n >= 3
}
