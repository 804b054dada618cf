package rehearsal

import (
	"bytes"
	"testing"
)

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n      int64
		commas bool
		want   string
	}{
		{0, true, "0"},
		{730, true, "730"},
		{1000, true, "1,000"},
		{1278959, true, "1,278,959"},
		{1278959, false, "1278959"},
		{123456, true, "123,456"},
	}
	for _, tt := range tests {
		if got := formatCount(tt.n, tt.commas); got != tt.want {
			t.Errorf("formatCount(%d, %v) = %q, want %q", tt.n, tt.commas, got, tt.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in         string
		n          int64
		commas, ok bool
	}{
		{"730", 730, false, true},
		{"1,278,959", 1278959, true, true},
		{" 12 ", 12, false, true},
		{"-", 0, false, false},
		{"", 0, false, false},
		{"-3", 0, false, false},
	}
	for _, tt := range tests {
		n, commas, ok := parseCount(tt.in)
		if n != tt.n || commas != tt.commas || ok != tt.ok {
			t.Errorf("parseCount(%q) = %d, %v, %v; want %d, %v, %v",
				tt.in, n, commas, ok, tt.n, tt.commas, tt.ok)
		}
	}
}

// TestPercentFormat checks that a share is written in the style of the
// value it replaces, rounded half up.
func TestPercentFormat(t *testing.T) {
	tests := []struct {
		like        string
		part, whole int64
		want        string
	}{
		{"47.80%", 793, 1659, "47.80%"},
		{"47.80%", 1, 8, "12.50%"},
		{"47.80%", 369, 800, "46.13%"}, // 46.125 rounds up
		{"57.62", 1297811, 2252216, "57.62"},
		{"100%", 1, 1, "100%"},
		{"100%", 1, 2, "50%"},
		{"100%", 2, 3, "66.67%"},
		{"0.00%", 0, 0, "0.00%"},
		{"100%", 0, 0, "0%"},
		{"12.5%", 1, 3, "33.33%"},
		{"1.234%", 1, 3, "33.333%"},
	}
	for _, tt := range tests {
		st, ok := parsePercentStyle(tt.like)
		if !ok {
			t.Errorf("parsePercentStyle(%q) failed", tt.like)
			continue
		}
		if got := st.format(tt.part, tt.whole); got != tt.want {
			t.Errorf("%d/%d like %q = %q, want %q", tt.part, tt.whole, tt.like, got, tt.want)
		}
	}
	for _, bad := range []string{"", "-", "%", "abc%"} {
		if _, ok := parsePercentStyle(bad); ok {
			t.Errorf("parsePercentStyle(%q) succeeded, want failure", bad)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		like string
		done int64
		want string
	}{
		{"760 of 763 (99.61%)", 352, "352 of 763 (46.13%)"},
		{"169 of 169", 75, "75 of 169"},
		{"1 of 1 (100%)", 0, "0 of 1 (0%)"},
		{"2 of 4 (50.00%)", 1, "1 of 4 (25.00%)"},
		{"0 of 0 (0.00%)", 0, "0 of 0 (0.00%)"},
		{"1,200 of 1,300 (92.31%)", 1000, "1,000 of 1,300 (76.92%)"},
	}
	for _, tt := range tests {
		r, ok := parseRatio(tt.like)
		if !ok {
			t.Errorf("parseRatio(%q) failed", tt.like)
			continue
		}
		if got := r.format(tt.done); got != tt.want {
			t.Errorf("%q with %d done = %q, want %q", tt.like, tt.done, got, tt.want)
		}
	}
	for _, bad := range []string{"", "760", "a of b", "1 of 2 (x)", "1 of 2 (5%"} {
		if _, ok := parseRatio(bad); ok {
			t.Errorf("parseRatio(%q) succeeded, want failure", bad)
		}
	}
}

func TestFlagText(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`true`, `false`},
		{`"True"`, `"False"`},
		{`"true"`, `"false"`},
		{`"TRUE"`, `"FALSE"`},
		{`"Y"`, `"N"`},
		{`"yes"`, `"no"`},
	}
	for _, tt := range tests {
		n := &node{raw: []byte(tt.raw)}
		if got := flagText(n, false); string(got) != tt.want {
			t.Errorf("flagText(%s, false) = %s, want %s", tt.raw, got, tt.want)
		}
	}
}

// TestTreeRoundTrip checks that a document is written back byte for byte,
// keys, escapes and duplicates included, and that hidden members go.
func TestTreeRoundTrip(t *testing.T) {
	doc := `{"b":1,"a":{"x":"\u00e9\"","x":[true,null,-1.5e3,{}]},"c":[],"d":"<&>"}`
	root, err := parseTree([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := appendTree(nil, root); string(got) != doc {
		t.Errorf("round trip = %s, want %s", got, doc)
	}
	root.members[1].hidden = true
	root.get("b").setText("2")
	if got, want := appendTree(nil, root), `{"b":2,"c":[],"d":"<&>"}`; string(got) != want {
		t.Errorf("after changes = %s, want %s", got, want)
	}

	spaced := []byte("{ \"a\" : [ 1 , 2 ] }\n")
	root, err = parseTree(spaced)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendTree(nil, root); !bytes.Equal(got, []byte(`{"a":[1,2]}`)) {
		t.Errorf("compacted = %s", got)
	}
	for _, bad := range []string{`{"a":}`, `{"a":1`, `[1,]`, `{"a":1} x`, `"abc`, `{"a":tru}`} {
		if _, err := parseTree([]byte(bad)); err == nil {
			t.Errorf("parseTree(%s) succeeded, want an error", bad)
		}
	}
}
