package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
)

// journalName is the file in the store's folder where a write (one
// Update: any number of commits on any number of branches) lists, before
// it creates anything, every file and folder it is about to create and
// every branch it is about to move, with the branch's value before. It lies
// outside refs/ and objects/, where neither git nor go-git looks.
//
// Removing the journal is the commit point of the write. A write that was
// killed leaves its journal behind; the next writer (or Recover) reads it
// and undoes the whole write: it puts every branch the write had moved back
// where it was (deleting the ref file, and the folders made for it, of a
// branch that did not exist) and removes every object and folder the write
// made. This holds even when the write was killed after all its branches
// had moved: until the journal is gone, the write was not reported done,
// and undoing it is the one rule that keeps every write all or nothing. A
// process that only reads never recovers, so until the next write it may
// see the leftovers of a killed write: loose objects that no ref names,
// temporary files, and even branches moved by a write that will be undone.
const journalName = "ctrunner-txn"

// journalHeader is the first line of a journal, naming its format. Format
// 1, written by earlier versions, describes one commit on one branch with
// branch, old and new lines; recovery keeps such a write if its branch
// already moved, as those versions did.
const (
	journalHeader   = "ctrunner-txn 2"
	journalHeaderV1 = "ctrunner-txn 1"
)

// The kinds of line in a journal, each followed by a space and a value.
const (
	lineRef     = "ref"      // a branch the write moves: name, old loose value, new
	lineBranch  = "branch"   // format 1: the branch the write moves
	lineOld     = "old"      // format 1: the branch's commit before the write
	lineNew     = "new"      // format 1: the commit the write adds
	lineDir     = "dir"      // a folder the write makes, parents first
	lineTemp    = "temp"     // a temporary object file the write makes
	lineObject  = "object"   // a loose object file the write makes
	lineRefTemp = "ref-temp" // the temporary file of the branch's new value
	lineEnd     = "end"      // "sha256:" and the SHA-256 of every line before
)

// journal is what a write will create: the content of its journal file.
// Paths are relative to the store's folder, with forward slashes.
type journal struct {
	refs    []refMove
	dirs    []string // folders made, parents first
	temps   []string // temporary object files, renamed to objects when done
	objects []string // loose object files
	refTemp string
	// v1 marks a journal of format 1, whose one ref has no loose value:
	// recovery keeps its write if the ref already moved.
	v1 bool
}

// refMove is a branch that a write moves.
type refMove struct {
	name plumbing.ReferenceName
	// old is the commit that the branch's loose ref file named before the
	// write, or zero if there was no such file (a new branch, or one that
	// only packed-refs lists).
	old plumbing.Hash
	new plumbing.Hash
}

// encode returns the journal's file content. Its last line holds a
// checksum of the others, so a journal cut short by a crash is recognised.
func (j *journal) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, journalHeader)
	for _, r := range j.refs {
		fmt.Fprintln(&b, lineRef, r.name, r.old, r.new)
	}
	for _, d := range j.dirs {
		fmt.Fprintln(&b, lineDir, d)
	}
	for i := range j.objects {
		fmt.Fprintln(&b, lineTemp, j.temps[i])
		fmt.Fprintln(&b, lineObject, j.objects[i])
	}
	fmt.Fprintln(&b, lineRefTemp, j.refTemp)
	b.WriteString(endLine(b.Bytes()))
	return b.Bytes()
}

// endLine returns the last line of a journal whose other lines are body.
func endLine(body []byte) string {
	sum := sha256.Sum256(body)
	return lineEnd + " sha256:" + hex.EncodeToString(sum[:]) + "\n"
}

// errTornJournal reports a journal without its final checksum line, or
// whose checksum does not match: the write was killed while writing it.
var errTornJournal = errors.New("journal is incomplete")

