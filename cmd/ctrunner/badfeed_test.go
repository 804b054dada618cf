package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ctrunner/feed/feedtest"
	"ctrunner/polls"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// The documents the bad-feed cases start from: election 24 (small) at its
// recorded version, and election 80 at 13392 for the Version.json cases.
const (
	bfVersion24 = "election/24/Version.json"
	bfED24      = "election/24/42355/Electiondata.json"
	bfLD24      = "election/24/42355/Lookupdata.json"
	bfVersion80 = "election/80/Version.json"
	bfED80      = "election/80/13392/Electiondata.json"
	bfLD80      = "election/80/13392/Lookupdata.json"
)

// badFeed is one kind of bad answer from the API and the outcome
// ctrunner promises for it. A one-shot case runs
// ctrunner archive -e election against a fake API with faults injected;
// a case with watch set runs its own scenario instead.
type badFeed struct {
	name string
	// faults are injected before the run; docs are the plain documents
	// the fake serves, by path.
	faults func(docs map[string][]byte) map[string]feedtest.Fault
	// election is the election archived (default 24).
	election string
	retries  string // --retries (default 0)
	timeout  time.Duration

	// reject: exit 1, one ctrunner: line on stderr matching errRe, no
	// stdout, the store byte for byte unchanged.
	reject bool
	errRe  string
	// Otherwise: exit 0, a new snapshot of version, and the stored
	// documents equal to stored(docs) (default: the plain documents).
	version string
	stored  func(docs map[string][]byte) map[string][]byte
	// minTime is the least the run may take; maxTime the most.
	minTime, maxTime time.Duration
	// check, if set, checks more of the outcome.
	check func(t *testing.T, e *bfEnv, stderr string)

	// watch, if set, is the whole case.
	watch func(t *testing.T, night string, docs map[string][]byte)
}

