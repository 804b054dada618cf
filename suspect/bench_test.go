package suspect

import "testing"

// BenchmarkCheck80 measures Check on election 80's last election-night
// version and its certified one (476 KB of Electiondata.json each): two
// decodes of each document and every comparison.
func BenchmarkCheck80(b *testing.B) {
	archive := openArchive(b)
	prev := recordedVersion(b, archive, "80", 1316)
	next := recordedVersion(b, archive, "80", 13392)
	b.SetBytes(int64(len(prev.ElectionData) + len(next.ElectionData)))
	for b.Loop() {
		if got := Check(prev, next); len(got) > 0 {
			b.Fatal(got)
		}
	}
}

// BenchmarkChecker80 measures a Checker on election night: the accepted
// version is decoded already, the new one is decoded once (its
// Lookupdata.json is the same bytes) and compared.
func BenchmarkChecker80(b *testing.B) {
	archive := openArchive(b)
	prev := recordedVersion(b, archive, "80", 1316)
	next := recordedVersion(b, archive, "80", 13392)
	next.LookupData = prev.LookupData
	accepted := decode(prev, nil)
	b.SetBytes(int64(len(next.ElectionData)))
	for b.Loop() {
		c := Checker{accepted: accepted}
		if got := c.Check(next); len(got) > 0 {
			b.Fatal(got)
		}
	}
}
