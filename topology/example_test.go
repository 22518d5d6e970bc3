package topology_test

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// Describe renders a topology as Kafka Streams' TopologyDescription does.
func ExampleTopology_Describe() {
	counts := store.KeyValue("counts", serde.String(), serde.Int64())
	b := topology.NewBuilder()
	topology.AddSource(b, "lines", serde.String(), serde.String(), []string{"text-lines"})
	topology.AddProcessor(b, "split", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			for _, w := range strings.Fields(r.Value) {
				ctx.Forward(processor.Record[string, string]{Key: w, Value: w, Timestamp: r.Timestamp})
			}
			return nil
		})
	}, "lines")
	topology.AddProcessor(b, "counter", func() processor.Processor[string, string, string, int64] {
		return processor.ProcessFunc[string, string, string, int64](func(processor.Context[string, int64], processor.Record[string, string]) error { return nil })
	}, "split")
	topology.AddStore(b, counts, "counter")
	topology.AddSink(b, "sink", "word-counts", serde.String(), serde.Int64(), []string{"counter"})
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(topo.Describe())
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: lines (topics: [text-lines])
	//       --> split
	//     Processor: split (stores: [])
	//       --> counter
	//       <-- lines
	//     Processor: counter (stores: [counts])
	//       --> sink
	//       <-- split
	//     Sink: sink (topic: word-counts)
	//       <-- counter
}

// Global stores follow the subtopologies, each in a section numbered after them.
func ExampleTopology_Describe_globalStore() {
	rates := store.KeyValue("rates-store", serde.String(), serde.Float64(), store.WithoutLogging())
	b := topology.NewBuilder()
	topology.AddSource(b, "orders", serde.String(), serde.String(), []string{"orders"})
	topology.AddProcessor(b, "price", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(processor.Context[string, string], processor.Record[string, string]) error { return nil })
	}, "orders")
	topology.AddSource(b, "payments", serde.String(), serde.String(), []string{"payments"})
	topology.AddGlobalStore(b, rates, "rates-source", "rates", nil)
	topology.ConnectGlobalStore(b, rates.Name(), "price")
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(topo.Describe())
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: orders (topics: [orders])
	//       --> price
	//     Processor: price (stores: [])
	//       --> none
	//       <-- orders
	//
	//    Sub-topology: 1
	//     Source: payments (topics: [payments])
	//       --> none
	//
	//    Sub-topology: 2 for global store (will not generate tasks)
	//     Source: rates-source (topics: [rates])
	//       --> none
	//     Global store: rates-store
}

// Cogroup folds several grouped streams into one aggregate per key, in one store.
func ExampleCogroup() {
	type stats struct{ Clicks, Views int }
	b := topology.NewBuilder()
	clicks := topology.GroupByKey(topology.StreamFrom(b, "clicks", serde.String(), serde.String()), "clicks-by-user")
	views := topology.GroupByKey(topology.StreamFrom(b, "views", serde.String(), serde.String()), "views-by-user")
	c := topology.Cogroup(clicks, func(_ string, _ string, s stats) stats { s.Clicks++; return s })
	c = topology.CogroupCogrouped(c, views, func(_ string, _ string, s stats) stats { s.Views++; return s })
	perUser := topology.AggregateCogrouped(c, "user-stats", func() stats { return stats{} }, serde.JSON[stats]())
	topology.To(topology.ToStream(perUser), "user-stats", serde.String(), serde.JSON[stats]())
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	clicksIn := eddytest.InputTopic(d, "clicks", serde.String(), serde.String())
	viewsIn := eddytest.InputTopic(d, "views", serde.String(), serde.String())
	for _, pipe := range []func() error{
		func() error { return viewsIn.Pipe("ann", "/home", time.UnixMilli(1000)) },
		func() error { return clicksIn.Pipe("ann", "buy", time.UnixMilli(2000)) },
		func() error { return viewsIn.Pipe("ann", "/cart", time.UnixMilli(3000)) },
	} {
		if err := pipe(); err != nil {
			log.Fatal(err)
		}
	}
	latest, err := eddytest.LatestValues(eddytest.OutputTopic(d, "user-stats", serde.String(), serde.JSON[stats]()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", latest["ann"])
	// Output: {Clicks:1 Views:2}
}
