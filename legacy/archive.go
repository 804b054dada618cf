// Package legacy reads the archive folders written by the earlier Python
// tool ("ctrunner archive") and converts between its raw.json wrapper and
// the API's own documents.
//
// A legacy folder looks like this:
//
//	index.json                  the Elections.json list, pretty-printed
//	{id}/raw.json               copy of the latest fetch of election id
//	{id}/results.csv            that fetch converted to CSV
//	{id}/{version}/raw.json     one folder per version seen
//	{id}/{version}/results.csv
//
// Any raw.json or results.csv may instead be stored gzipped as raw.json.gz
// or results.csv.gz; the reader decompresses it transparently and prefers
// the plain file when both exist.
//
// raw.json holds {"version": N, "ElectionData": {...}, "LookupData": {...}}
// rendered by Python's json.dumps(obj, indent=2). Split takes it apart into
// the API's compact documents; Wrap renders it again byte for byte.
package legacy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"ctrunner/snapshot"
)

// File names used inside a legacy folder.
const (
	IndexFile   = "index.json"
	RawFile     = "raw.json"
	ResultsFile = "results.csv"
	gzSuffix    = ".gz"
)

// maxFileSize bounds how much one file may hold once decompressed, so that
// a corrupt or hostile .gz file cannot exhaust memory. The largest recorded
// raw.json is about 3.5 MB.
const maxFileSize = 1 << 30

// Archive is a legacy folder, scanned once by Open. Its methods read files
// on demand and are safe for concurrent use.
type Archive struct {
	dir       string
	elections []snapshot.ElectionID
	// versions maps each election to its version folders, in numeric order.
	versions map[snapshot.ElectionID][]versionDir
	problems []error
}

type versionDir struct {
	version snapshot.Version
	name    string // folder name as found on disk, e.g. "13392"
}

// Version is one fetch of one election as the legacy tool stored it.
type Version struct {
	Election snapshot.ElectionID
	// Version is the data version: the folder name for Read, the wrapper's
	// "version" field for Latest.
	Version snapshot.Version
	// Raw holds raw.json, decompressed if it was stored gzipped.
	Raw []byte
	// Results holds results.csv, or nil if the folder has none.
	Results []byte
	// ModTime is the modification time of the raw.json (or raw.json.gz)
	// file: the closest thing the legacy tool left to a fetch time.
	ModTime time.Time
	// RawPath and ResultsPath are the files actually read; ResultsPath is
	// empty when Results is nil.
	RawPath     string
	ResultsPath string
}

// ErrNoElectionList is returned by ElectionList when the folder has no
// index.json. It wraps fs.ErrNotExist.
var ErrNoElectionList = fmt.Errorf("no %s in legacy folder: %w", IndexFile, fs.ErrNotExist)

// Open scans dir as a legacy folder. It fails only when dir itself cannot
// be read; stray files, unreadable election folders and version folders
// without a raw.json are skipped and listed by Problems.
func Open(dir string) (*Archive, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("opening legacy folder: %w", err)
	}
	a := &Archive{dir: dir, versions: make(map[snapshot.ElectionID][]versionDir)}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case name == IndexFile && !e.IsDir():
		case e.IsDir() && isDigits(name):
			a.scanElection(snapshot.ElectionID(name), path)
		default:
			a.problem(fmt.Errorf("%s: not part of a legacy folder, skipped", path))
		}
	}
	sort.Slice(a.elections, func(i, j int) bool {
		return lessDigits(string(a.elections[i]), string(a.elections[j]))
	})
	return a, nil
}

// scanElection records the version folders of one election folder.
func (a *Archive) scanElection(id snapshot.ElectionID, path string) {
	entries, err := os.ReadDir(path)
	if err != nil {
		a.problem(fmt.Errorf("reading election folder: %w", err))
		return
	}
	var dirs []versionDir
	seen := make(map[snapshot.Version]string)
	for _, e := range entries {
		name := e.Name()
		sub := filepath.Join(path, name)
		switch {
		case !e.IsDir() && isDataFile(name):
		case e.IsDir() && isDigits(name):
			v, err := strconv.ParseInt(name, 10, 64)
			if err != nil {
				a.problem(fmt.Errorf("%s: version number out of range, skipped", sub))
				continue
			}
			if other, dup := seen[snapshot.Version(v)]; dup {
				a.problem(fmt.Errorf("%s: same version as folder %s, skipped", sub, other))
				continue
			}
			if !a.checkVersionDir(sub) {
				continue
			}
			seen[snapshot.Version(v)] = name
			dirs = append(dirs, versionDir{version: snapshot.Version(v), name: name})
		default:
			a.problem(fmt.Errorf("%s: not part of a legacy folder, skipped", sub))
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].version < dirs[j].version })
	a.elections = append(a.elections, id)
	a.versions[id] = dirs
}

// checkVersionDir reports whether a version folder holds a raw.json,
// listing stray entries and the missing raw.json as problems.
func (a *Archive) checkVersionDir(path string) bool {
	entries, err := os.ReadDir(path)
	if err != nil {
		a.problem(fmt.Errorf("reading version folder: %w", err))
		return false
	}
	hasRaw := false
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir() && isDataFile(name):
			if name == RawFile || name == RawFile+gzSuffix {
				hasRaw = true
			}
		default:
			a.problem(fmt.Errorf("%s: not part of a legacy folder, skipped",
				filepath.Join(path, name)))
		}
	}
	if !hasRaw {
		a.problem(fmt.Errorf("%s: version folder without %s, skipped", path, RawFile))
	}
	return hasRaw
}

