package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"
)

// svgText returns the text of every element of an SVG document, checking
// that it is well-formed XML.
func svgText(t *testing.T, svg []byte) string {
	t.Helper()
	var text strings.Builder
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
			text.WriteByte('\n')
		}
	}
	return text.String()
}

func TestRenderSVG(t *testing.T) {
	n := recorded80(t)
	shares, err := Shares(n.entries, n.load, ShareOptions{MaxLines: 4})
	if err != nil {
		t.Fatal(err)
	}
	precincts, err := Precincts(n.entries, n.load, PrecinctOptions{Towns: []string{"Hartford"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		chart *Chart
		x     XAxis
		want  []string
	}{
		{shares, XPrecincts, []string{
			"November 2022 State Election (11/08/2022)",
			"Governor and Lieutenant Governor: share of the vote as precincts report",
			"Share of the statewide vote (%)",
			"Precincts reporting for this office, or statewide where not given (%)",
			"Ned Lamont and Susan Bysiewicz (D)", "Bob Stefanowski and Laura Devlin (R)",
			"(2 more with fewer votes not shown)", "50%", "100%",
		}},
		{shares, XTime, []string{
			"Governor and Lieutenant Governor: share of the vote over time",
			"Time fetched, Eastern Time (ET), Nov 8–9, 2022",
			"9:00 PM", "Tue Nov 8", "12:00 AM", "Wed Nov 9",
		}},
		{precincts, XTime, []string{
			"Precincts reporting over time, statewide and by town",
			"Precincts reporting (%)", "Statewide", "Hartford",
		}},
	} {
		var out bytes.Buffer
		if err := Render(&out, tc.chart, Style{Format: SVG, X: tc.x}); err != nil {
			t.Fatal(err)
		}
		text := svgText(t, out.Bytes())
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s chart against %s: SVG lacks %q; its text is:\n%s",
					tc.chart.Kind, tc.x, w, text)
			}
		}
		if strings.Contains(text, "e+09") {
			t.Errorf("%s chart against %s: ticks in seconds:\n%s", tc.chart.Kind, tc.x, text)
		}
	}
}

func TestRenderPNG(t *testing.T) {
	n := simulated80(t, 12)
	c, err := Shares(n.entries, n.load, ShareOptions{MaxLines: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{0, 0}, {640, 400}, {1601, 901}} {
		var out bytes.Buffer
		if err := Render(&out, c, Style{Format: PNG, Width: size[0], Height: size[1]}); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&out)
		if err != nil {
			t.Fatalf("Render PNG %v: does not decode: %v", size, err)
		}
		want := size
		if size[0] == 0 {
			want = [2]int{DefaultWidth, DefaultHeight}
		}
		if b := img.Bounds(); b.Dx() != want[0] || b.Dy() != want[1] {
			t.Errorf("Render PNG %v: image is %dx%d, want %dx%d", size, b.Dx(), b.Dy(),
				want[0], want[1])
		}
	}
}

func TestRenderPDFAndEdgeCases(t *testing.T) {
	n := recorded80(t)
	one := n.entries[:1]
	c, err := Shares(one, n.load, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Render(&out, c, Style{Format: PDF, X: XTime}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("%PDF-")) {
		t.Errorf("Render PDF starts with %q", out.Bytes()[:min(10, out.Len())])
	}

	// A single snapshot is a point; a chart of no lines still draws.
	for _, ch := range []*Chart{c, {Kind: KindShares, ElectionName: "Empty", Subject: "Nothing"}} {
		out.Reset()
		if err := Render(&out, ch, Style{Format: SVG}); err != nil {
			t.Errorf("Render(%d lines) = %v", len(ch.Lines), err)
		}
		svgText(t, out.Bytes())
	}
	if err := Render(io.Discard, c, Style{Format: "gif"}); err == nil {
		t.Errorf("Render(gif) = nil, want an error")
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{"a.svg": SVG, "b/C.PNG": PNG, "x.pdf": PDF,
		"x.gif": "", "svg": "", "x.png.txt": ""} {
		got, ok := FormatOf(name)
		if got != want || ok != (want != "") {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	at := func(h, m int) float64 {
		return unixSeconds(time.Date(2022, 11, 8, h, m, 0, 0, Eastern))
	}
	var labels []string
	for _, tick := range (timeTicks{loc: Eastern, max: 6}).Ticks(at(20, 3), at(25, 10)) {
		if tick.Label != "" {
			labels = append(labels, tick.Label)
		}
	}
	want := []string{"9:00 PM\nTue Nov 8", "10:00 PM", "11:00 PM", "12:00 AM\nWed Nov 9",
		"1:00 AM"}
	if strings.Join(labels, "|") != strings.Join(want, "|") {
		t.Errorf("ticks of 8:03 PM to 1:10 AM = %q, want %q", labels, want)
	}

	labels = nil
	for _, tick := range (timeTicks{loc: Eastern, max: 6}).Ticks(at(21, 0), at(21, 0)+20) {
		if tick.Label != "" {
			labels = append(labels, tick.Label)
		}
	}
	if len(labels) == 0 || labels[0] != "9:00:00 PM\nTue Nov 8" {
		t.Errorf("ticks of 20 seconds = %q, want seconds from 9:00:00 PM", labels)
	}
}

func TestPercentTicks(t *testing.T) {
	var labels []string
	for _, tick := range (percentTicks{max: 10}).Ticks(0, 60) {
		if tick.Label != "" {
			labels = append(labels, tick.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0% 10% 20% 30% 40% 50% 60%" {
		t.Errorf("percent ticks of 0 to 60 = %s", got)
	}
	for highest, want := range map[float64]float64{0: 10, 54.45: 60, 56.5: 70, 99: 100} {
		if got := shareCeiling(highest); got != want {
			t.Errorf("shareCeiling(%v) = %v, want %v", highest, got, want)
		}
	}
}

func TestShorten(t *testing.T) {
	for in, want := range map[string]string{
		"Statewide": "Statewide",
		"Michelle Louise Bicking and Cassandra A. Martineau (WI)":    "Michelle Louise Bicking and Cassandra A.… (WI)",
		"A very long name without any party at the end of it at all": "A very long name without any party at the end…",
	} {
		if got := shorten(in, 46); got != want {
			t.Errorf("shorten(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTimeTicksDST checks that an axis across the end of daylight saving
// time, whose clock shows 1:00 AM twice, tells the two apart.
func TestTimeTicksDST(t *testing.T) {
	lo := time.Date(2022, 11, 6, 0, 30, 0, 0, Eastern)
	hi := lo.Add(2*time.Hour + 5*time.Minute) // 1:35 AM EST
	var labels []string
	for _, tick := range (timeTicks{loc: Eastern, max: 6}).Ticks(unixSeconds(lo), unixSeconds(hi)) {
		if tick.Label != "" {
			labels = append(labels, tick.Label)
		}
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if seen[l] {
			t.Errorf("ticks of 12:30 AM EDT to 1:35 AM EST: label %q twice in %q", l, labels)
		}
		seen[l] = true
	}
	if len(labels) == 0 || !strings.Contains(labels[len(labels)-1], "EST") {
		t.Errorf("ticks of 12:30 AM EDT to 1:35 AM EST = %q, want the zone named", labels)
	}
}
