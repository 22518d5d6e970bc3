// Command bench-eddy is Eddy's contender in the benchmarks of integration/cmd/bench: one
// scenario of the protocol (/work/bench_protocol.md, summed up in the bench command's
// documentation) written with the DSL, run until SIGTERM. It takes the flags every
// contender takes:
//
//	--scenario passthrough|count|tumbling-count|hopping-count|join|latency
//	--bootstrap HOST:PORT --app-id ID --state-dir DIR --input TOPIC --output TOPIC
//	[--table TOPIC] --guarantee at_least_once|exactly_once --commit-interval-ms N
//	--cache-bytes N --threads 1
//
// It prints "ready" on stdout once the application runs (Eddy has no hook for "the group
// joined", so this is once New succeeded and Run started) and logs warnings to stderr.
//
// --cache-bytes: Kafka Streams bounds all the record caches of an instance together by
// statestore.cache.max.bytes; Eddy bounds each cache on its own (one per caching
// processor per task, topology.RecordCacheMaxBytes). So that both hold the same bytes in
// all, each Eddy cache gets cache-bytes divided by the number of caches the instance
// runs: the input's partition count (one task each, with --threads 1 a single instance
// owns them all) times the scenario's caching processors (one: the count, the windowed
// count, or the join's table). 0 turns the cache off (topology.WithoutRecordCache).
//
// The join runs with eddy.MaxTaskIdle(500ms) at least once, so that the table is read
// before the stream records that look it up, as Kafka Streams' default max.task.idle.ms=0
// (which waits for a fetch in flight) arranges; see run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type flags struct {
	scenario, bootstrap, appID, stateDir, input, output, table, guarantee string
	commitMs, cacheBytes                                                  int64
	threads                                                               int
}

func main() {
	var f flags
	flag.StringVar(&f.scenario, "scenario", "", "passthrough, count, tumbling-count, hopping-count, join or latency")
	flag.StringVar(&f.bootstrap, "bootstrap", "", "seed broker, host:port")
	flag.StringVar(&f.appID, "app-id", "", "application id")
	flag.StringVar(&f.stateDir, "state-dir", "", "state directory")
	flag.StringVar(&f.input, "input", "", "input topic")
	flag.StringVar(&f.output, "output", "", "output topic")
	flag.StringVar(&f.table, "table", "", "table topic (join)")
	flag.StringVar(&f.guarantee, "guarantee", "at_least_once", "at_least_once or exactly_once")
	flag.Int64Var(&f.commitMs, "commit-interval-ms", 1000, "commit interval in milliseconds")
	flag.Int64Var(&f.cacheBytes, "cache-bytes", 10<<20, "record cache bytes of the instance; 0 = off")
	flag.IntVar(&f.threads, "threads", 1, "processing threads (only 1)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "bench-eddy:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	if f.threads != 1 {
		return fmt.Errorf("--threads %d: Eddy runs one processing loop per instance", f.threads)
	}
	if f.bootstrap == "" || f.appID == "" || f.stateDir == "" || f.input == "" || f.output == "" {
		return errors.New("--bootstrap, --app-id, --state-dir, --input and --output are required")
	}
	var opts []topology.BuilderOption
	if f.cacheBytes == 0 {
		opts = append(opts, topology.WithoutRecordCache())
	} else {
		partitions, err := partitionCount(ctx, f.bootstrap, f.input)
		if err != nil {
			return err
		}
		opts = append(opts, topology.RecordCacheMaxBytes(max(1, f.cacheBytes/int64(partitions))))
	}
	topo, err := build(f, topology.NewBuilder(opts...))
	if err != nil {
		return err
	}
	appOpts := []eddy.Opt{
		eddy.ApplicationID(f.appID),
		eddy.SeedBrokers(f.bootstrap),
		eddy.StateDir(f.stateDir),
		eddy.CommitInterval(time.Duration(f.commitMs) * time.Millisecond),
		eddy.ReplicationFactor(1),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		eddy.ClientOptions(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond)),
	}
	switch f.guarantee {
	case "at_least_once":
	case "exactly_once":
		appOpts = append(appOpts, eddy.ExactlyOnce())
	default:
		return fmt.Errorf("--guarantee %q: at_least_once or exactly_once", f.guarantee)
	}
	if f.scenario == "join" && f.guarantee != "exactly_once" {
		// The table must be read before the stream records that look it up. Kafka
		// Streams' default max.task.idle.ms=0 waits for a fetch in flight to an empty
		// partition; Eddy's MaxTaskIdle(0) does not wait at all, so the stream's first
		// fetches would be joined with an empty table. A partition that has been empty
		// this long no longer holds the others back, so once the table is read the wait
		// costs nothing.
		appOpts = append(appOpts, eddy.MaxTaskIdle(500*time.Millisecond))
	}
	app, err := eddy.New(topo, appOpts...)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	select {
	case err := <-done:
		return fmt.Errorf("the application stopped at once: %w", err)
	case <-time.After(50 * time.Millisecond):
	}
	fmt.Println("ready")
	return <-done
}

// build returns the scenario's topology.
func build(f flags, b *topology.Builder) (*topology.Topology, error) {
	in := topology.StreamFrom(b, f.input, serde.Bytes(), serde.Bytes())
	switch f.scenario {
	case "passthrough", "latency":
		out := topology.MapValues(in, func(_, v []byte) []byte {
			w := make([]byte, len(v))
			copy(w, v)
			if len(w) > 0 {
				w[0]++
			}
			return w
		})
		topology.To(out, f.output, serde.Bytes(), serde.Bytes())
	case "count":
		counts := topology.Count(topology.GroupByKey(in, "counts"), "counts")
		topology.To(topology.ToStream(counts), f.output, serde.Bytes(), serde.Int64())
	case "tumbling-count", "hopping-count":
		windows := topology.TimeWindowsOfSizeWithNoGrace(time.Second)
		if f.scenario == "hopping-count" {
			windows = topology.TimeWindowsOfSizeWithNoGrace(10 * time.Second).AdvanceBy(time.Second)
		}
		counts := topology.WindowedCount(topology.WindowedBy(topology.GroupByKey(in, "counts"), windows), "counts")
		topology.To(topology.ToStream(counts), f.output, topology.TimeWindowedSerde(serde.Bytes(), windows.Size()), serde.Int64())
	case "join":
		if f.table == "" {
			return nil, errors.New("--table is required by the join")
		}
		table := topology.TableFrom(b, f.table, "table", serde.Bytes(), serde.Bytes())
		joined := topology.Join(in, table, "join", func(_, v, tv []byte) []byte {
			out := make([]byte, 0, len(v)+len(tv))
			return append(append(out, v...), tv...)
		})
		topology.To(joined, f.output, serde.Bytes(), serde.Bytes())
	default:
		return nil, fmt.Errorf("--scenario %q: unknown", f.scenario)
	}
	return b.Build()
}

// partitionCount returns how many partitions topic has.
func partitionCount(ctx context.Context, bootstrap, topic string) (int, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	topics, err := kadm.NewClient(client).ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	d, ok := topics[topic]
	if !ok || d.Err != nil || len(d.Partitions) == 0 {
		return 0, fmt.Errorf("topic %s: not found (%v)", topic, d.Err)
	}
	return len(d.Partitions), nil
}
