package topology_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// The foreign-key join tests use orders ("<customer>|<item>", keyed by order id) joined
// with customers (name, keyed by customer id) on the customer an order names. Results
// read "<order>+<customer name>"; a left join's result without a customer ends in "+".
//
// Expected outputs follow Kafka Streams' KIP-213 semantics, as its documentation
// ("KTable-KTable Foreign-Key Join") and KTable#join/leftJoin(KTable, Function,
// ValueJoiner) describe them: the result table has the left table's keys and is updated
// by changes on either side; a left row joins the right row its foreign key names; an
// inner join has no row for a left row without a match, and deletes the result when the
// match goes; a left join keeps every left row, with a null right value when unmatched;
// a null foreign key subscribes to nothing (inner: no result; left: a result with a null
// right value, KIP-962).

const fkName = "orders-by-customer"

// fkInternalTopic is the full name of one of the join's internal topics in a driver run
// with its default application id.
func fkInternalTopic(suffix string) string {
	return "eddytest-" + fkName + suffix
}

func customerOf(order string) string { c, _, _ := strings.Cut(order, "|"); return c }

func orderJoiner(order, customer string) string { return order + "+" + customer }

// fkTopology builds the join of orders with customers, written to "joined".
func fkTopology(t *testing.T, left bool) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder(topology.RequireExplicitNames())
	orders := topology.TableFrom(b, "orders", "orders-store", serde.String(), serde.String())
	customers := topology.TableFrom(b, "customers", "customers-store", serde.String(), serde.String())
	join := topology.JoinFK[string, string, string, string, string]
	if left {
		join = topology.LeftJoinFK[string, string, string, string, string]
	}
	joined := join(orders, customers, fkName, customerOf, orderJoiner, serde.String())
	topology.To(topology.ToStream(joined), "joined", serde.String(), serde.String())
	return buildTopology(t, b)
}

// fkRun drives a foreign-key join topology, whose output topic is "joined".
type fkRun struct{ *rawRun }

func newFKRun(t *testing.T, topo *topology.Topology) *fkRun {
	t.Helper()
	return &fkRun{newRawRun(t, topo, "joined")}
}

func (r fkRun) order(id, value string)   { r.t.Helper(); r.pipe("orders", []byte(id), []byte(value)) }
func (r fkRun) deleteOrder(id string)    { r.t.Helper(); r.pipe("orders", []byte(id), nil) }
func (r fkRun) customer(id, name string) { r.t.Helper(); r.pipe("customers", []byte(id), []byte(name)) }
func (r fkRun) deleteCustomer(id string) { r.t.Helper(); r.pipe("customers", []byte(id), nil) }

// subscriptions returns the subscription store's keys as "<foreign key>/<primary key>".
// The store key is the foreign key's length (4 bytes, big-endian), the foreign key, then
// the primary key (Kafka Streams' CombinedKeySchema).
func (r fkRun) subscriptions() []string {
	r.t.Helper()
	return storeEntries(r.t, r.d, fkName+"-subscription-store", func(k, _ []byte) string {
		n := int(binary.BigEndian.Uint32(k))
		return string(k[4:4+n]) + "/" + string(k[4+n:])
	})
}

func (r fkRun) expectSubscriptions(want ...string) {
	r.t.Helper()
	if got := r.subscriptions(); !slices.Equal(got, want) {
		r.t.Errorf("subscriptions %q, want %q", got, want)
	}
}

// fkCase is a scenario of a foreign-key join, inner or left: steps feed the run and
// check its output as they go.
type fkCase struct {
	name  string
	left  bool
	steps func(r *fkRun)
}

