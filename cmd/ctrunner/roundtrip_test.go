package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrunner/feed/feedtest"
	"ctrunner/legacy"
)

// TestArchiveCheckoutRoundTrip archives every recorded election from the
// fake API, checks each one out, and compares the documents with the bytes
// the server sent: they must be identical.
func TestArchiveCheckoutRoundTrip(t *testing.T) {
	srv, err := feedtest.Start(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	archive, err := legacy.Open(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(t.TempDir(), "store")

	if _, stderr, code := runCLI(t, "", "archive", "--api", srv.URL, "--store", storeDir); code != 0 {
		t.Fatalf("archive: exit %d: %s", code, stderr)
	}

	for _, id := range archive.Elections() {
		versions := archive.Versions(id)
		latest := versions[len(versions)-1]
		dest := filepath.Join(t.TempDir(), string(id))
		if _, stderr, code := runCLI(t, "", "checkout", string(id), "--store", storeDir, "--dest", dest); code != 0 {
			t.Fatalf("checkout %s: exit %d: %s", id, code, stderr)
		}
		paths := map[string]string{
			"Version.json":      "election/" + string(id) + "/Version.json",
			"Electiondata.json": "election/" + string(id) + "/" + latest.String() + "/Electiondata.json",
			"Lookupdata.json":   "election/" + string(id) + "/" + latest.String() + "/Lookupdata.json",
		}
		for name, path := range paths {
			served := get(t, srv.URL+path)
			got, err := os.ReadFile(filepath.Join(dest, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, served) {
				t.Errorf("election %s: checked-out %s differs from what the API served (%d vs %d bytes)",
					id, name, len(got), len(served))
			}
		}

		// raw.json is the old tool's rendering of the same fetch.
		rec, err := archive.Read(id, latest)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(filepath.Join(dest, "raw.json"))
		if !bytes.Equal(raw, rec.Raw) {
			t.Errorf("election %s: raw.json differs from the recorded %s", id, rec.RawPath)
		}
		csv, _ := os.ReadFile(filepath.Join(dest, "results.csv"))
		if !strings.HasPrefix(string(csv), "office,town,candidate,party,votes,vote_percent\r\n") {
			t.Errorf("election %s: results.csv lacks the old header", id)
		}
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return body
}