// TestBadFeedKinds runs ctrunner against a fake API that answers in each
// of the bad ways the README promises to handle, and checks the promised
// outcome: either a clear one-line error and nothing stored, or the right
// value stored (and flagged when the sanity gates should doubt it).
func TestBadFeedKinds(t *testing.T) {
	docs := bfPlainDocs(t)
	night := filepath.Join(t.TempDir(), "night")
	mustCtrunner(t, "simulate", "--from-file",
		filepath.Join(feedtest.TestdataDir(), "24", "raw.json"), "--legacy-dir", night,
		"--versions", "4")

	htmlPage := "<!DOCTYPE html>\n<html><head><title>Forbidden</title></head>" +
		"<body><h1>403 Forbidden</h1></body></html>\n"
	custom := func(path string, body []byte) map[string]feedtest.Fault {
		return map[string]feedtest.Fault{path: {Kind: feedtest.Status, Status: 200,
			Body: string(body)}}
	}
	versionBody := func(body string) func(map[string][]byte) map[string]feedtest.Fault {
		return func(map[string][]byte) map[string]feedtest.Fault {
			return custom(bfVersion80, []byte(body))
		}
	}
	one := func(path string, f feedtest.Fault) func(map[string][]byte) map[string]feedtest.Fault {
		return func(map[string][]byte) map[string]feedtest.Fault {
			return map[string]feedtest.Fault{path: f}
		}
	}
	url := func(path string) string { return `http://127\.0\.0\.1:\d+/` + regexp.QuoteMeta(path) }

	tests := []badFeed{
		// 1. Markup instead of JSON, with 200 and with 403.
		{name: "html-200", faults: one(bfED24, feedtest.Fault{Kind: feedtest.HTML}),
			reject: true, errRe: url(bfED24) + `: HTTP 200: body is an HTML page, not JSON`},
		{name: "html-403", faults: one(bfED24, feedtest.Fault{Kind: feedtest.Status,
			Status: 403, Body: htmlPage}),
			reject: true, errRe: url(bfED24) + `: HTTP 403: Forbidden \(body is an HTML page`},
		{name: "xml-200", faults: one(bfED24, feedtest.Fault{Kind: feedtest.XML, Status: 200}),
			reject: true, errRe: url(bfED24) + `: HTTP 200: body is XML, not JSON: .*AccessDenied`},
		{name: "xml-403", faults: one(bfED24, feedtest.Fault{Kind: feedtest.XML}),
			reject: true, errRe: url(bfED24) + `: HTTP 403: Forbidden \(body is XML, not JSON`},

		// 2. Rate limited or unavailable once, with Retry-After: 1.
		{name: "429-retry-after", faults: one(bfED24, feedtest.Fault{Kind: feedtest.Status,
			Status: 429, RetryAfter: "1", Count: 1}),
			retries: "2", version: "42355", minTime: time.Second,
			check: bfRetryLine(`HTTP 429`)},
		{name: "503-retry-after", faults: one(bfLD24, feedtest.Fault{Kind: feedtest.Status,
			Status: 503, RetryAfter: "1", Count: 1}),
			retries: "2", version: "42355", minTime: time.Second,
			check: bfRetryLine(`HTTP 503`)},

		// 3. A server that accepts the request and never answers.
		{name: "stall", faults: one(bfVersion24, feedtest.Fault{Kind: feedtest.Stall}),
			timeout: 500 * time.Millisecond, minTime: 500 * time.Millisecond,
			maxTime: 500*time.Millisecond + 2500*time.Millisecond,
			reject:  true, errRe: url(bfVersion24) + `: no answer within 500ms`},

		// 4. A body cut off mid-way: a short JSON value, and fewer bytes
		// than Content-Length before the connection closes.
		{name: "truncate", faults: one(bfED24, feedtest.Fault{Kind: feedtest.Truncate}),
			reject: true, errRe: url(bfED24) + `: HTTP 200: truncated JSON`},
		{name: "short", faults: one(bfLD24, feedtest.Fault{Kind: feedtest.Short}),
			reject: true, errRe: url(bfLD24) + `: HTTP 200: body not complete: unexpected EOF`},

		// 5. Two JSON values back to back.
		{name: "double", faults: one(bfED24, feedtest.Fault{Kind: feedtest.Double}),
			reject: true, errRe: url(bfED24) + `: HTTP 200: two JSON values back to back`},

		// 6. A gzip body without Content-Encoding, and 7. a byte order
		// mark: stored as the plain documents.
		{name: "gzip", faults: func(map[string][]byte) map[string]feedtest.Fault {
			return map[string]feedtest.Fault{
				bfED24: {Kind: feedtest.Gzip}, bfLD24: {Kind: feedtest.Gzip}}
		}, version: "42355"},
		{name: "bom", faults: func(map[string][]byte) map[string]feedtest.Fault {
			return map[string]feedtest.Fault{bfVersion24: {Kind: feedtest.BOM},
				bfED24: {Kind: feedtest.BOM}, bfLD24: {Kind: feedtest.BOM}}
		}, version: "42355"},

		// 8. Version.json without Version, with a string, negative,
		// fractional.
		{name: "version-missing", election: "80", faults: versionBody(`{"Revision":13392}`),
			reject: true, errRe: url(bfVersion80) + `: HTTP 200: Version.json has no "Version" field`},
		{name: "version-string", election: "80", faults: versionBody(`{"Version":"13392"}`),
			version: "13392", stored: func(d map[string][]byte) map[string][]byte {
				return map[string][]byte{snapshot.VersionFile: []byte(`{"Version":"13392"}`),
					snapshot.ElectionDataFile: d[bfED80], snapshot.LookupDataFile: d[bfLD80]}
			}},
		{name: "version-negative", election: "80", faults: versionBody(`{"Version":-13392}`),
			reject: true, errRe: url(bfVersion80) + `: HTTP 200: Version.json "Version" is -13392, not a non-negative integer`},
		{name: "version-fractional", election: "80", faults: versionBody(`{"Version":13392.5}`),
			reject: true, errRe: url(bfVersion80) + `: HTTP 200: Version.json "Version" is 13392.5, not a non-negative integer`},

		// 9.–11. Kinds that only make sense over time, under watch.
		{name: "version-backwards-then-forwards", watch: bfVersionBackwards},
		{name: "version-reused", watch: bfVersionReused},
		{name: "version-reused-archive", watch: bfVersionReusedArchive},
		{name: "documents-404-for-a-while", watch: bfDocuments404},

		// 12. Odd but valid values, stored as they are.
		{name: "odd-values", faults: func(d map[string][]byte) map[string]feedtest.Fault {
			return custom(bfED24, bfOddValues(t, d[bfED24]))
		}, version: "42355", stored: func(d map[string][]byte) map[string][]byte {
			return bfWith(d, snapshot.ElectionDataFile, bfOddValues(t, d[bfED24]))
		}, check: bfCheckOddValues},
		{name: "negative-vote-count", watch: bfNegativeVotes},

		// 13. A candidate code the lookup data lacks.
		{name: "unknown-candidate", faults: func(d map[string][]byte) map[string]feedtest.Fault {
			return custom(bfED24, bfUnknownCandidate(t, d[bfED24]))
		}, version: "42355", stored: func(d map[string][]byte) map[string][]byte {
			return bfWith(d, snapshot.ElectionDataFile, bfUnknownCandidate(t, d[bfED24]))
		}, check: bfCheckUnknownCandidate},

		// 14. New fields the tool has never seen, in both documents.
		{name: "unknown-fields", faults: func(d map[string][]byte) map[string]feedtest.Fault {
			ed, ld := bfUnknownFields(t, d[bfED24], d[bfLD24])
			f := custom(bfED24, ed)
			f[bfLD24] = custom(bfLD24, ld)[bfLD24]
			return f
		}, version: "42355", stored: func(d map[string][]byte) map[string][]byte {
			ed, ld := bfUnknownFields(t, d[bfED24], d[bfLD24])
			out := bfWith(d, snapshot.ElectionDataFile, ed)
			out[snapshot.LookupDataFile] = ld
			return out
		}, check: func(t *testing.T, e *bfEnv, _ string) {
			mustCtrunner(t, "show", "24", "--store", e.store)
			mustCtrunner(t, "show", "24", "--format", "csv", "--store", e.store)
		}},

		// 15. An empty election list.
		{name: "empty-election-list", watch: bfEmptyList},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.watch != nil {
				tt.watch(t, night, docs)
				return
			}
			bfOneShot(t, tt, docs)
		})
	}
}

