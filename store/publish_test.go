package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"ctrunner/snapshot"
)

// suspectReasons are sanity-gate reasons as package suspect writes them,
// one with a line break to be made to fit on one line.
var suspectReasons = []string{
	"votes-decreased: Hartford, Governor: Lamont 12,345 → 12,001",
	"town-vanished: Bristol\nno longer listed",
}

func testSuspect(t *testing.T, open opener) {
	s, dir := newStore(t, open)
	ctx := context.Background()
	sn := snap("80", 1313, t0, docs(1313, "1 of 763")...)
	sn.Suspect = suspectReasons
	want := sn.Meta
	want.Suspect = []string{suspectReasons[0], "town-vanished: Bristol no longer listed"}

	e := mustPut(t, s, sn)
	checkMeta(t, "Put entry", e.Meta, want)
	if e.ID != sn.ID() {
		t.Errorf("suspect snapshot ID = %s, want %s as without reasons", e.ID, sn.ID())
	}
	checkMeta(t, "Log entry", mustLog(t, s, "80")[0].Meta, want)

	// The same documents and version, now accepted, are not archived again.
	accepted := snap("80", 1313, t0.Add(time.Minute), sn.Files...)
	if got, added, err := s.Put(ctx, accepted); err != nil || added || got.Commit != e.Commit {
		t.Errorf("Put(same, not suspect) = %s, %v, %v; want the suspect entry, false, nil",
			got.Commit, added, err)
	}
	e2 := mustPut(t, s, snap("80", 1314, t0.Add(2*time.Minute), docs(1314, "2 of 763")...))
	if e2.Suspect != nil {
		t.Errorf("accepted entry Suspect = %q, want none", e2.Suspect)
	}

	// A caller changing an entry's reasons does not change the store's.
	if len(e.Suspect) > 0 {
		e.Suspect[0] = "changed"
	}
	s.Close()
	r := open(t, dir)
	defer r.Close()
	got := mustLog(t, r, "80")
	checkMeta(t, "reopened Log entry", got[1].Meta, want)
	if got[0].Suspect != nil {
		t.Errorf("reopened accepted entry Suspect = %q, want none", got[0].Suspect)
	}
	loaded, err := r.Load(got[1])
	if err != nil || !reflect.DeepEqual(loaded.Suspect, want.Suspect) {
		t.Errorf("Load(suspect entry) = %v; Suspect %q, want %q", err, loaded.Suspect, want.Suspect)
	}
}

// mustPublish publishes e and checks what Publish returns.
func mustPublish(t *testing.T, s Store, e Entry, at time.Time, reason string) Publication {
	t.Helper()
	p, err := s.Publish(context.Background(), e, at, reason)
	if err != nil {
		t.Fatalf("Publish(%s@%s, %q) = %v", e.Election, e.Version, reason, err)
	}
	want := Publication{Election: e.Election, Entry: e, At: at.UTC(), Reason: reason}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Publish(%s@%s) = %+v, want %+v", e.Election, e.Version, p, want)
	}
	return p
}

