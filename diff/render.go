package diff

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"ctrunner/export"
	"ctrunner/snapshot"
)

// TextOptions shape the readable form of a Report.
type TextOptions struct {
	// Top is the most vote changes shown per office; 0 shows all. The
	// line after the last one says how many were left out.
	Top int
}

// csvHeader is the first line of WriteCSV's output. Each later line is one
// Change, its section first (summary, votes, office_precincts, leads,
// towns, turnout, lookup, ballot_questions); delta is empty when the
// values are not counts.
var csvHeader = []string{"section", "kind", "office_id", "office", "town_id", "town",
	"subject_id", "subject", "party", "field", "from", "to", "delta"}

// WriteCSV writes r as CSV: the header line csvHeader, then one line per
// change in the order of the Report's sections. Quoting and line ends are
// those of export.Writer.
func WriteCSV(w io.Writer, r *Report) error {
	cw := export.NewWriter(w)
	cw.WriteRow(csvHeader...)
	for _, s := range r.sections() {
		for _, ch := range *s.changes {
			delta := ""
			if ch.Delta != nil {
				delta = strconv.FormatInt(*ch.Delta, 10)
			}
			cw.WriteRow(s.name, string(ch.Kind), string(ch.OfficeID), ch.Office,
				string(ch.TownID), ch.Town, ch.SubjectID, ch.Subject, ch.Party, ch.Field,
				ch.From, ch.To, delta)
		}
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("writing diff CSV: %w", err)
	}
	return nil
}

// WriteJSON writes r as one indented JSON object with the fields of
// Report: election, from, to, identical, filter (when filtered) and one
// array of changes per section, empty when nothing changed there.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing diff JSON: %w", err)
	}
	return nil
}

// WriteText writes r for a person to read: a heading, then the election's
// figures, towns, lookup changes, each office's changes (largest first),
// turnout and ballot questions. Identical snapshots give one line,
// "no change in the results between version A and B".
func WriteText(w io.Writer, r *Report, opts TextOptions) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	t := &textWriter{w: bw}
	t.report(r, opts)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing diff: %w", err)
	}
	return nil
}

// textWriter writes the text form; its table method aligns columns.
type textWriter struct {
	w *bufio.Writer
}

func (t *textWriter) line(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
}

// listWidth is the width list wraps its names at.
const listWidth = 100

// list writes head and then names, comma-separated, wrapped at listWidth
// with the lines after the first indented.
func (t *textWriter) list(head string, names []string) {
	line := head
	for i, name := range names {
		item := name
		if i < len(names)-1 {
			item += ","
		}
		if len(line)+1+len(item) > listWidth && line != head {
			t.line("%s", line)
			line = "     "
		}
		line += " " + item
	}
	t.line("%s", line)
}

// table writes rows with tab-separated cells, aligned.
func (t *textWriter) table(rows [][]string) {
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}

func sideName(s Side) string {
	if s.Label == "" {
		return "version " + s.Version.String()
	}
	return fmt.Sprintf("%s (version %s)", s.Label, s.Version)
}

func (t *textWriter) report(r *Report, opts TextOptions) {
	filter := ""
	if r.Filtered != "" {
		filter = " for " + r.Filtered
	}
	if r.Identical {
		t.line("no change in the results%s between version %s and %s", filter,
			r.From.Version, r.To.Version)
		return
	}
	t.line("election %s: %s -> %s%s", r.Election, sideName(r.From), sideName(r.To), filter)

	if len(r.Summary) > 0 {
		t.line("")
		t.line("election")
		var rows [][]string
		for _, ch := range r.Summary {
			rows = append(rows, []string{"  " + strings.ReplaceAll(ch.Field, "_", " "),
				fromTo(ch)})
		}
		t.table(rows)
	}
	t.towns(r.Towns)
	t.lookup(r.Lookup)
	t.offices(r, opts)
	t.turnout(r.Turnout)
	t.ballotQuestions(r.BallotQuestions)
}

// fromTo shows a change of value: "1,200 -> 1,250 (+50)".
func fromTo(ch Change) string {
	from, to := ch.From, ch.To
	if ch.Kind == Added {
		from = "(none)"
	}
	if ch.Kind == Removed {
		to = "(none)"
	}
	s := from + " -> " + to
	if ch.Delta != nil {
		s += " (" + signed(*ch.Delta) + ")"
	}
	return s
}

// signed writes n with a sign and thousands separators: "+1,234".
func signed(n int64) string {
	if n < 0 {
		return snapshot.Thousands(n)
	}
	return "+" + snapshot.Thousands(n)
}

// grouped writes a count as written by the API with thousands
// separators, "134400" as "134,400"; anything else stays as it is.
func grouped(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return s
	}
	return snapshot.Thousands(n)
}

