package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"

	"ctrunner/snapshot"
)

// The journal of the zstd backend, DIR/journal.jsonl, lists every archived
// snapshot and election list, oldest first, one JSON object a line:
//
//	{"rec":{"seq":7,"kind":"snapshot","id":"…","election":"80",…,
//	 "files":[{"name":"Electiondata.json","sha256":"…","size":485853}]},
//	 "crc32c":"1a2b3c4d"}
//
// "rec" holds the record, "crc32c" the CRC-32C of the exact bytes of
// "rec". Appending a line is the commit point of a write: objects whose
// line was never written are garbage that no reader looks at. A last line
// without its newline or with a wrong checksum is the trace of a write
// cut short, and is ignored by readers and removed by the next writer. A
// damaged line followed by others is reported as damage.
const zstdJournalName = "journal.jsonl"

// Kinds of journal record.
const (
	zstdKindSnapshot     = "snapshot"
	zstdKindElectionList = "election-list"
)

// zstdLine is one line of the journal.
type zstdLine struct {
	Rec    json.RawMessage `json:"rec"`
	CRC32C string          `json:"crc32c"`
}

// zstdRecord is what a journal line records: a snapshot with all its
// metadata, or an election list.
type zstdRecord struct {
	Seq                int64          `json:"seq"`
	Kind               string         `json:"kind"`
	ID                 string         `json:"id"`
	Election           string         `json:"election,omitempty"`
	Version            int64          `json:"version"`
	FetchedAt          string         `json:"fetched_at"`
	Source             string         `json:"source,omitempty"`
	SourceURL          string         `json:"source_url,omitempty"`
	TimeSource         string         `json:"time_source,omitempty"`
	PrecinctsReporting string         `json:"precincts_reporting,omitempty"`
	Files              []zstdDocument `json:"files"`
}

// zstdDocument is a document of a record: its name, the SHA-256 of its raw
// bytes (which names its object) and its size.
type zstdDocument struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// marshalZstdLine returns the journal line for rec, with its newline, and the
// hex SHA-256 of the record's bytes, which is the Commit of its entry.
func marshalZstdLine(rec *zstdRecord) (line []byte, commit string, err error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, "", fmt.Errorf("encoding journal record: %w", err)
	}
	line, err = json.Marshal(zstdLine{
		Rec:    body,
		CRC32C: fmt.Sprintf("%08x", crc32.Checksum(body, castagnoli)),
	})
	if err != nil {
		return nil, "", fmt.Errorf("encoding journal line: %w", err)
	}
	sum := sha256.Sum256(body)
	return append(line, '\n'), hex.EncodeToString(sum[:]), nil
}

// parseZstdLine reads a journal line without its newline.
func parseZstdLine(b []byte) (*zstdRecord, string, error) {
	var l zstdLine
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, "", fmt.Errorf("not a journal line: %w", err)
	}
	if want := fmt.Sprintf("%08x", crc32.Checksum(l.Rec, castagnoli)); l.CRC32C != want {
		return nil, "", fmt.Errorf("checksum %q, want %q", l.CRC32C, want)
	}
	rec := &zstdRecord{}
	if err := json.Unmarshal(l.Rec, rec); err != nil {
		return nil, "", fmt.Errorf("reading record: %w", err)
	}
	if err := rec.check(); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(l.Rec)
	return rec, hex.EncodeToString(sum[:]), nil
}

// check rejects records that no writer makes.
func (rec *zstdRecord) check() error {
	switch rec.Kind {
	case zstdKindSnapshot:
		if _, err := snapshot.ParseElectionID(rec.Election); err != nil {
			return err
		}
	case zstdKindElectionList:
		if len(rec.Files) != 1 || rec.Files[0].Name != snapshot.ElectionListFile {
			return fmt.Errorf("election-list record holds no %s alone",
				snapshot.ElectionListFile)
		}
	default:
		return fmt.Errorf("unknown record kind %q", rec.Kind)
	}
	if _, err := snapshot.ParseHash(rec.ID); err != nil {
		return fmt.Errorf("record ID: %w", err)
	}
	if _, err := time.Parse(time.RFC3339Nano, rec.FetchedAt); err != nil {
		return fmt.Errorf("record fetch time: %w", err)
	}
	if len(rec.Files) == 0 {
		return errors.New("record lists no documents")
	}
	for _, f := range rec.Files {
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("document %q: %q is not a SHA-256", f.Name, f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("document %q: size %d", f.Name, f.Size)
		}
	}
	return nil
}

