package topology_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

type strRecord = eddytest.TestRecord[string, string]

func rec(key, value string, ms int64) strRecord {
	return strRecord{Key: key, Value: value, Timestamp: time.UnixMilli(ms)}
}

func nullValue(key string, ms int64) strRecord {
	return strRecord{Key: key, ValueNull: true, Timestamp: time.UnixMilli(ms)}
}

func nullKey(value string, ms int64) strRecord {
	return strRecord{Value: value, KeyNull: true, Timestamp: time.UnixMilli(ms)}
}

// pipeAll pipes records into topic.
func pipeAll(t *testing.T, d *eddytest.Driver, topic string, records []strRecord) {
	t.Helper()
	in := eddytest.InputTopic(d, topic, serde.String(), serde.String())
	for _, r := range records {
		if err := in.PipeWithNulls(r); err != nil {
			t.Fatalf("piping %+v: %v", r, err)
		}
	}
}

// readAll reads the unread records of topic.
func readAll(t *testing.T, d *eddytest.Driver, topic string) []strRecord {
	t.Helper()
	got, err := eddytest.OutputTopic(d, topic, serde.String(), serde.String()).ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// runStream pipes in through op, from the topic "in" to the topic "out", and returns
// what "out" received.
func runStream(t *testing.T, op func(topology.Stream[string, string]) topology.Stream[string, string], in []strRecord) []strRecord {
	t.Helper()
	b := topology.NewBuilder()
	topology.To(op(topology.StreamFrom(b, "in", serde.String(), serde.String())), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	pipeAll(t, d, "in", in)
	return readAll(t, d, "out")
}

func sameRecords(t *testing.T, got, want []strRecord) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// The inputs of the operator tests: an ordinary record, one with a null value (a
// tombstone), one with a null key, and one the functions below treat specially.
var operatorInput = []strRecord{rec("a", "x y", 1), nullValue("b", 2), nullKey("z", 3), rec("c", "drop", 4)}

// The expectations follow Kafka Streams' KStream javadoc: user functions see every
// record, nulls included (as zero values here); filter and peek pass a record on
// unchanged, nulls included; mapValues and flatMapValues keep the key, null or not;
// selectKey keeps the value, null or not; what a function returns is never null.
func TestStatelessOperators(t *testing.T) {
	cases := []struct {
		name string
		op   func(topology.Stream[string, string]) topology.Stream[string, string]
		want []strRecord
	}{
		{
			name: "filter keeps the records the predicate accepts, nulls unchanged",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.Filter(s, func(_, v string) bool { return v != "drop" })
			},
			want: []strRecord{rec("a", "x y", 1), nullValue("b", 2), nullKey("z", 3)},
		},
		{
			name: "filter gives the predicate a null as the zero value",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.Filter(s, func(k, v string) bool { return k == "" || v == "" })
			},
			want: []strRecord{nullValue("b", 2), nullKey("z", 3)},
		},
		{
			name: "filter-not drops the records the predicate accepts",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.FilterNot(s, func(_, v string) bool { return v == "drop" })
			},
			want: []strRecord{rec("a", "x y", 1), nullValue("b", 2), nullKey("z", 3)},
		},
		{
			name: "map-values maps every value and keeps the key and its nullness",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.MapValues(s, func(k, v string) string { return k + ":" + strings.ToUpper(v) })
			},
			want: []strRecord{rec("a", "a:X Y", 1), rec("b", "b:", 2), {Value: ":Z", KeyNull: true, Timestamp: time.UnixMilli(3)}, rec("c", "c:DROP", 4)},
		},
		{
			name: "map replaces key and value, so that neither is null",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.Map(s, func(k, v string) topology.KeyValue[string, string] { return topology.Pair(v, k) })
			},
			want: []strRecord{rec("x y", "a", 1), rec("", "b", 2), rec("z", "", 3), rec("drop", "c", 4)},
		},
		{
			name: "flat-map-values forwards each value with the key and its nullness",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.FlatMapValues(s, func(_, v string) []string { return strings.Fields(v) })
			},
			want: []strRecord{rec("a", "x", 1), rec("a", "y", 1), {Value: "z", KeyNull: true, Timestamp: time.UnixMilli(3)}, rec("c", "drop", 4)},
		},
		{
			name: "flat-map forwards each pair, none of them null",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.FlatMap(s, func(k, v string) []topology.KeyValue[string, string] {
					var out []topology.KeyValue[string, string]
					for _, w := range strings.Fields(v) {
						out = append(out, topology.Pair(w, k))
					}
					return out
				})
			},
			want: []strRecord{rec("x", "a", 1), rec("y", "a", 1), rec("z", "", 3), rec("drop", "c", 4)},
		},
		{
			name: "select-key replaces the key and keeps the value and its nullness",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.SelectKey(s, func(k, v string) string { return "<" + k + ">" })
			},
			want: []strRecord{rec("<a>", "x y", 1), nullValue("<b>", 2), rec("<>", "z", 3), rec("<c>", "drop", 4)},
		},
		{
			name: "peek passes every record on unchanged",
			op: func(s topology.Stream[string, string]) topology.Stream[string, string] {
				return topology.Peek(s, func(string, string) {})
			},
			want: operatorInput,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sameRecords(t, runStream(t, c.op, operatorInput), c.want)
		})
	}
}

