package integration_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/pebblestore"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var priceList = store.KeyValue("prices", serde.String(), serde.Int64(), store.WithoutLogging())

// pricer forwards, for each order (item, quantity), the quantity times the item's price
// in the global price list; -1 for an item without a price.
type pricer struct{ kv store.KV[string, int64] }

func (p *pricer) Init(ctx processor.InitContext) error { p.kv = priceList.From(ctx); return nil }

func (p *pricer) Process(ctx processor.Context[string, int64], r processor.Record[string, int64]) error {
	price, ok, err := p.kv.Get(r.Key)
	if err != nil {
		return err
	}
	total := int64(-1)
	if ok {
		total = price * r.Value
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: total, Timestamp: r.Timestamp})
	return nil
}

func pricingTopology(t *testing.T, prices, orders, totals string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, priceList, "price-list", prices, nil)
	topology.AddSource(b, "orders", serde.String(), serde.Int64(), []string{orders})
	topology.AddProcessor(b, "price", func() processor.Processor[string, int64, string, int64] { return &pricer{} }, "orders")
	topology.ConnectGlobalStore(b, "prices", "price")
	topology.AddSink(b, "totals", totals, serde.String(), serde.Int64(), []string{"price"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestGlobalStoreIsBootstrappedBeforeProcessingAndUpdatedWhileRunning prices orders
// from a global store filled from a three-partition topic: orders produced before the
// application starts all see every price produced before it too; prices changed while it
// runs reach it; and after a clean stop its checkpoint holds the end of every partition
// (under "<store>/<partition>"), from which a restart reads the prices produced
// meanwhile before it processes anything. Under exactly-once, prices of an aborted
// transaction are never seen.
func TestGlobalStoreIsBootstrappedBeforeProcessingAndUpdatedWhileRunning(t *testing.T) {
	for _, exactlyOnce := range []bool{false, true} {
		name := "at_least_once"
		if exactlyOnce {
			name = "exactly_once"
		}
		t.Run(name, func(t *testing.T) { testGlobalStore(t, exactlyOnce) })
	}
}

func testGlobalStore(t *testing.T, exactlyOnce bool) {
	cluster := kafka.Cluster(t)
	const items = 300
	prices := cluster.NewTopic(t, 3, nil)
	orders := cluster.NewTopic(t, 2, nil)
	totals := cluster.NewTopic(t, 2, nil)
	app := orders + "-app"
	stateDir := t.TempDir()
	opts := []eddy.Opt{eddy.ApplicationID(app), eddy.StateDir(stateDir), eddy.CommitInterval(200 * time.Millisecond)}
	isolation := kgo.ReadUncommitted()
	if exactlyOnce {
		opts = append(opts, eddy.ExactlyOnce())
		isolation = kgo.ReadCommitted()
	}
	ctx := testContext(t, 3*time.Minute)
	// Under exactly-once the input comes in transactions, so the global store reads
	// transaction markers too.
	var producer *kgo.Client
	write := func(records []*kgo.Record) {
		t.Helper()
		if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if exactlyOnce {
		producer = cluster.Client(t, kgo.TransactionalID(prices+"-producer"))
		write = func(records []*kgo.Record) { transaction(ctx, t, producer, records, kgo.TryCommit) }
	} else {
		producer = cluster.Client(t)
	}
	want := map[string]int64{}

	setPrices := func(kvs map[string]int64, deleted ...string) {
		t.Helper()
		var records []*kgo.Record
		for k, v := range kvs {
			b, _ := serde.Int64().Serialize(prices, v)
			records = append(records, &kgo.Record{Topic: prices, Key: []byte(k), Value: b})
		}
		for _, k := range deleted {
			records = append(records, &kgo.Record{Topic: prices, Key: []byte(k)})
		}
		write(records)
	}
	order := func(keys ...string) {
		t.Helper()
		var records []*kgo.Record
		for _, k := range keys {
			one, _ := serde.Int64().Serialize(orders, 2)
			records = append(records, &kgo.Record{Topic: orders, Key: []byte(k), Value: one})
		}
		write(records)
	}

	// Before the start: every item gets a price, some change, one is deleted, and a
	// transaction that would set absurd prices is aborted.
	initial := map[string]int64{}
	var keys []string
	for i := range items {
		k := fmt.Sprintf("item-%03d", i)
		initial[k] = int64(i)
		keys = append(keys, k)
	}
	setPrices(initial)
	setPrices(map[string]int64{"item-001": 1000, "item-002": 2000}, "item-000")
	if exactlyOnce {
		b, _ := serde.Int64().Serialize(prices, 999_999)
		transaction(ctx, t, producer, []*kgo.Record{{Topic: prices, Key: []byte("item-003"), Value: b}}, kgo.TryAbort)
	}
	for k, v := range initial {
		want[k] = 2 * v
	}
	want["item-000"], want["item-001"], want["item-002"] = -1, 2000, 4000
	order(keys...)

	reader := cluster.Client(t, kgo.ConsumeTopics(totals), kgo.FetchIsolationLevel(isolation),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	first := startApp(t, "first", cluster, pricingTopology(t, prices, orders, totals), opts...)
	got := readTotals(ctx, t, reader, items)
	if !maps.Equal(got, want) {
		t.Fatalf("totals of the orders made before the start differ from the prices made before it:\n%s", diffTotals(got, want))
	}

	// While running: prices change and new items come; orders for them, placed until
	// their totals show the new prices, must get there.
	changed := map[string]int64{"item-010": 7, "new-a": 11, "new-b": 13}
	setPrices(changed, "item-011")
	updated := map[string]int64{"item-010": 14, "new-a": 22, "new-b": 26, "item-011": -1}
	deadline := time.Now().Add(30 * time.Second)
	for rounds := 1; ; rounds++ {
		order(slicesOfKeys(updated)...)
		got = readTotals(ctx, t, reader, len(updated))
		if maps.Equal(got, updated) {
			t.Logf("the running instance saw the new prices after %d round(s) of orders", rounds)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the prices changed, orders still get:\n%s", diffTotals(got, updated))
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.stop(t)

	// The checkpoint holds the end of every partition of the price topic: the orders saw
	// the new prices, so the instance had applied them (with their transaction markers:
	// a read_committed fetch returns records only once their marker is written).
	ends, err := cluster.Admin(t).ListEndOffsets(ctx, prices)
	if err != nil {
		t.Fatal(err)
	}
	if exactlyOnce {
		if ends, err = cluster.Admin(t).ListCommittedOffsets(ctx, prices); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint := globalCheckpoint(t, filepath.Join(stateDir, app, "global"))
	ends.Each(func(o kadm.ListedOffset) {
		key := fmt.Sprintf("prices/%d", o.Partition)
		if checkpoint[key] != o.Offset {
			t.Errorf("checkpoint %s = %d, want the partition's end %d (checkpoint %v)", key, checkpoint[key], o.Offset, checkpoint)
		}
	})

	// Stopped: more prices, and orders for them, before the restart.
	setPrices(map[string]int64{"late-a": 5, "item-020": 3})
	order("late-a", "item-020", "item-010")
	second := startApp(t, "second", cluster, pricingTopology(t, prices, orders, totals), opts...)
	got = readTotals(ctx, t, reader, 3)
	if late := map[string]int64{"late-a": 10, "item-020": 6, "item-010": 14}; !maps.Equal(got, late) {
		t.Errorf("after the restart, totals of orders made while stopped:\n%s", diffTotals(got, late))
	}
	second.stop(t)
}

// transaction writes records in one transaction that ends as end says.
func transaction(ctx context.Context, t *testing.T, producer *kgo.Client, records []*kgo.Record, end kgo.TransactionEndTry) {
	t.Helper()
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := producer.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
}

// readTotals reads the next n records of the totals topic, keeping the newest per key.
func readTotals(ctx context.Context, t *testing.T, reader *kgo.Client, n int) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	read := 0
	for read < n {
		fetches := reader.PollRecords(ctx, n-read)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d totals: %v", read, n, ctx.Err())
		}
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fetches.Records() {
			v, err := serde.Int64().Deserialize(r.Topic, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			got[string(r.Key)] = v
			read++
		}
	}
	return got
}

func diffTotals(got, want map[string]int64) string {
	s := ""
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			s += fmt.Sprintf("  %s: got %d (present %v), want %d\n", k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			s += fmt.Sprintf("  %s: got %d, not expected\n", k, g)
		}
	}
	return s
}

func slicesOfKeys(m map[string]int64) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// globalCheckpoint reads the committed offsets of the global stores' Pebble database in
// dir, which no instance may be using.
func globalCheckpoint(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	engine, err := pebblestore.New(pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	db, err := engine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	offsets, err := db.CommittedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	return offsets
}
