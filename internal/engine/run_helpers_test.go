package engine

// Helpers of the black-box tests of Run (run_*_test.go). They start Run on a kfake
// cluster and look at what it did only through Kafka (output and changelog topics,
// committed group offsets) and through the hooks of Config (Stats, RestoreListener,
// Logger). Every Config is built by runConfig: a change of Config is fixed there.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runStats keeps what Run publishes through Config.PublishStats.
type runStats struct {
	Processed, ProcessedInternal, SkippedUndecodable, DroppedRecords atomic.Int64
}

func (s *runStats) publish(processed, internal, skipped, dropped int64) {
	s.Processed.Store(processed)
	s.ProcessedInternal.Store(internal)
	s.SkippedUndecodable.Store(skipped)
	s.DroppedRecords.Store(dropped)
}

// runTimeout bounds every wait of these tests, so that a hang fails instead of blocking.
const runTimeout = 20 * time.Second

// runCluster is a kfake cluster with a producer and an admin client.
type runCluster struct {
	t       *testing.T
	cluster *kfake.Cluster
	seeds   []string
	client  *kgo.Client
	admin   *kadm.Client
}

// newRunCluster starts a one-broker kfake cluster; it is closed when the test ends.
func newRunCluster(t *testing.T, opts ...kfake.Opt) *runCluster {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	seeds := cluster.ListenAddrs()
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return &runCluster{t: t, cluster: cluster, seeds: seeds, client: client, admin: kadm.NewClient(client)}
}

// ctx is a context for one operation of the test.
func (rc *runCluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(rc.t.Context(), runTimeout)
	rc.t.Cleanup(cancel)
	return ctx
}

// createTopics creates topics with the given partition count.
func (rc *runCluster) createTopics(partitions int32, topics ...string) {
	rc.t.Helper()
	resp, err := rc.admin.CreateTopics(rc.ctx(), partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		rc.t.Fatalf("creating %v: %v", topics, err)
	}
}

// runKeyPartition is the partition of a key as Kafka's default partitioner (murmur2)
// places it, as the engine's producer does: the tests write their input so, so that a
// key's outputs and changelog records are on its input partition.
func runKeyPartition(key string, partitions int32) int32 {
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: []byte(key)}, int(partitions)))
}

// send produces key=value records to topic, each key to runKeyPartition, in order, each
// with the header sent-as: key=value.
func (rc *runCluster) send(topic string, partitions int32, kvs ...string) {
	rc.t.Helper()
	var rs []*kgo.Record
	for i := 0; i < len(kvs); i += 2 {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: runKeyPartition(kvs[i], partitions), Key: []byte(kvs[i]), Value: []byte(kvs[i+1]),
			Headers: []kgo.RecordHeader{{Key: "sent-as", Value: []byte(kvs[i] + "=" + kvs[i+1])}}})
	}
	rc.sendRecords(rs...)
}

// sendRecords produces records as given (Partition is used as is).
func (rc *runCluster) sendRecords(rs ...*kgo.Record) {
	rc.t.Helper()
	if err := rc.client.ProduceSync(rc.ctx(), rs...).FirstErr(); err != nil {
		rc.t.Fatalf("producing: %v", err)
	}
}

// sendRound produces one record for each of keys to topic (value: the round number), and
// counts them into want.
func (rc *runCluster) sendRound(topic string, partitions int32, round int, want map[string]int, keys ...string) {
	rc.t.Helper()
	var kvs []string
	for _, k := range keys {
		kvs = append(kvs, k, fmt.Sprint(round))
		want[k]++
	}
	rc.send(topic, partitions, kvs...)
}

