package main

import (
	"context"
	"path/filepath"
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
