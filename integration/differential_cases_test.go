package integration_test

import (
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The cases of the differential suite (differential_test.go): each builds with Eddy's DSL
// the topology that the case of the same name in
// bench/kafkastreams/src/main/java/io/github/eddystreams/differential/Cases.java builds with
// Kafka Streams'. Keep the two in step. User functions here see nulls as zero values; the
// Java side turns nulls into zero values before its functions use them, so the functions
// agree (Cases.java's doc says how).

// compareMode says how the two outputs of a case are compared; each case uses the
// strongest its topology defines.
type compareMode int

const (
	// bySequence compares, for each key, the records of that key in offset order: defined
	// when every record of an output key comes from one input partition (or task) and the
	// order in which the task processes its inputs is defined (see the run's input modes).
	// Records with a null key, which may land on any partition, are compared as a multiset.
	bySequence compareMode = iota
	// asMultiset compares the sorted records: for stateless operators whose output keys
	// collect records of several input partitions, so that only their interleaving is
	// undefined.
	asMultiset
	// byFinalValue compares the last value (and timestamp) of each key, a tombstone
	// deleting the key: for results that pass through a repartition or subscription topic,
	// where records of a key arrive from several tasks in an undefined order, but the
	// final value is a function of the input alone.
	byFinalValue
	// unjoinedEarlier compares the joined results of a left or outer stream-stream join as
	// a multiset, and requires every result of Kafka Streams' that joined nothing to be
	// among Eddy's: Eddy may have more of those (a record whose window closed, emitted as
	// joined nothing, that a late record of the other side then joins), where Kafka
	// Streams, checking its waiting records later, found it joined and wrote the joined
	// result only. Only a known difference uses it.
	unjoinedEarlier
)

func (m compareMode) String() string {
	return [...]string{"sequence per key", "multiset", "final value per key", "any output"}[m]
}

// valueKind is how an output's values are decoded: strings, or Kafka's 8-byte longs.
type valueKind int

const (
	stringValues valueKind = iota
	longValues
)

// diffCase is one topology run by both sides.
type diffCase struct {
	name string
	// inputs are the input topics the application's consumer group reads (the global
	// table's topic is read by no group).
	inputs  []string
	values  valueKind
	compare compareMode
	// restart: in the restart run, two Eddy instances run the case and one of them is
	// stopped and started again half-way through the input.
	restart bool
	build   func(b *topology.Builder, topic func(string) string, out string)
}

// knownDifference is a difference between Eddy and Kafka Streams that DESIGN.md lists: the
// case's outputs may differ by it, and are then compared with relaxed, which the
// difference does not affect.
type knownDifference struct {
	cases   []string
	what    string
	relaxed compareMode
	// phrase must appear in DESIGN.md (whitespace collapsed), or the suite fails.
	phrase string
}

var knownDifferences = []knownDifference{
	{
		cases: []string{"ss-left", "ss-outer"},
		what: "a left or outer stream-stream join emits a record that joined nothing at the first record that closes its window; " +
			"Kafka Streams checks its waiting records less eagerly, so the non-joined results come at other places in the output, " +
			"and a late record of the other side that joins a record Eddy already emitted as joined nothing adds a joined result in both, " +
			"where Kafka Streams wrote no unjoined one",
		relaxed: unjoinedEarlier,
		phrase:  "a record is emitted at the first record that closes its window, where Kafka Streams may emit it later",
	},
	{
		cases: []string{"tt-outer", "tt-left", "tt-inner"},
		what: "Kafka Streams writes a table-table join's result again where it did not change: its unchanged " +
			"result for a tombstone of a key one side does not hold, a tombstone where neither the old nor the " +
			"new input joins; Eddy writes nothing then",
		relaxed: byFinalValue,
		phrase:  "a tombstone for a key that one side does not hold writes nothing",
	},
}

func knownDifferenceOf(name string) *knownDifference {
	for i, d := range knownDifferences {
		for _, c := range d.cases {
			if c == name {
				return &knownDifferences[i]
			}
		}
	}
	return nil
}

// num is the number that ends s ("v17" is 17), 0 when none does (Cases.num).
func num(s string) int64 {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.ParseInt(s[i:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// foreignKey is the foreign key of a t1 value "fN.M": "fN" (Cases.fk).
func foreignKey(v string) string {
	if dot := strings.IndexByte(v, '.'); dot >= 0 {
		return v[:dot]
	}
	return v
}

// opt is a joined value a join may lack, "-" when it does (Cases.opt).
func opt(v string, found bool) string {
	if !found {
		return "-"
	}
	return v
}

// windowKey is "key@start/end" in milliseconds (Cases.windowKey).
func windowKey(k topology.Windowed[string]) string {
	return k.Key + "@" + strconv.FormatInt(k.Start.UnixMilli(), 10) + "/" + strconv.FormatInt(k.End.UnixMilli(), 10)
}

func maxString(a, v string) string {
	if a >= v {
		return a
	}
	return v
}

func stream(b *topology.Builder, topic func(string) string, name string) topology.Stream[string, string] {
	return topology.StreamFrom(b, topic(name), serde.String(), serde.String())
}

func table(b *topology.Builder, topic func(string) string, name string) topology.Table[string, string] {
	return topology.TableFrom(b, topic(name), name, serde.String(), serde.String())
}

func toStrings(s topology.Stream[string, string], out string) {
	topology.To(s, out, serde.String(), serde.String())
}

func toLongs(s topology.Stream[string, int64], out string) {
	topology.To(s, out, serde.String(), serde.Int64())
}

// toWindowed writes a windowed table with its keys as windowKey strings. SelectKey, not
// Map, keeps a null value (a session's tombstone) null.
func toWindowed[V any](t topology.Table[topology.Windowed[string], V], out string, values serde.Serde[V]) {
	s := topology.SelectKey(topology.ToStream(t), func(k topology.Windowed[string], _ V) string { return windowKey(k) })
	topology.To(s, out, serde.String(), values)
}

// nonNull drops the records of s whose value is null (Cases.java: s1v). Eddy's functions
// see a null as "", which no value of the input is.
func nonNull(s topology.Stream[string, string]) topology.Stream[string, string] {
	return topology.Filter(s, func(_, v string) bool { return v != "" })
}

func sumNum(_ string, v string, agg int64) int64 { return agg + num(v) }

func zero() int64 { return 0 }

var diffCases = []diffCase{
	// Stateless operators keep keys on their partitions (filter, mapValues, split,
	// merge: by sequence) or move them (flatMap, map, selectKey: records of a new key
	// come from several partitions, in an undefined interleaving, so as a multiset).
	{name: "filter", inputs: []string{"s1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		s := topology.Filter(stream(b, topic, "s1"), func(_, v string) bool { return !strings.HasSuffix(v, "3") })
		s = topology.FilterNot(s, func(k, _ string) bool { return k == "k5" })
		toStrings(topology.MapValues(s, func(_, v string) string { return v + "!" }), out)
	}},
	{name: "flatmap", inputs: []string{"s1"}, compare: asMultiset, build: func(b *topology.Builder, topic func(string) string, out string) {
		s := topology.FlatMap(stream(b, topic, "s1"), func(k, v string) []topology.KeyValue[string, string] {
			return []topology.KeyValue[string, string]{topology.Pair(k+"a", v), topology.Pair(v, k)}
		})
		s = topology.Map(s, func(k, v string) topology.KeyValue[string, string] { return topology.Pair(k+"m", v+"m") })
		s = topology.FlatMapValues(s, func(_, v string) []string { return []string{v, v + "b"} })
		toStrings(topology.Peek(s, func(string, string) {}), out)
	}},
	{name: "selectkey-repartition", inputs: []string{"s1"}, compare: asMultiset, build: func(b *topology.Builder, topic func(string) string, out string) {
		s := topology.SelectKey(stream(b, topic, "s1"), func(_, v string) string { return "r" + strconv.FormatInt(num(v)%3, 10) })
		s = topology.Repartition(s, "rp", 4)
		toStrings(topology.MapValues(s, func(_, v string) string { return v + "#" }), out)
	}},
	{name: "split-merge", inputs: []string{"s1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		br := topology.Split(stream(b, topic, "s1"), topology.Named("sp-"))
		a := br.Branch("a", func(k, _ string) bool { return k == "k0" || k == "k1" })
		bb := br.Branch("b", func(_, v string) bool { return strings.HasSuffix(v, "7") })
		d := br.Default("d")
		prefix := func(p string) func(string, string) string { return func(_, v string) string { return p + v } }
		merged := topology.Merge(topology.Merge(topology.MapValues(a, prefix("A")), topology.MapValues(bb, prefix("B"))), topology.MapValues(d, prefix("D")))
		toStrings(merged, out)
	}},
	{name: "merge", inputs: []string{"s1", "s2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		toStrings(topology.Merge(stream(b, topic, "s1"), stream(b, topic, "s2")), out)
	}},

	// Aggregations: by key, by sequence (every update is written: caches are off); after
	// a repartition (groupBy, table groupBy), by final value.
	{name: "count", inputs: []string{"s1"}, values: longValues, compare: bySequence, restart: true, build: func(b *topology.Builder, topic func(string) string, out string) {
		toLongs(topology.ToStream(topology.Count(topology.GroupByKey(stream(b, topic, "s1"), "count"), "count")), out)
	}},
	{name: "aggregate", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		t := topology.Aggregate(topology.GroupByKey(stream(b, topic, "s1"), "agg"), "agg", zero, sumNum, serde.Int64())
		toLongs(topology.ToStream(t), out)
	}},
	{name: "reduce-groupby", inputs: []string{"s1"}, compare: byFinalValue, build: func(b *topology.Builder, topic func(string) string, out string) {
		g := topology.GroupBy(stream(b, topic, "s1"), "rg", func(_, v string) string { return "g" + strconv.FormatInt(num(v)%3, 10) }, serde.String())
		toStrings(topology.ToStream(topology.Reduce(g, "rg-store", maxString)), out)
	}},
	{name: "cogroup", inputs: []string{"s1", "s2"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		c := topology.Cogroup(topology.GroupByKey(stream(b, topic, "s1"), "cg1"), sumNum)
		c = topology.CogroupCogrouped(c, topology.GroupByKey(stream(b, topic, "s2"), "cg2"), func(_ string, v string, agg int64) int64 { return agg + 1000*num(v) })
		toLongs(topology.ToStream(topology.AggregateCogrouped(c, "cg", zero, serde.Int64())), out)
	}},
	{name: "table-aggregate", inputs: []string{"t1"}, values: longValues, compare: byFinalValue, build: func(b *topology.Builder, topic func(string) string, out string) {
		g := topology.GroupByTable(table(b, topic, "t1"), "ta", func(_, v string) topology.KeyValue[string, int64] {
			return topology.Pair(foreignKey(v), num(v))
		}, serde.String(), serde.Int64())
		t := topology.AggregateTable(g, "ta-store", zero,
			func(_ string, v, agg int64) int64 { return agg + v },
			func(_ string, v, agg int64) int64 { return agg - v }, serde.Int64())
		toLongs(topology.ToStream(t), out)
	}},
	{name: "table-reduce", inputs: []string{"t1"}, values: longValues, compare: byFinalValue, build: func(b *topology.Builder, topic func(string) string, out string) {
		nums := topology.MapValuesTable(table(b, topic, "t1"), func(_, v string) int64 { return num(v) })
		g := topology.GroupByTable(nums, "tr", func(_ string, v int64) topology.KeyValue[string, int64] {
			return topology.Pair("p"+strconv.FormatInt(v%2, 10), v)
		}, serde.String(), serde.Int64())
		t := topology.ReduceTable(g, "tr-store", func(agg, v int64) int64 { return agg + v }, func(agg, v int64) int64 { return agg - v })
		toLongs(topology.ToStream(t), out)
	}},
	{name: "table-count", inputs: []string{"t1"}, values: longValues, compare: byFinalValue, build: func(b *topology.Builder, topic func(string) string, out string) {
		f := topology.FilterTable(table(b, topic, "t1"), func(_, v string) bool { return num(v)%5 != 0 })
		g := topology.GroupByTable(f, "tc", func(_, v string) topology.KeyValue[string, string] {
			return topology.Pair(foreignKey(v), v)
		}, serde.String(), serde.String())
		toLongs(topology.ToStream(topology.CountTable(g, "tc-store")), out)
	}},

	// Windows: all kinds, grace 0 and positive, emit on update and on close, on s1 without
	// its null values: Kafka Streams 4.4 counts null values in time and session windows,
	// against its javadoc, and Eddy drops them as documented there (DESIGN.md, "Windows",
	// its differences), so that outputs with them differ by design in every window they
	// fall in.
	{name: "tumbling", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBy(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "tw"), topology.TimeWindowsOfSizeWithNoGrace(10*time.Second))
		toWindowed(topology.CountWindowed(w, "tw"), out, serde.Int64())
	}},
	{name: "tumbling-grace-final", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBy(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "tgf"), topology.TimeWindowsOfSizeAndGrace(10*time.Second, 5*time.Second))
		toWindowed(topology.CountWindowed(w.Emit(topology.EmitOnWindowClose), "tgf"), out, serde.Int64())
	}},
	{name: "hopping", inputs: []string{"s1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBy(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "hw"),
			topology.TimeWindowsOfSizeAndGrace(10*time.Second, 3*time.Second).AdvanceBy(5*time.Second))
		toWindowed(topology.ReduceWindowed(w, "hw", maxString), out, serde.String())
	}},
	{name: "hopping-final", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBy(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "hf"),
			topology.TimeWindowsOfSizeWithNoGrace(10*time.Second).AdvanceBy(5*time.Second))
		toWindowed(topology.AggregateWindowed(w.Emit(topology.EmitOnWindowClose), "hf", zero, sumNum, serde.Int64()), out, serde.Int64())
	}},
	{name: "sliding", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBy(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "sw"), topology.SlidingWindowsOfTimeDifferenceAndGrace(5*time.Second, 2*time.Second))
		toWindowed(topology.CountWindowed(w, "sw"), out, serde.Int64())
	}},
	{name: "sliding-final", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBy(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "sf"), topology.SlidingWindowsOfTimeDifferenceWithNoGrace(5*time.Second))
		toWindowed(topology.CountWindowed(w.Emit(topology.EmitOnWindowClose), "sf"), out, serde.Int64())
	}},
	{name: "session", inputs: []string{"s1"}, values: longValues, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBySession(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "ses"), topology.SessionWindowsOfInactivityGapWithNoGrace(5*time.Second))
		toWindowed(topology.CountSession(w, "ses"), out, serde.Int64())
	}},
	{name: "session-grace-final", inputs: []string{"s1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.WindowedBySession(topology.GroupByKey(nonNull(stream(b, topic, "s1")), "sgf"), topology.SessionWindowsOfInactivityGapAndGrace(5*time.Second, 3*time.Second))
		toWindowed(topology.ReduceSession(w.Emit(topology.EmitOnWindowClose), "sgf", maxString), out, serde.String())
	}},

	// Joins: stream-stream with asymmetric windows, stream-table, table-table,
	// foreign-key, global. Both inputs of a join are in one task, whose order of
	// processing the runs define (differential_test.go), so by sequence; foreign-key
	// results travel through the subscription and response topics, so by final value.
	{name: "ss-inner", inputs: []string{"s1", "s2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.JoinWindowsOfTimeDifferenceAndGrace(2*time.Second, 2*time.Second).Before(5 * time.Second)
		toStrings(topology.JoinWindowed(stream(b, topic, "s1"), stream(b, topic, "s2"), "ssi", w,
			func(_, v, o string) string { return v + "+" + o }), out)
	}},
	{name: "ss-left", inputs: []string{"s1", "s2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.JoinWindowsOfTimeDifferenceWithNoGrace(3 * time.Second).After(time.Second)
		toStrings(topology.LeftJoinWindowed(stream(b, topic, "s1"), stream(b, topic, "s2"), "ssl", w,
			func(_, v, o string, found bool) string { return v + "+" + opt(o, found) }), out)
	}},
	{name: "ss-outer", inputs: []string{"s1", "s2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.JoinWindowsOfTimeDifferenceAndGrace(2*time.Second, 2*time.Second).Before(4 * time.Second)
		toStrings(topology.OuterJoinWindowed(stream(b, topic, "s1"), stream(b, topic, "s2"), "sso", w,
			func(_, v string, found bool, o string, otherFound bool) string {
				return opt(v, found) + "+" + opt(o, otherFound)
			}), out)
	}},
	// ss-late: the minimal case of a late record joining records the other side already
	// expired (issue 13): its inputs are lateLeft and lateRight (differential_test.go).
	{name: "ss-late", inputs: []string{"late-l", "late-r"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		w := topology.JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 2*time.Second)
		toStrings(topology.JoinWindowed(stream(b, topic, "late-l"), stream(b, topic, "late-r"), "late", w,
			func(_, v, o string) string { return v + "+" + o }), out)
	}},
	{name: "st-inner", inputs: []string{"s1", "t1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		toStrings(topology.Join(stream(b, topic, "s1"), table(b, topic, "t1"), "sti",
			func(_, v, t string) string { return v + "*" + t }), out)
	}},
	{name: "st-left", inputs: []string{"s1", "t1"}, compare: bySequence, restart: true, build: func(b *topology.Builder, topic func(string) string, out string) {
		toStrings(topology.LeftJoin(stream(b, topic, "s1"), table(b, topic, "t1"), "stl",
			func(_, v, t string, found bool) string { return v + "*" + opt(t, found) }), out)
	}},
	// st-left-backlog: a stream-table left join over a table backlog of several fetches
	// (genInputs: big-s, big-t); in the backlog run, only a side that waits for the
	// table's backlog before it processes later stream records (Kafka Streams' task
	// idling, KIP-695) joins each stream record with the table as of its timestamp.
	{name: "st-left-backlog", inputs: []string{"big-s", "big-t"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		toStrings(topology.LeftJoin(stream(b, topic, "big-s"), table(b, topic, "big-t"), "stb",
			func(_, v, t string, found bool) string { return v + "*" + opt(t, found) }), out)
	}},
	{name: "tt-inner", inputs: []string{"t1", "t2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		t := topology.JoinTable(table(b, topic, "t1"), table(b, topic, "t2"), "tti",
			func(_, v, o string) string { return v + "&" + o }, serde.String())
		toStrings(topology.ToStream(t), out)
	}},
	{name: "tt-left", inputs: []string{"t1", "t2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		t := topology.LeftJoinTable(table(b, topic, "t1"), table(b, topic, "t2"), "ttl",
			func(_, v, o string, found bool) string { return v + "&" + opt(o, found) }, serde.String())
		toStrings(topology.ToStream(t), out)
	}},
	{name: "tt-outer", inputs: []string{"t1", "t2"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		t := topology.OuterJoinTable(table(b, topic, "t1"), table(b, topic, "t2"), "tto",
			func(_, v string, found bool, o string, otherFound bool) string {
				return opt(v, found) + "&" + opt(o, otherFound)
			}, serde.String())
		toStrings(topology.ToStream(t), out)
	}},
	{name: "fk-inner", inputs: []string{"t1", "fk"}, compare: byFinalValue, build: func(b *topology.Builder, topic func(string) string, out string) {
		t := topology.JoinFK(table(b, topic, "t1"), table(b, topic, "fk"), "fki", foreignKey,
			func(v, o string) string { return v + "^" + o }, serde.String())
		toStrings(topology.ToStream(t), out)
	}},
	{name: "fk-left", inputs: []string{"t1", "fk"}, compare: byFinalValue, build: func(b *topology.Builder, topic func(string) string, out string) {
		t := topology.LeftJoinFK(table(b, topic, "t1"), table(b, topic, "fk"), "fkl", foreignKey,
			func(v, o string) string { return v + "^" + o }, serde.String())
		toStrings(topology.ToStream(t), out)
	}},
	{name: "global-inner", inputs: []string{"s1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		g := topology.GlobalTableFrom(b, topic("g"), "g", serde.String(), serde.String())
		toStrings(topology.JoinGlobal(stream(b, topic, "s1"), g, globalKey, func(v, gv string) string { return v + "@" + gv }), out)
	}},
	{name: "global-left", inputs: []string{"s1"}, compare: bySequence, build: func(b *topology.Builder, topic func(string) string, out string) {
		g := topology.GlobalTableFrom(b, topic("g"), "g", serde.String(), serde.String())
		toStrings(topology.LeftJoinGlobal(stream(b, topic, "s1"), g, globalKey, func(v, gv string) string { return v + "@" + gv }), out)
	}},
}

func globalKey(_, v string) string { return "f" + strconv.FormatInt(num(v)%6, 10) }
