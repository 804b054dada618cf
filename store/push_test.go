package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// needGit skips the test when the git CLI is not installed: pushing to a
// folder runs git-receive-pack, and the tests check the remote with git.
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// pushFixture is a git store holding two elections and an election list.
func pushFixture(t *testing.T) (*gitStore, string) {
	t.Helper()
	s, dir := openGit(t)
	for i, id := range []string{"80", "80", "24"} {
		v := int64(100 + i)
		mustPut(t, s, snap(id, v, t0.Add(time.Duration(i)*time.Minute), docs(v, id)...))
	}
	if _, err := s.PutElectionList(context.Background(), []byte(`[{"id":80}]`), t0,
		"http://127.0.0.1:8080/elections"); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// newMirror makes an empty mirror with InitMirror.
func newMirror(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mirror.git")
	created, err := InitMirror(dir)
	if err != nil || !created {
		t.Fatalf("InitMirror(%s) = %v, %v, want true, nil", dir, created, err)
	}
	return dir
}

// gitHistory is every branch of the repository dir and every commit they
// reach, as git itself lists them.
func gitHistory(t *testing.T, dir string) string {
	t.Helper()
	return mustGit(t, dir, "for-each-ref", "--format=%(refname) %(objectname)") +
		mustGit(t, dir, "log", "--all", "--format=%H %T %P %at %s")
}

// checkMirrored fails the test unless the mirror has exactly the store's
// branches and commits, and git fsck --strict finds nothing wrong with it.
func checkMirrored(t *testing.T, storeDir, mirror string) {
	t.Helper()
	got, want := gitHistory(t, mirror), gitHistory(t, storeDir)
	if got != want {
		t.Fatalf("mirror history:\n%s\nwant the store's:\n%s", got, want)
	}
	checkGitClean(t, mirror)
}

// summary renders a report as the CLI prints it, short hashes and all.
func summary(r PushReport) string {
	var lines []string
	for _, b := range r.Branches {
		switch {
		case b.UpToDate():
			lines = append(lines, b.Name+": up to date")
		case b.Old == "":
			lines = append(lines, b.Name+": new")
		default:
			lines = append(lines, b.Name+": "+b.Old[:7]+" → "+b.New[:7])
		}
	}
	return strings.Join(lines, "\n")
}

func mustPush(t *testing.T, s Pusher, remote string) PushReport {
	t.Helper()
	r, err := s.Push(context.Background(), remote)
	if err != nil {
		t.Fatalf("Push(%s) = %v", remote, err)
	}
	return r
}

func TestPushFolder(t *testing.T) {
	needGit(t)
	s, dir := pushFixture(t)
	mirror := newMirror(t)

	r := mustPush(t, s, mirror)
	want := "election-list: new\nelections/24: new\nelections/80: new"
	if got := summary(r); got != want {
		t.Errorf("first push:\n%s\nwant:\n%s", got, want)
	}
	checkMirrored(t, dir, mirror)

	before := treeState(t, mirror)
	r = mustPush(t, s, mirror)
	if got := r.Updated(); got != 0 {
		t.Errorf("second push updated %d branches, want 0:\n%s", got, summary(r))
	}
	checkUnchanged(t, "a push with nothing to send", before, treeState(t, mirror))

	old := mustLog(t, s, "24")[0].Commit
	e := mustPut(t, s, snap("24", 200, t0.Add(time.Hour), docs(200, "later")...))
	r = mustPush(t, s, mirror)
	want = "election-list: up to date\nelections/24: " + old[:7] + " → " + e.Commit[:7] +
		"\nelections/80: up to date"
	if got := summary(r); got != want {
		t.Errorf("push after one snapshot:\n%s\nwant:\n%s", got, want)
	}
	checkMirrored(t, dir, mirror)

	// The mirror is a store in its own right.
	m, err := Open(mirror, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := mustLog(t, m, "24")[0].Commit; got != e.Commit {
		t.Errorf("mirror's latest snapshot of 24 = %s, want %s", got, e.Commit)
	}
}

func TestPushPacked(t *testing.T) {
	needGit(t)
	s, dir := pushFixture(t)
	if _, err := s.Pack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(looseObjects(t, dir)); n != 0 {
		t.Fatalf("%d loose objects after Pack, want 0", n)
	}
	mirror := newMirror(t)
	mustPush(t, s, mirror)
	checkMirrored(t, dir, mirror)

	// A snapshot on top of the pack is sent alone, and a pack of the
	// mirror (git gc) changes nothing for the next push.
	mustPut(t, s, snap("80", 300, t0.Add(time.Hour), docs(300, "late")...))
	mustGit(t, mirror, "gc", "--quiet")
	if r := mustPush(t, s, mirror); r.Updated() != 1 {
		t.Errorf("push updated %d branches, want 1:\n%s", r.Updated(), summary(r))
	}
	checkMirrored(t, dir, mirror)
}

// gitHTTPServer serves the bare repositories under root over git's smart
// HTTP protocol, through git http-backend, with pushes allowed. wrap, if
// not nil, wraps the handler.
func gitHTTPServer(t *testing.T, root string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	needGit(t)
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git --exec-path: %v", err)
	}
	var h http.Handler = &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()},
	}
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newHTTPMirror makes an empty mirror that accepts pushes over HTTP and
// returns its folder and URL.
func newHTTPMirror(t *testing.T, wrap func(http.Handler) http.Handler) (string, string) {
	t.Helper()
	mirror := newMirror(t)
	mustGit(t, mirror, "config", "http.receivepack", "true")
	u := gitHTTPServer(t, filepath.Dir(mirror), wrap)
	return mirror, u + "/" + filepath.Base(mirror)
}

