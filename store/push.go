package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Pushing the git backend to a mirror.
//
// Push replicates every branch of the store (refs/heads/*: the elections,
// the election list and any other) to a git remote, with go-git: a bare
// repository in a folder (pushed through git's own git-receive-pack, so
// git must be installed) or a smart-HTTP remote (http:// or https://, user
// and password in the URL if it needs them). Branches are only ever moved
// forward: a remote branch that is not an ancestor of the store's stops the
// whole push before anything is sent, with an error naming it. A mirror
// never loses anything to a push, and a push that failed half way is
// caught up by the next, which sends whatever the remote lacks.
//
// Push takes the store lock only to read the branches: the same lock a
// write takes, held for the few milliseconds it takes to finish or undo an
// interrupted write and list the refs, so that the set it pushes is one
// that the store committed. It then sends that set without the lock, while
// writers go on. Writes only add objects, so everything the set reaches
// stays in the store; a Pack may meanwhile move objects into a new pack,
// which the push's reads follow (see pushStorage).

// Pusher is implemented by stores that can replicate themselves to a git
// remote: the git backend. A zstd store is replicated by copying its folder
// (objects/ first, then journal.jsonl): its objects never change.
type Pusher interface {
	// Push sends every branch of the store to remote, a folder holding a
	// bare git repository or an http(s):// URL, and reports what it did.
	Push(ctx context.Context, remote string) (PushReport, error)
}

// PushReport says what a Push did.
type PushReport struct {
	// Remote is the remote as given, with any password masked.
	Remote string
	// Branches lists every branch of the store, sorted by name.
	Branches []BranchPush
}

// Updated is the number of branches the push created or moved.
func (r PushReport) Updated() int {
	n := 0
	for _, b := range r.Branches {
		if !b.UpToDate() {
			n++
		}
	}
	return n
}

// BranchPush is one branch of a Push.
type BranchPush struct {
	// Name is the branch without refs/heads/, e.g. elections/80.
	Name string
	// Old is the commit the remote branch pointed at before the push, in
	// hex, or "" if the remote had no such branch.
	Old string
	// New is the store's commit, which the remote branch points at now.
	New string
}

// UpToDate reports whether the remote already had the branch as it is.
func (b BranchPush) UpToDate() bool { return b.Old == b.New }

// ErrDiverged is matched by the error a Push returns when a remote branch
// holds commits the store's branch does not: pushing would lose them, and
// Push never forces. Test for it with errors.Is.
var ErrDiverged = errors.New("remote branch has diverged")

// divergedError names the diverged branches and matches ErrDiverged.
type divergedError struct{ msg string }

func (e *divergedError) Error() string        { return e.msg }
func (e *divergedError) Is(target error) bool { return target == ErrDiverged }

// errRemoteMoved reports that a remote branch changed between the moment
// Push read it and the moment it sent its update: another push ran at the
// same time. Trying again settles it.
var errRemoteMoved = errors.New("a remote branch moved during the push")

// Push sends every branch of the store to remote; see the comment at the
// top of push.go.
func (g *gitStore) Push(ctx context.Context, remote string) (PushReport, error) {
	r, err := g.push(ctx, remote)
	if err != nil {
		return r, fmt.Errorf("pushing to %s: %w", r.Remote, err)
	}
	return r, nil
}

