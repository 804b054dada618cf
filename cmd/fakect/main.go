// Command fakect serves a legacy archive folder as a fake Connecticut
// election night API on a loopback address, for offline trials and tests:
//
//	go run ./cmd/fakect [-addr 127.0.0.1:8089] DIR
//
// It prints the API base URL on stdout, then serves until interrupted.
// Faults can be injected over HTTP under /_fake/; see package
// ctrunner/feed/feedtest. Exit status 2 means bad arguments, 1 that the
// server could not start.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"ctrunner/feed/feedtest"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// run serves until stop delivers a value and returns the exit status.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	flags := flag.NewFlagSet("fakect", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:8089", "loopback `host:port` to listen on")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: fakect [-addr 127.0.0.1:8089] DIR")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	if err := feedtest.CheckLoopback(*addr); err != nil {
		fmt.Fprintf(stderr, "fakect: %v\n", err)
		return 2
	}

	srv, err := feedtest.Listen(flags.Arg(0), *addr)
	if err != nil {
		fmt.Fprintf(stderr, "fakect: %v\n", err)
		return 1
	}
	defer srv.Close()
	for _, p := range srv.Archive().Problems() {
		fmt.Fprintf(stderr, "fakect: warning: %v\n", p)
	}
	fmt.Fprintln(stdout, srv.URL)
	<-stop
	return 0
}
