package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"ctrunner/snapshot"
)

// Kind is the type of a table cell's value.
type Kind uint8

// The kinds of value a cell can hold.
const (
	// KindText is a string.
	KindText Kind = iota
	// KindInt is a whole number.
	KindInt
	// KindFloat is a decimal number.
	KindFloat
	// KindBool is true or false.
	KindBool
)

// Value is one cell of a Table. A number or flag the API wrote in a form
// that does not parse is kept as its text with Valid false: CSV shows the
// text as written, JSON lines show null.
type Value struct {
	Kind  Kind
	Valid bool   // false for a number or flag that did not parse
	Text  string // the text of a KindText value, or the raw text of any other
	Int   int64
	Float float64
	Bool  bool
}

// Text returns a text value.
func Text(s string) Value { return Value{Kind: KindText, Valid: true, Text: s} }

// Int returns a whole-number value.
func Int(n int64) Value { return Value{Kind: KindInt, Valid: true, Int: n} }

// Null returns a number of kind k that is missing.
func Null(k Kind) Value { return Value{Kind: k} }

// CountValue returns a count as a whole number, or as null keeping its
// text when it is not one ("-", "").
func CountValue(c snapshot.Count) Value {
	n, ok := c.Int()
	return Value{Kind: KindInt, Valid: ok, Int: n, Text: string(c)}
}

// PercentValue returns a percentage as a number of percent (76.44 for
// "76.44%"), or as null keeping its text when it is not a number.
func PercentValue(p snapshot.Percent) Value {
	f, ok := p.Float()
	return Value{Kind: KindFloat, Valid: ok, Float: f, Text: string(p)}
}

// BoolValue returns a boolean value.
func BoolValue(b bool) Value { return Value{Kind: KindBool, Valid: true, Bool: b} }

// String returns the value as CSV shows it: numbers in decimal, booleans
// as true or false, and an invalid number as the text the API wrote.
func (v Value) String() string {
	if !v.Valid || v.Kind == KindText {
		return v.Text
	}
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'f', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	}
	return v.Text
}

// appendJSON appends the value as JSON: a string, a number, a boolean, or
// null for an invalid number or flag.
func (v Value) appendJSON(b []byte) []byte {
	if v.Kind == KindText {
		q, _ := json.Marshal(v.Text)
		return append(b, q...)
	}
	if !v.Valid {
		return append(b, "null"...)
	}
	return append(b, v.String()...)
}

// Column is one column of a table: its name, lowercase snake_case, and
// the kind of every value in it.
type Column struct {
	Name string
	Kind Kind
}

// Table is a named list of rows with a column name for each cell, the form
// every export shares. Column names are lowercase snake_case. Kinds, when
// set, holds the kind of each column; every table this package builds
// sets it.
type Table struct {
	Name    string
	Columns []string
	Kinds   []Kind
	Rows    [][]Value
}

// newTable returns an empty table with the given columns.
func newTable(name string, cols []Column) *Table {
	t := &Table{Name: name}
	for _, c := range cols {
		t.Columns = append(t.Columns, c.Name)
		t.Kinds = append(t.Kinds, c.Kind)
	}
	return t
}

// Schema returns the columns of t, with their kinds (KindText for all
// when t has no Kinds).
func (t *Table) Schema() []Column {
	cols := make([]Column, len(t.Columns))
	for i, name := range t.Columns {
		cols[i] = Column{Name: name}
		if t.Kinds != nil {
			cols[i].Kind = t.Kinds[i]
		}
	}
	return cols
}

// add appends a row, which must have one value per column, each of its
// column's kind.
func (t *Table) add(row ...Value) {
	checkRow(t.Name, t.Columns, t.Kinds, row)
	t.Rows = append(t.Rows, row)
}

// checkRow panics when a row does not fit its table: a bug in this
// package, never bad input.
func checkRow(table string, columns []string, kinds []Kind, row []Value) {
	if len(row) != len(columns) {
		panic(fmt.Sprintf("export: table %s: row of %d values for %d columns",
			table, len(row), len(columns)))
	}
	for i, k := range kinds {
		if row[i].Kind != k {
			panic(fmt.Sprintf("export: table %s: column %s holds a value of kind %d, not %d",
				table, columns[i], row[i].Kind, k))
		}
	}
}

// RowWriter writes a table one row at a time. A row passed to WriteRow
// may be reused by the caller once WriteRow returns. Flush writes what is
// buffered and returns the first error met.
type RowWriter interface {
	WriteRow(row []Value) error
	Flush() error
}