func TestPeekAndForEachSeeEveryRecordInOrder(t *testing.T) {
	var peeked, each []string
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "in", serde.String(), serde.String())
	s = topology.Peek(s, func(k, v string) { peeked = append(peeked, k+"="+v) })
	topology.ForEach(s, func(k, v string) error {
		each = append(each, k+"="+v)
		return nil
	})
	d := startDriver(t, b)
	pipeAll(t, d, "in", operatorInput)
	want := []string{"a=x y", "b=", "=z", "c=drop"}
	if !slices.Equal(peeked, want) || !slices.Equal(each, want) {
		t.Errorf("peek saw %q and for-each %q, want %q for both", peeked, each, want)
	}
}

func TestForEachErrorFailsTheRecord(t *testing.T) {
	b := topology.NewBuilder()
	boom := fmt.Errorf("boom")
	topology.ForEach(topology.StreamFrom(b, "in", serde.String(), serde.String()), func(k, _ string) error {
		if k == "bad" {
			return boom
		}
		return nil
	}, topology.Named("side-effect"))
	d := startDriver(t, b)
	in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
	mustPipe(t, in, "good", "v", 1)
	err := in.Pipe("bad", "v", time.UnixMilli(2))
	if err == nil || !strings.Contains(err.Error(), "side-effect") {
		t.Fatalf("Pipe of the failing record = %v, want an error naming the node side-effect", err)
	}
}

// Kafka Streams' operators keep the input record's timestamp and headers (its Record
// API: with each new key or value, the rest of the record stays).
func TestOperatorsKeepTimestampAndHeaders(t *testing.T) {
	headers := []processor.Header{{Key: "trace", Value: []byte("t-1")}, {Key: "origin", Value: []byte("eu")}}
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "in", serde.String(), serde.String())
	s = topology.Filter(s, func(string, string) bool { return true })
	s = topology.FilterNot(s, func(string, string) bool { return false })
	s = topology.MapValues(s, func(_, v string) string { return v + "!" })
	s = topology.Map(s, func(k, v string) topology.KeyValue[string, string] { return topology.Pair(k+"1", v) })
	s = topology.FlatMapValues(s, func(_, v string) []string { return []string{v} })
	s = topology.FlatMap(s, func(k, v string) []topology.KeyValue[string, string] {
		return []topology.KeyValue[string, string]{topology.Pair(k, v)}
	})
	s = topology.SelectKey(s, func(k, _ string) string { return k + "2" })
	s = topology.Peek(s, func(string, string) {})
	s = topology.ProcessValues(s, pass[string, string](), nil)
	s = topology.Process(s, pass[string, string](), nil)
	s = topology.Merge(s, topology.StreamFrom(b, "other", serde.String(), serde.String()))
	split := topology.Split(s)
	topology.To(split.Branch("all", func(string, string) bool { return true }), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	pipeAll(t, d, "in", []strRecord{{Key: "k", Value: "v", Timestamp: time.UnixMilli(7), Headers: headers}})
	want := []strRecord{{Key: "k12", Value: "v!", Timestamp: time.UnixMilli(7), Headers: headers}}
	sameRecords(t, readAll(t, d, "out"), want)
}

