// Package engine runs an application's tasks against Kafka: one consumer group member
// per instance, the poll, process and commit loop, task creation on assignment and
// commit on revocation, restoration before processing, and start-up checks of the
// topics. Kafka Streams: StreamThread and TaskManager.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config is what the engine needs; the root package fills it from the App's options and
// has validated it.
type Config struct {
	ApplicationID string
	// Topology is the topology as built: Run completes the names of its internal topics
	// with ApplicationID (Topology.WithApplicationID) before anything else.
	Topology *topology.Topology
	// ClientOpts configure every client the engine makes, after the engine's own
	// options: the seed brokers, then the user's pass-through options.
	ClientOpts []kgo.Opt
	// StateDir is this application's state directory; each task keeps its stores in a
	// subdirectory named after its id.
	StateDir        string
	Stores          store.Engine
	CommitInterval  time.Duration
	MaxTaskIdle     time.Duration
	SkipUndecodable bool
	// PollRecords bounds the records taken per poll, so that a rebalance held back while
	// a batch is processed waits at most one batch.
	PollRecords int
	// BufferedRecordsPerPartition is how many records of an input partition a task may
	// hold unprocessed before the partition's fetching pauses (fetchGate).
	BufferedRecordsPerPartition int
	// TransactionalID turns exactly-once processing on (Kafka Streams' EOS v2) when not
	// empty: the instance's one transactional producer has this id, input is read
	// read_committed, and a commit is a transaction holding the output records, the
	// changelog records and the input offsets. See DESIGN.md for the protocol.
	TransactionalID string
	// Replication is the replication factor of the internal topics it creates; -1 is
	// the broker's default.
	Replication     int16
	RestoreListener changelog.RestoreListener
	Logger          *slog.Logger
	// Stats, when set, receives running totals after every processed batch.
	Stats *Stats
}

// Stats are running totals of an instance, safe to read while it runs.
type Stats struct {
	// Processed counts input records processed.
	Processed atomic.Int64
	// SkippedUndecodable counts input records skipped because their source could not
	// deserialize them.
	SkippedUndecodable atomic.Int64
	// DroppedRecords counts records that operators dropped (task.Task.Dropped).
	DroppedRecords atomic.Int64
}

// Engine is one running instance.
type Engine struct {
	cfg Config
	log *slog.Logger

	subtopologies map[int][]string // source topics by subtopology id
	client        *kgo.Client
	admin         *kadm.Client
	collector     *collector
	gate          *fetchGate
	restorer      *changelog.Restorer
	// global holds the global stores; nil when the topology has none.
	global *globals
	// internal names the internal (repartition) topics; purged holds, per partition of
	// one, the offset up to which its records were deleted, last at lastPurge.
	internal  map[string]bool
	purged    map[topicPartition]int64
	lastPurge time.Time

	// mu guards the tasks: the loop holds it while it processes a batch, and the group
	// callbacks while they create, commit and close tasks.
	mu sync.Mutex
	// tasks are the tasks this instance runs, restored and processing.
	tasks map[processor.TaskID]*runningTask
	// pending are tasks assigned but not yet restored.
	pending map[processor.TaskID]*runningTask
	// fatal is the first error of a group callback; the loop stops with it.
	fatal error
	// txn is the transaction session under exactly-once; nil at least once. inTxn says
	// whether a transaction is open. aborted counts transactions that ended in an abort.
	txn     *kgo.GroupTransactSession
	inTxn   bool
	aborted int64
	// callbacksWaiting is set when a rebalance waits for the loop to allow it: under
	// exactly-once the loop then commits at once instead of at the commit interval.
	callbacksWaiting atomic.Bool
	// lostMembership is set under exactly-once when the coordinator said, while a
	// callback waited, that this instance is no longer the member it was: the open
	// transaction is aborted rather than committed (rejoin.go). cancelEnd holds
	// the cancel function of the End under way, if one is.
	lostMembership atomic.Bool
	cancelEnd      atomic.Pointer[context.CancelFunc]
	// rebalancing is set from the moment the member (re)joins its group until its next
	// assignment. Periodic commits wait meanwhile: the client holds offset commits back
	// during a join, and a commit waiting there would stop every task for the whole
	// rebalance. Kafka Streams skips them too (TaskManager#rebalanceInProgress).
	rebalancing atomic.Bool
	// stateOffsets holds, per task this instance runs, the sum of the changelog offsets
	// its stores have committed, for the balancer. Written under mu, read by the group
	// goroutine without it.
	stateOffsets sync.Map
	// membershipCommitted says whether the current membership has committed: one that
	// did resets the rejoin backoff.
	membershipCommitted bool
	// inputs is step's buffer for the records of one fetched partition, reused.
	inputs []task.Input

	processed, skipped, dropped int64
}

