// Package sqlite writes export tables into a SQLite database file, with
// the pure-Go driver modernc.org/sqlite, so that the file opens in the
// sqlite3 shell, Datasette or DuckDB. It is apart from package export so
// that what imports export does not pull in the driver.
//
// Each table keeps the export's column names; a column's SQL type comes
// from the kind of its values: TEXT, INTEGER, REAL, and INTEGER 0 or 1 for
// a flag. A number the API wrote in a form that does not parse ("-", "")
// is NULL, as in the JSON lines export.
//
// The database is written under a temporary name beside its final path
// and renamed into place by Commit, so a failed or killed export never
// leaves a partial database under the final name.
package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"ctrunner/export"
)

// InfoTable is the table that says what each other table was made from.
const InfoTable = "export_info"

// infoColumns are the columns of InfoTable: one row per table, with the
// snapshot it was made from, or NULL snapshot columns for a table made
// from all the election's snapshots (timeline, snapshots).
var infoColumns = []export.Column{
	{Name: "table_name", Kind: export.KindText}, {Name: "election_id", Kind: export.KindText},
	{Name: "snapshot_id", Kind: export.KindText}, {Name: "version", Kind: export.KindInt},
	{Name: "fetched_at", Kind: export.KindText},
}

// indexes lists, per table, the columns of each index made once the
// table's rows are in: the columns a query filters or joins on.
var indexes = map[string][][]string{
	export.TableResults:    {{"office_id", "town_id"}, {"candidate_id"}},
	export.TableOffices:    {{"office_id"}},
	export.TableCandidates: {{"candidate_id"}},
	export.TableTimeline:   {{"office_id", "fetched_at"}, {"candidate_id"}, {"snapshot_id"}},
	export.TableSnapshots:  {{"snapshot_id"}},
}

// File is a SQLite database being written. Call Commit to put it in
// place, or Abort to throw it away; Abort after Commit does nothing.
type File struct {
	path string // the final name
	tmp  string // where it is written meanwhile
	db   *sql.DB
	tx   *sql.Tx
	info [][]export.Value
	done bool
}

// Create starts a new database that Commit will put at path, replacing a
// file already there. The folder of path must exist.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("writing %s: is a folder", path)
	}
	tmpFile, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := tmpFile.Name()
	tmpFile.Close()

	f := &File{path: path, tmp: tmp}
	// No rollback journal and no syncs while the file is being built: a
	// failure discards the whole file, and Commit syncs it once at the end.
	dsn := "file:" + tmp + "?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)"
	if f.db, err = sql.Open("sqlite", dsn); err != nil {
		f.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	f.db.SetMaxOpenConns(1)
	if f.tx, err = f.db.Begin(); err != nil {
		f.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return f, nil
}

// Origin says what a table was made from, for InfoTable: the snapshot of
// a per-snapshot table, or nil for a table of all the election's
// snapshots.
type Origin struct {
	Election string
	Snapshot *export.TimelineEntry
}

// Table creates the table name with the given columns and returns a
// RowWriter that inserts into it. Its Flush makes the table's indexes;
// call it before the next Table.
func (f *File) Table(name string, cols []export.Column, from Origin) (export.RowWriter, error) {
	defs := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = quote(c.Name) + " " + sqlType(c.Kind)
		marks[i] = "?"
	}
	create := fmt.Sprintf("CREATE TABLE %s (%s)", quote(name), strings.Join(defs, ", "))
	if _, err := f.tx.Exec(create); err != nil {
		return nil, fmt.Errorf("writing %s: creating table %s: %w", f.path, name, err)
	}
	insert := fmt.Sprintf("INSERT INTO %s VALUES (%s)", quote(name), strings.Join(marks, ", "))
	stmt, err := f.tx.Prepare(insert)
	if err != nil {
		return nil, fmt.Errorf("writing %s: table %s: %w", f.path, name, err)
	}

	info := []export.Value{export.Text(name), export.Text(from.Election),
		export.Null(export.KindText), export.Null(export.KindInt), export.Null(export.KindText)}
	if s := from.Snapshot; s != nil {
		info[2] = export.Text(s.ID.String())
		info[3] = export.Int(int64(s.Version))
		info[4] = export.Text(s.FetchedAt.UTC().Format(time.RFC3339))
	}
	if name != InfoTable {
		f.info = append(f.info, info)
	}
	return &rows{f: f, name: name, cols: cols, stmt: stmt, args: make([]any, len(cols))}, nil
}

