package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGlobalBootstrapReadCommittedWaitsForATransactionOpenBelowCommittedRecords: a
// global topic holds a transaction left open and, after it, committed records. The last
// stable offset is pinned at the open transaction, but the bootstrap reads to the end of
// the log: it waits for the transaction to end, then applies what was committed behind
// it, before any task would start.
func TestGlobalBootstrapReadCommittedWaitsForATransactionOpenBelowCommittedRecords(t *testing.T) {
	const topic = "globals"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	seeds := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	transaction := func(id string, kvs ...string) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kvs); i += 2 {
			if err := cl.ProduceSync(ctx, kgo.KeyStringRecord(kvs[i], kvs[i+1])).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return cl
	}
	open := transaction("open", "a", "stale")
	if err := transaction("committed", "a", "1", "b", "1").EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	topo := globalStoreTopology(t, topic)
	admin, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	cfg := Config{Topology: plan.Of(topo), StateDir: t.TempDir(), Stores: memstore.New(), Logger: slog.New(slog.DiscardHandler)}
	type result struct {
		g   *globals
		err error
	}
	done := make(chan result, 1)
	go func() {
		g, err := openGlobals(ctx, cfg, globalsConfig{
			admin:         kadm.NewClient(admin),
			partitions:    map[string]int32{topic: 1},
			readCommitted: true,
			newClient: func(opts ...kgo.Opt) (*kgo.Client, error) {
				return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
			},
		})
		done <- result{g, err}
	}()
	select {
	case r := <-done:
		r.g.close()
		t.Fatalf("the bootstrap ended while a transaction was open below the end of the log (err %v)", r.err)
	case <-time.After(1500 * time.Millisecond):
	}
	if err := open.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("bootstrap: %v", r.err)
	}
	defer r.g.close()
	it, err := r.g.stores["g"].All()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		got = append(got, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=1"}; !slices.Equal(got, want) {
		t.Errorf("bootstrapped %v, want %v", got, want)
	}
}

// restoreEvents records what a RestoreListener hears, one line per call.
type restoreEvents struct{ lines []string }

func (r *restoreEvents) OnRestoreStart(topic string, partition int32, storeName string, start, end int64) {
	r.lines = append(r.lines, fmt.Sprintf("start %s/%d %s %d-%d", topic, partition, storeName, start, end))
}

func (r *restoreEvents) OnBatchRestored(topic string, partition int32, storeName string, batchEnd int64, records int) {
	r.lines = append(r.lines, fmt.Sprintf("batch %s/%d %s to %d: %d", topic, partition, storeName, batchEnd, records))
}

func (r *restoreEvents) OnRestoreEnd(topic string, partition int32, storeName string, total int64, _ time.Duration) {
	r.lines = append(r.lines, fmt.Sprintf("end %s/%d %s: %d", topic, partition, storeName, total))
}

// TestGlobalBootstrapTellsTheRestoreListener: the bootstrap reports each partition it
// reads, from its checkpoint to the end it listed, and nothing for a partition that has
// nothing to read.
func TestGlobalBootstrapTellsTheRestoreListener(t *testing.T) {
	const topic = "globals"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	seeds := cluster.ListenAddrs()
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for i := range 3 {
		r := &kgo.Record{Topic: topic, Partition: 1, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}
		if err := client.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	topo := globalStoreTopology(t, topic)
	stateDir := t.TempDir()
	bootstrap := func() []string {
		t.Helper()
		events := &restoreEvents{}
		cfg := Config{Topology: plan.Of(topo), StateDir: stateDir, Stores: memstore.New(), Logger: slog.New(slog.DiscardHandler), RestoreListener: events}
		g, err := openGlobals(t.Context(), cfg, globalsConfig{
			admin:      kadm.NewClient(client),
			partitions: map[string]int32{topic: 2},
			newClient: func(opts ...kgo.Opt) (*kgo.Client, error) {
				return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.close(); err != nil {
			t.Fatal(err)
		}
		return events.lines
	}
	want := []string{"start globals/1 g 0-3", "batch globals/1 g to 3: 3", "end globals/1 g: 3"}
	if got := bootstrap(); !slices.Equal(got, want) {
		t.Errorf("first bootstrap told the listener %q, want %q", got, want)
	}
}

// globalStoreTopology has the global store "g", filled from topic, and a source of "in".
func globalStoreTopology(t *testing.T, topic string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, store.KeyValue("g", serde.String(), serde.String(), store.WithoutLogging()), "g-source", topic, nil)
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}
