package integration_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/examples/wordcount"
	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLagReachesZeroOnTransactionalInputAndRepartitionTopics runs the word count (a
// repartition between its two subtopologies) on input written in transactions, some
// committed and, at the end of two of the three partitions, one aborted, and reads the
// group's lag the way kafka-consumer-groups --describe computes it: the log end offset
// (ListOffsets latest, read_uncommitted: the high watermark) minus the committed offset.
// Once the output is complete, the lag must be 0 on every partition of the input and of
// the repartition topic while the application runs, and again after it stopped cleanly.
// Kafka Streams commits the consumer's position, which steps over transaction markers
// and aborted records; so must Eddy.
func TestLagReachesZeroOnTransactionalInputAndRepartitionTopics(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			testLagReachesZero(t, guarantee == "exactly-once")
		})
	}
}

func testLagReachesZero(t *testing.T, exactlyOnce bool) {
	cluster := kafka.Cluster(t)
	const partitions = 3
	topics := wordcount.Topics{Lines: cluster.NewTopic(t, partitions, nil), Counts: cluster.NewTopic(t, partitions, nil)}
	topo, err := wordcount.Topology(topics)
	if err != nil {
		t.Fatal(err)
	}
	appID := topics.Lines + "-app"
	repartition := appID + "-words-repartition"

	// Committed transactions over every partition, two before the application starts and
	// three while it runs (so that its own transactions, under exactly-once, leave
	// markers all along the repartition topic), then an aborted one on partitions 0 and 1
	// only, whose words appear nowhere else. A read_committed consumer (exactly-once)
	// never sees them; a read_uncommitted one (at-least-once, as Kafka Streams'
	// at_least_once consumer) processes them.
	want := map[string]int64{}
	abortedWords := map[string]int64{}
	producer := cluster.Client(t, kgo.TransactionalID(appID+"-producer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	vocab := vocabulary(40)
	committedTxn := func(txn int) {
		var recs []*kgo.Record
		for p := range int32(partitions) {
			for i := range 20 {
				line := vocab[(txn*7+i)%len(vocab)] + " " + vocab[(int(p)*11+i)%len(vocab)]
				for _, w := range wordcount.Words(line) {
					want[w]++
				}
				recs = append(recs, &kgo.Record{Topic: topics.Lines, Partition: p, Value: []byte(line)})
			}
		}
		produceInTransaction(t, producer, recs, kgo.TryCommit)
	}
	committedTxn(0)
	committedTxn(1)

	opts := []eddy.Opt{eddy.ApplicationID(appID), eddy.StateDir(t.TempDir()), eddy.CommitInterval(500 * time.Millisecond)}
	if exactlyOnce {
		opts = append(opts, eddy.ExactlyOnce())
	}
	app := startApp(t, "only", cluster, topo, opts...)
	for txn := 2; txn < 5; txn++ {
		time.Sleep(time.Second) // spacing only: the application commits between transactions
		committedTxn(txn)
	}
	var aborted []*kgo.Record
	for p := range int32(2) {
		for i := range 10 {
			line := "aborted" + vocab[i] + " aborted" + vocab[int(p)*10+i%4]
			for _, w := range wordcount.Words(line) {
				abortedWords[w]++
			}
			aborted = append(aborted, &kgo.Record{Topic: topics.Lines, Partition: p, Value: []byte(line)})
		}
	}
	produceInTransaction(t, producer, aborted, kgo.TryAbort)
	if !exactlyOnce {
		for w, n := range abortedWords {
			want[w] += n
		}
	}

	// Read committed: the output is transactional under exactly-once; at least once,
	// where it is not, that reads everything.
	reader := cluster.Client(t, kgo.ConsumeTopics(topics.Counts), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	readCommittedCounts(t, topics.Counts, reader, want, time.Minute)

	admin := cluster.Admin(t)
	lagTopics := []string{topics.Lines, repartition}
	awaitZeroLag(t, admin, appID, lagTopics, partitions, "while running", 30*time.Second)
	app.stop(t)
	awaitZeroLag(t, admin, appID, lagTopics, partitions, "after a clean shutdown", 0)

	// The whole output, now that nothing writes it: every word's counts rise one by one
	// or in steps (the record cache), never repeat, end at the word's count, and no word
	// of the aborted transaction appears under exactly-once.
	emitted := map[string][]int64{}
	for _, r := range (&eosRig{t: t, cluster: cluster}).readCommittedToEnd(topics.Counts, time.Minute) {
		n, err := serde.Int64().Deserialize(topics.Counts, r.Value)
		if err != nil {
			t.Fatalf("%s offset %d: %v", topics.Counts, r.Offset, err)
		}
		emitted[string(r.Key)] = append(emitted[string(r.Key)], n)
	}
	for _, w := range slices.Sorted(maps.Keys(emitted)) {
		counts := emitted[w]
		if _, ok := want[w]; !ok {
			t.Errorf("%s: counts %v emitted for a word of the aborted transaction", w, counts)
			continue
		}
		for i := 1; i < len(counts); i++ {
			if counts[i] <= counts[i-1] {
				t.Errorf("%s: emitted counts %v are not strictly increasing (a repeat or a recount)", w, counts)
				break
			}
		}
	}
	for _, w := range slices.Sorted(maps.Keys(want)) {
		if counts := emitted[w]; len(counts) == 0 || counts[len(counts)-1] != want[w] {
			t.Errorf("%s: emitted counts %v, want the last to be %d", w, counts, want[w])
		}
	}
}

// produceInTransaction writes recs in one transaction and ends it with commit.
func produceInTransaction(t *testing.T, producer *kgo.Client, recs []*kgo.Record, commit kgo.TransactionEndTry) {
	t.Helper()
	ctx := t.Context()
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing in a transaction: %v", err)
	}
	if err := producer.EndTransaction(ctx, commit); err != nil {
		t.Fatalf("ending a transaction: %v", err)
	}
}

// partitionLag is one row of what kafka-consumer-groups --describe prints.
type partitionLag struct {
	topic               string
	partition           int32
	committed, end, lag int64
	hasCommitted        bool
}

// groupLag computes the group's lag on every partition of topics as
// kafka-consumer-groups does (ConsumerGroupCommand: ListOffsets with OffsetSpec.latest,
// read_uncommitted, minus the committed offset). A partition without a committed offset
// has no lag (the tool prints "-") and hasCommitted false.
func groupLag(ctx context.Context, admin *kadm.Client, group string, topics []string) ([]partitionLag, error) {
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetching the group's offsets: %w", err)
	}
	if err := committed.Error(); err != nil {
		return nil, fmt.Errorf("fetching the group's offsets: %w", err)
	}
	ends, err := admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	var rows []partitionLag
	for _, topic := range topics {
		for _, p := range slices.Sorted(maps.Keys(ends[topic])) {
			row := partitionLag{topic: topic, partition: p, end: ends[topic][p].Offset}
			if c, ok := committed.Lookup(topic, p); ok && c.At >= 0 {
				row.committed, row.hasCommitted, row.lag = c.At, true, row.end-c.At
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// lagTable formats rows like kafka-consumer-groups --describe.
func lagTable(rows []partitionLag) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-80s %9s %14s %14s %4s\n", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG")
	for _, r := range rows {
		current, lag := "-", "-"
		if r.hasCommitted {
			current, lag = fmt.Sprint(r.committed), fmt.Sprint(r.lag)
		}
		fmt.Fprintf(&b, "%-80s %9d %14s %14d %4s\n", r.topic, r.partition, current, r.end, lag)
	}
	return b.String()
}

// awaitZeroLag waits up to timeout (0: looks once) for the group's lag to be 0 on every
// one of the partitions of each topic, and logs the table it saw last; it fails the test
// if the lag is not 0 by then. A partition without a committed offset counts as lag 0 only
// if it never held a record (end offset 0).
func awaitZeroLag(t *testing.T, admin *kadm.Client, group string, topics []string, partitions int, when string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		rows, err := groupLag(ctx, admin, group, topics)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		zero := len(rows) == len(topics)*partitions
		for _, r := range rows {
			zero = zero && (r.hasCommitted && r.lag == 0 || !r.hasCommitted && r.end == 0)
		}
		if zero {
			t.Logf("lag of group %s %s:\n%s", group, when, lagTable(rows))
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("lag of group %s %s, after %s, is not 0 everywhere:\n%s", group, when, timeout, lagTable(rows))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
