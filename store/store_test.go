package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/snapshot"
)

// t0 is the fetch time of the first snapshot of most tests.
var t0 = time.Date(2024, 11, 5, 20, 15, 30, 123456789, time.UTC)

// opener opens the store in dir, creating it if dir does not exist.
type opener func(t *testing.T, dir string) Store

func TestGitStore(t *testing.T) {
	testStore(t, func(t *testing.T, dir string) Store {
		t.Helper()
		s, err := Open(dir, Options{Create: true})
		if err != nil {
			t.Fatalf("Open(%s) = %v", dir, err)
		}
		return s
	})
}

// testStore is the conformance suite every Store backend must pass.
func testStore(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"PutDedupLog", testPutDedupLog},
		{"LoadExact", testLoadExact},
		{"LoadVerifies", testLoadVerifies},
		{"Contains", testContains},
		{"Elections", testElections},
		{"LogUnknown", testLogUnknown},
		{"ElectionList", testElectionList},
		{"Trailers", testTrailers},
		{"Reopen", testReopen},
		{"Resolve", testResolve},
		{"ResolvePrefixes", testResolvePrefixes},
		{"InvalidInput", testInvalidInput},
		{"ConcurrentPuts", testConcurrentPuts},
		{"UpdateAllOrNothing", testUpdateAllOrNothing},
		{"UpdateInsideBatch", testUpdateInsideBatch},
		{"UpdateCancel", testUpdateCancel},
		{"UpdateConcurrentImports", testUpdateConcurrentImports},
		{"UpdateFaults", testUpdateFaults},
		{"UpdateCrash", testUpdateCrash},
		{"Suspect", testSuspect},
		{"Publish", testPublish},
		{"PublishInBatch", testPublishInBatch},
		{"PublishFaults", testPublishFaults},
		{"PublishCrash", testPublishCrash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

// newStore opens a new store in a fresh folder and closes it after the test.
func newStore(t *testing.T, open opener) (Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s := open(t, dir)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func doc(name, content string) snapshot.File {
	return snapshot.File{Name: name, Data: []byte(content)}
}

// snap builds a fetched snapshot of election id at version v.
func snap(id string, v int64, at time.Time, files ...snapshot.File) *snapshot.Snapshot {
	return snapshot.New(snapshot.Meta{
		Election:  snapshot.ElectionID(id),
		Version:   snapshot.Version(v),
		FetchedAt: at,
		Source:    snapshot.Fetched,
		SourceURL: fmt.Sprintf("http://127.0.0.1:8080/election/%s/%d/", id, v),
	}, files)
}

// docs returns the usual three documents of a version, with content
// derived from tag.
func docs(v int64, tag string) []snapshot.File {
	return []snapshot.File{
		doc(snapshot.VersionFile, fmt.Sprintf(`{"Version":%d}`, v)),
		doc(snapshot.ElectionDataFile, `{"election":{"PR":"`+tag+`"}}`),
		doc(snapshot.LookupDataFile, `{"election":{"NM":"test"}}`),
	}
}

func mustPut(t *testing.T, s Store, sn *snapshot.Snapshot) Entry {
	t.Helper()
	e, added, err := s.Put(context.Background(), sn)
	if err != nil {
		t.Fatalf("Put(%s@%s) = %v", sn.Election, sn.Version, err)
	}
	if !added {
		t.Fatalf("Put(%s@%s) added = false, want true", sn.Election, sn.Version)
	}
	return e
}

func mustLog(t *testing.T, s Store, id snapshot.ElectionID) []Entry {
	t.Helper()
	entries, err := s.Log(id)
	if err != nil {
		t.Fatalf("Log(%s) = %v", id, err)
	}
	return entries
}

// checkMeta compares metadata, times by instant.
func checkMeta(t *testing.T, what string, got, want snapshot.Meta) {
	t.Helper()
	if !got.FetchedAt.Equal(want.FetchedAt) {
		t.Errorf("%s: FetchedAt = %v, want %v", what, got.FetchedAt, want.FetchedAt)
	}
	got.FetchedAt, want.FetchedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: meta = %+v, want %+v", what, got, want)
	}
}

var bigDoc = sync.OnceValues(func() ([]byte, error) {
	f, err := os.Open("../testdata/ct-archive/80/13392/raw.json.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
})

// bigDocument returns the recorded 1.7 MB raw.json of election 80.
func bigDocument(t testing.TB) []byte {
	t.Helper()
	data, err := bigDoc()
	if err != nil {
		t.Fatalf("reading recorded document: %v", err)
	}
	if len(data) < 1_000_000 {
		t.Fatalf("recorded document has %d bytes, want more than 1 MB", len(data))
	}
	return data
}

func testPutDedupLog(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	s1 := snap("80", 1313, t0, docs(1313, "1 of 763")...)
	s2 := snap("80", 1314, t0.Add(time.Minute), docs(1314, "9 of 763")...)
	// s3 repeats the documents of s2 under a new API version.
	s3 := snap("80", 1315, t0.Add(2*time.Minute), s2.Files...)
	s4 := snap("80", 1313, t0.Add(3*time.Minute), s1.Files...)

	e1 := mustPut(t, s, s1)
	if e1.ID != s1.ID() {
		t.Errorf("Put entry ID = %s, want %s", e1.ID, s1.ID())
	}
	checkMeta(t, "Put entry", e1.Meta, s1.Meta)

	// The same ID and version again is not archived.
	again := snap("80", 1313, t0.Add(30*time.Second), s1.Files...)
	e, added, err := s.Put(ctx, again)
	if err != nil || added || !reflect.DeepEqual(e, e1) {
		t.Errorf("Put(same) = %+v, %v, %v; want %+v, false, nil", e, added, err, e1)
	}

	e2 := mustPut(t, s, s2)
	e3 := mustPut(t, s, s3)
	if e3.ID != e2.ID {
		t.Errorf("same documents: ID %s, want %s", e3.ID, e2.ID)
	}
	if _, added, _ := s.Put(ctx, s3); added {
		t.Errorf("Put(s3 twice) added = true, want false")
	}
	// Only the latest snapshot counts for deduplication.
	e4 := mustPut(t, s, s4)

	got := mustLog(t, s, "80")
	want := []Entry{e4, e3, e2, e1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Log = %+v, want %+v", got, want)
	}
	commits := map[string]bool{}
	for i, e := range got {
		if e.Commit == "" || commits[e.Commit] {
			t.Errorf("entry %d: commit %q empty or repeated", i, e.Commit)
		}
		commits[e.Commit] = true
	}
	for i, sn := range []*snapshot.Snapshot{s4, s3, s2, s1} {
		checkMeta(t, fmt.Sprintf("Log entry %d", i), got[i].Meta, sn.Meta)
	}
}

func testLoadExact(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	binary := make([]byte, 512)
	for i := range binary {
		binary[i] = byte(i)
	}
	sn := snap("80", 13392, t0,
		snapshot.File{Name: snapshot.LegacyRawFile, Data: bigDocument(t)},
		snapshot.File{Name: "binary.bin", Data: binary},
		snapshot.File{Name: "empty.json", Data: []byte{}},
		doc(snapshot.LegacyResultsFile, "town,votes\r\nHartford,\"1,278\"\r\n"),
	)
	e := mustPut(t, s, sn)

	for _, from := range []struct {
		name  string
		entry Entry
	}{{"Put", e}, {"Log", mustLog(t, s, "80")[0]}} {
		got, err := s.Load(from.entry)
		if err != nil {
			t.Fatalf("Load(%s entry) = %v", from.name, err)
		}
		if len(got.Files) != len(sn.Files) {
			t.Fatalf("Load(%s entry): %d files, want %d", from.name, len(got.Files), len(sn.Files))
		}
		for i, f := range got.Files {
			want := sn.Files[i]
			if f.Name != want.Name || !bytes.Equal(f.Data, want.Data) {
				t.Errorf("Load(%s entry) file %d = %q (%d bytes), want %q (%d bytes)",
					from.name, i, f.Name, len(f.Data), want.Name, len(want.Data))
			}
		}
		checkMeta(t, "Load", got.Meta, sn.Meta)
		if got.ID() != e.ID {
			t.Errorf("loaded snapshot ID = %s, want %s", got.ID(), e.ID)
		}
	}
}

func testLoadVerifies(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	e := mustPut(t, s, snap("80", 1, t0, docs(1, "x")...))

	tampered := e
	tampered.Documents = map[string]string{}
	for name, sum := range e.Documents {
		tampered.Documents[name] = sum
	}
	tampered.Documents[snapshot.VersionFile] = snapshot.SHA256([]byte("other"))
	if _, err := s.Load(tampered); err == nil {
		t.Errorf("Load(entry with a wrong SHA-256) = nil error, want one")
	}

	missing := e
	missing.Documents = map[string]string{snapshot.VersionFile: e.Documents[snapshot.VersionFile]}
	if _, err := s.Load(missing); err == nil {
		t.Errorf("Load(entry listing fewer documents) = nil error, want one")
	}

	unknown := e
	unknown.ID = snapshot.TreeHash([]snapshot.File{doc("never.json", "stored")})
	if _, err := s.Load(unknown); err == nil {
		t.Errorf("Load(entry of an unknown ID) = nil error, want one")
	}
}

func testContains(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	a := mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	b := mustPut(t, s, snap("80", 2, t0.Add(time.Minute), docs(2, "b")...))
	other := snapshot.TreeHash(docs(3, "c"))

	tests := []struct {
		election snapshot.ElectionID
		id       snapshot.Hash
		want     bool
	}{
		{"80", a.ID, true},
		{"80", b.ID, true},
		{"80", other, false},
		{"81", a.ID, false},
	}
	for _, tt := range tests {
		got, err := s.Contains(tt.election, tt.id)
		if err != nil || got != tt.want {
			t.Errorf("Contains(%s, %s) = %v, %v; want %v, nil",
				tt.election, tt.id.Short(), got, err, tt.want)
		}
	}
}

func testElections(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	got, err := s.Elections()
	if err != nil || len(got) != 0 {
		t.Errorf("Elections() of a new store = %v, %v; want none", got, err)
	}
	for i, id := range []string{"9", "100", "80", "24", "8"} {
		mustPut(t, s, snap(id, int64(i), t0, docs(int64(i), id)...))
	}
	if _, err := s.PutElectionList(context.Background(), []byte("[]"), t0, ""); err != nil {
		t.Fatalf("PutElectionList = %v", err)
	}
	got, err = s.Elections()
	want := []snapshot.ElectionID{"8", "9", "24", "80", "100"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Elections() = %v, %v; want %v, nil", got, err, want)
	}
}

func testLogUnknown(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	_, err := s.Log("99")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Log(99) = %v, want ErrNotFound", err)
	}
	if got, want := fmt.Sprint(err), "election 99 has no snapshots in this store"; got != want {
		t.Errorf("Log(99) error = %q, want %q", got, want)
	}
	_, err = s.Log("8x")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Log(8x) = %v, want an invalid-ID error", err)
	}
}