func (g *gitStore) push(ctx context.Context, remote string) (PushReport, error) {
	r := PushReport{Remote: redactURL(remote)}
	target, err := g.pushTarget(remote)
	if err != nil {
		return r, err
	}
	refs, err := g.committedBranches(ctx)
	if err != nil {
		return r, err
	}
	if len(refs) == 0 {
		return r, nil
	}

	st := newPushStorage(g.dir)
	defer st.Close()
	remoteRefs, err := listRemote(ctx, target)
	if err != nil {
		return r, err
	}
	var specs, require []config.RefSpec
	var diverged []string
	for _, ref := range refs {
		b := BranchPush{Name: strings.TrimPrefix(ref.name, "refs/heads/"), New: ref.tip.String()}
		old, ok := remoteRefs[ref.name]
		if ok {
			b.Old = old.String()
		}
		r.Branches = append(r.Branches, b)
		if b.UpToDate() {
			continue
		}
		if ok {
			ff, err := isAncestor(st, old, ref.tip)
			if err != nil {
				return r, fmt.Errorf("checking %s: %w", b.Name, err)
			}
			if !ff {
				diverged = append(diverged, b.Name)
				continue
			}
			require = append(require, config.RefSpec(old.String()+":"+ref.name))
		}
		specs = append(specs, config.RefSpec(ref.tip.String()+":"+ref.name))
	}
	if len(diverged) > 0 {
		what := "branch " + diverged[0] + " has"
		if len(diverged) > 1 {
			what = "branches " + strings.Join(diverged, ", ") + " have"
		}
		return r, &divergedError{fmt.Sprintf("remote %s diverged: it holds commits "+
			"that the store lacks; nothing was pushed (a push never overwrites)", what)}
	}
	if len(specs) == 0 {
		return r, nil
	}

	rem := git.NewRemote(st, &config.RemoteConfig{Name: "mirror", URLs: []string{target}})
	err = rem.PushContext(ctx, &git.PushOptions{
		RemoteName:        "mirror",
		RefSpecs:          specs,
		RequireRemoteRefs: require,
		Atomic:            true, // when the remote supports it
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return r, nil
	case strings.Contains(err.Error(), "non-fast-forward update"),
		strings.Contains(err.Error(), "RequireRemoteRefs"),
		strings.Contains(err.Error(), "required to be"):
		return r, fmt.Errorf("%w: %v", errRemoteMoved, err)
	}
	return r, err
}

// pushTarget checks remote and returns the URL to hand to go-git: an
// absolute path for a folder.
func (g *gitStore) pushTarget(remote string) (string, error) {
	if remote == "" {
		return "", errors.New("no remote given")
	}
	if scheme, _, ok := strings.Cut(remote, "://"); ok {
		switch scheme {
		case "http", "https":
			if _, err := url.Parse(remote); err != nil {
				return "", fmt.Errorf("bad remote URL: %w", err)
			}
			return remote, nil
		case "file":
			remote = strings.TrimPrefix(remote, "file://")
		default:
			return "", fmt.Errorf("unsupported remote %q: give a folder or an "+
				"http(s):// URL", scheme+"://…")
		}
	}
	dir, err := filepath.Abs(remote)
	if err != nil {
		return "", err
	}
	if strings.Contains(dir, ":") {
		return "", fmt.Errorf("the folder's path contains a colon, which git would " +
			"read as a host name: use a path without one")
	}
	if same, _ := sameFile(dir, g.dir); same {
		return "", errors.New("the remote is the store itself")
	}
	if err := checkMirror(dir); err != nil {
		return "", err
	}
	if !gitReceivePackFound() {
		return "", errors.New("pushing to a folder runs git's git-receive-pack, " +
			"and git is not installed (install git, or push over http)")
	}
	return dir, nil
}

// checkMirror makes sure dir holds a bare git repository.
func checkMirror(dir string) error {
	present, err := storeExists(dir)
	if err != nil {
		return err
	}
	if !present {
		return notFoundf("no git repository at %s (make an empty one with "+
			"ctrunner push --init, or git init --bare)", dir)
	}
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s is not a bare git repository: no %s", dir, name)
		}
	}
	return nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// gitReceivePackFound reports whether go-git's file transport will find
// git-receive-pack: on the PATH, or through git --exec-path.
func gitReceivePackFound() bool {
	if _, err := exec.LookPath("git-receive-pack"); err == nil {
		return true
	}
	_, err := exec.LookPath("git")
	return err == nil
}

// InitMirror makes an empty bare repository at dir to push a store to, as
// ctrunner makes a new store: HEAD on the election-list branch, so that
// plain git commands work on the mirror (which ctrunner can open as a
// store, too). It does nothing and reports created=false if dir already
// holds a bare git repository, and fails if it holds anything else.
func InitMirror(dir string) (created bool, err error) {
	present, err := storeExists(dir)
	if err != nil {
		return false, err
	}
	if !present {
		if err := create(dir); err != nil {
			return false, fmt.Errorf("creating mirror %s: %w", dir, err)
		}
		created = true
	}
	return created, checkMirror(dir)
}

