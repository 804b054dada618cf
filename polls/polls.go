// Package polls keeps the poll journal of ctrunner watch: one JSON line
// for every poll of an election's Version.json, whatever came of it, kept
// apart from the snapshots in a file inside the store folder
// (ctrunner-polls.jsonl). A git store ignores unknown files in its bare
// repository and a zstd store ignores files it does not name, so the
// journal never changes what the store holds.
//
// # Durability
//
// Each record is appended with one write(2) to a file opened with
// O_APPEND, so records of two writers never interleave within a line. The
// file is synced every Options.SyncEvery records or when a record comes
// Options.SyncInterval after the last sync, whichever is first, and on
// Close. A power cut can therefore lose the last few seconds of poll
// records, never a snapshot: the journal is for people and monitors, the
// store has its own durability. Syncing every line would cost a disk
// flush per poll for no gain the snapshots lack.
//
// A write cut short leaves a torn last line. Readers skip it; the next
// Open ends it with a newline, so later records start on a line of their
// own, and readers then count it among the unreadable lines they skip.
//
// # Rotation
//
// When a record would take the file past Options.MaxBytes (64 MiB by
// default, about a week of a busy election night at 30 s polls of 20
// elections), the file is renamed to ctrunner-polls.jsonl.1, replacing an
// older one, and a new file is started. Readers read the .1 file first. So
// the journal never takes more than about twice MaxBytes.
package polls

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"ctrunner/snapshot"
)

// FileName is the journal's name inside the store folder.
const FileName = "ctrunner-polls.jsonl"

// Outcome says what came of one poll.
type Outcome string

// The outcomes of a poll.
const (
	// New: a new version was stored and passed the sanity gates.
	New Outcome = "new"
	// Unchanged: the version was the one stored last (or the server
	// answered 304 Not Modified).
	Unchanged Outcome = "unchanged"
	// Failed: the poll or the fetch failed; Reason says why. Nothing was
	// stored.
	Failed Outcome = "failed"
	// Suspect: a new version was stored, but the sanity gates flagged it;
	// Reasons lists why.
	Suspect Outcome = "suspect"
)

// Record is one poll of one election.
type Record struct {
	Time     time.Time           `json:"time"`
	Election snapshot.ElectionID `json:"election"`
	// Status is the HTTP status of the Version.json request, 0 if no
	// answer came.
	Status int `json:"status"`
	// LatencyMS is how long the poll took, the documents' fetch included,
	// in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// Bytes counts the body bytes received by the poll.
	Bytes int64 `json:"bytes"`
	// Version is the API version seen, 0 if none.
	Version snapshot.Version `json:"version,omitempty"`
	Outcome Outcome          `json:"outcome"`
	// Reason says why a poll failed.
	Reason string `json:"reason,omitempty"`
	// Reasons lists why a version is suspect ("kind: detail").
	Reasons []string `json:"reasons,omitempty"`
	// Snapshot is the ID of the snapshot a new or suspect version was
	// stored as.
	Snapshot string `json:"snapshot,omitempty"`
	// Published says whether the new snapshot was published.
	Published bool `json:"published,omitempty"`
}

// Defaults for the zero fields of Options.
const (
	DefaultSyncEvery    = 32
	DefaultSyncInterval = 5 * time.Second
	DefaultMaxBytes     = 64 << 20
)

// Options tune a Journal. Zero fields take the defaults above.
type Options struct {
	// SyncEvery is how many records may be written between two syncs.
	SyncEvery int
	// SyncInterval is how old the first unsynced record may get before
	// the next append syncs.
	SyncInterval time.Duration
	// MaxBytes is the size at which the file is rotated.
	MaxBytes int64
}

// Journal appends records to the poll journal of one store. It is safe
// for concurrent use.
type Journal struct {
	path string
	opts Options

	mu       sync.Mutex
	f        *os.File
	size     int64
	unsynced int
	lastSync time.Time
}