// bfEnv is one case's fake API and store.
type bfEnv struct {
	srv   *feedtest.Server
	store string
	work  string
}

// newBFEnv starts a fake API over dir and names a store in a new folder.
func newBFEnv(t *testing.T, dir string) *bfEnv {
	t.Helper()
	srv, err := feedtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	work := t.TempDir()
	return &bfEnv{srv: srv, store: filepath.Join(work, "store"), work: work}
}

func (e *bfEnv) inject(t *testing.T, faults map[string]feedtest.Fault) {
	t.Helper()
	for path, f := range faults {
		if err := e.srv.Inject(path, f); err != nil {
			t.Fatal(err)
		}
	}
}

// bfOneShot runs one archive case.
func bfOneShot(t *testing.T, tt badFeed, docs map[string][]byte) {
	e := newBFEnv(t, feedtest.TestdataDir())
	// The store already holds something, so that "unchanged" means more
	// than "still missing".
	mustCtrunner(t, "archive", "-e", "94", "--api", e.srv.URL, "--store", e.store,
		"--retries", "0")
	before, err := dirDigest(e.store)
	if err != nil {
		t.Fatal(err)
	}
	e.inject(t, tt.faults(docs))

	election := cmpOr(tt.election, "24")
	timeout := tt.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	args := []string{"archive", "-e", election, "--api", e.srv.URL, "--store", e.store,
		"--retries", cmpOr(tt.retries, "0"), "--timeout", timeout.String()}
	start := time.Now()
	stdout, stderr, code := ctrunnerExec(t, args...)
	elapsed := time.Since(start)
	cmdline := "ctrunner " + strings.Join(args, " ")
	t.Logf("%s: exit %d after %v\nstdout: %q\nstderr: %q", cmdline, code,
		elapsed.Round(time.Millisecond), stdout, stderr)
	if elapsed < tt.minTime {
		t.Errorf("%s took %v, want at least %v", cmdline, elapsed, tt.minTime)
	}
	if tt.maxTime > 0 && elapsed > tt.maxTime {
		t.Errorf("%s took %v, want at most %v", cmdline, elapsed, tt.maxTime)
	}

	if tt.reject {
		if code != exitFailure {
			t.Errorf("%s: exit %d, want %d", cmdline, code, exitFailure)
		}
		if stdout != "" {
			t.Errorf("%s printed %q on stdout, want nothing", cmdline, stdout)
		}
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		re := regexp.MustCompile(`^ctrunner: election ` + election + `: GET ` + tt.errRe)
		if len(lines) != 1 || !strings.HasSuffix(stderr, "\n") || !re.MatchString(lines[0]) {
			t.Errorf("%s: stderr\n%s\nwant one line matching %s", cmdline, stderr, re)
		}
		if !strings.Contains(stderr, "nothing was stored") {
			t.Errorf("%s: the error does not say that nothing was stored: %q", cmdline, stderr)
		}
		if after, err := dirDigest(e.store); err != nil || after != before {
			t.Errorf("%s changed the store (%v)", cmdline, err)
		}
		return
	}

	if code != exitOK {
		t.Fatalf("%s: exit %d, want 0; stderr:\n%s", cmdline, code, stderr)
	}
	want := fmt.Sprintf("election %s version %s: new snapshot ", election, tt.version)
	if !strings.HasPrefix(stdout, want) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("%s printed %q, want one line %q…", cmdline, stdout, want)
	}
	var wantDocs map[string][]byte
	if tt.stored != nil {
		wantDocs = tt.stored(docs)
	} else {
		wantDocs = bfDocsOf(docs, election, tt.version)
	}
	got := bfCheckout(t, e, election)
	for name, data := range wantDocs {
		if !bytes.Equal(got[name], data) {
			t.Errorf("stored %s (%d bytes) differs from the served document (%d bytes):\n"+
				"stored starts %q\nwant   starts %q", name, len(got[name]), len(data),
				bfHead(got[name]), bfHead(data))
		}
	}
	var rec entryRecord
	log := mustCtrunner(t, "log", election, "--json", "--store", e.store)
	if err := json.Unmarshal([]byte(log), &rec); err != nil || strings.Count(log, "\n") != 1 {
		t.Fatalf("log %s --json: %q (%v), want one record", election, log, err)
	}
	if fmt.Sprint(rec.Version) != tt.version {
		t.Errorf("log --json: version %d, want %s", rec.Version, tt.version)
	}
	// show --format raw reads the stored snapshot back whole.
	var raw struct {
		Version      json.Number
		ElectionData json.RawMessage
		LookupData   json.RawMessage
	}
	out := mustCtrunner(t, "show", election, "--format", "raw", "--store", e.store)
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Errorf("show --format raw: %v", err)
	} else if raw.Version.String() != tt.version {
		t.Errorf("show --format raw: version %s, want %s", raw.Version, tt.version)
	}
	if tt.check != nil {
		tt.check(t, e, stderr)
	}
}