func TestForeignKeyJoin(t *testing.T) {
	cases := []fkCase{
		{
			name: "a left row that comes before its right row joins when the right row comes",
			steps: func(r *fkRun) {
				r.order("o1", "c1|apple")
				r.expect()
				r.customer("c1", "Ann")
				r.expect("o1=c1|apple+Ann")
			},
		},
		{
			name: "a left row that comes after its right row joins at once",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.expect()
				r.order("o1", "c1|apple")
				r.expect("o1=c1|apple+Ann")
			},
		},
		{
			name: "a right update reaches every left row that refers to it",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.customer("c2", "Bob")
				r.order("o1", "c1|apple")
				r.order("o2", "c1|pear")
				r.order("o3", "c2|fig")
				r.expect("o1=c1|apple+Ann", "o2=c1|pear+Ann", "o3=c2|fig+Bob")
				r.customer("c1", "Anne")
				r.expect("o1=c1|apple+Anne", "o2=c1|pear+Anne")
			},
		},
		{
			name: "a left update that keeps its foreign key joins again",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o1", "c1|apples")
				r.expect("o1=c1|apple+Ann", "o1=c1|apples+Ann")
			},
		},
		{
			name: "a left row whose foreign key changes moves to the new right row",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.customer("c2", "Bob")
				r.order("o1", "c1|apple")
				r.expectSubscriptions("c1/o1")
				r.order("o1", "c2|apple")
				r.expect("o1=c1|apple+Ann", "o1=c2|apple+Bob")
				r.expectSubscriptions("c2/o1")
				r.customer("c1", "Anne") // no longer subscribed
				r.expect()
				r.customer("c2", "Bobby")
				r.expect("o1=c2|apple+Bobby")
			},
		},
		{
			name: "a left row that moves to a foreign key the right table lacks loses its result",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o1", "c9|apple")
				r.expect("o1=c1|apple+Ann", "o1=<tombstone>")
				r.expectSubscriptions("c9/o1")
				r.customer("c9", "Zoe")
				r.expect("o1=c9|apple+Zoe")
			},
		},
		{
			name: "deleting a left row deletes its result",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.deleteOrder("o1")
				r.expect("o1=c1|apple+Ann", "o1=<tombstone>")
				r.expectSubscriptions()
				r.customer("c1", "Anne") // the subscription went with the row
				r.expect()
			},
		},
		{
			name: "deleting a right row deletes the results it joined",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o2", "c1|pear")
				r.deleteCustomer("c1")
				r.expect("o1=c1|apple+Ann", "o2=c1|pear+Ann", "o1=<tombstone>", "o2=<tombstone>")
				r.expectSubscriptions("c1/o1", "c1/o2")
				r.customer("c1", "Ann again") // still subscribed
				r.expect("o1=c1|apple+Ann again", "o2=c1|pear+Ann again")
			},
		},
		{
			// Kafka Streams emits a tombstone here too ("this may lead to unnecessary
			// tombstones"): Eddy's result store knows there was no result and drops it.
			name: "deleting a left row that never joined writes nothing",
			steps: func(r *fkRun) {
				r.order("o1", "c9|apple")
				r.deleteOrder("o1")
				r.expect()
			},
		},
		{
			name: "a left join gives a left row without its right row a result with no right value",
			left: true,
			steps: func(r *fkRun) {
				r.order("o1", "c1|apple")
				r.expect("o1=c1|apple+")
				r.customer("c1", "Ann")
				r.expect("o1=c1|apple+Ann")
			},
		},
		{
			name: "a left join keeps the left rows of a deleted right row, with no right value",
			left: true,
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o2", "c1|pear")
				r.deleteCustomer("c1")
				r.expect("o1=c1|apple+Ann", "o2=c1|pear+Ann", "o1=c1|apple+", "o2=c1|pear+")
			},
		},
		{
			name: "a left join moves a left row to a foreign key the right table lacks with no right value",
			left: true,
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o1", "c9|apple")
				r.expect("o1=c1|apple+Ann", "o1=c9|apple+")
				r.expectSubscriptions("c9/o1")
				r.customer("c1", "Anne")
				r.expect()
			},
		},
		{
			name: "a left join deletes the result of a deleted left row",
			left: true,
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.deleteOrder("o1")
				r.expect("o1=c1|apple+Ann", "o1=<tombstone>")
				r.expectSubscriptions()
				r.customer("c1", "Anne")
				r.expect()
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.steps(newFKRun(t, fkTopology(t, c.left)))
		})
	}
}

