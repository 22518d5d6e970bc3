package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A commit, step by step (each task's part is in internal/task/commit.go):
//
// At least once (commitAtLeastOnce):
//  1. every task prepares: it flushes what its processors and caches hold back and
//     returns its input offsets;
//  2. the producer is flushed: every output and changelog record is acknowledged;
//  3. the input offsets are committed to the group;
//  4. every task post-commits: its stores commit with the changelog offsets the
//     producer acknowledged. A crash between 3 and 4 leaves stores older than the
//     offsets, and restoration replays the changelog tail.
//
// Exactly once (commitTransaction), inside the transaction that beginTransaction opened:
//  1. every task prepares, as above;
//  2. the producer is flushed: a record that failed fails the commit, unless the
//     failure says the transaction is lost (lostTransaction), which drops the
//     membership;
//  3. franz-go's session ends the transaction: it commits the
//     tasks' input offsets with the group's generation (taskOffsets: not those of
//     every polled record, as a task may hold records it has not processed, waiting for
//     another input), and commits the transaction unless a rebalance or an error makes
//     that unsafe;
//  4. committed: every task post-commits; aborted: every task aborts (rolls back to its
//     last commit), the session rewinds the consumer to the committed offsets, and,
//     once the coordinator has completed the abort, the membership aborts what the
//     broker left open of it without markers (orphans.go).

// transactionTimeout is the transaction timeout of the exactly-once producer: how long
// the broker lets a transaction of a crashed instance block read_committed readers
// before it aborts it. Kafka Streams: transaction.timeout.ms under exactly-once.
const transactionTimeout = 10 * time.Second

// commitContext is the context of a commit: not cancelled when the run stops, so that a
// shutdown during a commit lets it finish, but bounded by OutageTimeout and cut short
// when the cluster has been silent that long (contact.go): a commit waits through an
// outage that the instance survives.
func (e *Engine) commitContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.abandon, e.cfg.OutageTimeout)
}

// commitDue reports whether the loop commits now: every commit interval, but not while
// the member joins (offset commits wait for the join), and at once under exactly-once
// when a rebalance waits for the loop.
func (m *membership) commitDue(lastCommit time.Time) bool {
	if m.txn != nil && m.callbacksWaiting.Load() {
		return true
	}
	return time.Since(lastCommit) >= m.cfg.CommitInterval && !m.rebalancing.Load()
}

// commit commits every running task, by the protocol in force. REQUIRES: mu.
func (m *membership) commit(ctx context.Context) error {
	if m.txn != nil {
		return m.commitTransaction(ctx)
	}
	return m.commitAtLeastOnce(ctx, m.tasks)
}

// applyWrites writes the stores' staged writes through after every step at least once
// (task.Task.ApplyWrites). REQUIRES: mu.
func (m *membership) applyWrites() error {
	for _, t := range m.tasks {
		if err := t.ApplyWrites(); err != nil {
			return err
		}
	}
	return nil
}

// prepareCommit prepares tasks in task order, so that what one forwards while flushing
// is part of the commit that follows, and returns the input offsets to commit.
// REQUIRES: mu.
func prepareCommit(tasks map[processor.TaskID]*task.Task) (map[string]map[int32]kgo.EpochOffset, error) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, id := range slices.SortedFunc(maps.Keys(tasks), compareTaskIDs) {
		moved, err := tasks[id].PrepareCommit()
		if err != nil {
			return nil, err
		}
		for topic, next := range moved {
			if offsets[topic] == nil {
				offsets[topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[topic][id.Partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}
	}
	return offsets, nil
}

// postCommit completes the commit of tasks once their offsets are committed.
// REQUIRES: mu.
func (m *membership) postCommit(tasks map[processor.TaskID]*task.Task) error {
	for id, t := range tasks {
		if err := t.PostCommit(m.collector.nextOffset); err != nil {
			return err
		}
		m.noteStateOffsets(id, t)
	}
	return nil
}

// commitAtLeastOnce commits tasks at least once (see the steps above). REQUIRES: mu.
func (m *membership) commitAtLeastOnce(ctx context.Context, tasks map[processor.TaskID]*task.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	offsets, err := prepareCommit(tasks)
	if err != nil {
		return err
	}
	if err := m.collector.flush(ctx); err != nil {
		return err
	}
	if len(offsets) > 0 {
		if err := m.commitOffsets(ctx, offsets); err != nil {
			return err
		}
	}
	return m.postCommit(tasks)
}

// beginTransaction opens a transaction under exactly-once if none is open. REQUIRES: mu.
func (m *membership) beginTransaction() error {
	if m.txn == nil || m.inTxn {
		return nil
	}
	if err := m.txn.Begin(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	m.inTxn = true
	return nil
}

// commitTransaction ends the open transaction (see the steps above). REQUIRES: mu.
func (m *membership) commitTransaction(ctx context.Context) error {
	if !m.inTxn {
		// Nothing was processed since the last commit, whose flush left nothing held.
		return nil
	}
	// What processors hold back belongs to this transaction. After an error the
	// transaction stays open, and shutdown aborts it.
	offsets, err := prepareCommit(m.tasks)
	if err != nil {
		return err
	}
	if m.lostMembership.Load() {
		// Put out of the group: the transaction cannot commit, and aborting it now
		// unblocks the readers of what it wrote (rejoin.go).
		m.inTxn = false
		_, err := m.txn.End(ctx, kgo.TryAbort)
		return errors.Join(fmt.Errorf("%w: put out of the group during a transaction, which was aborted", errTasksMigrated), err)
	}
	// A transaction older than its timeout is aborted by the broker anyway: the flush
	// and End together must not hold the instance longer. onCallbacksBlocked cuts them
	// short when the instance finds itself out of the group.
	commitCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, transactionTimeout)
	defer cancel()
	m.cancelEnd.Store(&cancel)
	defer m.cancelEnd.Store(nil)
	// A record that failed to produce (a sink's, a changelog's) must not be committed
	// past: End would commit the rest of the transaction without it. A flush that
	// failed because the producer was fenced or the cluster did not answer in time
	// loses the transaction, not the application; after another failure the open
	// transaction is aborted at shutdown.
	if err := m.collector.flush(ctx); err != nil {
		if lostTransaction(err) {
			return fmt.Errorf("%w: flushing a transaction: %w", errTasksMigrated, err)
		}
		return err
	}
	m.inTxn = false
	ctx = kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		taskOffsets(req, offsets)
		return nil
	})
	committed, err := m.txn.End(ctx, kgo.TryCommit)
	if err != nil {
		// Fenced, timed out, or out of the group: nothing of this transaction counts.
		return fmt.Errorf("%w: ending a transaction: %w", errTasksMigrated, err)
	}
	if committed {
		return m.postCommit(m.tasks)
	}
	m.aborted++
	m.log.Info("transaction aborted; tasks roll back to their last commit", "aborted_total", m.aborted)
	m.collector.reset()
	for _, t := range m.tasks {
		if err := t.Abort(); err != nil {
			return err
		}
	}
	return m.lookAfterAbort(commitCtx)
}