// NewCSVRowWriter returns a RowWriter that writes CSV to w: the header
// line of column names at once, then one line per row, quoted as the
// Writer quotes, CRLF line ends. name is the table's, for errors.
func NewCSVRowWriter(w io.Writer, name string, columns []string) RowWriter {
	cw := &csvRows{name: name, w: NewWriter(w), fields: make([]string, len(columns))}
	cw.w.WriteRow(columns...)
	return cw
}

type csvRows struct {
	name   string
	w      *Writer
	fields []string
}

func (c *csvRows) WriteRow(row []Value) error {
	for i, v := range row {
		c.fields[i] = v.String()
	}
	if err := c.w.WriteRow(c.fields...); err != nil {
		return fmt.Errorf("writing %s CSV: %w", c.name, err)
	}
	return nil
}

func (c *csvRows) Flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("writing %s CSV: %w", c.name, err)
	}
	return nil
}

// NewJSONLRowWriter returns a RowWriter that writes JSON lines to w: one
// object per row, its members named by the columns in column order,
// numbers and booleans as JSON numbers and booleans, and null where the
// API's text did not parse. name is the table's, for errors.
func NewJSONLRowWriter(w io.Writer, name string, columns []string) RowWriter {
	j := &jsonlRows{name: name, w: bufio.NewWriterSize(w, 64<<10), keys: make([][]byte, len(columns))}
	for i, c := range columns {
		q, _ := json.Marshal(c)
		j.keys[i] = append(q, ':')
	}
	return j
}

type jsonlRows struct {
	name string
	w    *bufio.Writer
	keys [][]byte
	line []byte
}

func (j *jsonlRows) WriteRow(row []Value) error {
	j.line = append(j.line[:0], '{')
	for i, v := range row {
		if i > 0 {
			j.line = append(j.line, ',')
		}
		j.line = append(j.line, j.keys[i]...)
		j.line = v.appendJSON(j.line)
	}
	j.line = append(j.line, '}', '\n')
	if _, err := j.w.Write(j.line); err != nil {
		return fmt.Errorf("writing %s JSON lines: %w", j.name, err)
	}
	return nil
}

func (j *jsonlRows) Flush() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("writing %s JSON lines: %w", j.name, err)
	}
	return nil
}

// WriteRows writes every row of t to rw and flushes it.
func WriteRows(rw RowWriter, t *Table) error {
	for _, row := range t.Rows {
		if err := rw.WriteRow(row); err != nil {
			return err
		}
	}
	return rw.Flush()
}

// WriteTableCSV writes t as CSV: a header line of column names, then one
// line per row, quoted as the Writer quotes, CRLF line ends.
func WriteTableCSV(w io.Writer, t *Table) error {
	return WriteRows(NewCSVRowWriter(w, t.Name, t.Columns), t)
}

// WriteTableJSONL writes t as JSON lines: one object per row, its members
// named by the columns in column order, numbers and booleans as JSON
// numbers and booleans, and null where the API's text did not parse.
func WriteTableJSONL(w io.Writer, t *Table) error {
	return WriteRows(NewJSONLRowWriter(w, t.Name, t.Columns), t)
}

// ParseReporting reads a precincts reporting line, "33 of 121 (27.27%)",
// into its two counts. ok is false when the text has another shape.
func ParseReporting(s string) (reporting, total int64, ok bool) {
	k, rest, found := strings.Cut(strings.TrimSpace(s), " of ")
	if !found {
		return 0, 0, false
	}
	p, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	kn, ok1 := snapshot.Count(k).Int()
	pn, ok2 := snapshot.Count(p).Int()
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return kn, pn, true
}

// reportingValues returns a precincts reporting line as two whole numbers,
// both null when it does not parse.
func reportingValues(s string) (Value, Value) {
	k, p, ok := ParseReporting(s)
	if !ok {
		return Value{Kind: KindInt, Text: s}, Value{Kind: KindInt, Text: s}
	}
	return Int(k), Int(p)
}

// The names of the tables, as the export command takes them.
const (
	TableResults    = "results"
	TableTurnout    = "turnout"
	TableQuestions  = "questions"
	TablePrecincts  = "precincts"
	TableOffices    = "offices"
	TableCandidates = "candidates"
	TableTimeline   = "timeline"
)

