package topology_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The stream aggregations follow Kafka Streams' KStreamAggregate and KStreamReduce:
// records with a null key or value are dropped, each update forwards a Change with the
// previous aggregate as its old value, and the timestamp of an aggregate is the largest
// timestamp of the records folded into it, so a late record does not move it back.
func TestStreamAggregationsFoldWithTheLargestTimestamp(t *testing.T) {
	sum := func(a, v int64) int64 { return a + v }
	type in struct {
		key   string
		value int64
		ts    int64
	}
	input := []in{{"a", 5, 5000}, {"b", 1, 1000}, {"a", 3, 3000}, {"a", 7, 7000}, {"b", 2, 500}}
	tests := []struct {
		name  string
		agg   func(g topology.GroupedStream[string, int64]) topology.Table[string, int64]
		fold  func(agg, v int64) int64
		first func(v int64) int64
	}{
		{
			name: "count counts each key's records",
			agg: func(g topology.GroupedStream[string, int64]) topology.Table[string, int64] {
				return topology.Count(g, "agg")
			},
			fold:  func(agg, _ int64) int64 { return agg + 1 },
			first: func(int64) int64 { return 1 },
		},
		{
			name: "reduce starts from the first value",
			agg: func(g topology.GroupedStream[string, int64]) topology.Table[string, int64] {
				return topology.Reduce(g, "agg", sum)
			},
			fold:  sum,
			first: func(v int64) int64 { return v },
		},
		{
			name: "aggregate starts from the initializer",
			agg: func(g topology.GroupedStream[string, int64]) topology.Table[string, int64] {
				return topology.Aggregate(g, "agg", func() int64 { return 100 }, func(_ string, v, agg int64) int64 { return agg + v }, serde.Int64())
			},
			fold:  sum,
			first: func(v int64) int64 { return 100 + v },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := topology.NewBuilder()
			s := topology.StreamFrom(b, "in", serde.String(), serde.Int64())
			table := tt.agg(topology.GroupByKey(s, ""))
			changes := watchChanges(b, table, "watch")
			d := startDriver(t, b)
			pipe := eddytest.InputTopic(d, "in", serde.String(), serde.Int64())

			type state struct {
				agg int64
				ts  int64
			}
			aggs := map[string]state{}
			var want []wantChange[string, int64]
			for _, r := range input {
				mustPipe(t, pipe, r.key, r.value, r.ts)
				old, ok := aggs[r.key]
				next := state{agg: tt.first(r.value), ts: r.ts}
				u := wantChange[string, int64]{key: r.key}
				if ok {
					next = state{agg: tt.fold(old.agg, r.value), ts: max(old.ts, r.ts)}
					u.old = just(old.agg)
				}
				u.new, u.ts = just(next.agg), next.ts
				aggs[r.key] = next
				want = append(want, u)
			}
			checkTableChanges(t, changes.take(), want)
		})
	}
}

// Kafka Streams' KStreamAggregate skips records with a null key or value (counting them
// as dropped); they reach neither the store nor the output.
func TestStreamAggregationsDropNullKeysAndValues(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "in", serde.String(), serde.String())
	changes := watchChanges(b, topology.Count(topology.GroupByKey(s, ""), "counts"), "watch")
	d := startDriver(t, b)
	in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
	for _, r := range []eddytest.TestRecord[string, string]{
		{Value: "v", KeyNull: true, Timestamp: time.UnixMilli(1)},
		{Key: "k", ValueNull: true, Timestamp: time.UnixMilli(2)},
		{Key: "k", Value: "v", Timestamp: time.UnixMilli(3)},
	} {
		if err := in.PipeWithNulls(r); err != nil {
			t.Fatal(err)
		}
	}
	checkTableChanges(t, changes.take(), []wantChange[string, int64]{{key: "k", new: just[int64](1), ts: 3}})
	raw, err := d.KeyValueStore("counts")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := raw.ApproximateNumEntries(); err != nil || n != 1 {
		t.Errorf("store holds %d keys (%v), want 1", n, err)
	}
}

// cogroupStats is the aggregate of the cogroup tests.
type cogroupStats struct {
	Clicks int64
	Spent  int64
}

