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
	// Control marks a transaction marker: the task processes nothing of it, but its
	// offset counts as consumed once the records before it are, so that committed
	// offsets step over markers as the Java consumer's position does.
	Control bool
}

// queued is a deserialized record waiting in its partition's queue.
type queued struct {
	record plan.Record
	meta   processor.RecordMetadata
	source *plan.Source
	queue  *queue
	// raw is the record as read, for the error handlers and the dead-letter topic.
	raw rawInput
}

// rawInput is a record's bytes as read from Kafka.
type rawInput struct {
	key, value []byte
	headers    []processor.Header
	timestamp  time.Time
}

// queue holds the fetched but unprocessed records of one input partition, and what the
// task knows of the partition's log: where the consumer reads it and where it ends.
type queue struct {
	topic     string
	partition int32
	records   []queued
	head      int
	// consumed is the offset after the last record processed or skipped since the task
	// started or was rewound; 0 if none.
	consumed int64
	// skippedTo is the offset after the last record skipped (undecodable, or a
	// transaction marker) while records before it were still queued: consumed may pass
	// it only once they are processed.
	skippedTo int64

	// start is where the consumer started reading the partition (SetPosition), and
	// position the offset of the next record it will hand over: start, then the offset
	// after the last record added (data or marker). -1 while unknown.
	start, position int64
	// end is the partition's end as last learned (SetEnd): the high watermark, or the
	// last stable offset for a read_committed consumer. -1 while unknown.
	end int64
	// caughtUpSince is when the group, waiting for inputs, found the queue empty with
	// nothing left to fetch; zero otherwise. Kafka Streams: PartitionGroup's
	// idlePartitionDeadlines.
	caughtUpSince time.Time
}

func (q *queue) len() int { return len(q.records) - q.head }

func (q *queue) push(r queued) {
	if q.head > 0 && q.head == len(q.records) {
		q.records, q.head = q.records[:0], 0
	}
	q.records = append(q.records, r)
}

func (q *queue) pop() queued {
	r := q.records[q.head]
	q.records[q.head] = queued{} // drop references for the garbage collector
	q.head++
	return r
}

// skip passes over the record at offset without processing it: consumed at once when
// nothing is queued before it, else once the queued records are.
func (q *queue) skip(offset int64) {
	if q.len() == 0 {
		q.consumed = offset + 1
	} else {
		q.skippedTo = offset + 1
	}
}

// fetched notes that the consumer handed over the record at offset.
func (q *queue) fetched(offset int64) { q.position = max(q.position, offset+1) }

// caughtUp reports whether the task knows that the consumer has handed over everything
// the partition held when its end was last learned: false while its position or its end
// is unknown. Kafka Streams: a fetched lag of 0 (KIP-695).
func (q *queue) caughtUp() bool { return q.position >= 0 && q.end >= 0 && q.position >= q.end }

// partitionGroup orders a task's records across its input partitions: the next record is
// the one with the lowest event time among the partitions' heads, so that records are
// processed close to event-time order whatever order they were fetched in. Ties go to the
// partition listed first, so the order is deterministic. Kafka Streams: PartitionGroup.
//
// A group that waits (Config.IdleWait, Kafka Streams' max.task.idle.ms >= 0, KIP-695)
// processes nothing while one of its partitions is empty but not known to be caught up:
// its records are on their way, or its end is not known yet. Once it is caught up, the
// group waits maxIdle more for records before the others run ahead without it.
type partitionGroup struct {
	queues []*queue
	wait   bool
	// maxIdle is how long the group waits for a caught-up empty partition. Kafka Streams:
	// max.task.idle.ms.
	maxIdle time.Duration
}

func newPartitionGroup(topics []string, partition int32, wait bool, maxIdle time.Duration) *partitionGroup {
	g := &partitionGroup{wait: wait && len(topics) > 1, maxIdle: maxIdle}
	for _, t := range topics {
		g.queues = append(g.queues, &queue{topic: t, partition: partition, start: -1, position: -1, end: -1})
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

// next removes and returns the record to process now; false when there is none, or when
// the group waits for an empty partition. now reads the wall clock; it is called only
// while a caught-up partition's max idle runs.
func (g *partitionGroup) next(now func() time.Time) (queued, bool) {
	var best *queue
	for _, q := range g.queues {
		if q.len() > 0 {
			q.caughtUpSince = time.Time{}
			if best == nil || q.records[q.head].record.Timestamp.Before(best.records[best.head].record.Timestamp) {
				best = q
			}
			continue
		}
		if !g.wait {
			continue
		}
		if !q.caughtUp() {
			q.caughtUpSince = time.Time{}
			return queued{}, false
		}
		if g.maxIdle > 0 {
			t := now()
			if q.caughtUpSince.IsZero() {
				q.caughtUpSince = t
			}
			if t.Sub(q.caughtUpSince) < g.maxIdle {
				return queued{}, false
			}
		}
	}
	if best == nil {
		return queued{}, false
	}
	return best.pop(), true
}

// blocking calls fn with each empty partition that keeps the group from processing the
// records it holds because the partition is not known to be caught up.
func (g *partitionGroup) blocking(fn func(q *queue)) {
	if !g.wait || g.buffered() == 0 {
		return
	}
	for _, q := range g.queues {
		if q.len() == 0 {
			if !q.caughtUp() {
				fn(q)
			}
		}
	}
}
