package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddy-streams/eddy/store"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RestoreListener hears the progress of restoration; eddy.RestoreListener, the type users
// implement, documents it and has the same methods.
type RestoreListener interface {
	// OnRestoreStart is called before the first record of a store partition is restored,
	// with the offsets it restores from (included) and to (excluded).
	OnRestoreStart(topic string, partition int32, storeName string, start, end int64)
	// OnBatchRestored is called after each batch is written and committed locally, with
	// the offset after the batch's last record.
	OnBatchRestored(topic string, partition int32, storeName string, batchEnd int64, records int)
	// OnRestoreEnd is called once the store partition has caught up with its changelog.
	OnRestoreEnd(topic string, partition int32, storeName string, total int64, took time.Duration)
}

// Target is one store to bring up to date with its changelog partition.
type Target struct {
	Store     string
	Topic     string
	Partition int32
	// KV is the store itself, without changelog logging.
	KV store.KeyValueStore
	// DB is the task database that holds KV; restored batches are committed through it
	// with their changelog offsets.
	DB store.TaskDB
}

// Restorer reads changelogs into stores. Kafka Streams: StoreChangelogReader.
type Restorer struct {
	// Admin lists the changelogs' start and end offsets.
	Admin *kadm.Client
	// NewConsumer returns a consumer, not a group member, that reads the given
	// partitions from the given offsets with the given options; the Restorer closes it.
	NewConsumer func(partitions map[string]map[int32]kgo.Offset, opts ...kgo.Opt) (*kgo.Client, error)
	// ReadCommitted restores only committed data (exactly-once). The restore still ends at
	// the end of the log, never at a last stable offset that an open transaction pins:
	// see Restore.
	ReadCommitted bool
	// TransactionWait bounds how long a read_committed restore waits, with nothing left
	// to read, for transactions open below the end of a changelog partition to end; past
	// it, Restore fails with ErrTransactionOpen. Default DefaultTransactionWait.
	TransactionWait time.Duration
	// BatchRecords is how many records are written between local commits. Default 10,000.
	BatchRecords int
	// SilenceWarning is how long a restore may read nothing, while it is below its end
	// and not waiting for a transaction, before it logs a warning, and again after each
	// such span (TransactionWait.Silent). Default DefaultSilenceWarning, 30 s.
	SilenceWarning time.Duration
	Listener       RestoreListener
	// Logger says when a store restores from scratch, and why. Nil discards.
	Logger *slog.Logger
}

// ErrTransactionOpen says that a read_committed read to the end of a log waited longer
// than its bound for a transaction open below that end to end.
var ErrTransactionOpen = errors.New("changelog: a transaction stays open below the end of the log")

// DefaultTransactionWait is the default of Restorer.TransactionWait: Eddy's transaction
// timeout (10 s), plus the interval at which a broker looks for timed-out transactions
// to abort (Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s by
// default), plus 10 s of slack: a transaction of a crashed or stalled instance of the
// same application has ended by then.
const DefaultTransactionWait = 30 * time.Second

// Restore brings every target up to the end (the high watermark) its changelog
// partition had when Restore started, reading from the offset its task database
// committed. A target whose committed offset is gone from the log (compacted or deleted
// away) or beyond its end is wiped and restored from the start of the log.
//
// Under ReadCommitted the end is the same: a read_committed consumer gets no record past
// the last stable offset, so the restore waits there until every transaction open below
// the end has ended, bounded by TransactionWait. It never stops at the last stable
// offset instead: a transaction that a stalled former owner of the task left open pins
// it below records that later owners committed, and restoring only up to it would lose
// them (their input offsets are committed, so nothing would redo them).
func (r *Restorer) Restore(ctx context.Context, targets []Target) error {
	if len(targets) == 0 {
		return nil
	}
	topics := make([]string, 0, len(targets))
	for _, t := range targets {
		topics = append(topics, t.Topic)
	}
	starts, err := ListOffsets(ctx, r.Admin.ListStartOffsets, topics)
	if err != nil {
		return fmt.Errorf("changelog: listing start offsets: %w", err)
	}
	ends, err := ListOffsets(ctx, r.Admin.ListEndOffsets, topics)
	if err != nil {
		return fmt.Errorf("changelog: listing end offsets: %w", err)
	}

	for _, t := range targets {
		start, ok1 := starts.Lookup(t.Topic, t.Partition)
		end, ok2 := ends.Lookup(t.Topic, t.Partition)
		if !ok1 || !ok2 {
			return fmt.Errorf("changelog: %s partition %d is not in the cluster's metadata", t.Topic, t.Partition)
		}
		if err := r.restoreOne(ctx, t, start.Offset, end.Offset); err != nil {
			return err
		}
	}
	return nil
}

// listRetryFor bounds how long listOffsets retries retriable errors.
const listRetryFor = 30 * time.Second