// taskOffsets makes the offset commit of a transaction commit the offsets that the tasks
// consumed (offsets, from prepareCommit) instead of those franz-go's session puts in it:
// the offset after every record the client handed over. Partitions whose task did not
// move are left out. The session takes the request as sent for its view of what is
// committed, and rewinds to that view after an abort. A topic missing from the
// session's request (a task moves only past records the client handed over, so none
// should be) has no topic id, and franz-go then sends the request as v5, by name.
func taskOffsets(req *kmsg.TxnOffsetCommitRequest, offsets map[string]map[int32]kgo.EpochOffset) {
	ids := make(map[string][16]byte, len(req.Topics))
	for _, t := range req.Topics {
		ids[t.Topic] = t.TopicID
	}
	req.Topics = req.Topics[:0]
	for _, topic := range slices.Sorted(maps.Keys(offsets)) {
		t := kmsg.NewTxnOffsetCommitRequestTopic()
		t.Topic, t.TopicID = topic, ids[topic]
		for _, p := range slices.Sorted(maps.Keys(offsets[topic])) {
			part := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			part.Partition, part.Offset, part.LeaderEpoch, part.Metadata = p, offsets[topic][p].Offset, -1, &req.MemberID
			t.Partitions = append(t.Partitions, part)
		}
		req.Topics = append(req.Topics, t)
	}
}

func (m *membership) commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var commitErr error
	m.client.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
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

// lostTransaction reports whether a produce failure under exactly-once says that the
// transaction is lost rather than that a record is bad: the producer was fenced or lost
// its id or epoch (the broker aborted the transaction after its timeout, or another
// instance took the transactional id), the client is aborting, or the flush ran out of
// time. Kafka Streams: the errors its RecordCollector turns into TaskMigratedException.
func lostTransaction(err error) bool {
	return isAny(err,
		kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidProducerIDMapping,
		kerr.UnknownProducerID, kerr.OutOfOrderSequenceNumber, kerr.InvalidTxnState,
		kgo.ErrAborting, context.Canceled, context.DeadlineExceeded)
}

// isMembershipError reports whether err says the instance is no longer the group member
// whose generation may commit.
func isMembershipError(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

// afterCommit follows a commit of the loop: the global stores commit the offsets they
// reflect, and consumed records of repartition topics are purged. REQUIRES: mu.
func (m *membership) afterCommit(ctx context.Context) error {
	if m.global != nil {
		if err := m.global.commit(); err != nil {
			return err
		}
	}
	m.purgeRepartitionTopics(ctx)
	return nil
}

// purgeInterval is how often the records of repartition topics that the instance's
// tasks consumed and committed are deleted. Kafka Streams: repartition.purge.interval.ms.
const purgeInterval = 30 * time.Second

// purgeRepartitionTopics deletes, at most every purgeInterval, the records of the
// repartition topics that the running tasks have committed (Kafka Streams does the
// same after commits): nothing else reads them, and the topics keep their records
// forever otherwise (retention.ms=-1). A failure is logged, and the next purge retries.
// REQUIRES: mu.
func (m *membership) purgeRepartitionTopics(ctx context.Context) {
	if len(m.internal) == 0 || time.Since(m.lastPurge) < purgeInterval {
		return
	}
	m.lastPurge = time.Now()
	offsets := kadm.Offsets{}
	for id, t := range m.tasks {
		for topic, next := range t.Committed() {
			if m.internal[topic] && next > m.purged[topicPartition{topic, id.Partition}] {
				offsets.Add(kadm.Offset{Topic: topic, Partition: id.Partition, At: next, LeaderEpoch: -1})
			}
		}
	}
	if len(offsets) == 0 {
		return
	}
	resp, err := m.admin.DeleteRecords(ctx, offsets)
	if err != nil {
		m.log.Warn("purging consumed records of repartition topics", "error", err)
		return
	}
	purged := 0
	resp.Each(func(r kadm.DeleteRecordsResponse) {
		if r.Err != nil {
			m.log.Warn("purging consumed records of a repartition topic", "topic", r.Topic, "partition", r.Partition, "error", r.Err)
			return
		}
		if o, ok := offsets.Lookup(r.Topic, r.Partition); ok {
			m.purged[topicPartition{r.Topic, r.Partition}] = o.At
			purged++
		}
	})
	m.log.Debug("purged consumed records of repartition topics", "partitions", purged)
}
