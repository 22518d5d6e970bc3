package store_test

import (
	"fmt"
	"log"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

// wordCounts is declared once, connected to the processors that use it in the topology,
// and opened by each in its Init.
var wordCounts = store.KeyValue("counts", serde.String(), serde.Int64())

// counter counts the records of each key in wordCounts and forwards the new count.
type counter struct{ kv store.KV[string, int64] }

func (c *counter) Init(ctx processor.InitContext) error { c.kv = wordCounts.From(ctx); return nil }

func (c *counter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
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

// A processor takes the typed handle of its store from its context in Init.
func ExampleKeyValue() {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"words"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "in")
	topology.AddStore(b, wordCounts, "count")
	topology.AddSink(b, "out", "word-counts", serde.String(), serde.Int64(), []string{"count"})
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "words", serde.String(), serde.String())
	for _, w := range []string{"apple", "pear", "apple"} {
		if err := in.Pipe(w, "", time.UnixMilli(1000)); err != nil {
			log.Fatal(err)
		}
	}
	out, err := eddytest.OutputTopic(d, "word-counts", serde.String(), serde.Int64()).ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range out {
		fmt.Println(r.Key, r.Value)
	}
	// Output:
	// apple 1
	// pear 1
	// apple 2
}

// An Iterator is used like bufio.Scanner: Next until false, then Err.
func ExampleIterator() {
	db, err := memstore.New().Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s, err := db.KeyValue("fruits")
	if err != nil {
		log.Fatal(err)
	}
	for _, kv := range [][2]string{{"pear", "2"}, {"apple", "1"}, {"quince", "3"}} {
		if err := s.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
			log.Fatal(err)
		}
	}
	it, err := s.All()
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s=%s\n", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// apple=1
	// pear=2
	// quince=3
}