// Kafka Streams marks a stream for repartitioning after an operator that may change the
// key (map, flatMap, selectKey, process, and merge or split of such a stream), and not
// after one that cannot (filter, mapValues, flatMapValues, peek, processValues). A
// grouping by key of a marked stream goes through a repartition topic.
func TestKeyChangingOperatorsMakeGroupingRepartition(t *testing.T) {
	type stream = topology.Stream[string, string]
	selected := func(s stream) stream { return topology.SelectKey(s, func(_, v string) string { return v }) }
	cases := []struct {
		name        string
		op          func(s stream) stream
		repartition bool
	}{
		{"a source stream keeps its partitioning", func(s stream) stream { return s }, false},
		{"filter keeps it", func(s stream) stream { return topology.Filter(s, func(string, string) bool { return true }) }, false},
		{"filter-not keeps it", func(s stream) stream { return topology.FilterNot(s, func(string, string) bool { return false }) }, false},
		{"map-values keeps it", func(s stream) stream { return topology.MapValues(s, func(_, v string) string { return v }) }, false},
		{"flat-map-values keeps it", func(s stream) stream {
			return topology.FlatMapValues(s, func(_, v string) []string { return []string{v} })
		}, false},
		{"peek keeps it", func(s stream) stream { return topology.Peek(s, func(string, string) {}) }, false},
		{"process-values keeps it", func(s stream) stream { return topology.ProcessValues(s, pass[string, string](), nil) }, false},
		{"a branch of a split keeps it", func(s stream) stream { return topology.Split(s).Default("") }, false},
		{"repartition leaves a partitioned stream", func(s stream) stream { return topology.Repartition(selected(s), "explicit", 0) }, false},
		{"map changes it", func(s stream) stream {
			return topology.Map(s, func(k, v string) topology.KeyValue[string, string] { return topology.Pair(v, k) })
		}, true},
		{"flat-map changes it", func(s stream) stream {
			return topology.FlatMap(s, func(k, v string) []topology.KeyValue[string, string] {
				return []topology.KeyValue[string, string]{topology.Pair(v, k)}
			})
		}, true},
		{"select-key changes it", selected, true},
		{"process changes it", func(s stream) stream { return topology.Process(s, pass[string, string](), nil) }, true},
		{"map-values after select-key does not undo it", func(s stream) stream {
			return topology.MapValues(selected(s), func(_, v string) string { return v })
		}, true},
		{"a branch of a split of a changed stream has it changed", func(s stream) stream {
			return topology.Split(selected(s)).Branch("b", func(string, string) bool { return true })
		}, true},
		{"merge with a changed stream changes it", func(s stream) stream {
			return topology.Merge(s, selected(topology.Filter(s, func(string, string) bool { return true })))
		}, true},
		{"merge of a changed stream with another changes it", func(s stream) stream {
			return topology.Merge(selected(s), topology.Filter(s, func(string, string) bool { return true }))
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			s := c.op(topology.StreamFrom(b, "in", serde.String(), serde.String()))
			counts := topology.Count(topology.GroupByKey(s, "grouped"), "counts")
			topology.To(topology.ToStream(counts), "out", serde.String(), serde.Int64())
			topo := buildTopology(t, b)
			names := internalTopicNames(topo)
			if got := slices.Contains(names, "grouped-repartition"); got != c.repartition {
				t.Errorf("repartition topic grouped-repartition: %t, want %t (internal topics %q)\n%s", got, c.repartition, names, topo.Describe())
			}
		})
	}
}

func TestRepartitionWritesThroughItsTopic(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	s := topology.SelectKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), func(_, v string) string { return v })
	topology.To(topology.Repartition(s, "by-value", 4), "out", serde.String(), serde.String())
	topo := buildTopology(t, b)
	its := plan.Of(topo).InternalTopics
	if len(its) != 1 || its[0].Name != "by-value-repartition" || its[0].Partitions != 4 || !slices.Equal(its[0].Upstream, []string{"in"}) {
		t.Fatalf("InternalTopics() = %+v, want by-value-repartition with 4 partitions, upstream [in]", its)
	}
	if got := len(plan.Of(topo).Subtopologies); got != 2 {
		t.Errorf("%d subtopologies, want 2: the repartition topic splits the topology", got)
	}
	d := newDriver(t, topo, eddytest.ApplicationID("app"))
	headers := []processor.Header{{Key: "h", Value: []byte("1")}}
	pipeAll(t, d, "in", []strRecord{{Key: "k", Value: "v1", Timestamp: time.UnixMilli(1), Headers: headers}, nullKey("v2", 2)})
	// selectKey gave both records a key; a null value keeps its null through the topic.
	pipeAll(t, d, "in", []strRecord{nullValue("k", 3)})
	// The driver names internal topics as the engine does, <application id>-<name>; a
	// driver that runs the topology as built names them <name>. Either way the records
	// must be there, under one of the names.
	written := d.Written("app-by-value-repartition")
	if len(written) == 0 {
		written = d.Written("by-value-repartition")
	}
	if len(written) != 3 || string(written[0].Key) != "v1" || string(written[1].Key) != "v2" || written[2].Value != nil {
		t.Errorf("the repartition topic holds %+v, want keys v1, v2 and a null value", written)
	}
	want := []strRecord{{Key: "v1", Value: "v1", Timestamp: time.UnixMilli(1), Headers: headers}, rec("v2", "v2", 2), nullValue("", 3)}
	sameRecords(t, readAll(t, d, "out"), want)
}

