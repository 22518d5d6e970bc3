package topology_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// buildWindowedJoins builds the three stream-stream joins of left and right in one
// topology, writing their results to inner-out, left-out and outer-out.
func buildWindowedJoins(t *testing.T, windows topology.JoinWindows) *topology.Builder {
	t.Helper()
	b := topology.NewBuilder()
	l := topology.StreamFrom(b, "left", serde.String(), serde.String())
	r := topology.StreamFrom(b, "right", serde.String(), serde.String())
	topology.To(topology.JoinWindowed(l, r, "inner", windows, func(_, v, o string) string { return joinArgs(v, true, o, true) }), "inner-out", serde.String(), serde.String())
	topology.To(topology.LeftJoinWindowed(l, r, "left", windows, func(_, v, o string, found bool) string { return joinArgs(v, true, o, found) }), "left-out", serde.String(), serde.String())
	topology.To(topology.OuterJoinWindowed(l, r, "outer", windows, func(_, v string, hasV bool, o string, hasO bool) string { return joinArgs(v, hasV, o, hasO) }), "outer-out", serde.String(), serde.String())
	return b
}

// TestStreamStreamJoinFollowsTheDocumentedSemantics reproduces the table "Semantics of
// stream-stream joins" of Kafka Streams' documentation (dsl-api.html, KStream-KStream
// Join), row by row: windows of a 10 s time difference with a grace period of 5 s, and
// left and outer results emitted only once the grace period passed. The table assumes
// that its rows 1 to 15 all fall in one window (with 10 s windows, A at 3 and d at 14
// would be 11 apart): they are given timestamps in milliseconds, the later rows (40 to
// 100) in seconds.
func TestStreamStreamJoinFollowsTheDocumentedSemantics(t *testing.T) {
	type outputs struct{ inner, left, outer []string }
	all := func(results ...string) outputs { return outputs{inner: results, left: results, outer: results} }
	rows := []struct {
		at   time.Time
		in   joinInput
		want outputs
	}{
		{at: time.UnixMilli(1), in: joinInput{left: "null"}},
		{at: time.UnixMilli(2), in: joinInput{right: "null"}},
		{at: time.UnixMilli(3), in: joinInput{left: "A"}},
		{at: time.UnixMilli(4), in: joinInput{right: "a"}, want: all("[A, a]")},
		{at: time.UnixMilli(5), in: joinInput{left: "B"}, want: all("[B, a]")},
		{at: time.UnixMilli(6), in: joinInput{right: "b"}, want: all("[A, b]", "[B, b]")},
		{at: time.UnixMilli(7), in: joinInput{left: "null"}},
		{at: time.UnixMilli(8), in: joinInput{right: "null"}},
		{at: time.UnixMilli(9), in: joinInput{left: "C"}, want: all("[C, a]", "[C, b]")},
		{at: time.UnixMilli(10), in: joinInput{right: "c"}, want: all("[A, c]", "[B, c]", "[C, c]")},
		{at: time.UnixMilli(11), in: joinInput{right: "null"}},
		{at: time.UnixMilli(12), in: joinInput{left: "null"}},
		{at: time.UnixMilli(13), in: joinInput{right: "null"}},
		{at: time.UnixMilli(14), in: joinInput{right: "d"}, want: all("[A, d]", "[B, d]", "[C, d]")},
		{at: time.UnixMilli(15), in: joinInput{left: "D"}, want: all("[D, a]", "[D, b]", "[D, c]", "[D, d]")},
		{at: time.Unix(40, 0), in: joinInput{left: "E"}},
		{at: time.Unix(60, 0), in: joinInput{left: "F"}, want: outputs{left: []string{"[E, null]"}, outer: []string{"[E, null]"}}},
		{at: time.Unix(80, 0), in: joinInput{right: "f"}, want: outputs{left: []string{"[F, null]"}, outer: []string{"[F, null]"}}},
		{at: time.Unix(100, 0), in: joinInput{left: "G"}, want: outputs{outer: []string{"[null, f]"}}},
	}
	d := startDriver(t, buildWindowedJoins(t, topology.JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 5*time.Second)))
	outs := map[string]*joinReader{}
	for _, variant := range []string{"inner", "left", "outer"} {
		outs[variant] = &joinReader{d: d, topic: variant + "-out"}
	}
	for _, row := range rows {
		piped := pipeJoinInput(t, d, row.in, row.at)
		for variant, want := range map[string][]string{"inner": row.want.inner, "left": row.want.left, "outer": row.want.outer} {
			if got := joinValues(outs[variant].read()); !slices.Equal(got, want) {
				t.Errorf("%s join, %s at %v: got %v, want %v", variant, piped, row.at.UnixMilli(), got, want)
			}
		}
	}
}

