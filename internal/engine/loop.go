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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// loop polls, processes and commits until ctx ends or an error stops the membership.
func (m *membership) loop(ctx context.Context) error {
	lastCommit := time.Now()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, m.pollWait(lastCommit))
		fetches := m.client.PollRecords(pollCtx, m.cfg.PollRecords)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err := m.fetchError(fetches); err != nil {
			return err
		}
		committed, err := m.runBatch(ctx, fetches, lastCommit)
		if committed {
			lastCommit = time.Now()
		}
		// Under exactly-once a rebalance may only run between transactions, so that no
		// revoked task has uncommitted work. After an error the membership ends, and
		// shutdown lets the held rebalance run once it has closed the tasks.
		if err == nil && (m.txn == nil || committed) {
			m.callbacksWaiting.Store(false)
			m.client.AllowRebalance()
		}
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // a restore cut short by shutdown: the next owner restores
		}
		if err != nil {
			return err
		}
	}
}

// fetchError returns the first fetch error that stops the membership. Others are
// logged: the client retries them, or rejoins by itself.
func (m *membership) fetchError(fetches kgo.Fetches) error {
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
			m.log.Warn("group session ended; rejoining", "error", err)
			return
		}
		if fetchErr == nil && !kerr.IsRetriable(err) {
			fetchErr = fmt.Errorf("fetching %s partition %d: %w", topic, partition, err)
		}
		m.log.Warn("fetch error", "topic", topic, "partition", partition, "error", err)
	})
	return fetchErr
}

// runBatch processes one poll's records with mu held: it opens a transaction under
// exactly-once, brings the global stores up to date, restores newly assigned tasks,
// processes, and commits when one is due. It reports whether it committed (or tried
// to).
func (m *membership) runBatch(ctx context.Context, fetches kgo.Fetches, lastCommit time.Time) (committed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.publishStats()
	if err := m.beginTransaction(); err != nil {
		return false, err
	}
	if m.global != nil {
		if err := m.global.update(); err != nil {
			return false, err
		}
	}
	if err := m.step(ctx, fetches); err != nil {
		return false, err
	}
	m.gate.update(m.tasks)
	if m.txn == nil {
		if err := m.applyWrites(); err != nil {
			return false, err
		}
	}
	if !m.commitDue(lastCommit) {
		return false, nil
	}
	commitCtx, cancel := m.commitContext()
	defer cancel()
	err = m.commit(commitCtx)
	if err == nil {
		err = m.afterCommit(commitCtx)
	}
	m.committed = m.committed || err == nil
	return true, err
}

// pollWait is how long a poll may wait for records: not past the next commit, and short
// enough for wall-clock punctuation.
func (m *membership) pollWait(lastCommit time.Time) time.Duration {
	wait := time.Until(lastCommit.Add(m.cfg.CommitInterval))
	return min(max(wait, time.Millisecond), 100*time.Millisecond)
}

// step restores newly assigned tasks, hands the fetched records to their tasks and
// processes everything ready. REQUIRES: mu.
func (m *membership) step(ctx context.Context, fetches kgo.Fetches) error {
	if m.fatal != nil {
		return m.fatal
	}
	if err := m.restorePending(ctx); err != nil {
		return err
	}
	m.applyStarts()
	var addErr error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if addErr != nil || len(p.Records) == 0 {
			return
		}
		id, ok := m.taskOf(p.Topic, p.Partition)
		t := m.tasks[id]
		if ok && t == nil && m.pending[id] != nil {
			// The consumer is past these records: dropping them would lose them.
			addErr = fmt.Errorf("task %s: records of %s partition %d fetched before the task was restored", id, p.Topic, p.Partition)
			return
		}
		if !ok || t == nil {
			// Fetched just before the partition was revoked; its next owner reads it
			// from the committed offset.
			return
		}
		inputs := m.inputs[:0]
		for _, r := range p.Records {
			inputs = append(inputs, task.Input{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: headers(r.Headers), Control: r.Attrs.IsControl()})
		}
		addErr = t.Add(inputs)
		clear(inputs) // Add keeps nothing of the slice: drop its references to the records
		m.inputs = inputs
		if m.txn != nil {
			t.SetEnd(p.Topic, p.LastStableOffset)
		} else {
			t.SetEnd(p.Topic, p.HighWatermark)
		}
	})
	if addErr != nil {
		return addErr
	}
	ids := slices.SortedFunc(maps.Keys(m.tasks), compareTaskIDs)
	if err := m.processReady(ids); err != nil {
		return err
	}
	if m.learnEnds(ctx) {
		if err := m.processReady(ids); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if _, err := m.tasks[id].PunctuateWallClock(); err != nil {
			return err
		}
	}
	return nil
}

// processReady processes the records that the tasks ids hold and may process now, a
// bounded share per task per round, until none is left. REQUIRES: mu.
func (m *membership) processReady(ids []processor.TaskID) error {
	for progress := true; progress; {
		progress = false
		for _, id := range ids {
			t := m.tasks[id]
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
