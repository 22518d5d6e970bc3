package task

import (
	"fmt"
	"maps"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/processor"
)

// A task owns its commit, in the steps of Kafka Streams' StreamTask:
//
//  1. PrepareCommit forwards what the task holds back and returns the input offsets to
//     commit. Everything the task sends before the commit's producer flush (or the
//     transaction's end) belongs to the commit.
//  2. The engine makes the output durable and commits the offsets: a producer flush and
//     an offset commit at least once, the end of the transaction under exactly-once.
//  3. PostCommit, once that succeeded, records the offsets as committed and commits the
//     stores with the changelog offsets they reflect (the checkpoint).
//  4. Abort, when the transaction aborted instead, rolls the task back to its last
//     commit, so that it processes again what the consumer reads again.
//
// Between commits under at least once, ApplyWrites writes the stores' staged writes
// through without a checkpoint.

// PrepareCommit makes the processors that hold records back (processor.Flusher) forward
// them, in processor order (parents before children, so that what a parent flushes
// reaches a child before the child flushes), then writes the stores' caches to the
// stores and their changelogs, and returns, per input topic, the offset of the next
// record to read where it moved since the last commit. A processor's error is a
// *processor.ProcessingError naming the node, with Flushing set.
//
// It may be called again before PostCommit, as the test driver does while one task's
// flush gives another task records: each call flushes what is held and returns every
// offset that moved since the last commit. The map returned is the caller's.
// Kafka Streams: StreamTask#prepareCommit.
func (t *Task) PrepareCommit() (map[string]int64, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	offsets := map[string]int64{}
	for topic, next := range t.consumedOffsets() {
		if t.committed[topic] != next {
			offsets[topic] = next
		}
	}
	return offsets, nil
}

// PostCommit follows a successful commit of the offsets that PrepareCommit returned:
// they become the task's committed offsets, and the stores commit with the changelog
// offsets they reflect, which changelogEnd gives per changelog topic and partition: the
// offset after the last record the task sent there that the broker acknowledged. A
// store without one (nothing sent yet) commits without moving its checkpoint.
// Kafka Streams: StreamTask#postCommit.
func (t *Task) PostCommit(changelogEnd func(topic string, partition int32) (int64, bool)) error {
	maps.Copy(t.committed, t.consumed)
	checkpoints := make(map[string]int64, len(t.sub.Stores))
	for _, st := range t.sub.Stores {
		if st.Changelog == "" {
			continue
		}
		if next, ok := changelogEnd(st.Changelog, t.id.Partition); ok {
			checkpoints[st.Def.Name()] = next
		}
	}
	if err := t.db.Commit(checkpoints); err != nil {
		return fmt.Errorf("task %s: committing stores: %w", t.id, err)
	}
	return nil
}

// ApplyWrites writes the stores' staged writes through, without moving their
// checkpoints: a store may then be ahead of its checkpoint, and restoration replays
// changelog records it already holds, which rewrite the same values. The engine calls it
// after each step at least once, so that a batch staged over a whole commit interval does
// not grow large and slow every read and write through it. Under exactly-once writes
// wait for their transaction instead.
func (t *Task) ApplyWrites() error {
	if err := t.db.Commit(nil); err != nil {
		return fmt.Errorf("task %s: writing stores through: %w", t.id, err)
	}
	return nil
}

// Abort rolls the task back to its last commit after its transaction aborted: the
// stores drop their writes since then, the window and session layers over them forget
// what they knew in memory (store.Layer.Reset), the processors that hold records back
// (processor.Flusher) and the stores' caches discard what they hold, and the records
// queued and processed since then are forgotten, since the consumer reads them again from
// the committed offsets. Kafka Streams: the dirty close and revival of a task after an
// aborted transaction.
func (t *Task) Abort() error {
	if err := t.db.Abort(); err != nil {
		return fmt.Errorf("task %s: rolling back: %w", t.id, err)
	}
	for _, q := range t.group.queues {
		clear(q.records)
		q.records, q.head = q.records[:0], 0
		q.consumed, q.skippedTo = 0, 0
		// The consumer reads again from the committed offset, or from where it started.
		q.position, q.caughtUpSince = q.start, time.Time{}
		if next, ok := t.committed[q.topic]; ok {
			q.position = next
		}
	}
	t.consumed = maps.Clone(t.committed)
	for _, c := range t.caches {
		c.Discard()
	}
	for _, l := range t.layers {
		l.Reset()
	}
	if t.initialized {
		for _, p := range t.sub.Processors {
			if f, ok := t.nodes[p.Name].proc.(processor.Flusher); ok {
				f.Discard()
			}
		}
	}
	return nil
}

// Committed returns, per input topic, the offset of the next record to read as of the
// last commit. The map is the task's: the caller does not modify it.
func (t *Task) Committed() map[string]int64 { return t.committed }

// CommittedChangelogOffsets returns the changelog offsets the task's stores last
// committed, by store.
func (t *Task) CommittedChangelogOffsets() (map[string]int64, error) {
	return t.db.CommittedOffsets()
}

// RestoreTargets returns the task's logged stores, for restoration from their
// changelogs before Init.
func (t *Task) RestoreTargets() []changelog.Target {
	var targets []changelog.Target
	for _, st := range t.sub.Stores {
		if st.Changelog != "" {
			name := st.Def.Name()
			targets = append(targets, changelog.Target{Store: name, Topic: st.Changelog, Partition: t.id.Partition, KV: t.raw[name], DB: t.db})
		}
	}
	return targets
}

// flush is PrepareCommit's first half: see there.
func (t *Task) flush() error {
	if !t.initialized {
		return nil
	}
	t.flushing = true
	defer func() { t.flushing = false }()
	for _, p := range t.sub.Processors {
		n := t.nodes[p.Name]
		f, ok := n.proc.(processor.Flusher)
		if !ok {
			continue
		}
		if err := t.run(n, f.Flush); err != nil && !t.continueProcessing(err) {
			return err
		}
	}
	// Last, as what the processors forwarded above may have written to cached stores.
	for _, c := range t.caches {
		if err := c.Flush(); err != nil {
			return fmt.Errorf("task %s: writing the cache of store %q: %w", t.id, c.Name(), err)
		}
	}
	return nil
}

// consumedOffsets returns, per input topic, the offset of the next record to read, for
// the records processed (or skipped) so far. The map is the task's.
func (t *Task) consumedOffsets() map[string]int64 {
	for _, q := range t.group.queues {
		if q.consumed > 0 {
			t.consumed[q.topic] = q.consumed
		}
	}
	return t.consumed
}