// ListOffsets lists the offsets of topics with list (a kadm.Client's ListStartOffsets,
// ListEndOffsets or ListCommittedOffsets), retrying while the cluster answers with a
// retriable error, such as a partition without a leader just after a broker came back
// from an outage, for up to 30 s or until ctx ends. The engine's global stores use it
// too.
func ListOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topics []string) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(listRetryFor)
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		offsets, err := list(ctx, topics...)
		if err == nil {
			err = offsets.Error()
		}
		if err == nil || !kerr.IsRetriable(err) || time.Now().Add(backoff).After(deadline) {
			return offsets, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

func (r *Restorer) restoreOne(ctx context.Context, t Target, logStart, end int64) error {
	committed, err := t.DB.CommittedOffsets()
	if err != nil {
		return fmt.Errorf("changelog: store %q: %w", t.Store, err)
	}
	from, checkpointed := committed[t.Store]
	if !checkpointed {
		from = logStart
	}
	if from < logStart || from > end {
		// The log no longer holds what lies between the local state and the log's
		// start, or the local state claims more than the log has (the topic was
		// recreated): the local state cannot be trusted.
		r.logger().Warn("wiping a store and restoring it from scratch: its checkpoint is outside the changelog",
			"store", t.Store, "topic", t.Topic, "partition", t.Partition, "checkpoint", from, "log_start", logStart, "log_end", end)
		if err := wipe(t); err != nil {
			return err
		}
		from = logStart
	}
	if from >= end {
		return nil
	}
	if !checkpointed {
		r.logger().Info("restoring a store from scratch: no local checkpoint", "store", t.Store, "topic", t.Topic, "partition", t.Partition, "records", end-from)
	}

	began := time.Now()
	if r.Listener != nil {
		r.Listener.OnRestoreStart(t.Topic, t.Partition, t.Store, from, end)
	}
	// Control records (transaction markers) come back too: under read_committed the last
	// offsets before the end may be markers only, and reading up to the end needs to see
	// them.
	opts := []kgo.Opt{kgo.KeepControlRecords()}
	if r.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	consumer, err := r.NewConsumer(map[string]map[int32]kgo.Offset{t.Topic: {t.Partition: kgo.NewOffset().At(from)}}, opts...)
	if err != nil {
		return fmt.Errorf("changelog: restore consumer: %w", err)
	}
	defer consumer.Close()

	batchSize := r.BatchRecords
	if batchSize <= 0 {
		batchSize = 10_000
	}
	var total int64
	next, pending := from, 0
	commit := func() error {
		if err := t.DB.Commit(map[string]int64{t.Store: next}); err != nil {
			return fmt.Errorf("changelog: store %q: committing restored records: %w", t.Store, err)
		}
		if r.Listener != nil {
			r.Listener.OnBatchRestored(t.Topic, t.Partition, t.Store, next, pending)
		}
		total += int64(pending)
		pending = 0
		return nil
	}
	wait := NewTransactionWait(r.Admin, r.TransactionWait, r.logger().With("store", t.Store)).WarnAfter(r.SilenceWarning)
	for next < end {
		// Polls are bounded so that a read_committed restore notices when it waits at
		// the last stable offset for a transaction (Restore).
		pollCtx, cancel := context.WithTimeout(ctx, StallCheckInterval)
		fetches := consumer.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("changelog: restoring store %q: %w", t.Store, err)
		}
		if err := fetchError(fetches); err != nil {
			return fmt.Errorf("changelog: restoring store %q from %s partition %d: %w", t.Store, t.Topic, t.Partition, err)
		}
		before := next
		for _, rec := range fetches.Records() {
			if rec.Offset >= end {
				// Every offset below end came back, or was filtered out as aborted.
				next = end
				break
			}
			if rec.Attrs.IsControl() {
				next = rec.Offset + 1
				continue
			}
			if rec.Value == nil {
				err = t.KV.Delete(rec.Key)
			} else {
				err = t.KV.Put(rec.Key, rec.Value)
			}
			if err != nil {
				return fmt.Errorf("changelog: store %q: writing offset %d: %w", t.Store, rec.Offset, err)
			}
			next = rec.Offset + 1
			if pending++; pending >= batchSize {
				if err := commit(); err != nil {
					return err
				}
			}
		}
		if next > before {
			wait.Progressed()
			continue
		}
		// Nothing came, and next is still below end.
		if r.ReadCommitted {
			position := kadm.Offsets{}
			position.Add(kadm.Offset{Topic: t.Topic, Partition: t.Partition, At: next})
			if err := wait.Stalled(ctx, position); err != nil {
				return fmt.Errorf("changelog: restoring store %q: %w", t.Store, err)
			}
		}
		wait.Silent("topic", t.Topic, "partition", t.Partition, "position", next, "end", end)
	}
	if err := commit(); err != nil {
		return err
	}
	if r.Listener != nil {
		r.Listener.OnRestoreEnd(t.Topic, t.Partition, t.Store, total, time.Since(began))
	}
	return nil
}

// fetchError returns the first error of fetches that is not the end of a poll's own
// deadline.
func fetchError(fetches kgo.Fetches) error {
	var err error
	fetches.EachError(func(_ string, _ int32, e error) {
		if err == nil && !errors.Is(e, context.DeadlineExceeded) {
			err = e
		}
	})
	return err
}

func (r *Restorer) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// wipe deletes every key of a target's store and commits, so that a crash in the middle
// of the restore that follows cannot leave stale keys behind a valid offset.
func wipe(t Target) error {
	it, err := t.KV.All()
	if err != nil {
		return fmt.Errorf("changelog: wiping store %q: %w", t.Store, err)
	}
	var keys [][]byte
	for it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	err = errors.Join(it.Err(), it.Close())
	for _, k := range keys {
		if err != nil {
			break
		}
		err = t.KV.Delete(k)
	}
	if err == nil {
		err = t.DB.Commit(map[string]int64{t.Store: 0})
	}
	if err != nil {
		return fmt.Errorf("changelog: wiping store %q: %w", t.Store, err)
	}
	return nil
}
