// Command bench measures Eddy against real Kafka and prints its figures as a table, with
// ratios against a baseline measured in the same run on the same broker. It starts the
// broker with the test harness (so KAFKA_IMAGE and KAFKA_BOOTSTRAP apply), preloads the
// input once, and runs each scenario on it in turn.
//
//	make bench                       (or: cd integration && go run ./cmd/bench)
//
// Scenario so far: a stateful count (a Pebble store with its changelog) at least once
// and exactly once with commit intervals of 100 ms and 1 s.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	records := flag.Int("records", 1_000_000, "input records")
	keys := flag.Int("keys", 10_000, "distinct keys")
	valueSize := flag.Int("value-bytes", 100, "bytes per value")
	partitions := flag.Int("partitions", 8, "partitions of every topic")
	flag.Parse()
	if err := run(*records, *keys, *valueSize, int32(*partitions)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var counts = store.KeyValue("counts", serde.String(), serde.Int64())

type counter struct{ kv store.KV[string, int64] }

func (c *counter) Init(ctx processor.InitContext) error { c.kv = counts.From(ctx); return nil }

func (c *counter) Process(ctx processor.Context[string, int64], r processor.Record[string, []byte]) error {
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	if err := c.kv.Put(r.Key, n+1); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n + 1, Timestamp: r.Timestamp})
	return nil
}

type scenario struct {
	name string
	opts []eddy.Opt
}

func run(records, keys, valueSize int, partitions int32) error {
	ctx := context.Background()
	cluster, err := kafkatest.Start(ctx)
	if err != nil {
		return err
	}
	defer cluster.Close(context.Background())
	fmt.Printf("broker: %s\nmachine: %d CPUs, %s/%s, %s\n", cluster, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())

	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.Seeds()...), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(200_000))
	if err != nil {
		return err
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	input := "bench-input"
	if _, err := admin.CreateTopic(ctx, partitions, -1, nil, input); err != nil {
		return fmt.Errorf("creating %s: %w", input, err)
	}
	began := time.Now()
	rng := rand.New(rand.NewPCG(1, 1))
	value := make([]byte, valueSize)
	for range records {
		client.Produce(ctx, &kgo.Record{Topic: input, Key: fmt.Appendf(nil, "key-%06d", rng.IntN(keys)), Value: value}, nil)
	}
	if err := client.Flush(ctx); err != nil {
		return err
	}
	fmt.Printf("input: %d records, %d keys, %d-byte values, %d partitions, no compression; preloaded in %s\n\n",
		records, keys, valueSize, partitions, time.Since(began).Round(time.Millisecond))

	scenarios := []scenario{
		{"stateful count, at least once (commit 30 s)", nil},
		{"stateful count, exactly once, commit 100 ms", []eddy.Opt{eddy.ExactlyOnce()}},
		{"stateful count, exactly once, commit 1 s", []eddy.Opt{eddy.ExactlyOnce(), eddy.CommitInterval(time.Second)}},
	}
	// The broker's JVM is cold at first: an unreported run warms it up, or the first
	// scenario would pay for it.
	if _, err := admin.CreateTopic(ctx, partitions, -1, nil, "bench-warm-up"); err != nil {
		return fmt.Errorf("creating the warm-up output: %w", err)
	}
	if _, err := runScenario(ctx, cluster, input, "bench-warm-up", "bench-warm-up", int64(records), nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Printf("%-46s %12s %10s %14s\n", "scenario", "records/s", "seconds", "vs baseline")
	var baseline float64
	for i, sc := range scenarios {
		output := fmt.Sprintf("bench-output-%d", i)
		if _, err := admin.CreateTopic(ctx, partitions, -1, nil, output); err != nil {
			return fmt.Errorf("creating %s: %w", output, err)
		}
		took, err := runScenario(ctx, cluster, input, output, fmt.Sprintf("bench-%d", i), int64(records), sc.opts)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		rate := float64(records) / took.Seconds()
		if i == 0 {
			baseline = rate
		}
		fmt.Printf("%-46s %12.0f %10.2f %13.2fx\n", sc.name, rate, took.Seconds(), rate/baseline)
	}
	fmt.Println("\nrecords/s: input records over the time from App.Run until the App has processed them all (App.Stats; includes joining the group).")
	return nil
}

// runScenario runs one App over the preloaded input until it has processed every input
// record, and returns how long that took.
func runScenario(ctx context.Context, cluster *kafkatest.Cluster, input, output, appID string, records int64, opts []eddy.Opt) (time.Duration, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.Bytes(), []string{input})
	topology.AddProcessor(b, "count", func() processor.Processor[string, []byte, string, int64] { return &counter{} }, "in")
	topology.AddStore(b, counts, "count")
	topology.AddSink(b, "out", output, serde.String(), serde.Int64(), []string{"count"})
	topo, err := b.Build()
	if err != nil {
		return 0, err
	}
	stateDir, err := os.MkdirTemp("", "eddy-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(stateDir)
	app, err := eddy.New(topo, append([]eddy.Opt{
		eddy.ApplicationID(appID),
		eddy.SeedBrokers(cluster.Seeds()...),
		eddy.StateDir(stateDir),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		eddy.ClientOptions(kgo.ProducerBatchCompression(kgo.NoCompression())),
	}, opts...)...)
	if err != nil {
		return 0, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- app.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for {
		select {
		case err := <-done:
			done <- err
			return 0, fmt.Errorf("the app stopped: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
		processed := app.Stats().Processed
		if processed >= records {
			return time.Since(began), nil
		}
		if time.Since(began) > 10*time.Minute {
			return 0, fmt.Errorf("only %d of %d input records processed after 10 minutes", processed, records)
		}
	}
}