// Kafka Streams' repartition drops records whose key is null: they have no partition.
func TestRepartitionDropsNullKeys(t *testing.T) {
	b := topology.NewBuilder()
	topology.To(topology.Repartition(topology.StreamFrom(b, "in", serde.String(), serde.String()), "r", 0), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	pipeAll(t, d, "in", []strRecord{nullKey("lost", 1), rec("k", "kept", 2)})
	sameRecords(t, readAll(t, d, "out"), []strRecord{rec("k", "kept", 2)})
}

func TestRepartitionProblems(t *testing.T) {
	type stream = topology.Stream[string, string]
	cases := []struct {
		name  string
		build func(b *topology.Builder, s stream)
		want  string
	}{
		{"unknown serdes after a change of type are a problem", func(b *topology.Builder, s stream) {
			n := topology.MapValues(s, func(_, v string) int { return len(v) })
			topology.Repartition(n, "lengths", 0)
		}, `"lengths-repartition": the stream's serdes are not known`},
		{"a negative partition count is a problem", func(b *topology.Builder, s stream) {
			topology.Repartition(s, "neg", -1)
		}, `"neg-repartition": negative partition count -1`},
		{"the same name twice with other counts is a problem", func(b *topology.Builder, s stream) {
			topology.Repartition(s, "twice", 2)
			topology.Repartition(topology.Filter(s, func(string, string) bool { return true }), "twice", 3)
		}, `"twice-repartition": declared with 2 and 3 partitions`},
		{"a generated name is a problem under RequireExplicitNames", func(b *topology.Builder, s stream) {
			topology.Repartition(s, "", 0)
		}, "would be a generated name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder(topology.RequireExplicitNames())
			c.build(b, topology.StreamFrom(b, "in", serde.String(), serde.String()))
			expectBuildProblem(t, b, c.want)
		})
	}
}

func TestRepartitionKeepsSerdesSetWithWithSerdes(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.MapValues(topology.StreamFrom(b, "in", serde.String(), serde.String()), func(_, v string) int64 { return int64(len(v)) })
	topology.To(topology.Repartition(s.WithSerdes(serde.String(), serde.Int64()), "lengths", 0), "out", serde.String(), serde.Int64())
	d := startDriver(t, b)
	pipeAll(t, d, "in", []strRecord{rec("k", "four", 1)})
	got, err := eddytest.OutputTopic(d, "out", serde.String(), serde.Int64()).ReadAll()
	if err != nil || len(got) != 1 || got[0].Value != 4 {
		t.Errorf("ReadAll() = %v, %v; want the length 4", got, err)
	}
}

