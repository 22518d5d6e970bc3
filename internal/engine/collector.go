package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collector produces what tasks write, sink records and changelog records alike, through
// the instance's client. It keeps the first produce error, which fails the next commit,
// and the offset after the newest acknowledged record of every partition it wrote, which
// becomes the checkpoint of changelog partitions. Kafka Streams: RecordCollectorImpl.
//
// Produce failures of sink records (output and repartition topics) go to the production
// error handler at the next flush, on the flushing goroutine (see flush): at
// least once only; never those of changelog or dead-letter records, nor errors that
// mean the producer was fenced or is not authorized.
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

	// handled says which topics' produce failures the production handler decides on; nil
	// under exactly-once, where every produce failure fails.
	handled map[string]bool
	policy  task.ErrorPolicy
	log     *slog.Logger

	mu       sync.Mutex
	firstErr error
	// failed holds the produce failures of handled topics since the last flush.
	failed []failedProduce
	// keyless spreads records without a key over partitions, round robin per topic.
	keyless map[string]int32
}

type failedProduce struct {
	r   *kgo.Record
	err error
}

type topicPartition struct {
	topic     string
	partition int32
}

// compareTopicPartitions orders by topic, then partition.
func compareTopicPartitions(a, b topicPartition) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// newCollector makes the collector of client, which may write the topics of partitions.
// handled are the topics whose produce failures policy.Production decides on (nil: none).
func newCollector(client *kgo.Client, partitions map[string]int32, handled map[string]bool, policy task.ErrorPolicy, log *slog.Logger) *collector {
	c := &collector{
		client:     client,
		partitions: partitions,
		next:       make(map[string][]atomic.Int64, len(partitions)),
		keyless:    map[string]int32{},
		handled:    handled,
		policy:     policy,
		log:        log,
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
		if c.handled[r.Topic] && !fatalProduceError(err) {
			c.mu.Lock()
			c.failed = append(c.failed, failedProduce{r, err})
			c.mu.Unlock()
			return
		}
		c.fail(&processor.ProductionError{Topic: r.Topic, Partition: r.Partition, Input: processor.RecordMetadata{Partition: -1, Offset: -1}, Err: err})
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

// flush waits until every record sent so far is acknowledged or failed, has the
// production handler decide on the failures it may continue past, and returns the first
// failure since the collector started that was not continued past: after one, nothing
// it acknowledged later may be committed.
func (c *collector) flush(ctx context.Context) error {
	if err := c.client.Flush(ctx); err != nil {
		return fmt.Errorf("flushing the producer: %w", err)
	}
	c.mu.Lock()
	failed := c.failed
	c.failed = nil
	c.mu.Unlock()
	for _, f := range failed {
		perr := &processor.ProductionError{Topic: f.r.Topic, Partition: f.r.Partition, Input: processor.RecordMetadata{Partition: -1, Offset: -1}, Err: f.err}
		r := processor.FailedRecord{Topic: f.r.Topic, Partition: f.r.Partition, Offset: -1, Timestamp: f.r.Timestamp, Key: f.r.Key, Value: f.r.Value, Headers: headers(f.r.Headers), Err: perr}
		if !task.Decide(c.policy.Context, c.log, "production", c.policy.Production, r) {
			c.fail(perr)
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstErr
}

// fatalProduceError says whether err means that the producer was fenced, lost its
// identity (lostTransaction) or is not allowed to write: errors no handler may continue
// past (Kafka Streams: RecordCollectorImpl#isFatalException and the TaskMigrated ones).
func fatalProduceError(err error) bool {
	return lostTransaction(err) || isAny(err,
		kerr.TransactionalIDAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.TopicAuthorizationFailed,
		kerr.SaslAuthenticationFailed, kerr.InvalidTopicException, kerr.UnknownServerError)
}

// isAny reports whether err is any of targets (errors.Is).
func isAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
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

// handledProduceTopics are the topics whose produce failures the production handler
// decides on: the sinks' topics (output and repartition), at least once. Under
// exactly-once none: a record the broker refuses fails franz-go's transactional producer
// id (kgo's sink fails it for any batch error of a transactional client), so the
// transaction must abort and the record would fail again when processed again.
func handledProduceTopics(cfg Config) map[string]bool {
	if cfg.TransactionalID != "" {
		return nil
	}
	handled := map[string]bool{}
	for _, t := range cfg.Topology.SinkTopics() {
		handled[t] = true
	}
	return handled
}
