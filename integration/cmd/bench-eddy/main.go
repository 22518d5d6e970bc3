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
// Both run with max task idle at its default, 0, under which the join's table is read
// before the stream records that look it up (KIP-695).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/internal/contender"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	contender.Main("bench-eddy", 10<<20, "record cache bytes of the instance; 0 = off", run)
}

func run(ctx context.Context, f contender.Flags) error {
	var opts []topology.BuilderOption
	if f.CacheBytes == 0 {
		opts = append(opts, topology.WithoutRecordCache())
	} else {
		partitions, err := partitionCount(ctx, f.Bootstrap, f.Input)
		if err != nil {
			return err
		}
		opts = append(opts, topology.RecordCacheMaxBytes(max(1, f.CacheBytes/int64(partitions))))
	}
	topo, err := build(f, topology.NewBuilder(opts...))
	if err != nil {
		return err
	}
	appOpts := []eddy.Opt{
		eddy.ApplicationID(f.AppID),
		eddy.SeedBrokers(f.Bootstrap),
		eddy.StateDir(f.StateDir),
		eddy.CommitInterval(f.CommitInterval),
		eddy.ReplicationFactor(1),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		eddy.ClientOptions(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond)),
	}
	if f.ExactlyOnce {
		appOpts = append(appOpts, eddy.ExactlyOnce())
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
func build(f contender.Flags, b *topology.Builder) (*topology.Topology, error) {
	in := topology.StreamFrom(b, f.Input, serde.Bytes(), serde.Bytes())
	switch f.Scenario {
	case "passthrough", "latency":
		out := topology.MapValues(in, func(_, v []byte) []byte {
			w := make([]byte, len(v))
			copy(w, v)
			if len(w) > 0 {
				w[0]++
			}
			return w
		})
		topology.To(out, f.Output, serde.Bytes(), serde.Bytes())
	case "count":
		counts := topology.Count(topology.GroupByKey(in, "counts"), "counts")
		topology.To(topology.ToStream(counts), f.Output, serde.Bytes(), serde.Int64())
	case "tumbling-count", "hopping-count":
		windows := topology.TimeWindowsOfSizeWithNoGrace(time.Second)
		if f.Scenario == "hopping-count" {
			windows = topology.TimeWindowsOfSizeWithNoGrace(10 * time.Second).AdvanceBy(time.Second)
		}
		counts := topology.CountWindowed(topology.WindowedBy(topology.GroupByKey(in, "counts"), windows), "counts")
		topology.To(topology.ToStream(counts), f.Output, topology.TimeWindowedSerde(serde.Bytes(), windows.Size()), serde.Int64())
	case "join":
		if f.Table == "" {
			return nil, errors.New("--table is required by the join")
		}
		table := topology.TableFrom(b, f.Table, "table", serde.Bytes(), serde.Bytes())
		joined := topology.Join(in, table, "join", func(_, v, tv []byte) []byte {
			out := make([]byte, 0, len(v)+len(tv))
			return append(append(out, v...), tv...)
		})
		topology.To(joined, f.Output, serde.Bytes(), serde.Bytes())
	default:
		return nil, fmt.Errorf("--scenario %q: unknown", f.Scenario)
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
