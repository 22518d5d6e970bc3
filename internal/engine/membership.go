package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// membership is one membership of the instance in its group: from joining to leaving,
// or to an error. Everything here is made for it and dropped with it.
//
// Concurrency: the loop runs on Run's goroutine; the group callbacks (assignment.go) on
// the client's group goroutine, and onCallbacksBlocked on one of its own. mu guards the
// tasks and everything the loop and the callbacks share: the loop holds it while it
// processes and commits a batch, the callbacks while they open, commit and close tasks.
// The atomic fields are read without it.
type membership struct {
	*Engine
	client *kgo.Client
	// txn is the transaction session under exactly-once; nil at least once.
	txn       *kgo.GroupTransactSession
	collector *collector
	gate      *fetchGate
	restorer  *changelog.Restorer

	mu sync.Mutex
	// tasks are the tasks this membership runs, restored and processing; pending are
	// tasks assigned but not yet restored. REQUIRES: mu.
	tasks, pending map[processor.TaskID]*task.Task
	// fatal is the first error of a group callback; the loop stops with it. REQUIRES: mu.
	fatal error
	// inTxn says whether a transaction is open. REQUIRES: mu.
	inTxn bool
	// committed says whether the membership has committed: one that did resets the
	// rejoin backoff. Loop goroutine only.
	committed bool
	// inputs is step's buffer for the records of one fetched partition, reused. Loop
	// goroutine only.
	inputs []task.Input
	// idle is what task idling needs (idle.go).
	idle idling

	// callbacksWaiting is set when a rebalance waits for the loop to allow it: under
	// exactly-once the loop then commits at once instead of at the commit interval.
	callbacksWaiting atomic.Bool
	// lostMembership is set under exactly-once when the coordinator said, while a
	// callback waited, that this instance is no longer the member it was: the open
	// transaction is aborted rather than committed (rejoin.go). cancelEnd holds the
	// cancel function of the End under way, if one is.
	lostMembership atomic.Bool
	cancelEnd      atomic.Pointer[context.CancelFunc]
	// rebalancing is set from the moment the member (re)joins its group until its next
	// assignment. Periodic commits wait meanwhile: the client holds offset commits back
	// during a join, and a commit waiting there would stop every task for the whole
	// rebalance. Kafka Streams skips them too (TaskManager#rebalanceInProgress).
	rebalancing atomic.Bool
}

// member runs one membership of the group and reports whether it committed.
// partitions are the partition counts of the topics the tasks read and write.
func (e *Engine) member(ctx context.Context, partitions map[string]int32) (committed bool, err error) {
	m := &membership{
		Engine:  e,
		tasks:   map[processor.TaskID]*task.Task{},
		pending: map[processor.TaskID]*task.Task{},
	}
	m.startRebalancing()
	if err := m.join(partitions); err != nil {
		return false, err
	}
	if m.txn != nil {
		// Initializing the producer id now, not at the first record, makes the broker
		// abort at once a transaction that this instance's transactional id left open
		// (an End that failed or was cut short), instead of letting it pin the last
		// stable offsets of what it wrote until its timeout.
		id, _, err := m.client.ProducerID(ctx)
		if err != nil {
			return false, errors.Join(fmt.Errorf("%w: initializing the transactional producer: %w", errTasksMigrated, err), m.shutdown(false))
		}
		if err := m.abortLostTransactions(ctx, id, partitions); err != nil {
			return false, errors.Join(err, m.shutdown(false))
		}
	}
	e.log.Info("group member started", "subtopologies", len(e.subtopologies), "exactly_once", m.txn != nil)
	err = m.loop(ctx)
	return m.committed, errors.Join(err, m.shutdown(err == nil))
}