// Cogrouping follows Kafka Streams' CogroupedKStream: one store shared by the inputs,
// each input folded in by its own aggregator into the same aggregate, the initializer
// called once per key whatever the input of its first record, the timestamp the largest
// folded in, and null keys and values dropped as by the other aggregations.
func TestCogroupFoldsTwoStreamsIntoOneAggregate(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	clicks := topology.StreamFrom(b, "clicks", serde.String(), serde.String())
	purchases := topology.StreamFrom(b, "purchases", serde.String(), serde.Int64())
	c := topology.Cogroup(topology.GroupByKey(clicks, "clicks"), func(_ string, _ string, s cogroupStats) cogroupStats { s.Clicks++; return s })
	c = topology.CogroupCogrouped(c, topology.GroupByKey(purchases, "purchases"), func(_ string, amount int64, s cogroupStats) cogroupStats { s.Spent += amount; return s })
	inits := 0
	table := topology.AggregateCogrouped(c, "user-cogroupStats", func() cogroupStats { inits++; return cogroupStats{} }, serde.JSON[cogroupStats]())
	changes := watchChanges(b, table, "watch")
	topo := buildTopology(t, b)
	if n := len(plan.Of(topo).Subtopologies); n != 1 {
		t.Errorf("%d subtopologies, want 1: the inputs share the store\n%s", n, topo.Describe())
	}
	if stores := plan.Of(topo).Subtopologies[0].Stores; len(stores) != 1 || stores[0].Def.Name() != "user-cogroupStats" {
		t.Errorf("stores %v, want the one store user-cogroupStats", stores)
	}
	d := newDriver(t, topo)
	clickIn := eddytest.InputTopic(d, "clicks", serde.String(), serde.String())
	buyIn := eddytest.InputTopic(d, "purchases", serde.String(), serde.Int64())
	steps := []func() error{
		func() error { return buyIn.Pipe("ann", 30, time.UnixMilli(2000)) },
		func() error { return clickIn.Pipe("ann", "/home", time.UnixMilli(1000)) },
		func() error { return clickIn.Pipe("bob", "/cart", time.UnixMilli(1500)) },
		func() error {
			return d.PipeRaw("purchases", eddytest.Record{Key: []byte("bob"), Timestamp: time.UnixMilli(9000)})
		},
		func() error { return buyIn.Pipe("ann", 12, time.UnixMilli(3000)) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	checkTableChanges(t, changes.take(), []wantChange[string, cogroupStats]{
		{key: "ann", new: &cogroupStats{Spent: 30}, ts: 2000},
		{key: "ann", new: &cogroupStats{Clicks: 1, Spent: 30}, old: &cogroupStats{Spent: 30}, ts: 2000},
		{key: "bob", new: &cogroupStats{Clicks: 1}, ts: 1500},
		{key: "ann", new: &cogroupStats{Clicks: 1, Spent: 42}, old: &cogroupStats{Clicks: 1, Spent: 30}, ts: 3000},
	})
	if inits != 2 {
		t.Errorf("the initializer ran %d times, want 2 (once per key)", inits)
	}
}

// Kafka Streams repartitions each grouped stream of a cogroup whose keys changed, and
// the repartition topics are read by the one subtopology that holds the shared store.
func TestCogroupReadsRepartitionedInputsInOneSubtopology(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	clicks := topology.StreamFrom(b, "clicks", serde.String(), serde.String())
	purchases := topology.StreamFrom(b, "purchases", serde.String(), serde.Int64())
	// Both inputs are keyed by page instead of user.
	byPage := topology.GroupBy(clicks, "clicks-by-page", func(_, page string) string { return page }, serde.String())
	buys := topology.Map(purchases, func(user string, amount int64) topology.KeyValue[string, int64] {
		return topology.Pair("/checkout", amount)
	})
	c := topology.Cogroup(byPage, func(_ string, _ string, s cogroupStats) cogroupStats { s.Clicks++; return s })
	c = topology.CogroupCogrouped(c, topology.GroupByKey(buys.WithSerdes(serde.String(), serde.Int64()), "buys-by-page"), func(_ string, amount int64, s cogroupStats) cogroupStats {
		s.Spent += amount
		return s
	})
	table := topology.AggregateCogrouped(c, "page-cogroupStats", func() cogroupStats { return cogroupStats{} }, serde.JSON[cogroupStats]())
	topology.To(topology.ToStream(table), "page-cogroupStats", serde.String(), serde.JSON[cogroupStats]())
	topo := buildTopology(t, b)
	names := internalTopicNames(topo)
	if want := []string{"buys-by-page-repartition", "clicks-by-page-repartition"}; !slices.Equal(names, want) {
		t.Errorf("internal topics %v, want %v", names, want)
	}
	sub, ok := subtopologyReading(plan.Of(topo), "clicks-by-page-repartition")
	if !ok {
		t.Fatalf("no subtopology reads clicks-by-page-repartition:\n%s", topo.Describe())
	}
	if got := sub.SourceTopics(); !slices.Contains(got, "buys-by-page-repartition") {
		t.Errorf("the subtopology of the store reads %v, want both repartition topics", got)
	}
	d := newDriver(t, topo)
	if err := eddytest.InputTopic(d, "clicks", serde.String(), serde.String()).Pipe("ann", "/checkout", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	if err := eddytest.InputTopic(d, "purchases", serde.String(), serde.Int64()).Pipe("ann", 5, time.UnixMilli(2)); err != nil {
		t.Fatal(err)
	}
	got, err := eddytest.LatestValues(eddytest.OutputTopic(d, "page-cogroupStats", serde.String(), serde.JSON[cogroupStats]()))
	if err != nil {
		t.Fatal(err)
	}
	if want := (cogroupStats{Clicks: 1, Spent: 5}); got["/checkout"] != want || len(got) != 1 {
		t.Errorf("page cogroupStats %v, want /checkout: %v", got, want)
	}
}

func TestCogroupProblems(t *testing.T) {
	fold := func(_ string, _ string, n int64) int64 { return n + 1 }
	tests := []buildProblem{
		{
			name: "a grouped stream cogrouped twice is refused",
			build: func(b *topology.Builder) {
				g := topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), "")
				c := topology.CogroupCogrouped(topology.Cogroup(g, fold), g, fold)
				topology.AggregateCogrouped(c, "agg", func() int64 { return 0 }, serde.Int64())
			},
			problem: "cogrouped twice",
		},
		{
			name: "a grouped stream of another builder is refused",
			build: func(b *topology.Builder) {
				g := topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), "")
				other := topology.GroupByKey(topology.StreamFrom(topology.NewBuilder(), "in2", serde.String(), serde.String()), "")
				topology.AggregateCogrouped(topology.CogroupCogrouped(topology.Cogroup(g, fold), other, fold), "agg", func() int64 { return 0 }, serde.Int64())
			},
			problem: "another Builder",
		},
		{
			name: "a nil aggregator is refused",
			build: func(b *topology.Builder) {
				g := topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), "")
				topology.AggregateCogrouped(topology.Cogroup[string, string, int64](g, nil), "agg", func() int64 { return 0 }, serde.Int64())
			},
			problem: "aggregator",
		},
	}
	expectBuildProblems(t, tests)
}
