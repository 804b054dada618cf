package chart

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // Eastern time on machines without zoneinfo

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Format is an image format Render writes.
type Format string

// The formats Render writes.
const (
	SVG Format = "svg"
	PNG Format = "png"
	PDF Format = "pdf"
)

// FormatOf returns the format a file name's extension asks for: .svg,
// .png or .pdf, in any letter case.
func FormatOf(name string) (Format, bool) {
	switch f := Format(strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))); f {
	case SVG, PNG, PDF:
		return f, true
	}
	return "", false
}

// XAxis is what the x axis of a shares chart measures.
type XAxis string

// The x axes of a shares chart.
const (
	// XPrecincts is the share of the office's precincts reporting.
	XPrecincts XAxis = "precincts"
	// XTime is the time each snapshot was fetched, in Eastern time.
	XTime XAxis = "time"
)

// The default size of an image, in pixels.
const (
	DefaultWidth  = 1200
	DefaultHeight = 675
)

// Style says how Render draws a chart.
type Style struct {
	Format Format
	// Width and Height are the image's size in pixels; SVG and PDF count
	// 96 pixels to the inch. Zero means the default.
	Width, Height int
	// X is what a shares chart is drawn against (XPrecincts when empty);
	// a precincts chart is always drawn against time.
	X XAxis
}

// Eastern is Connecticut's time zone, in which time axes are labelled.
var Eastern = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic("chart: no America/New_York zone despite the embedded tzdata: " + err.Error())
	}
	return loc
}()

// margin is the blank border around the image.
const margin = vg.Length(10)

// Sizes of text, in points at 96 pixels to the inch.
const (
	titleSize  = 15
	labelSize  = 12.5
	tickSize   = 11
	legendSize = 11
)

// palette holds the colours of the lines, in order: distinct for people
// who do not see red and green apart, and none too pale on white.
var palette = []color.RGBA{
	{0x00, 0x72, 0xb2, 0xff}, // blue
	{0xd5, 0x5e, 0x00, 0xff}, // vermilion
	{0x00, 0x9e, 0x73, 0xff}, // bluish green
	{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
	{0xe6, 0x9f, 0x00, 0xff}, // orange
	{0x56, 0xb4, 0xe9, 0xff}, // sky blue
	{0x6a, 0x3d, 0x9a, 0xff}, // purple
	{0x99, 0x99, 0x99, 0xff}, // grey
	{0x8c, 0x51, 0x0a, 0xff}, // brown
}

// glyphs are the markers' shapes, in order, so that lines differ in more
// than colour.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{},
	draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// labelLength is the longest legend label of an image width pixels
// wide, in characters: about a quarter of the width, from 18 to 46
// characters. Longer names are cut with an ellipsis (the party stays).
func labelLength(width int) int {
	return min(46, max(18, width/26))
}

// Render draws c as an image in the style s and writes it to w: a line
// per Line with a marker at each snapshot, a legend to the right of the
// data, times in Eastern time. Points a shares chart against precincts
// cannot place (precincts unknown) are left out.
func Render(w io.Writer, c *Chart, s Style) error {
	if s.Width == 0 {
		s.Width = DefaultWidth
	}
	if s.Height == 0 {
		s.Height = DefaultHeight
	}
	if s.X == "" {
		s.X = XPrecincts
	}
	if c.Kind == KindPrecincts {
		s.X = XTime
	}
	width, height := pixels(s.Width), pixels(s.Height)

	p, leg, err := newPlot(c, s, width)
	if err != nil {
		return err
	}

	var canvas interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch s.Format {
	case SVG:
		canvas = vgsvg.New(width, height)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	case PDF:
		pdf := vgpdf.New(width, height)
		pdf.EmbedFonts(true)
		canvas = pdf
	default:
		return fmt.Errorf("chart: unknown image format %q (svg, png or pdf)", s.Format)
	}

	dc := draw.Crop(draw.New(canvas), margin, -margin, margin, -margin)
	legendWidth := leg.Rectangle(dc).Size().X
	gap := vg.Points(14)
	// The title spans the image, over the data and the legend, which is
	// drawn to the right of the data.
	heading := p.Title.TextStyle
	heading.XAlign, heading.YAlign = draw.XCenter, draw.YTop
	dc.FillText(heading, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y}, p.Title.Text)
	below := -(heading.Height(p.Title.Text) + p.Title.Padding)
	p.Title.Text = ""
	p.Draw(draw.Crop(dc, 0, -(legendWidth + gap), 0, below))
	leg.Draw(draw.Crop(dc, dc.Max.X-legendWidth-gap/2, -gap/2, 0, below-vg.Points(6)))

	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("writing %s image: %w", strings.ToUpper(string(s.Format)), err)
	}
	return nil
}

// sans is the Liberation Sans font, which gonum embeds, at size points.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// pixels converts pixels to a length, at 96 pixels to the inch.
func pixels(n int) vg.Length { return vg.Length(n) * vg.Inch / 96 }