// endOffsets returns the high watermark of every partition of topic.
func (rc *runCluster) endOffsets(topic string) map[int32]int64 {
	rc.t.Helper()
	listed, err := rc.admin.ListEndOffsets(rc.ctx(), topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		rc.t.Fatalf("listing the end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// stableOffsets returns the last stable offset of every partition of topic: where a
// read_committed consumer stops while a transaction is open.
func (rc *runCluster) stableOffsets(topic string) map[int32]int64 {
	rc.t.Helper()
	listed, err := rc.admin.ListCommittedOffsets(rc.ctx(), topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		rc.t.Fatalf("listing the stable offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// groupOffsets returns the offsets that group committed for topic, by partition.
func (rc *runCluster) groupOffsets(group, topic string) map[int32]int64 {
	rc.t.Helper()
	resp, err := rc.admin.FetchOffsets(rc.ctx(), group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		rc.t.Fatalf("fetching the offsets of group %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		out[p] = o.At
	}
	return out
}

// nonEmpty drops the partitions at offset 0, so that offsets compare with committed
// group offsets (a group commits nothing for a partition it never read).
func nonEmpty(offsets map[int32]int64) map[int32]int64 {
	out := map[int32]int64{}
	for p, o := range offsets {
		if o > 0 {
			out[p] = o
		}
	}
	return out
}

// waitUntil polls cond until it holds, failing the test after runTimeout.
func (rc *runCluster) waitUntil(what string, cond func() bool) {
	rc.t.Helper()
	deadline := time.Now().Add(runTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			rc.t.Fatalf("timed out waiting until %s", what)
		}
		select {
		case <-rc.t.Context().Done():
			rc.t.Fatalf("test ended waiting until %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readTopic reads topic from its start to its current end (high watermark), read
// committed or not, and returns its data records by partition and offset. Read
// committed, it fails when a transaction stays open below the end: a read_committed
// consumer never gets past it.
func (rc *runCluster) readTopic(topic string, committed bool) []*kgo.Record {
	rc.t.Helper()
	ends := rc.endOffsets(topic)
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	starts := map[int32]kgo.Offset{}
	for p := range ends {
		starts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(rc.seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		rc.t.Fatal(err)
	}
	defer cl.Close()
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	ctx := rc.ctx()
	var out []*kgo.Record
	for !done() {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			rc.t.Fatalf("reading %s (read committed %v): reached %v of the ends %v (a transaction left open?)", topic, committed, next, ends)
		}
		fetches.EachError(func(_ string, p int32, err error) { rc.t.Logf("reading %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			if !r.Attrs.IsControl() && r.Offset < ends[r.Partition] {
				out = append(out, r)
			}
		})
	}
	slices.SortStableFunc(out, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out
}

// runConsumer reads a topic from its start as the test goes on, for waits on outputs
// of a Run in progress.
type runConsumer struct {
	rc      *runCluster
	topic   string
	cl      *kgo.Client
	records []*kgo.Record
}

func (rc *runCluster) consume(topic string, committed bool) *runConsumer {
	rc.t.Helper()
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(rc.seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(isolation),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.t.Cleanup(cl.Close)
	return &runConsumer{rc: rc, topic: topic, cl: cl}
}

// waitFor reads until cond holds on every record read so far, and returns them.
func (c *runConsumer) waitFor(what string, cond func([]*kgo.Record) bool) []*kgo.Record {
	c.rc.t.Helper()
	ctx := c.rc.ctx()
	for !cond(c.records) {
		poll, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := c.cl.PollFetches(poll)
		cancel()
		if ctx.Err() != nil {
			c.rc.t.Fatalf("timed out reading %s until %s; read %d records: %s", c.topic, what, len(c.records), describeRecords(c.records))
		}
		fetches.EachRecord(func(r *kgo.Record) { c.records = append(c.records, r) })
	}
	return c.records
}

// poll reads what comes within 100 ms and returns every record read so far.
func (c *runConsumer) poll() []*kgo.Record {
	ctx, cancel := context.WithTimeout(c.rc.t.Context(), 100*time.Millisecond)
	defer cancel()
	c.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { c.records = append(c.records, r) })
	return c.records
}

// waitCount reads until there are at least n records.
func (c *runConsumer) waitCount(n int) []*kgo.Record {
	c.rc.t.Helper()
	return c.waitFor(fmt.Sprintf("%d records", n), func(rs []*kgo.Record) bool { return len(rs) >= n })
}

// describeRecords renders records as key=value@partition/offset, values of 8 bytes read
// as int64, for failure messages; long lists are cut.
func describeRecords(rs []*kgo.Record) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 60 {
			fmt.Fprintf(&b, " ... (%d more)", len(rs)-i)
			break
		}
		fmt.Fprintf(&b, " %s=%s@%d/%d", r.Key, runValue(r.Value), r.Partition, r.Offset)
	}
	return b.String()
}

func runValue(v []byte) string {
	if len(v) == 8 {
		if n, err := serde.Int64().Deserialize("", v); err == nil {
			return fmt.Sprint(n)
		}
	}
	return string(v)
}

// countsByKey decodes count records (string keys, int64 values) into each key's values
// in the order read.
func countsByKey(t *testing.T, rs []*kgo.Record) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, r := range rs {
		n, err := serde.Int64().Deserialize(r.Topic, r.Value)
		if err != nil {
			t.Fatalf("%s/%d@%d: value %x is not a count: %v", r.Topic, r.Partition, r.Offset, r.Value, err)
		}
		out[string(r.Key)] = append(out[string(r.Key)], n)
	}
	return out
}

// checkExactCounts checks that the count records hold, for every key of want, exactly
// the counts 1, 2, ..., want[key] in order, and no other key: no count lost, repeated
// or skipped.
func checkExactCounts(t *testing.T, what string, rs []*kgo.Record, want map[string]int) {
	t.Helper()
	got := countsByKey(t, rs)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !isSequence(got[k], 1, want[k]) {
			t.Errorf("%s: key %s has counts %v, want 1..%d", what, k, got[k], want[k])
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected key %s with counts %v", what, k, v)
		}
	}
}

func isSequence(got []int64, from, to int) bool {
	if len(got) != to-from+1 {
		return false
	}
	for i, n := range got {
		if n != int64(from+i) {
			return false
		}
	}
	return true
}

// lastCounts returns the last count of each key in count records (a changelog).
func lastCounts(t *testing.T, rs []*kgo.Record) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, ns := range countsByKey(t, rs) {
		out[k] = int(ns[len(ns)-1])
	}
	return out
}

// runKeys returns n keys named prefix0, prefix1, ...
func runKeys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// runLog keeps what Run logs, and shows it when the test fails.
type runLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *runLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *runLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

// has reports whether a line logged so far contains text.
func (l *runLog) has(text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, text) })
}

func (l *runLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &runLogAttrs{runLog: l, attrs: attrs}
}

func (l *runLog) WithGroup(string) slog.Handler { return l }

type runLogAttrs struct {
	*runLog
	attrs []slog.Attr
}

func (l *runLogAttrs) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(l.attrs...)
	return l.runLog.Handle(ctx, r)
}

// runEvents records what a RestoreListener hears.
type runEvents struct {
	mu     sync.Mutex
	events []runEvent
}

type runEvent struct {
	kind       string // start, batch or end
	topic      string
	partition  int32
	store      string
	start, end int64 // start: the range; batch: end is the batch's end
	records    int64 // batch: its records; end: the total
}

func (r *runEvents) add(e runEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *runEvents) OnRestoreStart(topic string, partition int32, storeName string, start, end int64) {
	r.add(runEvent{kind: "start", topic: topic, partition: partition, store: storeName, start: start, end: end})
}

func (r *runEvents) OnBatchRestored(topic string, partition int32, storeName string, batchEnd int64, records int) {
	r.add(runEvent{kind: "batch", topic: topic, partition: partition, store: storeName, end: batchEnd, records: int64(records)})
}

func (r *runEvents) OnRestoreEnd(topic string, partition int32, storeName string, total int64, _ time.Duration) {
	r.add(runEvent{kind: "end", topic: topic, partition: partition, store: storeName, records: total})
}

// of returns the events of one changelog partition.
func (r *runEvents) of(topic string, partition int32) []runEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runEvent
	for _, e := range r.events {
		if e.topic == topic && e.partition == partition {
			out = append(out, e)
		}
	}
	return out
}

func (r *runEvents) all() []runEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// runSpec is what a test chooses of a Run; runConfig turns it into a Config.
type runSpec struct {
	app      string
	topo     *topology.Topology
	stateDir string // default: a new temporary directory
	stores   store.Engine
	// eos turns exactly-once on, with the transactional id <app>-<instance>.
	eos      bool
	instance string // names the instance: its transactional id and client id; default "a"
	// commitInterval defaults to 50 ms.
	commitInterval time.Duration
	maxTaskIdle    time.Duration
	fetchStall     time.Duration // FetchStallTimeout; default DefaultFetchStallTimeout
	// errors are the error handlers and dead-letter topic (skipUndecodable sets the
	// deserialization handler).
	errors          task.ErrorPolicy
	skipUndecodable bool
	pollRecords     int // default 1000
	buffered        int // BufferedRecordsPerPartition; default 1000
	restore         changelog.RestoreListener
	clientOpts      []kgo.Opt
}

// runConfig is the one place that builds a Config, with the defaults of runSpec.
func runConfig(rc *runCluster, s runSpec, log *runLog, stats *runStats) Config {
	rc.t.Helper()
	if s.stateDir == "" {
		s.stateDir = rc.t.TempDir()
	}
	if s.stores == nil {
		s.stores = memstore.New()
	}
	if s.instance == "" {
		s.instance = "a"
	}
	if s.commitInterval == 0 {
		s.commitInterval = 50 * time.Millisecond
	}
	if s.pollRecords == 0 {
		s.pollRecords = 1000
	}
	if s.buffered == 0 {
		s.buffered = 1000
	}
	var txnID string
	if s.eos {
		txnID = s.app + "-" + s.instance
	}
	return Config{
		ApplicationID: s.app,
		Topology:      plan.Of(s.topo),
		ClientOpts: append([]kgo.Opt{
			kgo.SeedBrokers(rc.seeds...),
			kgo.ClientID(s.instance),
			// Rebalances are noticed at the next heartbeat: keep tests quick.
			kgo.HeartbeatInterval(100 * time.Millisecond),
			kgo.MetadataMinAge(50 * time.Millisecond),
		}, s.clientOpts...),
		StateDir:                    s.stateDir,
		Stores:                      s.stores,
		CommitInterval:              s.commitInterval,
		MaxTaskIdle:                 s.maxTaskIdle,
		FetchStallTimeout:           s.fetchStall,
		Errors:                      s.errorPolicy(),
		PollRecords:                 s.pollRecords,
		BufferedRecordsPerPartition: s.buffered,
		TransactionalID:             txnID,
		Replication:                 1,
		RestoreListener:             s.restore,
		Logger:                      slog.New(log),
		PublishStats:                stats.publish,
	}
}

// runInstance is one Run in progress.
type runInstance struct {
	rc     *runCluster
	name   string
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
	stats  *runStats
	log    *runLog
}

// start runs the instance s describes until stop, or until the test ends.
func (rc *runCluster) start(s runSpec) *runInstance {
	rc.t.Helper()
	inst := &runInstance{rc: rc, name: s.instance, done: make(chan error, 1), stats: &runStats{}, log: &runLog{}}
	if inst.name == "" {
		inst.name = "a"
	}
	cfg := runConfig(rc, s, inst.log, inst.stats)
	ctx, cancel := context.WithCancel(context.WithoutCancel(rc.t.Context()))
	inst.cancel = cancel
	go func() { inst.done <- Run(ctx, cfg) }()
	rc.t.Cleanup(func() {
		if !inst.ended {
			inst.cancel()
			select {
			case inst.err = <-inst.done:
			case <-time.After(runTimeout):
				rc.t.Errorf("instance %s: Run did not return %s after its context ended", inst.name, runTimeout)
			}
			inst.ended = true
		}
		if rc.t.Failed() {
			inst.log.mu.Lock()
			rc.t.Logf("log of instance %s:\n%s", inst.name, strings.Join(inst.log.lines, "\n"))
			inst.log.mu.Unlock()
		}
	})
	return inst
}

// stop cancels the instance's context and returns what Run returned.
func (inst *runInstance) stop() error {
	inst.rc.t.Helper()
	inst.cancel()
	return inst.wait()
}

// wait waits for Run to return by itself, for at most runTimeout.
func (inst *runInstance) wait() error {
	inst.rc.t.Helper()
	if inst.ended {
		return inst.err
	}
	select {
	case inst.err = <-inst.done:
		inst.ended = true
	case <-time.After(runTimeout):
		inst.rc.t.Fatalf("instance %s: Run did not return within %s", inst.name, runTimeout)
	}
	return inst.err
}

// mustStop stops the instance and fails the test unless Run returned nil.
func (inst *runInstance) mustStop() {
	inst.rc.t.Helper()
	if err := inst.stop(); err != nil {
		inst.rc.t.Fatalf("instance %s: Run returned %v, want nil after a clean stop", inst.name, err)
	}
}

// The topologies of the tests, on the Processor API.

// runCounts is the store of the counting processor.
var runCounts = store.KeyValue("counts", serde.String(), serde.Int64())

// runHook lets a test act inside the counting processor: it is called with each record
// before it is counted; an error fails the record.
type runHook func(key, value string, meta processor.RecordMetadata) error

type runCounter struct {
	kv   store.KV[string, int64]
	hook runHook
}

func (c *runCounter) Init(ctx processor.InitContext) error {
	c.kv = runCounts.From(ctx)
	return nil
}

func (c *runCounter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	if c.hook != nil {
		meta, _ := ctx.RecordMetadata()
		if err := c.hook(r.Key, r.Value, meta); err != nil {
			return err
		}
	}
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.kv.Put(r.Key, n); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n, Timestamp: r.Timestamp})
	return nil
}