type runningTask struct {
	*task.Task
	// committed is, per input topic, the offset last committed to the group.
	committed map[string]int64
}

// Run starts the instance and processes until ctx ends or an error stops it. Before it
// returns, every task is committed (unless an error makes that unsafe) and closed, and
// the instance has left its group.
func Run(ctx context.Context, cfg Config) (err error) {
	// Every topic name the engine sees from here on is complete.
	cfg.Topology = cfg.Topology.WithApplicationID(cfg.ApplicationID)
	e := &Engine{
		cfg:           cfg,
		log:           cfg.Logger,
		subtopologies: map[int][]string{},
		tasks:         map[processor.TaskID]*runningTask{},
		pending:       map[processor.TaskID]*runningTask{},
		internal:      map[string]bool{},
		purged:        map[topicPartition]int64{},
	}
	for _, sub := range cfg.Topology.Subtopologies() {
		e.subtopologies[sub.ID] = sub.SourceTopics()
	}
	for _, it := range cfg.Topology.InternalTopics() {
		e.internal[it.Name] = true
	}

	adminClient, err := kgo.NewClient(cfg.ClientOpts...)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer adminClient.Close()
	e.admin = kadm.NewClient(adminClient)
	began := time.Now()
	partitions, err := prepareTopics(ctx, e.admin, cfg.ApplicationID, cfg.Topology, cfg.Replication)
	if err != nil {
		return err
	}
	e.log.Debug("topics checked", "took", time.Since(began))

	// Global stores are filled before any task starts, and closed after every task.
	e.global, err = openGlobals(ctx, cfg, globalsConfig{
		admin:         e.admin,
		partitions:    partitions,
		readCommitted: cfg.TransactionalID != "",
		newClient: func(opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append(slices.Clone(cfg.ClientOpts), opts...)...)
		},
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // stopped while bootstrapping: what was read is committed
		}
		return err
	}
	defer func() {
		if cerr := e.global.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	var backoff rejoinBackoff
	for {
		err := e.member(ctx, partitions)
		if !errors.Is(err, errTasksMigrated) {
			return err
		}
		if ctx.Err() != nil {
			return nil // stopping anyway: the dropped work is redone by the tasks' next owner
		}
		// Kafka Streams: TaskMigratedException. The tasks were closed without a commit
		// and their work since the last one is redone by whoever owns them now.
		if e.membershipCommitted {
			backoff.reset()
		}
		wait := backoff.next()
		e.log.Warn("this instance lost its tasks or its producer was fenced; rejoining the group", "error", err, "after", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// errTasksMigrated marks an error after which the instance cannot commit its tasks'
// work (its producer was fenced, its transaction timed out, or it is no longer the
// group member it was): the instance drops that work and joins the group again.
var errTasksMigrated = errors.New("tasks migrated")

// member runs one membership of the group: from joining it to leaving it, or to an
// error. partitions are the partition counts of the topics the tasks read and write.
func (e *Engine) member(ctx context.Context, partitions map[string]int32) error {
	cfg := e.cfg
	e.fatal, e.txn, e.inTxn = nil, nil, false
	e.rebalancing.Store(false)
	e.callbacksWaiting.Store(false)
	e.lostMembership.Store(false)
	e.membershipCommitted = false
	balancer, err := rebalance.New(rebalance.Config{
		Subtopologies: e.subtopologies,
		TaskOffsets:   e.localTaskOffsets,
		OnJoin:        func() { e.rebalancing.Store(true) },
		Logger:        e.log,
	})
	if err != nil {
		return err
	}
	// The user's options come last, as ClientOptions documents: they may override these.
	opts := append([]kgo.Opt{
		kgo.ConsumerGroup(cfg.ApplicationID),
		kgo.ConsumeTopics(cfg.Topology.SourceTopics()...),
		kgo.Balancers(balancer),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		// The Java consumer's fetch.max.wait.ms, which Kafka Streams runs with, instead of
		// franz-go's 5 s: a fetch of partitions that have nothing new waits this long at
		// the broker, and the client sends no other fetch to that broker meanwhile, so a
		// partition resumed (fetchGate) or newly assigned waits up to this long too.
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(e.onAssigned),
		kgo.OnPartitionsRevoked(e.onRevoked),
		kgo.OnPartitionsLost(e.onLost),
		kgo.AdjustFetchOffsetsFn(e.resetOffsets),
		kgo.OnPartitionsCallbackBlocked(e.onCallbacksBlocked),
	}, cfg.ClientOpts...)
	// The group callbacks take e.mu: holding it until the collector and the restorer
	// exist keeps a callback of the new client from opening tasks without them.
	e.mu.Lock()
	if cfg.TransactionalID == "" {
		e.client, err = kgo.NewClient(opts...)
	} else {
		opts = append(opts,
			kgo.TransactionalID(cfg.TransactionalID),
			kgo.TransactionTimeout(transactionTimeout),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		if e.txn, err = kgo.NewGroupTransactSession(opts...); err == nil {
			e.client = e.txn.Client()
		}
	}
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("group client: %w", err)
	}
	e.collector = newCollector(e.client, partitions)
	e.gate = newFetchGate(e.client, e.cfg.BufferedRecordsPerPartition)
	e.restorer = &changelog.Restorer{
		Admin:         e.admin,
		ReadCommitted: e.txn != nil,
		Listener:      cfg.RestoreListener,
		Logger:        e.log,
		NewConsumer: func(partitions map[string]map[int32]kgo.Offset, opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append(append(slices.Clone(cfg.ClientOpts), kgo.ConsumePartitions(partitions)), opts...)...)
		},
	}
	e.mu.Unlock()

	if e.txn != nil {
		// Initializing the producer id now, not at the first record, makes the broker
		// abort at once a transaction that this instance's transactional id left open
		// (an End that failed or was cut short), instead of letting it pin the last
		// stable offsets of what it wrote until its timeout.
		if _, _, err := e.client.ProducerID(ctx); err != nil {
			return errors.Join(fmt.Errorf("%w: initializing the transactional producer: %w", errTasksMigrated, err), e.shutdown(false))
		}
	}
	e.log.Info("group member started", "subtopologies", len(e.subtopologies), "exactly_once", e.txn != nil)
	err = e.loop(ctx)
	return errors.Join(err, e.shutdown(err == nil))
}

func (e *Engine) loop(ctx context.Context) error {
	lastCommit := time.Now()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, e.pollWait(lastCommit))
		fetches := e.client.PollRecords(pollCtx, e.cfg.PollRecords)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			var session *kgo.ErrGroupSession
			if errors.As(err, &session) {
				// The member left the group, or was put out of it (a stall past its
				// session timeout): its tasks were closed as lost, and the client
				// rejoins by itself.
				e.log.Warn("group session ended; rejoining", "error", err)
				return
			}
			if fetchErr == nil && !kerr.IsRetriable(err) {
				fetchErr = fmt.Errorf("fetching %s partition %d: %w", topic, partition, err)
			}
			e.log.Warn("fetch error", "topic", topic, "partition", partition, "error", err)
		})
		if fetchErr != nil {
			return fetchErr
		}

		e.mu.Lock()
		err := e.beginTransaction()
		if err == nil && e.global != nil {
			err = e.global.update()
		}
		if err == nil {
			err = e.step(ctx, fetches)
		}
		if err == nil {
			e.gate.update(e.tasks)
		}
		if err == nil && e.txn == nil {
			err = e.applyWrites()
		}
		committed := false
		if err == nil && e.commitDue(lastCommit) {
			commitCtx, cancel := commitContext(ctx)
			if e.txn != nil {
				err = e.commitTransaction(commitCtx)
			} else {
				err = e.commit(commitCtx, e.tasks)
			}
			if err == nil {
				err = e.afterCommit(commitCtx)
			}
			cancel()
			lastCommit, committed = time.Now(), true
			e.membershipCommitted = e.membershipCommitted || err == nil
		}
		e.publishStats()
		e.mu.Unlock()
		// Under exactly-once a rebalance may only run between transactions, so that no
		// revoked task has uncommitted work.
		if e.txn == nil || committed {
			e.callbacksWaiting.Store(false)
			e.client.AllowRebalance()
		}
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // a restore cut short by shutdown: the next owner restores
		}
		if err != nil {
			return err
		}
	}
}