func (a *Archive) problem(err error) { a.problems = append(a.problems, err) }

// Dir returns the folder the archive was opened from.
func (a *Archive) Dir() string { return a.dir }

// Problems lists what Open skipped: stray files, unreadable folders and
// version folders without a raw.json. Each error names its path.
func (a *Archive) Problems() []error { return append([]error(nil), a.problems...) }

// ElectionList returns the bytes of index.json, the pretty-printed
// Elections.json list, after checking that they are a JSON array. When the
// folder has no index.json the error wraps ErrNoElectionList (and so
// fs.ErrNotExist).
func (a *Archive) ElectionList() ([]byte, error) {
	path := filepath.Join(a.dir, IndexFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", a.dir, ErrNoElectionList)
	}
	if err != nil {
		return nil, fmt.Errorf("reading election list: %w", err)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !json.Valid(data) || len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("%s: not a JSON array", path)
	}
	return data, nil
}

// Elections returns the elections of the folder in numeric order: every
// folder whose name is all digits.
func (a *Archive) Elections() []snapshot.ElectionID {
	return append([]snapshot.ElectionID(nil), a.elections...)
}

// Versions returns the versions recorded for an election in numeric
// order, from its version folders. It returns nil for an unknown election.
func (a *Archive) Versions(id snapshot.ElectionID) []snapshot.Version {
	dirs := a.versions[id]
	if dirs == nil {
		return nil
	}
	out := make([]snapshot.Version, len(dirs))
	for i, d := range dirs {
		out[i] = d.version
	}
	return out
}

// Read returns one version folder of an election. The raw.json must be
// valid JSON and its "version" field must match the folder name.
func (a *Archive) Read(id snapshot.ElectionID, v snapshot.Version) (*Version, error) {
	for _, d := range a.versions[id] {
		if d.version == v {
			dir := filepath.Join(a.dir, string(id), d.name)
			return readVersion(id, v, dir, true)
		}
	}
	return nil, fmt.Errorf("election %s version %s: %w", id, v, fs.ErrNotExist)
}

// Latest returns the election folder's own copy of the latest fetch
// ({id}/raw.json and results.csv). Its version comes from the wrapper's
// "version" field. When the election has no such copy, the error wraps
// fs.ErrNotExist.
func (a *Archive) Latest(id snapshot.ElectionID) (*Version, error) {
	if _, ok := a.versions[id]; !ok {
		return nil, fmt.Errorf("election %s: %w", id, fs.ErrNotExist)
	}
	return readVersion(id, 0, filepath.Join(a.dir, string(id)), false)
}

// readVersion reads raw.json and results.csv from dir. When checkVersion
// is set, the wrapper's version must equal v; otherwise v is taken from it.
func readVersion(id snapshot.ElectionID, v snapshot.Version, dir string,
	checkVersion bool) (*Version, error) {
	raw, rawPath, info, err := readMaybeGzipped(filepath.Join(dir, RawFile))
	if err != nil {
		return nil, err
	}
	got, err := wrapperVersion(raw)
	if err != nil && !json.Valid(raw) {
		return nil, fmt.Errorf("%s: not valid JSON: %w", rawPath, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawPath, err)
	}
	if checkVersion && got != v {
		return nil, fmt.Errorf("%s: holds version %s, not %s as its folder says",
			rawPath, got, v)
	}
	out := &Version{
		Election: id,
		Version:  got,
		Raw:      raw,
		ModTime:  info.ModTime(),
		RawPath:  rawPath,
	}
	results, resultsPath, _, err := readMaybeGzipped(filepath.Join(dir, ResultsFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		out.Results, out.ResultsPath = results, resultsPath
	}
	return out, nil
}

// readMaybeGzipped reads path, or path.gz decompressed when path is
// absent. The error wraps fs.ErrNotExist when neither exists.
func readMaybeGzipped(path string) ([]byte, string, fs.FileInfo, error) {
	info, err := os.Stat(path)
	if err == nil {
		data, err := readLimited(path, false)
		return data, path, info, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil, fmt.Errorf("reading legacy file: %w", err)
	}
	gz := path + gzSuffix
	info, err = os.Stat(gz)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
		}
		return nil, "", nil, fmt.Errorf("reading legacy file: %w", err)
	}
	data, err := readLimited(gz, true)
	return data, gz, info, err
}

func readLimited(path string, gzipped bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading legacy file: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if gzipped {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

func isDataFile(name string) bool {
	switch name {
	case RawFile, RawFile + gzSuffix, ResultsFile, ResultsFile + gzSuffix:
		return true
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lessDigits orders two digit strings by numeric value without parsing,
// so that names longer than an int64 still sort.
func lessDigits(a, b string) bool {
	ta, tb := trimZeros(a), trimZeros(b)
	if len(ta) != len(tb) {
		return len(ta) < len(tb)
	}
	if ta != tb {
		return ta < tb
	}
	return a < b
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
