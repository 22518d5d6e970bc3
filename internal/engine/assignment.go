package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
	"github.com/twmb/franz-go/pkg/kgo"
)

// onAssigned opens the newly assigned tasks; the loop restores them before they
// process. Called by the client's group goroutine.
func (m *membership) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	m.rebalancing.Store(false)
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.publishTasks()
	for _, id := range rebalance.TasksOf(assigned, m.subtopologies) {
		if m.tasks[id] != nil || m.pending[id] != nil {
			continue
		}
		t, err := m.openTask(id)
		if err != nil {
			m.fail(err)
			return
		}
		m.pending[id] = t
	}
	m.log.Info("tasks assigned", "new", len(m.pending), "running", len(m.tasks))
}

// onRevoked commits and closes the tasks whose partitions go to another instance, before
// the instance lets them go. Called by the client's group goroutine, which holds the
// rebalance until it returns.
func (m *membership) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	moving := m.takeTasks(revoked)
	if len(moving) == 0 {
		return
	}
	if m.txn != nil {
		// The loop allows rebalances only between transactions: nothing to commit.
		m.closeTasks(moving, true)
		m.log.Info("tasks revoked", "closed", len(moving), "running", len(m.tasks))
		return
	}
	ctx, cancel := m.commitContext()
	defer cancel()
	if err := m.commitAtLeastOnce(ctx, moving); err != nil {
		m.fail(fmt.Errorf("committing revoked tasks: %w", err))
		m.closeTasks(moving, false)
		return
	}
	m.closeTasks(moving, true)
	m.log.Info("tasks revoked", "closed", len(moving), "running", len(m.tasks))
}

// onLost closes tasks whose partitions this instance lost without a chance to commit:
// their uncommitted work is dropped, and their new owner redoes it.
func (m *membership) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gone := m.takeTasks(lost)
	m.closeTasks(gone, false)
	m.log.Warn("tasks lost", "closed", len(gone), "running", len(m.tasks))
}

// resetOffsets starts partitions without a committed offset at their end for sources
// whose offset reset is Latest; the client starts the others at the beginning. Kafka
// Streams: Topology.AutoOffsetReset per source. A committed offset that is out of range
// (deleted by retention) is reset to the beginning whatever the source says. The
// offsets become exact ones, recorded for the tasks (recordStarts). Called by the
// client's group goroutine after onAssigned.
func (m *membership) resetOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	noCommit := kgo.NewOffset().AtStart()
	for _, sub := range m.cfg.Topology.Subtopologies {
		for _, src := range sub.Sources {
			if !src.ResetToLatest {
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
	m.recordStarts(ctx, offsets)
	return offsets, nil
}

// takeTasks removes and returns the tasks of the given partitions. REQUIRES: mu.
func (m *membership) takeTasks(partitions map[string][]int32) map[processor.TaskID]*task.Task {
	out := map[processor.TaskID]*task.Task{}
	for _, id := range rebalance.TasksOf(partitions, m.subtopologies) {
		for _, tasks := range []map[processor.TaskID]*task.Task{m.tasks, m.pending} {
			if t, ok := tasks[id]; ok {
				out[id] = t
				delete(tasks, id)
			}
		}
	}
	return out
}

// openTask opens a task and its stores; restorePending restores and starts it.
// REQUIRES: mu.
func (m *membership) openTask(id processor.TaskID) (*task.Task, error) {
	var sub *plan.Subtopology
	for _, s := range m.cfg.Topology.Subtopologies {
		if s.ID == id.Subtopology {
			sub = s
		}
	}
	if sub == nil {
		return nil, fmt.Errorf("task %s: no subtopology %d", id, id.Subtopology)
	}
	dir := m.taskDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("task %s: state directory: %w", id, err)
	}
	db, err := m.cfg.Stores.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("task %s: opening stores in %s: %w", id, dir, err)
	}
	t, err := task.New(task.Config{
		ID:            id,
		ApplicationID: m.cfg.ApplicationID,
		Subtopology:   sub,
		DB:            db,
		GlobalStores:  m.global.kvs(),
		Collector:     m.collector,
		IdleWait:      m.cfg.MaxTaskIdle >= 0,
		MaxIdle:       m.cfg.MaxTaskIdle,
		Errors:        m.cfg.Errors,
		Logger:        m.log,
	})
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return t, nil
}

// restorePending restores the stores of newly assigned tasks from their changelogs and
// starts them, all of them: step hands the records just fetched to running tasks only.
// REQUIRES: mu.
func (m *membership) restorePending(ctx context.Context) error {
	if len(m.pending) == 0 {
		return nil
	}
	defer m.publishTasks()
	for _, id := range slices.SortedFunc(maps.Keys(m.pending), compareTaskIDs) {
		t := m.pending[id]
		err := m.restorer.Restore(ctx, t.RestoreTargets())
		if errors.Is(err, store.ErrCorruptCheckpoint) {
			// Restored from scratch in this same step: the records fetched for the task
			// in this poll are handed to it right after, and the consumer is past them.
			m.log.Warn("discarding local state with an unreadable checkpoint; restoring it from scratch", "task", id.String(), "error", err)
			if t, err = m.reopenEmpty(id, t); err != nil {
				return err
			}
			m.pending[id] = t
			err = m.restorer.Restore(ctx, t.RestoreTargets())
		}
		if err != nil {
			return fmt.Errorf("task %s: restoring: %w", id, err)
		}
		if err := t.Init(); err != nil {
			return err
		}
		m.noteStateOffsets(id, t)
		delete(m.pending, id)
		m.tasks[id] = t
	}
	return nil
}

// reopenEmpty closes a task, deletes its state directory and opens it anew, empty.
// REQUIRES: mu.
func (m *membership) reopenEmpty(id processor.TaskID, t *task.Task) (*task.Task, error) {
	if err := t.Close(false); err != nil {
		m.log.Warn("closing a task with damaged state", "task", id.String(), "error", err)
	}
	if err := os.RemoveAll(m.taskDir(id)); err != nil {
		return nil, fmt.Errorf("task %s: deleting damaged state: %w", id, err)
	}
	return m.openTask(id)
}

// closeTasks closes tasks, adding their counts to the instance's totals and recording
// the state they leave for the balancer. REQUIRES: mu.
func (m *membership) closeTasks(tasks map[processor.TaskID]*task.Task, clean bool) {
	for id, t := range tasks {
		m.processed += t.Processed()
		m.processedInternal += t.ProcessedInternal()
		m.skipped += t.Skipped()
		m.dropped += t.Dropped()
		if sum, ok := m.stateOffsets.LoadAndDelete(id); ok && m.cfg.Stores.Persistent() {
			path := filepath.Join(m.taskDir(id), stateOffsetsFile)
			if err := os.WriteFile(path, strconv.AppendInt(nil, sum.(int64), 10), 0o644); err != nil {
				m.log.Warn("recording a closed task's state offsets", "task", id.String(), "error", err)
			}
		}
		if err := t.Close(clean); err != nil {
			m.log.Error("closing task", "task", id.String(), "error", err)
		}
	}
}

// noteStateOffsets records the sum of the changelog offsets a task's stores committed,
// for the balancer. REQUIRES: mu.
func (m *membership) noteStateOffsets(id processor.TaskID, t *task.Task) {
	offsets, err := t.CommittedChangelogOffsets()
	if err != nil {
		return
	}
	var sum int64
	for _, o := range offsets {
		sum += o
	}
	m.stateOffsets.Store(id, sum)
}