// transactionTimeout is the transaction timeout of the exactly-once producer: how long
// the broker lets a transaction of a crashed instance block read_committed readers
// before it aborts it. Kafka Streams: transaction.timeout.ms under exactly-once.
const transactionTimeout = 10 * time.Second

// commitDue reports whether the loop commits now: every commit interval, but not while
// the member joins (offset commits wait for the join), and at once under exactly-once
// when a rebalance waits for the loop.
func (e *Engine) commitDue(lastCommit time.Time) bool {
	if e.txn != nil && e.callbacksWaiting.Load() {
		return true
	}
	return time.Since(lastCommit) >= e.cfg.CommitInterval && !e.rebalancing.Load()
}

// applyWrites writes the stores' staged writes through after every step at least once,
// without new changelog offsets: a store may be ahead of its checkpoint (restoration
// then replays changelog records it already holds, which rewrite the same values), and
// a batch staged over a whole commit interval would grow large and slow every write
// and read through it. Under exactly-once writes wait for their transaction instead.
// REQUIRES: e.mu.
func (e *Engine) applyWrites() error {
	for _, t := range e.tasks {
		if err := t.Commit(nil); err != nil {
			return err
		}
	}
	return nil
}

// beginTransaction opens a transaction under exactly-once if none is open. REQUIRES: e.mu.
func (e *Engine) beginTransaction() error {
	if e.txn == nil || e.inTxn {
		return nil
	}
	if err := e.txn.Begin(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	e.inTxn = true
	return nil
}

// commitTransaction ends the open transaction. franz-go's session flushes the output and
// changelog records, commits the offsets of every polled record (all processed: the
// loop drains the tasks each step) with the group's generation, and commits the
// transaction unless a rebalance or an error makes that unsafe. Committed: the stores
// commit too. Aborted: every task rolls its stores back to their last commit and
// forgets its queued records, and the session rewinds the consumer to the committed
// offsets. REQUIRES: e.mu.
func (e *Engine) commitTransaction(ctx context.Context) error {
	if !e.inTxn {
		// Nothing was processed since the last commit, whose flush left nothing held.
		return nil
	}
	// What processors hold back belongs to this transaction. After an error the
	// transaction stays open, and shutdown aborts it.
	if err := flushTasks(e.tasks); err != nil {
		return err
	}
	e.inTxn = false
	if e.lostMembership.Load() {
		// Put out of the group: the transaction cannot commit, and aborting it now
		// unblocks the readers of what it wrote (rejoin.go).
		_, err := e.txn.End(ctx, kgo.TryAbort)
		return errors.Join(fmt.Errorf("%w: put out of the group during a transaction, which was aborted", errTasksMigrated), err)
	}
	// A transaction older than its timeout is aborted by the broker anyway: an End must
	// not hold the instance longer. onCallbacksBlocked cuts it short when the instance
	// finds itself out of the group.
	ctx, cancel := context.WithTimeout(ctx, transactionTimeout)
	defer cancel()
	e.cancelEnd.Store(&cancel)
	committed, err := e.txn.End(ctx, kgo.TryCommit)
	e.cancelEnd.Store(nil)
	if err != nil {
		// Fenced, timed out, or out of the group: nothing of this transaction counts.
		return fmt.Errorf("%w: ending a transaction: %w", errTasksMigrated, err)
	}
	if committed {
		return e.commitStores(e.tasks)
	}
	e.aborted++
	e.log.Info("transaction aborted; tasks roll back to their last commit", "aborted_total", e.aborted)
	e.collector.reset()
	for id, t := range e.tasks {
		if err := t.DB().Abort(); err != nil {
			return fmt.Errorf("task %s: rolling back: %w", id, err)
		}
		t.Rewind(t.committed)
	}
	return nil
}

// commitTimeout bounds a commit: a cluster that cannot take one in that time fails the
// instance rather than hold its tasks forever.
const commitTimeout = time.Minute

// commitContext is the context of a commit: not cancelled with ctx, so that a shutdown
// during a commit lets it finish, but bounded by commitTimeout.
func commitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
}