// The columns of each table, in order.
var (
	resultsColumns = []Column{
		{"line", KindText}, {"office_id", KindText}, {"office", KindText},
		{"town_id", KindText}, {"town", KindText}, {"candidate_id", KindText},
		{"candidate", KindText}, {"party", KindText}, {"votes", KindInt},
		{"share_percent", KindFloat},
	}
	turnoutColumns = []Column{
		{"town_id", KindText}, {"town", KindText}, {"precincts_reporting", KindInt},
		{"precincts_total", KindInt}, {"eligible", KindInt}, {"voted", KindInt},
		{"absentee_received", KindInt}, {"absentee_counted", KindInt},
		{"edr_received", KindInt}, {"edr_counted", KindInt}, {"early_received", KindInt},
		{"early_counted", KindInt}, {"turnout_percent", KindFloat},
	}
	questionsColumns = []Column{
		{"town", KindText}, {"position", KindInt}, {"question", KindText}, {"yes", KindInt},
		{"no", KindInt}, {"nth", KindText}, {"ntl", KindText},
	}
	precinctsColumns = []Column{
		{"town_id", KindText}, {"town", KindText}, {"official", KindBool},
		{"status", KindText}, {"precincts_reporting", KindInt}, {"precincts_total", KindInt},
	}
	officesColumns = []Column{
		{"office_id", KindText}, {"office", KindText}, {"type", KindText}, {"order", KindInt},
		{"district", KindInt}, {"district_text", KindText},
	}
	candidatesColumns = []Column{
		{"candidate_id", KindText}, {"candidate", KindText}, {"party_id", KindText},
		{"party", KindText}, {"party_name", KindText}, {"office_ids", KindText},
		{"offices", KindText},
	}
)

// SnapshotTables lists the tables made from one snapshot, in the order the
// help text shows them.
var SnapshotTables = []string{TableResults, TableTurnout, TableQuestions,
	TablePrecincts, TableOffices, TableCandidates}

// SnapshotTable builds the table called name from one snapshot's
// documents. ok is false for a name not in SnapshotTables.
func SnapshotTable(name string, ed *snapshot.ElectionData,
	ld *snapshot.LookupData) (t *Table, ok bool) {
	switch name {
	case TableResults:
		return ResultsTable(ed, ld), true
	case TableTurnout:
		return TurnoutTable(ed), true
	case TableQuestions:
		return QuestionsTable(ed), true
	case TablePrecincts:
		return PrecinctsTable(ed, ld), true
	case TableOffices:
		return OfficesTable(ld), true
	case TableCandidates:
		return CandidatesTable(ed, ld), true
	}
	return nil, false
}

// Result lines: a candidate's count on one party line, or a person's
// count combined over all their party lines (candidateGrouping).
const (
	LineParty    = "party"
	LineCombined = "combined"
)

// ResultsTable lists every candidate's votes, in the order of Results
// (statewide first, then town by town), each with line "party"; then the
// statewide combined totals of candidateGrouping, office by office, with
// line "combined": there the candidate is the person's first candidacy
// and the party that candidacy's party. Codes LookupData lacks are kept
// visible, as in Results.
func ResultsTable(ed *snapshot.ElectionData, ld *snapshot.LookupData) *Table {
	t := newTable(TableResults, resultsColumns)
	add := func(line string, r *ResultRow) {
		t.add(Text(line), Text(string(r.OfficeID)), Text(r.Office), Text(string(r.TownID)),
			Text(r.Town), Text(string(r.CandidateID)), Text(r.Candidate), Text(r.Party),
			CountValue(r.Votes), PercentValue(r.VotePercent))
	}
	rows := Results(ed, ld, nil)
	for i := range rows {
		add(LineParty, &rows[i])
	}

	b := newRowBuilder(ed, ld, nil)
	var combined []ResultRow
	for office, votes := range ed.CandidateGrouping.All() {
		combined = b.appendVotes(combined, office, "", StatewideTown, votes)
	}
	for i := range combined {
		add(LineCombined, &combined[i])
	}
	return t
}

// TurnoutTable lists the voter turnout of each town in voterTurnout order,
// the total included (its town_id is the key the API gives it). The early
// voting columns are null before 2024, when the API did not have them.
func TurnoutTable(ed *snapshot.ElectionData) *Table {
	t := newTable(TableTurnout, turnoutColumns)
	for id, v := range ed.VoterTurnout.All() {
		k, p := reportingValues(v.PrecinctsReporting)
		t.add(Text(string(id)), Text(v.Name), k, p, CountValue(v.Eligible),
			CountValue(v.Voted), CountValue(v.AbsenteeReceived),
			CountValue(v.AbsenteeCounted), CountValue(v.ElectionDayRegReceived),
			CountValue(v.ElectionDayRegCounted), CountValue(v.EarlyVotingReceived),
			CountValue(v.EarlyVotingCounted), PercentValue(v.Turnout))
	}
	return t
}