// Kafka Streams' split: predicates are tried in order, a record goes to the first
// branch that matches only, and to the default branch when none does; without a default
// branch it is dropped.
func TestSplit(t *testing.T) {
	in := []strRecord{rec("a", "1", 1), rec("b", "12", 2), rec("c", "123", 3), nullValue("d", 4), nullKey("12345", 5)}
	cases := []struct {
		name        string
		withDefault bool
		want        map[string][]strRecord
	}{
		{"a record matching no branch goes to the default branch", true, map[string][]strRecord{
			"short": {rec("a", "1", 1), rec("b", "12", 2)},
			"even":  {nullValue("d", 4)},
			"other": {rec("c", "123", 3), nullKey("12345", 5)},
		}},
		{"a record matching no branch is dropped without a default branch", false, map[string][]strRecord{
			"short": {rec("a", "1", 1), rec("b", "12", 2)},
			"even":  {nullValue("d", 4)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			split := topology.Split(topology.StreamFrom(b, "in", serde.String(), serde.String()), topology.Named("len-"))
			// "12" matches both predicates: only the first branch gets it.
			short := split.Branch("short", func(_, v string) bool { return len(v) > 0 && len(v) <= 2 })
			even := split.Branch("even", func(_, v string) bool { return len(v)%2 == 0 })
			topology.To(short, "short", serde.String(), serde.String())
			topology.To(even, "even", serde.String(), serde.String())
			wantBranches := []string{"len-even", "len-short"}
			if c.withDefault {
				topology.To(split.Default("other"), "other", serde.String(), serde.String())
				wantBranches = append(wantBranches, "len-other")
			}
			branches := split.Branches()
			slices.Sort(wantBranches)
			if names := slices.Sorted(maps.Keys(branches)); !slices.Equal(names, wantBranches) {
				t.Errorf("Branches() names %q, want %q", names, wantBranches)
			}
			if branches["len-short"].Node() != short.Node() || short.Node() != "len-short" {
				t.Errorf("branch short is node %q, Branches() has %q; want len-short", short.Node(), branches["len-short"].Node())
			}
			d := startDriver(t, b)
			pipeAll(t, d, "in", in)
			for _, topic := range slices.Sorted(maps.Keys(c.want)) {
				t.Run(topic, func(t *testing.T) { sameRecords(t, readAll(t, d, topic), c.want[topic]) })
			}
			if !c.withDefault {
				// No sink writes "other": the records of no branch went nowhere.
				_, err := eddytest.OutputTopic(d, "other", serde.String(), serde.String()).ReadAll()
				if !errors.Is(err, eddytest.ErrUnknownTopic) {
					t.Errorf("reading other without a default branch: %v, want ErrUnknownTopic", err)
				}
			}
		})
	}
}

// Kafka Streams names unnamed branches <prefix><position from 1> and the unnamed
// default branch <prefix>0; an unnamed split is KSTREAM-BRANCH-<number>.
func TestSplitNamesBranchesLikeKafkaStreams(t *testing.T) {
	b := topology.NewBuilder()
	split := topology.Split(topology.StreamFrom(b, "in", serde.String(), serde.String()))
	first := split.Branch("", func(_, v string) bool { return v == "1" })
	named := split.Branch("named", func(_, v string) bool { return v == "2" })
	third := split.Branch("", func(_, v string) bool { return v == "3" })
	rest := split.Default("")
	prefix := strings.TrimSuffix(first.Node(), "1")
	if !strings.HasPrefix(prefix, "KSTREAM-BRANCH-") {
		t.Fatalf("first branch %q, want KSTREAM-BRANCH-<number>1", first.Node())
	}
	for i, s := range []topology.Stream[string, string]{named, third, rest} {
		if want := prefix + []string{"named", "3", "0"}[i]; s.Node() != want {
			t.Errorf("branch %q, want %q", s.Node(), want)
		}
	}
	topo := buildTopology(t, b)
	want := fmt.Sprintf("    Processor: %s (stores: [])\n      --> %s1, %snamed, %s3, %s0\n", prefix, prefix, prefix, prefix, prefix)
	if !strings.Contains(topo.Describe(), want) {
		t.Errorf("Describe() =\n%s\nwant it to contain\n%s", topo.Describe(), want)
	}
}

func TestSplitProblems(t *testing.T) {
	type stream = topology.Stream[string, string]
	always := func(string, string) bool { return true }
	cases := []struct {
		name  string
		build func(s stream)
		want  string
	}{
		{"a branch after the default branch is a problem", func(s stream) {
			split := topology.Split(s, topology.Named("s-"))
			split.Default("rest")
			split.Branch("late", always)
		}, `split "s-": branch "s-late" added after the default branch`},
		{"two default branches are a problem", func(s stream) {
			split := topology.Split(s, topology.Named("s-"))
			split.Default("a")
			split.Default("b")
		}, `default branch "s-b" added after the default branch "s-a"`},
		{"a nil predicate is a problem", func(s stream) {
			topology.Split(s, topology.Named("s-")).Branch("nil", nil)
		}, `branch "s-nil": predicate is nil`},
		{"two branches of one name are a problem", func(s stream) {
			split := topology.Split(s, topology.Named("s-"))
			split.Branch("x", always)
			split.Branch("x", always)
		}, `"s-x": name already used`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			c.build(topology.StreamFrom(b, "in", serde.String(), serde.String()))
			expectBuildProblem(t, b, c.want)
		})
	}
}

