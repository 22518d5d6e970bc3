package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRunFetchGatePausesAWaitingTaskAndLosesNothing: a task reads two topics and waits
// (max task idle) for the empty one before it processes the other, holding what it
// fetched of it; with at most 5 buffered records per partition the fetching of the full
// partition pauses meanwhile and resumes once the task has processed them. Each fetch
// returns one record (the records were written one batch each, and a fetch takes at
// most one byte per partition, so at least one batch), so the pause cuts the fetching
// short. Every record is processed once, in offset order per topic, in event-time order
// across the two topics once both have records, and Stats counts them.
func TestRunFetchGatePausesAWaitingTaskAndLosesNothing(t *testing.T) {
	const app, left, right, out = "gate", "left", "right", "out"
	rc := newRunCluster(t)
	rc.createTopics(1, left, right, out)
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{left, right})
	topology.AddProcessor(b, "tag", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			meta, _ := ctx.RecordMetadata()
			ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: fmt.Sprintf("%s/%d", meta.Topic, meta.Offset), Timestamp: r.Timestamp})
			return nil
		})
	}, "source")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), []string{"tag"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	const first = 30
	for i := range first {
		rc.sendRecords(&kgo.Record{Topic: left, Key: []byte("l"), Value: []byte("v"), Timestamp: at(i)})
	}
	inst := rc.start(runSpec{app: app, topo: topo, buffered: 5, maxTaskIdle: 300 * time.Millisecond,
		clientOpts: []kgo.Opt{kgo.FetchMaxPartitionBytes(1)}})
	outputs := rc.consume(out, false)
	got := outputs.waitCount(first)
	var want []string
	for i := range first {
		want = append(want, fmt.Sprintf("%s/%d", left, i))
	}
	if values := recordValues(got); !slices.Equal(values, want) {
		t.Errorf("the records held while the task waited came out as %v, want %v", values, want)
	}

	// Then both topics: right's records fall between left's in event time.
	for i := range 10 {
		rc.sendRecords(
			&kgo.Record{Topic: right, Key: []byte("r"), Value: []byte("v"), Timestamp: at(100 + 2*i + 1)},
			&kgo.Record{Topic: left, Key: []byte("l"), Value: []byte("v"), Timestamp: at(100 + 2*i)},
		)
	}
	got = outputs.waitCount(first + 20)
	inst.mustStop()
	if len(got) != first+20 {
		t.Errorf("%d outputs, want %d:%s", len(got), first+20, describeRecords(got))
	}
	var l, r []string
	for _, v := range recordValues(got) {
		topic, _, _ := strings.Cut(v, "/")
		if topic == left {
			l = append(l, v)
		} else {
			r = append(r, v)
		}
	}
	var wantL, wantR []string
	for i := range first + 10 {
		wantL = append(wantL, fmt.Sprintf("%s/%d", left, i))
	}
	for i := range 10 {
		wantR = append(wantR, fmt.Sprintf("%s/%d", right, i))
	}
	if !slices.Equal(l, wantL) || !slices.Equal(r, wantR) {
		t.Errorf("outputs per topic %v and %v, want %v and %v", l, r, wantL, wantR)
	}
	if n := inst.stats.Processed.Load(); n != int64(first+20) {
		t.Errorf("Stats.Processed is %d, want %d", n, first+20)
	}
	// Once both topics have records, the task takes the earliest head: the last
	// records interleave by event time.
	var ts []int64
	for _, rec := range got[first:] {
		ts = append(ts, rec.Timestamp.UnixMilli())
	}
	if !slices.IsSorted(ts) {
		t.Errorf("the records of both topics came out with the timestamps %v, want event-time order", ts)
	}
}

// gateTopology tags each record of left and right with where it was read.
func gateTopology(t *testing.T, left, right, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{left, right})
	topology.AddProcessor(b, "tag", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			meta, _ := ctx.RecordMetadata()
			ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: fmt.Sprintf("%s/%d/%d", meta.Topic, meta.Partition, meta.Offset), Timestamp: r.Timestamp})
			return nil
		})
	}, "source")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), []string{"tag"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestRunFetchGateResumesThePartitionsOfTasksThatLeave: the tasks of an instance wait
// for their empty topic with their partitions of the other paused (full); a second
// instance joins and takes one of them, paused, and leaves before it processes anything
// (its tasks wait longer). The first instance gets the task back and reads its
// partition: the client keeps a partition paused across rebalances, so the gate
// resumed it when the task left. Every record is processed once, by the first instance.
func TestRunFetchGateResumesThePartitionsOfTasksThatLeave(t *testing.T) {
	const app, left, right, out, parts, n = "gate-moves", "left", "right", "out", 2, 20
	rc := newRunCluster(t)
	rc.createTopics(parts, left, right, out)
	topo := gateTopology(t, left, right, out)
	for range n {
		for p := range int32(parts) {
			rc.sendRecords(&kgo.Record{Topic: left, Partition: p, Key: []byte("l"), Value: []byte("v")})
		}
	}
	gated := []kgo.Opt{kgo.FetchMaxPartitionBytes(1)}
	a := rc.start(runSpec{app: app, topo: topo, instance: "a", buffered: 5, maxTaskIdle: 1500 * time.Millisecond, clientOpts: gated})
	rc.waitAssignment(app, left, map[string]int{"a": parts})
	b := rc.start(runSpec{app: app, topo: topo, instance: "b", buffered: 5, maxTaskIdle: time.Minute, clientOpts: gated})
	rc.waitAssignment(app, left, map[string]int{"a": 1, "b": 1})
	b.mustStop()
	rc.waitAssignment(app, left, map[string]int{"a": parts})
	got := rc.consume(out, false).waitCount(parts * n)
	a.mustStop()

	if len(got) != parts*n {
		t.Errorf("%d outputs, want %d:%s", len(got), parts*n, describeRecords(got))
	}
	for p := range int32(parts) {
		var values, want []string
		for _, r := range got {
			if v := string(r.Value); strings.HasPrefix(v, fmt.Sprintf("%s/%d/", left, p)) {
				values = append(values, v)
			}
		}
		for i := range n {
			want = append(want, fmt.Sprintf("%s/%d/%d", left, p, i))
		}
		if !slices.Equal(values, want) {
			t.Errorf("outputs of partition %d: %v, want %v", p, values, want)
		}
	}
	if pa, pb := a.stats.Processed.Load(), b.stats.Processed.Load(); pa != parts*n || pb != 0 {
		t.Errorf("the instances processed %d and %d records, want %d and 0", pa, pb, parts*n)
	}
}

func recordValues(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}
