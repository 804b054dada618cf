package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ctrunner/snapshot"
	"ctrunner/store"
)

// TestAllEntriesKeepsEachLog checks that the all-elections log lists each
// election's snapshots in the order the store holds them, even where
// their fetch times (file times, for imported snapshots) disagree.
func TestAllEntriesKeepsEachLog(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s"), store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2022, 11, 9, 1, 0, 0, 0, time.UTC)
	put := func(id snapshot.ElectionID, v snapshot.Version, at time.Time) {
		s := snapshot.New(snapshot.Meta{Election: id, Version: v, FetchedAt: at,
			Source: snapshot.Imported}, []snapshot.File{
			{Name: snapshot.ElectionDataFile, Data: []byte(`{"v":` + v.String() + `}`)},
			{Name: snapshot.LookupDataFile, Data: []byte(`{}`)},
		})
		if _, _, err := st.Put(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	put("81", 9437, t0.Add(3*time.Minute)) // archived first, newer file time
	put("81", 83720, t0.Add(1*time.Minute))
	put("82", 9452, t0.Add(2*time.Minute))
	put("82", 84181, t0.Add(4*time.Minute))

	all, err := allEntries(st)
	if err != nil {
		t.Fatal(err)
	}
	var got []snapshot.Version
	for _, e := range all {
		got = append(got, e.Version)
	}
	want := []snapshot.Version{84181, 9452, 83720, 9437}
	if len(got) != len(want) {
		t.Fatalf("allEntries = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allEntries = %v, want %v", got, want)
		}
	}
}

// TestLogSuspectColumn checks that log names the kinds of a suspect
// snapshot's reasons, each once, and leaves their details to show.
func TestLogSuspectColumn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	st, err := store.Open(dir, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot.New(snapshot.Meta{Election: "80", Version: 7, Source: snapshot.Fetched,
		FetchedAt: time.Date(2022, 11, 9, 2, 0, 0, 0, time.UTC),
		Suspect: []string{"votes-decreased: Governor in Hartford went from 10 to 9",
			"votes-decreased: Governor in Avon went from 5 to 4",
			"town-disappeared: Bristol reported and is gone"}},
		[]snapshot.File{{Name: snapshot.ElectionDataFile, Data: []byte(`{}`)},
			{Name: snapshot.LookupDataFile, Data: []byte(`{}`)}})
	if _, _, err := st.Put(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errOut strings.Builder
	if rc := run(context.Background(), []string{"ctrunner", "log", "80", "--store", dir},
		nil, &out, &errOut); rc != 0 {
		t.Fatalf("log = %d: %s", rc, errOut.String())
	}
	if !strings.Contains(out.String(), " fetched, suspect: votes-decreased, town-disappeared\n") ||
		strings.Contains(out.String(), "Hartford") {
		t.Errorf("log printed\n%s\nwant the kinds of the reasons, each once", out.String())
	}
}
