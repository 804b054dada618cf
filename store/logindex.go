package store

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"

	"ctrunner/snapshot"
)

// The log index lets Log list an election of thousands of snapshots by
// reading one file instead of one git object per snapshot. For each
// election it keeps a copy of the raw commit objects of the election's
// branch, oldest first, in logIndexDir/{id}:
//
//	ctrunner log index 1
//	{commit hash} {length}
//	{the commit object's content, length bytes}
//	{commit hash} {length}
//	...
//
// The index is a cache, never a source of truth: every record is checked
// against its commit hash (the SHA-1 git computes over the content) before
// it is used, and Log still starts from the branch's tip and follows the
// parents, reading from the repository any commit the index lacks. So an
// index that is stale, torn by a crash, damaged, or left over from a
// history that was since rewritten costs time, never correctness. Readers
// never write it; writers append to it after their commits are in place,
// and rewrite it whole when it does not end at the branch's old tip.
const (
	logIndexDir    = "ctrunner-log"
	logIndexHeader = "ctrunner log index 1\n"
)

func logIndexPath(dir string, id snapshot.ElectionID) string {
	return filepath.Join(dir, logIndexDir, string(id))
}

// indexRecord is one verified record of a log index. Its strings are
// parts of the index's text, which is read once and never copied.
type indexRecord struct {
	hash    plumbing.Hash
	hex     string // the hash as written
	content string // the commit object without its git header
	end     int    // the offset in the index of the byte after the record
}

// errIndexNotFile is the error of readLogIndex on an index that is not a
// regular file: a named pipe, a device or a symbolic link, which readers
// must not open (a pipe blocks them) and writers replace.
var errIndexNotFile = errors.New("not a regular file")

// readLogIndex returns the records of the election's log index that are
// whole and match their hashes, up to the first that is not, and the size
// of the file those records fill. A missing index has no records.
func readLogIndex(dir string, id snapshot.ElectionID) ([]indexRecord, int64, error) {
	text, err := readText(logIndexPath(dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading log index of election %s: %w", id, err)
	}
	records, size := parseLogIndex(text)
	return records, size, nil
}

// readText reads a file into a string without the copy a conversion from
// []byte makes: listing a long log is mostly work on this text, and its
// records, messages and hashes are all parts of it.
func readText(path string) (string, error) {
	// Without following a link, and without waiting for a writer if the
	// file is a named pipe; then only a regular file is read.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return "", errIndexNotFile
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", errIndexNotFile
	}
	var b strings.Builder
	b.Grow(int(fi.Size()))
	if _, err := io.Copy(&b, f); err != nil {
		return "", err
	}
	return b.String(), nil
}

// parseLogIndex reads records from data until the end or the first
// record that is torn or does not hash to its name.
func parseLogIndex(data string) ([]indexRecord, int64) {
	rest, ok := strings.CutPrefix(data, logIndexHeader)
	if !ok {
		return nil, 0
	}
	var records []indexRecord
	size := len(data) - len(rest)
	for len(rest) > 0 {
		line, after, ok := strings.Cut(rest, "\n")
		if !ok || len(line) < 42 || line[40] != ' ' {
			break
		}
		hash, ok := parseHash(line[:40])
		if !ok {
			break
		}
		n, err := strconv.Atoi(line[41:])
		if err != nil || n < 0 || n > len(after) {
			break
		}
		rest = after[n:]
		records = append(records, indexRecord{hash: hash, hex: line[:40], content: after[:n],
			end: len(data) - len(rest)})
	}
	// Keep the records up to the first whose content does not hash to its
	// name.
	bad := make([]bool, len(records))
	inParallel(len(records), func() func(i int) error {
		var h commitHasher
		return func(i int) error {
			bad[i] = h.sum(records[i].content) != records[i].hash
			return nil
		}
	})
	if i := slices.Index(bad, true); i >= 0 {
		records = records[:i]
	}
	if len(records) > 0 {
		size = records[len(records)-1].end
	}
	return records, int64(size)
}

// inParallel calls a function for each 0 ≤ i < n on every CPU (listing
// thousands of snapshots is mostly checking and parsing their records) and
// returns the errors it returned. Each worker gets its function from
// worker, and stops at its first error.
func inParallel(n int, worker func() func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), 1+n/1000)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			fn := worker()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func parseHash(s string) (plumbing.Hash, bool) {
	if !isHex(s, 40) {
		return plumbing.ZeroHash, false
	}
	return plumbing.NewHash(s), true
}

