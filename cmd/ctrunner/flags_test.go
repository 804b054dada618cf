package main

import (
	"testing"
	"time"
)

func TestParseTimeFlag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2022-11-09T02:30:00Z", time.Date(2022, 11, 9, 2, 30, 0, 0, time.UTC)},
		{"2022-11-08T21:30:00-05:00", time.Date(2022, 11, 9, 2, 30, 0, 0, time.UTC)},
		// Eastern wall-clock times, standard and daylight saving.
		{"2022-11-08 21:30", time.Date(2022, 11, 9, 2, 30, 0, 0, time.UTC)},
		{" 2022-11-08 21:30:15 ", time.Date(2022, 11, 9, 2, 30, 15, 0, time.UTC)},
		{"2024-08-13T21:30", time.Date(2024, 8, 14, 1, 30, 0, 0, time.UTC)},
		// The times log, replay and plot print, zone and all: the zone
		// picks the hour that the end of daylight saving time repeats.
		{"2024-08-16 14:49:17 EDT", time.Date(2024, 8, 16, 18, 49, 17, 0, time.UTC)},
		{"2022-11-08 21:30:00 EST", time.Date(2022, 11, 9, 2, 30, 0, 0, time.UTC)},
		{"2024-11-03 01:30 EDT", time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC)},
		{"2024-11-03 01:30 EST", time.Date(2024, 11, 3, 6, 30, 0, 0, time.UTC)},
	} {
		got, err := parseTimeFlag("export", "as-of", tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "21:30", "2022-11-08", "11/08/2022 21:30",
		"2024-08-16 14:49:17 EST", "2022-11-08 21:30 EDT", "2022-11-08 21:30 PST"} {
		_, err := parseTimeFlag("export", "as-of", bad)
		if err == nil || !isUsageError(err) {
			t.Errorf("parseTimeFlag(%q) = %v, want a usage error", bad, err)
		}
	}
}