func TestSplitOfAZeroStreamDoesNothing(t *testing.T) {
	var split *topology.BranchedStream[string, string]
	if s := split.Branch("a", func(string, string) bool { return true }); s.Node() != "" {
		t.Errorf("Branch of a nil split = %q, want the zero stream", s.Node())
	}
	split = topology.Split(topology.Stream[string, string]{})
	if s := split.Default("a"); s.Node() != "" || len(split.Branches()) != 0 {
		t.Errorf("Default of a split of the zero stream = %q (branches %v), want the zero stream", s.Node(), split.Branches())
	}
}

// A Topology built before a branch was added keeps routing as it was built.
func TestSplitBuiltBeforeABranchKeepsItsBranches(t *testing.T) {
	b := topology.NewBuilder()
	split := topology.Split(topology.StreamFrom(b, "in", serde.String(), serde.String()), topology.Named("s-"))
	topology.To(split.Default("all"), "out", serde.String(), serde.String())
	before := buildTopology(t, b)
	topology.To(split.Branch("late", func(string, string) bool { return true }), "late", serde.String(), serde.String())
	d := newDriver(t, before)
	pipeAll(t, d, "in", []strRecord{rec("k", "v", 1)})
	sameRecords(t, readAll(t, d, "out"), []strRecord{rec("k", "v", 1)})
}