// committedBranches returns the branches (refs/heads/*) of the store as the
// last write left them, sorted by name. It holds the store lock while it
// reads them, finishing or undoing first what an interrupted write or Pack
// left, as a writer does; it does not wait for writers of this Store to
// finish a whole Update, only for the lock.
func (g *gitStore) committedBranches(ctx context.Context) ([]namedRef, error) {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	select {
	case g.writing <- struct{}{}:
		defer func() { <-g.writing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	lock, err := lockStore(ctx, g.dir, g.name, g.lockWait)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errClosed
	}
	if _, err := recoverWrite(g.dir, g.noSync, nil); err != nil {
		return nil, fmt.Errorf("recovering from an interrupted write: %w", err)
	}
	if _, err := repairPacks(g.dir, g.noSync); err != nil {
		return nil, fmt.Errorf("repairing what an interrupted pack left: %w", err)
	}
	refs, err := listRefs(g.dir)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(refs, func(r namedRef) bool {
		return !strings.HasPrefix(r.name, "refs/heads/")
	}), nil
}

// listRemote returns the branches of the remote target, as its
// git-receive-pack advertises them.
func listRemote(ctx context.Context, target string) (map[string]plumbing.Hash, error) {
	ep, err := transport.NewEndpoint(target)
	if err != nil {
		return nil, err
	}
	c, err := client.NewClient(ep)
	if err != nil {
		return nil, err
	}
	sess, err := c.NewReceivePackSession(ep, nil)
	if err != nil {
		return nil, err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if cerr := sess.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	refs := map[string]plumbing.Hash{}
	for name, h := range ar.References {
		if strings.HasPrefix(name, "refs/heads/") {
			refs[name] = h
		}
	}
	return refs, nil
}

// isAncestor reports whether the commit old is tip or one of its
// ancestors. A commit the store does not have is no ancestor.
func isAncestor(st *pushStorage, old, tip plumbing.Hash) (bool, error) {
	if _, err := st.EncodedObject(plumbing.CommitObject, old); err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return false, nil
		}
		return false, err
	}
	seen := map[plumbing.Hash]bool{}
	queue := []plumbing.Hash{tip}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == old {
			return true, nil
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		c, err := object.GetCommit(st, h)
		if err != nil {
			return false, fmt.Errorf("reading commit %s: %w", h, err)
		}
		queue = append(queue, c.ParentHashes...)
	}
	return false, nil
}

// pushStorage is the push's own view of the store's repository. When an
// object is not where go-git last saw it, because a Pack moved it from a
// loose file into a new pack or merged its pack into another since,
// pushStorage reads the list of packs again and looks once more, as
// gitStore.object does.
type pushStorage struct {
	*filesystem.Storage
}

func newPushStorage(dir string) *pushStorage {
	return &pushStorage{filesystem.NewStorageWithOptions(osfs.New(dir, osfs.WithBoundOS()),
		cache.NewObjectLRU(objectCacheSize), filesystem.Options{})}
}

func (s *pushStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (
	plumbing.EncodedObject, error) {
	obj, err := s.Storage.EncodedObject(t, h)
	if err != nil {
		s.Storage.ObjectStorage.Reindex()
		obj, err = s.Storage.EncodedObject(t, h)
	}
	return obj, err
}

func (s *pushStorage) DeltaObject(t plumbing.ObjectType, h plumbing.Hash) (
	plumbing.EncodedObject, error) {
	obj, err := s.Storage.DeltaObject(t, h)
	if err != nil {
		s.Storage.ObjectStorage.Reindex()
		obj, err = s.Storage.DeltaObject(t, h)
	}
	return obj, err
}

func (s *pushStorage) HasEncodedObject(h plumbing.Hash) error {
	if err := s.Storage.HasEncodedObject(h); err == nil {
		return nil
	}
	s.Storage.ObjectStorage.Reindex()
	return s.Storage.HasEncodedObject(h)
}

// redactURL masks the password of an http(s) URL, for messages.
func redactURL(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || u.User == nil {
		return remote
	}
	return u.Redacted()
}

// Retry bounds how PushWithRetry tries again when the remote cannot be
// reached.
type Retry struct {
	// Attempts is how many times to try in all; less than 1 means 1.
	Attempts int
	// Timeout bounds each attempt; zero means no bound. An attempt that
	// runs out of time counts as a remote that is down.
	Timeout time.Duration
	// Wait is the pause before the second attempt, doubled before each
	// next one up to MaxWait (one minute if zero).
	Wait, MaxWait time.Duration
	// OnRetry, if set, is told of each failed attempt that will be
	// retried, and how long the pause before the next one is.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// backoff returns the pause after the n-th failed attempt (n >= 1).
func (r Retry) backoff(n int) time.Duration {
	limit := r.MaxWait
	if limit <= 0 {
		limit = time.Minute
	}
	wait := r.Wait
	for i := 1; i < n && wait < limit; i++ {
		wait *= 2
	}
	return min(wait, limit)
}

// PushWithRetry pushes the store to remote like p.Push, trying again while
// the remote cannot be reached (refused or reset connections, time-outs,
// HTTP 5xx and 429), as r says. Any other failure, such as a diverged
// branch or refused credentials, ends it at once. Nothing is lost by a
// push that gave up: the next one sends what the remote still lacks.
func PushWithRetry(ctx context.Context, p Pusher, remote string, r Retry) (PushReport, error) {
	attempts := max(r.Attempts, 1)
	for n := 1; ; n++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if r.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, r.Timeout)
		}
		rep, err := p.Push(actx, remote)
		cancel()
		if err == nil || ctx.Err() != nil || !Transient(err) {
			return rep, err
		}
		if n >= attempts {
			return rep, fmt.Errorf("%w (gave up after %d %s)", err, n, plural(n, "attempt"))
		}
		wait := r.backoff(n)
		if r.OnRetry != nil {
			r.OnRetry(n, err, wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return rep, err
		case <-timer.C:
		}
	}
}

