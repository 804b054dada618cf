package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"ctrunner/snapshot"
)

// verifyFixture fills a new store of the given kind ("git", "packed" or
// "zstd") with snapshots of two elections, election 80's holding versions
// of a large document, and returns its folder and the entry of election
// 80's second snapshot.
func verifyFixture(t *testing.T, kind string) (string, Entry) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	backend := BackendGit
	if kind == BackendZstd {
		backend = BackendZstd
	}
	s, err := Open(dir, Options{Create: true, Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.PutElectionList(ctx, []byte(`{"elections":[]}`), t0, "http://x/"); err != nil {
		t.Fatal(err)
	}
	var middle Entry
	for i, data := range electionDataVersions(t, 3) {
		at := t0.Add(time.Duration(i) * time.Minute)
		e := mustPut(t, s, snap("80", int64(i+1), at,
			append(docs(int64(i), "a"), snapshot.File{Name: "big.json", Data: data})...))
		if i == 1 {
			middle = e
		}
		mustPut(t, s, snap("81", int64(i+1), at, docs(int64(i), string(rune('a'+i)))...))
	}
	if kind == "packed" {
		if _, err := s.(Packer).Pack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return dir, middle
}

func mustVerify(t *testing.T, dir string, readData bool) VerifyReport {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := Verify(context.Background(), s, VerifyOptions{ReadData: readData})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	return r
}

func TestVerifyClean(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"git", "packed", "zstd"} {
		dir, _ := verifyFixture(t, kind)
		for _, readData := range []bool{false, true} {
			r := mustVerify(t, dir, readData)
			if len(r.Problems) != 0 || r.Elections != 2 || r.Snapshots != 6 ||
				r.ElectionLists != 1 || r.Objects == 0 {
				t.Errorf("%s store: Verify(ReadData %v) = %+v, want 2 elections, 6 "+
					"snapshots, 1 election list and no problems", kind, readData, r)
			}
		}
	}
}

// TestVerifyDamage damages the large document of election 80's second
// snapshot in each kind of store, and expects Verify to name it.
func TestVerifyDamage(t *testing.T) {
	t.Parallel()
	flip := func(path string, at func(size int64) int64) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		os.Chmod(path, 0o644)
		b[at(int64(len(b)))] ^= 0x40
		return os.WriteFile(path, b, 0o644)
	}
	tests := []struct {
		kind    string
		damage  string
		cheap   bool   // found without ReadData too
		problem string // a part of the problem line
	}{
		{"git", "flip", false, "damaged"},
		{"git", "truncate", false, "damaged"},
		{"git", "remove", true, "missing"},
		{"packed", "flip", false, "damaged"},
		// Commits come last in a pack: cutting it short or removing it
		// breaks the logs.
		{"packed", "truncate", true, "commit truncated"},
		{"packed", "remove", true, "commit missing"},
		{"zstd", "flip", false, "damaged"},
		{"zstd", "truncate", true, "truncated"},
		{"zstd", "remove", true, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.damage, func(t *testing.T) {
			t.Parallel()
			dir, e := verifyFixture(t, tt.kind)
			sum := e.Documents["big.json"]
			blob := plumbing.Hash(snapshot.BlobHash(mustLoadDoc(t, dir, e, "big.json")))
			var path, object string
			middle := func(size int64) int64 { return size / 2 }
			switch tt.kind {
			case "git":
				path, object = loosePath(dir, blob), blob.String()
			case "packed":
				pack, pr := packedHash(t, dir)
				off, err := pr.idx.FindOffset(blob)
				pr.close()
				if err != nil {
					t.Fatal(err)
				}
				path = filepath.Join(dir, "objects", "pack", "pack-"+pack.String()+".pack")
				object = blob.String()
				middle = func(int64) int64 { return off + 4 }
			case "zstd":
				path, object = objectPath(dir, sum), sum
				middle = func(size int64) int64 { return size - 10 }
			}
			var err error
			switch tt.damage {
			case "flip":
				err = flip(path, middle)
			case "truncate":
				os.Chmod(path, 0o644)
				err = os.Truncate(path, middle(0)+1)
				if tt.kind != "packed" {
					b, _ := os.ReadFile(path)
					err = os.WriteFile(path, b[:len(b)*2/3], 0o644)
				}
			case "remove":
				err = os.Remove(path)
				if tt.kind == "packed" {
					os.Remove(strings.TrimSuffix(path, ".pack") + ".idx")
				}
			}
			if err != nil {
				t.Fatal(err)
			}

			for _, readData := range []bool{true, false} {
				r := mustVerify(t, dir, readData)
				found := false
				var lines []string
				for _, p := range r.Problems {
					line := p.String()
					lines = append(lines, line)
					switch {
					case !strings.Contains(line, tt.problem) ||
						!strings.Contains(line, "objects/"):
					case tt.kind == "packed" && tt.damage != "flip":
						found = found || p.Election == "80" && p.Commit != ""
					default:
						found = found || p.Election == "80" && p.Version == 2 &&
							p.Snapshot == e.ID.String() && p.Object == object &&
							p.Document == "big.json"
					}
				}
				t.Logf("Verify(ReadData %v):\n%s", readData, strings.Join(lines, "\n"))
				if !readData && !tt.cheap {
					continue
				}
				if !found {
					t.Errorf("Verify(ReadData %v) problems:\n%s\nwant one for election 80 "+
						"version 2, big.json, object %s: %s", readData,
						strings.Join(lines, "\n"), object, tt.problem)
				}
			}
		})
	}
}

// mustLoadDoc returns the document name of the snapshot e.
func mustLoadDoc(t *testing.T, dir string, e Entry, name string) []byte {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sn, err := s.Load(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sn.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("snapshot has no %s", name)
	return nil
}