// commitHasher computes the git object names of commits, reusing its
// buffers.
type commitHasher struct {
	h   hash.Hash
	buf []byte
}

// sum is the git object name of a commit with this content.
func (c *commitHasher) sum(content string) plumbing.Hash {
	if c.h == nil {
		c.h, c.buf = sha1.New(), make([]byte, 0, 4096)
	}
	c.h.Reset()
	c.buf = strconv.AppendInt(append(c.buf[:0], "commit "...), int64(len(content)), 10)
	c.h.Write(append(c.buf, 0))
	for rest := content; rest != ""; {
		n := copy(c.buf[:cap(c.buf)], rest)
		c.h.Write(c.buf[:n])
		rest = rest[n:]
	}
	var out plumbing.Hash
	c.h.Sum(out[:0])
	return out
}

// commitHash is the git object name of a commit with this content.
func commitHash(content string) plumbing.Hash {
	var c commitHasher
	return c.sum(content)
}

// appendRecord adds one record for the commit h with content to buf.
func appendRecord[T []byte | string](buf []byte, h plumbing.Hash, content T) []byte {
	buf = fmt.Appendf(buf, "%s %d\n", h, len(content))
	return append(buf, content...)
}

// parseCommitContent reads what Log needs from a commit object written by
// this store: its tree, its first parent and its message.
func parseCommitContent(content string) (tree, parent plumbing.Hash, msg string, err error) {
	header, message, ok := strings.Cut(content, "\n\n")
	if !ok {
		return tree, parent, "", errors.New("commit has no message")
	}
	for header != "" {
		var line string
		line, header, _ = strings.Cut(header, "\n")
		key, value, _ := strings.Cut(line, " ")
		switch key {
		case "tree":
			if tree, ok = parseHash(value); !ok {
				return tree, parent, "", fmt.Errorf("bad tree line %q", line)
			}
		case "parent":
			if !parent.IsZero() {
				continue // only the first parent makes the log
			}
			if parent, ok = parseHash(value); !ok {
				return tree, parent, "", fmt.Errorf("bad parent line %q", line)
			}
		}
	}
	if tree.IsZero() {
		return tree, parent, "", errors.New("commit has no tree")
	}
	return tree, parent, message, nil
}

// parseIndexedCommit turns a verified record into what Log caches.
func parseIndexedCommit(r indexRecord) (parsedCommit, error) {
	tree, parent, msg, err := parseCommitContent(r.content)
	if err != nil {
		return parsedCommit{}, fmt.Errorf("commit %s: %w", r.hash, err)
	}
	meta, err := parseMessage(msg)
	if err != nil {
		return parsedCommit{}, fmt.Errorf("commit %s: %w", r.hash, err)
	}
	return parsedCommit{
		entry:  Entry{ID: snapshot.Hash(tree), Commit: r.hex, Meta: meta},
		parent: parent,
	}, nil
}

// parseIndexedCommits parses records.
func parseIndexedCommits(records []indexRecord) ([]parsedCommit, error) {
	parsed := make([]parsedCommit, len(records))
	err := inParallel(len(records), func() func(i int) error {
		return func(i int) error {
			var err error
			parsed[i], err = parseIndexedCommit(records[i])
			return err
		}
	})
	return parsed, err
}

// logFromIndex reads the election's log index once. If the index ends at
// tip and holds the whole branch down to its first commit, it returns the
// log, newest first. Otherwise it puts the commits it could read into the
// commit cache, for Log's walk from tip to find there, and returns false.
// Called with g.mu held.
func (g *gitStore) logFromIndex(id snapshot.ElectionID, tip plumbing.Hash) ([]Entry, bool) {
	records, _, err := readLogIndex(g.dir, id)
	if err != nil || len(records) == 0 {
		return nil, false // the walk reads the repository instead
	}
	parsed, err := parseIndexedCommits(records)
	whole := err == nil && records[len(records)-1].hash == tip
	parent := plumbing.ZeroHash
	for i := 0; whole && i < len(parsed); i++ {
		whole = parsed[i].parent == parent
		parent = records[i].hash
	}
	if !whole {
		for i, pc := range parsed {
			if pc.entry.Commit != "" { // parsed; a record that was not stays for the walk
				g.remember(records[i].hash, pc)
			}
		}
		return nil, false
	}
	entries := make([]Entry, len(parsed))
	for i, pc := range parsed {
		entries[len(parsed)-1-i] = pc.entry
	}
	return entries, true
}

