package topology_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Helpers the DSL tests share, by what they do: building a topology and starting a test
// driver on it, piping records, reading what a topology wrote, watching the changes a
// table forwards, and expecting Build to refuse a topology. The join tests' own helpers
// are in dsl_join_helpers_test.go, the windowed tests' in dsl_windowed_test.go.

// Building a topology and starting a test driver on it.

// buildTopology builds b, failing the test if it cannot.
func buildTopology(t testing.TB, b *topology.Builder) *topology.Topology {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return topo
}

// startDriver builds b and starts a test driver on it with opts (see newDriver).
func startDriver(t testing.TB, b *topology.Builder, opts ...eddytest.Option) *eddytest.Driver {
	t.Helper()
	return newDriver(t, buildTopology(t, b), opts...)
}

// newDriver starts a test driver on topo with opts, closed at the end of the test, where a
// failure to close fails the test.
func newDriver(t testing.TB, topo *topology.Topology, opts ...eddytest.Option) *eddytest.Driver {
	t.Helper()
	d, err := eddytest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// Piping records.

// mustPipe pipes key and value, stamped ms milliseconds after the Unix epoch, to in,
// failing the test if it cannot.
func mustPipe[K, V any](t *testing.T, in *eddytest.Input[K, V], key K, value V, ms int64) {
	t.Helper()
	if err := in.Pipe(key, value, time.UnixMilli(ms)); err != nil {
		t.Fatal(err)
	}
}

// rawRun drives a topology with raw records, each stamped a second after the previous
// one, and reads its output topic with out.
type rawRun struct {
	t   *testing.T
	d   *eddytest.Driver
	out *dslOutput
	ts  int64
}

// newRawRun starts a driver on topo whose output topic is output.
func newRawRun(t *testing.T, topo *topology.Topology, output string) *rawRun {
	t.Helper()
	d := newDriver(t, topo)
	return &rawRun{t: t, d: d, out: &dslOutput{d: d, topic: output}}
}

// pipe writes key and value, nil for null, to topic, a second after the previous record.
func (r *rawRun) pipe(topic string, key, value []byte) {
	r.t.Helper()
	r.ts += 1000
	if err := r.d.PipeRaw(topic, eddytest.Record{Key: key, Value: value, Timestamp: time.UnixMilli(r.ts)}); err != nil {
		r.t.Fatal(err)
	}
}

// expect fails the test unless the output written since the last read is want.
func (r *rawRun) expect(want ...string) {
	r.t.Helper()
	if got := r.out.next(); !slices.Equal(got, want) {
		r.t.Errorf("output %q, want %q", got, want)
	}
}

// Reading what a topology wrote, to its topics and its stores.

// dslOutput reads what a topology wrote to a topic as "key=value" strings, with <null>
// for a null key and <tombstone> for a null value, which a typed reader cannot show.
type dslOutput struct {
	d     *eddytest.Driver
	topic string
	read  int
}

// next returns the records written since the last call.
func (o *dslOutput) next() []string {
	var out []string
	for _, r := range unread(o.d, o.topic, &o.read) {
		k, v := string(r.Key), string(r.Value)
		if r.Key == nil {
			k = "<null>"
		}
		if r.Value == nil {
			v = "<tombstone>"
		}
		out = append(out, k+"="+v)
	}
	return out
}

// unread returns the records written to topic after the first *read, and counts them in
// *read.
func unread(d *eddytest.Driver, topic string, read *int) []eddytest.Record {
	written := d.Written(topic)
	out := written[*read:]
	*read = len(written)
	return out
}

// storeEntries returns the raw entries of d's key-value store name, in key order, each as
// show formats it.
func storeEntries(t *testing.T, d *eddytest.Driver, name string, show func(key, value []byte) string) []string {
	t.Helper()
	kv, err := d.KeyValueStore(name)
	if err != nil {
		t.Fatal(err)
	}
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, show(it.Key(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// internalTopicNames returns the names of the topology's internal topics.
func internalTopicNames(topo *topology.Topology) []string {
	var names []string
	for _, it := range plan.Of(topo).InternalTopics {
		names = append(names, it.Name)
	}
	return names
}

// Watching the changes a table forwards.

// tableChanges records the Change records a table's node forwards, through a Processor
// API node added under it.
type tableChanges[K, V any] struct {
	got []processor.Record[K, topology.Change[V]]
}

// watchChanges records the changes table t forwards, through a processor name added
// under it.
func watchChanges[K, V any](b *topology.Builder, t topology.Table[K, V], name string) *tableChanges[K, V] {
	c := &tableChanges[K, V]{}
	topology.AddProcessor(b, name, func() processor.Processor[K, topology.Change[V], K, topology.Change[V]] {
		return processor.ProcessFunc[K, topology.Change[V], K, topology.Change[V]](
			func(_ processor.Context[K, topology.Change[V]], r processor.Record[K, topology.Change[V]]) error {
				c.got = append(c.got, r)
				return nil
			})
	}, t.Node())
	return c
}

// take returns the changes recorded since the last take.
func (c *tableChanges[K, V]) take() []processor.Record[K, topology.Change[V]] {
	got := c.got
	c.got = nil
	return got
}

// wantChange is an expected change of a table: its key, new and old values (nil: none) and
// timestamp in milliseconds.
type wantChange[K, V any] struct {
	key      K
	new, old *V
	ts       int64
}

// just returns a pointer to v, for a wantChange's values.
func just[V any](v V) *V { return &v }

// checkTableChanges compares the changes a table forwarded with those expected.
func checkTableChanges[K, V comparable](t *testing.T, got []processor.Record[K, topology.Change[V]], want []wantChange[K, V]) {
	t.Helper()
	show := func(key K, newV, oldV *V, ts int64) string {
		s := func(v *V) string {
			if v == nil {
				return "-"
			}
			return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(*v), "\n", " "))
		}
		return fmt.Sprint(key) + ": new " + s(newV) + ", old " + s(oldV) + " @" + fmt.Sprint(ts)
	}
	var gotS, wantS []string
	for _, r := range got {
		var n, o *V
		if r.Value.HasNew {
			n = just(r.Value.New)
		}
		if r.Value.HasOld {
			o = just(r.Value.Old)
		}
		gotS = append(gotS, show(r.Key, n, o, r.Timestamp.UnixMilli()))
	}
	for _, u := range want {
		wantS = append(wantS, show(u.key, u.new, u.old, u.ts))
	}
	if !slices.Equal(gotS, wantS) {
		t.Errorf("changes:\n got  %q\n want %q", gotS, wantS)
	}
}

// Expecting Build to refuse a topology.

// expectBuildProblem fails the test unless building b fails with an error containing want.
func expectBuildProblem(t *testing.T, b *topology.Builder, want string) {
	t.Helper()
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Build() = %v, want a problem containing %q", err, want)
	}
}

// buildProblem is a topology that Build must refuse: build adds it to a builder, and
// problem is a part of Build's error.
type buildProblem struct {
	name    string
	build   func(b *topology.Builder)
	problem string
}

// expectBuildProblems runs each case as a subtest, on a new builder made with opts.
func expectBuildProblems(t *testing.T, cases []buildProblem, opts ...topology.BuilderOption) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder(opts...)
			c.build(b)
			expectBuildProblem(t, b, c.problem)
		})
	}
}

// Serdes.

// ptrString is a serde of *string for keys that may be nil (never serialized: a nil key
// selected is Kafka Streams' null).
func ptrString() serde.Serde[*string] {
	return serde.Func(
		func(_ string, p *string) ([]byte, error) {
			if p == nil {
				return nil, fmt.Errorf("ptrString: serializing nil")
			}
			return []byte(*p), nil
		},
		func(_ string, b []byte) (*string, error) { s := string(b); return &s, nil },
	)
}