func testElectionList(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	const url = "http://127.0.0.1:8080/Elections.json"
	if _, _, err := s.ElectionList(); !errors.Is(err, ErrNotFound) {
		t.Errorf("ElectionList() of a new store = %v, want ErrNotFound", err)
	}

	list1 := []byte(`[{"ID":"80","Name":"11/07/2023 -- Municipal Election","DefaultElection":"Y"}]`)
	list2 := append([]byte(`[{"ID":"94","Name":"x","DefaultElection":"Y"},`), list1[1:]...)
	steps := []struct {
		data      []byte
		at        time.Time
		wantAdded bool
		wantData  []byte
		wantAt    time.Time
	}{
		{list1, t0, true, list1, t0},
		{list1, t0.Add(time.Hour), false, list1, t0},
		{list2, t0.Add(2 * time.Hour), true, list2, t0.Add(2 * time.Hour)},
		{list1, t0.Add(3 * time.Hour), true, list1, t0.Add(3 * time.Hour)},
	}
	for i, st := range steps {
		added, err := s.PutElectionList(ctx, st.data, st.at, url)
		if err != nil || added != st.wantAdded {
			t.Fatalf("step %d: PutElectionList = %v, %v; want %v, nil", i, added, err, st.wantAdded)
		}
		data, at, err := s.ElectionList()
		if err != nil || !bytes.Equal(data, st.wantData) || !at.Equal(st.wantAt) {
			t.Errorf("step %d: ElectionList() = %q, %v, %v; want %q, %v, nil",
				i, data, at, err, st.wantData, st.wantAt)
		}
	}
	if _, err := s.PutElectionList(ctx, nil, t0, url); err == nil {
		t.Errorf("PutElectionList(empty) = nil error, want one")
	}
	if got, _ := s.Elections(); len(got) != 0 {
		t.Errorf("Elections() after election lists = %v, want none", got)
	}
}

