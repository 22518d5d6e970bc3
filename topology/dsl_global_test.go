package topology_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// gjRun drives the stream-global join topology of globalJoinTopology.
type gjRun struct{ *rawRun }

func (r gjRun) product(id, name string) { r.t.Helper(); r.pipe("products", []byte(id), []byte(name)) }
func (r gjRun) deleteProduct(id string) { r.t.Helper(); r.pipe("products", []byte(id), nil) }
func (r gjRun) order(key, value string) { r.t.Helper(); r.pipe("orders", []byte(key), []byte(value)) }

// globalJoinTopology joins orders ("<product>|<quantity>") with the global table of
// products (product id -> name) on the product the order names.
func globalJoinTopology(t *testing.T, left bool) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder(topology.RequireExplicitNames())
	products := topology.GlobalTableFrom(b, "products", "products-store", serde.String(), serde.String())
	orders := topology.StreamFrom(b, "orders", serde.String(), serde.String())
	product := func(_, order string) string { p, _, _ := strings.Cut(order, "|"); return p }
	joiner := func(order, name string) string { return order + "@" + name }
	join := topology.JoinGlobal[string, string, string, string, string]
	if left {
		join = topology.LeftJoinGlobal[string, string, string, string, string]
	}
	topology.To(join(orders, products, product, joiner), "enriched", serde.String(), serde.String())
	return buildTopology(t, b)
}

func newGJRun(t *testing.T, topo *topology.Topology) *gjRun {
	t.Helper()
	return &gjRun{newRawRun(t, topo, "enriched")}
}

func TestGlobalTableKeepsTimestampedValuesAndDeletesOnTombstones(t *testing.T) {
	topo := globalJoinTopology(t, false)
	globals := plan.Of(topo).GlobalStores
	if len(globals) != 1 || globals[0].Def.Name() != "products-store" || globals[0].Topic != "products" {
		t.Fatalf("global stores %+v, want products-store filled from products", globals)
	}
	if globals[0].Def.Logged() {
		t.Error("the global store is logged; its topic is its changelog")
	}
	if slices.Contains(plan.Of(topo).SourceTopics(), "products") {
		t.Error("the global table's topic is read by a task's source")
	}
	if len(plan.Of(topo).InternalTopics) != 0 {
		t.Errorf("internal topics %v: a stream-global join needs no repartitioning", plan.Of(topo).InternalTopics)
	}

	r := newGJRun(t, topo)
	r.product("p1", "Apple") // at 1000
	r.product("p2", "Pear")  // at 2000
	r.deleteProduct("p2")
	r.pipe("products", nil, []byte("keyless")) // skipped, as a GlobalKTable skips it
	r.product("p1", "Green apple")             // at 5000

	got := storeEntries(t, r.d, "products-store", func(k, v []byte) string {
		// Kafka Streams' ValueAndTimestamp layout: 8-byte big-endian milliseconds, then
		// the value's bytes.
		if len(v) < 8 {
			t.Fatalf("value %q of %q has no timestamp", v, k)
		}
		return fmt.Sprintf("%s=%s@%d", k, v[8:], binary.BigEndian.Uint64(v))
	})
	if want := []string{"p1=Green apple@5000"}; !slices.Equal(got, want) {
		t.Errorf("global store holds %v, want %v", got, want)
	}
}

func TestGlobalTableFailsOnUndecodableRecords(t *testing.T) {
	b := topology.NewBuilder()
	rates := topology.GlobalTableFrom(b, "rates", "rates-store", serde.String(), serde.Int64())
	prices := topology.StreamFrom(b, "prices", serde.String(), serde.Int64())
	topology.JoinGlobal(prices, rates, func(currency string, _ int64) string { return currency }, func(p, r int64) int64 { return p * r })
	d := startDriver(t, b)
	err := d.PipeRaw("rates", eddytest.Record{Key: []byte("eur"), Value: []byte("not 8 bytes")})
	if err == nil || !strings.Contains(err.Error(), "rates-store") {
		t.Fatalf("PipeRaw = %v, want an error naming the global table", err)
	}
}

