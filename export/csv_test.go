package export

import (
	"bytes"
	"errors"
	"testing"
)

func TestWriterQuoting(t *testing.T) {
	tests := []struct {
		fields []string
		want   string
	}{
		{[]string{"a", "b"}, "a,b\r\n"},
		{[]string{" leading", "trailing "}, " leading,trailing \r\n"},
		{[]string{"a,b", "c"}, "\"a,b\",c\r\n"},
		{[]string{`Stewart "Chip" Beckett`}, "\"Stewart \"\"Chip\"\" Beckett\"\r\n"},
		{[]string{"line\nbreak", "cr\rhere"}, "\"line\nbreak\",\"cr\rhere\"\r\n"},
		{[]string{"tab\there", "\u201ccurly\u201d", "é"}, "tab\there,\u201ccurly\u201d,é\r\n"},
		{[]string{"", ""}, ",\r\n"},
		{[]string{""}, "\"\"\r\n"},
		{[]string{"1,278,959", "57.51%"}, "\"1,278,959\",57.51%\r\n"},
		{[]string{`"`}, "\"\"\"\"\r\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.WriteRow(tt.fields...)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tt.want {
			t.Errorf("WriteRow(%q) = %q, want %q", tt.fields, got, tt.want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterReportsErrors(t *testing.T) {
	w := NewWriter(failingWriter{})
	w.WriteRow("a")
	if err := w.Flush(); err == nil {
		t.Errorf("Flush to a failing writer = nil, want an error")
	}
	if err := ElectionListCSV(failingWriter{}, nil); err == nil {
		t.Errorf("ElectionListCSV to a failing writer = nil, want an error")
	}
}
