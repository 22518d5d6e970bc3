package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The broker can lose the markers of a transaction. Kafka's transaction coordinator
// skips a partition that has no leader when it ends a transaction, taking it for a
// deleted one (TransactionMarkerChannelManager.addTxnMarkersToBrokerQueue, Kafka 4.4:
// "these partitions are likely deleted already and hence can be skipped"). A broker
// that wakes from a freeze longer than its broker.session.timeout.ms is fenced by the
// controller, and a partition with no other replica has no leader for a moment, just
// when the coordinator aborts the transactions that timed out during the freeze. The
// records of such a transaction stay open on that partition: read_committed readers
// stop there (a hanging transaction), and the producer's next commit marker on the
// partition commits them, copies of records processed again (TestBrokerFreezesExactlyOnce
// found both on a one-node cluster).
//
// So under exactly-once every membership, once its producer id is initialized (which
// ends whatever transaction the transactional id left open), looks for transactions of
// that producer id still open on the partitions the application reads and writes. None
// can be open legitimately, and the membership's first commit on such a partition would
// adopt the records. It aborts each with an abort marker, as kafka-transactions.sh abort
// does (KIP-664), which needs the CLUSTER_ACTION permission; without it Run fails, saying
// what to run. A membership that aborts a transaction itself and goes on looks the same
// way once the coordinator has completed the abort (lookAfterAbort).

// abortLostTransactions aborts the transactions of producerID that are open on the
// partitions of topics (partition counts by topic), which the broker left without
// markers. Failing to look is logged, as the look is a defence against a broker bug;
// failing to abort one that it found is an error.
func (m *membership) abortLostTransactions(ctx context.Context, producerID int64, topics map[string]int32) error {
	partitions := kadm.TopicsSet{}
	for topic, n := range topics {
		for p := range n {
			partitions.Add(topic, p)
		}
	}
	described, err := m.admin.DescribeProducers(ctx, partitions)
	if err != nil {
		m.log.Warn("could not look for transactions the broker left open (describing producers)", "error", err)
		return nil
	}
	// One marker per epoch and coordinator epoch: a partition's marker must carry the
	// producer epoch and coordinator epoch the partition last saw of the producer.
	type markerKey struct {
		epoch            int16
		coordinatorEpoch int32
	}
	open := map[markerKey]kadm.TopicsSet{}
	var found []string
	described.EachProducer(func(p kadm.DescribedProducer) {
		if p.ProducerID != producerID || p.CurrentTxnStartOffset < 0 {
			return
		}
		k := markerKey{p.ProducerEpoch, p.CoordinatorEpoch}
		set := open[k]
		set.Add(p.Topic, p.Partition)
		open[k] = set
		found = append(found, fmt.Sprintf("%s partition %d since offset %d (epoch %d)", p.Topic, p.Partition, p.CurrentTxnStartOffset, p.ProducerEpoch))
	})
	if len(found) == 0 {
		return nil
	}
	slices.Sort(found)
	m.log.Warn("the broker left transactions of this instance open without their markers; aborting them", "producer_id", producerID, "partitions", found)
	var markers []kadm.TxnMarkers
	byEpochs := func(a, b markerKey) int {
		return cmp.Or(cmp.Compare(a.epoch, b.epoch), cmp.Compare(a.coordinatorEpoch, b.coordinatorEpoch))
	}
	for _, k := range slices.SortedFunc(maps.Keys(open), byEpochs) {
		markers = append(markers, kadm.TxnMarkers{ProducerID: producerID, ProducerEpoch: k.epoch, CoordinatorEpoch: k.coordinatorEpoch, Topics: open[k]})
	}
	resp, err := m.admin.WriteTxnMarkers(ctx, markers...)
	resp.EachPartition(func(p kadm.TxnMarkersPartitionResponse) {
		if p.Err != nil {
			err = errors.Join(err, fmt.Errorf("%s partition %d: %w", p.Topic, p.Partition, p.Err))
		}
	})
	if err != nil {
		return fmt.Errorf("the broker left transactions of producer id %d open without their markers (a Kafka bug: a partition without a leader when the transaction ended), and aborting them failed: %w; abort each with kafka-transactions.sh abort --topic T --partition P --start-offset O, then start the application again: %s",
			producerID, err, strings.Join(found, ", "))
	}
	return nil
}

// lookAfterAbort looks for transactions of the membership's producer that the broker
// left open, as abortLostTransactions does, after the membership aborted one and before
// it writes again: once the coordinator has completed that abort, whose markers it
// writes after answering EndTxn, so that none still on their way is taken for lost.
// Failing to learn the coordinator's state is logged, as failing to look is.
// REQUIRES: mu.
func (m *membership) lookAfterAbort(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, transactionTimeout)
	defer cancel()
	for {
		described, err := m.admin.DescribeTransactions(ctx, m.cfg.TransactionalID)
		if err == nil {
			err = described[m.cfg.TransactionalID].Err
		}
		if err != nil {
			m.log.Warn("could not look for transactions the broker left open (describing the transaction)", "error", err)
			return nil
		}
		if state := described[m.cfg.TransactionalID].State; !strings.HasPrefix(state, "Prepare") {
			break
		}
		select {
		case <-ctx.Done():
			m.log.Warn("could not look for transactions the broker left open: the abort is not complete", "error", ctx.Err())
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	id, _, err := m.client.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("%w: the producer id after an abort: %w", errTasksMigrated, err)
	}
	return m.abortLostTransactions(ctx, id, m.collector.partitions)
}
