package integration_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCopartitioningMismatchStopsTheAppNamingTheTopics(t *testing.T) {
	cluster := kafka.Cluster(t)
	left := cluster.NewTopic(t, 2, nil)
	right := cluster.NewTopic(t, 3, nil)

	// One processor reading both topics puts them in one subtopology, so its tasks need
	// partition p of both.
	b := topology.NewBuilder()
	topology.AddSource(b, "left", serde.String(), serde.String(), []string{left})
	topology.AddSource(b, "right", serde.String(), serde.String(), []string{right})
	topology.AddProcessor(b, "both", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(processor.Context[string, string], processor.Record[string, string]) error { return nil })
	}, "left", "right")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	app := startApp(t, "only", cluster, topo, eddy.ApplicationID(left+"-app"), eddy.StateDir(t.TempDir()))
	err = app.wait(t, time.Minute)
	if !errors.Is(err, eddy.ErrCopartitioning) {
		t.Fatalf("Run returned %v, want ErrCopartitioning", err)
	}
	for _, part := range []string{left + " (2 partitions)", right + " (3 partitions)"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
}

// sumTopology sums int64 values per key from in to out.
func sumTopology(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{in})
	topology.AddSink(b, "out", out, serde.String(), serde.Int64(), []string{"in"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestUndecodableRecordStopsTheAppOrIsSkippedAndCounted(t *testing.T) {
	cluster := kafka.Cluster(t)
	in := cluster.NewTopic(t, 2, nil)
	producer := cluster.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	good, _ := serde.Int64().Serialize(in, 42)
	records := []*kgo.Record{
		{Topic: in, Partition: 1, Key: []byte("a"), Value: good},
		{Topic: in, Partition: 1, Key: []byte("b"), Value: good},
		{Topic: in, Partition: 1, Key: []byte("c"), Value: []byte("not an int64")},
		{Topic: in, Partition: 1, Key: []byte("d"), Value: good},
	}
	if err := producer.ProduceSync(t.Context(), records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	bad := records[2]

	strict := startApp(t, "strict", cluster, sumTopology(t, in, cluster.NewTopic(t, 2, nil)),
		eddy.ApplicationID(in+"-strict"), eddy.StateDir(t.TempDir()))
	err := strict.wait(t, time.Minute)
	var derr *processor.DeserializationError
	if !errors.As(err, &derr) {
		t.Fatalf("Run returned %v, want a DeserializationError", err)
	}
	if derr.Record.Topic != in || derr.Record.Partition != 1 || derr.Record.Offset != bad.Offset {
		t.Errorf("the error names %s partition %d offset %d, want %s partition 1 offset %d",
			derr.Record.Topic, derr.Record.Partition, derr.Record.Offset, in, bad.Offset)
	}
	t.Logf("the strict application stopped with: %v", err)

	out := cluster.NewTopic(t, 2, nil)
	lenient := startApp(t, "lenient", cluster, sumTopology(t, in, out),
		eddy.ApplicationID(in+"-lenient"), eddy.StateDir(t.TempDir()), eddy.SkipUndecodableRecords(),
		eddy.CommitInterval(100*time.Millisecond))
	awaitLatest(t, cluster, out, map[string]int64{"a": 42, "b": 42, "d": 42}, time.Minute)
	lenient.stop(t)
	if n := lenient.app.Stats().SkippedUndecodable; n != 1 {
		t.Errorf("Stats counts %d skipped records, want 1", n)
	}
}
