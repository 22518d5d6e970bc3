package topology_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// pipeTable writes an update of a string-keyed table topic: a nil value is a tombstone.
func pipeTable(t *testing.T, d *eddytest.Driver, topic, key string, value *int64, ms int64) {
	t.Helper()
	in := eddytest.InputTopic(d, topic, serde.String(), serde.Int64())
	var err error
	if value == nil {
		err = in.PipeNullValue(key, time.UnixMilli(ms))
	} else {
		err = in.Pipe(key, *value, time.UnixMilli(ms))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A table read from a topic follows Kafka Streams' KTableSource: an upsert forwards the
// new value with the old one, a tombstone deletes a held key and forwards its old value
// (a tombstone once written to a topic), a tombstone for a key the table does not hold
// forwards nothing, and a record with a null key is dropped.
func TestTableFromUpsertsAndTombstones(t *testing.T) {
	b := topology.NewBuilder()
	table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
	changes := watchChanges(b, table, "watch")
	topology.To(topology.ToStream(table), "out", serde.String(), serde.Int64())
	d := startDriver(t, b)

	pipeTable(t, d, "in", "a", just[int64](1), 10)
	pipeTable(t, d, "in", "a", just[int64](2), 20)
	pipeTable(t, d, "in", "b", nil, 30) // b was never held
	pipeTable(t, d, "in", "a", nil, 40)
	if err := eddytest.InputTopic(d, "in", serde.String(), serde.Int64()).PipeNullKey(9, time.UnixMilli(50)); err != nil {
		t.Fatal(err)
	}
	checkTableChanges(t, changes.take(), []wantChange[string, int64]{
		{key: "a", new: just[int64](1), ts: 10},
		{key: "a", new: just[int64](2), old: just[int64](1), ts: 20},
		{key: "a", old: just[int64](2), ts: 40},
	})
	out, err := eddytest.OutputTopic(d, "out", serde.String(), serde.Int64()).ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || !out[2].ValueNull || out[2].Key != "a" {
		t.Errorf("output %+v, want two values of a and a tombstone for a", out)
	}
}

// FilterTable follows Kafka Streams' KTableFilter with old values sent (Eddy always
// sends them): the filtered change has the new value if it passes and the old value if
// it passed, and is dropped when it has neither; so a value that stops passing is
// deleted downstream, and one that never passed is never mentioned.
func TestFilterTableForwardsDeletesOnlyForValuesThatPassed(t *testing.T) {
	adult := func(_ string, age int64) bool { return age >= 18 }
	minor := func(_ string, age int64) bool { return age < 18 }
	operators := []struct {
		name   string
		filter func(topology.Table[string, int64]) topology.Table[string, int64]
	}{
		{"filter", func(t topology.Table[string, int64]) topology.Table[string, int64] {
			return topology.FilterTable(t, adult)
		}},
		{"filterNot", func(t topology.Table[string, int64]) topology.Table[string, int64] {
			return topology.FilterNotTable(t, minor)
		}},
	}
	tests := []struct {
		name      string
		old, new  *int64
		wantNew   *int64
		wantOld   *int64
		forwarded bool
	}{
		{name: "a passing insert is forwarded", new: just[int64](20), wantNew: just[int64](20), forwarded: true},
		{name: "a failing insert is not forwarded", new: just[int64](10)},
		{name: "an update between passing values is forwarded whole", old: just[int64](20), new: just[int64](30), wantNew: just[int64](30), wantOld: just[int64](20), forwarded: true},
		{name: "an update from a passing to a failing value becomes a delete", old: just[int64](20), new: just[int64](10), wantOld: just[int64](20), forwarded: true},
		{name: "an update from a failing to a passing value becomes an insert", old: just[int64](10), new: just[int64](20), wantNew: just[int64](20), forwarded: true},
		{name: "an update between failing values is not forwarded", old: just[int64](10), new: just[int64](12)},
		{name: "a delete of a passing value is forwarded", old: just[int64](20), wantOld: just[int64](20), forwarded: true},
		{name: "a delete of a failing value is not forwarded", old: just[int64](10)},
	}
	for _, op := range operators {
		for _, tt := range tests {
			t.Run(op.name+": "+tt.name, func(t *testing.T) {
				b := topology.NewBuilder()
				filtered := op.filter(topology.TableFrom(b, "in", "table", serde.String(), serde.Int64()))
				changes := watchChanges(b, filtered, "watch")
				d := startDriver(t, b)
				if tt.old != nil {
					pipeTable(t, d, "in", "k", tt.old, 1)
				}
				changes.take()
				pipeTable(t, d, "in", "k", tt.new, 2)
				var want []wantChange[string, int64]
				if tt.forwarded {
					want = append(want, wantChange[string, int64]{key: "k", new: tt.wantNew, old: tt.wantOld, ts: 2})
				}
				checkTableChanges(t, changes.take(), want)
			})
		}
	}
}

// MapValuesTable follows Kafka Streams' KTable#mapValues: both the new and the old
// value of each change are mapped, so a delete forwards the mapped old value.
func TestMapValuesTableMapsNewAndOldValues(t *testing.T) {
	b := topology.NewBuilder()
	table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
	label := func(k string, n int64) string { return k + "=" + strings.Repeat("*", int(n)) }
	changes := watchChanges(b, topology.MapValuesTable(table, label), "watch")
	d := startDriver(t, b)
	pipeTable(t, d, "in", "a", just[int64](1), 1)
	pipeTable(t, d, "in", "a", just[int64](3), 2)
	pipeTable(t, d, "in", "a", nil, 3)
	checkTableChanges(t, changes.take(), []wantChange[string, string]{
		{key: "a", new: just("a=*"), ts: 1},
		{key: "a", new: just("a=***"), old: just("a=*"), ts: 2},
		{key: "a", old: just("a=***"), ts: 3},
	})
}

// A materialized filter holds only the values that pass, as Kafka Streams' KTableFilter
// with Materialized does in its store, and forwards the same changes as the filter.
func TestMaterializedFilterStoresPassingValues(t *testing.T) {
	b := topology.NewBuilder()
	table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
	adults := topology.Materialize(topology.FilterTable(table, func(_ string, age int64) bool { return age >= 18 }), "adults")
	changes := watchChanges(b, adults, "watch")
	d := startDriver(t, b)
	pipeTable(t, d, "in", "ann", just[int64](30), 1)
	pipeTable(t, d, "in", "bob", just[int64](12), 2)
	pipeTable(t, d, "in", "cid", just[int64](40), 3)
	pipeTable(t, d, "in", "cid", just[int64](17), 4)
	checkTableChanges(t, changes.take(), []wantChange[string, int64]{
		{key: "ann", new: just[int64](30), ts: 1},
		{key: "cid", new: just[int64](40), ts: 3},
		{key: "cid", old: just[int64](40), ts: 4},
	})
	held := storeEntries(t, d, "adults", func(k, v []byte) string {
		// The store's values are timestamped: 8 bytes of milliseconds, then the value.
		return fmt.Sprintf("%s=%d", k, int64(binary.BigEndian.Uint64(v[8:])))
	})
	if want := []string{"ann=30"}; !slices.Equal(held, want) {
		t.Errorf("the store holds %v, want %v", held, want)
	}
}

// regionAccount is the value of the table grouped in the table aggregation tests.
type regionAccount struct {
	Region  string
	Balance int64
}

// Table grouping follows Kafka Streams' KTable#groupBy with KGroupedTable#count
// (KTableRepartitionMap, KTableAggregate, and KIP-904): a value that moves to another
// key is subtracted from the old key's aggregate, then added to the new key's; an
// update that keeps its key travels as one record with both values, and the aggregate
// subtracts, then adds, and forwards once; a deleted value is subtracted; the timestamp
// of an aggregate is the largest of the record's and its own.
func TestCountTableMovesUsersBetweenRegions(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	users := topology.TableFrom(b, "users", "users", serde.String(), serde.JSON[regionAccount]())
	byRegion := topology.GroupByTable(users, "by-region", func(user string, a regionAccount) topology.KeyValue[string, string] {
		return topology.Pair(a.Region, user)
	}, serde.String(), serde.String())
	counts := watchChanges(b, topology.CountTable(byRegion, "region-counts"), "watch")
	d := startDriver(t, b)
	in := eddytest.InputTopic(d, "users", serde.String(), serde.JSON[regionAccount]())
	pipe := func(user, region string, ms int64) {
		t.Helper()
		mustPipe(t, in, user, regionAccount{Region: region}, ms)
	}
	repartition := func() []eddytest.Record { return d.Written("eddytest-by-region-repartition") }

	pipe("alice", "eu", 10)
	pipe("bob", "eu", 20)
	pipe("carol", "us", 30)
	checkTableChanges(t, counts.take(), []wantChange[string, int64]{
		{key: "eu", new: just[int64](1), ts: 10},
		{key: "eu", new: just[int64](2), old: just[int64](1), ts: 20},
		{key: "us", new: just[int64](1), ts: 30},
	})

	before := len(repartition())
	pipe("alice", "us", 25) // moves, with a timestamp older than us's aggregate
	checkTableChanges(t, counts.take(), []wantChange[string, int64]{
		{key: "eu", new: just[int64](1), old: just[int64](2), ts: 25},
		{key: "us", new: just[int64](2), old: just[int64](1), ts: 30},
	})
	if n := len(repartition()) - before; n != 2 {
		t.Errorf("a move wrote %d records to the repartition topic, want 2 (subtract, add)", n)
	}

	before = len(repartition())
	mustPipe(t, in, "alice", regionAccount{Region: "us", Balance: 5}, 40)
	checkTableChanges(t, counts.take(), []wantChange[string, int64]{{key: "us", new: just[int64](2), old: just[int64](2), ts: 40}})
	written := repartition()[before:]
	if len(written) != 1 {
		t.Fatalf("an update within a region wrote %d records to the repartition topic, want 1", len(written))
	}
	c, err := topology.ChangeSerde(serde.String()).Deserialize("", written[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if want := (topology.Change[string]{New: "alice", Old: "alice", HasNew: true, HasOld: true}); c != want {
		t.Errorf("the repartition record holds %+v, want %+v", c, want)
	}

	if err := in.PipeNullValue("bob", time.UnixMilli(50)); err != nil {
		t.Fatal(err)
	}
	checkTableChanges(t, counts.take(), []wantChange[string, int64]{{key: "eu", new: just[int64](0), old: just[int64](1), ts: 50}})
}

// KGroupedTable#aggregate calls the subtractor before the adder when the key did not
// change (KIP-904) and forwards one update; the log aggregate shows the order.
func TestAggregateTableSubtractsBeforeAdding(t *testing.T) {
	b := topology.NewBuilder()
	accounts := topology.TableFrom(b, "accounts", "accounts", serde.String(), serde.JSON[regionAccount]())
	byRegion := topology.GroupByTable(accounts, "by-region", func(_ string, a regionAccount) topology.KeyValue[string, int64] {
		return topology.Pair(a.Region, a.Balance)
	}, serde.String(), serde.Int64())
	log := topology.AggregateTable(byRegion, "region-log", func() string { return "" },
		func(_ string, v int64, agg string) string { return agg + "+" + string(rune('0'+v)) },
		func(_ string, v int64, agg string) string { return agg + "-" + string(rune('0'+v)) },
		serde.String())
	sums := topology.ReduceTable(byRegion, "region-sums",
		func(agg, v int64) int64 { return agg + v },
		func(agg, v int64) int64 { return agg - v })
	logs := watchChanges(b, log, "watch-log")
	totals := watchChanges(b, sums, "watch-sums")
	d := startDriver(t, b)
	in := eddytest.InputTopic(d, "accounts", serde.String(), serde.JSON[regionAccount]())
	for i, a := range []regionAccount{{"eu", 3}, {"eu", 5}, {"us", 5}} {
		mustPipe(t, in, "acct", a, int64(i+1))
	}
	checkTableChanges(t, logs.take(), []wantChange[string, string]{
		{key: "eu", new: just("+3"), ts: 1},
		{key: "eu", new: just("+3-3+5"), old: just("+3"), ts: 2},
		{key: "eu", new: just("+3-3+5-5"), old: just("+3-3+5"), ts: 3},
		{key: "us", new: just("+5"), ts: 3},
	})
	checkTableChanges(t, totals.take(), []wantChange[string, int64]{
		{key: "eu", new: just[int64](3), ts: 1},
		{key: "eu", new: just[int64](5), old: just[int64](3), ts: 2},
		{key: "eu", new: just[int64](0), old: just[int64](5), ts: 3},
		{key: "us", new: just[int64](5), ts: 3},
	})
}

func TestChangeSerdeRoundTripsAndRefusesMalformedBytes(t *testing.T) {
	s := topology.ChangeSerde(serde.String())
	for _, c := range []topology.Change[string]{
		{New: "new", HasNew: true},
		{Old: "old", HasOld: true},
		{New: "new", Old: "old", HasNew: true, HasOld: true},
		{New: "", Old: "", HasNew: true, HasOld: true},
	} {
		b, err := s.Serialize("t", c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Deserialize("t", b)
		if err != nil || got != c {
			t.Errorf("round trip of %+v = %+v, %v", c, got, err)
		}
	}
	if _, err := s.Serialize("t", topology.Change[string]{}); !errors.Is(err, topology.ErrBadChange) {
		t.Errorf("serializing an empty change: %v, want ErrBadChange", err)
	}
	for _, bad := range [][]byte{nil, {0}, {4, 'x'}, {3}, {3, 5, 'a'}} {
		if _, err := s.Deserialize("t", bad); !errors.Is(err, topology.ErrBadChange) {
			t.Errorf("Deserialize(%v) = %v, want ErrBadChange", bad, err)
		}
	}
}

func TestTableOperatorProblems(t *testing.T) {
	tests := []buildProblem{
		{
			name: "materializing a table whose value serde is unknown is refused",
			build: func(b *topology.Builder) {
				table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
				topology.Materialize(topology.MapValuesTable(table, func(_ string, n int64) float64 { return float64(n) }), "floats")
			},
			problem: `materialize "floats"`,
		},
		{
			name: "grouping a table without serdes is refused",
			build: func(b *topology.Builder) {
				table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
				topology.CountTable(topology.GroupByTable(table, "g", func(k string, v int64) topology.KeyValue[string, int64] {
					return topology.Pair(k, v)
				}, nil, serde.Int64()), "count")
			},
			problem: "nil key or value serde",
		},
		{
			name: "a nil predicate is refused",
			build: func(b *topology.Builder) {
				topology.FilterTable(topology.TableFrom(b, "in", "table", serde.String(), serde.Int64()), nil)
			},
			problem: "the predicate is nil",
		},
		{
			name: "a nil subtractor is refused",
			build: func(b *topology.Builder) {
				table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
				g := topology.GroupByTable(table, "g", func(k string, v int64) topology.KeyValue[string, int64] {
					return topology.Pair(k, v)
				}, serde.String(), serde.Int64())
				topology.ReduceTable(g, "sums", func(a, v int64) int64 { return a + v }, nil)
			},
			problem: "the subtractor is nil",
		},
		{
			name: "generated names are refused under RequireExplicitNames",
			build: func(b *topology.Builder) {
				table := topology.TableFrom(b, "in", "table", serde.String(), serde.Int64())
				g := topology.GroupByTable(table, "", func(k string, v int64) topology.KeyValue[string, int64] {
					return topology.Pair(k, v)
				}, serde.String(), serde.Int64())
				topology.Materialize(topology.CountTable(g, ""), "")
			},
			problem: "generated name",
		},
	}
	expectBuildProblems(t, tests, topology.RequireExplicitNames())
}

// FuzzChangeSerde checks that any bytes either fail with ErrBadChange (or the inner
// serde's error) or decode to a change that round-trips.
func FuzzChangeSerde(f *testing.F) {
	s := topology.ChangeSerde(serde.String())
	for _, c := range []topology.Change[string]{
		{New: "n", HasNew: true}, {Old: "o", HasOld: true}, {New: "new", Old: "old", HasNew: true, HasOld: true},
	} {
		b, err := s.Serialize("t", c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := s.Deserialize("t", data)
		if err != nil {
			return
		}
		b, err := s.Serialize("t", c)
		if err != nil {
			t.Fatalf("%+v decoded from %v does not serialize: %v", c, data, err)
		}
		again, err := s.Deserialize("t", b)
		if err != nil || again != c {
			t.Fatalf("%+v does not round-trip: %+v, %v", c, again, err)
		}
	})
}