// pollWait is how long a poll may wait for records: not past the next commit, and short
// enough for wall-clock punctuation.
func (e *Engine) pollWait(lastCommit time.Time) time.Duration {
	wait := time.Until(lastCommit.Add(e.cfg.CommitInterval))
	return min(max(wait, time.Millisecond), 100*time.Millisecond)
}

// step restores newly assigned tasks, hands the fetched records to their tasks and
// processes everything ready. REQUIRES: e.mu.
func (e *Engine) step(ctx context.Context, fetches kgo.Fetches) error {
	if e.fatal != nil {
		return e.fatal
	}
	if err := e.restorePending(ctx); err != nil {
		return err
	}
	var addErr error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if addErr != nil || len(p.Records) == 0 {
			return
		}
		id, ok := e.taskOf(p.Topic, p.Partition)
		t := e.tasks[id]
		if !ok || t == nil {
			// Fetched just before the partition was revoked; its next owner reads it
			// from the committed offset.
			return
		}
		inputs := e.inputs[:0]
		for _, r := range p.Records {
			inputs = append(inputs, task.Input{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: headers(r.Headers)})
		}
		addErr = t.Add(inputs)
		clear(inputs) // Add keeps nothing of the slice: drop its references to the records
		e.inputs = inputs
	})
	if addErr != nil {
		return addErr
	}
	ids := slices.SortedFunc(maps.Keys(e.tasks), compareTaskIDs)
	for progress := true; progress; {
		progress = false
		for _, id := range ids {
			t := e.tasks[id]
			// A bounded share per task per round keeps tasks fair to each other.
			for range 100 {
				ok, err := t.Process()
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				progress = true
			}
		}
	}
	for _, id := range ids {
		if _, err := e.tasks[id].PunctuateWallClock(); err != nil {
			return err
		}
	}
	return nil
}