// countTopology reads string records from in, counts them per key in the store
// "counts" (logged to <app>-counts-changelog) and writes each new count to out (int64
// values). hook, if not nil, sees every record first.
func countTopology(t *testing.T, in, out string, hook runHook, opts ...topology.SourceOption) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{in}, opts...)
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &runCounter{hook: hook} }, "source")
	topology.AddStore(b, runCounts, "count")
	topology.AddSink(b, "sink", out, serde.String(), serde.Int64(), []string{"count"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// bothTopology runs the counting and the upper-casing processors side by side on the
// records of in: counts to outCounts, upper-cased values to outUpper.
func bothTopology(t *testing.T, in, outCounts, outUpper string, hook runHook) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{in})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &runCounter{hook: hook} }, "source")
	topology.AddStore(b, runCounts, "count")
	topology.AddSink(b, "sink", outCounts, serde.String(), serde.Int64(), []string{"count"})
	addUpper(b, "source", outUpper)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// upperTopology upper-cases the records of in to out (addUpper).
func upperTopology(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{in})
	addUpper(b, "source", out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// addUpper adds the upper-casing processor "upper" under parent and its sink to out.
func addUpper(b *topology.Builder, parent, out string) {
	topology.AddProcessor(b, "upper", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			meta, _ := ctx.RecordMetadata()
			ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: fmt.Sprintf("%d/%d:%s", meta.Partition, meta.Offset, strings.ToUpper(r.Value)), Timestamp: r.Timestamp, Headers: r.Headers})
			return nil
		})
	}, parent)
	topology.AddSink(b, "upper-sink", out, serde.String(), serde.String(), []string{"upper"})
}

