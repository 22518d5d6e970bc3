package integration_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests prove that the broker the harness starts is real Kafka, with the behaviour
// that Eddy's exactly-once and changelog designs rely on.

func TestBrokerIsRealKafka(t *testing.T) {
	cluster := kafka.Cluster(t)
	t.Logf("broker: %s", cluster)
	if cluster.Version() == "" {
		t.Fatal("the broker reported no version")
	}
}

func TestProducedRecordsAreConsumedInOrderPerPartition(t *testing.T) {
	cluster := kafka.Cluster(t)
	const partitions, records = 3, 300
	topic := cluster.NewTopic(t, partitions, nil)
	ctx := testContext(t, 30*time.Second)

	producer := cluster.Client(t, kgo.DefaultProduceTopic(topic))
	sent := make(map[int32][]string)
	for i := range records {
		r := &kgo.Record{Key: fmt.Appendf(nil, "key-%d", i%17), Value: fmt.Appendf(nil, "value-%d", i)}
		if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("producing record %d: %v", i, err)
		}
		sent[r.Partition] = append(sent[r.Partition], string(r.Value))
	}
	if len(sent) != partitions {
		t.Fatalf("records went to %d partitions, want all %d", len(sent), partitions)
	}

	got := make(map[int32][]string)
	consume(ctx, t, cluster.Client(t, kgo.ConsumeTopics(topic)), func(r *kgo.Record) bool {
		got[r.Partition] = append(got[r.Partition], string(r.Value))
		return countValues(got) == records
	})
	for p := range sent {
		if !slices.Equal(got[p], sent[p]) {
			t.Errorf("partition %d: consumed %q, produced %q", p, got[p], sent[p])
		}
	}
}

func TestReadCommittedSeesCommittedTransactionsOnly(t *testing.T) {
	cluster := kafka.Cluster(t)
	topic := cluster.NewTopic(t, 1, nil)
	ctx := testContext(t, 60*time.Second)

	producer := cluster.Client(t,
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID(topic+"-producer"),
	)
	transaction := func(prefix string, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction: %v", err)
		}
		for i := range 5 {
			if err := producer.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("%s-%d", prefix, i))).FirstErr(); err != nil {
				t.Fatalf("producing in transaction: %v", err)
			}
		}
		if err := producer.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("ending transaction: %v", err)
		}
	}
	transaction("aborted", kgo.TryAbort)
	transaction("committed", kgo.TryCommit)

	// A record written after both transactions marks the end: a consumer that reaches it
	// has been shown everything before it that its isolation level lets through.
	plain := cluster.Client(t, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, kgo.StringRecord("end")).FirstErr(); err != nil {
		t.Fatalf("producing end marker: %v", err)
	}
	readUntilEnd := func(isolation kgo.IsolationLevel) []string {
		var values []string
		consume(ctx, t, cluster.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(isolation)), func(r *kgo.Record) bool {
			values = append(values, string(r.Value))
			return string(r.Value) == "end"
		})
		return values
	}

	committed := readUntilEnd(kgo.ReadCommitted())
	wantCommitted := []string{"committed-0", "committed-1", "committed-2", "committed-3", "committed-4", "end"}
	if !slices.Equal(committed, wantCommitted) {
		t.Errorf("read_committed consumed %q, want %q", committed, wantCommitted)
	}
	// The aborted records are in the log: only the isolation level hides them.
	uncommitted := readUntilEnd(kgo.ReadUncommitted())
	if want := 11; len(uncommitted) != want || uncommitted[0] != "aborted-0" {
		t.Errorf("read_uncommitted consumed %q, want the %d records of both transactions and the end marker", uncommitted, want)
	}
}

func TestCompactedTopicKeepsNewestValuePerKey(t *testing.T) {
	cluster := kafka.Cluster(t)
	// The cleaner never touches the active segment: segments roll every 100 ms once a new
	// record arrives, and any dirty share of the log makes it eligible.
	topic := cluster.NewTopic(t, 1, map[string]string{
		"cleanup.policy":            "compact",
		"segment.ms":                "100",
		"min.cleanable.dirty.ratio": "0.01",
		"delete.retention.ms":       "100",
	})
	ctx := testContext(t, 2*time.Minute)
	producer := cluster.Client(t, kgo.DefaultProduceTopic(topic))

	const keys, versions = 10, 20
	newest := make(map[string]string)
	for v := 1; v <= versions; v++ {
		for k := range keys {
			r := kgo.KeyStringRecord(fmt.Sprintf("key-%d", k), fmt.Sprintf("version-%d", v))
			if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("producing: %v", err)
			}
			newest[string(r.Key)] = string(r.Value)
		}
	}

	started := time.Now()
	for attempt := 1; ; attempt++ {
		// A fresh record rolls the segment that holds the keyed records, so it can be
		// cleaned; it is also the last record, so reading up to it reads the whole log.
		roll := kgo.KeyStringRecord("roll", fmt.Sprint(attempt))
		if err := producer.ProduceSync(ctx, roll).FirstErr(); err != nil {
			t.Fatalf("producing roll record: %v", err)
		}
		perKey := make(map[string][]string)
		consume(ctx, t, cluster.Client(t, kgo.ConsumeTopics(topic)), func(r *kgo.Record) bool {
			if string(r.Key) == "roll" {
				return string(r.Value) == string(roll.Value)
			}
			perKey[string(r.Key)] = append(perKey[string(r.Key)], string(r.Value))
			return false
		})
		if compacted(perKey, newest) {
			t.Logf("the cleaner compacted %d records to %d after %s", keys*versions, keys, time.Since(started).Round(time.Millisecond))
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the log was not compacted in time; values per key: %v", perKey)
		}
		time.Sleep(time.Second)
	}
}

// compacted reports whether perKey holds exactly the newest value of every key.
func compacted(perKey map[string][]string, newest map[string]string) bool {
	if !slices.Equal(slices.Sorted(maps.Keys(perKey)), slices.Sorted(maps.Keys(newest))) {
		return false
	}
	for k, values := range perKey {
		if len(values) != 1 || values[0] != newest[k] {
			return false
		}
	}
	return true
}

// consume polls client until done returns true for a record, failing the test when ctx
// ends first or a fetch fails.
func consume(ctx context.Context, t *testing.T, client *kgo.Client, done func(*kgo.Record) bool) {
	t.Helper()
	for {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming: %v", ctx.Err())
		}
		if err := fetches.Err(); err != nil {
			t.Fatalf("consuming: %v", err)
		}
		for _, r := range fetches.Records() {
			if done(r) {
				return
			}
		}
	}
}

func countValues(m map[int32][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func testContext(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}
