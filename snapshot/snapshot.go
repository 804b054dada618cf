// Package snapshot describes what one fetch of one Connecticut election is:
// the election, the API version, when and where it was fetched, and the raw
// bytes of each document exactly as received. It also decodes those
// documents into typed values. It does no network or disk I/O.
package snapshot

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// ElectionID names an election as the API does: a decimal string such as "80".
type ElectionID string

// ParseElectionID checks that s looks like an election ID: a decimal
// number without leading zeros, as the API writes them.
func ParseElectionID(s string) (ElectionID, error) {
	if s == "" {
		return "", fmt.Errorf("empty election ID")
	}
	if len(s) > 1 && s[0] == '0' {
		return "", fmt.Errorf("election ID %q has a leading zero", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("election ID %q is not a number", s)
		}
	}
	return ElectionID(s), nil
}

// Version is the data version the API publishes for an election. Versions
// are large, sparse integers: never iterate over them.
type Version int64

func (v Version) String() string { return strconv.FormatInt(int64(v), 10) }

// Names of the documents a snapshot can hold. The first three are the API's
// own file names; the legacy ones come from folders written by the old
// Python tool and are kept byte for byte when such a folder is imported.
const (
	VersionFile       = "Version.json"
	ElectionDataFile  = "Electiondata.json"
	LookupDataFile    = "Lookupdata.json"
	ElectionListFile  = "Elections.json"
	LegacyRawFile     = "legacy-raw.json"
	LegacyResultsFile = "legacy-results.csv"
)

// Source says how a snapshot entered the archive.
type Source string

// The sources a snapshot can have.
const (
	Fetched  Source = "fetched"
	Imported Source = "imported"
	// Simulated marks a made-up night of ctrunner simulate, so that it
	// can never pass for a real one.
	Simulated Source = "simulated"
)

// File is one raw document of a snapshot.
type File struct {
	Name string
	Data []byte
}

// Meta is everything known about a snapshot apart from its documents.
type Meta struct {
	Election  ElectionID
	Version   Version
	FetchedAt time.Time
	Source    Source
	// SourceURL is the URL the documents were fetched from, or the path of
	// the folder they were imported from.
	SourceURL string
	// TimeSource says where FetchedAt comes from when it is not the clock
	// at fetch time, e.g. "file modification time".
	TimeSource string
	// PrecinctsReporting is the election-wide "760 of 763 (99.61%)" line,
	// kept here so that listings need not decode the documents.
	PrecinctsReporting string
	// Documents maps each file name to the hex SHA-256 of its bytes.
	Documents map[string]string
	// Suspect holds the reasons the sanity gates (package suspect) found
	// to doubt the snapshot, each as Reason.String gives it ("kind:
	// detail"); it is empty for an accepted snapshot. The reasons are
	// stored with the snapshot but are not part of its ID.
	Suspect []string
}

// Snapshot is one consistent fetch of one election: every document belongs
// to the same API version.
type Snapshot struct {
	Meta
	Files []File
}

// New builds a snapshot from its metadata and files, sorting the files by
// name and filling in Meta.Documents. It does not fill PrecinctsReporting;
// see Summarize.
func New(meta Meta, files []File) *Snapshot {
	s := &Snapshot{Meta: meta, Files: append([]File(nil), files...)}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Name < s.Files[j].Name })
	s.Documents = make(map[string]string, len(s.Files))
	for _, f := range s.Files {
		s.Documents[f.Name] = SHA256(f.Data)
	}
	return s
}

// File returns the bytes of the named document.
func (s *Snapshot) File(name string) ([]byte, bool) {
	for _, f := range s.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// ID returns the snapshot's content ID: the git tree hash of its files. Two
// snapshots with the same documents have the same ID whatever their fetch
// time, and every store backend computes the same ID.
func (s *Snapshot) ID() Hash { return TreeHash(s.Files) }

// SHA256 returns the hex SHA-256 of data.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Hash is a git object hash (SHA-1), used as a snapshot ID.
type Hash [20]byte

// String returns the full hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, enough to name a snapshot.
func (h Hash) Short() string { return h.String()[:12] }

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash reads a full 40-digit hex hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%q is not a 40-digit hex hash", s)
	}
	copy(h[:], b)
	return h, nil
}

// BlobHash returns the git blob hash of data.
func BlobHash(data []byte) Hash {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// TreeHash returns the git tree hash of a flat tree holding files as
// regular (mode 100644) blobs. Names must be unique and contain no slash.
func TreeHash(files []File) Hash {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var body bytes.Buffer
	for _, f := range sorted {
		blob := BlobHash(f.Data)
		body.WriteString("100644 ")
		body.WriteString(f.Name)
		body.WriteByte(0)
		body.Write(blob[:])
	}
	h := sha1.New()
	fmt.Fprintf(h, "tree %d\x00", body.Len())
	h.Write(body.Bytes())
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}