func TestPushHTTP(t *testing.T) {
	s, dir := pushFixture(t)
	mirror, u := newHTTPMirror(t, nil)

	if r := mustPush(t, s, u); r.Updated() != 3 || r.Remote != u {
		t.Errorf("push to %s = %s, %d updated, want 3 updated", r.Remote, summary(r), r.Updated())
	}
	checkMirrored(t, dir, mirror)
	if r := mustPush(t, s, u); r.Updated() != 0 {
		t.Errorf("second push updated %d branches, want 0", r.Updated())
	}
	mustPut(t, s, snap("80", 300, t0.Add(time.Hour), docs(300, "late")...))
	if r := mustPush(t, s, u); r.Updated() != 1 {
		t.Errorf("third push updated %d branches, want 1:\n%s", r.Updated(), summary(r))
	}
	checkMirrored(t, dir, mirror)
}

// failFirst answers 503 to the first n requests, then passes them on.
func failFirst(n int32, count *atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if count.Add(1) <= n {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestPushRetriesUntilRemoteIsBack(t *testing.T) {
	s, dir := pushFixture(t)
	var requests atomic.Int32
	mirror, u := newHTTPMirror(t, failFirst(3, &requests))

	var retries []string
	r, err := PushWithRetry(context.Background(), s, u, Retry{Attempts: 5,
		Wait: time.Millisecond, OnRetry: func(n int, err error, wait time.Duration) {
			retries = append(retries, fmt.Sprintf("%d %v", n, err))
		}})
	if err != nil {
		t.Fatalf("PushWithRetry = %v", err)
	}
	if r.Updated() != 3 {
		t.Errorf("push updated %d branches, want 3", r.Updated())
	}
	if len(retries) != 3 || !strings.Contains(retries[0], "503") {
		t.Errorf("retries = %q, want 3 after 503 answers", retries)
	}
	checkMirrored(t, dir, mirror)
}

// closedPort returns the URL of a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/mirror.git"
}

func TestPushRemoteDown(t *testing.T) {
	s, _ := pushFixture(t)
	u := closedPort(t)
	tries := 0
	start := time.Now()
	_, err := PushWithRetry(context.Background(), s, u, Retry{Attempts: 3,
		Wait: time.Millisecond, OnRetry: func(int, error, time.Duration) { tries++ }})
	if err == nil {
		t.Fatal("PushWithRetry to a closed port succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "pushing to "+u+": ") ||
		!strings.Contains(msg, "connection refused") ||
		!strings.HasSuffix(msg, "(gave up after 3 attempts)") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q, want one line naming the remote, the cause and the attempts", msg)
	}
	if tries != 2 {
		t.Errorf("OnRetry called %d times, want 2", tries)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("giving up took %v", d)
	}
}

func TestPushTimeout(t *testing.T) {
	s, _ := pushFixture(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	_, err := PushWithRetry(context.Background(), s, hang.URL+"/m.git",
		Retry{Attempts: 2, Timeout: 50 * time.Millisecond, Wait: time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Errorf("PushWithRetry to a hung remote = %v, want a deadline after 2 attempts", err)
	}
}

func TestPushDiverged(t *testing.T) {
	needGit(t)
	s, _ := pushFixture(t)
	mirror := newMirror(t)
	mustPush(t, s, mirror)

	// Another store with its own history of election 80.
	other, _ := openGit(t)
	mustPut(t, other, snap("80", 100, t0, docs(100, "other")...))
	mustPut(t, other, snap("81", 100, t0, docs(100, "new")...))
	before := treeState(t, mirror)
	pushes := 0
	counting := pusherFunc(func(ctx context.Context, remote string) (PushReport, error) {
		pushes++
		return other.Push(ctx, remote)
	})
	_, err := PushWithRetry(context.Background(), counting, mirror, Retry{Attempts: 3})
	if !errors.Is(err, ErrDiverged) || Transient(err) {
		t.Fatalf("push of a diverged branch = %v, want ErrDiverged", err)
	}
	want := "pushing to " + mirror + ": remote branch elections/80 has diverged"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start %q", err, want)
	}
	if pushes != 1 {
		t.Errorf("PushWithRetry pushed %d times, want 1", pushes)
	}
	checkUnchanged(t, "a refused push", before, treeState(t, mirror))
}

// pusherFunc makes a function a Pusher.
type pusherFunc func(ctx context.Context, remote string) (PushReport, error)

func (f pusherFunc) Push(ctx context.Context, remote string) (PushReport, error) {
	return f(ctx, remote)
}

func TestPushBadRemotes(t *testing.T) {
	needGit(t)
	s, dir := pushFixture(t)
	tmp := t.TempDir()
	notRepo := filepath.Join(tmp, "notrepo")
	mustWrite(t, filepath.Join(notRepo, "file"), "x")
	tests := []struct {
		remote string
		want   string
	}{
		{filepath.Join(tmp, "missing"), "no git repository at " + filepath.Join(tmp, "missing") +
			" (make an empty one with ctrunner push --init, or git init --bare)"},
		{notRepo, notRepo + " is not a bare git repository: no HEAD"},
		{dir, "the remote is the store itself"},
		{"ssh://127.0.0.1/x.git",
			`unsupported remote "ssh://…": give a folder or an http(s):// URL`},
	}
	for _, tt := range tests {
		_, err := s.Push(context.Background(), tt.remote)
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("Push(%s) = %v, want an error ending %q", tt.remote, err, tt.want)
		}
	}
	if _, err := InitMirror(notRepo); err == nil {
		t.Errorf("InitMirror(%s) of a folder with a file succeeded", notRepo)
	}
	mirror := newMirror(t)
	if created, err := InitMirror(mirror); created || err != nil {
		t.Errorf("InitMirror of an existing mirror = %v, %v, want false, nil", created, err)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPushDoesNotBlockWriters holds a push in the middle of sending and
// archives a snapshot meanwhile: the push holds no lock while it sends.
func TestPushDoesNotBlockWriters(t *testing.T) {
	s, dir := pushFixture(t)
	s.lockWait = -1 // a held lock fails the write at once
	sending := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	mirror, u := newHTTPMirror(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "git-receive-pack") {
				once.Do(func() { close(sending) })
				<-release
			}
			h.ServeHTTP(w, r)
		})
	})
	done := make(chan error, 1)
	go func() {
		_, err := s.Push(context.Background(), u)
		done <- err
	}()
	<-sending
	start := time.Now()
	mustPut(t, s, snap("80", 300, t0.Add(time.Hour), docs(300, "during")...))
	if d := time.Since(start); d > time.Second {
		t.Errorf("a write during a push took %v", d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Push = %v", err)
	}

	// The push sent the branches as they were when it began; the next
	// push sends the snapshot archived meanwhile.
	if got, want := mustGit(t, mirror, "rev-parse", "refs/heads/elections/80"),
		mustLog(t, s, "80")[1].Commit+"\n"; got != want {
		t.Errorf("mirror's elections/80 = %s, want the tip when the push began, %s", got, want)
	}
	mustPush(t, s, u)
	checkMirrored(t, dir, mirror)
}

func TestTransient(t *testing.T) {
	status := func(code int) error {
		return plumbing.NewUnexpectedError(&githttp.Err{Response: &http.Response{
			StatusCode: code, Request: &http.Request{URL: mustURL(t, "http://127.0.0.1/x")}}})
	}
	tests := []struct {
		err  error
		want bool
	}{
		{status(503), true},
		{status(500), true},
		{status(429), true},
		{status(400), false},
		{fmt.Errorf("pushing: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("pushing: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("pushing: %w", errRemoteMoved), true},
		{&divergedError{"remote branch x has diverged"}, false},
		{errors.New("authentication required"), false},
		{notFoundf("no git repository at x"), false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetryBackoff(t *testing.T) {
	r := Retry{Wait: time.Second, MaxWait: 5 * time.Second}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, r.backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second,
		5 * time.Second, 5 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backoff(1..5) = %v, want %v", got, want)
	}
}

// fakePush is a push function for BackgroundPusher tests: it counts its
// calls and fails while fail says so.
type fakePush struct {
	mu    sync.Mutex
	calls int
	fail  func(call int) error
	gate  chan struct{} // if not nil, each call waits for a value
}

func (f *fakePush) push(ctx context.Context) (PushReport, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return PushReport{}, ctx.Err()
		}
	}
	if f.fail != nil {
		if err := f.fail(n); err != nil {
			return PushReport{}, err
		}
	}
	return PushReport{}, nil
}

func (f *fakePush) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestBackgroundPusherCoalesces(t *testing.T) {
	f := &fakePush{gate: make(chan struct{})}
	pushed := make(chan struct{}, 10)
	b := NewBackgroundPusher(f.push, BackgroundOptions{
		OnPush: func(PushReport) { pushed <- struct{}{} }})
	b.Notify()
	for f.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 5 {
		b.Notify() // during the first push
	}
	f.gate <- struct{}{}
	<-pushed
	f.gate <- struct{}{} // the one push the five notifications made
	<-pushed
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := f.count(); got != 2 {
		t.Errorf("pushes = %d, want 2", got)
	}
}

func TestBackgroundPusherRetries(t *testing.T) {
	down := errors.New("remote down")
	f := &fakePush{fail: func(n int) error {
		if n <= 2 {
			return down
		}
		return nil
	}}
	pushed := make(chan struct{}, 1)
	var waits []time.Duration
	b := NewBackgroundPusher(f.push, BackgroundOptions{
		Wait:    time.Millisecond,
		OnPush:  func(PushReport) { pushed <- struct{}{} },
		OnError: func(err error, wait time.Duration) { waits = append(waits, wait) },
	})
	b.Notify()
	<-pushed
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond}
	if fmt.Sprint(waits) != fmt.Sprint(want) || f.count() != 3 {
		t.Errorf("%d pushes, waits %v, want 3 pushes, waits %v", f.count(), waits, want)
	}
}

func TestBackgroundPusherCloseFlushes(t *testing.T) {
	f := &fakePush{}
	b := NewBackgroundPusher(f.push, BackgroundOptions{})
	b.Notify()
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := f.count(); got != 1 {
		t.Errorf("pushes = %d, want 1", got)
	}
	b.Notify() // after Close: nothing happens
	if got := f.count(); got != 1 {
		t.Errorf("pushes after Close = %d, want 1", got)
	}
}

func TestBackgroundPusherCloseReportsFailure(t *testing.T) {
	down := errors.New("remote down")
	f := &fakePush{fail: func(int) error { return down }}
	b := NewBackgroundPusher(f.push, BackgroundOptions{Wait: time.Hour})
	b.Notify()
	for f.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := b.Close(ctx)
	if !errors.Is(err, down) {
		t.Fatalf("Close = %v, want the push's error", err)
	}
	if got := f.count(); got != 2 {
		t.Errorf("pushes = %d, want 2 (the failed one and one on Close)", got)
	}
}

func TestBackgroundPusherStore(t *testing.T) {
	needGit(t)
	s, dir := pushFixture(t)
	mirror := newMirror(t)
	b := NewBackgroundPusher(func(ctx context.Context) (PushReport, error) {
		return s.Push(ctx, mirror)
	}, BackgroundOptions{Wait: time.Millisecond})
	for i := range 5 {
		v := int64(300 + i)
		mustPut(t, s, snap("80", v, t0.Add(time.Duration(v)*time.Minute), docs(v, "bg")...))
		b.Notify()
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	checkMirrored(t, dir, mirror)
}