// Merge forwards each record as it arrives, whichever input it comes from; Kafka
// Streams gives no order between the inputs, and the driver processes records in the
// order they are piped.
func TestMergeForwardsRecordsInArrivalOrder(t *testing.T) {
	b := topology.NewBuilder()
	left := topology.StreamFrom(b, "left", serde.String(), serde.String())
	right := topology.MapValues(topology.StreamFrom(b, "right", serde.String(), serde.String()), func(_, v string) string { return "r:" + v })
	topology.To(topology.Merge(left, right, topology.Named("both")), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	pipeAll(t, d, "left", []strRecord{rec("a", "1", 5)})
	pipeAll(t, d, "right", []strRecord{rec("b", "2", 1), nullValue("c", 2)})
	pipeAll(t, d, "left", []strRecord{nullKey("3", 3)})
	want := []strRecord{rec("a", "1", 5), rec("b", "r:2", 1), rec("c", "r:", 2), nullKey("3", 3)}
	sameRecords(t, readAll(t, d, "out"), want)
}

func TestMergeKeepsKnownSerdes(t *testing.T) {
	b := topology.NewBuilder()
	typed := topology.StreamFrom(b, "in", serde.String(), serde.String())
	lengths := topology.MapValues(typed, func(_, v string) int64 { return int64(len(v)) })
	known := topology.MapValues(typed, func(_, v string) int64 { return 1 }).WithSerdes(serde.String(), serde.Int64())
	topology.Repartition(topology.Merge(lengths, known), "merged", 0)
	if _, err := b.Build(); err != nil {
		t.Errorf("Build() = %v: the merged stream should have the second stream's serdes", err)
	}
}

func TestMergeProblems(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "in", serde.String(), serde.String())
	topology.Merge(s, s, topology.Named("self"))
	other := topology.NewBuilder()
	topology.Merge(s, topology.StreamFrom(other, "other", serde.String(), serde.String()), topology.Named("across"))
	topology.Merge(s, topology.Stream[string, string]{}, topology.Named("zero"))
	_, err := b.Build()
	for _, want := range []string{`merge "self": stream`, `merge "across": the streams belong to different builders`, `merge "zero"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build() = %v, want a problem containing %q", err, want)
		}
	}
	if got := topology.Merge(topology.Stream[string, string]{}, topology.Stream[string, string]{}); got.Node() != "" {
		t.Errorf("Merge of two zero streams = %q, want the zero stream", got.Node())
	}
}

var seen = store.KeyValue("seen", serde.String(), serde.Int64())

// numberer forwards each value keyed by its number of occurrences so far (kept in the
// store seen), which changes keys and types.
type numberer struct{ kv store.KV[string, int64] }

func (n *numberer) Init(ctx processor.InitContext) error { n.kv = seen.From(ctx); return nil }

func (n *numberer) Process(ctx processor.Context[int64, string], r processor.Record[string, string]) error {
	count, _, err := n.kv.Get(r.Value)
	if err != nil {
		return err
	}
	count++
	if err := n.kv.Put(r.Value, count); err != nil {
		return err
	}
	ctx.Forward(processor.Record[int64, string]{Key: count, Value: r.Key + "=" + r.Value, Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func TestProcessRunsAProcessorWithItsStores(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "in", serde.String(), serde.String())
	numbered := topology.Process(in, func() processor.Processor[string, string, int64, string] { return &numberer{} },
		[]store.Definition{seen}, topology.Named("numberer"))
	topology.To(numbered, "out", serde.Int64(), serde.String())
	// A second processor sharing the store runs in the same subtopology.
	topology.ForEach(topology.Process(in, pass[string, string](), []store.Definition{seen}, topology.Named("reader")), func(string, string) error { return nil })
	topo := buildTopology(t, b)
	for _, line := range []string{"Processor: numberer (stores: [seen])", "Processor: reader (stores: [seen])"} {
		if !strings.Contains(topo.Describe(), line) {
			t.Errorf("Describe() =\n%s\nwant the line %q", topo.Describe(), line)
		}
	}
	d := newDriver(t, topo)
	pipeAll(t, d, "in", []strRecord{rec("a", "x", 1), rec("b", "x", 2), rec("c", "y", 3)})
	got, err := eddytest.OutputTopic(d, "out", serde.Int64(), serde.String()).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []processor.Record[int64, string]{
		{Key: 1, Value: "a=x", Timestamp: time.UnixMilli(1)},
		{Key: 2, Value: "b=x", Timestamp: time.UnixMilli(2)},
		{Key: 1, Value: "c=y", Timestamp: time.UnixMilli(3)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadAll() = %+v, want %+v", got, want)
	}
	kv, err := d.KeyValueStore("seen")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := seen.Wrap(kv).Get("x"); err != nil || !ok || n != 2 {
		t.Errorf("seen[x] = %d, %t, %v; want 2", n, ok, err)
	}
}

func TestProcessForgetsSerdesOfChangedTypes(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "in", serde.String(), serde.String())
	numbered := topology.Process(in, func() processor.Processor[string, string, int64, string] { return &numberer{} }, []store.Definition{seen})
	topology.GroupByKey(numbered, "by-number")
	_, err := b.Build()
	if err == nil || !strings.Contains(err.Error(), `"by-number-repartition": the stream's serdes are not known`) {
		t.Errorf("Build() = %v, want the unknown serdes of the repartition by-number", err)
	}
	b = topology.NewBuilder()
	in = topology.StreamFrom(b, "in", serde.String(), serde.String())
	topology.Count(topology.GroupByKey(topology.Process(in, pass[string, string](), nil), "kept"), "counts")
	if _, err := b.Build(); err != nil {
		t.Errorf("Build() = %v: a processor that keeps the types keeps the serdes", err)
	}
}

// rekeyer tries to change every key, and forwards its value twice.
type rekeyer struct{}

func (rekeyer) Process(ctx processor.Context[string, int], r processor.Record[string, string]) error {
	ctx.Forward(processor.Record[string, int]{Key: "changed", Value: len(r.Value), Timestamp: r.Timestamp})
	ctx.ForwardTo("", processor.Record[string, int]{Key: "again", Value: -len(r.Value), Timestamp: r.Timestamp})
	return nil
}

func TestProcessValuesKeepsTheKeys(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "in", serde.String(), serde.String())
	lengths := topology.ProcessValues(in, func() processor.Processor[string, string, string, int] { return rekeyer{} }, nil)
	topology.To(lengths, "out", serde.String(), serde.JSON[int]())
	d := startDriver(t, b)
	pipeAll(t, d, "in", []strRecord{rec("k", "abc", 1), nullKey("xy", 2)})
	got, err := eddytest.OutputTopic(d, "out", serde.String(), serde.JSON[int]()).ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	want := []eddytest.TestRecord[string, int]{
		{Key: "k", Value: 3, Timestamp: time.UnixMilli(1)},
		{Key: "k", Value: -3, Timestamp: time.UnixMilli(1)},
		{KeyNull: true, Value: 2, Timestamp: time.UnixMilli(2)},
		{KeyNull: true, Value: -2, Timestamp: time.UnixMilli(2)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadAllWithNulls() = %+v, want %+v", got, want)
	}
}

