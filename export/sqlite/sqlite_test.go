package sqlite

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ctrunner/export"
	"ctrunner/legacy"
	"ctrunner/snapshot"
)

// recordedTables returns every snapshot table of a recorded version, and
// its timeline and snapshots tables as of that one version.
func recordedTables(t *testing.T, election, version string) []*export.Table {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "ct-archive", election, version, "raw.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		gz, gzErr := os.ReadFile(path + ".gz")
		if gzErr != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	v, edRaw, ldRaw, err := legacy.Split(raw)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := snapshot.DecodeElectionData(edRaw)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := snapshot.DecodeLookupData(ldRaw)
	if err != nil {
		t.Fatal(err)
	}
	var tables []*export.Table
	for _, name := range export.SnapshotTables {
		tab, _ := export.SnapshotTable(name, ed, ld)
		tables = append(tables, tab)
	}

	snap := snapshot.New(snapshot.Meta{Election: snapshot.ElectionID(election), Version: v,
		FetchedAt: time.Date(2022, 11, 9, 5, 0, 0, 0, time.UTC), Source: snapshot.Imported,
		PrecinctsReporting: "1 of 2 (50.00%)", Suspect: []string{"a: b", "c: d"}},
		[]snapshot.File{{Name: snapshot.ElectionDataFile, Data: edRaw},
			{Name: snapshot.LookupDataFile, Data: ldRaw}})
	entries := []export.TimelineEntry{{ID: snap.ID(), Meta: snap.Meta}}
	timeline, err := export.Timeline(entries, func(export.TimelineEntry) (*snapshot.Snapshot, error) {
		return snap, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(tables, timeline, export.SnapshotsTable(entries))
}

// writeDB writes tables into path.
func writeDB(t *testing.T, path string, tables []*export.Table) {
	t.Helper()
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	for _, tab := range tables {
		if err := f.WriteTable(tab, Origin{Election: "80"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestReadBack writes every table of two recorded versions and reads them
// back through the driver: the same tables, columns and declared types,
// and row for row the values of the CSV export, NULL where the CSV has
// text that is not a number.
func TestReadBack(t *testing.T) {
	for _, v := range []struct{ election, version string }{{"24", "42355"}, {"80", "13392"}} {
		t.Run(v.election, func(t *testing.T) {
			tables := recordedTables(t, v.election, v.version)
			path := filepath.Join(t.TempDir(), "out.db")
			writeDB(t, path, tables)

			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			names := queryStrings(t, db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
			var want []string
			for _, tab := range tables {
				want = append(want, tab.Name)
			}
			want = append(want, InfoTable)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Fatalf("tables = %v, want %v", names, want)
			}
			for _, tab := range tables {
				checkTable(t, db, tab)
			}
		})
	}
}

func checkTable(t *testing.T, db *sql.DB, tab *export.Table) {
	t.Helper()
	var cols, types []string
	rows, err := db.Query(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, tab.Name)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols, types = append(cols, name), append(types, typ)
	}
	rows.Close()
	if !slices.Equal(cols, tab.Columns) {
		t.Fatalf("table %s columns = %v, want the CSV's %v", tab.Name, cols, tab.Columns)
	}
	for i, k := range tab.Kinds {
		if types[i] != sqlType(k) {
			t.Errorf("table %s column %s type = %s, want %s", tab.Name, cols[i], types[i], sqlType(k))
		}
	}

	rows, err = db.Query(`SELECT * FROM "` + tab.Name + `" ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	got := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range got {
		ptrs[i] = &got[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if n >= len(tab.Rows) {
			n++
			continue
		}
		for i, v := range tab.Rows[n] {
			if g, w := sqlText(got[i]), wantText(v); g != w {
				t.Fatalf("table %s row %d column %s = %s, want %s (CSV %q)",
					tab.Name, n+1, cols[i], g, w, v.String())
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(tab.Rows) {
		t.Errorf("table %s has %d rows, want %d", tab.Name, n, len(tab.Rows))
	}
}

// sqlText renders a value read from the database with its type.
func sqlText(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return "int " + export.Int(v).String()
	case float64:
		return "real " + export.Value{Kind: export.KindFloat, Valid: true, Float: v}.String()
	case string:
		return "text " + v
	}
	return "unexpected"
}

// wantText renders what the database should hold for v, from its CSV text.
func wantText(v export.Value) string {
	switch {
	case v.Kind == export.KindText:
		return "text " + v.String()
	case !v.Valid:
		return "NULL"
	case v.Kind == export.KindFloat:
		return "real " + v.String()
	case v.Kind == export.KindBool && v.Bool:
		return "int 1"
	case v.Kind == export.KindBool:
		return "int 0"
	}
	return "int " + v.String()
}

func queryStrings(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestSQLite3Shell opens a written database in the sqlite3 shell.
func TestSQLite3Shell(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 shell not installed (apt-get install sqlite3); skipping the shell check")
	}
	path := filepath.Join(t.TempDir(), "e24.db")
	writeDB(t, path, recordedTables(t, "24", "42355"))

	out, err := exec.Command(shell, "-batch", path, ".tables",
		"PRAGMA table_info(results);",
		"SELECT candidate, votes, share_percent FROM results WHERE line = 'party' AND town = 'statewide' ORDER BY votes DESC LIMIT 1;",
		"SELECT count(*) FROM precincts WHERE official = 1;",
		"SELECT typeof(votes) FROM timeline LIMIT 1;").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"candidates", "export_info", "timeline", "snapshots", "turnout",
		"0|line|TEXT|0||0\n", "8|votes|INTEGER|0||0\n", "9|share_percent|REAL|0||0\n",
		"\nJoe Polletta|2444|78.08\n3\ninteger\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("sqlite3 output lacks %q:\n%s", want, text)
		}
	}
	t.Logf("sqlite3 says:\n%s", text)
}

// TestCreateFailsCleanly checks that an aborted database leaves nothing
// behind, and that a folder that cannot be written is an error naming the
// file.
func TestCreateFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.db")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteTable(recordedTables(t, "24", "42355")[0], Origin{}); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("after Abort the folder holds %v, want nothing", entries)
	}

	_, err = Create(filepath.Join(dir, "missing", "out.db"))
	if err == nil || !strings.Contains(err.Error(), "out.db") {
		t.Errorf("Create in a missing folder = %v, want an error naming the file", err)
	}
}

// readmeTables reads the tables and columns README.md documents for the
// SQLite file: the rows of its table of tables, and export_info.
func readmeTables(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "**Tables.**")
	end := strings.Index(text, "**The SQLite file.**")
	if start < 0 || end < start {
		t.Fatal("README.md has no **Tables.** section before **The SQLite file.**")
	}
	tables := map[string][]string{}
	for _, line := range strings.Split(text[start:end], "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 2 || !strings.HasPrefix(cells[0], "| `") {
			continue
		}
		name := strings.Trim(cells[0], "| `")
		tables[name] = strings.Split(cells[1], ", ")
	}
	info := regexp.MustCompile("`export_info` \\(([^)]*)\\)").FindStringSubmatch(text)
	if info == nil {
		t.Fatal("README.md does not document export_info's columns")
	}
	tables["export_info"] = strings.Fields(strings.ReplaceAll(info[1], ",", " "))
	return tables
}

// TestSQLite3ShellMatchesREADME checks, in the sqlite3 shell, that a file
// of every table has the tables and columns README.md documents, in order.
func TestSQLite3ShellMatchesREADME(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 shell not installed (apt-get install sqlite3); skipping the shell check")
	}
	want := readmeTables(t)
	if len(want) < 9 {
		t.Fatalf("README.md documents %d tables, want the 8 tables and export_info: %v",
			len(want), want)
	}
	path := filepath.Join(t.TempDir(), "e24.db")
	writeDB(t, path, recordedTables(t, "24", "42355"))

	out, err := exec.Command(shell, "-batch", path,
		"SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	names := slices.Sorted(maps.Keys(want))
	if !slices.Equal(got, names) {
		t.Errorf("sqlite3 lists the tables %v, README.md documents %v", got, names)
	}
	for _, name := range names {
		out, err := exec.Command(shell, "-batch", path,
			"SELECT name FROM pragma_table_info('"+name+"') ORDER BY cid;").CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3: %v\n%s", err, out)
		}
		if cols := strings.Fields(string(out)); !slices.Equal(cols, want[name]) {
			t.Errorf("table %s has the columns %v in sqlite3, README.md documents %v",
				name, cols, want[name])
		}
	}
}