func (t *textWriter) towns(changes []Change) {
	if len(changes) == 0 {
		return
	}
	t.line("")
	t.line("towns")
	var reported, vanished []string
	type statusPair struct{ from, to string }
	var pairs []statusPair
	byPair := map[statusPair][]string{}
	var precincts [][]string
	for _, ch := range changes {
		switch ch.Field {
		case "reported":
			if ch.Kind == Added {
				reported = append(reported, ch.Town)
			} else {
				vanished = append(vanished, ch.Town)
			}
		case "status":
			p := statusPair{orNone(ch.From), orNone(ch.To)}
			if _, ok := byPair[p]; !ok {
				pairs = append(pairs, p)
			}
			byPair[p] = append(byPair[p], ch.Town)
		default:
			precincts = append(precincts, []string{"    " + ch.Town, fromTo(ch)})
		}
	}
	if len(reported) > 0 {
		t.list(fmt.Sprintf("  newly reported (%d):", len(reported)), reported)
	}
	if len(vanished) > 0 {
		t.list(fmt.Sprintf("  vanished from the counts (%d):", len(vanished)), vanished)
	}
	for _, p := range pairs {
		towns := byPair[p]
		t.list(fmt.Sprintf("  status %s -> %s (%d):", p.from, p.to, len(towns)), towns)
	}
	if len(precincts) > 0 {
		t.line("  precincts reporting")
		t.table(precincts)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (t *textWriter) lookup(changes []Change) {
	if len(changes) == 0 {
		return
	}
	t.line("")
	t.line("lookup data")
	for _, ch := range changes {
		what, attr, _ := strings.Cut(ch.Field, "_")
		switch ch.Kind {
		case Added:
			t.line("  %s %s added: %q", what, ch.SubjectID, ch.To)
		case Removed:
			t.line("  %s %s removed (was %q)", what, ch.SubjectID, ch.From)
		default:
			verb := attr + " changed"
			if attr == "name" {
				verb = "renamed"
			}
			t.line("  %s %s %s: %q -> %q", what, ch.SubjectID, verb, ch.From, ch.To)
		}
	}
}

// offices writes each office's precincts, leads and votes, offices in
// the order of r.Votes.
func (t *textWriter) offices(r *Report, opts TextOptions) {
	var order []snapshot.OfficeID
	names := map[snapshot.OfficeID]string{}
	for _, list := range [][]Change{r.Votes, r.OfficePrecincts, r.Leads} {
		for _, ch := range list {
			if _, ok := names[ch.OfficeID]; !ok {
				names[ch.OfficeID] = ch.Office
				order = append(order, ch.OfficeID)
			}
		}
	}
	for _, id := range order {
		t.line("")
		t.line("office %s (%s)", names[id], id)
		for _, ch := range r.OfficePrecincts {
			if ch.OfficeID == id {
				t.line("  precincts reporting: %s", fromTo(ch))
			}
		}
		var leads [][]string
		for _, ch := range r.Leads {
			if ch.OfficeID == id {
				leads = append(leads, []string{"    " + ch.Town, ch.From + " -> " + ch.To})
			}
		}
		if len(leads) > 0 {
			t.line("  lead changed")
			t.table(leads)
		}
		var votes [][]string
		shown, total := 0, 0
		for _, ch := range r.Votes {
			if ch.OfficeID != id || ch.Delta != nil && *ch.Delta == 0 {
				// (A candidate added or removed without votes is in the
				// CSV and JSON forms; here it would be noise.)
				continue
			}
			total++
			if opts.Top > 0 && shown == opts.Top {
				continue
			}
			shown++
			delta := ""
			if ch.Delta != nil {
				delta = signed(*ch.Delta)
			}
			cand := ch.Subject
			if ch.Party != "" {
				cand += " (" + ch.Party + ")"
			}
			votes = append(votes, []string{"    " + ch.Town, cand, delta,
				grouped(orNone(ch.From)) + " -> " + grouped(orNone(ch.To))})
		}
		if len(votes) > 0 {
			t.line("  votes")
			t.table(votes)
		}
		if shown < total {
			t.line("    ... and %d smaller changes", total-shown)
		}
	}
}

func (t *textWriter) turnout(changes []Change) {
	if len(changes) == 0 {
		return
	}
	t.line("")
	t.line("turnout")
	var rows [][]string
	for _, ch := range changes {
		rows = append(rows, []string{"  " + ch.Town, strings.ReplaceAll(ch.Field, "_", " "),
			fromTo(ch)})
	}
	t.table(rows)
}

func (t *textWriter) ballotQuestions(changes []Change) {
	if len(changes) == 0 {
		return
	}
	t.line("")
	t.line("ballot questions")
	last := ""
	for _, ch := range changes {
		if key := ch.Town + "\x00" + ch.SubjectID; key != last {
			last = key
			t.line("  %s, question %s: %s", ch.Town, ch.SubjectID, clip(ch.Subject, 72))
		}
		if ch.Field == "question" {
			t.line("    text: %q -> %q", ch.From, ch.To)
			continue
		}
		t.line("    %s: %s", ch.Field, fromTo(ch))
	}
}

// clip shortens s to at most n runes, marking the cut with "...".
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