// bfRetryLine checks that a run that waited said so, in a line naming the
// status, and said nothing else.
func bfRetryLine(status string) func(t *testing.T, e *bfEnv, stderr string) {
	return func(t *testing.T, e *bfEnv, stderr string) {
		re := regexp.MustCompile(`^ctrunner: retrying in 1s \(attempt 2 of 3\): GET .*: ` +
			status + `: .*\n(ctrunner: election list: new snapshot.*\n)?$`)
		if !re.MatchString(stderr) {
			t.Errorf("stderr %q, want one retry line matching %s", stderr, re)
		}
	}
}

// bfCheckOddValues checks the CSV of a snapshot with odd values: every
// value as the API wrote it.
func bfCheckOddValues(t *testing.T, e *bfEnv, _ string) {
	out, stderr, code := ctrunnerExec(t, "show", "24", "--format", "csv", "--store", e.store)
	if code != 0 || stderr != "" {
		t.Fatalf("show --format csv: exit %d, stderr %q", code, stderr)
	}
	for _, row := range []string{
		`State Representative 68,Watertown,Louis Esposito,D,635,21.12%`,
		`State Representative 68,Watertown,Joe Polletta,R,"2,372",78.88` + "\r\n",
		`State Representative 68,Woodbury,Louis Esposito,D,-51,41.46%`,
	} {
		if !strings.Contains(out, row) {
			t.Errorf("show --format csv lacks the row %q:\n%s", row, out)
		}
	}
}

// bfCheckUnknownCandidate checks that the CSV keeps the row of a
// candidate the lookup data lacks, with its code, and says so in one note.
func bfCheckUnknownCandidate(t *testing.T, e *bfEnv, _ string) {
	out, stderr, code := ctrunnerExec(t, "show", "24", "--format", "csv", "--store", e.store)
	if code != 0 {
		t.Fatalf("show --format csv: exit %d, stderr %q", code, stderr)
	}
	row := "State Representative 07,Hartford,unknown candidate 99999,,17,1.12%\r\n"
	if !strings.Contains(out, row) {
		t.Errorf("show --format csv lacks the row %q:\n%s", row, out)
	}
	want := regexp.MustCompile(`^ctrunner: note: election 24 version 42355: 1 codes? (is|are) ` +
		`missing from the lookup data; .*\n$`)
	if !want.MatchString(stderr) {
		t.Errorf("show --format csv: stderr %q, want one note matching %s", stderr, want)
	}
	plain := strings.Count(bfPlainCSV(t), "\n")
	if got := strings.Count(out, "\n"); got != plain {
		t.Errorf("show --format csv: %d lines, want %d (every row kept)", got, plain)
	}
}

var bfPlainCSVOnce = sync.OnceValues(func() (string, error) {
	data, err := os.ReadFile(filepath.Join(feedtest.TestdataDir(), "24", "results.csv"))
	return string(data), err
})

