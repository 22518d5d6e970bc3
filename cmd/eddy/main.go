// Command eddy is the operator's tool for Eddy applications.
//
//	eddy reset -bootstrap HOST:PORT -application-id APP [flags]
//	eddy state -state-dir DIR -application-id APP tasks|get|scan [flags]
//
// reset does what Kafka's kafka-streams-application-reset does: it resets the
// application's input offsets, deletes its internal topics and wipes an instance's
// local state, so that the application reprocesses its input from the start (or from a
// time). state reads the local stores of a stopped instance. Run a subcommand with -h
// for its flags. Exit status: 0 done, 1 error, 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `eddy: the operator's tool for Eddy applications.

Usage:
  eddy reset -bootstrap HOST:PORT -application-id APP [flags]
      reset an application so that it reprocesses its input: input offsets to the
      earliest (or to a time), internal topics deleted, an instance's local state wiped
  eddy state -state-dir DIR -application-id APP tasks|get|scan [flags]
      read the local stores of a stopped instance

Run "eddy reset -h" or "eddy state -h" for the flags.
Exit status: 0 done, 1 error, 2 usage.
`

// run runs the command line args (without the program name) and returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "reset":
		err = runReset(ctx, args[1:], stdout, stderr)
	case "state":
		err = runState(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "eddy: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "eddy %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "eddy %s: %v\n", args[0], err)
		return exitError
	}
}

// usageError is a mistake in the command line.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// parse parses args with fs; a parse error is a usageError (flag has printed it and
// the usage), -h is flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err}
	}
	return err
}
