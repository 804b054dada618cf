package main

import (
	"bufio"
	"encoding/json"
	"io"
	"unicode/utf8"
)

// The listings (log, polls, status) print either aligned columns under a
// header or, with --json, one JSON object a line.

// writeJSONLines writes one JSON object a line: each item as record makes
// it.
func writeJSONLines[T, R any](w io.Writer, items []T, record func(T) R) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(record(it)); err != nil {
			return err
		}
	}
	return nil
}

// writeColumns writes rows as aligned columns, two spaces apart, the last
// column unpadded: what text/tabwriter does, without holding a copy of
// every cell, which mattered for logs of thousands of snapshots.
func writeColumns(w io.Writer, rows [][]string) error {
	var widths []int
	for _, row := range rows {
		for i, cell := range row[:max(len(row)-1, 0)] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, row := range rows {
		for i, cell := range row {
			bw.WriteString(cell)
			if i < len(row)-1 {
				for pad := widths[i] - utf8.RuneCountInString(cell) + 2; pad > 0; pad-- {
					bw.WriteByte(' ')
				}
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