// QuestionsTable lists the ballot questions in ballotQuestion order: per
// town name, "State Wide" included, each question with its position in
// that town's list (from 1), text and counts.
func QuestionsTable(ed *snapshot.ElectionData) *Table {
	t := newTable(TableQuestions, questionsColumns)
	for town, qs := range ed.BallotQuestions.All() {
		for i, q := range qs {
			t.add(Text(town), Int(int64(i+1)), Text(q.Question), CountValue(q.Yes),
				CountValue(q.No), Text(q.NTH), Text(q.NTL))
		}
	}
	return t
}

// PrecinctsTable lists each town's status in townStatus order: whether
// its results are official, the status text as written, and its precincts
// reporting, k of P.
func PrecinctsTable(ed *snapshot.ElectionData, ld *snapshot.LookupData) *Table {
	t := newTable(TablePrecincts, precinctsColumns)
	for id, s := range ed.TownStatus.All() {
		k, p := reportingValues(s.PrecinctsReporting)
		t.add(Text(string(id)), Text(townName(ld, id)), BoolValue(s.Official()),
			Text(strings.TrimSpace(s.Status)), k, p)
	}
	return t
}

// townName returns the town's name, or "unknown town ID".
func townName(ld *snapshot.LookupData, id snapshot.TownID) string {
	if name, ok := ld.TownIDs.Get(id); ok {
		return name
	}
	return "unknown town " + string(id)
}

// OfficesTable lists officeList in document order.
func OfficesTable(ld *snapshot.LookupData) *Table {
	t := newTable(TableOffices, officesColumns)
	for _, o := range ld.Offices {
		t.add(Text(string(o.ID)), Text(o.Name), Text(o.Type),
			CountValue(snapshot.Count(o.Order)), CountValue(snapshot.Count(o.District)),
			Text(o.DistrictText))
	}
	return t
}

// CandidatesTable lists candidateIds in document order, then the
// candidates the vote lists name that candidateIds lacks (name "unknown
// candidate ID"). offices holds the names of the offices whose votes name
// the candidate, in the order first met (statewide, then town by town,
// then candidateGrouping), joined by "; ".
func CandidatesTable(ed *snapshot.ElectionData, ld *snapshot.LookupData) *Table {
	t := newTable(TableCandidates, candidatesColumns)

	// Which offices each candidate appears in, in the order met.
	var order []snapshot.CandidateID
	offices := map[snapshot.CandidateID][]snapshot.OfficeID{}
	note := func(office snapshot.OfficeID, votes []snapshot.Vote) {
		for _, v := range votes {
			list, seen := offices[v.Candidate]
			if !seen {
				order = append(order, v.Candidate)
			}
			if !containsOffice(list, office) {
				offices[v.Candidate] = append(list, office)
			}
		}
	}
	for office, votes := range ed.StateVotes.All() {
		note(office, votes)
	}
	for _, byOffice := range ed.TownVotes.All() {
		for office, votes := range byOffice.All() {
			note(office, votes)
		}
	}
	for office, votes := range ed.CandidateGrouping.All() {
		note(office, votes)
	}

	officeNames := map[snapshot.OfficeID]string{}
	for _, o := range ld.Offices {
		if _, ok := officeNames[o.ID]; !ok {
			officeNames[o.ID] = o.Name
		}
	}
	add := func(id snapshot.CandidateID, name string, party snapshot.PartyID) {
		ids := make([]string, 0, len(offices[id]))
		names := make([]string, 0, len(offices[id]))
		for _, o := range offices[id] {
			ids = append(ids, string(o))
			n, ok := officeNames[o]
			if !ok {
				n = "unknown office " + string(o)
			}
			names = append(names, n)
		}
		code, partyName := "", ""
		if party != "" {
			p, ok := ld.PartyIDs.Get(party)
			code, partyName = p.Code, p.Name
			if !ok {
				code = "unknown party " + string(party)
			}
		}
		t.add(Text(string(id)), Text(name), Text(string(party)), Text(code),
			Text(partyName), Text(strings.Join(ids, ";")), Text(strings.Join(names, "; ")))
	}
	for id, c := range ld.CandidateIDs.All() {
		add(id, c.Name, c.Party)
	}
	for _, id := range order {
		if !ld.CandidateIDs.Has(id) {
			add(id, "unknown candidate "+string(id), "")
		}
	}
	return t
}

func containsOffice(list []snapshot.OfficeID, id snapshot.OfficeID) bool {
	for _, o := range list {
		if o == id {
			return true
		}
	}
	return false
}
