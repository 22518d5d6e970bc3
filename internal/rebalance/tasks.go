package rebalance

import (
	"cmp"
	"slices"

	"github.com/eddy-streams/eddy/processor"
)

// TasksOf returns the tasks whose partitions assigned holds, sorted by subtopology then
// partition: task (s, p) is in the result when partition p of every source topic of
// subtopology s is in assigned. The engine calls it with what kgo reports after a sync (or
// with what ParseSyncAssignment returns). A task of which only some partitions are held is
// left out; the Balancer never assigns part of a task.
func TasksOf(assigned map[string][]int32, subtopologies map[int][]string) []processor.TaskID {
	var tasks []processor.TaskID
	for sub, topics := range subtopologies {
		if len(topics) == 0 {
			continue
		}
		// Count, per partition number, how many of the subtopology's distinct topics hold it.
		distinct := slices.Compact(slices.Sorted(slices.Values(topics)))
		held := make(map[int32]int)
		for _, topic := range distinct {
			for _, p := range slices.Compact(slices.Sorted(slices.Values(assigned[topic]))) {
				held[p]++
			}
		}
		for p, n := range held {
			if n == len(distinct) && p >= 0 {
				tasks = append(tasks, processor.TaskID{Subtopology: sub, Partition: p})
			}
		}
	}
	slices.SortFunc(tasks, compareTasks)
	return tasks
}

// compareTasks orders tasks by subtopology, then partition.
func compareTasks(a, b processor.TaskID) int {
	if c := cmp.Compare(a.Subtopology, b.Subtopology); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// tasksFor returns the tasks that exist given the partition counts of topics, sorted.
// Subtopology s has tasks 0..n-1, n the partition count of its topics. A subtopology with
// a topic missing from topics has no tasks; one whose topics disagree on the count gets
// the smallest, and the mismatch is logged as an error (the App refuses to start on it,
// so it means a topic changed under a running group).
func (b *Balancer) tasksFor(topics map[string]int32) []processor.TaskID {
	var tasks []processor.TaskID
	for _, sub := range b.subIDs {
		n, ok := b.partitionCount(sub, topics)
		for p := int32(0); ok && p < n; p++ {
			tasks = append(tasks, processor.TaskID{Subtopology: sub, Partition: p})
		}
	}
	return tasks
}

// partitionCount returns the common partition count of the source topics of sub, false
// if some topic has no partitions in topics.
func (b *Balancer) partitionCount(sub int, topics map[string]int32) (int32, bool) {
	names := b.subtopologies[sub]
	counts := make([]int32, len(names))
	for i, topic := range names {
		counts[i] = topics[topic]
		if counts[i] <= 0 {
			b.log.Warn("source topic missing from metadata; its subtopology gets no tasks",
				"subtopology", sub, "topic", topic)
			return 0, false
		}
	}
	lowest := slices.Min(counts)
	if lowest != slices.Max(counts) {
		b.log.Error("source topics of one subtopology have different partition counts; assigning only the partitions they all have",
			"subtopology", sub, "topics", names, "partitions", counts, "tasks", lowest)
	}
	return lowest, true
}
