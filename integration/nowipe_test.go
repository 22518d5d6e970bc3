package integration_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKilledInstanceReplaysOnlyTheTail fills an exactly-once instance's store with a
// million keys, kills it with SIGKILL, adds a few records, and restarts it on its state
// directory: it must restore only what its local state had not made durable, not the
// million keys, and report how long it took from start to its first output.
func TestKilledInstanceReplaysOnlyTheTail(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million keys; skipped with -short")
	}
	cluster := kafka.Cluster(t)
	const partitions, keys, tail = 4, 1_000_000, 100
	in := cluster.NewTopic(t, partitions, nil)
	out := cluster.NewTopic(t, partitions, nil)
	cfg := childConfig{Brokers: cluster.Seeds(), In: in, Out: out, App: in + "-app", StateDir: t.TempDir()}
	logPath := filepath.Join(t.TempDir(), "instance.log")

	producer := cluster.Client(t, kgo.DefaultProduceTopic(in), kgo.MaxBufferedRecords(100_000))
	one, _ := serde.Int64().Serialize(in, 1)
	produceKeys := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			producer.Produce(t.Context(), kgo.KeySliceRecord([]byte(fmt.Sprintf("%s-%07d", prefix, i)), one), nil)
		}
		if err := producer.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	produceKeys("key", keys)

	first := startChild(t, cfg, logPath)
	t.Cleanup(func() { first.signal(syscall.SIGKILL) })
	admin := kadm.NewClient(cluster.Client(t))
	deadline := time.Now().Add(5 * time.Minute)
	for committedInput(t, admin, cfg.App, in) < keys {
		if time.Now().After(deadline) {
			t.Fatalf("the instance did not process %d records in 5 minutes; its log: %s", keys, logPath)
		}
		time.Sleep(time.Second)
	}
	first.signal(syscall.SIGKILL)

	produceKeys("tail", tail)
	started := time.Now()
	second := startChild(t, cfg, logPath)
	t.Cleanup(func() { second.signal(syscall.SIGKILL) })
	reader := cluster.Client(t, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	firstOutput := time.Duration(0)
	seen := 0
	for seen < tail {
		fetches := reader.PollFetches(t.Context())
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fetches.Records() {
			if strings.HasPrefix(string(r.Key), "tail-") {
				if seen == 0 {
					firstOutput = time.Since(started)
				}
				seen++
			}
		}
		if time.Since(started) > 2*time.Minute {
			t.Fatalf("the restarted instance gave %d of %d tail outputs in 2 minutes; its log: %s", seen, tail, logPath)
		}
	}
	if err := second.signal(syscall.SIGTERM); err != nil {
		t.Errorf("the restarted instance did not stop cleanly: %v", err)
	}

	restored, took := restoredAfterRestart(t, logPath)
	t.Logf("killed with %d keys in its store; after restart it replayed %d changelog records in %s (%.1f%% of the store), first output %s after start",
		keys, restored, took.Round(time.Millisecond), 100*float64(restored)/keys, firstOutput.Round(time.Millisecond))
	if restored >= keys/2 {
		t.Errorf("the restart replayed %d changelog records: the local state was wiped or ignored", restored)
	}
}

// committedInput sums the group's committed offsets of topic.
func committedInput(t *testing.T, admin *kadm.Client, group, topic string) int64 {
	t.Helper()
	offsets, err := admin.FetchOffsets(t.Context(), group)
	if err != nil {
		return 0
	}
	var sum int64
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			sum += o.At
		}
	})
	return sum
}

// restoredAfterRestart totals the RESTORED lines the instance printed.
func restoredAfterRestart(t *testing.T, logPath string) (int64, time.Duration) {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var records int64
	var took time.Duration
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var partition int32
		var n, micros int64
		if _, err := fmt.Sscanf(scanner.Text(), restoredLine+" %d %d %d", &partition, &n, &micros); err == nil {
			records += n
			took += time.Duration(micros) * time.Microsecond
		}
	}
	return records, took
}