// updateLogIndex brings the election's log index up to the branch's new
// tip after a write that moved the branch from old through the commits
// added (oldest first, with their encoded content). It appends when the
// index ends at old, and rewrites the index from the whole branch
// otherwise. Errors are returned for tests to see; the write they follow
// has already succeeded, and Log works without the index. Called with
// g.mu and the store's file lock held.
func (g *gitStore) updateLogIndex(id snapshot.ElectionID, old plumbing.Hash,
	added []pendingObject) error {
	if len(added) == 0 {
		return nil
	}
	tip := added[len(added)-1].hash
	var buf []byte
	for _, o := range added {
		buf = appendRecord(buf, o.hash, o.data)
	}
	end, err := g.logIndexEnd(id)
	if err == nil && end.last == old && (end.size > 0 || old.IsZero()) {
		err = appendLogIndex(g.dir, id, end.size, buf)
		if end.size == 0 {
			end.size = int64(len(logIndexHeader))
		}
		end = indexEnd{size: end.size + int64(len(buf)), last: tip}
	} else if err == nil || errors.Is(err, errIndexNotFile) {
		end.size, err = g.rewriteLogIndex(id, tip)
		end.last = tip
	}
	if err != nil {
		delete(g.indexEnds, id)
		return err
	}
	g.indexEnds[id] = end
	return nil
}

// indexEnd is where an election's log index ends: its size in bytes of
// whole records and the commit of its last record.
type indexEnd struct {
	size int64
	last plumbing.Hash
}

// logIndexEnd returns where the election's log index ends. What this
// store last wrote there is remembered, and taken as long as the file
// keeps its size; otherwise, as when another process wrote, the index is
// read and checked whole. Called with g.mu held.
func (g *gitStore) logIndexEnd(id snapshot.ElectionID) (indexEnd, error) {
	if end, ok := g.indexEnds[id]; ok {
		if fi, err := os.Lstat(logIndexPath(g.dir, id)); err == nil &&
			fi.Mode().IsRegular() && fi.Size() == end.size {
			return end, nil
		}
	}
	records, size, err := readLogIndex(g.dir, id)
	if err != nil {
		return indexEnd{}, err
	}
	end := indexEnd{size: size}
	if len(records) > 0 {
		end.last = records[len(records)-1].hash
	}
	return end, nil
}

// appendLogIndex writes buf at offset size of the index, which holds that
// many bytes of whole records (the rest, if any, is a torn record that the
// write replaces). A new index gets its header first.
func appendLogIndex(dir string, id snapshot.ElectionID, size int64, buf []byte) error {
	path := logIndexPath(dir, id)
	if size == 0 {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("writing log index of election %s: %w", id, err)
		}
		buf = append([]byte(logIndexHeader), buf...)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("writing log index of election %s: %w", id, err)
	}
	_, err = f.WriteAt(buf, size)
	if err == nil {
		err = f.Truncate(size + int64(len(buf)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing log index of election %s: %w", id, err)
	}
	return nil
}

// rewriteLogIndex writes the index of the election's branch, whose tip is
// tip, from the repository's commits, into a new file that replaces the
// old one.
func (g *gitStore) rewriteLogIndex(id snapshot.ElectionID, tip plumbing.Hash) (int64, error) {
	var chain []indexRecord
	for h := tip; !h.IsZero(); {
		obj, err := g.object(h)
		if err != nil {
			return 0, fmt.Errorf("indexing log of election %s: reading commit %s: %w", id, h, err)
		}
		r, err := obj.Reader()
		if err != nil {
			return 0, fmt.Errorf("indexing log of election %s: reading commit %s: %w", id, h, err)
		}
		content, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return 0, fmt.Errorf("indexing log of election %s: reading commit %s: %w", id, h, err)
		}
		_, parent, _, err := parseCommitContent(string(content))
		if err != nil {
			return 0, fmt.Errorf("indexing log of election %s: commit %s: %w", id, h, err)
		}
		chain = append(chain, indexRecord{hash: h, content: string(content)})
		h = parent
	}
	buf := []byte(logIndexHeader)
	for i := len(chain) - 1; i >= 0; i-- {
		buf = appendRecord(buf, chain[i].hash, chain[i].content)
	}

	path := logIndexPath(g.dir, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("writing log index of election %s: %w", id, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o644); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("writing log index of election %s: %w", id, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("writing log index of election %s: %w", id, err)
	}
	return int64(len(buf)), nil
}