// parseJournal reads a journal file's content. It returns errTornJournal
// for a journal that was not completely written, and another error for a
// complete one it cannot accept.
func parseJournal(data []byte) (*journal, error) {
	body, last, ok := cutLastLine(data)
	if !ok {
		return nil, errTornJournal
	}
	if last+"\n" != endLine(body) {
		return nil, errTornJournal
	}

	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	j := &journal{}
	switch lines[0] {
	case journalHeader:
	case journalHeaderV1:
		j.v1 = true
		j.refs = []refMove{{}}
	default:
		return nil, fmt.Errorf("journal starts with %q, not %q or %q",
			lines[0], journalHeader, journalHeaderV1)
	}
	seen := map[string]int{}
	for _, line := range lines[1:] {
		kind, value, _ := strings.Cut(line, " ")
		seen[kind]++
		if err := j.set(kind, value); err != nil {
			return nil, fmt.Errorf("journal line %q: %w", line, err)
		}
	}
	once := []string{lineRefTemp}
	if j.v1 {
		once = append(once, lineBranch, lineOld, lineNew)
	} else if seen[lineRef] == 0 {
		return nil, errors.New("journal moves no branch")
	}
	for _, kind := range once {
		if seen[kind] != 1 {
			return nil, fmt.Errorf("journal has %d %q lines, want 1", seen[kind], kind)
		}
	}
	names := map[plumbing.ReferenceName]bool{}
	for _, r := range j.refs {
		if names[r.name] {
			return nil, fmt.Errorf("journal moves %s twice", r.name)
		}
		names[r.name] = true
	}
	if len(j.temps) != len(j.objects) {
		return nil, fmt.Errorf("journal lists %d temporary files for %d objects",
			len(j.temps), len(j.objects))
	}
	return j, nil
}

// cutLastLine splits data before its last line, which must end in a
// newline.
func cutLastLine(data []byte) (body []byte, last string, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	if i < 0 {
		return nil, "", false
	}
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}

// set records one journal line, refusing any path a write never creates:
// a damaged journal must not make recovery remove other files.
func (j *journal) set(kind, value string) error {
	switch kind {
	case lineRef:
		if j.v1 {
			return errors.New("not a line of format 1")
		}
		f := strings.Fields(value)
		if len(f) != 3 || !branchName(f[0]) || !plumbing.IsHash(f[1]) || !plumbing.IsHash(f[2]) {
			return errors.New("not a branch, its old and its new commit")
		}
		j.refs = append(j.refs, refMove{name: plumbing.ReferenceName(f[0]),
			old: plumbing.NewHash(f[1]), new: plumbing.NewHash(f[2])})
	case lineBranch, lineOld, lineNew:
		if !j.v1 {
			return errors.New("a line of format 1 only")
		}
		if kind == lineBranch {
			if !branchName(value) {
				return errors.New("not a branch")
			}
			j.refs[0].name = plumbing.ReferenceName(value)
			return nil
		}
		if !plumbing.IsHash(value) {
			return errors.New("not a commit hash")
		}
		if kind == lineOld {
			j.refs[0].old = plumbing.NewHash(value)
		} else {
			j.refs[0].new = plumbing.NewHash(value)
		}
	case lineDir:
		if !objectDirPath(value) && !(strings.HasPrefix(value, "refs/") && cleanPath(value)) {
			return errors.New("not a folder a write makes")
		}
		j.dirs = append(j.dirs, value)
	case lineTemp:
		dir, name := path.Split(value)
		hexName, ok := strings.CutPrefix(name, goGitTempPrefix)
		if !ok || !objectFile(dir, name, value) || !isHex(hexName, 38) {
			return errors.New("not a temporary object file")
		}
		j.temps = append(j.temps, value)
	case lineObject:
		dir, name := path.Split(value)
		if !objectFile(dir, name, value) || !isHex(name, 38) {
			return errors.New("not a loose object file")
		}
		j.objects = append(j.objects, value)
	case lineRefTemp:
		if value != refTempName {
			return errors.New("not the ref's temporary file")
		}
		j.refTemp = value
	default:
		return errors.New("unknown kind of line")
	}
	return nil
}

// branchName reports whether s names a branch, as a path inside the store.
func branchName(s string) bool {
	return strings.HasPrefix(s, "refs/heads/") && cleanPath(s)
}

// cleanPath reports whether p is a relative slash path inside the store,
// in its shortest form.
func cleanPath(p string) bool {
	return filepath.IsLocal(p) && path.Clean(p) == p && !strings.Contains(p, "\\")
}

// objectDirPath reports whether p is a folder of loose objects, such as
// objects/ab.
func objectDirPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "objects/")
	return ok && isHex(rest, 2)
}

// objectFile reports whether p, split into dir and name, is a file in a
// folder of loose objects.
func objectFile(dir, name, p string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return objectDirPath(dir) && p == dir+"/"+name
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerHex[s[i]] {
			return false
		}
	}
	return true
}

// lowerHex marks the bytes of lower-case hexadecimal.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

