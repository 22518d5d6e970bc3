package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// wordCount builds the word count: lines in, the count of every word out.
func wordCount() *topology.Topology {
	b := topology.NewBuilder()
	lines := topology.StreamFrom(b, "text-lines", serde.String(), serde.String())
	words := topology.FlatMapValues(lines, func(_, line string) []string { return strings.Fields(line) })
	counts := topology.Count(topology.GroupBy(words, "by-word", func(_, word string) string { return word }, serde.String()), "counts")
	topology.To(topology.ToStream(counts), "word-counts", serde.String(), serde.Int64())
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	return topo
}

// An application: a topology, New with its options, and Run until interrupted.
func Example() {
	app, err := eddy.New(wordCount(),
		eddy.ApplicationID("wordcount"),
		eddy.SeedBrokers("localhost:9092"),
		eddy.StateDir("/var/lib/wordcount"),
		eddy.ExactlyOnce(),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := app.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// New reports every problem of the configuration at once, each wrapping
// ErrInvalidConfig.
func ExampleNew_invalidConfig() {
	_, err := eddy.New(wordCount(),
		eddy.ApplicationID("word count"),
		eddy.SeedBrokers("kafka-0:9092", "kafka-1", "kafka-2:90920"),
	)
	fmt.Println(errors.Is(err, eddy.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// eddy: invalid configuration: ApplicationID "word count" may hold only letters, digits, '.', '_' and '-'
	// eddy: invalid configuration: SeedBrokers address "kafka-1": want host:port
	// eddy: invalid configuration: SeedBrokers address "kafka-2:90920": port "90920" is not a number from 1 to 65535
}
