package topology_test

import (
	"testing"

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
