package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/cmd/eddy/internal/reset"
)

const resetUsage = `Usage: eddy reset -bootstrap HOST:PORT -application-id APP [flags]

Resets an Eddy application, as Kafka's kafka-streams-application-reset does, so that its
next run reprocesses its input:
  - the group's offsets on the input topics go to the earliest offsets (default), or to
    the first record at or after -to-datetime or -by-duration ago;
  - the group's offsets on -intermediate-topics go to their ends;
  - the application's internal topics are deleted, with the group's offsets on them:
    every topic named <application id>-...-repartition, -changelog,
    -subscription-registration-topic or -subscription-response-topic;
  - with -state-dir, the local state of the instance that uses that state directory is
    wiped (<state-dir>/<application id>, its instance id kept). Run the reset, or
    App.CleanUp, on the state directory of every instance.
It refuses while the application's group has members (stop every instance first) and,
with -state-dir, while an instance uses that directory. Output topics are left alone.
Run with -dry-run first: it prints everything the reset would do and changes nothing.

Flags:
`

func runReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eddy reset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), resetUsage); fs.PrintDefaults() }
	bootstrap := fs.String("bootstrap", "", "the cluster's bootstrap `brokers`, comma-separated (required)")
	app := fs.String("application-id", "", "the application id (eddy.ApplicationID), which is its group id (required)")
	inputs := fs.String("input-topics", "", "the input `topics`, comma-separated (default: every topic the group has committed offsets for, except internal and intermediate topics)")
	intermediate := fs.String("intermediate-topics", "", "`topics` the application writes and reads again, comma-separated: moved to their ends")
	toDatetime := fs.String("to-datetime", "", "reset the inputs to this `time`, RFC 3339 (2024-05-01T12:00:00Z) instead of the earliest offsets")
	byDuration := fs.Duration("by-duration", 0, "reset the inputs to this `duration` before now (Go syntax: 36h) instead of the earliest offsets")
	stateDir := fs.String("state-dir", "", "the state `directory` of an instance (eddy.StateDir): wipe <state-dir>/<application id>")
	dryRun := fs.Bool("dry-run", false, "print what the reset would do, and change nothing")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this `duration` (an unreachable cluster is retried until then)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *bootstrap == "":
		return usagef("-bootstrap is required")
	case *app == "":
		return usagef("-application-id is required")
	case *toDatetime != "" && *byDuration != 0:
		return usagef("-to-datetime and -by-duration exclude each other")
	case *byDuration < 0:
		return usagef("-by-duration %v is negative", *byDuration)
	case *timeout <= 0:
		return usagef("-timeout %v is not positive", *timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg := reset.Config{
		ApplicationID:      *app,
		InputTopics:        splitList(*inputs),
		IntermediateTopics: splitList(*intermediate),
		StateDir:           *stateDir,
	}
	switch {
	case *toDatetime != "":
		t, err := time.Parse(time.RFC3339Nano, *toDatetime)
		if err != nil {
			return usagef("-to-datetime: %v", err)
		}
		cfg.ToTime = t
	case *byDuration > 0:
		cfg.ToTime = time.Now().Add(-*byDuration)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(splitList(*bootstrap)...), kgo.ClientID("eddy-reset"))
	if err != nil {
		return err
	}
	defer cl.Close()
	plan, err := reset.MakePlan(ctx, cl, cfg)
	if err != nil {
		return err
	}
	if *dryRun {
		fmt.Fprintln(stdout, "Dry run: nothing is changed.")
	}
	reset.Print(stdout, plan)
	if *dryRun {
		return nil
	}
	if err := reset.Execute(ctx, cl, plan); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Done.")
	return nil
}

// splitList splits a comma-separated list; nil for "".
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
