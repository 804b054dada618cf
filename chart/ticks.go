package chart

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
)

// timeTicks marks a time axis whose values are Unix seconds with round
// clock times in loc: at most max labelled ticks, a minor tick halfway
// between two labelled ones. A label is the time of day ("9:30 PM", with
// seconds when the ticks are less than a minute apart, with the zone when
// the axis spans a change of daylight saving time); the first label and
// every label on a new day also carry the date on a second line.
type timeTicks struct {
	loc *time.Location
	max int
}

// timeSteps are the spacings timeTicks chooses from.
var timeSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// Ticks returns the ticks between min and max, in Unix seconds.
func (tt timeTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := unixTime(min).In(tt.loc), unixTime(max).In(tt.loc)
	span := hi.Sub(lo)
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s < time.Duration(tt.max) {
			step = s
			break
		}
	}

	// Count steps from local midnight, so ticks fall on round clock times.
	midnight := time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, tt.loc)
	first := midnight.Add((lo.Sub(midnight) + step - 1).Truncate(step))
	if step >= 24*time.Hour {
		first = midnight
		for first.Before(lo) {
			first = first.AddDate(0, 0, 1)
		}
	}

	// Across a change of daylight saving time the clock repeats or skips
	// an hour: the labels then name the zone (EDT, EST).
	zone := ""
	if lo.Format("MST") != hi.Format("MST") {
		zone = " MST"
	}
	var ticks []plot.Tick
	lastDay := ""
	for t := first; !t.After(hi); t = t.Add(step) {
		if half := t.Add(-step / 2); !half.Before(lo) {
			ticks = append(ticks, plot.Tick{Value: unixSeconds(half)})
		}
		day := t.Format("Mon Jan 2")
		var label string
		switch {
		case step >= 24*time.Hour:
			label = t.Format("Jan 2")
		case step < time.Minute:
			label = t.Format("3:04:05 PM" + zone)
		default:
			label = t.Format("3:04 PM" + zone)
		}
		if day != lastDay && step < 24*time.Hour {
			label += "\n" + day
		}
		lastDay = day
		ticks = append(ticks, plot.Tick{Value: unixSeconds(t), Label: label})
	}
	return ticks
}

func unixTime(sec float64) time.Time {
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// percentTicks marks a percent axis with round percentages: a labelled
// tick every step percent ("40%"), a minor one halfway.
type percentTicks struct{ max int }

// Ticks returns the ticks between min and max, in percent.
func (pt percentTicks) Ticks(min, max float64) []plot.Tick {
	step := 100.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50} {
		if (max-min)/s <= float64(pt.max) {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+1e-9; v += step {
		if half := v - step/2; half >= min {
			ticks = append(ticks, plot.Tick{Value: half})
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64) + "%"})
	}
	return ticks
}

// shareCeiling is the top of a shares chart's y axis: the highest share
// plus some room, rounded up to 10%, at most 100%.
func shareCeiling(highest float64) float64 {
	return math.Min(100, math.Max(10, math.Ceil((highest+4)/10)*10))
}

// dateRange describes the days a time axis covers, for its label:
// "Nov 8, 2022", "Nov 8–9, 2022" or "Dec 31, 2022 – Jan 1, 2023".
func dateRange(lo, hi time.Time) string {
	switch {
	case lo.Year() != hi.Year():
		return lo.Format("Jan 2, 2006") + " – " + hi.Format("Jan 2, 2006")
	case lo.Month() != hi.Month():
		return lo.Format("Jan 2") + " – " + hi.Format("Jan 2, 2006")
	case lo.Day() != hi.Day():
		return fmt.Sprintf("%s–%d, %d", lo.Format("Jan 2"), hi.Day(), hi.Year())
	}
	return lo.Format("Jan 2, 2006")
}
