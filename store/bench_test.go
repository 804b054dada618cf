package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"ctrunner/snapshot"
)

// BenchmarkPut archives a new version of the recorded 1.7 MB document per
// iteration, with and without fsync.
func BenchmarkPut(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("noSync=%v", noSync), func(b *testing.B) {
			s, _ := openGit(b)
			s.noSync = noSync
			big := append([]byte(nil), bigDocument(b)...)
			b.SetBytes(int64(len(big)))
			b.ResetTimer()
			for i := range b.N {
				// Change a few bytes, as a new version of the results does.
				copy(big[len(big)/2:], fmt.Sprintf("%09d", i))
				sn := snap("80", int64(i), t0, snapshot.File{Name: snapshot.LegacyRawFile, Data: big})
				if _, _, err := s.Put(context.Background(), sn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLog lists elections of 1,000 and 10,000 snapshots: cold opens
// a new Store per iteration, warm reuses one.
func BenchmarkLog(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		dir := logFixture(b, n)
		b.Run(fmt.Sprintf("n=%d/cold", n), func(b *testing.B) {
			for range b.N {
				s, err := Open(dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if entries, err := s.Log("80"); err != nil || len(entries) != n {
					b.Fatalf("Log = %d entries, %v; want %d", len(entries), err, n)
				}
				s.Close()
			}
		})
		b.Run(fmt.Sprintf("n=%d/warm", n), func(b *testing.B) {
			s, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.Log("80")
			b.ResetTimer()
			for range b.N {
				if entries, err := s.Log("80"); err != nil || len(entries) != n {
					b.Fatalf("Log = %d entries, %v; want %d", len(entries), err, n)
				}
			}
		})
	}
}

// logFixture makes a store whose election 80 has n snapshots.
func logFixture(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "store")
	s, err := Open(dir, Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.(*gitStore).noSync = true
	for i := range n {
		v := int64(i)
		sn := snap("80", v, t0, docs(v, "precincts")...)
		sn.PrecinctsReporting = fmt.Sprintf("%d of 763", i%764)
		if _, _, err := s.Put(context.Background(), sn); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