func TestStreamGlobalJoin(t *testing.T) {
	// Kafka Streams' documented semantics of KStream-GlobalKTable joins (Streams DSL,
	// "KStream-GlobalKTable Join", with KIP-962 for the left join): each stream record
	// looks the global table up under the key the KeyValueMapper selects; an inner join
	// forwards only when it finds a value, a left join always (null right value); records
	// with a null value are ignored; a null stream key is no obstacle (the mapper picks
	// the lookup key) and the result keeps it; global updates never trigger output.
	cases := []struct {
		name        string
		steps       func(r *gjRun)
		inner, left []string
	}{
		{
			name: "a stream record joins the global row its value names",
			steps: func(r *gjRun) {
				r.product("p1", "Apple")
				r.order("o1", "p1|2")
			},
			inner: []string{"o1=p1|2@Apple"},
			left:  []string{"o1=p1|2@Apple"},
		},
		{
			name: "a stream record whose global row is missing is dropped by the inner join only",
			steps: func(r *gjRun) {
				r.product("p1", "Apple")
				r.order("o1", "p9|1")
			},
			inner: nil,
			left:  []string{"o1=p9|1@"},
		},
		{
			name: "a global update is seen by later stream records and changes no earlier result",
			steps: func(r *gjRun) {
				r.product("p1", "Apple")
				r.order("o1", "p1|1")
				r.product("p1", "Green apple")
				r.order("o2", "p1|3")
			},
			inner: []string{"o1=p1|1@Apple", "o2=p1|3@Green apple"},
			left:  []string{"o1=p1|1@Apple", "o2=p1|3@Green apple"},
		},
		{
			name: "a global tombstone removes the row for later stream records",
			steps: func(r *gjRun) {
				r.product("p1", "Apple")
				r.order("o1", "p1|1")
				r.deleteProduct("p1")
				r.order("o2", "p1|1")
			},
			inner: []string{"o1=p1|1@Apple"},
			left:  []string{"o1=p1|1@Apple", "o2=p1|1@"},
		},
		{
			name: "a stream record with a null value is dropped",
			steps: func(r *gjRun) {
				// Were the record not dropped, its value would reach the selector as "",
				// which this global row would match.
				r.product("", "Nameless")
				r.pipe("orders", []byte("o1"), nil)
			},
			inner: nil,
			left:  nil,
		},
	}
	for _, c := range cases {
		for _, left := range []bool{false, true} {
			kind, want := "inner", c.inner
			if left {
				kind, want = "left", c.left
			}
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				r := newGJRun(t, globalJoinTopology(t, left))
				c.steps(r)
				r.expect(want...)
			})
		}
	}
}

func TestStreamGlobalJoinKeepsANullStreamKey(t *testing.T) {
	// The join forwards the record with its key null, but a sink writes a null key as
	// its key serde serializes the zero key ("" here, so the empty key) until sinks
	// write null keys as Kafka nulls (another branch's change to the sink encoder);
	// then this test should want the key nil.
	r := newGJRun(t, globalJoinTopology(t, false))
	r.product("p1", "Apple")
	r.pipe("orders", nil, []byte("p1|4"))
	written := r.d.Written("enriched")
	if len(written) != 1 || len(written[0].Key) != 0 || string(written[0].Value) != "p1|4@Apple" {
		t.Fatalf("written %+v, want one record p1|4@Apple with a null (or empty) key", written)
	}
}

func TestStreamGlobalJoinResultsKeepTheStreamRecordsTimestamp(t *testing.T) {
	r := newGJRun(t, globalJoinTopology(t, false))
	r.product("p1", "Apple") // at 1000
	r.order("o1", "p1|1")    // at 2000
	written := r.d.Written("enriched")
	if len(written) != 1 || written[0].Timestamp.UnixMilli() != 2000 {
		t.Fatalf("written %+v, want one record at 2000 ms", written)
	}
}