// entry returns the Entry a record describes; commit is the record's hash.
func (rec *zstdRecord) entry(commit string) Entry {
	id, _ := snapshot.ParseHash(rec.ID) // checked by check
	at, _ := time.Parse(time.RFC3339Nano, rec.FetchedAt)
	docs := make(map[string]string, len(rec.Files))
	for _, f := range rec.Files {
		docs[f.Name] = f.SHA256
	}
	return Entry{
		ID:     id,
		Commit: commit,
		Meta: snapshot.Meta{
			Election:           snapshot.ElectionID(rec.Election),
			Version:            snapshot.Version(rec.Version),
			FetchedAt:          at.UTC(),
			Source:             snapshot.Source(rec.Source),
			SourceURL:          rec.SourceURL,
			TimeSource:         rec.TimeSource,
			PrecinctsReporting: rec.PrecinctsReporting,
			Documents:          docs,
		},
	}
}

// zstdIndexed is an indexed journal record.
type zstdIndexed struct {
	entry Entry
	files []zstdDocument // sorted by name
}

// zstdIndex is what the store knows of its journal: every record,
// indexed for Log, Contains, Load and the choice of delta bases.
type zstdIndex struct {
	// end is how many bytes of the journal are read: up to the last good
	// line. seq is the sequence number of the last record.
	end, seq int64
	// logs holds each election's records, lists the election lists,
	// oldest first.
	logs  map[snapshot.ElectionID][]*zstdIndexed
	lists []*zstdIndexed
	// byID holds the first record of each snapshot ID.
	byID map[snapshot.Hash]*zstdIndexed
	// objects holds the hex SHA-256 of every object a record names.
	objects map[string]bool
}

func newZstdIndex() *zstdIndex {
	return &zstdIndex{
		logs:    map[snapshot.ElectionID][]*zstdIndexed{},
		byID:    map[snapshot.Hash]*zstdIndexed{},
		objects: map[string]bool{},
	}
}

// add indexes the record rec, whose hash is commit.
func (ix *zstdIndex) add(rec *zstdRecord, commit string) *zstdIndexed {
	r := &zstdIndexed{entry: rec.entry(commit), files: rec.Files}
	ix.seq = rec.Seq
	if rec.Kind == zstdKindElectionList {
		ix.lists = append(ix.lists, r)
	} else {
		ix.logs[r.entry.Election] = append(ix.logs[r.entry.Election], r)
	}
	if _, ok := ix.byID[r.entry.ID]; !ok {
		ix.byID[r.entry.ID] = r
	}
	for _, f := range rec.Files {
		ix.objects[f.SHA256] = true
	}
	return r
}

// refresh reads the lines appended to the journal f since the index was
// last brought up to date. It returns the number of bytes after the last
// good line: a torn last line, which it leaves alone.
func (ix *zstdIndex) refresh(f *os.File) (torn int64, err error) {
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading journal: %w", err)
	}
	switch size := info.Size(); {
	case size < ix.end:
		return 0, fmt.Errorf("journal shrank from %d to %d bytes", ix.end, size)
	case size == ix.end:
		return 0, nil
	}
	data, err := io.ReadAll(io.NewSectionReader(f, ix.end, info.Size()-ix.end))
	if err != nil {
		return 0, fmt.Errorf("reading journal: %w", err)
	}
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		if !complete {
			return int64(len(data)), nil // cut short, or being written
		}
		rec, commit, err := parseZstdLine(line)
		if err == nil && rec.Seq != ix.seq+1 {
			err = fmt.Errorf("sequence number %d follows %d", rec.Seq, ix.seq)
		}
		if err != nil {
			if len(rest) == 0 {
				return int64(len(data)), nil // the last line, cut short
			}
			return 0, fmt.Errorf("journal line %d (at byte %d) is damaged: %w",
				ix.seq+1, ix.end, err)
		}
		ix.add(rec, commit)
		ix.end += int64(len(line)) + 1
		data = rest
	}
	return 0, nil
}

// latest returns the newest record of election id, or nil.
func (ix *zstdIndex) latest(id snapshot.ElectionID) *zstdIndexed {
	if rs := ix.logs[id]; len(rs) > 0 {
		return rs[len(rs)-1]
	}
	return nil
}

// latestList returns the newest election-list record, or nil.
func (ix *zstdIndex) latestList() *zstdIndexed {
	if len(ix.lists) > 0 {
		return ix.lists[len(ix.lists)-1]
	}
	return nil
}

// previous returns the SHA-256 of the newest document called name among
// records rs, or "" if none has one.
func previousDocument(rs []*zstdIndexed, name string) string {
	for i := len(rs) - 1; i >= 0; i-- {
		for _, f := range rs[i].files {
			if f.Name == name {
				return f.SHA256
			}
		}
	}
	return ""
}