// writeJournal creates the journal file of the store in dir and makes it
// durable. It fails if a journal is already there. If it fails, it leaves
// no journal behind (unless even removing it fails: then the journal is
// incomplete, and recovery discards it).
func writeJournal(dir string, j *journal, noSync bool) error {
	name := filepath.Join(dir, journalName)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	_, err = f.Write(j.encode())
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !noSync {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("writing journal %s: %w", name, err)
	}
	return nil
}

// removeJournal removes the journal of the store in dir and makes the
// removal durable.
func removeJournal(dir string, noSync bool) error {
	if err := os.Remove(filepath.Join(dir, journalName)); err != nil &&
		!errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing journal: %w", err)
	}
	if noSync {
		return nil
	}
	return syncDir(dir)
}

// Recover repairs what a write to the store in dir that a crash or a
// kill interrupted left behind, as the next write would do, and more
// thoroughly. It waits for the store lock (up to DefaultLockWait).
//
// In a git store it reads the write's journal, if there is one, and undoes
// the whole write: every branch the write moved goes back where it was,
// and every file and folder it created is removed. In a zstd store it
// removes an incomplete batch at the end of the journal, temporary files,
// and the object files that no journal record names. Either way the store
// is then exactly as it was before the interrupted write.
//
// The report says what was done, in one line; it is empty if there was
// nothing to repair. Recover may itself be interrupted and run again.
func Recover(dir string) (report string, err error) {
	present, err := storeExists(dir)
	if err != nil {
		return "", err
	}
	if !present {
		return "", notFoundf("no store at %s", dir)
	}
	marker, err := readMarker(dir)
	switch {
	case err == nil:
		if marker.Backend != BackendZstd || !knownZstdFormat(marker.Format) {
			return "", fmt.Errorf("store %s is of an unknown kind "+
				"(%s format %d; a newer ctrunner made it?)", dir, marker.Backend, marker.Format)
		}
		return recoverZstd(dir)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("recovering store %s: %w", dir, err)
	}
	if err := checkLayout(dir); err != nil {
		return "", err
	}
	lock, err := lockStore(context.Background(), dir, dir, DefaultLockWait)
	if err != nil {
		return "", err
	}
	defer lock.unlock()
	report, err = recoverWrite(dir, false, nil)
	if err != nil {
		return "", fmt.Errorf("recovering store %s: %w", dir, err)
	}
	repairs, err := repairPacks(dir, false)
	if err != nil {
		return report, fmt.Errorf("repairing packs of store %s: %w", dir, err)
	}
	for _, r := range repairs {
		if report != "" {
			report += "; "
		}
		report += r
	}
	return report, nil
}

// recoverWrite does the work of Recover for a caller that holds the lock
// of the git store in dir. fault, when a test sets it, is called before
// each change and stops the recovery where it is when it returns an error,
// as a kill would.
func recoverWrite(dir string, noSync bool, fault func(step string) error) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading journal: %w", err)
	}
	j, err := parseJournal(data)
	if errors.Is(err, errTornJournal) {
		// The journal is made durable before anything it lists is
		// created: a torn one means the write created nothing.
		if err := removeJournal(dir, noSync); err != nil {
			return "", err
		}
		return "removed the incomplete journal of an interrupted write " +
			"(the write had created nothing)", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w (remove %s by hand to write anyway)", err,
			filepath.Join(dir, journalName))
	}

	if j.v1 {
		return recoverV1(dir, j, noSync, fault)
	}
	moved, err := restoreRefs(dir, j.refs, noSync, fault)
	if err != nil {
		return "", err
	}
	if err := rollBack(dir, j, false, noSync, fault); err != nil {
		return "", err
	}
	if err := removeJournal(dir, noSync); err != nil {
		return "", err
	}
	return fmt.Sprintf("undid an interrupted write to %d %s: put back %d, "+
		"removed what it had added (up to %d objects and %d folders)",
		len(j.refs), branches(len(j.refs)), moved, len(j.objects), len(j.dirs)), nil
}

func branches(n int) string {
	if n == 1 {
		return "branch"
	}
	return "branches"
}

// recoverV1 recovers from a journal of format 1, as the versions that
// wrote it did: it keeps the write if its branch already moved.
func recoverV1(dir string, j *journal, noSync bool, fault func(string) error) (string, error) {
	r := j.refs[0]
	tip, err := readTip(dir, r.name)
	if err != nil {
		return "", err
	}
	done := tip == r.new
	if err := rollBack(dir, j, done, noSync, fault); err != nil {
		return "", err
	}
	if err := removeJournal(dir, noSync); err != nil {
		return "", err
	}
	if done {
		return fmt.Sprintf("finished an interrupted write to %s (commit %s)",
			r.name, r.new), nil
	}
	return fmt.Sprintf("undid an interrupted write to %s: removed what it had added "+
		"(up to %d objects and %d folders)", r.name, len(j.objects), len(j.dirs)), nil
}

