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
//	{"rec":{"seq":7,"id":"…","election":"80","version":1313,
//	 "at":"2024-11-06T01:02:03Z","source":"fetched",…,
//	 "files":[["Electiondata.json","SHA-256",485853],
//	          ["Version.json","SHA-256",16,"{\"Version\":1313}"]]},
//	 "crc32c":"1a2b3c4d"}
//
// "rec" holds the record, "crc32c" the CRC-32C of the exact bytes of
// "rec". A record lists each document as its name, the SHA-256 of its raw
// bytes and its size; a document of UTF-8 text of at most
// defaultSmallDocument bytes has its bytes there too, as a fourth member,
// and no object. A record of an election list has "kind":"election-list"
// and no election. The members "source", "url", "time_source" and
// "precincts" are left out when they are those of the previous record of
// the same election (or the previous election list). Stores of format 1
// write records as
//
//	{"seq":7,"kind":"snapshot","id":"…","election":"80",…,
//	 "files":[{"name":"Electiondata.json","sha256":"…","size":485853}]}
//
// with every member and every document in an object.
//
// A snapshot's record lists the reasons the sanity gates found it suspect,
// if any, in "suspect" (an array of strings; older records have none). A
// record of kind "publish" records a publication, in stores of either
// format:
//
//	{"seq":9,"kind":"publish","id":"…","election":"80","version":1313,
//	 "at":"2024-11-06T01:02:03Z","of":"…","reason":"rollback"}
//
// "of" is the Commit of the published snapshot's record, which an earlier
// record (or an earlier one of the same batch) must be; "id" and "version"
// repeat that snapshot's, "at" is the publication time (in format 1 the
// member is "fetched_at"). A publish record has no documents and leaves
// out no member. A ctrunner older than publications refuses such a
// record as an unknown kind: a store that holds one must not be written
// by an older ctrunner, which would take a publish record at the end of
// the journal for a torn write.
//
// An Update that archives several records appends them in one write, as
// a batch: each of its lines also carries "batch", the sequence number of
// the batch's first record (then "crc32c" covers the bytes of "rec"
// followed by the decimal batch number), and a last line closes the batch:
//
//	{"end":{"batch":7,"records":3},"crc32c":"…"}
//
// whose "crc32c" covers the bytes of "end". An Update of one record writes
// one line without "batch", as earlier versions did.
//
// Appending the lines is the commit point of a write: objects that no line
// names are garbage that no reader looks at. A last line, or a last batch,
// without its newline, with a wrong checksum or without its end line is
// the trace of a write cut short; it is ignored by readers and removed by
// the next writer or Recover. A bad line followed by any good line (of the
// same batch, its end or a later batch) is damage, which no write cut
// short leaves: readers see the batches before it, Verify reports it, and
// writers and Recover refuse to touch the store.
const zstdJournalName = "journal.jsonl"

// Kinds of journal record.
const (
	zstdKindSnapshot     = "snapshot"
	zstdKindElectionList = "election-list"
	zstdKindPublish      = "publish"
)

// zstdLine is one line of the journal: a record, or the end of a batch.
type zstdLine struct {
	Rec    json.RawMessage `json:"rec,omitempty"`
	Batch  int64           `json:"batch,omitempty"`
	End    json.RawMessage `json:"end,omitempty"`
	CRC32C string          `json:"crc32c"`

	// scanned is Rec read as a record of format 2 by scanZstdLine, or nil.
	scanned *scannedRecord
}

// zstdEnd closes a batch of records: the batch's first sequence number and
// how many records it holds.
type zstdEnd struct {
	Batch   int64 `json:"batch"`
	Records int   `json:"records"`
}

// lineCRC returns the checksum of a record line's rec bytes in batch (0:
// none), or of an end line's end bytes.
func lineCRC(body []byte, batch int64) string {
	sum := crc32.Checksum(body, castagnoli)
	if batch != 0 {
		sum = crc32.Update(sum, castagnoli, fmt.Appendf(nil, "%d", batch))
	}
	return fmt.Sprintf("%08x", sum)
}

