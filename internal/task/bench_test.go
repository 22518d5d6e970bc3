package task_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

// dropCollector drops what it is sent, through the Collector interface as the engine's
// collector is called.
type dropCollector struct{ sent int }

func (c *dropCollector) Send(string, int32, []byte, []byte, time.Time, []processor.Header) {
	c.sent++
}
func (c *dropCollector) Partitions(string) (int32, error) { return 8, nil }

// incremented is the map of make bench's pass-through scenario (integration/cmd/bench-eddy
// and bench-ceiling): a copy of the value with its first byte incremented.
func incremented(v []byte) []byte {
	w := make([]byte, len(v))
	copy(w, v)
	if len(w) > 0 {
		w[0]++
	}
	return w
}

// benchBatch is the number of records added at a time, as the engine adds a fetched
// partition's records (at most PollRecords, 1000 by default, per poll).
const benchBatch = 500

// passThroughInputs are benchBatch records of partition 0 of "in" as make bench writes
// them: 100-byte values, keys of up to 4 digits, no headers.
func passThroughInputs() []task.Input {
	inputs := make([]task.Input, benchBatch)
	for i := range inputs {
		inputs[i] = task.Input{
			Topic:     "in",
			Offset:    int64(i),
			Key:       []byte{'k', byte('0' + i%10), byte('0' + i/10%10), byte('0' + i/100%10)},
			Value:     make([]byte, 100),
			Timestamp: time.UnixMilli(int64(i)),
		}
	}
	return inputs
}

// BenchmarkPassThrough runs make bench's pass-through subtopology, built with the DSL
// (MapValues over []byte, serde.Bytes in and out), from Task.Add through Process to the
// collector's Send, one op per record. x-baseline-ns and x-baseline-allocs compare it
// with the least a consume/map/produce loop does per record, measured in the same run
// over as many records: the map above and a call of the collector.
func BenchmarkPassThrough(b *testing.B) {
	sb := topology.NewBuilder()
	in := topology.StreamFrom(sb, "in", serde.Bytes(), serde.Bytes())
	topology.To(topology.MapValues(in, func(_, v []byte) []byte { return incremented(v) }), "out", serde.Bytes(), serde.Bytes())
	topo, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	db, err := memstore.New().Open("")
	if err != nil {
		b.Fatal(err)
	}
	c := &dropCollector{}
	tk, err := task.New(task.Config{ApplicationID: "app", Subtopology: plan.Of(topo).Complete("app").Subtopologies[0], DB: db, Collector: c})
	if err != nil {
		b.Fatal(err)
	}
	if err := tk.Init(); err != nil {
		b.Fatal(err)
	}
	defer tk.Close(true)
	inputs := passThroughInputs()

	b.ReportAllocs()
	b.StopTimer()
	baseNS, baseAllocs := measure(func() { baseline(b.N, inputs, c) })
	c.sent = 0
	b.StartTimer()
	eddyNS, allocs := measure(func() {
		for done := 0; done < b.N; done += benchBatch {
			if err := tk.Add(inputs[:min(benchBatch, b.N-done)]); err != nil {
				b.Fatal(err)
			}
			for {
				ok, err := tk.Process()
				if err != nil {
					b.Fatal(err)
				}
				if !ok {
					break
				}
			}
		}
	})
	b.StopTimer()
	if c.sent != b.N {
		b.Fatalf("%d records sent, want %d", c.sent, b.N)
	}
	// The baseline runs before and after, so that a change of the machine's load
	// during the run weighs on both sides.
	after, _ := measure(func() { baseline(b.N, inputs, c) })
	baseNS = (baseNS + after) / 2
	b.ReportMetric(float64(baseNS.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(float64(baseAllocs)/float64(b.N), "baseline-allocs/op")
	b.ReportMetric(float64(eddyNS)/float64(baseNS), "x-baseline-ns")
	b.ReportMetric(float64(allocs)/float64(max(baseAllocs, 1)), "x-baseline-allocs")
}

// baseline maps n records of inputs and hands them to c: the least work per record.
func baseline(n int, inputs []task.Input, c task.Collector) {
	for i := range n {
		in := &inputs[i%len(inputs)]
		c.Send("out", -1, in.Key, incremented(in.Value), in.Timestamp, in.Headers)
	}
}

// measure returns the time and the heap allocations that fn takes.
func measure(fn func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, after.Mallocs - before.Mallocs
}
