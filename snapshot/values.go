package snapshot

import (
	"encoding/json"
	"strconv"
	"strings"
)

// IDs the documents use to refer to one another. They are strings in the
// API (townPollingPlaces writes polling place IDs as numbers; the decoders
// turn those into the same decimal text).
type (
	// TownID names one of Connecticut's towns, e.g. "1" for Andover.
	TownID string
	// OfficeID names an office on the ballot of one election.
	OfficeID string
	// CandidateID names one candidacy: a person on one party line.
	CandidateID string
	// PartyID names a party in LookupData partyIds.
	PartyID string
	// CountyID names a county in LookupData counties.
	CountyID string
	// PollingPlaceID names a polling place in LookupData pollingplaceIds.
	PollingPlaceID string
)

// Count is a count as the API writes it, kept verbatim: "730", "1,278,959",
// "-" or "". Use Int for its value.
type Count string

// Int returns the count's value, ignoring thousands separators and
// surrounding spaces. ok is false when the text is not a whole number.
func (c Count) Int() (n int64, ok bool) {
	s := strings.TrimSpace(string(c))
	if strings.IndexByte(s, ',') >= 0 {
		if !validGrouping(s) {
			return 0, false
		}
		s = strings.ReplaceAll(s, ",", "")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// validGrouping reports whether the commas in s separate groups of three
// digits, as in "1,278,959".
func validGrouping(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	groups := strings.Split(s, ",")
	if len(groups[0]) == 0 || len(groups[0]) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

// String returns the count as written.
func (c Count) String() string { return string(c) }

// Percent is a percentage as the API writes it, kept verbatim: "76.44%",
// "57.51", "0.00%". Use Float for its value.
type Percent string

// Float returns the percentage as a number of percent (76.44 for "76.44%"),
// with or without the percent sign. ok is false when the text is not a
// number.
func (p Percent) Float() (f float64, ok bool) {
	s := strings.TrimSpace(string(p))
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	if s == "" || !numeric(s) {
		return 0, false // refuse "NaN", "Inf" and hex forms
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// String returns the percentage as written.
func (p Percent) String() string { return string(p) }

// numeric reports whether s holds only digits, separators, signs and
// exponent marks: the characters a decimal number can be written with.
func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == ',', c == '+', c == '-', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// Flag is a yes/no value that the API writes sometimes as a JSON boolean
// and sometimes as a string such as "True" or "False". The text is kept so
// that nothing is lost when it is neither.
type Flag struct {
	// Raw is the value's text: "true" for a JSON true, "True" for the
	// string "True", "" when absent or null.
	Raw string
}

// Bool returns the flag's value. It accepts true/false, yes/no, y/n and 1/0
// in any letter case; ok is false for anything else.
func (f Flag) Bool() (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(f.Raw)) {
	case "true", "yes", "y", "1":
		return true, true
	case "false", "no", "n", "0":
		return false, true
	}
	return false, false
}

// String returns the flag's text as written.
func (f Flag) String() string { return f.Raw }

// MarshalJSON writes the flag as a JSON boolean when it has a value and as
// its raw text otherwise.
func (f Flag) MarshalJSON() ([]byte, error) {
	if v, ok := f.Bool(); ok {
		return json.Marshal(v)
	}
	return json.Marshal(f.Raw)
}

// PartyList is a townParties value: a JSON array of party IDs written
// inside a string, "[1,6,1026]", kept verbatim. Use IDs for its contents.
type PartyList string

// IDs returns the party IDs in the list. ok is false when the text is not
// an array of numbers or strings.
func (l PartyList) IDs() (ids []PartyID, ok bool) {
	d := newDecoder([]byte(l))
	if d.skipSpace() != '[' {
		return nil, false
	}
	err := d.array(func() error {
		switch c := d.skipSpace(); {
		case c == '"' || c == '-' || (c >= '0' && c <= '9'):
			s, err := d.scalar()
			ids = append(ids, PartyID(s))
			return err
		}
		return d.expected("a party ID")
	})
	if err != nil || d.end() != nil {
		return nil, false
	}
	if ids == nil {
		ids = []PartyID{}
	}
	return ids, true
}

// String returns the list as written.
func (l PartyList) String() string { return string(l) }

// Thousands writes n as the API writes large counts, its digits grouped
// in threes by commas: "1,297,811".
func Thousands(n int64) string {
	u, sign := uint64(n), ""
	if n < 0 {
		u, sign = -u, "-"
	}
	digits := strconv.FormatUint(u, 10)
	var b strings.Builder
	b.WriteString(sign)
	for i := range len(digits) {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[i])
	}
	return b.String()
}
