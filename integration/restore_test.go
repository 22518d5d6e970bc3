package integration_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/internal/changelog"
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

	got, checkpoint := restoreReadCommitted(t, ctx, cluster, topic)
	if want := []string{"a=1", "b=2"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
	// Three data records, two aborted ones, and three markers: offsets 0 to 7.
	if checkpoint != 8 {
		t.Errorf("checkpoint after restore is %d, want 8 (past the last commit marker)", checkpoint)
	}
}

// restoreReadCommitted restores partition 0 of topic, read_committed, into a new
// in-memory store, and returns what the store then holds ("key=value", in key order) and
// its checkpoint.
func restoreReadCommitted(t *testing.T, ctx context.Context, cluster *kafkatest.Cluster, topic string) (contents []string, checkpoint int64) {
	t.Helper()
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
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		contents = append(contents, fmt.Sprintf("%s=%s", it.Key(), it.Value()))
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		t.Fatal(err)
	}
	offsets, err := db.CommittedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	return contents, offsets["s"]
}

// TestRestoreReadCommittedWaitsForATransactionOpenBelowCommittedRecords is issue 11 on
// one changelog partition: a stalled former owner's transaction is open, a later owner
// committed records after it, so the last stable offset sits below those records. The
// restore must wait for the open transaction to end (here the broker aborts it when it
// times out, as it does for an instance that never resumes) and then restore what was
// committed behind it, not stop at the last stable offset.
func TestRestoreReadCommittedWaitsForATransactionOpenBelowCommittedRecords(t *testing.T) {
	cluster := kafka.Cluster(t)
	topic := cluster.NewTopic(t, 1, map[string]string{"cleanup.policy": "compact"})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	begin := func(id string, timeout time.Duration, kvs ...string) *kgo.Client {
		t.Helper()
		producer := cluster.Client(t, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(id), kgo.TransactionTimeout(timeout))
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kvs); i += 2 {
			if err := producer.ProduceSync(ctx, kgo.KeyStringRecord(kvs[i], kvs[i+1])).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return producer
	}
	commit := func(producer *kgo.Client) {
		t.Helper()
		if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	commit(begin(topic+"-owner-1", 10*time.Second, "a", "1", "b", "1"))
	opened := time.Now()
	begin(topic+"-stalled", 5*time.Second, "a", "stale", "b", "stale") // never ended
	commit(begin(topic+"-owner-2", 10*time.Second, "a", "2", "c", "2"))

	admin := kadm.NewClient(cluster.Client(t))
	listed, err := admin.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	high, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	lso, _ := listed.Lookup(topic, 0)
	hw, _ := high.Lookup(topic, 0)
	if lso.Offset >= hw.Offset {
		t.Fatalf("the last stable offset %d is not below the high watermark %d: the open transaction does not pin it", lso.Offset, hw.Offset)
	}

	got, _ := restoreReadCommitted(t, ctx, cluster, topic)
	waited := time.Since(opened)
	if want := []string{"a=2", "b=1", "c=2"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v: what was committed before and behind the open transaction", got, want)
	}
	if waited < 5*time.Second {
		t.Errorf("the restore ended %s after the transaction opened, before its 5 s timeout", waited)
	}
	t.Logf("last stable offset %d, high watermark %d at the start; the restore waited for the broker to abort the open transaction and ended %s after it opened",
		lso.Offset, hw.Offset, waited.Round(time.Millisecond))
}