// Kafka Streams' JoinWindows: a left record at t joins the right records in
// [t - before, t + after], both bounds included, whichever arrives first.
func TestJoinWindowedBoundsAreInclusive(t *testing.T) {
	windows := topology.JoinWindowsOfTimeDifferenceAndGrace(0, time.Hour).Before(10 * time.Millisecond).After(20 * time.Millisecond)
	cases := []struct {
		name       string
		rightAt    int64 // the left record is at 1000
		rightFirst bool
		joins      bool
	}{
		{"a right record exactly before the left one joins", 990, false, true},
		{"a right record one millisecond more before does not join", 989, false, false},
		{"a right record exactly after the left one joins", 1020, false, true},
		{"a right record one millisecond more after does not join", 1021, false, false},
		{"a right record exactly before, arriving first, joins", 990, true, true},
		{"a right record one millisecond more before, arriving first, does not join", 989, true, false},
		{"a right record exactly after, arriving first, joins", 1020, true, true},
		{"a right record one millisecond more after, arriving first, does not join", 1021, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := startDriver(t, buildWindowedJoins(t, windows))
			if c.rightFirst {
				pipeJoin(t, d, "right", keyOf("k"), "a", time.UnixMilli(c.rightAt))
				pipeJoin(t, d, "left", keyOf("k"), "A", time.UnixMilli(1000))
			} else {
				pipeJoin(t, d, "left", keyOf("k"), "A", time.UnixMilli(1000))
				pipeJoin(t, d, "right", keyOf("k"), "a", time.UnixMilli(c.rightAt))
			}
			got := (&joinReader{d: d, topic: "inner-out"}).read()
			var want []joinOut
			if c.joins {
				want = []joinOut{{key: "k", value: "[A, a]", ts: max(1000, c.rightAt)}}
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v (the later timestamp)", got, want)
			}
		})
	}
}