// checkPublications checks what Published and Publications of election id
// return: want, newest first, or ErrNotFound for none.
func checkPublications(t *testing.T, what string, s Store, id snapshot.ElectionID,
	want []Publication) {
	t.Helper()
	got, err := s.Publications(id)
	cur, curErr := s.Published(id)
	if len(want) == 0 {
		if !errors.Is(err, ErrNotFound) || !errors.Is(curErr, ErrNotFound) {
			t.Errorf("%s: Publications(%s), Published(%s) = %v, %v; want ErrNotFound",
				what, id, id, err, curErr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: Publications(%s) = %+v, %v;\nwant %+v", what, id, got, err, want)
	}
	if curErr != nil || !reflect.DeepEqual(cur, want[0]) {
		t.Errorf("%s: Published(%s) = %+v, %v; want %+v", what, id, cur, curErr, want[0])
	}
}

func testPublish(t *testing.T, open opener) {
	s, dir := newStore(t, open)
	ctx := context.Background()
	s1 := snap("80", 1313, t0, docs(1313, "a")...)
	s1.Suspect = suspectReasons[:1]
	e1 := mustPut(t, s, s1)
	e2 := mustPut(t, s, snap("80", 1314, t0.Add(time.Minute), docs(1314, "b")...))
	e81 := mustPut(t, s, snap("81", 5, t0, docs(5, "c")...))
	checkPublications(t, "a new store", s, "80", nil)

	at := t0.Add(time.Hour)
	local := at.In(time.FixedZone("EST", -5*3600))
	p1 := mustPublish(t, s, e1, local, "publish")
	p2 := mustPublish(t, s, e2, at.Add(time.Second), "watch")
	// A rollback to an entry, even to the published one, is recorded.
	p3 := mustPublish(t, s, e1, at.Add(2*time.Second), "rollback")
	p4 := mustPublish(t, s, e1, at.Add(2*time.Second), "rollback")
	want := []Publication{p4, p3, p2, p1}
	checkPublications(t, "after four", s, "80", want)
	checkPublications(t, "another election", s, "81", nil)
	if got := mustLog(t, s, "80"); !reflect.DeepEqual(got, []Entry{e2, e1}) {
		t.Errorf("Log(80) after publications = %+v, want the snapshots only", got)
	}
	if got, err := s.Elections(); err != nil || !reflect.DeepEqual(got,
		[]snapshot.ElectionID{"80", "81"}) {
		t.Errorf("Elections() = %v, %v; want 80 and 81", got, err)
	}

	p81 := mustPublish(t, s, e81, at, "publish")
	sanitized, err := s.Publish(ctx, e81, at, " roll\nback ")
	if err != nil || sanitized.Reason != "roll back" {
		t.Errorf("Publish(reason on two lines) = %q, %v; want %q", sanitized.Reason, err,
			"roll back")
	}

	wrongID := e2
	wrongID.ID = e1.ID
	otherElection := e81
	otherElection.Election = "80"
	refused := []struct {
		name     string
		e        Entry
		at       time.Time
		reason   string
		notFound bool
	}{
		{"unknown commit", Entry{Commit: strings.Repeat("ab", 20), ID: e1.ID,
			Meta: snapshot.Meta{Election: "80"}}, at, "publish", true},
		{"no commit", Entry{ID: e1.ID, Meta: snapshot.Meta{Election: "80"}}, at, "publish", true},
		{"another election's entry", otherElection, at, "publish", true},
		{"no election", Entry{Commit: e1.Commit, ID: e1.ID}, at, "publish", false},
		{"wrong ID", wrongID, at, "publish", false},
		{"no time", e1, time.Time{}, "publish", false},
		{"before 1970", e1, time.Unix(-1, 0), "publish", false},
		{"no reason", e1, at, " \n", false},
	}
	for _, tt := range refused {
		_, err := s.Publish(ctx, tt.e, tt.at, tt.reason)
		if err == nil || errors.Is(err, ErrNotFound) != tt.notFound {
			t.Errorf("Publish(%s) = %v, want an error (not found: %v)", tt.name, err,
				tt.notFound)
		}
	}
	checkPublications(t, "after refused publications", s, "80", want)

	s.Close()
	r := open(t, dir)
	defer r.Close()
	checkPublications(t, "reopened", r, "80", want)
	checkPublications(t, "reopened", r, "81", []Publication{sanitized, p81})
	if _, err := r.Publications("8x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Publications(8x) = %v, want an invalid-ID error", err)
	}
}

func testPublishInBatch(t *testing.T, open opener) {
	s, dir := newStore(t, open)
	ctx := context.Background()
	e1 := mustPut(t, s, snap("80", 1, t0, docs(1, "a")...))
	p1 := mustPublish(t, s, e1, t0, "publish")

	var e2 Entry
	var p2 Publication
	var batch Batch
	err := s.Update(ctx, func(b Batch) error {
		batch = b
		var err error
		if e2, _, err = b.Put(snap("80", 2, t0.Add(time.Minute), docs(2, "b")...)); err != nil {
			return err
		}
		// Refused input leaves the batch usable.
		unknown := Entry{Commit: strings.Repeat("cd", 20), Meta: snapshot.Meta{Election: "80"}}
		if _, err := b.Publish(unknown, t0, "watch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Batch.Publish(unknown entry) = %v, want ErrNotFound", err)
		}
		if p2, err = b.Publish(e2, t0.Add(time.Minute), "watch"); err != nil {
			return err
		}
		if p2.Entry.Commit != e2.Commit {
			t.Errorf("Batch.Publish = %+v, want entry %+v", p2, e2)
		}
		checkPublications(t, "inside the batch", s, "80", []Publication{p1})
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	checkPublications(t, "after the batch", s, "80", []Publication{p2, p1})
	if _, err := batch.Publish(e1, t0, "late"); err == nil {
		t.Errorf("Batch.Publish after Update returned = nil error, want one")
	}

	// A batch that fails leaves neither its snapshot nor its publication.
	before := treeState(t, dir)
	errStop := errors.New("stop")
	err = s.Update(ctx, func(b Batch) error {
		e, _, err := b.Put(snap("80", 3, t0.Add(2*time.Minute), docs(3, "c")...))
		if err != nil {
			return err
		}
		if _, err := b.Publish(e, t0.Add(2*time.Minute), "watch"); err != nil {
			return err
		}
		if _, err := b.Publish(e1, t0.Add(3*time.Minute), "rollback"); err != nil {
			return err
		}
		return errStop
	})
	if err != errStop {
		t.Errorf("Update(fn failing) = %v, want fn's error unchanged", err)
	}
	checkUnchanged(t, "a failed batch with publications", before, treeState(t, dir))
	checkPublications(t, "after a failed batch", s, "80", []Publication{p2, p1})
}

// publishScenario is a batch of two snapshots, each published, on top of
// a store with one published snapshot: it moves one publication branch
// and makes another.
var publishScenario = batchScenario{
	base: func(t *testing.T, s Store) {
		batchBase(t, s)
		e := mustPut(t, s, snap("80", 1, t0, docs(1, "v1")...))
		mustPublish(t, s, e, t0, "publish")
	},
	op: func(ctx context.Context, s Store) error {
		return s.Update(ctx, func(b Batch) error {
			for i, sn := range []*snapshot.Snapshot{
				snap("80", 2, t0.Add(time.Minute), docs(2, "v2")...),
				snap("81", 1, t0, docs(1, "v1")...),
			} {
				e, _, err := b.Put(sn)
				if err != nil {
					return err
				}
				if _, err := b.Publish(e, t0.Add(time.Duration(i)*time.Hour), "watch"); err != nil {
					return err
				}
			}
			return nil
		})
	},
	check: func(t *testing.T, what string, s Store, all bool) {
		t.Helper()
		var got []string
		for _, id := range []snapshot.ElectionID{"80", "81"} {
			ps, _ := s.Publications(id)
			entries, _ := s.Log(id)
			v := "none"
			if len(ps) > 0 {
				v = ps[0].Entry.Version.String()
			}
			got = append(got, fmt.Sprintf("%s: %d snapshots, %d publications, published %s",
				id, len(entries), len(ps), v))
		}
		want := "80: 1 snapshots, 1 publications, published 1; " +
			"81: 0 snapshots, 0 publications, published none"
		if all {
			want = "80: 2 snapshots, 2 publications, published 2; " +
				"81: 1 snapshots, 1 publications, published 1"
		}
		if strings.Join(got, "; ") != want {
			t.Fatalf("%s: the store holds %s, want %s", what, strings.Join(got, "; "), want)
		}
	},
	minSteps: 8,
}

func testPublishFaults(t *testing.T, open opener) { updateFaults(t, open, publishScenario) }

func testPublishCrash(t *testing.T, open opener) { updateCrash(t, open, publishScenario) }

// TestGitPublications reads publications back with plain git, and checks
// that Verify follows them.
func TestGitPublications(t *testing.T) {
	t.Parallel()
	needGit(t)
	s, dir := openGit(t)
	sn1 := snap("80", 13391, t0, docs(13391, "a")...)
	e1 := mustPut(t, s, sn1)
	e2 := mustPut(t, s, snap("80", 13392, t0.Add(time.Minute), docs(13392, "b")...))
	at := time.Date(2024, 11, 6, 1, 2, 3, 500, time.UTC)
	mustPublish(t, s, e2, at, "publish")
	mustPublish(t, s, e1, at.Add(time.Minute), "rollback")
	checkGitClean(t, dir)

	if got, want := mustGit(t, dir, "show", "published/80:Electiondata.json"),
		string(sn1.Files[0].Data); got != want {
		t.Errorf("git show published/80:Electiondata.json = %q, want %q", got, want)
	}
	got := mustGit(t, dir, "log", "--first-parent", "--format=%s|%(trailers:key=Reason,"+
		"valueonly,separator=)|%ct", "-2", "published/80")
	want := fmt.Sprintf("publish election 80 version 13391 (%s)|rollback|%d\n"+
		"publish election 80 version 13392 (%s)|publish|%d\n",
		e1.ID.Short(), at.Add(time.Minute).Unix(), e2.ID.Short(), at.Unix())
	if got != want {
		t.Errorf("git log published/80 =\n%s\nwant\n%s", got, want)
	}
	trailers := mustGit(t, dir, "log", "-1", "--format=%(trailers)", "published/80")
	for _, line := range []string{"Election: 80", "Snapshot-Commit: " + e1.Commit,
		"Snapshot-ID: " + e1.ID.String(), "Published-At: 2024-11-06T01:03:03.0000005Z"} {
		if !strings.Contains(trailers, line+"\n") {
			t.Errorf("trailers of published/80 =\n%s\nwant a line %q", trailers, line)
		}
	}

	// Packing keeps every publication and what it publishes.
	ctx := context.Background()
	want80, _ := s.Publications("80")
	if _, err := s.Pack(ctx); err != nil {
		t.Fatalf("Pack = %v", err)
	}
	checkPublications(t, "after Pack", s, "80", want80)
	checkGitClean(t, dir)

	r, err := Verify(ctx, s, VerifyOptions{ReadData: true})
	if err != nil || len(r.Problems) != 0 || r.Publications != 2 {
		t.Errorf("Verify = %d publications, problems %v, %v; want 2, none", r.Publications,
			r.Problems, err)
	}
	// A publication branch that names a snapshot commit is damage.
	ref := filepath.Join(dir, "refs", "heads", "published", "80")
	if err := os.WriteFile(ref, []byte(e1.Commit+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, s, VerifyOptions{})
	if err != nil || len(r.Problems) != 1 ||
		!strings.Contains(r.Problems[0].What, "not a publication commit") {
		t.Errorf("Verify(publication branch naming a snapshot) = %v, %v; want one problem",
			r.Problems, err)
	}
	if _, err := s.Published("80"); err == nil {
		t.Errorf("Published(80) of a damaged branch = nil error, want one")
	}
}

// TestPushPublications pushes publication branches along with the rest.
func TestPushPublications(t *testing.T) {
	t.Parallel()
	needGit(t)
	s, dir := pushFixture(t)
	mirror := newMirror(t)
	e := mustLog(t, s, "80")
	mustPublish(t, s, e[0], t0.Add(time.Hour), "publish")
	mustPush(t, s, mirror)
	checkMirrored(t, dir, mirror)

	p := mustPublish(t, s, e[1], t0.Add(2*time.Hour), "rollback")
	r := mustPush(t, s, mirror)
	if got := summary(r); !strings.Contains(got, "\npublished/80: ") || r.Updated() != 1 {
		t.Errorf("push after a rollback:\n%s\nwant published/80 updated alone", got)
	}
	checkMirrored(t, dir, mirror)
	if got := strings.TrimSpace(mustGit(t, mirror, "rev-parse", "published/80^2")); got != p.Entry.Commit {
		t.Errorf("mirror's published/80^2 = %s, want the published snapshot %s", got, p.Entry.Commit)
	}
}

func TestPublicationMessage(t *testing.T) {
	id := snapshot.TreeHash(docs(1, "a"))
	snapCommit := strings.Repeat("9c", 20)
	e := Entry{ID: id, Commit: snapCommit, Meta: snapshot.Meta{Election: "80", Version: 13392}}
	at := time.Date(2024, 11, 6, 1, 2, 3, 500, time.FixedZone("EST", -5*3600))
	msg := publicationMessage(e, at, "rollback")
	want := "publish election 80 version 13392 (" + id.Short() + ")\n\n" +
		"Election: 80\n" +
		"Snapshot-Commit: " + snapCommit + "\n" +
		"Snapshot-ID: " + id.String() + "\n" +
		"Published-At: 2024-11-06T06:02:03.0000005Z\n" +
		"Reason: rollback\n"
	if msg != want {
		t.Errorf("publicationMessage() =\n%s\nwant\n%s", msg, want)
	}

	prev := plumbing.NewHash(strings.Repeat("11", 20))
	c := &object.Commit{Message: msg, TreeHash: plumbing.Hash(id),
		ParentHashes: []plumbing.Hash{prev, plumbing.NewHash(snapCommit)}}
	p, err := parsePublication(c)
	wantP := parsedPublication{election: "80", snapshot: plumbing.NewHash(snapCommit), id: id,
		at: at.UTC(), reason: "rollback", prev: prev}
	if err != nil || p != wantP {
		t.Errorf("parsePublication = %+v, %v; want %+v", p, err, wantP)
	}

	bad := map[string]*object.Commit{
		"snapshot not last parent": {Message: msg, TreeHash: plumbing.Hash(id),
			ParentHashes: []plumbing.Hash{plumbing.NewHash(snapCommit), prev}},
		"no parent":  {Message: msg, TreeHash: plumbing.Hash(id)},
		"other tree": {Message: msg, ParentHashes: []plumbing.Hash{plumbing.NewHash(snapCommit)}},
		"no reason": {Message: strings.Replace(msg, "Reason: rollback\n", "", 1),
			TreeHash: plumbing.Hash(id), ParentHashes: []plumbing.Hash{plumbing.NewHash(snapCommit)}},
		"snapshot commit": {Message: "election 80 version 1\n\nElection: 80\n"},
	}
	for name, c := range bad {
		if _, err := parsePublication(c); err == nil {
			t.Errorf("parsePublication(%s) = nil error, want one", name)
		}
	}
}

// TestZstdPublications checks the journal lines of a suspect snapshot and
// of a publication, in stores of both formats, and that a publish record
// naming no snapshot is never taken for a publication.
func TestZstdPublications(t *testing.T) {
	t.Parallel()
	for _, format := range []int{zstdFormat, zstdFormatFanout} {
		dir := filepath.Join(t.TempDir(), "store")
		if err := createZstdFormat(dir, format); err != nil {
			t.Fatal(err)
		}
		z := reopenZstd(t, dir)
		sn := snap("80", 1313, t0, docs(1313, "a")...)
		sn.Suspect = suspectReasons[:1]
		e := mustPut(t, z, sn)
		p := mustPublish(t, z, e, t0.Add(time.Hour), "rollback")
		data, err := os.ReadFile(filepath.Join(dir, zstdJournalName))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		at := "at"
		if format == zstdFormatFanout {
			at = "fetched_at"
		}
		for _, want := range []string{`"suspect":["votes-decreased: Hartford`,
			`"kind":"publish"`, `"of":"` + e.Commit + `"`, `"reason":"rollback"`,
			`"` + at + `":"2024-11-05T21:15:30.123456789Z"`} {
			if !strings.Contains(string(data), want) {
				t.Errorf("format %d: journal =\n%s\nwant %s", format, data, want)
			}
		}
		if len(lines) != 2 || strings.Contains(lines[1], `"files"`) {
			t.Errorf("format %d: journal =\n%s\nwant a snapshot line and a publish line "+
				"without documents", format, data)
		}
		r, err := Verify(context.Background(), z, VerifyOptions{})
		if err != nil || len(r.Problems) != 0 || r.Publications != 1 {
			t.Errorf("format %d: Verify = %d publications, %v, %v; want 1, none", format,
				r.Publications, r.Problems, err)
		}

		// A publish record of a record the journal does not hold, last in
		// the journal, is the trace of a torn write.
		bad := &zstdRecord{Seq: 3, Kind: zstdKindPublish, ID: e.ID.String(), Election: "80",
			FetchedAt: t0.Format(time.RFC3339Nano), Of: strings.Repeat("0", 64),
			Reason: "publish"}
		line, _, err := marshalZstdLine(bad, format)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, zstdJournalName), append(data, line...), 0o644)
		checkPublications(t, "after a bad publish line", reopenZstd(t, dir), "80",
			[]Publication{p})
		if report, err := Recover(dir); err != nil || !strings.Contains(report, "cut") {
			t.Errorf("format %d: Recover = %q, %v; want the bad line cut", format, report, err)
		}
		// The same line naming the snapshot's record is a publication.
		bad.Of = e.Commit
		line, _, _ = marshalZstdLine(bad, format)
		os.WriteFile(filepath.Join(dir, zstdJournalName), append(data, line...), 0o644)
		if got, err := reopenZstd(t, dir).Publications("80"); err != nil || len(got) != 2 {
			t.Errorf("format %d: Publications after a good publish line = %d, %v; want 2",
				format, len(got), err)
		}
	}
}