// zstdRecord is what a journal line records: a snapshot with all its
// metadata, an election list, or a publication (whose FetchedAt is the
// publication time). Its JSON form is that of format 1.
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
	Suspect            []string       `json:"suspect,omitempty"`
	Files              []zstdDocument `json:"files,omitempty"`
	// Of and Reason are those of a publication: the Commit of the
	// published snapshot's record, and why it was published.
	Of     string `json:"of,omitempty"`
	Reason string `json:"reason,omitempty"`

	// inherited, in a record read from a line of format 2, says which
	// members the line leaves out, to be taken from the previous record.
	inherited inheritedMembers
}

// inheritedMembers is a set of the members of a record a line of format 2
// may leave out.
type inheritedMembers uint8

const (
	inheritSource inheritedMembers = 1 << iota
	inheritSourceURL
	inheritTimeSource
	inheritPrecincts
)

// zstdDocument is a document of a record: its name, the SHA-256 of its raw
// bytes (which names its object unless it is inline) and its size.
type zstdDocument struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Inline says the document has no object: Data holds its bytes.
	Inline bool   `json:"-"`
	Data   []byte `json:"-"`
}

// defaultSmallDocument is the size up to which a store of format 2 keeps a
// document of UTF-8 text in its journal records rather than as an object:
// an object costs a 92-byte header, a file and a folder entry.
const defaultSmallDocument = 128

// zstdRecord2 is the JSON form of a record in a store of format 2. A nil
// member is that of the previous record.
type zstdRecord2 struct {
	Seq        int64             `json:"seq"`
	Kind       string            `json:"kind,omitempty"` // "" for a snapshot
	ID         string            `json:"id"`
	Election   string            `json:"election,omitempty"`
	Version    int64             `json:"version,omitempty"`
	FetchedAt  string            `json:"at"`
	Source     *string           `json:"source,omitempty"`
	SourceURL  *string           `json:"url,omitempty"`
	TimeSource *string           `json:"time_source,omitempty"`
	Precincts  *string           `json:"precincts,omitempty"`
	Suspect    []string          `json:"suspect,omitempty"`
	Files      []json.RawMessage `json:"files,omitempty"`
	Of         string            `json:"of,omitempty"`
	Reason     string            `json:"reason,omitempty"`
}

// marshalZstdLine returns the journal line for rec outside any batch in
// a store of the given format, with its newline, and the hex SHA-256 of
// the record's bytes, which is the Commit of its entry. The line leaves
// out no member.
func marshalZstdLine(rec *zstdRecord, format int) (line []byte, commit string, err error) {
	body, commit, err := marshalZstdRecord(rec, format, nil)
	if err != nil {
		return nil, "", err
	}
	line, err = zstdRecordLine(body, 0)
	return line, commit, err
}

// marshalZstdRecord returns the bytes of rec in a store of the given format
// and their hex SHA-256, the Commit of its entry. prev is the previous
// record of the same election (or the previous election list), nil if
// none.
func marshalZstdRecord(rec *zstdRecord, format int, prev *Entry) (
	body []byte, commit string, err error) {
	if format == zstdFormatFanout {
		body, err = json.Marshal(rec)
	} else {
		body, err = marshalZstdRecord2(rec, prev)
	}
	if err != nil {
		return nil, "", fmt.Errorf("encoding journal record: %w", err)
	}
	sum := sha256.Sum256(body)
	return body, hex.EncodeToString(sum[:]), nil
}

