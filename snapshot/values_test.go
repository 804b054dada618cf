package snapshot

import (
	"slices"
	"testing"
)

func TestCountInt(t *testing.T) {
	tests := []struct {
		in     Count
		want   int64
		wantOK bool
	}{
		{"730", 730, true},
		{"1,278,959", 1278959, true},
		{" 42 ", 42, true},
		{"-2", -2, true},
		{"0", 0, true},
		{"", 0, false},
		{"-", 0, false},
		{"1,27", 0, false},
		{",123", 0, false},
		{"1234,567", 0, false},
		{"12.5", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.in.Int()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Count(%q).Int() = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestPercentFloat(t *testing.T) {
	tests := []struct {
		in     Percent
		want   float64
		wantOK bool
	}{
		{"76.44%", 76.44, true},
		{"57.51", 57.51, true},
		{"0.00%", 0, true},
		{"100%", 100, true},
		{" 5 % ", 5, true},
		{"", 0, false},
		{"%", 0, false},
		{"-", 0, false},
		{"n/a", 0, false},
		{"NaN", 0, false},
		{"Inf%", 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.in.Float()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Percent(%q).Float() = %v, %v, want %v, %v",
				tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFlagBool(t *testing.T) {
	tests := []struct {
		raw          string
		want, wantOK bool
	}{
		{"true", true, true},
		{"True", true, true},
		{"False", false, true},
		{"false", false, true},
		{"Y", true, true},
		{"N", false, true},
		{"", false, false},
		{"maybe", false, false},
	}
	for _, tt := range tests {
		got, ok := Flag{tt.raw}.Bool()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Flag{%q}.Bool() = %v, %v, want %v, %v", tt.raw, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFlagMarshalJSON(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"True", "true"},
		{"false", "false"},
		{"odd", `"odd"`},
	}
	for _, tt := range tests {
		got, err := Flag{tt.raw}.MarshalJSON()
		if err != nil || string(got) != tt.want {
			t.Errorf("Flag{%q}.MarshalJSON() = %s, %v, want %s", tt.raw, got, err, tt.want)
		}
	}
}

func TestPartyListIDs(t *testing.T) {
	tests := []struct {
		in     PartyList
		want   []PartyID
		wantOK bool
	}{
		{"[1,6,1026]", []PartyID{"1", "6", "1026"}, true},
		{` [ "1" , 2 ] `, []PartyID{"1", "2"}, true},
		{"[]", []PartyID{}, true},
		{"", nil, false},
		{"[1,", nil, false},
		{"[1] x", nil, false},
		{"[[1]]", nil, false},
		{"1,6", nil, false},
	}
	for _, tt := range tests {
		got, ok := tt.in.IDs()
		if !slices.Equal(got, tt.want) || ok != tt.wantOK || (ok && got == nil) {
			t.Errorf("PartyList(%q).IDs() = %q, %v, want %q, %v",
				tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestThousands(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {-1200, "-1,200"}, {1278959, "1,278,959"},
		{-999, "-999"}, {100000, "100,000"},
		{-9223372036854775808, "-9,223,372,036,854,775,808"},
	} {
		if got := Thousands(tc.n); got != tc.want {
			t.Errorf("Thousands(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
