package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// create makes a new, empty git store at dir; see createAtomically.
func create(dir string) error {
	return createAtomically(dir, initRepository)
}

// createAtomically makes a new store at dir: fill builds it in a temporary
// folder next to dir, which is synced and renamed into place, so a crash
// never leaves half a store. If another process created a store at dir
// first, createAtomically leaves that one alone and succeeds.
func createAtomically(dir string, fill func(tmp string) error) (err error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o777); err != nil {
		return err
	}
	tmp, err := makeTempDir(parent, "."+filepath.Base(dir)+".creating-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	if err := syncAll(tmp); err != nil {
		return err
	}

	// rename(2) replaces an empty folder, and fails on a non-empty one: a
	// store another process made in the meantime. (os.Rename refuses any
	// existing folder, so the system call is used directly.)
	if err := syscall.Rename(tmp, dir); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			os.RemoveAll(tmp)
			return nil
		}
		return err
	}
	return syncDir(parent)
}

// initRepository makes a bare repository in the empty folder dir, with
// HEAD on the election-list branch and the store's lock file.
func initRepository(dir string) error {
	st := filesystem.NewStorage(osfs.New(dir, osfs.WithBoundOS()), cache.NewObjectLRU(cache.KiByte))
	defer st.Close()
	_, err := git.InitWithOptions(st, nil, git.InitOptions{DefaultBranch: electionListRef})
	if err != nil {
		return fmt.Errorf("initialising git repository: %w", err)
	}
	cfg, err := st.Config()
	if err != nil {
		return fmt.Errorf("reading new repository's config: %w", err)
	}
	if !cfg.Core.IsBare {
		return errors.New("new repository is not bare")
	}
	// Without a format version, git ignores core.bare when given the
	// repository with --git-dir.
	cfg.Core.RepositoryFormatVersion = config.Version_0
	if err := st.SetConfig(cfg); err != nil {
		return fmt.Errorf("writing new repository's config: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	return lock.Close()
}

// makeTempDir makes a new folder in parent whose name starts with prefix.
// Unlike os.MkdirTemp it leaves the mode to the umask, as git does.
func makeTempDir(parent, prefix string) (string, error) {
	for {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		path := filepath.Join(parent, prefix+hex.EncodeToString(b[:]))
		err := os.Mkdir(path, 0o777)
		if !errors.Is(err, fs.ErrExist) {
			return path, err
		}
	}
}

// syncAll fsyncs every file and folder under dir, dir included.
func syncAll(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return syncPath(path)
	})
}

// syncPath fsyncs a file or a folder.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return f.Close()
}

// syncDir fsyncs a folder, which makes the names created, renamed or
// removed in it durable.
func syncDir(dir string) error { return syncPath(dir) }
