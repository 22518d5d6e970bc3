// Command wordcount is Eddy's first demo: it counts words in lines of text with the
// typed DSL and prints the topology and the counts as they change.
//
// With no flags it starts an in-process broker (package embedded) and needs no install:
//
//	make demo   (or: cd examples && go run ./cmd/wordcount)
//
// With -brokers it runs against a real cluster, creating its two topics if absent (the
// application creates its internal topics itself).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/examples/internal/demo"
	"github.com/eddy-streams/eddy/examples/wordcount"
	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sample is what the demo counts.
var sample = []string{
	"The quick brown fox jumps over the lazy dog",
	"A stream is a table in motion and a table is a stream at rest",
	"The fox and the dog are friends now",
	"Eddies form where the stream turns",
	"Count the words, and count them again: the counts only grow",
}

func main() {
	brokers := demo.BrokersFlag()
	repeat := flag.Int("repeat", 2, "how many times to feed the sample text")
	demo.Main("wordcount", func(ctx context.Context) error { return run(ctx, *brokers, *repeat) })
}

func run(ctx context.Context, brokers string, repeat int) error {
	names := wordcount.Topics{Lines: "text-lines", Counts: "word-counts"}
	const partitions = 3

	seeds, closeBrokers, err := demo.Brokers(ctx, brokers, partitions, names.Lines, names.Counts)
	if err != nil {
		return err
	}
	defer closeBrokers()

	topo, err := wordcount.Topology(names)
	if err != nil {
		return err
	}
	fmt.Println(topo.Describe())

	app, err := demo.RunApp(ctx, topo, "wordcount-demo", seeds, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer app.Stop()

	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(names.Counts), kgo.DefaultProduceTopic(names.Lines))
	if err != nil {
		return err
	}
	defer client.Close()

	want := map[string]int64{}
	var lines []string
	for range repeat {
		for _, line := range sample {
			lines = append(lines, line)
			for _, w := range wordcount.Words(line) {
				want[w]++
			}
		}
	}
	go func() {
		for _, line := range lines {
			client.Produce(ctx, kgo.StringRecord(line), nil)
			time.Sleep(100 * time.Millisecond)
		}
	}()

	fmt.Println("Counts as they change:")
	latest := map[string]int64{}
	deadline := time.After(60 * time.Second)
	for !maps.Equal(latest, want) {
		select {
		case <-app.Done():
			return fmt.Errorf("the application stopped: %w", app.Err())
		case <-deadline:
			return errors.New("the counts did not reach their final values within a minute")
		default:
		}
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := client.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var decodeErr error
		fetches.EachRecord(func(r *kgo.Record) {
			n, err := serde.Int64().Deserialize(r.Topic, r.Value)
			if err != nil {
				decodeErr = fmt.Errorf("count of %q at offset %d: %w", r.Key, r.Offset, err)
				return
			}
			latest[string(r.Key)] = n
			fmt.Printf("  %-10s %d\n", r.Key, n)
		})
		if decodeErr != nil {
			return decodeErr
		}
	}

	fmt.Printf("\nFinal counts of %d lines (all %d words as expected):\n", len(lines), len(want))
	for _, w := range slices.Sorted(maps.Keys(latest)) {
		fmt.Printf("  %-10s %d\n", w, latest[w])
	}
	if err := app.Stop(); err != nil {
		return fmt.Errorf("the application stopped: %w", err)
	}
	return nil
}