// Kafka Streams 3.1+ (KIP-633): a left or outer join emits a record that joined nothing
// only once its window closed, that is once the join's stream time is past the record's
// time + after + grace (+ before for a right record of an outer join), and not at all
// when a record joins it within the grace period.
func TestJoinWindowedEmitsUnjoinedRecordsOnceTheirWindowCloses(t *testing.T) {
	// A left record at 100 looks 5 ms ahead, a right record 30 ms (it joins left records
	// up to 30 ms after it); the grace period is 10 ms.
	windows := topology.JoinWindowsOfTimeDifferenceAndGrace(0, 10*time.Millisecond).Before(30 * time.Millisecond).After(5 * time.Millisecond)
	type step struct {
		topic, key, value string
		at                int64
		left, outer       []joinOut
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a left record is emitted once stream time passes its time + after + grace", []step{
			{topic: "left", key: "k", value: "A", at: 100},
			{topic: "left", key: "other", value: "X", at: 114},
			{topic: "left", key: "other", value: "Y", at: 115},
			{topic: "left", key: "other", value: "Z", at: 116,
				left:  []joinOut{{key: "k", value: "[A, null]", ts: 100}},
				outer: []joinOut{{key: "k", value: "[A, null]", ts: 100}}},
		}},
		{"a right record of an outer join is emitted once stream time passes its time + before + grace", []step{
			{topic: "right", key: "k", value: "a", at: 100},
			{topic: "right", key: "other", value: "x", at: 140},
			{topic: "right", key: "other", value: "y", at: 141,
				outer: []joinOut{{key: "k", value: "[null, a]", ts: 100}}},
		}},
		{"a right record joining within the grace period prevents the left result", []step{
			{topic: "left", key: "k", value: "A", at: 100},
			{topic: "left", key: "other", value: "X", at: 113},
			{topic: "right", key: "k", value: "a", at: 105,
				left:  []joinOut{{key: "k", value: "[A, a]", ts: 105}},
				outer: []joinOut{{key: "k", value: "[A, a]", ts: 105}}},
			{topic: "left", key: "other", value: "Y", at: 200,
				left:  []joinOut{{key: "other", value: "[X, null]", ts: 113}},
				outer: []joinOut{{key: "other", value: "[X, null]", ts: 113}}},
		}},
		{"a record whose window ended before it arrived is emitted at once", []step{
			{topic: "left", key: "other", value: "X", at: 200},
			{topic: "left", key: "k", value: "A", at: 150,
				left:  []joinOut{{key: "k", value: "[A, null]", ts: 150}},
				outer: []joinOut{{key: "k", value: "[A, null]", ts: 150}}},
		}},
		{"records still waiting are emitted in timestamp order", []step{
			{topic: "left", key: "k2", value: "B", at: 101},
			{topic: "left", key: "k1", value: "A", at: 100},
			{topic: "left", key: "k3", value: "C", at: 300,
				left:  []joinOut{{key: "k1", value: "[A, null]", ts: 100}, {key: "k2", value: "[B, null]", ts: 101}},
				outer: []joinOut{{key: "k1", value: "[A, null]", ts: 100}, {key: "k2", value: "[B, null]", ts: 101}}},
		}},
		{"duplicates of a key and time wait and are emitted each", []step{
			{topic: "left", key: "k", value: "A", at: 100},
			{topic: "left", key: "k", value: "B", at: 100},
			{topic: "left", key: "other", value: "X", at: 116,
				left:  []joinOut{{key: "k", value: "[A, null]", ts: 100}, {key: "k", value: "[B, null]", ts: 100}},
				outer: []joinOut{{key: "k", value: "[A, null]", ts: 100}, {key: "k", value: "[B, null]", ts: 100}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := startDriver(t, buildWindowedJoins(t, windows))
			left, outer := &joinReader{d: d, topic: "left-out"}, &joinReader{d: d, topic: "outer-out"}
			for i, st := range c.steps {
				pipeJoin(t, d, st.topic, keyOf(st.key), st.value, time.UnixMilli(st.at))
				// Results of the record itself (joins) come before those it released.
				if got := left.read(); !slices.Equal(got, st.left) {
					t.Errorf("step %d (%s %s=%s@%d): left join wrote %v, want %v", i, st.topic, st.key, st.value, st.at, got, st.left)
				}
				if got := outer.read(); !slices.Equal(got, st.outer) {
					t.Errorf("step %d (%s %s=%s@%d): outer join wrote %v, want %v", i, st.topic, st.key, st.value, st.at, got, st.outer)
				}
			}
		})
	}
}

