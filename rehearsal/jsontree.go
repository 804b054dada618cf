package rehearsal

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// node is one JSON value of a document, kept so that it can be written
// back exactly: objects keep their members in order (duplicates included),
// and scalars keep their text as found. The simulation changes the text of
// some scalars and hides some members, then encodes the tree again.
type node struct {
	kind    byte     // '{' object, '[' array, 0 scalar
	raw     []byte   // a scalar's JSON text: `"730"`, `true`, `12`
	members []member // an object's members, in document order
	items   []*node  // an array's items
	owned   bool     // raw is the node's own buffer, not part of the input
}

// member is one key and value of an object.
type member struct {
	key    string // the decoded key
	rawKey []byte // the key's JSON text, quotes included
	value  *node
	hidden bool // left out when encoding (a town that has not reported)
}

// get returns the value of the first member named key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != '{' {
		return nil
	}
	for i := range n.members {
		if n.members[i].key == key {
			return n.members[i].value
		}
	}
	return nil
}

// isString reports whether the node is a JSON string.
func (n *node) isString() bool {
	return n != nil && n.kind == 0 && len(n.raw) > 0 && n.raw[0] == '"'
}

// text returns a scalar's value as text: a string unquoted, anything else
// as written. It is "" for objects, arrays and nil.
func (n *node) text() string {
	if n == nil || n.kind != 0 {
		return ""
	}
	if !n.isString() {
		return string(n.raw)
	}
	return unquote(n.raw)
}

// setString replaces a scalar's value by the string s, which must need no
// escaping (the simulation writes only digits, punctuation and letters).
func (n *node) setString(s string) {
	var b []byte
	if n.owned {
		b = n.raw[:0]
	}
	b = append(b, '"')
	b = append(b, s...)
	n.raw, n.owned = append(b, '"'), true
}

// setText replaces a scalar's value by s, as a string when the scalar was a
// string and as bare JSON text (a number, a boolean) otherwise.
func (n *node) setText(s string) {
	if n.isString() {
		n.setString(s)
		return
	}
	var b []byte
	if n.owned {
		b = n.raw[:0]
	}
	n.raw, n.owned = append(b, s...), true
}

// setRaw replaces a scalar's JSON text by raw, which the node may share.
func (n *node) setRaw(raw []byte) {
	n.raw, n.owned = raw, false
}

// unquote decodes a JSON string literal; text without escapes is sliced.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return string(inner)
			}
			return s
		}
	}
	return string(inner)
}

// parseTree reads one JSON document into a tree. It is strict enough for
// documents that already passed snapshot's decoders; it reports the offset
// of anything it cannot read.
func parseTree(data []byte) (*node, error) {
	p := &treeParser{data: data}
	p.space()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.data) {
		return nil, p.errorf("unexpected data after the document")
	}
	return n, nil
}

type treeParser struct {
	data []byte
	pos  int
}

// maxDepth bounds nesting; the API's documents nest six levels deep.
const maxDepth = 200

func (p *treeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *treeParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *treeParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of document")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.object(depth)
	case '[':
		return p.array(depth)
	case '"':
		raw, err := p.str()
		return &node{raw: raw}, err
	default:
		start := p.pos
		for p.pos < len(p.data) && isScalarByte(p.data[p.pos]) {
			p.pos++
		}
		if p.pos == start {
			return nil, p.errorf("unexpected character %q", c)
		}
		raw := p.data[start:p.pos]
		if !json.Valid(raw) {
			return nil, p.errorf("invalid value %q", raw)
		}
		return &node{raw: raw}, nil
	}
}

func isScalarByte(c byte) bool {
	return c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9') ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// str reads a string literal and returns its raw text, quotes included.
func (p *treeParser) str() ([]byte, error) {
	start := p.pos
	p.pos++
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '\\':
			p.pos += 2
		case c == '"':
			p.pos++
			return p.data[start:p.pos], nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		default:
			p.pos++
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *treeParser) object(depth int) (*node, error) {
	n := &node{kind: '{'}
	p.pos++
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("expected a key")
		}
		rawKey, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.pos++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: unquote(rawKey), rawKey: rawKey, value: v})
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return n, nil
		}
		return nil, p.errorf("expected ',' or '}'")
	}
}

func (p *treeParser) array(depth int) (*node, error) {
	n := &node{kind: '['}
	p.pos++
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return n, nil
		}
		return nil, p.errorf("expected ',' or ']'")
	}
}

// appendTree appends the compact JSON text of n to b, leaving out hidden
// members.
func appendTree(b []byte, n *node) []byte {
	switch n.kind {
	case '{':
		b = append(b, '{')
		first := true
		for i := range n.members {
			m := &n.members[i]
			if m.hidden {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, m.rawKey...)
			b = append(b, ':')
			b = appendTree(b, m.value)
		}
		return append(b, '}')
	case '[':
		b = append(b, '[')
		for i, item := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTree(b, item)
		}
		return append(b, ']')
	}
	return append(b, n.raw...)
}

// formatInt is strconv.FormatInt in base 10, kept short for the callers.
func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
