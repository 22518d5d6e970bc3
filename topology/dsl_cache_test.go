package topology_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func commit(t *testing.T, d *eddytest.Driver) {
	t.Helper()
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Kafka Streams' record caches (statestore.cache.max.bytes, on by default): between two
// commits, the updates of a key reach the operators downstream once, at the commit, with
// the key's value at the previous commit as the old value and the latest value and
// timestamp as the new ones. Every caching operator does so.
func TestRecordCacheForwardsOneUpdatePerKeyAtACommit(t *testing.T) {
	type table = topology.Table[string, int64]
	sum := func(a, v int64) int64 { return a + v }
	tests := []struct {
		name string
		// build makes the table from the stream of int64 values of topic "in", where
		// each record adds 1 to the table's value of its key.
		build func(b *topology.Builder) table
	}{
		{
			name: "a stream count",
			build: func(b *topology.Builder) table {
				return topology.Count(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), ""), "agg")
			},
		},
		{
			name: "a stream reduce",
			build: func(b *topology.Builder) table {
				return topology.Reduce(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), ""), "agg", sum)
			},
		},
		{
			name: "a cogrouped aggregation",
			build: func(b *topology.Builder) table {
				g := topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), "")
				g2 := topology.GroupByKey(topology.StreamFrom(b, "other", serde.String(), serde.Int64()), "")
				c := topology.CogroupCogrouped(topology.Cogroup(g, func(_ string, v, a int64) int64 { return a + v }), g2, func(_ string, v, a int64) int64 { return a - v })
				return topology.AggregateCogrouped(c, "agg", func() int64 { return 0 }, serde.Int64())
			},
		},
		{
			name: "a table source",
			build: func(b *topology.Builder) table {
				// The running sum of "in" written to a topic, read back as a table.
				sums := topology.Reduce(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), ""), "sums", sum)
				topology.To(topology.ToStream(sums), "sums", serde.String(), serde.Int64())
				return topology.TableFrom(b, "sums", "table", serde.String(), serde.Int64())
			},
		},
		{
			name: "a table count",
			build: func(b *topology.Builder) table {
				// Each record of "in" becomes a row of its own, grouped by the record's key:
				// the count of a key grows by 1 per record.
				rowID := 0
				rows := topology.Map(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), func(k string, _ int64) topology.KeyValue[string, string] {
					rowID++
					return topology.Pair(k+"/"+strconv.Itoa(rowID), k)
				})
				topology.To(rows, "rows", serde.String(), serde.String())
				table := topology.TableFrom(b, "rows", "rows", serde.String(), serde.String())
				g := topology.GroupByTable(table, "by-key", func(_ string, k string) topology.KeyValue[string, string] {
					return topology.Pair(k, k)
				}, serde.String(), serde.String())
				return topology.CountTable(g, "agg")
			},
		},
		{
			name: "a materialized table",
			build: func(b *topology.Builder) table {
				counts := topology.Count(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), ""), "counts")
				return topology.Materialize(topology.FilterTable(counts, func(string, int64) bool { return true }), "agg")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+" forwards three updates of a key once, with the old value of the last commit", func(t *testing.T) {
			b := topology.NewBuilder()
			changes := watchChanges(b, tt.build(b), "watch")
			d := startDriver(t, b, eddytest.ManualCommit())
			in := eddytest.InputTopic(d, "in", serde.String(), serde.Int64())
			pipe := func(ms int64) {
				t.Helper()
				mustPipe(t, in, "a", 1, ms)
			}
			pipe(1)
			commit(t, d)
			checkTableChanges(t, changes.take(), []wantChange[string, int64]{{key: "a", new: just[int64](1), ts: 1}})
			pipe(2)
			pipe(3)
			pipe(4)
			checkTableChanges(t, changes.take(), nil)
			commit(t, d)
			checkTableChanges(t, changes.take(), []wantChange[string, int64]{{key: "a", new: just[int64](4), old: just[int64](1), ts: 4}})
		})
	}
}

// Kafka Streams' caching store forwards nothing at a flush for a key that had no value
// at the previous flush and has none again.
func TestRecordCacheForwardsNothingForAKeyPutThenDeleted(t *testing.T) {
	b := topology.NewBuilder()
	table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
	changes := watchChanges(b, table, "watch")
	topology.To(topology.ToStream(table), "out", serde.String(), serde.Int64())
	d := startDriver(t, b, eddytest.ManualCommit())
	in := eddytest.InputTopic(d, "in", serde.String(), serde.Int64())
	mustPipe(t, in, "a", 1, 1)
	mustPipe(t, in, "b", 1, 2)
	if err := in.PipeNullValue("a", time.UnixMilli(3)); err != nil {
		t.Fatal(err)
	}
	commit(t, d)
	checkTableChanges(t, changes.take(), []wantChange[string, int64]{{key: "b", new: just[int64](1), ts: 2}})
	if out := d.Written("out"); len(out) != 1 || string(out[0].Key) != "b" {
		t.Errorf("output %v, want only b", out)
	}
}

// Kafka Streams' NamedCache evicts its least recently used entry, forwarding it, when
// the cache outgrows its bound. Values of 10,000 bytes in a cache of 25,000 bytes: two
// fit (the overhead per entry is a few dozen bytes), a third evicts one.
func TestRecordCacheEvictsTheLeastRecentlyUpdatedKeyWhenFullThroughTheDriver(t *testing.T) {
	b := topology.NewBuilder(topology.RecordCacheMaxBytes(25_000))
	table := topology.TableFrom(b, "in", "table", serde.String(), serde.String())
	changes := watchChanges(b, table, "watch")
	d := startDriver(t, b, eddytest.ManualCommit())
	in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
	value := func(c byte) string { return strings.Repeat(string(c), 10_000) }
	pipe := func(key string, c byte, ms int64) {
		t.Helper()
		mustPipe(t, in, key, value(c), ms)
	}
	pipe("a", 'x', 1)
	pipe("b", 'x', 2)
	pipe("a", 'y', 3)
	checkTableChanges(t, changes.take(), nil)
	pipe("c", 'x', 4)
	checkTableChanges(t, changes.take(), []wantChange[string, string]{{key: "b", new: just(value('x')), ts: 2}})
	commit(t, d)
	checkTableChanges(t, changes.take(), []wantChange[string, string]{
		{key: "a", new: just(value('y')), ts: 3},
		{key: "c", new: just(value('x')), ts: 4},
	})
}

// Kafka Streams with statestore.cache.max.bytes=0 forwards every update at once.
func TestWithoutRecordCacheEveryUpdateIsForwardedAtOnce(t *testing.T) {
	b := topology.NewBuilder(topology.WithoutRecordCache())
	counts := topology.Count(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), ""), "counts")
	changes := watchChanges(b, counts, "watch")
	d := startDriver(t, b, eddytest.ManualCommit())
	in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
	for ms := int64(1); ms <= 3; ms++ {
		mustPipe(t, in, "a", "x", ms)
	}
	checkTableChanges(t, changes.take(), []wantChange[string, int64]{
		{key: "a", new: just[int64](1), ts: 1},
		{key: "a", new: just[int64](2), old: just[int64](1), ts: 2},
		{key: "a", new: just[int64](3), old: just[int64](2), ts: 3},
	})
	commit(t, d)
	checkTableChanges(t, changes.take(), nil)
}