// Path returns the journal's path in the store folder dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Open opens the journal of the store folder dir for appending, creating
// it if needed.
func Open(dir string, opts Options) (*Journal, error) {
	if opts.SyncEvery <= 0 {
		opts.SyncEvery = DefaultSyncEvery
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	j := &Journal{path: Path(dir), opts: opts, lastSync: time.Now()}
	if err := j.open(); err != nil {
		return nil, err
	}
	return j, nil
}

// open opens the file and ends a torn last line.
func (j *Journal) open() error {
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening poll journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening poll journal: %w", err)
	}
	j.f, j.size = f, fi.Size()
	if j.size == 0 {
		return nil
	}
	last := make([]byte, 1)
	r, err := os.Open(j.path)
	if err == nil {
		_, err = r.ReadAt(last, j.size-1)
		r.Close()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("opening poll journal: %w", err)
	}
	if last[0] != '\n' {
		n, err := f.Write([]byte("\n"))
		j.size += int64(n)
		if err != nil {
			f.Close()
			return fmt.Errorf("ending the torn last line of the poll journal: %w", err)
		}
	}
	return nil
}

// Append writes one record as one line.
func (j *Journal) Append(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding poll record: %w", err)
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("poll journal is closed")
	}
	if j.size > 0 && j.size+int64(len(line)) > j.opts.MaxBytes {
		if err := j.rotate(); err != nil {
			return err
		}
	}
	n, err := j.f.Write(line)
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing poll journal: %w", err)
	}
	j.unsynced++
	if j.unsynced >= j.opts.SyncEvery || time.Since(j.lastSync) >= j.opts.SyncInterval {
		return j.sync()
	}
	return nil
}

// rotate moves the full file aside as FileName.1 and starts a new one.
func (j *Journal) rotate() error {
	if err := j.sync(); err != nil {
		return err
	}
	j.f.Close()
	j.f = nil
	if err := os.Rename(j.path, j.path+".1"); err != nil {
		return fmt.Errorf("rotating poll journal: %w", err)
	}
	return j.open()
}

// sync flushes the file to disk; the caller holds j.mu.
func (j *Journal) sync() error {
	j.unsynced, j.lastSync = 0, time.Now()
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("syncing poll journal: %w", err)
	}
	return nil
}

// Sync flushes the records written so far to disk.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil || j.unsynced == 0 {
		return nil
	}
	return j.sync()
}

// Close syncs and closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil {
		return fmt.Errorf("closing poll journal: %w", err)
	}
	return nil
}

// Each reads the journal of the store folder dir, the rotated file first,
// and calls fn for every record in order. A torn last line is skipped
// silently; other lines that do not decode are skipped and counted in
// unreadable. A store without a journal has no records: Each returns an
// error matching fs.ErrNotExist.
func Each(dir string, fn func(Record)) (unreadable int, err error) {
	path := Path(dir)
	found := false
	for _, p := range []string{path + ".1", path} {
		n, err := eachIn(p, fn)
		unreadable += n
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return unreadable, fmt.Errorf("reading poll journal: %w", err)
		default:
			found = true
		}
	}
	if !found {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return 0, notExist(fmt.Sprintf("no store at %s (create one with ctrunner "+
				"archive or ctrunner import)", dir))
		}
		return 0, notExist(fmt.Sprintf("no poll journal in %s (ctrunner watch writes one)", dir))
	}
	return unreadable, nil
}

// eachIn reads one journal file.
func eachIn(path string, fn func(Record)) (unreadable int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return unreadable, nil // a torn last line, or nothing
		}
		if err != nil {
			return unreadable, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var r Record
		if json.Unmarshal(line, &r) != nil || r.Election == "" {
			unreadable++
			continue
		}
		fn(r)
	}
}

// notExist is an error that is fs.ErrNotExist to errors.Is and says only
// its own message.
type notExist string

func (e notExist) Error() string { return string(e) }
func (e notExist) Unwrap() error { return fs.ErrNotExist }
