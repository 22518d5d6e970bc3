package changelog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topic = "app-s-changelog"

// newCluster starts an embedded broker with the changelog topic (one partition) and
// returns its seed brokers.
func newCluster(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func newClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// openTransaction begins a transaction of transactional id id and writes kvs (key,
// value, key, value, ...) to the changelog in it; the caller ends it.
func openTransaction(t *testing.T, ctx context.Context, seeds []string, id string, kvs ...string) *kgo.Client {
	t.Helper()
	producer := newClient(t, seeds, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(id))
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

func endTransaction(t *testing.T, ctx context.Context, producer *kgo.Client, end kgo.TransactionEndTry) {
	t.Helper()
	if err := producer.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
}

func newRestorer(t *testing.T, seeds []string, wait time.Duration) *changelog.Restorer {
	return &changelog.Restorer{
		Admin:           kadm.NewClient(newClient(t, seeds)),
		ReadCommitted:   true,
		TransactionWait: wait,
		NewConsumer: func(partitions map[string]map[int32]kgo.Offset, opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(partitions)}, opts...)...)
		},
	}
}

func newTarget(t *testing.T) changelog.Target {
	t.Helper()
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kv, err := db.KeyValue("s")
	if err != nil {
		t.Fatal(err)
	}
	return changelog.Target{Store: "s", Topic: topic, Partition: 0, KV: kv, DB: db}
}