// headers converts a fetched record's headers; nil for none.
func headers(hs []kgo.RecordHeader) []processor.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]processor.Header, len(hs))
	for i, h := range hs {
		out[i] = processor.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func compareTaskIDs(a, b processor.TaskID) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

// taskOf returns the task that reads a topic partition.
func (e *Engine) taskOf(topic string, partition int32) (processor.TaskID, bool) {
	for id, topics := range e.subtopologies {
		if slices.Contains(topics, topic) {
			return processor.TaskID{Subtopology: id, Partition: partition}, true
		}
	}
	return processor.TaskID{}, false
}

// commit makes the progress of tasks durable: it flushes the tasks (what their
// processors hold back is forwarded), flushes the producer so that every output and
// changelog record is acknowledged, commits the tasks' input offsets to the group, and
// then commits each task's stores with the changelog offsets they reflect. After a crash
// between the last two steps, the stores are older than the committed offsets and
// restoration replays the changelog tail. REQUIRES: e.mu.
func (e *Engine) commit(ctx context.Context, tasks map[processor.TaskID]*runningTask) error {
	if len(tasks) == 0 {
		return nil
	}
	if err := flushTasks(tasks); err != nil {
		return err
	}
	if err := e.collector.flush(ctx); err != nil {
		return err
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for id, t := range tasks {
		for topic, next := range t.Consumed() {
			if t.committed[topic] == next {
				continue
			}
			if offsets[topic] == nil {
				offsets[topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[topic][id.Partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}
	}
	if len(offsets) > 0 {
		if err := e.commitOffsets(ctx, offsets); err != nil {
			return err
		}
	}
	return e.commitStores(tasks)
}

// flushTasks makes every task forward what its processors hold back
// (topology.Flusher), in task order, so that it is part of the commit that follows.
// REQUIRES: e.mu.
func flushTasks(tasks map[processor.TaskID]*runningTask) error {
	for _, id := range slices.SortedFunc(maps.Keys(tasks), compareTaskIDs) {
		if err := tasks[id].Flush(); err != nil {
			return err
		}
	}
	return nil
}

// afterCommit follows a commit of the loop: the global stores commit the offsets they
// reflect, and consumed records of repartition topics are purged. REQUIRES: e.mu.
func (e *Engine) afterCommit(ctx context.Context) error {
	if e.global != nil {
		if err := e.global.commit(); err != nil {
			return err
		}
	}
	e.purgeRepartitionTopics(ctx)
	return nil
}

// purgeInterval is how often the records of repartition topics that the instance's
// tasks consumed and committed are deleted. Kafka Streams: repartition.purge.interval.ms.
const purgeInterval = 30 * time.Second

// purgeRepartitionTopics deletes, at most every purgeInterval, the records of the
// repartition topics that the running tasks have committed (Kafka Streams does the
// same after commits): nothing else reads them, and the topics keep their records
// forever otherwise (retention.ms=-1). A failure is logged, and the next purge retries.
// REQUIRES: e.mu.
func (e *Engine) purgeRepartitionTopics(ctx context.Context) {
	if len(e.internal) == 0 || time.Since(e.lastPurge) < purgeInterval {
		return
	}
	e.lastPurge = time.Now()
	offsets := kadm.Offsets{}
	for id, t := range e.tasks {
		for topic, next := range t.committed {
			if e.internal[topic] && next > e.purged[topicPartition{topic, id.Partition}] {
				offsets.Add(kadm.Offset{Topic: topic, Partition: id.Partition, At: next, LeaderEpoch: -1})
			}
		}
	}
	if len(offsets) == 0 {
		return
	}
	resp, err := e.admin.DeleteRecords(ctx, offsets)
	if err != nil {
		e.log.Warn("purging consumed records of repartition topics", "error", err)
		return
	}
	purged := 0
	resp.Each(func(r kadm.DeleteRecordsResponse) {
		if r.Err != nil {
			e.log.Warn("purging consumed records of a repartition topic", "topic", r.Topic, "partition", r.Partition, "error", r.Err)
			return
		}
		if o, ok := offsets.Lookup(r.Topic, r.Partition); ok {
			e.purged[topicPartition{r.Topic, r.Partition}] = o.At
			purged++
		}
	})
	e.log.Debug("purged consumed records of repartition topics", "partitions", purged)
}

// commitStores commits each task's stores with the changelog offsets they reflect, once
// its input offsets are committed. REQUIRES: e.mu.
func (e *Engine) commitStores(tasks map[processor.TaskID]*runningTask) error {
	for id, t := range tasks {
		for topic, next := range t.Consumed() {
			t.committed[topic] = next
		}
		checkpoints := map[string]int64{}
		for _, def := range t.Subtopology().Stores {
			if !def.Logged() {
				continue
			}
			if next, ok := e.collector.nextOffset(changelog.TopicName(e.cfg.ApplicationID, def.Name()), id.Partition); ok {
				checkpoints[def.Name()] = next
			}
		}
		if err := t.Commit(checkpoints); err != nil {
			return err
		}
		e.noteStateOffsets(id, t)
	}
	return nil
}

func (e *Engine) commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var commitErr error
	e.client.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s partition %d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	if commitErr != nil {
		if isMembershipError(commitErr) {
			return fmt.Errorf("%w: committing offsets: %w", errTasksMigrated, commitErr)
		}
		return fmt.Errorf("committing offsets: %w", commitErr)
	}
	return nil
}

// isMembershipError reports whether err says the instance is no longer the group member
// whose generation may commit.
func isMembershipError(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

// resetOffsets starts partitions without a committed offset at their end for sources
// whose offset reset is Latest; the client starts the others at the beginning. Kafka
// Streams: Topology.AutoOffsetReset per source. A committed offset that is out of range
// (deleted by retention) is reset to the beginning whatever the source says.
func (e *Engine) resetOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	noCommit := kgo.NewOffset().AtStart()
	for _, sub := range e.cfg.Topology.Subtopologies() {
		for _, src := range sub.Sources {
			if src.OffsetReset != topology.Latest {
				continue
			}
			for _, topic := range src.Topics {
				for p, o := range offsets[topic] {
					if o == noCommit {
						offsets[topic][p] = kgo.NewOffset().AtEnd()
					}
				}
			}
		}
	}
	return offsets, nil
}

// onAssigned opens the newly assigned tasks; the loop restores them before they
// process. Called by the client's group goroutine.
func (e *Engine) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	e.rebalancing.Store(false)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range rebalance.TasksOf(assigned, e.subtopologies) {
		if e.tasks[id] != nil || e.pending[id] != nil {
			continue
		}
		t, err := e.openTask(id)
		if err != nil {
			e.fail(err)
			return
		}
		e.pending[id] = t
	}
	e.log.Info("tasks assigned", "new", len(e.pending), "running", len(e.tasks))
}

// onRevoked commits and closes the tasks whose partitions go to another instance, before
// the instance lets them go. Called by the client's group goroutine, which holds the
// rebalance until it returns.
func (e *Engine) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	moving := e.takeTasks(revoked)
	if len(moving) == 0 {
		return
	}
	if e.txn != nil {
		// The loop allows rebalances only between transactions: nothing to commit.
		e.closeTasks(moving, true)
		e.log.Info("tasks revoked", "closed", len(moving), "running", len(e.tasks))
		return
	}
	ctx, cancel := commitContext(ctx)
	defer cancel()
	if err := e.commit(ctx, moving); err != nil {
		e.fail(fmt.Errorf("committing revoked tasks: %w", err))
		e.closeTasks(moving, false)
		return
	}
	e.closeTasks(moving, true)
	e.log.Info("tasks revoked", "closed", len(moving), "running", len(e.tasks))
}

// onLost closes tasks whose partitions this instance lost without a chance to commit:
// their uncommitted work is dropped, and their new owner redoes it.
func (e *Engine) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	gone := e.takeTasks(lost)
	e.closeTasks(gone, false)
	e.log.Warn("tasks lost", "closed", len(gone), "running", len(e.tasks))
}

// takeTasks removes and returns the tasks of the given partitions. REQUIRES: e.mu.
func (e *Engine) takeTasks(partitions map[string][]int32) map[processor.TaskID]*runningTask {
	out := map[processor.TaskID]*runningTask{}
	for _, id := range rebalance.TasksOf(partitions, e.subtopologies) {
		for _, m := range []map[processor.TaskID]*runningTask{e.tasks, e.pending} {
			if t, ok := m[id]; ok {
				out[id] = t
				delete(m, id)
			}
		}
	}
	return out
}

func (e *Engine) fail(err error) {
	if e.fatal == nil {
		e.fatal = err
	}
}

func (e *Engine) taskDir(id processor.TaskID) string {
	return filepath.Join(e.cfg.StateDir, id.String())
}

func (e *Engine) openTask(id processor.TaskID) (*runningTask, error) {
	var sub *topology.Subtopology
	for _, s := range e.cfg.Topology.Subtopologies() {
		if s.ID == id.Subtopology {
			sub = s
		}
	}
	if sub == nil {
		return nil, fmt.Errorf("task %s: no subtopology %d", id, id.Subtopology)
	}
	dir := e.taskDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("task %s: state directory: %w", id, err)
	}
	db, err := e.cfg.Stores.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("task %s: opening stores in %s: %w", id, dir, err)
	}
	t, err := task.New(task.Config{
		ID:              id,
		ApplicationID:   e.cfg.ApplicationID,
		Subtopology:     sub,
		DB:              db,
		GlobalStores:    e.global.kvs(),
		Collector:       e.collector,
		MaxIdle:         e.cfg.MaxTaskIdle,
		SkipUndecodable: e.cfg.SkipUndecodable,
		Logger:          e.log,
	})
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &runningTask{Task: t, committed: map[string]int64{}}, nil
}

