package eddytest_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// DroppedRecords sums what the operators of every subtopology drop. The repartition
// topic's filter drops null keys without counting them, as Kafka Streams' does (a plain
// KStreamFilter).
func TestDroppedRecordsCountsTheOperatorsOfEverySubtopology(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "in", serde.String(), serde.String())
	table := topology.TableFrom(b, "table", "table-store", serde.String(), serde.String())
	topology.To(topology.Join(in, table, "join", func(_, v, tv string) string { return v + tv }), "joined", serde.String(), serde.String())
	counts := topology.Count(topology.GroupByKey(topology.Repartition(in, "rekey", 0), ""), "counts")
	topology.To(topology.ToStream(counts), "counts", serde.String(), serde.Int64())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(plan.Of(topo).Complete("app").Subtopologies); n != 2 {
		t.Fatalf("%d subtopologies, want 2: the join's, and the count's after the repartition topic", n)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	input := eddytest.InputTopic(d, "in", serde.String(), serde.String())

	if err := input.Pipe("a", "x", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	if got := d.DroppedRecords(); got != 0 {
		t.Fatalf("DroppedRecords() = %d after a record without nulls, want 0", got)
	}
	// The join drops it, and so does the count, after the repartition topic.
	if err := input.PipeNullValue("a", time.UnixMilli(2)); err != nil {
		t.Fatal(err)
	}
	if got := d.DroppedRecords(); got != 2 {
		t.Errorf("DroppedRecords() = %d after a null value, want 2 (join and count)", got)
	}
	// The join drops it; the repartition filter drops it before the count, uncounted.
	if err := input.PipeNullKey("x", time.UnixMilli(3)); err != nil {
		t.Fatal(err)
	}
	if got := d.DroppedRecords(); got != 3 {
		t.Errorf("DroppedRecords() = %d after a null key, want 3", got)
	}
}
