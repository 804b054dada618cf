// Package export renders decoded election documents in the formats the old
// Python tool wrote, byte for byte, so that files made by either tool can be
// compared; unlike the old tool it keeps every row it cannot fully name.
package export

import (
	"bufio"
	"io"
	"strings"
)

// Writer writes CSV as Python's csv module does with its default dialect:
// a field is quoted only when it holds a comma, a double quote (doubled
// inside the quotes), a carriage return or a line feed, and lines end with
// CRLF. Unlike encoding/csv it never quotes a field for leading spaces,
// which is what makes its output match the old tool's files.
type Writer struct {
	w   *bufio.Writer
	err error
}

// NewWriter returns a Writer that writes to w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10)}
}

// WriteRow writes one line. Errors are sticky and returned by Flush too.
func (w *Writer) WriteRow(fields ...string) error {
	if w.err != nil {
		return w.err
	}
	// Python writes a lone empty field as "" so that the line is not
	// mistaken for an empty one.
	if len(fields) == 1 && fields[0] == "" {
		_, w.err = w.w.WriteString("\"\"\r\n")
		return w.err
	}
	for i, f := range fields {
		if i > 0 {
			w.w.WriteByte(',')
		}
		w.writeField(f)
	}
	_, w.err = w.w.WriteString("\r\n")
	return w.err
}

func (w *Writer) writeField(f string) {
	if !strings.ContainsAny(f, ",\"\r\n") {
		w.w.WriteString(f)
		return
	}
	w.w.WriteByte('"')
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		w.w.WriteString(f[:i+1])
		w.w.WriteByte('"')
		f = f[i+1:]
	}
	w.w.WriteString(f)
	w.w.WriteByte('"')
}

// Flush writes any buffered data and returns the first error met.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}
