package publish

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// DefaultHookTimeout bounds a Hook run when Hook.Timeout is zero.
const DefaultHookTimeout = 30 * time.Second

// Hook is a shell command run after each publication, such as one that
// purges a CDN cache.
type Hook struct {
	// Command is run with /bin/sh -c.
	Command string
	// Timeout bounds a run; the command and its children are killed
	// after it.
	Timeout time.Duration
	// Output gets the command's stdout and stderr.
	Output io.Writer
}

// Event says what was published; Run passes it to the command as the
// environment variables CTRUNNER_ELECTION, CTRUNNER_VERSION,
// CTRUNNER_SNAPSHOT (the full snapshot ID) and CTRUNNER_PUBLISH_DIR (the
// publish folder, empty when there is none).
type Event struct {
	Election   string
	Version    string
	Snapshot   string
	PublishDir string
}

// Run runs the command for one publication and waits for it. It fails
// when the command fails, or does not finish within the timeout.
func (h Hook) Run(ctx context.Context, ev Event) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", h.Command)
	cmd.Env = append(os.Environ(),
		"CTRUNNER_ELECTION="+ev.Election,
		"CTRUNNER_VERSION="+ev.Version,
		"CTRUNNER_SNAPSHOT="+ev.Snapshot,
		"CTRUNNER_PUBLISH_DIR="+ev.PublishDir)
	out := h.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Kill the whole process group, so that children of the shell do not
	// outlive the timeout, and stop waiting for their output soon after.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("on-publish command did not finish within %s", timeout)
	}
	if err != nil {
		return fmt.Errorf("on-publish command: %w", err)
	}
	return nil
}
