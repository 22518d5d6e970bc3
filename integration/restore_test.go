package integration_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreReadCommittedSkipsAbortedWritesAndEndsOnAMarker restores a changelog whose
// writes were made in transactions, one of them aborted, and whose last offset is a
// commit marker: only committed values come back, and restoration ends although no data
// record sits at the end offset.
func TestRestoreReadCommittedSkipsAbortedWritesAndEndsOnAMarker(t *testing.T) {
	cluster := kafka.Cluster(t)
	topic := cluster.NewTopic(t, 1, map[string]string{"cleanup.policy": "compact"})
	producer := cluster.Client(t, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic+"-txn"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	transaction := func(end kgo.TransactionEndTry, kvs ...string) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kvs); i += 2 {
			if err := producer.ProduceSync(ctx, kgo.KeyStringRecord(kvs[i], kvs[i+1])).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := producer.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	transaction(kgo.TryCommit, "a", "1", "b", "1")
	transaction(kgo.TryAbort, "a", "aborted", "c", "aborted")
	transaction(kgo.TryCommit, "b", "2")

	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := db.KeyValue("s")
	if err != nil {
		t.Fatal(err)
	}
	restorer := &changelog.Restorer{
		Admin:         kadm.NewClient(cluster.Client(t)),
		ReadCommitted: true,
		NewConsumer: func(partitions map[string]map[int32]kgo.Offset, opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.Seeds()...), kgo.ConsumePartitions(partitions)}, opts...)...)
		},
	}
	if err := restorer.Restore(ctx, []changelog.Target{{Store: "s", Topic: topic, Partition: 0, KV: kv, DB: db}}); err != nil {
		t.Fatalf("restore: %v", err)
	}

	var got []string
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		got = append(got, fmt.Sprintf("%s=%s", it.Key(), it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=2"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
	offsets, err := db.CommittedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	// Three data records, two aborted ones, and three markers: offsets 0 to 7.
	if offsets["s"] != 8 {
		t.Errorf("checkpoint after restore is %d, want 8 (past the last commit marker)", offsets["s"])
	}
}
