package engine

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Task idling (Kafka Streams' max.task.idle.ms, KIP-353 and KIP-695): a task with several
// input partitions lets none of them run ahead while another is empty but not known to
// be caught up, so that the order in which a backlog is processed does not depend on
// which partition a poll happened to hand over first. The task decides
// (internal/task's partitionGroup); the engine tells it what only the client sees:
//
//   - where the consumer starts each partition: resetOffsets turns every offset of an
//     assignment into an exact one and records it (idling.starts), and step hands it to
//     the task (Task.SetPosition);
//   - where each partition ends: step passes on the high watermark (the last stable
//     offset under exactly-once) of every fetch that hands over records, and learnEnds
//     lists the ends of the partitions a task waits for without knowing their end. The
//     Java consumer learns these from every fetch response, empty ones included;
//     franz-go does not hand over a partition that returned nothing, hence the listing;
//   - when records below a partition's end will never come (compaction or retention
//     removed them after the end was learned): a wait that has not changed for
//     Config.FetchStallTimeout lists the end again, and if it has not moved, the task treats
//     the partition as caught up.
//
// Transaction markers reach the tasks as control records (kgo.KeepControlRecords), so
// that a task's position, and the offsets it commits, step over them as the Java
// consumer's position does.

// DefaultFetchStallTimeout is Config.FetchStallTimeout's default. Records that exist come
// within a fetch or two (each waits at most kgo.FetchMaxWait, 500 ms).
const DefaultFetchStallTimeout = 10 * time.Second

// endListInterval bounds how often learnEnds lists end offsets.
const endListInterval = 200 * time.Millisecond

// endListTimeout bounds one listing, which the loop waits for.
const endListTimeout = 5 * time.Second

// idling is what the engine keeps for task idling in one membership.
type idling struct {
	// startsMu guards starts, which resetOffsets fills on the client's group goroutine
	// and step drains.
	startsMu sync.Mutex
	starts   map[topicPartition]int64

	// waits are the empty partitions that keep tasks from processing, as of the last
	// step; generation tells the ones the last learnEnds saw. lastList is when it last
	// listed ends. Loop goroutine only.
	waits      map[topicPartition]partitionWait
	generation uint64
	lastList   time.Time
}

// partitionWait is a task's wait for one of its empty input partitions.
type partitionWait struct {
	task          processor.TaskID
	position, end int64
	// since is when the task began waiting with this position and end.
	since      time.Time
	generation uint64
}

// recordStarts resolves the offsets of an assignment that are not exact (the start or
// the end of a partition without a committed offset) by listing them, replaces them
// with the exact offsets, so that the client starts where the tasks are told it does,
// and records every start for the tasks. A listing that fails leaves those offsets as
// they are and their starts unknown: their tasks wait Config.FetchStallTimeout for them.
func (m *membership) recordStarts(ctx context.Context, offsets map[string]map[int32]kgo.Offset) {
	starts := map[topicPartition]int64{}
	var atStart, atEnd []string
	for topic, partitions := range offsets {
		for p, o := range partitions {
			switch at := o.EpochOffset().Offset; {
			case at >= 0:
				starts[topicPartition{topic, p}] = at
			case o == kgo.NewOffset().AtStart():
				atStart = append(atStart, topic)
			case o == kgo.NewOffset().AtEnd():
				atEnd = append(atEnd, topic)
			}
		}
	}
	resolve := func(topics []string, list func(context.Context, ...string) (kadm.ListedOffsets, error), want kgo.Offset) {
		if len(topics) == 0 {
			return
		}
		listed, err := changelog.ListOffsets(ctx, list, slices.Compact(slices.Sorted(slices.Values(topics))))
		if err != nil {
			m.log.Warn("listing where newly assigned input partitions start; tasks with several inputs may wait for them", "error", err)
			return
		}
		listed.Each(func(l kadm.ListedOffset) {
			if o, ok := offsets[l.Topic][l.Partition]; ok && o == want {
				offsets[l.Topic][l.Partition] = kgo.NewOffset().At(l.Offset)
				starts[topicPartition{l.Topic, l.Partition}] = l.Offset
			}
		})
	}
	resolve(atStart, m.admin.ListStartOffsets, kgo.NewOffset().AtStart())
	resolve(atEnd, m.listEnds(), kgo.NewOffset().AtEnd())
	m.idle.startsMu.Lock()
	defer m.idle.startsMu.Unlock()
	if m.idle.starts == nil {
		m.idle.starts = starts
	} else {
		maps.Copy(m.idle.starts, starts)
	}
}

// listEnds is the listing of partition ends that matches what the consumer reads: last
// stable offsets for the read_committed consumer of exactly-once, high watermarks
// otherwise.
func (m *membership) listEnds() func(context.Context, ...string) (kadm.ListedOffsets, error) {
	if m.txn != nil {
		return m.admin.ListCommittedOffsets
	}
	return m.admin.ListEndOffsets
}

// applyStarts hands the starts that resetOffsets recorded to the tasks. REQUIRES: mu.
func (m *membership) applyStarts() {
	m.idle.startsMu.Lock()
	starts := m.idle.starts
	m.idle.starts = nil
	m.idle.startsMu.Unlock()
	for tp, at := range starts {
		id, ok := m.taskOf(tp.topic, tp.partition)
		if !ok {
			continue
		}
		if t := m.tasks[id]; t != nil {
			t.SetPosition(tp.topic, at)
		} else if t := m.pending[id]; t != nil {
			t.SetPosition(tp.topic, at)
		}
	}
}

// learnEnds tells the tasks what they wait for: the end of each empty input partition
// that keeps a task from processing and whose end it does not know, and, for a wait
// that has not changed for Config.FetchStallTimeout, whether the partition's end moved. It
// reports whether it told a task anything, after which the task may process.
// REQUIRES: mu.
func (m *membership) learnEnds(ctx context.Context) bool {
	idle := &m.idle
	idle.generation++
	now := time.Now()
	stall := m.cfg.FetchStallTimeout
	if stall <= 0 {
		stall = DefaultFetchStallTimeout
	}
	for id, t := range m.tasks {
		t.EachBlocking(func(topic string, position, end int64) {
			tp := topicPartition{topic, id.Partition}
			w, ok := idle.waits[tp]
			if !ok || w.position != position || w.end != end {
				w = partitionWait{task: id, position: position, end: end, since: now}
			}
			w.generation = idle.generation
			if idle.waits == nil {
				idle.waits = map[topicPartition]partitionWait{}
			}
			idle.waits[tp] = w
		})
	}
	var topics []string
	for tp, w := range idle.waits {
		switch {
		case w.generation != idle.generation:
			delete(idle.waits, tp)
		case w.end < 0 || now.Sub(w.since) >= stall:
			topics = append(topics, tp.topic)
		}
	}
	if len(topics) == 0 || now.Sub(idle.lastList) < endListInterval {
		return false
	}
	idle.lastList = now
	ctx, cancel := context.WithTimeout(ctx, endListTimeout)
	defer cancel()
	ends, err := changelog.ListOffsets(ctx, m.listEnds(), slices.Compact(slices.Sorted(slices.Values(topics))))
	if err != nil {
		m.log.Warn("listing the ends of input partitions that tasks wait for", "error", err)
		return false
	}
	told := false
	for tp, w := range idle.waits {
		t := m.tasks[w.task]
		listed, ok := ends.Lookup(tp.topic, tp.partition)
		if t == nil || !ok {
			continue
		}
		switch {
		case w.end < 0 || listed.Offset != w.end && now.Sub(w.since) >= stall:
			t.SetEnd(tp.topic, listed.Offset)
		case now.Sub(w.since) >= stall:
			m.log.Info("no records come for an input partition below its end; the task processes its other inputs without waiting for it",
				"task", w.task.String(), "topic", tp.topic, "partition", tp.partition, "position", w.position, "end", w.end, "waited", now.Sub(w.since).Round(time.Millisecond))
			t.AssumeCaughtUp(tp.topic, listed.Offset)
		default:
			continue
		}
		told = true
	}
	return told
}