// changelogOf is the changelog topic of the count store of app.
func changelogOf(app string) string { return plan.ChangelogTopic(app, runCounts.Name()) }

// upperOf is what the upper-casing processor writes for an input record.
func upperOf(r *kgo.Record) string {
	return fmt.Sprintf("%s=%d/%d:%s", r.Key, r.Partition, r.Offset, strings.ToUpper(string(r.Value)))
}

// checkUpper checks that outputs hold the upper-cased form of each input exactly once
// (exact) or at least once (not exact), and nothing else.
func checkUpper(t *testing.T, what string, inputs, outputs []*kgo.Record, exact bool) {
	t.Helper()
	want := map[string]int{}
	for _, r := range inputs {
		want[upperOf(r)]++
	}
	headers := map[string]string{}
	for _, r := range inputs {
		headers[upperOf(r)] = fmt.Sprint(r.Headers)
	}
	got := map[string]int{}
	for _, r := range outputs {
		k := string(r.Key) + "=" + string(r.Value)
		got[k]++
		if h, ok := headers[k]; ok && fmt.Sprint(r.Headers) != h {
			t.Errorf("%s: output %s has the headers %v, want its input's %s", what, k, r.Headers, h)
		}
	}
	var missing, extra, repeated []string
	for k := range want {
		switch n := got[k]; {
		case n == 0:
			missing = append(missing, k)
		case n > 1 && exact:
			repeated = append(repeated, fmt.Sprintf("%s (%d times)", k, n))
		}
	}
	for k := range got {
		if want[k] == 0 {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(repeated)
	if len(missing)+len(extra)+len(repeated) > 0 {
		t.Errorf("%s: %d inputs, %d outputs; missing %v; unexpected %v; repeated %v", what, len(inputs), len(outputs), missing, extra, repeated)
	}
}

// wordCountTopology is the DSL's word count: the values of in are words, grouped by
// word through the repartition topic <app>-by-word-repartition and counted in the
// store "word-counts" (record cache on: a word's counts are forwarded at commits); the
// counts go to out. The only DSL in these tests: renames are fixed here.
func wordCountTopology(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	words := topology.StreamFrom(b, in, serde.String(), serde.String())
	grouped := topology.GroupBy(words, "by-word", func(_, word string) string { return word }, serde.String())
	topology.To(topology.ToStream(topology.Count(grouped, "word-counts")), out, serde.String(), serde.Int64())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// errorPolicy is the spec's error policy, with skipUndecodable's handler.
func (s runSpec) errorPolicy() task.ErrorPolicy {
	p := s.errors
	if s.skipUndecodable {
		p.Deserialization = processor.LogAndContinue
	}
	return p
}