func bfPlainCSV(t *testing.T) string {
	s, err := bfPlainCSVOnce()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The watch cases.

// bfVersionBackwards: the version goes back to an older one, then on to a
// newer one. Both are stored; the older is flagged version-backwards and
// not published, the newer is accepted and published.
func bfVersionBackwards(t *testing.T, night string, _ map[string][]byte) {
	e := newBFEnv(t, night)
	vs := e.srv.Archive().Versions("24")
	e.srv.SetVersion("24", vs[1])
	w := bfStartWatch(t, e, "--publish")
	bfWaitLatest(t, e, vs[1])
	e.srv.SetVersion("24", vs[0])
	bfWaitLatest(t, e, vs[0])
	e.srv.SetVersion("24", vs[2])
	bfWaitLatest(t, e, vs[2])
	logs := w.stop(t)

	entries, pubs := bfEntries(t, e)
	if got := bfVersions(entries); !slices.Equal(got, []snapshot.Version{vs[2], vs[0], vs[1]}) {
		t.Fatalf("stored versions (newest first) %v, want %v", got,
			[]snapshot.Version{vs[2], vs[0], vs[1]})
	}
	t.Logf("version %s stored with suspect reasons %q", vs[0], entries[1].Suspect)
	if !bfHasReason(entries[1].Suspect, "version-backwards") {
		t.Errorf("version %s (after %s) stored with suspect reasons %q, want version-backwards",
			vs[0], vs[1], entries[1].Suspect)
	}
	if len(entries[0].Suspect) > 0 || len(entries[2].Suspect) > 0 {
		t.Errorf("versions %s and %s flagged %q and %q, want neither", vs[2], vs[1],
			entries[0].Suspect, entries[2].Suspect)
	}
	// log --json names the reasons if it has a field for them.
	for _, line := range strings.Split(strings.TrimSpace(mustCtrunner(t, "log", "24", "--json",
		"--store", e.store)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log --json line %q: %v", line, err)
		}
		suspect, ok := rec["suspect"]
		switch {
		case rec["version"] != float64(vs[0]):
		case !ok:
			t.Logf("log --json has no suspect field: %s", line)
		case !strings.Contains(fmt.Sprint(suspect), "version-backwards"):
			t.Errorf("log --json: version %s has suspect %v, want version-backwards",
				vs[0], suspect)
		}
	}
	if got := bfPubVersions(pubs); !slices.Equal(got, []snapshot.Version{vs[2], vs[1]}) {
		t.Errorf("published versions (newest first) %v, want %v", got,
			[]snapshot.Version{vs[2], vs[1]})
	}
	if !strings.Contains(logs, `"msg":"suspect version"`) ||
		!strings.Contains(logs, "version-backwards") {
		t.Errorf("watch logged no suspect version-backwards line:\n%s", logs)
	}
	recs := bfPolls(t, e)
	if !slices.ContainsFunc(recs, func(r polls.Record) bool {
		return r.Version == vs[0] && r.Outcome == polls.Suspect &&
			bfHasReason(r.Reasons, "version-backwards")
	}) {
		t.Errorf("the poll journal records no suspect poll of version %s: %+v", vs[0], recs)
	}
}

// bfVersionReused: the same version number comes back with different
// documents. Watch must store it as a new snapshot flagged version-reused
// (and not publish it). As of 7591c0e it fails: a poll that sees the
// version stored last counts as unchanged (watch/watch.go, poll), so the
// documents are never fetched again.
func bfVersionReused(t *testing.T, night string, _ map[string][]byte) {
	e := newBFEnv(t, night)
	vs := e.srv.Archive().Versions("24")
	e.srv.SetVersion("24", vs[1])
	w := bfStartWatch(t, e, "--publish")
	bfWaitLatest(t, e, vs[1])
	// Version vs[1] now serves the counts of vs[2]: the counts only grew,
	// so the version number is the only thing wrong.
	later := bfGet(t, e.srv, fmt.Sprintf("election/24/%s/%s", vs[2], snapshot.ElectionDataFile))
	e.inject(t, map[string]feedtest.Fault{
		fmt.Sprintf("election/24/%s/%s", vs[1], snapshot.ElectionDataFile): {
			Kind: feedtest.Status, Status: 200, Body: string(later)}})
	entries := bfWaitEntries(t, e, 2*time.Second, "a second snapshot of the same version",
		func(entries []store.Entry) bool { return len(entries) >= 2 })
	logs := w.stop(t)
	if entries == nil {
		recs := bfPolls(t, e)
		outcomes := map[polls.Outcome]int{}
		for _, r := range recs {
			outcomes[r.Outcome]++
		}
		t.Fatalf("watch kept polling version %s (%d polls: %v) after its documents "+
			"changed, but never fetched them again: nothing stored, nothing flagged "+
			"version-reused; log:\n%s", vs[1], len(recs), outcomes, bfTail(logs, 5))
	}
	entries, pubs := bfEntries(t, e)
	if len(entries) != 2 || entries[0].Version != vs[1] ||
		!bfHasReason(entries[0].Suspect, "version-reused") {
		t.Errorf("stored %v, newest flagged %q; want two snapshots of version %s, the "+
			"newest flagged version-reused", bfVersions(entries), entries[0].Suspect, vs[1])
	}
	if got := bfPubVersions(pubs); len(got) != 1 {
		t.Errorf("published %v, want only the first snapshot", got)
	}
}

// bfVersionReusedArchive: archive, which runs no sanity gates, stores
// the same version number with different documents as a new snapshot.
func bfVersionReusedArchive(t *testing.T, night string, _ map[string][]byte) {
	e := newBFEnv(t, night)
	vs := e.srv.Archive().Versions("24")
	e.srv.SetVersion("24", vs[1])
	archive := []string{"archive", "-e", "24", "--api", e.srv.URL, "--store", e.store,
		"--retries", "0", "--timeout", "5s"}
	mustCtrunner(t, archive...)
	later := bfGet(t, e.srv, fmt.Sprintf("election/24/%s/%s", vs[2], snapshot.ElectionDataFile))
	e.inject(t, map[string]feedtest.Fault{
		fmt.Sprintf("election/24/%s/%s", vs[1], snapshot.ElectionDataFile): {
			Kind: feedtest.Status, Status: 200, Body: string(later)}})
	out := mustCtrunner(t, archive...)
	if want := fmt.Sprintf("election 24 version %s: new snapshot ", vs[1]); !strings.HasPrefix(out, want) {
		t.Errorf("archive printed %q, want %q…", out, want)
	}
	entries, _ := bfEntries(t, e)
	if got := bfVersions(entries); !slices.Equal(got, []snapshot.Version{vs[1], vs[1]}) {
		t.Errorf("stored versions %v, want %s twice", got, vs[1])
	}
	if got := bfCheckout(t, e, "24")[snapshot.ElectionDataFile]; !bytes.Equal(got, later) {
		t.Errorf("the new snapshot does not hold the new documents")
	}
}

// bfDocuments404: Version.json names a version whose documents are 404s
// for a few polls. The failed polls are in the journal, nothing is stored
// until the documents appear, then the version is stored once.
func bfDocuments404(t *testing.T, night string, _ map[string][]byte) {
	e := newBFEnv(t, night)
	vs := e.srv.Archive().Versions("24")
	e.srv.SetVersion("24", vs[1])
	w := bfStartWatch(t, e)
	bfWaitLatest(t, e, vs[1])
	const failures = 3
	e.inject(t, map[string]feedtest.Fault{
		fmt.Sprintf("election/24/%s/%s", vs[2], snapshot.ElectionDataFile): {
			Kind: feedtest.Status, Status: 404, Body: "Not Found", Count: failures}})
	e.srv.SetVersion("24", vs[2])
	bfWaitLatest(t, e, vs[2])
	w.stop(t)

	entries, _ := bfEntries(t, e)
	if got := bfVersions(entries); !slices.Equal(got, []snapshot.Version{vs[2], vs[1]}) {
		t.Errorf("stored versions %v, want %v", got, []snapshot.Version{vs[2], vs[1]})
	}
	var failed, after int
	for _, r := range bfPolls(t, e) {
		switch {
		case r.Version != vs[2]:
		case r.Outcome == polls.Failed:
			if after > 0 {
				t.Errorf("a failed poll after version %s was stored: %+v", vs[2], r)
			}
			if r.Snapshot != "" || !strings.Contains(r.Reason, "HTTP 404") ||
				!strings.Contains(r.Reason, fmt.Sprintf("/%s/%s", vs[2],
					snapshot.ElectionDataFile)) {
				t.Errorf("failed poll %+v: want a reason naming the document and HTTP 404, "+
					"no snapshot", r)
			}
			failed++
		case r.Outcome == polls.New:
			after++
		}
	}
	if failed != failures || after != 1 {
		t.Errorf("the poll journal has %d failed polls of version %s and %d new, want %d "+
			"and 1", failed, vs[2], after, failures)
	}
	out := mustCtrunner(t, "polls", "24", "--store", e.store)
	if strings.Count(out, " failed ") != failures {
		t.Errorf("ctrunner polls shows %d failed polls, want %d:\n%s",
			strings.Count(out, " failed "), failures, out)
	}
}

// bfNegativeVotes: a vote count below zero (with the other odd values)
// is stored as served by watch, flagged negative-count.
func bfNegativeVotes(t *testing.T, _ string, docs map[string][]byte) {
	e := newBFEnv(t, feedtest.TestdataDir())
	body := bfOddValues(t, docs[bfED24])
	e.inject(t, map[string]feedtest.Fault{bfED24: {Kind: feedtest.Status, Status: 200,
		Body: string(body)}})
	w := bfStartWatch(t, e, "--publish")
	bfWaitLatest(t, e, 42355)
	w.stop(t)
	entries, pubs := bfEntries(t, e)
	if len(entries) != 1 || !bfHasReason(entries[0].Suspect, "negative-count") {
		t.Fatalf("stored %v; want one snapshot flagged negative-count", entries)
	}
	t.Logf("suspect reasons: %q", entries[0].Suspect)
	for _, r := range entries[0].Suspect {
		if strings.HasPrefix(r, "negative-count:") && !strings.Contains(r, "-51") {
			t.Errorf("reason %q does not name the count -51", r)
		}
	}
	if len(pubs) != 0 {
		t.Errorf("the suspect version was published")
	}
	if got := bfCheckout(t, e, "24")[snapshot.ElectionDataFile]; !bytes.Equal(got, body) {
		t.Errorf("watch stored Electiondata.json not as served")
	}
}

// bfEmptyList: the election list is an empty array. An archive of ALL
// has nothing to do: exit 0, one warning line, the store unchanged. As of
// 7591c0e it fails: archive stores the empty list as a new election-list
// snapshot ("election list: new snapshot (0 elections)").
func bfEmptyList(t *testing.T, _ string, _ map[string][]byte) {
	e := newBFEnv(t, feedtest.TestdataDir())
	mustCtrunner(t, "archive", "-e", "94", "--api", e.srv.URL, "--store", e.store,
		"--retries", "0")
	before, err := dirDigest(e.store)
	if err != nil {
		t.Fatal(err)
	}
	e.inject(t, map[string]feedtest.Fault{snapshot.ElectionListFile: {Kind: feedtest.Status,
		Status: 200, Body: "[]"}})
	args := []string{"archive", "--api", e.srv.URL, "--store", e.store, "--retries", "0",
		"--timeout", "5s"}
	stdout, stderr, code := ctrunnerExec(t, args...)
	t.Logf("ctrunner %s: exit %d\nstdout: %q\nstderr: %q", strings.Join(args, " "), code,
		stdout, stderr)
	if code != exitOK {
		t.Errorf("archive of an empty list: exit %d, want 0", code)
	}
	if stdout != "" {
		t.Errorf("archive of an empty list printed %q on stdout, want nothing", stdout)
	}
	if stderr != "ctrunner: the election list is empty: nothing to archive\n" {
		t.Errorf("archive of an empty list: stderr %q, want the one warning "+
			"%q", stderr, "ctrunner: the election list is empty: nothing to archive\n")
	}
	if after, err := dirDigest(e.store); err != nil || after != before {
		t.Errorf("archive of an empty list changed the store (%v)", err)
	}
}

// watchProc is a ctrunner watch running as a program.
type watchProc struct {
	cmd    *exec.Cmd
	stderr *bfBuffer
	done   bool
}

// bfStartWatch starts ctrunner watch on election 24 with short intervals.
func bfStartWatch(t *testing.T, e *bfEnv, extra ...string) *watchProc {
	t.Helper()
	args := append([]string{"watch", "--api", e.srv.URL, "--store", e.store, "-e", "24",
		"--interval", "50ms", "--max-backoff", "200ms", "--timeout", "2s", "--retries", "0",
		"--log-format", "json", "--heartbeat", "0"}, extra...)
	w := &watchProc{cmd: exec.Command("ctrunner", args...), stderr: &bfBuffer{}}
	w.cmd.Stderr = w.stderr
	w.cmd.Stdout = w.stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !w.done {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	return w
}

// stop ends watch with SIGINT, checks that it exits 0, and returns its
// log.
func (w *watchProc) stop(t *testing.T) string {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGINT)
	err := w.cmd.Wait()
	w.done = true
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("watch exited %d (%v) after SIGINT; log:\n%s", code, err, w.stderr)
	}
	return w.stderr.String()
}

