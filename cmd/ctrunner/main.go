// Command ctrunner fetches Connecticut's election-night results API into a
// content-addressed archive and reads that archive back: as the raw
// documents, as the old tool's CSV, or as summaries.
//
// Exit codes: 0 success, 1 an operation failed (network, bad data, store),
// 2 the command line was wrong.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // Eastern time for listings on machines without zoneinfo
)

func main() {
	// A reader that goes away (ctrunner log | head) must not kill a run
	// half way: writes to a closed pipe fail instead.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
