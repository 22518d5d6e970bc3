package engine

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkStep runs the loop's step over fetches of make bench's pass-through scenario
// (8 partitions, 125 records each per poll: PollRecords' 1000, 100-byte values, no
// headers) with tasks whose collector drops what they send, one op per record (b.N
// rounded up to whole polls). The x-baseline figures compare it, in the same run, with a
// loop over the same fetches that maps each record's value and calls the collector: the
// least work per record. collector.Send's own cost (a kgo.Record per record, and
// franz-go's produce path) is not in it: it needs a broker.
func BenchmarkStep(b *testing.B) {
	const partitions, perPartition = 8, 125
	sb := topology.NewBuilder()
	in := topology.StreamFrom(sb, "in", serde.Bytes(), serde.Bytes())
	topology.To(topology.MapValues(in, func(_, v []byte) []byte { return incremented(v) }), "out", serde.Bytes(), serde.Bytes())
	topo, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	e := &membership{
		Engine: &Engine{
			log:           slog.New(slog.DiscardHandler),
			subtopologies: map[int][]string{0: {"in"}},
		},
		tasks:   map[processor.TaskID]*task.Task{},
		pending: map[processor.TaskID]*task.Task{},
	}
	var fetch kgo.FetchTopic
	fetch.Topic = "in"
	for p := range int32(partitions) {
		db, err := memstore.New().Open("")
		if err != nil {
			b.Fatal(err)
		}
		id := processor.TaskID{Partition: p}
		tk, err := task.New(task.Config{ID: id, ApplicationID: "app", Subtopology: plan.Of(topo).Complete("app").Subtopologies[0], DB: db, Collector: discardCollector{}})
		if err != nil {
			b.Fatal(err)
		}
		if err := tk.Init(); err != nil {
			b.Fatal(err)
		}
		defer tk.Close(true)
		e.tasks[id] = tk
		fp := kgo.FetchPartition{Partition: p}
		for i := range perPartition {
			fp.Records = append(fp.Records, &kgo.Record{
				Topic:     "in",
				Partition: p,
				Offset:    int64(i),
				Key:       []byte{'k', byte('0' + i%10), byte('0' + i/10%10), byte('0' + i/100%10)},
				Value:     make([]byte, 100),
				Timestamp: time.UnixMilli(int64(i)),
			})
		}
		fetch.Partitions = append(fetch.Partitions, fp)
	}
	fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{fetch}}}
	const perStep = partitions * perPartition
	steps := (b.N + perStep - 1) / perStep
	var c task.Collector = discardCollector{}

	baseline := func() {
		for range steps {
			fetches.EachRecord(func(r *kgo.Record) {
				c.Send("out", -1, r.Key, incremented(r.Value), r.Timestamp, nil)
			})
		}
	}

	b.ReportAllocs()
	b.StopTimer()
	baseNS, baseAllocs := measureRun(baseline)
	b.StartTimer()
	ns, allocs := measureRun(func() {
		for range steps {
			if err := e.step(context.Background(), fetches); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	// The baseline runs before and after, so that a change of the machine's load
	// during the run weighs on both sides.
	after, _ := measureRun(baseline)
	baseNS = (baseNS + after) / 2
	b.ReportMetric(float64(baseAllocs)/float64(steps*perStep), "baseline-allocs/op")
	b.ReportMetric(float64(ns)/float64(baseNS), "x-baseline-ns")
	b.ReportMetric(float64(allocs)/float64(max(baseAllocs, 1)), "x-baseline-allocs")
}

// incremented is the map of make bench's pass-through scenario.
func incremented(v []byte) []byte {
	w := make([]byte, len(v))
	copy(w, v)
	if len(w) > 0 {
		w[0]++
	}
	return w
}

// measureRun returns the time and the heap allocations that fn takes.
func measureRun(fn func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, after.Mallocs - before.Mallocs
}