// Kafka Streams 3.7+ (KIP-962): left and outer stream-stream joins keep records with a
// null key of their outer sides, joined at once with nothing; inner joins drop them;
// every join drops records with a null value.
func TestJoinWindowedNulls(t *testing.T) {
	cases := []struct {
		name               string
		topic              string
		key                *string
		value              string
		inner, left, outer []joinObserved
	}{
		{name: "a left record with a null key is kept by left and outer joins", topic: "left", value: "A",
			left: []joinObserved{{nullKey: true, value: "[A, null]"}}, outer: []joinObserved{{nullKey: true, value: "[A, null]"}}},
		{name: "a right record with a null key is kept by the outer join only", topic: "right", value: "a",
			outer: []joinObserved{{nullKey: true, value: "[null, a]"}}},
		{name: "a left record with a null value is dropped", topic: "left", key: keyOf("k"), value: "null"},
		{name: "a right record with a null value is dropped", topic: "right", key: keyOf("k"), value: "null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			windows := topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0)
			b := topology.NewBuilder()
			l := topology.StreamFrom(b, "left", serde.String(), serde.String())
			r := topology.StreamFrom(b, "right", serde.String(), serde.String())
			inner := observeJoin(b, topology.JoinWindowed(l, r, "inner", windows, func(_, v, o string) string { return joinArgs(v, true, o, true) }))
			left := observeJoin(b, topology.LeftJoinWindowed(l, r, "left", windows, func(_, v, o string, found bool) string { return joinArgs(v, true, o, found) }))
			outer := observeJoin(b, topology.OuterJoinWindowed(l, r, "outer", windows, func(_, v string, hasV bool, o string, hasO bool) string { return joinArgs(v, hasV, o, hasO) }))
			d := startDriver(t, b)
			// The other joinInput holds a record of the key, which a null value must not join.
			other := map[string]string{"left": "right", "right": "left"}[c.topic]
			pipeJoin(t, d, other, keyOf("k"), "Z", time.UnixMilli(100))
			*inner, *left, *outer = nil, nil, nil
			pipeJoin(t, d, c.topic, c.key, c.value, time.UnixMilli(100))
			if !slices.Equal(*inner, c.inner) {
				t.Errorf("inner join forwarded %v, want %v", *inner, c.inner)
			}
			if !slices.Equal(*left, c.left) {
				t.Errorf("left join forwarded %v, want %v", *left, c.left)
			}
			if !slices.Equal(*outer, c.outer) {
				t.Errorf("outer join forwarded %v, want %v", *outer, c.outer)
			}
		})
	}
}

// The stores are named as Kafka Streams names them after StreamJoined.withStoreName.
func TestJoinWindowedStoresAndRepartitionTopics(t *testing.T) {
	windows := topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0)
	cases := []struct {
		name   string
		join   func(l, r topology.Stream[string, string]) topology.Stream[string, string]
		stores []string
	}{
		{"an inner join keeps both sides", func(l, r topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.JoinWindowed(l, r, "j", windows, func(_, v, o string) string { return v + o })
		}, []string{"j-this-join-store", "j-other-join-store"}},
		{"a left join keeps the records waiting in a shared store", func(l, r topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.LeftJoinWindowed(l, r, "j", windows, func(_, v, o string, _ bool) string { return v + o })
		}, []string{"j-this-join-store", "j-outer-other-join-store", "j-left-shared-join-store"}},
		{"an outer join names all its stores outer", func(l, r topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.OuterJoinWindowed(l, r, "j", windows, func(_, v string, _ bool, o string, _ bool) string { return v + o })
		}, []string{"j-outer-this-join-store", "j-outer-other-join-store", "j-outer-shared-join-store"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder(topology.RequireExplicitNames())
			l := topology.SelectKey(topology.StreamFrom(b, "left", serde.String(), serde.String()), func(_, v string) string { return v })
			r := topology.SelectKey(topology.StreamFrom(b, "right", serde.String(), serde.String()), func(_, v string) string { return v })
			topology.To(c.join(l, r), "out", serde.String(), serde.String())
			topo := buildTopology(t, b)
			desc := topo.Describe()
			for _, s := range c.stores {
				if !strings.Contains(desc, s) {
					t.Errorf("no store %s in\n%s", s, desc)
				}
			}
			if topics := internalTopicNames(topo); !slices.Equal(topics, []string{"j-left-repartition", "j-right-repartition"}) {
				t.Errorf("internal topics %v, want j-left-repartition and j-right-repartition", topics)
			}
			d := startDriver(t, b)
			pipeJoin(t, d, "left", keyOf("x"), "k", time.UnixMilli(1))
			pipeJoin(t, d, "right", keyOf("y"), "k", time.UnixMilli(2))
			got := (&joinReader{d: d, topic: "out"}).read()
			if len(got) != 1 || got[0].key != "k" || got[0].value != "kk" {
				t.Errorf("got %v, want k:kk: both sides rekeyed by value", got)
			}
			// The window store's changelog holds the record put and the store's meta records.
			if n := len(d.Written("eddytest-" + c.stores[0] + "-changelog")); n == 0 {
				t.Errorf("no record in the changelog of %s", c.stores[0])
			}
		})
	}
}

