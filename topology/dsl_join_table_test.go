package topology_test

import (
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

// joinSemanticsInputs are the inputs of the documentation's join semantics tables (the same
// for every join kind): timestamps 1 to 15, left joinValues in upper case, right joinValues in
// lower case.
var joinSemanticsInputs = []joinInput{
	{ts: 1, left: "null"},
	{ts: 2, right: "null"},
	{ts: 3, left: "A"},
	{ts: 4, right: "a"},
	{ts: 5, left: "B"},
	{ts: 6, right: "b"},
	{ts: 7, left: "null"},
	{ts: 8, right: "null"},
	{ts: 9, left: "C"},
	{ts: 10, right: "c"},
	{ts: 11, right: "null"},
	{ts: 12, left: "null"},
	{ts: 13, right: "null"},
	{ts: 14, right: "d"},
	{ts: 15, left: "D"},
}

// checkJoinSemantics pipes joinSemanticsInputs to d row by row and checks that each row
// makes the join write the values want(row.ts) to topic, with the key "k" and the row's
// timestamp.
func checkJoinSemantics(t *testing.T, d *eddytest.Driver, topic string, want func(ts int64) []string) {
	t.Helper()
	out := &joinReader{d: d, topic: topic}
	for _, row := range joinSemanticsInputs {
		piped := pipeJoinInput(t, d, row, time.UnixMilli(row.ts))
		exp := want(row.ts)
		got := out.read()
		if !slices.Equal(joinValues(got), exp) {
			t.Errorf("ts %d (%s): got %v, want %v", row.ts, piped, got, exp)
		}
		for _, r := range got {
			if r.ts != row.ts || r.key != "k" {
				t.Errorf("ts %d: result %v, want key k and timestamp %d", row.ts, r, row.ts)
			}
		}
	}
}

// TestStreamTableJoinFollowsTheDocumentedSemantics reproduces the table "Semantics of
// stream-table joins" of Kafka Streams' documentation (dsl-api.html, KStream-KTable
// Join), row by row: only stream records trigger the join, null stream joinValues and table
// tombstones never do.
func TestStreamTableJoinFollowsTheDocumentedSemantics(t *testing.T) {
	want := map[int64]struct{ inner, left []string }{
		3:  {left: []string{"[A, null]"}},
		5:  {inner: []string{"[B, a]"}, left: []string{"[B, a]"}},
		9:  {left: []string{"[C, null]"}},
		15: {inner: []string{"[D, d]"}, left: []string{"[D, d]"}},
	}
	for _, variant := range []string{"inner", "left"} {
		t.Run(variant, func(t *testing.T) {
			b := topology.NewBuilder()
			s := topology.StreamFrom(b, "left", serde.String(), serde.String())
			tab := topology.TableFrom(b, "right", "right-store", serde.String(), serde.String())
			var joined topology.Stream[string, string]
			if variant == "inner" {
				joined = topology.Join(s, tab, "j", func(_, v, tv string) string { return joinArgs(v, true, tv, true) })
			} else {
				joined = topology.LeftJoin(s, tab, "j", func(_, v, tv string, found bool) string { return joinArgs(v, true, tv, found) })
			}
			topology.To(joined, "out", serde.String(), serde.String())
			d := startDriver(t, b)
			// The results have the stream record's key and timestamp.
			checkJoinSemantics(t, d, "out", func(ts int64) []string {
				if variant == "left" {
					return want[ts].left
				}
				return want[ts].inner
			})
		})
	}
}

// TestTableTableJoinFollowsTheDocumentedSemantics reproduces the table "Semantics of
// table-table equi-joins" of Kafka Streams' documentation (dsl-api.html, KTable-KTable
// Equi-Join), row by row, for inner, left and outer joins, materialized or not: "null"
// is a tombstone of the result. Every result's timestamp is the later of its sides'.
func TestTableTableJoinFollowsTheDocumentedSemantics(t *testing.T) {
	type outputs struct{ inner, left, outer []string }
	want := map[int64]outputs{
		3:  {left: []string{"[A, null]"}, outer: []string{"[A, null]"}},
		4:  {inner: []string{"[A, a]"}, left: []string{"[A, a]"}, outer: []string{"[A, a]"}},
		5:  {inner: []string{"[B, a]"}, left: []string{"[B, a]"}, outer: []string{"[B, a]"}},
		6:  {inner: []string{"[B, b]"}, left: []string{"[B, b]"}, outer: []string{"[B, b]"}},
		7:  {inner: []string{"null"}, left: []string{"null"}, outer: []string{"[null, b]"}},
		8:  {outer: []string{"null"}},
		9:  {left: []string{"[C, null]"}, outer: []string{"[C, null]"}},
		10: {inner: []string{"[C, c]"}, left: []string{"[C, c]"}, outer: []string{"[C, c]"}},
		11: {inner: []string{"null"}, left: []string{"[C, null]"}, outer: []string{"[C, null]"}},
		12: {left: []string{"null"}, outer: []string{"null"}},
		14: {outer: []string{"[null, d]"}},
		15: {inner: []string{"[D, d]"}, left: []string{"[D, d]"}, outer: []string{"[D, d]"}},
	}
	for _, variant := range []string{"inner", "left", "outer"} {
		for _, materialized := range []bool{false, true} {
			name := variant
			storeName := ""
			if materialized {
				name += "/materialized"
				storeName = "joined"
			}
			t.Run(name, func(t *testing.T) {
				b := topology.NewBuilder()
				l := topology.TableFrom(b, "left", "left-store", serde.String(), serde.String())
				r := topology.TableFrom(b, "right", "right-store", serde.String(), serde.String())
				var joined topology.Table[string, string]
				switch variant {
				case "inner":
					joined = topology.JoinTable(l, r, storeName, func(_, v, o string) string { return joinArgs(v, true, o, true) }, serde.String())
				case "left":
					joined = topology.LeftJoinTable(l, r, storeName, func(_, v, o string, found bool) string { return joinArgs(v, true, o, found) }, serde.String())
				case "outer":
					joined = topology.OuterJoinTable(l, r, storeName, func(_, v string, hasV bool, o string, hasO bool) string { return joinArgs(v, hasV, o, hasO) }, serde.String())
				}
				topology.To(topology.ToStream(joined), "out", serde.String(), serde.String())
				d := startDriver(t, b)
				// In timestamp order, the later of both sides is the record's own.
				checkJoinSemantics(t, d, "out", func(ts int64) []string {
					return map[string][]string{"inner": want[ts].inner, "left": want[ts].left, "outer": want[ts].outer}[variant]
				})
				if materialized {
					checkJoinStore(t, d, "joined", map[string]string{
						"inner": "[D, d]", "left": "[D, d]", "outer": "[D, d]",
					}[variant])
				}
			})
		}
	}
}

// checkJoinStore checks that the table store name holds value for "k".
func checkJoinStore(t *testing.T, d interface {
	KeyValueStore(string) (store.KeyValueStore, error)
}, name, value string) {
	t.Helper()
	s, err := d.KeyValueStore(name)
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := store.KeyValue(name, serde.String(), serde.String()).Wrap(s).Get("k")
	if err != nil {
		t.Fatal(err)
	}
	// The store holds the timestamp (8 bytes) before the value.
	if !found || len(got) < 8 || got[8:] != value {
		t.Errorf("store %s holds %q (found %t), want %q after the timestamp", name, got, found, value)
	}
}

func TestStreamTableJoinRunsInTheTablesSubtopology(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	s := topology.StreamFrom(b, "orders", serde.String(), serde.String())
	users := topology.TableFrom(b, "users", "users-store", serde.String(), serde.String())
	topology.To(topology.Join(s, users, "", func(_, o, u string) string { return o + "/" + u }), "out", serde.String(), serde.String())
	topo := buildTopology(t, b)
	subs := plan.Of(topo).Subtopologies
	if len(subs) != 1 || !slices.Equal(subs[0].SourceTopics(), []string{"orders", "users"}) {
		t.Fatalf("want one subtopology reading orders and users (copartitioned), got:\n%s", topo.Describe())
	}
	if len(plan.Of(topo).InternalTopics) != 0 {
		t.Errorf("internal topics %v, want none: the stream's keys did not change", plan.Of(topo).InternalTopics)
	}
}

func TestStreamTableJoinRepartitionsARekeyedStream(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	orders := topology.StreamFrom(b, "orders", serde.String(), serde.String())
	// Orders are keyed by order id, their value is the user id.
	byUser := topology.SelectKey(orders, func(_, user string) string { return user })
	users := topology.TableFrom(b, "users", "users-store", serde.String(), serde.String())
	joined := topology.Join(byUser, users, "orders-by-user", func(user, _, name string) string { return user + "=" + name })
	topology.To(joined, "out", serde.String(), serde.String())
	topo := buildTopology(t, b)
	if names := internalTopicNames(topo); !slices.Equal(names, []string{"orders-by-user-repartition"}) {
		t.Fatalf("internal topics %v, want [orders-by-user-repartition]", names)
	}
	d := startDriver(t, b)
	pipeJoin(t, d, "users", keyOf("u1"), "Ann", time.UnixMilli(1))
	pipeJoin(t, d, "orders", keyOf("o1"), "u1", time.UnixMilli(2))
	pipeJoin(t, d, "orders", keyOf("o2"), "u2", time.UnixMilli(3))
	if n := len(joinInternalTopic(d, "orders-by-user-repartition")); n != 2 {
		t.Errorf("%d records through the repartition topic, want 2", n)
	}
	got := (&joinReader{d: d, topic: "out"}).read()
	if len(got) != 1 || got[0].key != "u1" || got[0].value != "u1=Ann" || got[0].ts != 2 {
		t.Errorf("got %v, want u1:u1=Ann@2 (u2 has no user)", got)
	}
}

// Kafka Streams 3.7+ (KIP-962): a left stream-table join keeps a stream record with a
// null key, joined with no table value; an inner join drops it. Both drop null values.
func TestStreamTableJoinNulls(t *testing.T) {
	cases := []struct {
		name        string
		key         *string
		value       string
		inner, left []joinObserved
	}{
		{name: "a null key is dropped by an inner join and kept by a left join", key: nil, value: "A",
			left: []joinObserved{{nullKey: true, value: "[A, null]"}}},
		{name: "a null value is dropped by both", key: keyOf("k"), value: "null"},
		{name: "a null key and value are dropped by both", key: nil, value: "null"},
		{name: "a key the table holds joins in both", key: keyOf("k"), value: "A",
			inner: []joinObserved{{key: "k", value: "[A, a]"}}, left: []joinObserved{{key: "k", value: "[A, a]"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			s := topology.StreamFrom(b, "left", serde.String(), serde.String())
			tab := topology.TableFrom(b, "right", "right-store", serde.String(), serde.String())
			inner := observeJoin(b, topology.Join(s, tab, "", func(_, v, tv string) string { return joinArgs(v, true, tv, true) }))
			left := observeJoin(b, topology.LeftJoin(s, tab, "", func(_, v, tv string, found bool) string { return joinArgs(v, true, tv, found) }))
			d := startDriver(t, b)
			pipeJoin(t, d, "right", keyOf("k"), "a", time.UnixMilli(1))
			pipeJoin(t, d, "left", c.key, c.value, time.UnixMilli(5))
			if !slices.Equal(*inner, c.inner) {
				t.Errorf("inner join forwarded %v, want %v", *inner, c.inner)
			}
			if !slices.Equal(*left, c.left) {
				t.Errorf("left join forwarded %v, want %v", *left, c.left)
			}
		})
	}
}

func TestStreamTableJoinKeepsHeadersAndSeesTableDeletes(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "left", serde.String(), serde.String())
	tab := topology.TableFrom(b, "right", "right-store", serde.String(), serde.Int64())
	joined := topology.LeftJoin(s, tab, "", func(k, v string, n int64, found bool) string {
		if !found {
			return k + ":" + v + ":none"
		}
		return k + ":" + v + ":" + strings.Repeat("x", int(n))
	})
	topology.To(joined, "out", serde.String(), serde.String())
	d := startDriver(t, b)
	right := eddytest.InputTopic(d, "right", serde.String(), serde.Int64())
	mustPipe(t, right, "k", 3, 1)
	headers := []processor.Header{{Key: "trace", Value: []byte("42")}}
	if err := d.PipeRaw("left", eddytest.Record{Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(2), Headers: headers}); err != nil {
		t.Fatal(err)
	}
	pipeJoin(t, d, "right", keyOf("k"), "null", time.UnixMilli(3))
	pipeJoin(t, d, "left", keyOf("k"), "w", time.UnixMilli(4))
	written := d.Written("out")
	if len(written) != 2 {
		t.Fatalf("wrote %d records, want 2", len(written))
	}
	if string(written[0].Value) != "k:v:xxx" || !slices.EqualFunc(written[0].Headers, headers, func(a, b processor.Header) bool {
		return a.Key == b.Key && string(a.Value) == string(b.Value)
	}) {
		t.Errorf("first result %q with headers %v, want k:v:xxx with the stream record's headers", written[0].Value, written[0].Headers)
	}
	if string(written[1].Value) != "k:w:none" {
		t.Errorf("after the table's tombstone got %q, want k:w:none", written[1].Value)
	}
}

// Kafka Streams: the timestamp of a table-table join result is the later of both sides'
// (KTableKTableInnerJoin's max of the record's and the other value's timestamps).
func TestJoinTableResultTakesTheLaterTimestamp(t *testing.T) {
	b := topology.NewBuilder()
	l := topology.TableFrom(b, "left", "left-store", serde.String(), serde.String())
	r := topology.TableFrom(b, "right", "right-store", serde.String(), serde.Int64())
	joined := topology.JoinTable(l, r, "", func(_, v string, n int64) string { return v + strings.Repeat("!", int(n)) }, serde.String())
	topology.To(topology.ToStream(joined), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	right := eddytest.InputTopic(d, "right", serde.String(), serde.Int64())
	out := &joinReader{d: d, topic: "out"}
	pipeJoin(t, d, "left", keyOf("k"), "A", time.UnixMilli(10))
	mustPipe(t, right, "k", 1, 5)
	mustPipe(t, right, "k", 2, 7)
	pipeJoin(t, d, "left", keyOf("k"), "B", time.UnixMilli(20))
	pipeJoin(t, d, "right", keyOf("k"), "null", time.UnixMilli(8))
	want := []joinOut{
		{key: "k", value: "A!", ts: 10},
		{key: "k", value: "A!!", ts: 10},
		{key: "k", value: "B!!", ts: 20},
		{key: "k", value: "null", ts: 20},
	}
	if got := out.read(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A join that is not materialized can still be joined with: the later join reads it
// through both sides' stores (Kafka Streams' join value getter).
func TestLeftJoinReadsALeftJoinTableThatIsNotMaterialized(t *testing.T) {
	b := topology.NewBuilder()
	l := topology.TableFrom(b, "names", "names-store", serde.String(), serde.String())
	r := topology.TableFrom(b, "cities", "cities-store", serde.String(), serde.String())
	people := topology.LeftJoinTable(l, r, "", func(_, name, city string, found bool) string {
		if !found {
			city = "?"
		}
		return name + "@" + city
	}, nil)
	events := topology.StreamFrom(b, "events", serde.String(), serde.String())
	topology.To(topology.LeftJoin(events, people, "", func(_, e, p string, found bool) string { return joinArgs(e, true, p, found) }), "out", serde.String(), serde.String())
	d := startDriver(t, b)
	out := &joinReader{d: d, topic: "out"}
	steps := []struct {
		topic, key, value string
		want              []string
	}{
		{"events", "u1", "login", []string{"[login, null]"}},
		{"cities", "u1", "Oslo", nil},
		{"events", "u1", "click", []string{"[click, null]"}},
		{"names", "u1", "Ann", nil},
		{"events", "u1", "view", []string{"[view, Ann@Oslo]"}},
		{"cities", "u1", "null", nil},
		{"events", "u1", "buy", []string{"[buy, Ann@?]"}},
		{"names", "u1", "null", nil},
		{"events", "u1", "logout", []string{"[logout, null]"}},
	}
	for i, st := range steps {
		pipeJoin(t, d, st.topic, keyOf(st.key), st.value, time.UnixMilli(int64(i)))
		if got := joinValues(out.read()); !slices.Equal(got, st.want) {
			t.Errorf("step %d (%s %s=%s): got %v, want %v", i, st.topic, st.key, st.value, got, st.want)
		}
	}
}

func TestMaterializedJoinTableDeletesFromItsStore(t *testing.T) {
	b := topology.NewBuilder()
	l := topology.TableFrom(b, "left", "left-store", serde.String(), serde.String())
	r := topology.TableFrom(b, "right", "right-store", serde.String(), serde.String())
	topology.JoinTable(l, r, "joined", func(_, v, o string) string { return v + o }, serde.String())
	d := startDriver(t, b)
	pipeJoin(t, d, "left", keyOf("k"), "A", time.UnixMilli(1))
	pipeJoin(t, d, "right", keyOf("k"), "a", time.UnixMilli(2))
	checkJoinStore(t, d, "joined", "Aa")
	pipeJoin(t, d, "left", keyOf("k"), "null", time.UnixMilli(3))
	s, err := d.KeyValueStore("joined")
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get([]byte("k")); err != nil || found {
		t.Errorf("after the left tombstone the store still holds k (found %t, err %v)", found, err)
	}
	if n := len(d.Written("eddytest-joined-changelog")); n != 2 {
		t.Errorf("%d changelog records, want 2 (the result and its tombstone)", n)
	}
}

func TestJoinProblemsAreReportedByBuild(t *testing.T) {
	cases := []struct {
		name  string
		build func(b, other *topology.Builder)
		want  string
	}{
		{"a nil joiner", func(b, _ *topology.Builder) {
			s := topology.StreamFrom(b, "s", serde.String(), serde.String())
			tab := topology.TableFrom(b, "t", "t-store", serde.String(), serde.String())
			topology.Join[string, string, string, string](s, tab, "", nil)
		}, "joiner is nil"},
		{"sides of different builders", func(b, other *topology.Builder) {
			s := topology.StreamFrom(b, "s", serde.String(), serde.String())
			tab := topology.TableFrom(other, "t", "t-store", serde.String(), serde.String())
			topology.LeftJoin(s, tab, "", func(_, v, _ string, _ bool) string { return v })
		}, "different builders"},
		{"a materialized table join without a result serde", func(b, _ *topology.Builder) {
			l := topology.TableFrom(b, "l", "l-store", serde.String(), serde.String())
			r := topology.TableFrom(b, "r", "r-store", serde.String(), serde.String())
			topology.OuterJoinTable(l, r, "joined", func(_, v string, _ bool, _ string, _ bool) string { return v }, nil)
		}, "serde of the results is nil"},
		{"a generated repartition topic name under RequireExplicitNames", func(b, _ *topology.Builder) {
			s := topology.SelectKey(topology.StreamFrom(b, "s", serde.String(), serde.String()), func(_, v string) string { return v })
			tab := topology.TableFrom(b, "t", "t-store", serde.String(), serde.String())
			topology.Join(s, tab, "", func(_, v, _ string) string { return v })
		}, "generated name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder(topology.RequireExplicitNames())
			c.build(b, topology.NewBuilder())
			expectBuildProblem(t, b, c.want)
		})
	}
}