// marshalZstdRecord2 returns the bytes of rec in a store of format 2.
func marshalZstdRecord2(rec *zstdRecord, prev *Entry) ([]byte, error) {
	r := zstdRecord2{
		Seq:       rec.Seq,
		ID:        rec.ID,
		Election:  rec.Election,
		Version:   rec.Version,
		FetchedAt: rec.FetchedAt,
		Suspect:   rec.Suspect,
		Of:        rec.Of,
		Reason:    rec.Reason,
	}
	if rec.Kind != zstdKindSnapshot {
		r.Kind = rec.Kind
	}
	if rec.Kind == zstdKindPublish {
		return json.Marshal(r) // no member to leave out, no documents
	}
	// A member is left out when the previous record has the same.
	var was snapshot.Meta
	if prev != nil {
		was = prev.Meta
	}
	member := func(v, old string) *string {
		if prev != nil && v == old {
			return nil
		}
		return &v
	}
	r.Source = member(rec.Source, string(was.Source))
	r.SourceURL = member(rec.SourceURL, was.SourceURL)
	r.TimeSource = member(rec.TimeSource, was.TimeSource)
	r.Precincts = member(rec.PrecinctsReporting, was.PrecinctsReporting)
	for _, f := range rec.Files {
		doc := []any{f.Name, f.SHA256, f.Size}
		if f.Inline {
			doc = append(doc, string(f.Data))
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		r.Files = append(r.Files, b)
	}
	return json.Marshal(r)
}

// parseZstdRecord2 reads the bytes of a record of format 2.
func parseZstdRecord2(body []byte, scanned *scannedRecord) (*zstdRecord, error) {
	var r zstdRecord2
	var docs []zstdDocument
	ok := scanned != nil
	if ok {
		r, docs = scanned.r, scanned.docs
	} else {
		r, docs, ok = scanZstdRecord2(body)
	}
	if !ok {
		var err error
		if r, docs, err = decodeZstdRecord2(body); err != nil {
			return nil, err
		}
	}
	rec := &zstdRecord{
		Seq:       r.Seq,
		Kind:      r.Kind,
		ID:        r.ID,
		Election:  r.Election,
		Version:   r.Version,
		FetchedAt: r.FetchedAt,
		Suspect:   r.Suspect,
		Of:        r.Of,
		Reason:    r.Reason,
		Files:     docs,
	}
	if rec.Kind == "" {
		rec.Kind = zstdKindSnapshot
	}
	if rec.Kind == zstdKindPublish && len(docs) == 0 {
		return rec, nil // a publication leaves out no member
	}
	for _, m := range []struct {
		from *string
		to   *string
		bit  inheritedMembers
	}{
		{r.Source, &rec.Source, inheritSource},
		{r.SourceURL, &rec.SourceURL, inheritSourceURL},
		{r.TimeSource, &rec.TimeSource, inheritTimeSource},
		{r.Precincts, &rec.PrecinctsReporting, inheritPrecincts},
	} {
		if m.from == nil {
			rec.inherited |= m.bit
		} else {
			*m.to = *m.from
		}
	}
	return rec, nil
}

// decodeZstdRecord2 reads a record of format 2 with encoding/json: the
// reading that counts, which scanZstdRecord2 only makes faster.
func decodeZstdRecord2(body []byte) (zstdRecord2, []zstdDocument, error) {
	var r zstdRecord2
	if err := json.Unmarshal(body, &r); err != nil {
		return r, nil, err
	}
	var docs []zstdDocument
	for i, b := range r.Files {
		var doc []json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			return r, nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(doc) != 3 && len(doc) != 4 {
			return r, nil, fmt.Errorf("document %d has %d members, want 3 or 4", i+1, len(doc))
		}
		var f zstdDocument
		var data string
		err := errors.Join(json.Unmarshal(doc[0], &f.Name), json.Unmarshal(doc[1], &f.SHA256),
			json.Unmarshal(doc[2], &f.Size))
		if len(doc) == 4 {
			err = errors.Join(err, json.Unmarshal(doc[3], &data))
			f.Inline, f.Data = true, []byte(data)
		}
		if err != nil {
			return r, nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		docs = append(docs, f)
	}
	return r, docs, nil
}

// zstdRecordLine returns the journal line, with its newline, of the record
// whose bytes are body, in batch (0: none).
func zstdRecordLine(body []byte, batch int64) ([]byte, error) {
	line, err := json.Marshal(zstdLine{Rec: body, Batch: batch, CRC32C: lineCRC(body, batch)})
	if err != nil {
		return nil, fmt.Errorf("encoding journal line: %w", err)
	}
	return append(line, '\n'), nil
}

// zstdEndLine returns the line, with its newline, that closes a batch.
func zstdEndLine(end zstdEnd) ([]byte, error) {
	body, err := json.Marshal(end)
	if err == nil {
		var line []byte
		line, err = json.Marshal(zstdLine{End: body, CRC32C: lineCRC(body, 0)})
		if err == nil {
			return append(line, '\n'), nil
		}
	}
	return nil, fmt.Errorf("encoding journal line: %w", err)
}

// zstdParsed is a journal line read back: a record, or the end of a batch.
type zstdParsed struct {
	rec    *zstdRecord // nil for an end line
	commit string
	batch  int64 // the record's batch, 0 if none
	end    zstdEnd
}

// parseZstdLine reads a record's journal line of a store of the given
// format, without its newline.
func parseZstdLine(b []byte, format int) (*zstdRecord, string, error) {
	p, err := parseZstdJournalLine(b, format)
	if err == nil && p.rec == nil {
		err = errors.New("the end of a batch, not a record")
	}
	if err != nil {
		return nil, "", err
	}
	return p.rec, p.commit, nil
}

// parseZstdJournalLine reads a journal line of a store of the given format,
// without its newline.
func parseZstdJournalLine(b []byte, format int) (zstdParsed, error) {
	l, ok := scanZstdLine(b)
	if !ok {
		if err := json.Unmarshal(b, &l); err != nil {
			return zstdParsed{}, fmt.Errorf("not a journal line: %w", err)
		}
	}
	if (l.Rec == nil) == (l.End == nil) || (l.End != nil && l.Batch != 0) || l.Batch < 0 {
		return zstdParsed{}, errors.New("not a journal line: neither a record nor an end")
	}
	body := l.Rec
	if l.End != nil {
		body = l.End
	}
	if want := lineCRC(body, l.Batch); l.CRC32C != want {
		return zstdParsed{}, fmt.Errorf("checksum %q, want %q", l.CRC32C, want)
	}
	if l.End != nil {
		p := zstdParsed{}
		if err := json.Unmarshal(l.End, &p.end); err != nil {
			return zstdParsed{}, fmt.Errorf("reading end of batch: %w", err)
		}
		if p.end.Batch <= 0 || p.end.Records < 2 {
			return zstdParsed{}, fmt.Errorf("end of batch %d of %d records",
				p.end.Batch, p.end.Records)
		}
		return p, nil
	}
	rec, commit, err := parseZstdRecord(l.Rec, format, l.scanned)
	return zstdParsed{rec: rec, commit: commit, batch: l.Batch}, err
}

// parseZstdRecord reads the bytes of a record of a store of the given
// format.
func parseZstdRecord(body []byte, format int, scanned *scannedRecord) (*zstdRecord, string, error) {
	rec := &zstdRecord{}
	var err error
	if format == zstdFormatFanout {
		err = json.Unmarshal(body, rec)
	} else {
		rec, err = parseZstdRecord2(body, scanned)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading record: %w", err)
	}
	if err := rec.check(); err != nil {
		return nil, "", err
	}
	if rec.Seq <= 0 {
		return nil, "", fmt.Errorf("sequence number %d", rec.Seq)
	}
	sum := sha256.Sum256(body)
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
	case zstdKindPublish:
		if _, err := snapshot.ParseElectionID(rec.Election); err != nil {
			return err
		}
		if !isHex(rec.Of, 2*sha256.Size) || rec.Reason == "" || len(rec.Files) > 0 {
			return errors.New("publish record without the record it publishes or a reason, " +
				"or with documents")
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
	if rec.Kind == zstdKindPublish {
		return nil
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
		if f.Inline && (int64(len(f.Data)) != f.Size || snapshot.SHA256(f.Data) != f.SHA256) {
			return fmt.Errorf("document %q: its bytes are not those of its size and SHA-256",
				f.Name)
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
			Suspect:            rec.Suspect,
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
	format int // of the store
	// end is how many bytes of the journal are read: up to the last good
	// line; lines, how many lines those are. seq is the sequence number of
	// the last record.
	end, lines, seq int64
	// damage, if not nil, is damage found after end: a bad line followed
	// by good ones. Nothing may be written to the journal or cut from it.
	damage *zstdDamage
	// logs holds each election's records, lists the election lists,
	// oldest first.
	logs  map[snapshot.ElectionID][]*zstdIndexed
	lists []*zstdIndexed
	// byID holds the first record of each snapshot ID.
	byID map[snapshot.Hash]*zstdIndexed
	// snapshots holds the snapshot records by Commit.
	snapshots map[string]*zstdIndexed
	// pubs holds each election's publications, oldest first.
	pubs map[snapshot.ElectionID][]*zstdPublished
	// objects holds the hex SHA-256 of every object a record names.
	objects map[string]bool
}

// zstdPublished is an indexed publish record.
type zstdPublished struct {
	of     *zstdIndexed // the published snapshot's record
	at     time.Time
	reason string
}

// publication returns the Publication p records.
func (p *zstdPublished) publication() Publication {
	return Publication{Election: p.of.entry.Election, Entry: copyEntry(p.of.entry), At: p.at,
		Reason: p.reason}
}

func newZstdIndex(format int) *zstdIndex {
	return &zstdIndex{
		format:    format,
		logs:      map[snapshot.ElectionID][]*zstdIndexed{},
		byID:      map[snapshot.Hash]*zstdIndexed{},
		snapshots: map[string]*zstdIndexed{},
		pubs:      map[snapshot.ElectionID][]*zstdPublished{},
		objects:   map[string]bool{},
	}
}

// reserve makes room in an empty index for about n records, so that
// opening a store of thousands does not grow its maps step by step.
func (ix *zstdIndex) reserve(n int) {
	ix.byID = make(map[snapshot.Hash]*zstdIndexed, n)
	ix.snapshots = make(map[string]*zstdIndexed, n)
	ix.objects = make(map[string]bool, n)
}

// add indexes the record rec, whose hash is commit, taking the members
// its line leaves out from the previous record, which follows has checked
// exists. For a publish record, whose published record follows has
// checked is indexed, it returns nil.
func (ix *zstdIndex) add(rec *zstdRecord, commit string) *zstdIndexed {
	if rec.Kind == zstdKindPublish {
		at, _ := time.Parse(time.RFC3339Nano, rec.FetchedAt) // checked by check
		id := snapshot.ElectionID(rec.Election)
		ix.pubs[id] = append(ix.pubs[id], &zstdPublished{of: ix.snapshots[rec.Of],
			at: at.UTC(), reason: rec.Reason})
		ix.seq = rec.Seq
		return nil
	}
	if rec.inherited != 0 {
		if prev := ix.previous(rec); prev != nil {
			rec.inherit(prev.entry.Meta)
		}
	}
	r := &zstdIndexed{entry: rec.entry(commit), files: rec.Files}
	ix.seq = rec.Seq
	if rec.Kind == zstdKindElectionList {
		ix.lists = append(ix.lists, r)
	} else {
		ix.logs[r.entry.Election] = append(ix.logs[r.entry.Election], r)
		ix.snapshots[commit] = r
	}
	if _, ok := ix.byID[r.entry.ID]; !ok {
		ix.byID[r.entry.ID] = r
	}
	for _, f := range rec.Files {
		if !f.Inline {
			ix.objects[f.SHA256] = true
		}
	}
	return r
}

// previous returns the newest indexed record of rec's election, or the
// newest election list for a list, nil if none.
func (ix *zstdIndex) previous(rec *zstdRecord) *zstdIndexed {
	if rec.Kind == zstdKindElectionList {
		return ix.latestList()
	}
	return ix.latest(snapshot.ElectionID(rec.Election))
}

// inherit sets the members the record's line leaves out to those of
// prev, the metadata of the previous record.
func (rec *zstdRecord) inherit(prev snapshot.Meta) {
	if rec.inherited&inheritSource != 0 {
		rec.Source = string(prev.Source)
	}
	if rec.inherited&inheritSourceURL != 0 {
		rec.SourceURL = prev.SourceURL
	}
	if rec.inherited&inheritTimeSource != 0 {
		rec.TimeSource = prev.TimeSource
	}
	if rec.inherited&inheritPrecincts != 0 {
		rec.PrecinctsReporting = prev.PrecinctsReporting
	}
	rec.inherited = 0
}

// errJournalShrank reports a journal shorter than what the index has
// read: a writer took back a batch whose sync failed. The index must then
// be built again.
var errJournalShrank = errors.New("journal shrank")

// zstdDamage describes a damaged journal: a line that cannot be read
// (or does not follow the lines before it) with a good line after it,
// which a write cut short cannot leave. Readers see the records before the
// damaged batch; writers and Recover refuse to touch the journal.
type zstdDamage struct {
	line   int64 // the damaged line, counting from 1
	offset int64 // its first byte
	// batch is the first sequence number of the batch (or lone record)
	// the line is in; records, how many records that batch's end line
	// says it holds, 0 if no end line of it was read.
	batch   int64
	records int
	// hidden is how many record lines from the damaged batch on readers
	// cannot see, the damaged line counted as one unless it is an end line.
	hidden int
	err    error
}

// detail describes the damage, without its line number.
func (d *zstdDamage) detail() string {
	in := fmt.Sprintf("batch %d", d.batch)
	if d.records > 0 {
		in += fmt.Sprintf(" of %d records", d.records)
	}
	return fmt.Sprintf("byte %d, in %s: %v; %d %s from sequence number %d on unreadable",
		d.offset, in, d.err, d.hidden, plural(d.hidden, "record"), d.batch)
}

// Error describes the damage on one line.
func (d *zstdDamage) Error() string {
	return fmt.Sprintf("%s is damaged at line %d (%s)", zstdJournalName, d.line, d.detail())
}

// refresh reads the lines appended to the journal f since the index was
// last brought up to date, and indexes the records of every complete
// batch. It returns the number of bytes after the last complete batch: a
// torn last line or batch, or one being written, which it leaves alone.
// A line that cannot be read but is followed by a good line is damage,
// not a torn write: refresh indexes the batches before it, records the
// damage in ix.damage and returns 0, since nothing may be cut.
// parsedLine is a journal line read by parseZstdJournalLines.
type parsedLine struct {
	p   zstdParsed
	err error
}

// parseZstdJournalLines reads the complete lines of data on every CPU: a
// journal of thousands of records takes most of the time of opening a
// store. The lines are checked in order afterwards.
func parseZstdJournalLines(data []byte, format int) []parsedLine {
	var lines [][]byte
	for rest := data; ; {
		line, after, complete := bytes.Cut(rest, []byte{'\n'})
		if !complete {
			break
		}
		lines = append(lines, line)
		rest = after
	}
	parsed := make([]parsedLine, len(lines))
	inParallel(len(lines), func() func(i int) error {
		return func(i int) error {
			parsed[i].p, parsed[i].err = parseZstdJournalLine(lines[i], format)
			return nil
		}
	})
	return parsed
}

func (ix *zstdIndex) refresh(f *os.File) (torn int64, err error) {
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading journal: %w", err)
	}
	switch size := info.Size(); {
	case size < ix.end:
		return 0, fmt.Errorf("%w from %d to %d bytes", errJournalShrank, ix.end, size)
	case size == ix.end:
		ix.damage = nil
		return 0, nil
	}
	data := make([]byte, info.Size()-ix.end)
	n, err := io.ReadFull(io.NewSectionReader(f, ix.end, int64(len(data))), data)
	data = data[:n]
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil // shorter than it was a moment ago: a writer is cutting a torn tail
	}
	if err != nil {
		return 0, fmt.Errorf("reading journal: %w", err)
	}
	ix.damage = nil
	var pending []zstdParsed // the records of the open batch
	var open int64           // the open batch, 0 if none
	committed, off := 0, 0   // offsets in data
	var lines, committedLines int64
	parsed := parseZstdJournalLines(data, ix.format)
	if ix.end == 0 {
		ix.reserve(len(parsed))
	}
	for k := 0; off < len(data); k++ {
		line, _, complete := bytes.Cut(data[off:], []byte{'\n'})
		if !complete {
			break // cut short, or being written
		}
		next := off + len(line) + 1
		p, err := parsed[k].p, parsed[k].err
		if err == nil {
			err = ix.follows(p, pending, open)
		}
		if err != nil {
			batch := open
			if batch == 0 {
				batch = ix.seq + 1
			}
			if d := laterGood(data[next:], batch, ix.format); d != nil {
				d.line = ix.lines + lines + 1
				d.offset = ix.end + int64(off)
				d.batch = batch
				d.hidden += len(pending)
				if p.rec != nil || !isEndLine(line) {
					d.hidden++
				}
				d.err = err
				ix.damage = d
				ix.end += int64(committed)
				ix.lines += committedLines
				return 0, nil
			}
			break // the last batch, cut short
		}
		off = next
		lines++
		switch {
		case p.rec != nil && p.batch == 0:
			ix.add(p.rec, p.commit)
			committed, committedLines = off, lines
		case p.rec != nil:
			pending, open = append(pending, p), p.batch
		default:
			for _, r := range pending {
				ix.add(r.rec, r.commit)
			}
			pending, open, committed, committedLines = nil, 0, off, lines
		}
	}
	ix.end += int64(committed)
	ix.lines += committedLines
	return int64(len(data) - committed), nil
}

// isEndLine reports whether the unreadable line b looks like the end of a
// batch.
func isEndLine(b []byte) bool {
	return bytes.HasPrefix(b, []byte(`{"end":`))
}

// follows checks that the journal line p may follow the index and the
// records pending in the open batch.
func (ix *zstdIndex) follows(p zstdParsed, pending []zstdParsed, open int64) error {
	want := ix.seq + int64(len(pending)) + 1
	switch {
	case p.rec == nil && (open == 0 || p.end.Batch != open || p.end.Records != len(pending)):
		return fmt.Errorf("end of batch %d of %d records, but batch %d has %d",
			p.end.Batch, p.end.Records, open, len(pending))
	case p.rec == nil:
		return nil
	case p.rec.Seq != want:
		return fmt.Errorf("sequence number %d follows %d", p.rec.Seq, want-1)
	case p.batch == 0 && open != 0:
		return fmt.Errorf("record outside a batch inside batch %d", open)
	case p.batch != 0 && open == 0 && p.batch != p.rec.Seq:
		return fmt.Errorf("batch %d starts with record %d", p.batch, p.rec.Seq)
	case p.batch != 0 && open != 0 && p.batch != open:
		return fmt.Errorf("record of batch %d inside batch %d", p.batch, open)
	case p.rec.inherited != 0 && ix.previous(p.rec) == nil && !pendingHas(pending, p.rec):
		return errors.New("record takes members from a previous record, but there is none")
	case p.rec.Kind == zstdKindPublish && !ix.publishable(p.rec, pending):
		return fmt.Errorf("publish record of %s, which is no earlier snapshot record "+
			"of election %s with ID %s", p.rec.Of, p.rec.Election, p.rec.ID)
	}
	return nil
}

// publishable reports whether the publish record rec names a snapshot
// record of its election and ID, indexed or pending.
func (ix *zstdIndex) publishable(rec *zstdRecord, pending []zstdParsed) bool {
	if r := ix.snapshots[rec.Of]; r != nil {
		return string(r.entry.Election) == rec.Election && r.entry.ID.String() == rec.ID
	}
	for _, p := range pending {
		if p.commit == rec.Of {
			return p.rec.Kind == zstdKindSnapshot && p.rec.Election == rec.Election &&
				p.rec.ID == rec.ID
		}
	}
	return false
}

// pendingHas reports whether pending holds a record of rec's election (or
// an election list, for a list).
func pendingHas(pending []zstdParsed, rec *zstdRecord) bool {
	for _, p := range pending {
		if p.rec.Kind == rec.Kind && p.rec.Election == rec.Election {
			return true
		}
	}
	return false
}

// laterGood looks at data, the journal after a line of batch that cannot
// be read or does not follow the lines before it. A write cut short
// leaves only an incomplete last batch, never a good line after a bad
// one: if any complete line of data is a good journal line, the bad line
// is damage, and laterGood returns a zstdDamage with the records of data
// counted in hidden and, if the end line of batch is there, its size in
// records. Otherwise the bad line starts a torn tail and it returns nil.
func laterGood(data []byte, batch int64, format int) *zstdDamage {
	var d zstdDamage
	good := false
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		if !complete {
			break
		}
		data = rest
		p, err := parseZstdJournalLine(line, format)
		switch {
		case err != nil:
			if !isEndLine(line) {
				d.hidden++
			}
			continue
		case p.rec == nil && p.end.Batch == batch && d.records == 0:
			d.records = p.end.Records
		case p.rec != nil:
			d.hidden++
		}
		good = true
	}
	if !good {
		return nil
	}
	return &d
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

// previousDocument returns the SHA-256 of the newest document called name
// among records rs, or "" if none has one or if it has no object.
func previousDocument(rs []*zstdIndexed, name string) string {
	for i := len(rs) - 1; i >= 0; i-- {
		for _, f := range rs[i].files {
			if f.Name == name && !f.Inline {
				return f.SHA256
			}
			if f.Name == name {
				return ""
			}
		}
	}
	return ""
}