func TestStreamGlobalJoinWithANilSelectedKey(t *testing.T) {
	// KIP-962: a left join no longer drops a record whose KeyValueMapper returns null; it
	// joins with a null right value. An inner join still drops it.
	for _, c := range []struct {
		left bool
		want []string
	}{
		{false, []string{"o1=p1|1@Apple"}},
		{true, []string{"o1=p1|1@Apple", "o2=|1@"}},
	} {
		b := topology.NewBuilder()
		products := topology.GlobalTableFrom(b, "products", "products-store", ptrString(), serde.String())
		orders := topology.StreamFrom(b, "orders", serde.String(), serde.String())
		product := func(_, order string) *string {
			p, _, _ := strings.Cut(order, "|")
			if p == "" {
				return nil
			}
			return &p
		}
		joiner := func(order, name string) string { return order + "@" + name }
		join := topology.JoinGlobal[string, string, *string, string, string]
		if c.left {
			join = topology.LeftJoinGlobal[string, string, *string, string, string]
		}
		topology.To(join(orders, products, product, joiner), "enriched", serde.String(), serde.String())
		r := newGJRun(t, buildTopology(t, b))
		r.product("p1", "Apple")
		r.order("o1", "p1|1")
		r.order("o2", "|1")
		if got := r.out.next(); !slices.Equal(got, c.want) {
			t.Errorf("left=%t: output %q, want %q", c.left, got, c.want)
		}
	}
}

func TestStreamGlobalJoinWiring(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *topology.Builder)
		// problem is a part of Build's error; "" when Build succeeds.
		problem string
	}{
		{
			name: "the join node reads the global store and needs no repartition topic",
			build: func(b *topology.Builder) {
				g := topology.GlobalTableFrom(b, "products", "products-store", serde.String(), serde.String())
				s := topology.SelectKey(topology.StreamFrom(b, "orders", serde.String(), serde.String()), func(_, v string) string { return v })
				j := topology.JoinGlobal(s, g, func(_, v string) string { return v }, func(v, n string) string { return v + n }, topology.Named("enrich"))
				topology.To(j, "out", serde.String(), serde.String())
			},
		},
		{
			name: "a global table of another builder is refused",
			build: func(b *topology.Builder) {
				g := topology.GlobalTableFrom(topology.NewBuilder(), "products", "products-store", serde.String(), serde.String())
				s := topology.StreamFrom(b, "orders", serde.String(), serde.String())
				topology.JoinGlobal(s, g, func(_, v string) string { return v }, func(v, n string) string { return v + n }, topology.Named("enrich"))
			},
			problem: `enrich: the global table "products-store" belongs to another builder`,
		},
		{
			name: "a generated store name is refused under RequireExplicitNames",
			build: func(b *topology.Builder) {
				topology.GlobalTableFrom(b, "products", "", serde.String(), serde.String())
			},
			problem: "generated name",
		},
		{
			name: "nil serdes are refused",
			build: func(b *topology.Builder) {
				topology.GlobalTableFrom[string, string](b, "products", "products-store", nil, serde.String())
			},
			problem: "serdes must not be nil",
		},
		{
			name: "two global tables of one topic are refused",
			build: func(b *topology.Builder) {
				topology.GlobalTableFrom(b, "products", "a", serde.String(), serde.String())
				topology.GlobalTableFrom(b, "products", "b", serde.String(), serde.String())
			},
			problem: `topic "products" already fills global store "a"`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder(topology.RequireExplicitNames())
			c.build(b)
			if c.problem != "" {
				expectBuildProblem(t, b, c.problem)
				return
			}
			topo := buildTopology(t, b)
			if len(plan.Of(topo).InternalTopics) != 0 {
				t.Errorf("internal topics %v, want none", plan.Of(topo).InternalTopics)
			}
			var readers []string
			for _, s := range plan.Of(topo).Subtopologies {
				for _, p := range s.Processors {
					if slices.Contains(p.GlobalStores, "products-store") {
						readers = append(readers, p.Name)
					}
				}
			}
			if !slices.Equal(readers, []string{"enrich"}) {
				t.Errorf("readers of the global store %v, want [enrich]", readers)
			}
		})
	}
}
