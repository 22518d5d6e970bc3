package integration_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

var eosCounts = store.KeyValue("eos-counts", serde.String(), serde.Int64())

var errPoison = errors.New("poison record")

// poisonableCounter counts records per key and emits each new count; with failOnPoison
// it fails on a record whose value is "poison", after the records before it in the same
// transaction were counted and emitted.
type poisonableCounter struct {
	failOnPoison bool
	kv           store.KV[string, int64]
}

func (c *poisonableCounter) Init(ctx processor.InitContext) error {
	c.kv = eosCounts.From(ctx)
	return nil
}

func (c *poisonableCounter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	if c.failOnPoison && r.Value == "poison" {
		return errPoison
	}
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	if err := c.kv.Put(r.Key, n+1); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n + 1, Timestamp: r.Timestamp})
	return nil
}

func poisonableTopology(t *testing.T, in, out string, failOnPoison bool) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{in})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] {
		return &poisonableCounter{failOnPoison: failOnPoison}
	}, "in")
	topology.AddStore(b, eosCounts, "count")
	topology.AddSink(b, "out", out, serde.String(), serde.Int64(), []string{"count"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// readCommittedCounts reads topic read_committed until every key's newest count is want's,
// and returns every count emitted per key, in order.
func readCommittedCounts(t *testing.T, topic string, client *kgo.Client, want map[string]int64, timeout time.Duration) map[string][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	emitted := map[string][]int64{}
	latest := map[string]int64{}
	for !maps.Equal(latest, want) {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: after %s the newest counts are %v, want %v", topic, timeout, latest, want)
		}
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fetches.Records() {
			n, err := serde.Int64().Deserialize(topic, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			emitted[string(r.Key)] = append(emitted[string(r.Key)], n)
			latest[string(r.Key)] = n
		}
	}
	return emitted
}

// TestExactlyOnceRollsBackAFailedTransaction fails an exactly-once application in the
// middle of a transaction, after it counted and emitted records in it, then runs it
// again on the same state directory. Read committed, every key's counts must be exactly
// 1, 2, ..., n: the failed transaction's output is invisible and its store writes were
// rolled back, so nothing is lost and nothing is counted twice.
func TestExactlyOnceRollsBackAFailedTransaction(t *testing.T) {
	cluster := kafka.Cluster(t)
	in := cluster.NewTopic(t, 3, nil)
	out := cluster.NewTopic(t, 3, nil)
	stateDir := t.TempDir()
	appID := in + "-app"
	producer := cluster.Client(t)
	want := map[string]int64{}
	produce := func(n int, poison bool) {
		t.Helper()
		var keys, values []string
		for i := range n {
			key := fmt.Sprintf("key-%d", i%10)
			keys, values = append(keys, key), append(values, "x")
			want[key]++
			if poison && i == n/2 {
				keys, values = append(keys, "key-3"), append(values, "poison")
				want["key-3"]++
			}
		}
		produceValues(t.Context(), t, producer, in, keys, values)
	}
	reader := cluster.Client(t, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()))

	produce(300, false)
	first := startApp(t, "failing", cluster, poisonableTopology(t, in, out, true),
		eddy.ApplicationID(appID), eddy.StateDir(stateDir), eddy.ExactlyOnce())
	emitted := readCommittedCounts(t, out, reader, maps.Clone(want), time.Minute)
	produce(300, true)
	if err := first.wait(t, time.Minute); !errors.Is(err, errPoison) {
		t.Fatalf("the failing instance stopped with %v, want the poison error", err)
	}

	second := startApp(t, "fixed", cluster, poisonableTopology(t, in, out, false),
		eddy.ApplicationID(appID), eddy.StateDir(stateDir), eddy.ExactlyOnce())
	for k, counts := range readCommittedCounts(t, out, reader, want, time.Minute) {
		emitted[k] = append(emitted[k], counts...)
	}
	second.stop(t)

	for _, k := range slices.Sorted(maps.Keys(want)) {
		counts := emitted[k]
		for i, n := range counts {
			if n != int64(i+1) {
				t.Errorf("%s: emitted counts %v; count %d is %d, want %d (a gap or a repeat)", k, counts, i, n, i+1)
				break
			}
		}
		if int64(len(counts)) != want[k] {
			t.Errorf("%s: %d counts emitted, want %d", k, len(counts), want[k])
		}
	}
}