// fkNullableTopology is fkTopology with customer ids that may be nil: an order
// "|<item>" has no customer, and its foreign key is nil.
func fkNullableTopology(t *testing.T, left bool) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder(topology.RequireExplicitNames())
	orders := topology.TableFrom(b, "orders", "orders-store", serde.String(), serde.String())
	customers := topology.TableFrom(b, "customers", "customers-store", ptrString(), serde.String())
	customer := func(order string) *string {
		if c := customerOf(order); c != "" {
			return &c
		}
		return nil
	}
	join := topology.JoinFK[string, string, *string, string, string]
	if left {
		join = topology.LeftJoinFK[string, string, *string, string, string]
	}
	joined := join(orders, customers, fkName, customer, orderJoiner, serde.String())
	topology.To(topology.ToStream(joined), "joined", serde.String(), serde.String())
	return buildTopology(t, b)
}

func TestForeignKeyJoinWithANilForeignKey(t *testing.T) {
	// Kafka Streams: a null foreign key subscribes to nothing. The inner join skips the
	// row (deleting a result its previous foreign key gave); the left join gives it a
	// result with a null right value (KIP-962).
	cases := []fkCase{
		{
			name: "an inner join gives a left row without a foreign key no result",
			steps: func(r *fkRun) {
				r.customer("", "Nobody") // a right row the zero key would match
				r.order("o1", "|apple")
				r.expect()
				r.expectSubscriptions()
			},
		},
		{
			name: "an inner join deletes the result of a left row that loses its foreign key",
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o1", "|apple")
				r.expect("o1=c1|apple+Ann", "o1=<tombstone>")
				r.expectSubscriptions()
				r.customer("c1", "Anne") // unsubscribed
				r.expect()
			},
		},
		{
			name: "a left join gives a left row without a foreign key a result with no right value",
			left: true,
			steps: func(r *fkRun) {
				r.customer("", "Nobody")
				r.order("o1", "|apple")
				r.expect("o1=|apple+")
				r.expectSubscriptions()
			},
		},
		{
			name: "a left join keeps a left row that loses its foreign key, with no right value",
			left: true,
			steps: func(r *fkRun) {
				r.customer("c1", "Ann")
				r.order("o1", "c1|apple")
				r.order("o1", "|apple")
				r.expect("o1=c1|apple+Ann", "o1=|apple+")
				r.expectSubscriptions()
				r.customer("c1", "Anne") // unsubscribed
				r.expect()
				r.order("o1", "c1|apple") // subscribed again
				r.expect("o1=c1|apple+Anne")
			},
		},
		{
			name: "a left join deletes the result of a deleted left row without a foreign key",
			left: true,
			steps: func(r *fkRun) {
				r.order("o1", "|apple")
				r.deleteOrder("o1")
				r.expect("o1=|apple+", "o1=<tombstone>")
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newFKRun(t, fkNullableTopology(t, c.left))
			c.steps(r)
			if got := r.d.Written(fkInternalTopic("-subscription-registration-topic")); len(got) > 0 {
				for _, s := range got {
					if s.Key == nil {
						t.Errorf("a subscription with a null foreign key was sent: %+v", s)
					}
				}
			}
		})
	}
}

