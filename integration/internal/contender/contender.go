// Package contender is what the Go contenders of the benchmark (cmd/bench-eddy and
// cmd/bench-ceiling) share: the flags of the benchmark protocol, their checks, and running
// until SIGTERM. The orchestrator (cmd/bench) passes the same flags to every contender,
// the Kafka Streams one included.
package contender

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

// Flags are the protocol's flags, as parsed by Main.
type Flags struct {
	Scenario, Bootstrap, AppID, StateDir, Input, Output, Table string
	// ExactlyOnce is --guarantee exactly_once; at_least_once is the default.
	ExactlyOnce    bool
	CommitInterval time.Duration
	// CacheBytes is the record cache of the instance; 0 turns it off.
	CacheBytes int64
}

// Main parses the protocol's flags, checks them, and calls run with a context that ends
// at SIGTERM or SIGINT. An error ends the process with status 1, after a line on stderr
// prefixed with name. cacheDefault and cacheUsage describe --cache-bytes for this
// contender.
func Main(name string, cacheDefault int64, cacheUsage string, run func(ctx context.Context, f Flags) error) {
	var (
		f          Flags
		guarantee  string
		commitMs   int64
		threads    int
		cpuProfile string
	)
	flag.StringVar(&f.Scenario, "scenario", "", "passthrough, count, tumbling-count, hopping-count, join or latency")
	flag.StringVar(&f.Bootstrap, "bootstrap", "", "seed broker, host:port")
	flag.StringVar(&f.AppID, "app-id", "", "application id (the consumer group)")
	flag.StringVar(&f.StateDir, "state-dir", "", "state directory")
	flag.StringVar(&f.Input, "input", "", "input topic")
	flag.StringVar(&f.Output, "output", "", "output topic")
	flag.StringVar(&f.Table, "table", "", "table topic (join)")
	flag.StringVar(&guarantee, "guarantee", "at_least_once", "at_least_once or exactly_once")
	flag.Int64Var(&commitMs, "commit-interval-ms", 1000, "commit interval in milliseconds")
	flag.Int64Var(&f.CacheBytes, "cache-bytes", cacheDefault, cacheUsage)
	flag.IntVar(&threads, "threads", 1, "processing threads (only 1)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (Go contenders only)")
	flag.Parse()
	f.CommitInterval = time.Duration(commitMs) * time.Millisecond

	err := check(f, guarantee, threads)
	if err == nil {
		f.ExactlyOnce = guarantee == "exactly_once"
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = profiled(cpuProfile, func() error { return run(ctx, f) })
		stop()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func check(f Flags, guarantee string, threads int) error {
	if threads != 1 {
		return fmt.Errorf("--threads %d: the Go contenders run one processing loop", threads)
	}
	if f.Bootstrap == "" || f.AppID == "" || f.StateDir == "" || f.Input == "" || f.Output == "" {
		return errors.New("--bootstrap, --app-id, --state-dir, --input and --output are required")
	}
	if guarantee != "at_least_once" && guarantee != "exactly_once" {
		return fmt.Errorf("--guarantee %q: at_least_once or exactly_once", guarantee)
	}
	return nil
}

// profiled runs fn, with the CPU profiler on when path is not empty.
func profiled(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return err
	}
	err = fn()
	pprof.StopCPUProfile()
	return errors.Join(err, out.Close())
}