// join makes the membership's group client, with its collector, fetch gate and
// restorer; the client joins the group in the background.
func (m *membership) join(partitions map[string]int32) error {
	cfg := m.cfg
	balancer, err := rebalance.New(rebalance.Config{
		Subtopologies: m.subtopologies,
		TaskOffsets:   m.localTaskOffsets,
		OnJoin:        m.startRebalancing,
		Logger:        m.log,
	})
	if err != nil {
		return err
	}
	// The user's options come last, as ClientOptions documents: they may override these.
	opts := append(append(m.ownOpts("stream"),
		kgo.ConsumerGroup(cfg.ApplicationID),
		kgo.ConsumeTopics(cfg.Topology.SourceTopics()...),
		kgo.Balancers(balancer),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		// The Java consumer's fetch.max.wait.ms, which Kafka Streams runs with, instead of
		// franz-go's 5 s: a fetch of partitions that have nothing new waits this long at
		// the broker, and the client sends no other fetch to that broker meanwhile, so a
		// partition resumed (fetchGate) or newly assigned waits up to this long too.
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Transaction markers move the tasks' positions and committed offsets (idle.go).
		kgo.KeepControlRecords(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(m.onAssigned),
		kgo.OnPartitionsRevoked(m.onRevoked),
		kgo.OnPartitionsLost(m.onLost),
		kgo.AdjustFetchOffsetsFn(m.resetOffsets),
		kgo.OnPartitionsCallbackBlocked(m.onCallbacksBlocked),
	), cfg.ClientOpts...)
	// The group callbacks take mu: holding it until the collector and the restorer exist
	// keeps a callback of the new client from opening tasks without them.
	m.mu.Lock()
	defer m.mu.Unlock()
	if cfg.TransactionalID == "" {
		m.client, err = kgo.NewClient(opts...)
	} else {
		opts = append(opts,
			kgo.TransactionalID(cfg.TransactionalID),
			kgo.TransactionTimeout(transactionTimeout),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		if m.txn, err = kgo.NewGroupTransactSession(opts...); err == nil {
			m.client = m.txn.Client()
		}
	}
	if err != nil {
		return fmt.Errorf("group client: %w", err)
	}
	m.collector = newCollector(m.client, partitions, handledProduceTopics(cfg), cfg.Errors, m.log)
	m.gate = newFetchGate(m.client, cfg.BufferedRecordsPerPartition)
	m.restorer = &changelog.Restorer{
		Admin:         m.admin,
		ReadCommitted: m.txn != nil,
		Listener:      cfg.RestoreListener,
		Logger:        m.log,
		NewConsumer: func(partitions map[string]map[int32]kgo.Offset, opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append(append(m.clientOpts("restore-consumer"), kgo.ConsumePartitions(partitions)), opts...)...)
		},
	}
	return nil
}

// shutdown commits (when clean) and closes every task, then leaves the group.
//
// The open transaction, if any, is aborted without mu held: franz-go's session holds
// its own lock while it runs a group callback, which takes mu, and End takes that lock
// too; a callback running then deadlocked the instance (a broker frozen past the session
// timeout: onLost and an abort after a failed commit). The loop also keeps callbacks
// back from a poll until a batch ends well, so none runs while a transaction is open.
func (m *membership) shutdown(clean bool) error {
	ctx, cancel := m.commitContext()
	defer cancel()
	var errs []error
	m.mu.Lock()
	if clean && m.fatal == nil {
		if err := m.commit(ctx); err != nil {
			errs = append(errs, fmt.Errorf("final commit: %w", err))
			clean = false
		}
	}
	abort := m.inTxn
	m.inTxn = false
	m.mu.Unlock()
	if abort {
		if _, err := m.txn.End(ctx, kgo.TryAbort); err != nil {
			errs = append(errs, fmt.Errorf("aborting the open transaction: %w", err))
		}
		clean = false
	}
	m.mu.Lock()
	all := m.tasks
	maps.Copy(all, m.pending)
	m.tasks, m.pending = map[processor.TaskID]*task.Task{}, map[processor.TaskID]*task.Task{}
	m.closeTasks(all, clean)
	m.publishStats()
	m.status.update(func(s *Status) { s.Phase, s.Tasks, s.Restoring = PhaseRebalancing, 0, 0 })
	m.mu.Unlock()
	// The last poll may have held a rebalance back; leaving the group waits for it.
	m.client.AllowRebalance()
	m.client.Close()
	m.log.Info("group member stopped", "processed", m.processed, "processed_internal", m.processedInternal, "skipped_undecodable", m.skipped, "dropped", m.dropped)
	return errors.Join(errs...)
}

// fail records the first error of a group callback. REQUIRES: mu.
func (m *membership) fail(err error) {
	if m.fatal == nil {
		m.fatal = err
	}
}

// publishStats totals the counters of closed and running tasks. REQUIRES: mu.
func (m *membership) publishStats() {
	if m.cfg.PublishStats == nil {
		return
	}
	processed, internal, skipped, dropped := m.processed, m.processedInternal, m.skipped, m.dropped
	if m.global != nil {
		skipped += m.global.skipped
	}
	for _, t := range m.tasks {
		processed += t.Processed()
		internal += t.ProcessedInternal()
		skipped += t.Skipped()
		dropped += t.Dropped()
	}
	m.cfg.PublishStats(processed, internal, skipped, dropped)
}
