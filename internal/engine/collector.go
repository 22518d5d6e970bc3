package engine

import (
	"context"
	"fmt"
	"sync"
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

	mu       sync.Mutex
	firstErr error
	next     map[topicPartition]int64
	// keyless spreads records without a key over partitions, round robin per topic.
	keyless map[string]int32
}

type topicPartition struct {
	topic     string
	partition int32
}

func newCollector(client *kgo.Client, partitions map[string]int32) *collector {
	return &collector{
		client:     client,
		partitions: partitions,
		next:       map[topicPartition]int64{},
		keyless:    map[string]int32{},
	}
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
	for _, h := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	c.client.Produce(context.Background(), r, c.acked)
}

func (c *collector) acked(r *kgo.Record, err error) {
	if err != nil {
		c.fail(fmt.Errorf("producing to %s partition %d: %w", r.Topic, r.Partition, err))
		return
	}
	tp := topicPartition{r.Topic, r.Partition}
	c.mu.Lock()
	if r.Offset+1 > c.next[tp] {
		c.next[tp] = r.Offset + 1
	}
	c.mu.Unlock()
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
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.next[topicPartition{topic, partition}]
	return n, ok
}

// reset forgets the first produce error, after an aborted transaction discarded every
// record it was about.
func (c *collector) reset() {
	c.mu.Lock()
	c.firstErr = nil
	c.mu.Unlock()
}