func TestProcessProblems(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "in", serde.String(), serde.String())
	topology.Process[string, string, string, string](in, nil, nil, topology.Named("no-supplier"))
	topology.ProcessValues[string, string, string](in, nil, nil, topology.Named("no-values-supplier"))
	topology.Process(in, pass[string, string](), []store.Definition{store.KeyValue[string, string]("broken", nil, serde.String())}, topology.Named("bad-store"))
	_, err := b.Build()
	for _, want := range []string{`"no-supplier": supplier is nil`, `"no-values-supplier": supplier is nil`, `store "broken": key serde is nil`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build() = %v, want a problem containing %q", err, want)
		}
	}
}

// Every node of a DSL topology is named by the user or generated in Kafka Streams'
// style, <OPERATOR>-<10-digit number>.
func TestDSLNodeNames(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "in", serde.String(), serde.String())
	named := topology.Filter(s, func(string, string) bool { return true }, topology.Named("my-filter"))
	generated := []struct {
		s    topology.Stream[string, string]
		kind string
	}{
		{topology.Filter(s, func(string, string) bool { return true }), "KSTREAM-FILTER"},
		{topology.FilterNot(s, func(string, string) bool { return true }), "KSTREAM-FILTER"},
		{topology.MapValues(s, func(_, v string) string { return v }), "KSTREAM-MAPVALUES"},
		{topology.Map(s, func(k, v string) topology.KeyValue[string, string] { return topology.Pair(k, v) }), "KSTREAM-MAP"},
		{topology.FlatMapValues(s, func(_, v string) []string { return nil }), "KSTREAM-FLATMAPVALUES"},
		{topology.FlatMap(s, func(k, v string) []topology.KeyValue[string, string] { return nil }), "KSTREAM-FLATMAP"},
		{topology.SelectKey(s, func(k, _ string) string { return k }), "KSTREAM-KEY-SELECT"},
		{topology.Peek(s, func(string, string) {}), "KSTREAM-PEEK"},
		{topology.Merge(s, named), "KSTREAM-MERGE"},
		{topology.Process(s, pass[string, string](), nil), "KSTREAM-PROCESSOR"},
		{topology.ProcessValues(s, pass[string, string](), nil), "KSTREAM-PROCESSVALUES"},
	}
	if named.Node() != "my-filter" {
		t.Errorf("named filter %q, want my-filter", named.Node())
	}
	if !strings.HasPrefix(s.Node(), "KSTREAM-SOURCE-") {
		t.Errorf("source %q, want KSTREAM-SOURCE-<number>", s.Node())
	}
	for _, g := range generated {
		number, ok := strings.CutPrefix(g.s.Node(), g.kind+"-")
		if !ok || len(number) != 10 || strings.Trim(number, "0123456789") != "" {
			t.Errorf("node %q, want %s-<10 digits>", g.s.Node(), g.kind)
		}
	}
	if src := topology.StreamFrom(b, "other", serde.String(), serde.String(), topology.SourceNamed("lines")); src.Node() != "lines" {
		t.Errorf("named source %q, want lines", src.Node())
	}
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
}

// ticker forwards its input's values, and from a stream-time punctuator a record keyed
// "tick".
type ticker struct{}

func (ticker) Init(ctx processor.InitContext) error {
	out, err := processor.ContextOf[string, string](ctx)
	if err != nil {
		return err
	}
	_, err = ctx.Schedule(time.Hour, processor.StreamTime, func(at time.Time) error {
		out.Forward(processor.Record[string, string]{Key: "tick", Value: "punctuated", Timestamp: at})
		return nil
	})
	return err
}

func (ticker) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	ctx.Forward(processor.Record[string, string]{Key: "ignored", Value: r.Value, Timestamp: r.Timestamp})
	return nil
}

func TestProcessValuesPunctuatorsForwardTheKeysTheyGive(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "in", serde.String(), serde.String())
	topology.To(topology.ProcessValues(in, func() processor.Processor[string, string, string, string] { return ticker{} }, nil), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	pipeAll(t, d, "in", []strRecord{rec("k", "v", 1)})
	// The stream-time punctuator first fires at the task's first record, after it.
	sameRecords(t, readAll(t, d, "out"), []strRecord{rec("k", "v", 1), rec("tick", "punctuated", 1)})
}
