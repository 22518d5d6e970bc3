// Command wordcount is Eddy's first demo: it counts words in lines of text with the
// typed DSL and prints the topology and the counts as they change.
//
// With no flags it starts franz-go's in-process broker (kfake) and needs no install:
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
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/examples/wordcount"
	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
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
	brokers := flag.String("brokers", "", "comma-separated brokers of a Kafka cluster; empty starts an embedded broker")
	repeat := flag.Int("repeat", 2, "how many times to feed the sample text")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *brokers, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers string, repeat int) error {
	names := wordcount.Topics{Lines: "text-lines", Counts: "word-counts"}
	const partitions = 3

	var seeds []string
	if brokers == "" {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, names.Lines, names.Counts))
		if err != nil {
			return fmt.Errorf("starting the embedded broker: %w", err)
		}
		defer cluster.Close()
		seeds = cluster.ListenAddrs()
		fmt.Printf("Embedded broker (kfake) at %s\n\n", strings.Join(seeds, ","))
	} else {
		seeds = strings.Split(brokers, ",")
		if err := createTopics(ctx, seeds, partitions, names.Lines, names.Counts); err != nil {
			return err
		}
	}

	topo, err := wordcount.Topology(names)
	if err != nil {
		return err
	}
	fmt.Println(topo.Describe())

	stateDir, err := os.MkdirTemp("", "eddy-wordcount-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	app, err := eddy.New(topo,
		eddy.ApplicationID("wordcount-demo"),
		eddy.SeedBrokers(seeds...),
		eddy.StateDir(stateDir),
		eddy.CommitInterval(200*time.Millisecond),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	)
	if err != nil {
		return err
	}
	appCtx, stopApp := context.WithCancel(ctx)
	defer stopApp()
	appDone := make(chan error, 1)
	go func() { appDone <- app.Run(appCtx) }()

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
		case err := <-appDone:
			return fmt.Errorf("the application stopped: %w", err)
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
	stopApp()
	if err := <-appDone; err != nil {
		return fmt.Errorf("the application stopped: %w", err)
	}
	return nil
}

// createTopics creates the demo's topics on a real cluster, leaving existing ones alone.
func createTopics(ctx context.Context, seeds []string, partitions int32, names ...string) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer client.Close()
	resps, err := kadm.NewClient(client).CreateTopics(ctx, partitions, -1, nil, names...)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
