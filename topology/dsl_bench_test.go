package topology_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

var benchCounts = store.KeyValue("counts", serde.String(), serde.Int64())

// benchCounter is the hand-written count the DSL's is measured against.
type benchCounter struct{ kv store.KV[string, int64] }

func (c *benchCounter) Init(ctx processor.InitContext) error {
	c.kv = benchCounts.From(ctx)
	return nil
}

func (c *benchCounter) Process(ctx processor.Context[string, int64], r processor.Record[string, []byte]) error {
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

// BenchmarkDSLCount measures the DSL's count (record cache on, committed every 1,000
// records) through the test driver, and reports it as a ratio to a Processor API counter
// measured in the same run on the same input (x-processor-api): the cost of the DSL's
// layers (nulls, timestamped values, Change records, the cache) over hand-written code.
// 10,000 keys, 100-byte values.
//
//	go test ./topology -run '^$' -bench DSLCount
func BenchmarkDSLCount(b *testing.B) {
	dsl := topology.NewBuilder()
	in := topology.StreamFrom(dsl, "in", serde.String(), serde.Bytes())
	topology.To(topology.ToStream(topology.Count(topology.GroupByKey(in, ""), "counts")), "out", serde.String(), serde.Int64())

	api := topology.NewBuilder()
	topology.AddSource(api, "in", serde.String(), serde.Bytes(), []string{"in"})
	topology.AddProcessor(api, "count", func() processor.Processor[string, []byte, string, int64] { return &benchCounter{} }, "in")
	topology.AddStore(api, benchCounts, "count")
	topology.AddSink(api, "out", "out", serde.String(), serde.Int64(), []string{"count"})

	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%05d", i)
	}
	value := make([]byte, 100)
	run := func(bl *topology.Builder) time.Duration {
		d := startDriver(b, bl, eddytest.ManualCommit())
		input := eddytest.InputTopic(d, "in", serde.String(), serde.Bytes())
		began := time.Now()
		for i := range b.N {
			if err := input.Pipe(keys[i%len(keys)], value, time.UnixMilli(int64(i))); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				if err := d.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		}
		return time.Since(began)
	}
	b.ReportAllocs()
	b.ResetTimer()
	baseline := run(api)
	took := run(dsl)
	b.StopTimer()
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "dsl-ns/record")
	b.ReportMetric(float64(baseline.Nanoseconds())/float64(b.N), "api-ns/record")
	b.ReportMetric(took.Seconds()/baseline.Seconds(), "x-processor-api")
}