// bfBuffer is a bytes.Buffer safe for a writing process and a reading test.
type bfBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *bfBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *bfBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bfWaitEntries waits up to d for election 24's snapshots (newest first)
// to satisfy ok, and returns them, or nil if they never did.
func bfWaitEntries(t *testing.T, e *bfEnv, d time.Duration, what string,
	ok func([]store.Entry) bool) []store.Entry {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if st, err := store.Open(e.store, store.Options{}); err == nil {
			entries, _ := st.Log("24")
			st.Close()
			if ok(entries) {
				return entries
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("waited %v for %s", d, what)
	return nil
}

// bfWaitLatest waits until election 24's latest snapshot is version v.
func bfWaitLatest(t *testing.T, e *bfEnv, v snapshot.Version) {
	t.Helper()
	if bfWaitEntries(t, e, 10*time.Second, "version "+v.String(), func(entries []store.Entry) bool {
		return len(entries) > 0 && entries[0].Version == v
	}) == nil {
		t.Fatalf("election 24 version %s not stored within 10s", v)
	}
}

// bfEntries returns election 24's snapshots and publications, newest
// first.
func bfEntries(t *testing.T, e *bfEnv) ([]store.Entry, []store.Publication) {
	t.Helper()
	st, err := store.Open(e.store, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.Log("24")
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := st.Publications("24")
	if err != nil {
		pubs = nil // none yet
	}
	return entries, pubs
}

func bfVersions(entries []store.Entry) []snapshot.Version {
	var vs []snapshot.Version
	for _, e := range entries {
		vs = append(vs, e.Version)
	}
	return vs
}

func bfPubVersions(pubs []store.Publication) []snapshot.Version {
	var vs []snapshot.Version
	for _, p := range pubs {
		vs = append(vs, p.Entry.Version)
	}
	return vs
}

func bfHasReason(reasons []string, kind string) bool {
	return slices.ContainsFunc(reasons, func(r string) bool {
		return strings.HasPrefix(r, kind+": ")
	})
}

// bfPolls reads the poll journal through ctrunner polls --json.
func bfPolls(t *testing.T, e *bfEnv) []polls.Record {
	t.Helper()
	var recs []polls.Record
	dec := json.NewDecoder(strings.NewReader(mustCtrunner(t, "polls", "--json", "--store",
		e.store)))
	for {
		var r polls.Record
		if err := dec.Decode(&r); err == io.EOF {
			return recs
		} else if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
}

// Documents.

// bfPlainDocs fetches the documents the cases start from, as the fake
// serves them without faults.
func bfPlainDocs(t *testing.T) map[string][]byte {
	t.Helper()
	srv, err := feedtest.Start(feedtest.TestdataDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	docs := map[string][]byte{}
	for _, p := range []string{bfVersion24, bfED24, bfLD24, bfVersion80, bfED80, bfLD80} {
		docs[p] = bfGet(t, srv, p)
	}
	return docs
}

func bfGet(t *testing.T, srv *feedtest.Server, path string) []byte {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s (%v)", path, resp.Status, err)
	}
	return data
}

// bfDocsOf returns the plain documents of one election version by file
// name.
func bfDocsOf(docs map[string][]byte, election, version string) map[string][]byte {
	prefix := "election/" + election + "/"
	return map[string][]byte{
		snapshot.VersionFile:      docs[prefix+snapshot.VersionFile],
		snapshot.ElectionDataFile: docs[prefix+version+"/"+snapshot.ElectionDataFile],
		snapshot.LookupDataFile:   docs[prefix+version+"/"+snapshot.LookupDataFile],
	}
}

// bfWith returns election 24's plain documents, by file name, with the
// one named name replaced.
func bfWith(docs map[string][]byte, name string, data []byte) map[string][]byte {
	out := bfDocsOf(docs, "24", "42355")
	out[name] = data
	return out
}

// bfReplace replaces each old with its new, each exactly once.
func bfReplace(t *testing.T, doc []byte, pairs ...string) []byte {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if n := bytes.Count(doc, []byte(pairs[i])); n != 1 {
			t.Fatalf("the document holds %q %d times, want once", pairs[i], n)
		}
		doc = bytes.Replace(doc, []byte(pairs[i]), []byte(pairs[i+1]), 1)
	}
	return doc
}

// bfOddValues is election 24's Electiondata.json with a count written with
// a thousands separator, a share without its percent sign, an empty
// precincts-reporting line, negative absentee counts and a negative vote
// count.
func bfOddValues(t *testing.T, ed []byte) []byte {
	return bfReplace(t, ed,
		`{"1181":{"V":"2372","TO":"78.88%"}}`, `{"1181":{"V":"2,372","TO":"78.88"}}`,
		`"NM":"Hartford","PR":"5 of 5 (100%)"`, `"NM":"Hartford","PR":""`,
		`"ABR":"4","ABC":"2"`, `"ABR":"-4","ABC":"-2"`,
		`{"1180":{"V":"51","TO":"41.46%"}}`, `{"1180":{"V":"-51","TO":"41.46%"}}`)
}

// bfUnknownCandidate is election 24's Electiondata.json with a candidate
// code in Hartford's townVotes that Lookupdata.json lacks.
func bfUnknownCandidate(t *testing.T, ed []byte) []byte {
	return bfReplace(t, ed, `{"1185":{"V":"17","TO":"1.12%"}}]},"153"`,
		`{"99999":{"V":"17","TO":"1.12%"}}]},"153"`)
}

// bfUnknownFields adds fields the tool does not know to both documents,
// at the top and inside known objects.
func bfUnknownFields(t *testing.T, ed, ld []byte) ([]byte, []byte) {
	ed = bfReplace(t, ed, `{"election":{"ID":"24",`,
		`{"liveBlog":{"url":"https://example.invalid/","items":[1,2,{"x":null}]},`+
			`"election":{"ID":"24","LU":"2017-04-25T23:59:00",`)
	ed = append(bytes.TrimSuffix(ed, []byte("}")), `,"zNewSection":[{"A":"1"}]}`...)
	ld = bfReplace(t, ld, `{"election":{"ID":"24",`,
		`{"election":{"ID":"24","TZ":"America/New_York",`)
	ld = append(bytes.TrimSuffix(ld, []byte("}")), `,"pollingHours":{"open":"06:00"}}`...)
	return ed, ld
}

// bfCheckout checks out the latest snapshot of election and returns its
// files by name.
func bfCheckout(t *testing.T, e *bfEnv, election string) map[string][]byte {
	t.Helper()
	dest := filepath.Join(e.work, "checkout-"+election)
	os.RemoveAll(dest)
	mustCtrunner(t, "checkout", election, "--store", e.store, "--dest", dest)
	files := map[string][]byte{}
	entries, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		data, err := os.ReadFile(filepath.Join(dest, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[de.Name()] = data
	}
	return files
}

func bfHead(b []byte) string { return string(b[:min(len(b), 40)]) }

func bfTail(s string, n int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