func TestForeignKeyJoinDropsStaleResponses(t *testing.T) {
	// KIP-213: a response carries the hash of the left value its subscription was sent
	// for; the left side drops it when the row's current value hashes otherwise, because
	// the row changed in between and the response to that change is still to come. The
	// driver answers every subscription before the next record, so the late response is
	// made by delivering an earlier one again after the row changed.
	for _, left := range []bool{false, true} {
		r := newFKRun(t, fkTopology(t, left))
		responses := fkInternalTopic("-subscription-response-topic")
		r.customer("c1", "Ann")
		r.customer("c2", "Bob")
		r.order("o1", "c1|apple")
		r.expect("o1=c1|apple+Ann")
		written := r.d.Written(responses)
		if len(written) != 1 {
			t.Fatalf("left=%t: %d responses to the first subscription, want 1", left, len(written))
		}
		first := written[0]

		r.order("o1", "c2|apple") // the row moves: the first response is now stale
		r.expect("o1=c2|apple+Bob")
		written = r.d.Written(responses)
		current := written[len(written)-1]

		if err := r.d.PipeRaw(responses, first); err != nil {
			t.Fatal(err)
		}
		r.expect() // dropped: without the hash check it would join Ann to the moved row

		// The current response is accepted, delivered again: the drop was the hash's doing.
		if err := r.d.PipeRaw(responses, current); err != nil {
			t.Fatal(err)
		}
		r.expect("o1=c2|apple+Bob")

		// A response to a row deleted since is stale too.
		r.deleteOrder("o1")
		r.expect("o1=<tombstone>")
		if err := r.d.PipeRaw(responses, current); err != nil {
			t.Fatal(err)
		}
		r.expect()
	}
}