// restorePending restores the stores of newly assigned tasks from their changelogs and
// starts them. REQUIRES: e.mu.
func (e *Engine) restorePending(ctx context.Context) error {
	for _, id := range slices.SortedFunc(maps.Keys(e.pending), compareTaskIDs) {
		t := e.pending[id]
		var targets []changelog.Target
		for _, def := range t.Subtopology().Stores {
			if def.Logged() {
				targets = append(targets, changelog.Target{
					Store:     def.Name(),
					Topic:     changelog.TopicName(e.cfg.ApplicationID, def.Name()),
					Partition: id.Partition,
					KV:        t.RawStores()[def.Name()],
					DB:        t.DB(),
				})
			}
		}
		err := e.restorer.Restore(ctx, targets)
		if errors.Is(err, store.ErrCorruptCheckpoint) {
			e.log.Warn("discarding local state with an unreadable checkpoint; restoring it from scratch", "task", id.String(), "error", err)
			if t, err = e.reopenEmpty(id, t); err != nil {
				return err
			}
			e.pending[id] = t
			continue // the next step restores it
		}
		if err != nil {
			return fmt.Errorf("task %s: restoring: %w", id, err)
		}
		if err := t.Init(); err != nil {
			return err
		}
		e.noteStateOffsets(id, t)
		delete(e.pending, id)
		e.tasks[id] = t
	}
	return nil
}

