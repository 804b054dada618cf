package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"ctrunner/snapshot"
)

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  padded \t", "padded"},
		{"a\nb\r\nc", "a b  c"},
		{"tab\there", "tab here"},
		{"line\u2028sep", "line sep"},
		{"bell\x07del\x7f", "bell del"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"Électiondata “quoted”", "Électiondata “quoted”"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSnapshotMessage(t *testing.T) {
	m := snapshot.Meta{
		Election:           "80",
		Version:            13392,
		FetchedAt:          time.Date(2023, 11, 8, 6, 2, 3, 500, time.FixedZone("X", 3600)),
		Source:             snapshot.Fetched,
		SourceURL:          "http://127.0.0.1:8080/election/80/13392/",
		PrecinctsReporting: "760 of 763 (99.61%)",
		Suspect: []string{"votes-decreased: Hartford, Governor: 12,345 → 12,001",
			"version-backwards: 13392 < 13393"},
		Documents: map[string]string{
			"b.json": strings.Repeat("b", 64), "a.json": strings.Repeat("a", 64),
		},
	}
	want := "election 80 version 13392: 760 of 763 (99.61%) precincts reporting\n" +
		"\n" +
		"Election: 80\n" +
		"Version: 13392\n" +
		"Source: fetched\n" +
		"Source-URL: http://127.0.0.1:8080/election/80/13392/\n" +
		"Fetched-At: 2023-11-08T05:02:03.0000005Z\n" +
		"Precincts-Reporting: 760 of 763 (99.61%)\n" +
		"Suspect: votes-decreased: Hartford, Governor: 12,345 → 12,001\n" +
		"Suspect: version-backwards: 13392 < 13393\n" +
		"Document: a.json sha256:" + strings.Repeat("a", 64) + "\n" +
		"Document: b.json sha256:" + strings.Repeat("b", 64) + "\n"
	if got := snapshotMessage(m); got != want {
		t.Errorf("snapshotMessage() =\n%s\nwant\n%s", got, want)
	}

	m.PrecinctsReporting = ""
	m.TimeSource = "file modification time"
	got := snapshotMessage(m)
	if subject, _, _ := strings.Cut(got, "\n"); subject != "election 80 version 13392" {
		t.Errorf("subject without precincts = %q, want %q", subject, "election 80 version 13392")
	}
	if !strings.Contains(got, "\nTime-Source: file modification time\n") ||
		strings.Contains(got, "Precincts-Reporting") {
		t.Errorf("snapshotMessage() =\n%s\nwant a Time-Source and no Precincts-Reporting", got)
	}

	back, err := parseMessage(got)
	if err != nil {
		t.Fatalf("parseMessage = %v", err)
	}
	m.FetchedAt = m.FetchedAt.UTC()
	if !reflect.DeepEqual(back, m) {
		t.Errorf("parseMessage(snapshotMessage(m)) = %+v, want %+v", back, m)
	}
}

func TestParseMessage(t *testing.T) {
	sum := strings.Repeat("0", 64)
	tests := []struct {
		name string
		msg  string
		want snapshot.Meta
	}{
		{"unknown trailers and colons",
			"election 80 version 1\n\nElection: 80\nSigned-off-by: x\nSource-URL: http://h:1/a:b\n" +
				"Reviewed: yes: really\nnot a trailer\n",
			snapshot.Meta{Election: "80", SourceURL: "http://h:1/a:b", Documents: map[string]string{}}},
		{"body before trailers",
			"election 81 version 2\n\nSome text.\n\nMore: text\n\nVersion: 2\nDocument: a b sha256:" +
				sum + "\n",
			snapshot.Meta{Version: 2, Documents: map[string]string{"a b": sum}}},
		{"subject only", "election list\n", snapshot.Meta{Documents: map[string]string{}}},
	}
	for _, tt := range tests {
		got, err := parseMessage(tt.msg)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: parseMessage = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}

	bad := []string{
		"s\n\nVersion: 12x\n",
		"s\n\nElection: eighty\n",
		"s\n\nFetched-At: yesterday\n",
		"s\n\nDocument: a.json\n",
		"s\n\nDocument: a.json sha256:xyz\n",
	}
	for _, msg := range bad {
		if _, err := parseMessage(msg); err == nil {
			t.Errorf("parseMessage(%q) = nil error, want one", msg)
		}
	}
}

func TestIsIDPrefix(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{"80", false},
		{"123456", false},
		{"1234567", true},
		{"abc", false},
		{"abcd", true},
		{"ABCD", true},
		{"12a4", true},
		{"abcg", false},
		{strings.Repeat("a", 40), true},
		{strings.Repeat("a", 41), false},
		{"80@1313", false},
		{"80~1", false},
	}
	for _, tt := range tests {
		if got := isIDPrefix(tt.ref); got != tt.want {
			t.Errorf("isIDPrefix(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}
