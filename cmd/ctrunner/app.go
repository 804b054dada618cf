package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"ctrunner/snapshot"
	"ctrunner/store"
)

// version is the program's version, reported by --version and sent in the
// User-Agent header.
var version = "0.1.0"

// Exit codes documented in the README.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks a mistake on the command line; it exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// streams are the standard files a command reads and writes. Commands
// write data to stdout and everything else to stderr.
type streams struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// warnf writes one diagnostic line to stderr.
func (s streams) warnf(format string, args ...any) {
	fmt.Fprintf(s.stderr, "ctrunner: "+format+"\n", args...)
}

// run is the whole program: it parses args, runs the command and maps the
// outcome to an exit code, printing any error as one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	io := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	app := newApp(io)

	args, err := normalizeArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err == nil || errors.Is(err, syscall.EPIPE) {
		// EPIPE: whoever read our output stopped reading (ctrunner log | head).
		return exitOK
	}

	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
	fmt.Fprintf(stderr, "ctrunner: %s\n", msg)
	if isUsageError(err) {
		return exitUsage
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return exitFailure
}

// isUsageError reports whether err is a mistake on the command line: ours,
// a malformed snapshot reference, or one urfave/cli found.
func isUsageError(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, store.ErrBadRef) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "Required flag") || strings.HasPrefix(msg, "flag provided but not defined")
}

func newApp(io streams) *cli.App {
	app := &cli.App{
		Name:  "ctrunner",
		Usage: "archive and replay Connecticut's election-night results",
		Description: "ctrunner fetches the Connecticut election night reporting API into a " +
			"content-addressed archive (a bare git repository, or a store of zstd deltas) and reads it back.",
		Version:        version,
		Reader:         io.stdin,
		Writer:         io.stdout,
		ErrWriter:      io.stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			msg := err.Error()
			if strings.Contains(msg, "time: missing unit") || strings.Contains(msg, "-timeout") {
				msg += " (give a duration with a unit, e.g. 30s or 2m)"
			}
			return &usageError{msg: msg}
		},
		Commands: []*cli.Command{
			downloadCommand(io),
			parseCommand(io),
			archiveCommand(io),
			importCommand(io),
			logCommand(io),
			showCommand(io),
			checkoutCommand(io),
			simulateCommand(io),
			verifyCommand(io),
			packCommand(io),
			pushCommand(io),
			diffCommand(io),
			watchCommand(io),
			pollsCommand(io),
			statusCommand(io),
			publishCommand(io),
			rollbackCommand(io),
			replayCommand(io),
			exportCommand(io),
			plotCommand(io),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
	}
	return app
}

// normalizeArgs lets flags follow positional arguments ("ctrunner log 80
// --store S"), which urfave/cli would otherwise silently ignore: it moves
// every flag of the command in front of its positional arguments. An
// unknown command or flag is a usage error.
func normalizeArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	out := []string{args[0]}
	i := 1
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		switch strings.TrimLeft(args[i], "-") {
		case "help", "h", "version", "v":
			out = append(out, args[i])
		default:
			return nil, usagef("flag %s must follow the command name (e.g. ctrunner log --store DIR)", args[i])
		}
	}
	if i == len(args) {
		return out, nil
	}
	if args[i] == "help" {
		return args, nil
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return nil, usagef("unknown command %q (see ctrunner --help)", args[i])
	}
	out = append(out, args[i])

	var flags, positional []string
	given := map[cli.Flag]bool{}
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := lookupFlag(cmd, name)
		if f == nil {
			if name == "help" || name == "h" {
				flags = append(flags, a)
				continue
			}
			return nil, usagef("%s: unknown flag %q (see ctrunner %s --help)", cmd.Name, a, cmd.Name)
		}
		if given[f] && !repeatable(f) {
			return nil, usagef("%s: flag --%s given twice", cmd.Name, f.Names()[0])
		}
		given[f] = true
		flags = append(flags, a)
		if !hasValue && takesValue(f) {
			if j+1 >= len(rest) {
				return nil, usagef("%s: flag %s needs a value", cmd.Name, a)
			}
			j++
			flags = append(flags, rest[j])
		}
	}
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out, nil
}

func lookupFlag(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// repeatable reports whether a flag may be given more than once.
func repeatable(f cli.Flag) bool {
	_, ok := f.(*cli.StringSliceFlag)
	return ok
}

func takesValue(f cli.Flag) bool {
	if dg, ok := f.(cli.DocGenerationFlag); ok {
		return dg.TakesValue()
	}
	return true
}

// noArgs rejects positional arguments for commands that take none.
func noArgs(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	return nil
}

// oneArg returns the single positional argument a command requires.
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.Args().Len() {
	case 1:
		return c.Args().First(), nil
	case 0:
		return "", usagef("%s: missing %s", c.Command.Name, what)
	default:
		return "", usagef("%s: too many arguments: %s", c.Command.Name,
			strings.Join(c.Args().Slice(), " "))
	}
}

// optionalElection returns the election a command was given as its only,
// optional argument, or "" when it was given none.
func optionalElection(c *cli.Context) (snapshot.ElectionID, error) {
	switch c.Args().Len() {
	case 0:
		return "", nil
	case 1:
		id, err := snapshot.ParseElectionID(c.Args().First())
		if err != nil {
			return "", usagef("%s: %v", c.Command.Name, err)
		}
		return id, nil
	}
	return "", usagef("%s: too many arguments", c.Command.Name)
}