func testTrailers(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	files := []snapshot.File{
		doc("Électiondata.json", "é"),
		doc("a b: c.json", "colon"),
		doc("x sha256:y.json", "tricky"),
		doc("tab\u00a0nbsp.json", "nbsp"),
	}
	sn := snapshot.New(snapshot.Meta{
		Election:           "80",
		Version:            13392,
		FetchedAt:          time.Date(2023, 11, 8, 1, 2, 3, 4, time.FixedZone("EST", -5*3600)),
		Source:             snapshot.Imported,
		SourceURL:          "http://127.0.0.1:8080/a?b=c:d#e\nDocument: fake sha256:00",
		TimeSource:         "file modification time\r\n",
		PrecinctsReporting: "760 of 763 (99.61%)\tVersion: 1",
	}, files)
	want := sn.Meta
	want.SourceURL = "http://127.0.0.1:8080/a?b=c:d#e Document: fake sha256:00"
	want.TimeSource = "file modification time"
	want.PrecinctsReporting = "760 of 763 (99.61%) Version: 1"

	e := mustPut(t, s, sn)
	checkMeta(t, "Put entry", e.Meta, want)
	got := mustLog(t, s, "80")
	checkMeta(t, "Log entry", got[0].Meta, want)
	loaded, err := s.Load(got[0])
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !reflect.DeepEqual(loaded.Files, sn.Files) {
		t.Errorf("Load files = %q, want %q", loaded.Files, sn.Files)
	}
}