func TestForeignKeyJoinResultTimestamps(t *testing.T) {
	// Kafka Streams (SubscriptionJoinProcessorSupplier, ForeignTableJoinProcessorSupplier):
	// a result caused by a left change has the larger timestamp of the two rows; one
	// caused by a right change has the right record's timestamp.
	r := newFKRun(t, fkTopology(t, false))
	r.customer("c1", "Ann") // at 1000
	r.order("o1", "c1|apple")
	r.pipe("customers", []byte("c2"), []byte("Bob")) // at 3000
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	// A left row older than its right row: pipe it with an earlier timestamp.
	if err := r.d.PipeRaw("orders", eddytest.Record{Key: []byte("o2"), Value: []byte("c2|pear"), Timestamp: at(500)}); err != nil {
		t.Fatal(err)
	}
	if err := r.d.PipeRaw("customers", eddytest.Record{Key: []byte("c1"), Value: []byte("Anne"), Timestamp: at(1500)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range r.d.Written("joined") {
		got = append(got, string(w.Key)+"@"+time.UnixMilli(w.Timestamp.UnixMilli()).Format("05.000"))
	}
	want := []string{
		"o1@02.000", // left change at 2000, right row at 1000
		"o2@03.000", // left change at 500, right row at 3000
		"o1@01.500", // right change at 1500
	}
	if !slices.Equal(got, want) {
		t.Errorf("result timestamps %q, want %q", got, want)
	}
}

func TestForeignKeyJoinWiring(t *testing.T) {
	topo := fkTopology(t, false)
	sub := fkName + "-subscription-registration-topic"
	res := fkName + "-subscription-response-topic"
	var names []string
	for _, it := range plan.Of(topo).InternalTopics {
		names = append(names, it.Name)
		if it.Partitions != 0 {
			t.Errorf("internal topic %s has %d partitions, want 0 (derived from its readers' copartitioned topics)", it.Name, it.Partitions)
		}
	}
	if want := []string{sub, res}; !slices.Equal(names, want) {
		t.Errorf("internal topics %q, want %q", names, want)
	}
	// The subscription topic is read with the right table's topic, the response topic with
	// the left table's: each is copartitioned with the table it serves.
	readers := map[string][]string{}
	stores := map[string][]string{}
	for _, s := range plan.Of(topo).Subtopologies {
		topics := s.SourceTopics()
		for _, topic := range topics {
			readers[topic] = topics
		}
		for _, def := range s.Stores {
			stores[topics[0]] = append(stores[topics[0]], def.Def.Name())
		}
	}
	if got := readers["customers"]; !slices.Equal(got, []string{"customers", sub}) {
		t.Errorf("the subtopology of customers reads %q, want customers and %s", got, sub)
	}
	if got := readers["orders"]; !slices.Equal(got, []string{"orders", res}) {
		t.Errorf("the subtopology of orders reads %q, want orders and %s", got, res)
	}
	if got := stores["customers"]; !slices.Contains(got, fkName+"-subscription-store") {
		t.Errorf("the subtopology of customers has stores %q, want the subscription store", got)
	}
	if got := stores["orders"]; !slices.Contains(got, fkName) {
		t.Errorf("the subtopology of orders has stores %q, want the result store %s", got, fkName)
	}
	full := plan.Of(topo).Complete("app").InternalTopics
	if len(full) != 2 || full[0].Name != "app-"+sub || full[1].Name != "app-"+res {
		t.Errorf("internal topics with the application id: %+v", full)
	}
}

func TestForeignKeyJoinKeepsItsResultAndSubscriptionsInStores(t *testing.T) {
	r := newFKRun(t, fkTopology(t, false))
	r.customer("c1", "Ann")
	r.order("o1", "c1|apple")
	r.order("o2", "c1|pear")
	r.deleteOrder("o2")

	// The result store is a table store: its typed handle reads the result.
	kv, err := r.d.KeyValueStore(fkName)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := store.KeyValue(fkName, serde.String(), serde.Bytes()).Wrap(kv).Get("o1"); err != nil || !ok || !strings.HasSuffix(string(v), "c1|apple+Ann") {
		t.Errorf("result store has o1 = %q, %t, %v; want c1|apple+Ann after its timestamp", v, ok, err)
	}
	subs, err := r.d.KeyValueStore(fkName + "-subscription-store")
	if err != nil {
		t.Fatal(err)
	}
	n, err := subs.ApproximateNumEntries()
	if err != nil || n != 1 {
		t.Errorf("subscription store has %d entries (%v), want 1: o1's (o2 was deleted)", n, err)
	}
	if got := len(r.d.Written("eddytest-" + fkName + "-subscription-store-changelog")); got != 3 {
		t.Errorf("%d records in the subscription store's changelog, want 3 (two subscriptions, one delete)", got)
	}
}

func TestForeignKeyJoinProblems(t *testing.T) {
	cases := []buildProblem{
		{
			name: "a generated name is refused under RequireExplicitNames",
			build: func(b *topology.Builder) {
				l := topology.TableFrom(b, "orders", "orders-store", serde.String(), serde.String())
				r := topology.TableFrom(b, "customers", "customers-store", serde.String(), serde.String())
				topology.JoinFK(l, r, "", customerOf, orderJoiner, serde.String())
			},
			problem: "generated name",
		},
		{
			name: "a right table of another builder is refused",
			build: func(b *topology.Builder) {
				l := topology.TableFrom(b, "orders", "orders-store", serde.String(), serde.String())
				r := topology.TableFrom(topology.NewBuilder(), "customers", "customers-store", serde.String(), serde.String())
				topology.JoinFK(l, r, fkName, customerOf, orderJoiner, serde.String())
			},
			problem: `fkJoin "orders-by-customer": the right table belongs to another builder`,
		},
		{
			name: "a missing result serde is refused",
			build: func(b *topology.Builder) {
				l := topology.TableFrom(b, "orders", "orders-store", serde.String(), serde.String())
				r := topology.TableFrom(b, "customers", "customers-store", serde.String(), serde.String())
				topology.LeftJoinFK(l, r, fkName, customerOf, orderJoiner, nil)
			},
			problem: `fkLeftJoin "orders-by-customer": the serdes of both tables and of the results must be known`,
		},
		{
			name: "a nil joiner is refused",
			build: func(b *topology.Builder) {
				l := topology.TableFrom(b, "orders", "orders-store", serde.String(), serde.String())
				r := topology.TableFrom(b, "customers", "customers-store", serde.String(), serde.String())
				topology.JoinFK[string, string, string, string, string](l, r, fkName, customerOf, nil, serde.String())
			},
			problem: "foreign-key extractor and joiner must not be nil",
		},
	}
	expectBuildProblems(t, cases, topology.RequireExplicitNames())
}