func contents(t *testing.T, kv store.KeyValueStore) []string {
	t.Helper()
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%s=%s", it.Key(), it.Value()))
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRestoreReadCommittedWaitsForATransactionOpenBelowCommittedRecords is the case of
// issue 11: a stalled former owner of a task left a transaction open on the changelog,
// and a later owner committed records after it. The last stable offset is pinned at the
// open transaction's first record, but the restore must not stop there: it waits until
// the transaction ends (here, aborted) and then restores the committed records behind it.
func TestRestoreReadCommittedWaitsForATransactionOpenBelowCommittedRecords(t *testing.T) {
	seeds := newCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	committed := openTransaction(t, ctx, seeds, "owner-1", "a", "1")
	endTransaction(t, ctx, committed, kgo.TryCommit)
	zombie := openTransaction(t, ctx, seeds, "zombie", "a", "stale", "b", "stale")
	later := openTransaction(t, ctx, seeds, "owner-2", "a", "2", "c", "2")
	endTransaction(t, ctx, later, kgo.TryCommit)

	target := newTarget(t)
	restored := make(chan error, 1)
	go func() { restored <- newRestorer(t, seeds, time.Minute).Restore(ctx, []changelog.Target{target}) }()
	select {
	case err := <-restored:
		t.Fatalf("the restore ended while a transaction was open below the end of the log (err %v), with %v", err, contents(t, target.KV))
	case <-time.After(1500 * time.Millisecond):
	}
	endTransaction(t, ctx, zombie, kgo.TryAbort)
	if err := <-restored; err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got, want := contents(t, target.KV), []string{"a=2", "c=2"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v: the records committed behind the open transaction", got, want)
	}
	offsets, err := target.DB.CommittedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	// 0 a=1, 1 marker, 2-3 the zombie's, 4-5 the later owner's, 6 its marker; the
	// zombie's abort marker comes at 7, after the end the restore listed.
	if offsets["s"] != 7 {
		t.Errorf("checkpoint %d after the restore, want 7", offsets["s"])
	}
}

// TestRestoreReadCommittedFailsWhenATransactionStaysOpenPastTheWait: a transaction that
// never ends (a hanging transaction) makes the restore fail with ErrTransactionOpen once
// it has waited TransactionWait, rather than restore part of the committed records.
func TestRestoreReadCommittedFailsWhenATransactionStaysOpenPastTheWait(t *testing.T) {
	seeds := newCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	openTransaction(t, ctx, seeds, "hanging", "a", "stale")
	later := openTransaction(t, ctx, seeds, "owner", "a", "1")
	endTransaction(t, ctx, later, kgo.TryCommit)

	target := newTarget(t)
	began := time.Now()
	err := newRestorer(t, seeds, 2*time.Second).Restore(ctx, []changelog.Target{target})
	if !errors.Is(err, changelog.ErrTransactionOpen) {
		t.Fatalf("restore returned %v, want ErrTransactionOpen", err)
	}
	if took := time.Since(began); took < 2*time.Second {
		t.Errorf("the restore gave up after %s, before its 2 s wait", took)
	}
	t.Logf("restore past a hanging transaction: %v", err)
}

// TestRestoreReadCommittedCountsOnlyTheTimeTheClusterAnswers: while the cluster does not
// answer (frozen: here the embedded broker sleeps in a request), a wait for an open
// transaction does not count against TransactionWait, as a frozen broker aborts no
// timed-out transaction either. The transaction ends after a freeze longer than the
// bound, and the restore goes on; counting the freeze failed it with ErrTransactionOpen
// (three instances stopped so during repeated broker freezes,
// integration.TestBrokerFreezesExactlyOnce).
func TestRestoreReadCommittedCountsOnlyTheTimeTheClusterAnswers(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	seeds := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	stale := openTransaction(t, ctx, seeds, "stale", "a", "stale")
	later := openTransaction(t, ctx, seeds, "owner", "a", "1")
	endTransaction(t, ctx, later, kgo.TryCommit)

	// The wait's second listing of the last stable offset freezes the broker for 4 s,
	// twice the bound; the stale transaction is aborted once the broker runs again.
	const bound, freeze = 2 * time.Second, 4 * time.Second
	var listings atomic.Int32
	thawed := make(chan struct{})
	cluster.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.ListOffsetsRequest)
		if r.IsolationLevel == 1 && r.Topics[0].Partitions[0].Timestamp == -1 && listings.Add(1) == 2 {
			time.Sleep(freeze)
			close(thawed)
		}
		return nil, nil, false
	})
	aborted := make(chan error, 1)
	go func() {
		<-thawed
		aborted <- stale.EndTransaction(ctx, kgo.TryAbort)
	}()

	target := newTarget(t)
	began := time.Now()
	if err := newRestorer(t, seeds, bound).Restore(ctx, []changelog.Target{target}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if err := <-aborted; err != nil {
		t.Fatalf("aborting the stale transaction: %v", err)
	}
	if took := time.Since(began); took < freeze {
		t.Fatalf("the restore took %s, less than the freeze: the broker never froze during the wait", took)
	}
	if got, want := contents(t, target.KV), []string{"a=1"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger on one goroutine and a reader on another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRestoreWarnsWhileItReadsNothing: a changelog partition that the cluster will not
// serve (every fetch answered NOT_LEADER_OR_FOLLOWER, which the client retries without a
// word) holds the restore, and with it the task. The restore says so every
// SilenceWarning, naming the partition and its position, and finishes once the
// partition is served again.
func TestRestoreWarnsWhileItReadsNothing(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	seeds := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	producer := newClient(t, seeds, kgo.DefaultProduceTopic(topic))
	if err := producer.ProduceSync(ctx, kgo.KeyStringRecord("a", "1"), kgo.KeyStringRecord("b", "1")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	unserved := cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: topic, Err: kerr.NotLeaderForPartition, Count: -1})

	var logs syncBuffer
	restorer := newRestorer(t, seeds, time.Minute)
	restorer.ReadCommitted = false
	restorer.SilenceWarning = 300 * time.Millisecond
	restorer.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	target := newTarget(t)
	restored := make(chan error, 1)
	go func() { restored <- restorer.Restore(ctx, []changelog.Target{target}) }()

	const warning = "has read nothing for a while"
	for !strings.Contains(logs.String(), warning) {
		select {
		case err := <-restored:
			t.Fatalf("the restore ended (err %v) while its partition was not served", err)
		case <-ctx.Done():
			t.Fatalf("no warning while the restore read nothing; logs:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if line := logs.String(); !strings.Contains(line, "topic="+topic) || !strings.Contains(line, "position=0") || !strings.Contains(line, "end=2") {
		t.Errorf("the warning does not name the partition, position and end:\n%s", line)
	}
	unserved.Remove()
	if err := <-restored; err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got, want := contents(t, target.KV), []string{"a=1", "b=1"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
}
