package eddytest_test

import (
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// wordCount is the word count of the package example: lines of text in, the count of
// every word out, through a repartition topic and the DSL's store "counts".
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

// The driver runs a topology in memory: piping a record processes it, and everything it
// causes, before Pipe returns.
func Example() {
	d, err := eddytest.New(wordCount())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "text-lines", serde.String(), serde.String())
	out := eddytest.OutputTopic(d, "word-counts", serde.String(), serde.Int64())
	if err := in.Pipe("", "hello world hello", time.UnixMilli(1000)); err != nil {
		log.Fatal(err)
	}
	records, err := out.ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	slices.SortFunc(records, func(a, b processor.Record[string, int64]) int { return strings.Compare(a.Key, b.Key) })
	for _, r := range records {
		fmt.Println(r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	// Output:
	// hello 2 1000
	// world 1 1000
}

// A misspelled topic is an error, on either side, rather than a test that passes
// because nothing came out.
func ExampleErrUnknownTopic() {
	d, err := eddytest.New(wordCount())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	err = eddytest.InputTopic(d, "text-line", serde.String(), serde.String()).Pipe("", "hello", time.UnixMilli(1000))
	fmt.Println(errors.Is(err, eddytest.ErrUnknownTopic), err)
	_, err = eddytest.OutputTopic(d, "wordcounts", serde.String(), serde.Int64()).ReadAll()
	fmt.Println(errors.Is(err, eddytest.ErrUnknownTopic), err)
	// Output:
	// true eddytest: unknown topic "text-line": the topology reads only ["eddytest-by-word-repartition" "text-lines"]
	// true eddytest: unknown topic "wordcounts": the topology writes only ["eddytest-by-word-repartition" "eddytest-counts-changelog" "word-counts"]
}

// TableStore reads the store of a table or an aggregation of the DSL with its own
// serdes: each value comes with the timestamp of the record that set it.
func ExampleTableStore() {
	d, err := eddytest.New(wordCount())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "text-lines", serde.String(), serde.String())
	if err := in.Pipe("", "hello world", time.UnixMilli(1000)); err != nil {
		log.Fatal(err)
	}
	if err := in.Pipe("", "hello", time.UnixMilli(2000)); err != nil {
		log.Fatal(err)
	}
	counts, err := eddytest.TableStore[string, int64](d, "counts")
	if err != nil {
		log.Fatal(err)
	}
	n, found, err := counts.Get("hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.Value, n.Timestamp.UnixMilli(), found)
	// Output: 2 2000 true
}

// WindowStore reads the store of a windowed aggregation: each window with its start
// and end, and its aggregate with the timestamp of its last update.
func ExampleWindowStore() {
	b := topology.NewBuilder()
	clicks := topology.StreamFrom(b, "clicks", serde.String(), serde.String())
	windows := topology.TimeWindowsOfSizeAndGrace(time.Minute, 10*time.Second)
	topology.CountWindowed(topology.WindowedBy(topology.GroupByKey(clicks, "by-user"), windows), "clicks-per-minute")
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "clicks", serde.String(), serde.String())
	for _, at := range []int64{5, 20, 65} { // seconds
		if err := in.Pipe("ann", "/", time.Unix(at, 0)); err != nil {
			log.Fatal(err)
		}
	}
	perMinute, err := eddytest.WindowStore[string, int64](d, "clicks-per-minute")
	if err != nil {
		log.Fatal(err)
	}
	it, err := perMinute.FetchRange("ann", time.Unix(0, 0), time.Unix(120, 0))
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("[%d s, %d s): %d clicks, the last at %d s\n", it.Start().Unix(), it.End().Unix(), it.Value().Value, it.Value().Timestamp.Unix())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// [0 s, 60 s): 2 clicks, the last at 20 s
	// [60 s, 120 s): 1 clicks, the last at 65 s
}

// SessionStore reads the store of a session-windowed aggregation: each session with
// its start and end.
func ExampleSessionStore() {
	b := topology.NewBuilder()
	clicks := topology.StreamFrom(b, "clicks", serde.String(), serde.String())
	sessions := topology.SessionWindowsOfInactivityGapAndGrace(30*time.Second, 10*time.Second)
	// Kept for an hour of stream time, so that the first session is still there.
	topology.CountSession(topology.WindowedBySession(topology.GroupByKey(clicks, "by-user"), sessions).WithRetention(time.Hour), "visits")
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "clicks", serde.String(), serde.String())
	for _, at := range []int64{5, 20, 100} { // seconds
		if err := in.Pipe("ann", "/", time.Unix(at, 0)); err != nil {
			log.Fatal(err)
		}
	}
	visits, err := eddytest.SessionStore[string, int64](d, "visits")
	if err != nil {
		log.Fatal(err)
	}
	it, err := visits.Fetch("ann")
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("[%d s, %d s]: %d clicks\n", it.Start().Unix(), it.End().Unix(), it.Value())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// [5 s, 20 s]: 2 clicks
	// [100 s, 100 s]: 1 clicks
}

// orderCounts is a store of the Processor API: its definition says what it holds.
var orderCounts = store.KeyValue("order-counts", serde.String(), serde.Int64())

// orderCounter counts the orders of each customer in orderCounts.
type orderCounter struct{ kv store.KV[string, int64] }

func (c *orderCounter) Init(ctx processor.InitContext) error {
	c.kv = orderCounts.From(ctx)
	return nil
}

func (c *orderCounter) Process(_ processor.Context[string, int64], r processor.Record[string, string]) error {
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	return c.kv.Put(r.Key, n+1)
}

// A store of the Processor API is read with the definition its processors use.
func ExampleDriver_KeyValueStore() {
	b := topology.NewBuilder()
	topology.AddSource(b, "orders", serde.String(), serde.String(), []string{"orders"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &orderCounter{} }, "orders")
	topology.AddStore(b, orderCounts, "count")
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "orders", serde.String(), serde.String())
	for _, customer := range []string{"ann", "bob", "ann"} {
		if err := in.Pipe(customer, "order", time.UnixMilli(1000)); err != nil {
			log.Fatal(err)
		}
	}
	kv, err := d.KeyValueStore(orderCounts.Name())
	if err != nil {
		log.Fatal(err)
	}
	n, found, err := orderCounts.Wrap(kv).Get("ann")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, found)
	// Output: 2 true
}

// A tombstone (a null value) is read as one whatever the serde: ReadAll refuses it,
// and ReadAllWithNulls marks it.
func ExampleOutput_ReadAllWithNulls() {
	b := topology.NewBuilder()
	prices := topology.TableFrom(b, "prices", "prices", serde.String(), serde.String())
	topology.To(topology.ToStream(prices), "price-changes", serde.String(), serde.String())
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "prices", serde.String(), serde.String())
	if err := in.Pipe("apple", "1.50", time.UnixMilli(1000)); err != nil {
		log.Fatal(err)
	}
	if err := in.PipeNullValue("apple", time.UnixMilli(2000)); err != nil {
		log.Fatal(err)
	}
	out := eddytest.OutputTopic(d, "price-changes", serde.String(), serde.String())
	_, err = out.ReadAll()
	fmt.Println(err)
	records, err := out.ReadAllWithNulls()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range records {
		if r.ValueNull {
			fmt.Println(r.Key, "deleted")
		} else {
			fmt.Println(r.Key, r.Value)
		}
	}
	// Output:
	// eddytest: price-changes record 1 has a null value (a tombstone): read the topic with ReadAllWithNulls
	// apple 1.50
	// apple deleted
}