// WriteTable writes a whole table made from one origin.
func (f *File) WriteTable(t *export.Table, from Origin) error {
	rw, err := f.Table(t.Name, t.Schema(), from)
	if err != nil {
		return err
	}
	return export.WriteRows(rw, t)
}

// Commit writes InfoTable, commits, syncs the file and renames it to its
// final name.
func (f *File) Commit() error {
	defer f.Abort()
	rw, err := f.Table(InfoTable, infoColumns, Origin{})
	if err != nil {
		return err
	}
	for _, row := range f.info {
		if err := rw.WriteRow(row); err != nil {
			return err
		}
	}
	if err := rw.Flush(); err != nil {
		return err
	}
	if err := f.tx.Commit(); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := os.Chmod(f.tmp, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := syncFile(f.tmp); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := os.Rename(f.tmp, f.path); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	f.done = true
	if err := syncFile(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// Abort closes the database and removes the temporary file, unless
// Commit has put it in place.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	if f.tx != nil {
		f.tx.Rollback()
	}
	if f.db != nil {
		f.db.Close()
	}
	os.Remove(f.tmp)
}

// rows inserts the rows of one table.
type rows struct {
	f    *File
	name string
	cols []export.Column
	stmt *sql.Stmt
	args []any
}

func (r *rows) WriteRow(row []export.Value) error {
	if len(row) != len(r.cols) {
		return fmt.Errorf("writing %s: table %s: row of %d values for %d columns",
			r.f.path, r.name, len(row), len(r.cols))
	}
	for i, v := range row {
		r.args[i] = sqlValue(v)
	}
	if _, err := r.stmt.Exec(r.args...); err != nil {
		return fmt.Errorf("writing %s: table %s: %w", r.f.path, r.name, err)
	}
	return nil
}

// Flush ends the table's inserts and makes its indexes.
func (r *rows) Flush() error {
	if err := r.stmt.Close(); err != nil {
		return fmt.Errorf("writing %s: table %s: %w", r.f.path, r.name, err)
	}
	for _, cols := range indexes[r.name] {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = quote(c)
		}
		stmt := fmt.Sprintf("CREATE INDEX %s ON %s (%s)",
			quote(r.name+"_"+strings.Join(cols, "_")), quote(r.name), strings.Join(quoted, ", "))
		if _, err := r.f.tx.Exec(stmt); err != nil {
			return fmt.Errorf("writing %s: indexing table %s: %w", r.f.path, r.name, err)
		}
	}
	return nil
}

// sqlType is the declared SQL type of a column of kind k.
func sqlType(k export.Kind) string {
	switch k {
	case export.KindInt, export.KindBool:
		return "INTEGER"
	case export.KindFloat:
		return "REAL"
	}
	return "TEXT"
}

// sqlValue is the value the driver stores for v: NULL for a number that
// did not parse, 0 or 1 for a flag.
func sqlValue(v export.Value) any {
	if v.Kind == export.KindText {
		return v.Text
	}
	if !v.Valid {
		return nil
	}
	switch v.Kind {
	case export.KindInt:
		return v.Int
	case export.KindFloat:
		return v.Float
	case export.KindBool:
		if v.Bool {
			return int64(1)
		}
		return int64(0)
	}
	return v.Text
}

// quote quotes an SQL identifier ("order" is a keyword).
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// syncFile flushes a file or folder to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
