package task_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

// droppingTopology counts the records of "in" (string keys, int64 values) per key, and
// per key in tumbling windows of 10ms without grace: two DSL operators of one
// subtopology, each of which drops null keys and values.
func droppingTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	g := topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), "")
	topology.Count(g, "counts")
	topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond)), "windowed")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestTaskDroppedSumsWhatItsProcessorsDropAndLeavesUndecodableRecordsOut(t *testing.T) {
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := task.New(task.Config{
		ApplicationID: "app",
		Subtopology:   plan.Of(droppingTopology(t)).Complete("app").Subtopologies[0],
		DB:            db,
		Collector:     &sent{},
		Errors:        task.ErrorPolicy{Deserialization: processor.LogAndContinue},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tk.Close(true); err != nil {
			t.Error(err)
		}
	})
	if got := tk.Dropped(); got != 0 {
		t.Errorf("Dropped() before Init = %d, want 0", got)
	}
	if err := tk.Init(); err != nil {
		t.Fatal(err)
	}

	one := binary.BigEndian.AppendUint64(nil, 1)
	inputs := []task.Input{
		{Key: []byte("a"), Value: one, Timestamp: time.UnixMilli(25)},
		{Key: nil, Value: one, Timestamp: time.UnixMilli(26)},                 // both operators drop it
		{Key: []byte("a"), Value: nil, Timestamp: time.UnixMilli(27)},         // both operators drop it
		{Key: []byte("a"), Value: one, Timestamp: time.UnixMilli(5)},          // late for [0,10): the windowed count drops it
		{Key: []byte("a"), Value: []byte("x"), Timestamp: time.UnixMilli(28)}, // undecodable: skipped
	}
	for i := range inputs {
		inputs[i].Topic, inputs[i].Offset = "in", int64(i)
	}
	if err := tk.Add(inputs); err != nil {
		t.Fatal(err)
	}
	for {
		ok, err := tk.Process()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if got := tk.Processed(); got != 4 {
		t.Errorf("Processed() = %d, want 4", got)
	}
	if got := tk.Dropped(); got != 5 {
		t.Errorf("Dropped() = %d, want 5: 2 for the null key, 2 for the null value, 1 late", got)
	}
	if got := tk.Skipped(); got != 1 {
		t.Errorf("Skipped() = %d, want 1", got)
	}
}

// dropCounting is a node processor that implements plan.DropCounter itself, as the
// engine-facing contract allows: the task counts it like the DSL's.
type dropCounting struct{ n int64 }

func (d *dropCounting) Init(plan.NodeContext) error { return nil }
func (d *dropCounting) Process(plan.Record) error   { d.n++; return nil }
func (d *dropCounting) Close() error                { return nil }
func (d *dropCounting) DroppedRecords() int64       { return d.n }

func TestTaskDroppedCountsAnyNodeProcessorThatIsADropCounter(t *testing.T) {
	sub := &plan.Subtopology{
		Sources: []*plan.Source{{
			Name: "src", Topics: []string{"in"}, Children: []string{"dropper"},
			Decode: func(_ string, key, value []byte, ts time.Time, _ []processor.Header) (plan.Record, error) {
				return plan.Record{Key: string(key), Value: string(value), Timestamp: ts}, nil
			},
		}},
		Processors: []*plan.Processor{{
			Name: "dropper", Parents: []string{"src"},
			New: func() plan.NodeProcessor { return &dropCounting{} },
		}},
	}
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := task.New(task.Config{ApplicationID: "app", Subtopology: sub, DB: db, Collector: &sent{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tk.Close(true); err != nil {
			t.Error(err)
		}
	})
	if err := tk.Init(); err != nil {
		t.Fatal(err)
	}
	pipe(t, tk, 0, "a=1", "b=2", "c=3")
	if got := tk.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
}