// newPlot builds the plot of c and its legend, drawn apart from it.
func newPlot(c *Chart, s Style, width vg.Length) (*plot.Plot, *plot.Legend, error) {
	p := plot.New()
	p.Title.Text = title(c, s)
	p.Title.TextStyle.Font = sans(titleSize)
	p.Title.Padding = vg.Points(10)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(labelSize)
		a.Tick.Label.Font = sans(tickSize)
		a.Padding = vg.Points(4)
	}

	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xd4}
	grid.Horizontal.Color = color.Gray{0xd4}
	p.Add(grid)

	leg := new(plot.Legend)
	*leg = plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font = sans(legendSize)
	leg.ThumbnailWidth = vg.Points(24)
	leg.Padding = vg.Points(5)

	// About one labelled tick per 120 pixels of width.
	maxTicks := max(3, int(width/pixels(120)))
	var lo, hi time.Time
	highest := 0.0
	drawn, office, state := 0, false, false
	radius := vg.Points(3.2)
	if c.Snapshots > 80 {
		radius = vg.Points(1.8)
	}
	for i, l := range c.Lines {
		var xys plotter.XYs
		for _, pt := range l.Points {
			x := unixSeconds(pt.FetchedAt)
			if s.X == XPrecincts {
				var ok bool
				if x, ok = pt.PrecinctsPercent(); !ok {
					continue
				}
				state = state || pt.StatePrecincts
				office = office || !pt.StatePrecincts
			}
			xys = append(xys, plotter.XY{X: x, Y: pt.Percent})
			highest = math.Max(highest, pt.Percent)
			if lo.IsZero() || pt.FetchedAt.Before(lo) {
				lo = pt.FetchedAt
			}
			if pt.FetchedAt.After(hi) {
				hi = pt.FetchedAt
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, nil, fmt.Errorf("chart line %s: %w", l.Label(), err)
		}
		dots, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, nil, fmt.Errorf("chart line %s: %w", l.Label(), err)
		}
		col := palette[i%len(palette)]
		line.Color, line.Width = col, vg.Points(1.8)
		dots.GlyphStyle = draw.GlyphStyle{Color: col, Radius: radius,
			Shape: glyphs[i%len(glyphs)]}
		if l.Key == StatewideKey {
			line.Color, line.Width = color.Black, vg.Points(2.6)
			dots.GlyphStyle.Color = color.Black
		}
		p.Add(line, dots)
		leg.Add(shorten(l.Label(), labelLength(s.Width)), line, dots)
		drawn++
	}
	if n := len(c.Omitted); n > 0 {
		leg.Add(fmt.Sprintf("(%d more with fewer votes not shown)", n))
	}
	if drawn == 0 {
		leg.Add("(no data to draw)")
	}

	// The y axis: percent from 0.
	p.Y.Min, p.Y.Max = 0, 100
	p.Y.Label.Text = "Precincts reporting (%)"
	if c.Kind == KindShares {
		p.Y.Max = shareCeiling(highest)
		p.Y.Label.Text = "Share of the statewide vote (%)"
	}
	p.Y.Tick.Marker = percentTicks{max: 10}

	// The x axis: percent of precincts, or Eastern time.
	if s.X == XPrecincts {
		p.X.Min, p.X.Max = 0, 100
		switch {
		case office && state:
			p.X.Label.Text = "Precincts reporting for this office, or statewide where not given (%)"
		case state:
			p.X.Label.Text = "Precincts reporting statewide (%)"
		default:
			p.X.Label.Text = "Precincts reporting for this office (%)"
		}
		p.X.Tick.Marker = percentTicks{max: min(10, maxTicks+2)}
		return p, leg, nil
	}
	if lo.IsZero() {
		lo = time.Now()
		hi = lo
	}
	lo, hi = lo.In(Eastern), hi.In(Eastern)
	p.X.Min, p.X.Max = timeRange(lo, hi)
	p.X.Label.Text = "Time fetched, Eastern Time (ET), " + dateRange(lo, hi)
	p.X.Tick.Marker = timeTicks{loc: Eastern, max: maxTicks}
	return p, leg, nil
}

// timeRange is the x range of a time axis from lo to hi, in Unix seconds,
// with a little room at each end, and at least a minute wide.
func timeRange(lo, hi time.Time) (float64, float64) {
	span := hi.Sub(lo)
	if span < time.Minute {
		mid := lo.Add(span / 2)
		return unixSeconds(mid.Add(-30 * time.Second)), unixSeconds(mid.Add(30 * time.Second))
	}
	pad := span / 40
	return unixSeconds(lo.Add(-pad)), unixSeconds(hi.Add(pad))
}

// title is the chart's title: the election, then what the chart shows.
func title(c *Chart, s Style) string {
	first := c.ElectionName
	if c.ElectionDate != "" {
		first += " (" + c.ElectionDate + ")"
	}
	var second string
	switch {
	case c.Kind == KindPrecincts:
		second = "Precincts reporting over time"
		if len(c.Lines) > 1 {
			second += ", statewide and by town"
		}
	case s.X == XTime:
		second = c.Subject + ": share of the vote over time"
	default:
		second = c.Subject + ": share of the vote as precincts report"
	}
	return first + "\n" + second
}

// shorten cuts a legend label to maxLabel characters, keeping a final
// party in parentheses.
func shorten(label string, maxLabel int) string {
	r := []rune(label)
	if len(r) <= maxLabel {
		return label
	}
	party := ""
	if i := strings.LastIndex(label, " ("); i > 0 && strings.HasSuffix(label, ")") {
		party = label[i:]
		r = []rune(label[:i])
	}
	keep := maxLabel - len([]rune(party)) - 1
	if keep < 8 {
		keep = 8
	}
	if len(r) <= keep {
		return label
	}
	return strings.TrimSpace(string(r[:keep])) + "…" + party
}
