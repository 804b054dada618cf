package rehearsal

import (
	"math"
	"strconv"
	"strings"

	"ctrunner/snapshot"
)

// A simulated value is written the way the final document wrote the same
// field, so that consumers see the same shapes all night: counts with or
// without thousands separators, percentages with or without "%" and with
// the same decimals, flags as JSON booleans or as "True"/"False".

// parseCount reads a count as the API writes it: "730", "1,278,959". ok is
// false for anything else ("-", "").
func parseCount(s string) (n int64, commas, ok bool) {
	s = strings.TrimSpace(s)
	commas = strings.IndexByte(s, ',') >= 0
	if commas {
		s = strings.ReplaceAll(s, ",", "")
	}
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, false, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, commas, err == nil
}

// formatCount writes n, grouping thousands with commas if commas is set.
func formatCount(n int64, commas bool) string {
	if !commas {
		return formatInt(n)
	}
	return snapshot.Thousands(n)
}

// percentStyle is how a percentage was written: "47.80%" (two fixed
// decimals and a sign), "57.62" (no sign), "100%" (decimals only when
// needed, as .NET prints a rounded number).
type percentStyle struct {
	decimals int  // fixed decimals, or the most decimals when trim is set
	trim     bool // drop trailing zeros (and the point)
	sign     bool // ends with "%"
}

// parsePercentStyle reads the style of a percentage such as "76.44%".
// ok is false when s is not a percentage.
func parsePercentStyle(s string) (st percentStyle, ok bool) {
	s = strings.TrimSpace(s)
	num, sign := strings.CutSuffix(s, "%")
	num = strings.TrimSpace(num)
	if _, err := strconv.ParseFloat(num, 64); err != nil || num == "" {
		return st, false
	}
	st.sign = sign
	if _, frac, found := strings.Cut(num, "."); found && len(frac) >= 2 {
		st.decimals = min(len(frac), 6)
	} else {
		// "100" or "50.5": a number printed without padding.
		st.decimals, st.trim = 2, true
	}
	return st, true
}

// format writes part/whole as a percentage in the style, rounded half up
// as the API does; 0 when whole is 0.
func (st percentStyle) format(part, whole int64) string {
	var s string
	if whole <= 0 || part < 0 || part > math.MaxInt64/400/pow10(st.decimals) {
		s = strconv.FormatFloat(0, 'f', st.decimals, 64)
	} else {
		unit := pow10(st.decimals)
		q := (2*part*100*unit + whole) / (2 * whole) // in units of 10^-decimals percent
		s = formatInt(q / unit)
		if st.decimals > 0 {
			frac := formatInt(q % unit)
			s += "." + strings.Repeat("0", st.decimals-len(frac)) + frac
		}
	}
	if st.trim && strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if st.sign {
		s += "%"
	}
	return s
}

// pow10 returns 10^n for the few decimals a percentage has.
func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// ratio is a "reporting" line: "760 of 763 (99.61%)", "169 of 169" or
// "1 of 1 (100%)".
type ratio struct {
	done, total int64
	commas      bool
	pct         percentStyle
	hasPct      bool
}

// parseRatio reads a reporting line; ok is false for anything else, such as
// the empty PR of the voterTurnout total.
func parseRatio(s string) (r ratio, ok bool) {
	doneText, rest, found := strings.Cut(strings.TrimSpace(s), " of ")
	if !found {
		return r, false
	}
	totalText, pctText, hasPct := strings.Cut(rest, " (")
	var c1, c2 bool
	var ok1, ok2 bool
	r.done, c1, ok1 = parseCount(doneText)
	r.total, c2, ok2 = parseCount(totalText)
	if !ok1 || !ok2 {
		return r, false
	}
	r.commas = c1 || c2
	if hasPct {
		inner, closed := strings.CutSuffix(pctText, ")")
		if !closed {
			return r, false
		}
		if r.pct, ok = parsePercentStyle(inner); !ok {
			return r, false
		}
		r.hasPct = true
	}
	return r, true
}

// format writes the line with done reported, in the style of r.
func (r ratio) format(done int64) string {
	s := formatCount(done, r.commas) + " of " + formatCount(r.total, r.commas)
	if r.hasPct {
		s += " (" + r.pct.format(done, r.total) + ")"
	}
	return s
}

// flagValue reads a flag written as a JSON boolean or a string: true,
// "True", "true", "Y". ok is false for anything else.
func flagValue(n *node) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(n.text())) {
	case "true", "yes", "y", "1":
		return true, true
	case "false", "no", "n", "0":
		return false, true
	}
	return false, false
}

// flagText returns the JSON text that writes value in the style of the
// flag n, which holds some true or false value: `false` for `true`,
// `"False"` for `"True"`, `"n"` for `"y"`.
func flagText(n *node, value bool) []byte {
	if !n.isString() {
		return []byte(strconv.FormatBool(value))
	}
	old := n.text()
	var s string
	switch strings.ToLower(strings.TrimSpace(old)) {
	case "yes", "no":
		s = map[bool]string{true: "yes", false: "no"}[value]
	case "y", "n":
		s = map[bool]string{true: "y", false: "n"}[value]
	case "1", "0":
		s = map[bool]string{true: "1", false: "0"}[value]
	default:
		s = strconv.FormatBool(value)
	}
	switch {
	case old == strings.ToUpper(old):
		s = strings.ToUpper(s)
	case old[:1] == strings.ToUpper(old[:1]):
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return []byte(`"` + s + `"`)
}

// scaleInt returns final × part / whole rounded down, computed without
// overflow for counts of any realistic size.
func scaleInt(final, part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	if part >= whole {
		return final
	}
	if final < math.MaxInt32 && part < math.MaxInt32 {
		return final * part / whole
	}
	return int64(math.Floor(float64(final) * float64(part) / float64(whole)))
}