func TestJoinWindowedProblemsAreReportedByBuild(t *testing.T) {
	cases := []buildProblem{
		{"inverted windows", func(b *topology.Builder) {
			l := topology.StreamFrom(b, "l", serde.String(), serde.String())
			r := topology.StreamFrom(b, "r", serde.String(), serde.String())
			w := topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0).Before(-2 * time.Second)
			topology.JoinWindowed(l, r, "j", w, func(_, v, _ string) string { return v })
		}, "inverted"},
		{"a negative grace period", func(b *topology.Builder) {
			l := topology.StreamFrom(b, "l", serde.String(), serde.String())
			r := topology.StreamFrom(b, "r", serde.String(), serde.String())
			topology.LeftJoinWindowed(l, r, "j", topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, -time.Second), func(_, v, _ string, _ bool) string { return v })
		}, "negative grace"},
		{"unknown value serdes", func(b *topology.Builder) {
			l := topology.MapValues(topology.StreamFrom(b, "l", serde.String(), serde.String()), func(_, v string) int { return len(v) })
			r := topology.StreamFrom(b, "r", serde.String(), serde.String())
			topology.OuterJoinWindowed(l, r, "j", topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0), func(_ string, n int, _ bool, _ string, _ bool) int { return n })
		}, "serdes of both streams"},
		{"a nil joiner", func(b *topology.Builder) {
			l := topology.StreamFrom(b, "l", serde.String(), serde.String())
			r := topology.StreamFrom(b, "r", serde.String(), serde.String())
			topology.JoinWindowed[string, string, string, string](l, r, "j", topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0), nil)
		}, "joiner is nil"},
		{"a generated store name under RequireExplicitNames", func(b *topology.Builder) {
			l := topology.StreamFrom(b, "l", serde.String(), serde.String())
			r := topology.StreamFrom(b, "r", serde.String(), serde.String())
			topology.JoinWindowed(l, r, "", topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0), func(_, v, _ string) string { return v })
		}, "generated name"},
	}
	expectBuildProblems(t, cases, topology.RequireExplicitNames())
}

// The join stores retain duplicates (Kafka Streams' retainDuplicates): records of one
// key and timestamp are each joined, in the order they arrived.
func TestJoinWindowedJoinsEveryDuplicate(t *testing.T) {
	d := startDriver(t, buildWindowedJoins(t, topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0)))
	pipeJoin(t, d, "left", keyOf("k"), "A", time.UnixMilli(100))
	pipeJoin(t, d, "left", keyOf("k"), "B", time.UnixMilli(100))
	pipeJoin(t, d, "right", keyOf("k"), "a", time.UnixMilli(100))
	pipeJoin(t, d, "right", keyOf("k"), "b", time.UnixMilli(100))
	want := []string{"[A, a]", "[B, a]", "[A, b]", "[B, b]"}
	for _, variant := range []string{"inner", "left", "outer"} {
		if got := joinValues((&joinReader{d: d, topic: variant + "-out"}).read()); !slices.Equal(got, want) {
			t.Errorf("%s join: got %v, want %v", variant, got, want)
		}
	}
}
