package task

import (
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
)

// Input is one record read from Kafka, before deserialization. Add keeps nothing of the
// slice of Inputs it is given; the engine hands over Key, Value and Headers and does not
// reuse them (the queued record keeps Headers until it is processed).
type Input struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
	Headers   []processor.Header
}

// queued is a deserialized record waiting in its partition's queue.
type queued struct {
	record plan.Record
	meta   processor.RecordMetadata
	source *plan.Source
	queue  *queue
}

// queue holds the fetched but unprocessed records of one input partition.
type queue struct {
	topic     string
	partition int32
	records   []queued
	head      int
	// emptySince is when the queue last ran out of records, in a group that waits.
	emptySince time.Time
	// consumed is the offset after the last record processed or skipped since the task
	// started or was rewound; 0 if none.
	consumed int64
	// skippedTo is the offset after the last undecodable record skipped while records
	// before it were still queued: consumed may pass it only once they are processed.
	skippedTo int64
}

func (q *queue) len() int { return len(q.records) - q.head }

func (q *queue) push(r queued) {
	if q.head > 0 && q.head == len(q.records) {
		q.records, q.head = q.records[:0], 0
	}
	q.records = append(q.records, r)
}

func (q *queue) pop(now time.Time) queued {
	r := q.records[q.head]
	q.records[q.head] = queued{} // drop references for the garbage collector
	q.head++
	if q.len() == 0 {
		q.emptySince = now
	}
	return r
}

// partitionGroup orders a task's records across its input partitions: the next record is
// the one with the lowest event time among the partitions' heads, so that records are
// processed close to event-time order whatever order they were fetched in. Ties go to the
// partition listed first, so the order is deterministic. Kafka Streams: PartitionGroup.
type partitionGroup struct {
	queues []*queue
	// maxIdle is how long the group waits for an empty partition before processing the
	// others without it. Kafka Streams: max.task.idle.ms.
	maxIdle time.Duration
}

func newPartitionGroup(topics []string, partition int32, maxIdle time.Duration, now time.Time) *partitionGroup {
	g := &partitionGroup{maxIdle: maxIdle}
	for _, t := range topics {
		g.queues = append(g.queues, &queue{topic: t, partition: partition, emptySince: now})
	}
	return g
}

func (g *partitionGroup) queue(topic string) *queue {
	for _, q := range g.queues {
		if q.topic == topic {
			return q
		}
	}
	return nil
}

func (g *partitionGroup) buffered() int {
	n := 0
	for _, q := range g.queues {
		n += q.len()
	}
	return n
}

// waits reports whether the group may wait for an empty partition, and so reads the
// time given to next.
func (g *partitionGroup) waits() bool { return g.maxIdle > 0 && len(g.queues) > 1 }

// next removes and returns the record to process now; false when there is none, or when
// the group waits for an empty partition to receive records. now is the wall clock; a
// group that never waits ignores it.
func (g *partitionGroup) next(now time.Time) (queued, bool) {
	var best *queue
	for _, q := range g.queues {
		if q.len() == 0 {
			if g.waits() && now.Sub(q.emptySince) < g.maxIdle {
				return queued{}, false
			}
			continue
		}
		if best == nil || q.records[q.head].record.Timestamp.Before(best.records[best.head].record.Timestamp) {
			best = q
		}
	}
	if best == nil {
		return queued{}, false
	}
	return best.pop(now), true
}