// reopenEmpty closes a task, deletes its state directory and opens it anew, empty.
func (e *Engine) reopenEmpty(id processor.TaskID, t *runningTask) (*runningTask, error) {
	if err := t.Close(false); err != nil {
		e.log.Warn("closing a task with damaged state", "task", id.String(), "error", err)
	}
	if err := os.RemoveAll(e.taskDir(id)); err != nil {
		return nil, fmt.Errorf("task %s: deleting damaged state: %w", id, err)
	}
	return e.openTask(id)
}

// closeTasks closes tasks, recording the state they leave for the balancer. REQUIRES: e.mu.
func (e *Engine) closeTasks(tasks map[processor.TaskID]*runningTask, clean bool) {
	for id, t := range tasks {
		e.processed += t.Processed()
		e.skipped += t.Skipped()
		e.dropped += t.Dropped()
		if sum, ok := e.stateOffsets.LoadAndDelete(id); ok && e.cfg.Stores.Persistent() {
			path := filepath.Join(e.taskDir(id), stateOffsetsFile)
			if err := os.WriteFile(path, strconv.AppendInt(nil, sum.(int64), 10), 0o644); err != nil {
				e.log.Warn("recording a closed task's state offsets", "task", id.String(), "error", err)
			}
		}
		if err := t.Close(clean); err != nil {
			e.log.Error("closing task", "task", id.String(), "error", err)
		}
	}
}

