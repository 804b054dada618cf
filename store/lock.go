package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFileName is the file in the store that writers flock(2). It is
// created with the store and never holds any data.
const lockFileName = "ctrunner.lock"

// writeLock is a held store lock.
type writeLock struct{ f *os.File }

// lockStore takes the exclusive lock of the store in dir, called name in
// messages, waiting up to wait for another writer to release it. Each call
// opens the lock file afresh, so two Store values in one process exclude
// each other as two processes do.
func lockStore(ctx context.Context, dir, name string, wait time.Duration) (*writeLock, error) {
	// The lock file is made with the store; O_CREATE only repairs a store
	// whose lock file was deleted, and never truncates.
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening store lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	pause := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &writeLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking store: %w", err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			f.Close()
			return nil, &busyError{fmt.Sprintf("store %s is busy: another ctrunner "+
				"process is writing (waited %s)", name, max(wait, 0))}
		}
		timer := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			timer.Stop()
			f.Close()
			return nil, fmt.Errorf("waiting for store lock: %w", ctx.Err())
		case <-timer.C:
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// unlock releases the lock; closing the file drops the flock.
func (l *writeLock) unlock() error {
	return l.f.Close()
}