// restoreRefs puts every branch of refs that a write moved back where it
// was, last moved first, and returns how many it put back. A branch still at
// its old value is left alone; one at neither its old nor its new value
// was moved by someone else, and stops the recovery.
func restoreRefs(dir string, refs []refMove, noSync bool,
	fault func(string) error) (int, error) {
	moved := 0
	for i := len(refs) - 1; i >= 0; i-- {
		r := refs[i]
		p := filepath.Join(dir, filepath.FromSlash(string(r.name)))
		cur := plumbing.ZeroHash
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			if cur, err = parseRefFile(b); err != nil {
				return moved, fmt.Errorf("reading %s: %w", r.name, err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return moved, fmt.Errorf("reading %s: %w", r.name, err)
		}
		if cur == r.old {
			continue
		}
		if cur != r.new {
			return moved, fmt.Errorf("%s is at %s, neither where the interrupted write "+
				"found it (%s) nor where it put it (%s): something else moved it "+
				"(remove %s by hand to write anyway)", r.name, cur, r.old, r.new,
				filepath.Join(dir, journalName))
		}
		if fault != nil {
			if err := fault("restore " + string(r.name)); err != nil {
				return moved, err
			}
		}
		if err := setRef(dir, r.name, r.old, noSync); err != nil {
			return moved, fmt.Errorf("putting back %s: %w", r.name, err)
		}
		moved++
	}
	return moved, nil
}

// setRef points the loose ref name of the store in dir at commit, or
// removes the loose ref if commit is zero, and makes the change durable.
// The new value goes to a temporary file, is synced and renamed over the
// ref, so that readers see the old value or the new one, never a partial
// file.
func setRef(dir string, name plumbing.ReferenceName, commit plumbing.Hash, noSync bool) error {
	p := filepath.Join(dir, filepath.FromSlash(string(name)))
	if commit.IsZero() {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		tmp := filepath.Join(dir, refTempName)
		if err := writeSynced(tmp, []byte(commit.String()+"\n"), 0o666, noSync); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	if noSync {
		return nil
	}
	return syncDir(filepath.Dir(p))
}

// writeSynced writes data to the file path, replacing any file there, with
// the permissions perm, and fsyncs it.
func writeSynced(path string, data []byte, perm fs.FileMode, noSync bool) error {
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// rollBack removes the temporary files a write listed in j may have left,
// and unless keep is set its objects and the folders it made, if empty.
// Files already gone are skipped, so that rollBack can be run again after
// it was interrupted.
func rollBack(dir string, j *journal, keep, noSync bool,
	fault func(step string) error) error {
	var errs []error
	changed := map[string]bool{} // folders to sync
	remove := func(rel string, isDir bool) error {
		if fault != nil {
			if err := fault("remove " + rel); err != nil {
				return err
			}
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		err := os.Remove(p)
		switch {
		case err == nil:
			changed[filepath.Dir(p)] = true
		case errors.Is(err, fs.ErrNotExist):
		case isDir && (errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)):
			// Not empty: something else put a file in it; not ours.
		default:
			errs = append(errs, err)
		}
		return nil
	}

	files := append([]string{j.refTemp}, j.temps...)
	files = append(files, goGitTemps(dir)...)
	if !keep {
		files = append(files, j.objects...)
	}
	for _, rel := range files {
		if err := remove(rel, false); err != nil {
			return err
		}
	}
	for i := len(j.dirs) - 1; i >= 0 && !keep; i-- {
		if err := remove(j.dirs[i], true); err != nil {
			return err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing what an interrupted write created: %w", err)
	}
	if noSync {
		return nil
	}
	for d := range changed {
		// A folder removed after a file in it needs no sync.
		if err := syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// goGitTemps lists, relative to dir, the temporary object files that
// go-git writes in objects/pack: earlier versions of the store wrote
// objects through go-git, and a killed write could leave them.
func goGitTemps(dir string) []string {
	names, _ := readDirNames(filepath.Join(dir, "objects", "pack"))
	var temps []string
	for _, name := range names {
		if strings.HasPrefix(name, goGitTempPrefix) {
			temps = append(temps, "objects/pack/"+name)
		}
	}
	return temps
}