// publishStats totals the counters of closed and running tasks. REQUIRES: e.mu.
func (e *Engine) publishStats() {
	if e.cfg.Stats == nil {
		return
	}
	processed, skipped, dropped := e.processed, e.skipped, e.dropped
	for _, t := range e.tasks {
		processed += t.Processed()
		skipped += t.Skipped()
		dropped += t.Dropped()
	}
	e.cfg.Stats.Processed.Store(processed)
	e.cfg.Stats.SkippedUndecodable.Store(skipped)
	e.cfg.Stats.DroppedRecords.Store(dropped)
}

// shutdown commits (when clean) and closes every task, then leaves the group.
func (e *Engine) shutdown(clean bool) error {
	ctx, cancel := commitContext(context.Background())
	defer cancel()
	var errs []error
	e.mu.Lock()
	if clean && e.fatal == nil {
		commit := func() error { return e.commit(ctx, e.tasks) }
		if e.txn != nil {
			commit = func() error { return e.commitTransaction(ctx) }
		}
		if err := commit(); err != nil {
			errs = append(errs, fmt.Errorf("final commit: %w", err))
			clean = false
		}
	}
	if e.inTxn {
		if _, err := e.txn.End(ctx, kgo.TryAbort); err != nil {
			errs = append(errs, fmt.Errorf("aborting the open transaction: %w", err))
		}
		e.inTxn = false
	}
	all := e.tasks
	maps.Copy(all, e.pending)
	e.tasks, e.pending = map[processor.TaskID]*runningTask{}, map[processor.TaskID]*runningTask{}
	e.closeTasks(all, clean)
	e.publishStats()
	e.mu.Unlock()
	// The last poll may have held a rebalance back; leaving the group waits for it.
	e.client.AllowRebalance()
	e.client.Close()
	e.log.Info("group member stopped", "processed", e.processed, "skipped_undecodable", e.skipped, "dropped", e.dropped)
	return errors.Join(errs...)
}

// stateOffsetsFile, in a closed task's directory, holds the sum of the changelog offsets
// its stores had committed when it closed, in decimal.
const stateOffsetsFile = "state-offsets"

// noteStateOffsets records the sum of the changelog offsets a task's stores committed.
// REQUIRES: e.mu.
func (e *Engine) noteStateOffsets(id processor.TaskID, t *runningTask) {
	offsets, err := t.DB().CommittedOffsets()
	if err != nil {
		return
	}
	var sum int64
	for _, o := range offsets {
		sum += o
	}
	e.stateOffsets.Store(id, sum)
}

// localTaskOffsets reports the tasks this instance has local state for, with how much,
// for the balancer (Kafka Streams: task offset sums): for a running task, the sum of the
// changelog offsets its stores committed; for a closed one that left its state on disk,
// the sum it recorded when it closed, or 1 when it recorded none (it crashed). It runs
// on the group goroutine at every join, so it reads no store.
func (e *Engine) localTaskOffsets() map[processor.TaskID]int64 {
	out := map[processor.TaskID]int64{}
	e.stateOffsets.Range(func(k, v any) bool {
		out[k.(processor.TaskID)] = v.(int64)
		return true
	})
	if !e.cfg.Stores.Persistent() {
		return out
	}
	entries, err := os.ReadDir(e.cfg.StateDir)
	if err != nil {
		return out
	}
	for _, entry := range entries {
		id, err := processor.ParseTaskID(entry.Name())
		if err != nil || !entry.IsDir() {
			continue
		}
		if _, running := out[id]; running {
			continue
		}
		out[id] = 1
		if b, err := os.ReadFile(filepath.Join(e.cfg.StateDir, entry.Name(), stateOffsetsFile)); err == nil {
			if sum, err := strconv.ParseInt(string(b), 10, 64); err == nil && sum > 0 {
				out[id] = sum
			}
		}
	}
	return out
}
