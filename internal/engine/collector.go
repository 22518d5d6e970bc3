package engine

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collector produces what tasks write, sink records and changelog records alike, through
// the instance's client. It keeps the first produce error, which fails the next commit,
// and the offset after the newest acknowledged record of every partition it wrote, which
// becomes the checkpoint of changelog partitions. Kafka Streams: RecordCollectorImpl.
type collector struct {
	client *kgo.Client
	// partitions are the partition counts of every topic tasks may write, known at
	// start-up.
	partitions map[string]int32
	// next holds, per topic of partitions and per partition, the offset after the
	// newest acknowledged record, 0 before the first. The map does not change after
	// start-up; the client calls its promises one at a time, the only writer.
	next map[string][]atomic.Int64
	// promise is acked, made once: a method value given to Produce would be allocated
	// for every record.
	promise func(*kgo.Record, error)

	mu       sync.Mutex
	firstErr error
	// keyless spreads records without a key over partitions, round robin per topic.
	keyless map[string]int32
}

type topicPartition struct {
	topic     string
	partition int32
}

// compareTopicPartitions orders by topic, then partition.
func compareTopicPartitions(a, b topicPartition) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

func newCollector(client *kgo.Client, partitions map[string]int32) *collector {
	c := &collector{
		client:     client,
		partitions: partitions,
		next:       make(map[string][]atomic.Int64, len(partitions)),
		keyless:    map[string]int32{},
	}
	for topic, n := range partitions {
		c.next[topic] = make([]atomic.Int64, n)
	}
	c.promise = c.acked
	return c
}

func (c *collector) Partitions(topic string) (int32, error) {
	n, ok := c.partitions[topic]
	if !ok {
		return 0, fmt.Errorf("topic %q is not known to the application", topic)
	}
	return n, nil
}

func (c *collector) Send(topic string, partition int32, key, value []byte, ts time.Time, headers []processor.Header) {
	if partition < 0 {
		n, err := c.Partitions(topic)
		if err != nil {
			c.fail(err)
			return
		}
		if key != nil {
			partition = keyPartition(key, n)
		} else {
			c.mu.Lock()
			partition = c.keyless[topic] % n
			c.keyless[topic]++
			c.mu.Unlock()
		}
	}
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: ts}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	c.client.Produce(context.Background(), r, c.promise)
}

func (c *collector) acked(r *kgo.Record, err error) {
	if err != nil {
		c.fail(fmt.Errorf("producing to %s partition %d: %w", r.Topic, r.Partition, err))
		return
	}
	if next := c.next[r.Topic]; r.Partition >= 0 && int(r.Partition) < len(next) && r.Offset+1 > next[r.Partition].Load() {
		next[r.Partition].Store(r.Offset + 1)
	}
}

func (c *collector) fail(err error) {
	c.mu.Lock()
	if c.firstErr == nil {
		c.firstErr = err
	}
	c.mu.Unlock()
}

// flush waits until every record sent so far is acknowledged or failed, and returns the
// first failure since the collector started: after one, nothing it acknowledged later
// may be committed.
func (c *collector) flush(ctx context.Context) error {
	if err := c.client.Flush(ctx); err != nil {
		return fmt.Errorf("flushing the producer: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstErr
}

// nextOffset is the offset after the newest record acknowledged on a partition, if any.
func (c *collector) nextOffset(topic string, partition int32) (int64, bool) {
	next := c.next[topic]
	if partition < 0 || int(partition) >= len(next) {
		return 0, false
	}
	n := next[partition].Load()
	return n, n > 0
}

// reset forgets the first produce error, after an aborted transaction discarded every
// record it was about.
func (c *collector) reset() {
	c.mu.Lock()
	c.firstErr = nil
	c.mu.Unlock()
}
