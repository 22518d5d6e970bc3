package topology_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

func TestDescribe(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "lines", serde.String(), serde.String(), []string{"text-lines"})
	topology.AddProcessor(b, "split", pass[string, string](), "lines")
	topology.AddProcessor(b, "counter", pass[string, string](), "split")
	topology.AddStore(b, store.KeyValue("counts", serde.String(), serde.Int64()), "counter")
	topology.AddStore(b, store.KeyValue("seen", serde.String(), serde.String()), "counter")
	topology.AddSink(b, "sink", "word-counts", serde.String(), serde.String(), []string{"counter"})
	topology.AddSource(b, "audit", serde.String(), serde.String(), []string{"audit-b", "audit-a"})
	topology.AddProcessor(b, "alert", pass[string, string](), "audit")
	topology.AddSink(b, "archive", "archive", serde.String(), serde.String(), []string{"audit"})
	topology.AddSink(b, "both", "both", serde.String(), serde.String(), []string{"alert", "audit"})
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: lines (topics: [text-lines])
      --> split
    Processor: split (stores: [])
      --> counter
      <-- lines
    Processor: counter (stores: [counts, seen])
      --> sink
      <-- split
    Sink: sink (topic: word-counts)
      <-- counter

   Sub-topology: 1
    Source: audit (topics: [audit-b, audit-a])
      --> alert, archive, both
    Processor: alert (stores: [])
      --> both
      <-- audit
    Sink: archive (topic: archive)
      <-- audit
    Sink: both (topic: both)
      <-- alert, audit
`
	if got := topo.Describe(); got != want {
		t.Errorf("Describe() =\n%s\nwant\n%s", got, want)
	}
}

func TestDescribeShowsNodesWithoutChildren(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddSource(b, "idle", serde.String(), serde.String(), []string{"idle"})
	topology.AddProcessor(b, "end", pass[string, string](), "in")
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: in (topics: [input])
      --> end
    Processor: end (stores: [])
      --> none
      <-- in

   Sub-topology: 1
    Source: idle (topics: [idle])
      --> none
`
	if got := topo.Describe(); got != want {
		t.Errorf("Describe() =\n%s\nwant\n%s", got, want)
	}
}

// The DSL word count, described: each DSL call numbers the node it adds, from 1, unless
// the node is named after a name the user gave (by-word, word-counts-store); the
// grouping adds the repartition topic's filter, sink and source, named after it, and the
// repartition topic splits the topology in two. Processor lines keep Kafka Streams'
// format; the repartition topic's lines are marked internal.
func TestDescribeDSLWordCount(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	dslWordCount(b)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [text-lines])
      --> KSTREAM-FLATMAPVALUES-0000000002
    Processor: KSTREAM-FLATMAPVALUES-0000000002 (stores: [])
      --> by-word-key-select
      <-- KSTREAM-SOURCE-0000000001
    Processor: by-word-key-select (stores: [])
      --> by-word-repartition-filter
      <-- KSTREAM-FLATMAPVALUES-0000000002
    Processor: by-word-repartition-filter (stores: [])
      --> by-word-repartition-sink
      <-- by-word-key-select
    Sink: by-word-repartition-sink (topic: by-word-repartition) (internal)
      <-- by-word-repartition-filter

   Sub-topology: 1
    Source: by-word-repartition-source (topics: [by-word-repartition]) (internal)
      --> word-counts-store
    Processor: word-counts-store (stores: [word-counts-store])
      --> KTABLE-TOSTREAM-0000000005
      <-- by-word-repartition-source
    Processor: KTABLE-TOSTREAM-0000000005 (stores: [])
      --> KSTREAM-SINK-0000000006
      <-- word-counts-store
    Sink: KSTREAM-SINK-0000000006 (topic: word-counts)
      <-- KTABLE-TOSTREAM-0000000005
`
	if got := topo.Describe(); got != want {
		t.Errorf("Describe() =\n%s\nwant\n%s", got, want)
	}
}

// Kafka Streams describes each global store in a sub-topology of its own, numbered
// after the others, "for global store (will not generate tasks)".
func TestDescribeGlobalStores(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "enrich", pass[string, string](), "in")
	for _, name := range []string{"rates", "countries"} {
		topology.AddGlobalStoreForTest(b, plan.GlobalStore{
			Def:    store.KeyValue(name+"-store", serde.String(), serde.String(), store.WithoutLogging()),
			Source: name + "-source",
			Topic:  name,
			Apply:  func(store.KeyValueStore, []byte, []byte, time.Time) error { return nil },
		})
	}
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: in (topics: [input])
      --> enrich
    Processor: enrich (stores: [])
      --> none
      <-- in

   Sub-topology: 1 for global store (will not generate tasks)
    Source: rates-source (topics: [rates])
      --> none
    Global store: rates-store

   Sub-topology: 2 for global store (will not generate tasks)
    Source: countries-source (topics: [countries])
      --> none
    Global store: countries-store
`
	if got := topo.Describe(); got != want {
		t.Errorf("Describe() =\n%s\nwant\n%s", got, want)
	}
}