// Transient reports whether err, returned by a Push, says that the remote
// could not be reached or answered that it is unavailable, so that trying
// again later may succeed.
func Transient(err error) bool {
	var ue *plumbing.UnexpectedError
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var he *githttp.Err
	if errors.As(err, &he) {
		code := he.StatusCode()
		return code >= 500 || code == http.StatusTooManyRequests ||
			code == http.StatusRequestTimeout
	}
	if errors.Is(err, errRemoteMoved) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var certErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &authErr) ||
		errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return false
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET,
		syscall.ECONNABORTED, syscall.EPIPE, syscall.ENETUNREACH, syscall.EHOSTUNREACH,
		syscall.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	var urlErr *url.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.As(err, &urlErr) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// BackgroundPusher pushes in the background of a long-running archiver,
// such as ctrunner watch --push: the archiver calls Notify after each
// write and never waits for the remote. Notifications that arrive while a
// push runs, or while it waits to retry, make one more push, which sends
// everything the remote lacks. A failed push is retried with backoff until
// one succeeds, however long the remote is down; each failure is reported
// to Options.OnError. It depends on no store: Push is any function that
// pushes, such as a Pusher's Push bound to its remote.
type BackgroundPusher struct {
	push func(ctx context.Context) (PushReport, error)
	opts BackgroundOptions

	kick    chan struct{} // a pending Notify; buffered, holds one
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when the loop has ended
	ctx     context.Context
	cancel  context.CancelFunc
	close   sync.Once

	// Set by the loop before it closes done.
	unpushed bool
	lastErr  error
}

// BackgroundOptions tune a BackgroundPusher.
type BackgroundOptions struct {
	// Timeout bounds each push; zero means no bound.
	Timeout time.Duration
	// Wait is the pause after the first failure in a row (one second if
	// zero), doubled after each next one up to MaxWait (one minute if
	// zero).
	Wait, MaxWait time.Duration
	// OnPush, if set, is given the report of each successful push.
	OnPush func(PushReport)
	// OnError, if set, is given each failure and the pause before the
	// next attempt.
	OnError func(err error, retryIn time.Duration)
}

// NewBackgroundPusher starts a BackgroundPusher that pushes with push.
// Call Close to stop it.
func NewBackgroundPusher(push func(ctx context.Context) (PushReport, error),
	opts BackgroundOptions) *BackgroundPusher {
	if opts.Wait <= 0 {
		opts.Wait = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &BackgroundPusher{
		push:    push,
		opts:    opts,
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	go b.loop()
	return b
}

// Notify asks for a push soon. It never blocks.
func (b *BackgroundPusher) Notify() {
	select {
	case b.kick <- struct{}{}:
	default: // one is pending already
	}
}

// Close stops the pusher. If a push is pending, or the last one failed,
// it first tries one more push, for as long as ctx allows, and returns
// that push's error if it fails too: the remote then lacks the latest
// writes, which the next push (of any process) will send.
func (b *BackgroundPusher) Close(ctx context.Context) error {
	b.close.Do(func() { close(b.closing) })
	select {
	case <-b.done:
	case <-ctx.Done():
		b.cancel()
		<-b.done
	}
	b.cancel()
	if b.unpushed {
		if b.lastErr == nil {
			b.lastErr = ctx.Err()
		}
		return fmt.Errorf("the latest writes were not pushed: %w", b.lastErr)
	}
	return nil
}

func (b *BackgroundPusher) loop() {
	defer close(b.done)
	retry := Retry{Wait: b.opts.Wait, MaxWait: b.opts.MaxWait}
	pending, failures := false, 0
	for {
		if !pending {
			select {
			case <-b.kick:
			case <-b.closing:
				select {
				case <-b.kick: // notified just before Close: push it
				default:
					return
				}
			}
			pending = true
		}
		select {
		case <-b.kick: // this push covers it
		default:
		}
		err := b.once()
		if err == nil {
			pending, failures = false, 0
			continue
		}
		b.lastErr = err
		if b.ctx.Err() != nil || isClosed(b.closing) {
			b.unpushed = true
			return
		}
		failures++
		wait := retry.backoff(failures)
		if b.opts.OnError != nil {
			b.opts.OnError(err, wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-b.closing: // one last attempt, then stop
			timer.Stop()
		}
	}
}

// once runs one push.
func (b *BackgroundPusher) once() error {
	ctx, cancel := b.ctx, context.CancelFunc(func() {})
	if b.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(b.ctx, b.opts.Timeout)
	}
	defer cancel()
	r, err := b.push(ctx)
	if err == nil && b.opts.OnPush != nil {
		b.opts.OnPush(r)
	}
	return err
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