func testReopen(t *testing.T, open opener) {
	s, dir := newStore(t, open)
	ctx := context.Background()
	var want []Entry
	for v := int64(1); v <= 3; v++ {
		want = append([]Entry{mustPut(t, s, snap("80", v, t0, docs(v, "x")...))}, want...)
	}
	list := []byte(`[{"ID":"80"}]`)
	if _, err := s.PutElectionList(ctx, list, t0, "http://127.0.0.1/"); err != nil {
		t.Fatalf("PutElectionList = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	r := open(t, dir)
	defer r.Close()
	if got := mustLog(t, r, "80"); !reflect.DeepEqual(got, want) {
		t.Errorf("reopened Log = %+v, want %+v", got, want)
	}
	sn, err := r.Load(want[0])
	if err != nil || sn.ID() != want[0].ID {
		t.Errorf("reopened Load = %v, %v; want ID %s", sn, err, want[0].ID)
	}
	data, _, err := r.ElectionList()
	if err != nil || !bytes.Equal(data, list) {
		t.Errorf("reopened ElectionList() = %q, %v; want %q", data, err, list)
	}
}

func testResolve(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	a, b, c := docs(1, "a"), docs(2, "b"), docs(3, "c")
	a1 := mustPut(t, s, snap("80", 1313, t0, a...))
	b1 := mustPut(t, s, snap("80", 1314, t0.Add(1*time.Minute), b...))
	a2 := mustPut(t, s, snap("80", 1316, t0.Add(2*time.Minute), a...))
	c1 := mustPut(t, s, snap("80", 13392, t0.Add(3*time.Minute), c...))
	d := docs(4, "d")
	d81 := mustPut(t, s, snap("81", 5, t0, d...))
	mustPut(t, s, snap("82", 6, t0, d...))
	mustPut(t, s, snap("82", 7, t0, docs(4, "e")...))

	tests := []struct {
		ref  string
		want Entry
	}{
		{"80", c1},
		{" 80 ", c1},
		{"80~0", c1},
		{"80~1", a2},
		{"80~3", a1},
		{"80@1314", b1},
		{"80@1313", a1},
		{"81", d81},
		{a1.ID.String(), a2},
		{a1.ID.String()[:12], a2},
		{strings.ToUpper(b1.ID.String()[:10]), b1},
	}
	for _, tt := range tests {
		got, err := Resolve(s, tt.ref)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Resolve(%q) = %s %s@%s, %v; want %s %s@%s", tt.ref,
				got.ID.Short(), got.Election, got.Version, err,
				tt.want.ID.Short(), tt.want.Election, tt.want.Version)
		}
	}

	errTests := []struct {
		ref      string
		want     string
		notFound bool
	}{
		{"99", "election 99 has no snapshots in this store", true},
		{"80~4", "80~4: election 80 has only 4 snapshots", true},
		{"81~1", "81~1: election 81 has only 1 snapshot", true},
		{"80@1234", "election 80 has no snapshot of version 1234 " +
			"(versions: 1313, 1314, 1316, 13392)", true},
		{"99@1", "election 99 has no snapshots in this store", true},
		{d81.ID.String()[:8], fmt.Sprintf(
			"snapshot ID prefix %q is ambiguous: 2 snapshots match: "+
				"%s (election 81 version 5), %s (election 82 version 6)",
			d81.ID.String()[:8], d81.ID.Short(), d81.ID.Short()), false},
		{"", `invalid snapshot reference ""`, false},
		{"8x", `invalid snapshot reference "8x"`, false},
		{"abc", `invalid snapshot reference "abc"`, false},
		{"80@", `invalid snapshot reference "80@"`, false},
		{"80@x", `invalid snapshot reference "80@x"`, false},
		{"80~-1", `invalid snapshot reference "80~-1"`, false},
		{"@1", `invalid snapshot reference "@1"`, false},
		{"abcg", `invalid snapshot reference "abcg"`, false},
	}
	for _, tt := range errTests {
		got, err := Resolve(s, tt.ref)
		if err == nil {
			t.Errorf("Resolve(%q) = %s, want error %q", tt.ref, got.ID.Short(), tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Resolve(%q) error = %q, want %q", tt.ref, err, tt.want)
		}
		if errors.Is(err, ErrNotFound) != tt.notFound {
			t.Errorf("Resolve(%q) error wraps ErrNotFound = %v, want %v",
				tt.ref, !tt.notFound, tt.notFound)
		}
	}
}

// testResolvePrefixes covers prefixes that match nothing and prefixes
// shared by two different snapshot IDs.
func testResolvePrefixes(t *testing.T, open opener) {
	s, _ := newStore(t, open)

	// Find two snapshots whose IDs share their first four hex digits, at
	// least one of them a letter.
	first := map[string]int64{}
	var x, y int64
	for v := int64(0); ; v++ {
		p := snapshot.TreeHash(docs(v, "p")).String()[:4]
		if !strings.ContainsAny(p, "abcdef") {
			continue
		}
		if u, ok := first[p]; ok {
			x, y = u, v
			break
		}
		first[p] = v
	}
	ex := mustPut(t, s, snap("80", x, t0, docs(x, "p")...))
	ey := mustPut(t, s, snap("80", y, t0.Add(time.Minute), docs(y, "p")...))
	prefix := ex.ID.String()[:4]

	_, err := Resolve(s, prefix)
	want := fmt.Sprintf("snapshot ID prefix %q is ambiguous: 2 snapshots match: "+
		"%s (election 80 version %d), %s (election 80 version %d)",
		prefix, ey.ID.Short(), y, ex.ID.Short(), x)
	if err == nil || err.Error() != want {
		t.Errorf("Resolve(%q) = %v, want %q", prefix, err, want)
	}
	if got, err := Resolve(s, ex.ID.String()[:12]); err != nil || got.ID != ex.ID {
		t.Errorf("Resolve(12 digits) = %s, %v; want %s", got.ID.Short(), err, ex.ID.Short())
	}

	// A letter prefix and a 7-digit prefix that match no ID.
	for _, p := range []string{"abcd", "fedc", "1234567", "0000000"} {
		if strings.HasPrefix(ex.ID.String(), p) || strings.HasPrefix(ey.ID.String(), p) {
			continue
		}
		_, err := Resolve(s, p)
		want := fmt.Sprintf("no snapshot ID starts with %q", p)
		if !errors.Is(err, ErrNotFound) || err.Error() != want {
			t.Errorf("Resolve(%q) = %v, want %q", p, err, want)
		}
	}
	// Six digits name an election, not a prefix.
	_, err = Resolve(s, "123456")
	if want := "election 123456 has no snapshots in this store"; fmt.Sprint(err) != want {
		t.Errorf("Resolve(123456) = %v, want %q", err, want)
	}
}

func testInvalidInput(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	good := docs(1, "a")
	mismatched := snap("80", 1, t0, good...)
	mismatched.Documents[snapshot.VersionFile] = snapshot.SHA256([]byte("other"))
	tests := []struct {
		name string
		sn   *snapshot.Snapshot
	}{
		{"nil", nil},
		{"bad election", snap("8x", 1, t0, good...)},
		{"no election", snap("", 1, t0, good...)},
		{"no files", snap("80", 1, t0)},
		{"no fetch time", snap("80", 1, time.Time{}, good...)},
		{"before 1970", snap("80", 1, time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), good...)},
		{"duplicate names", snap("80", 1, t0, doc("a", "1"), doc("a", "2"))},
		{"slash", snap("80", 1, t0, doc("a/b", "1"))},
		{"empty name", snap("80", 1, t0, doc("", "1"))},
		{"dot git", snap("80", 1, t0, doc(".GIT", "1"))},
		{"newline", snap("80", 1, t0, doc("a\nb", "1"))},
		{"spaces", snap("80", 1, t0, doc(" a", "1"))},
		{"mismatched documents", mismatched},
	}
	for _, tt := range tests {
		if _, _, err := s.Put(ctx, tt.sn); err == nil {
			t.Errorf("Put(%s) = nil error, want one", tt.name)
		}
	}
	if got, err := s.Elections(); err != nil || len(got) != 0 {
		t.Errorf("Elections() after refused puts = %v, %v; want none", got, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Put(cancelled, snap("80", 1, t0, good...)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put(cancelled context) = %v, want context.Canceled", err)
	}
}

func testConcurrentPuts(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	const workers, each = 4, 6
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(80 + w%2)
			for i := range each {
				v := int64(w*100 + i)
				sn := snap(id, v, t0.Add(time.Duration(v)*time.Second), docs(v, "w")...)
				if _, added, err := s.Put(context.Background(), sn); err != nil || !added {
					errs <- fmt.Errorf("Put(%s@%d) = %v, %v", id, v, added, err)
				}
				if _, err := s.Log(snapshot.ElectionID(id)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range []snapshot.ElectionID{"80", "81"} {
		if got, want := len(mustLog(t, s, id)), workers/2*each; got != want {
			t.Errorf("len(Log(%s)) = %d, want %d", id, got, want)
		}
	}
}
