package changelog

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TransactionWait watches a read to the end of a log: for the time a read_committed read
// spends waiting at a last stable offset (Stalled), and for the time any read brings
// nothing (Silent). A read_committed consumer gets nothing past the first offset of the
// oldest transaction still open, so a read to the high watermark waits there until that
// transaction ends. The reader calls Progressed after every poll that brought records,
// and Stalled (read_committed) and Silent after every poll that brought nothing.
//
// A TransactionWait is used by one goroutine.
type TransactionWait struct {
	admin *kadm.Client
	max   time.Duration
	log   *slog.Logger
	// since is when the read began waiting for a transaction; zero while it does not.
	// waited is how much of the wait counts against max (the cluster answered), and
	// lastCheck when Stalled last heard the cluster's answer during it.
	since, lastCheck time.Time
	waited           time.Duration
	// silence is how long the read may bring nothing before Silent warns; lastProgress
	// is when it last brought records (or began), lastWarning when Silent last warned.
	silence                   time.Duration
	lastProgress, lastWarning time.Time
}

// NewTransactionWait returns a TransactionWait that lists last stable offsets with
// admin, allows waits of up to max (DefaultTransactionWait when max is not positive),
// and logs the waits to logger (nil discards).
func NewTransactionWait(admin *kadm.Client, max time.Duration, logger *slog.Logger) *TransactionWait {
	if max <= 0 {
		max = DefaultTransactionWait
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	return &TransactionWait{admin: admin, max: max, log: logger, silence: DefaultSilenceWarning, lastProgress: now, lastWarning: now}
}

// DefaultSilenceWarning is how long a read to the end of a log may bring nothing, while
// it does not wait for a transaction, before Silent warns (Restorer.SilenceWarning).
const DefaultSilenceWarning = 30 * time.Second

// WarnAfter sets how long a read may bring nothing before Silent warns; a value that
// is not positive keeps DefaultSilenceWarning. It returns w.
func (w *TransactionWait) WarnAfter(silence time.Duration) *TransactionWait {
	if silence > 0 {
		w.silence = silence
	}
	return w
}

// Silent is called after a poll that brought nothing while the read is below its end.
// Unless the read waits for a transaction (which Stalled logs), it logs a warning with
// attrs once the read has brought nothing for the silence bound, and again after each
// such span: the client retries what the cluster refuses (a partition without a leader,
// a broker down) without surfacing it, and whoever waits for the read would otherwise
// wait without a word. Kafka Streams has no bound either; it logs its restore progress.
func (w *TransactionWait) Silent(attrs ...any) {
	if !w.since.IsZero() || time.Since(w.lastProgress) < w.silence || time.Since(w.lastWarning) < w.silence {
		return
	}
	w.lastWarning = time.Now()
	w.log.Warn("reading to the end of a log has read nothing for a while, and whoever waits for it waits (is the partition's leader reachable?)",
		append(attrs, "silent_for", time.Since(w.lastProgress).Round(time.Second))...)
}

// answeredGap is the longest span between two of a wait's checks that counts against
// its bound. Checks come every StallCheckInterval or so while the cluster answers; a
// longer span means it did not (frozen, down, recovering), and a broker that does not
// run does not abort timed-out transactions either: the span is not counted.
const answeredGap = 3 * StallCheckInterval

// Stalled is called after a poll that brought nothing, with the position (the next
// offset to read) of every partition that has not reached its end yet. It lists their
// last stable offsets: when some partition's position has reached its own, the read
// waits for a transaction. It logs when such a wait begins and returns
// ErrTransactionOpen once the wait has lasted longer than the bound, counting only the
// time during which the cluster answered (answeredGap): a broker frozen or down past
// the bound would otherwise fail a restore that its timed-out transactions hold up
// only because the broker has not run to abort them. A read whose positions are all
// below their last stable offsets waits for the broker, not for a transaction, and is
// not bounded here.
func (w *TransactionWait) Stalled(ctx context.Context, positions kadm.Offsets) error {
	topics := positions.TopicsSet().Topics()
	stable, err := ListOffsets(ctx, w.admin.ListCommittedOffsets, topics)
	if err != nil {
		return fmt.Errorf("changelog: listing last stable offsets: %w", err)
	}
	var blocked *kadm.ListedOffset
	for _, o := range positions.Sorted() {
		if lso, ok := stable.Lookup(o.Topic, o.Partition); ok && o.At >= lso.Offset {
			blocked = &lso
			break
		}
	}
	if blocked == nil {
		w.since = time.Time{}
		return nil
	}
	now := time.Now()
	if w.since.IsZero() {
		w.since, w.lastCheck, w.waited = now, now, 0
		w.log.Info("waiting for a transaction open below the end of the log to end",
			"topic", blocked.Topic, "partition", blocked.Partition, "last_stable_offset", blocked.Offset, "max_wait", w.max)
		return nil
	}
	if gap := now.Sub(w.lastCheck); gap <= answeredGap {
		w.waited += gap
	}
	w.lastCheck = now
	if w.waited > w.max {
		return fmt.Errorf("%w: %s partition %d has stayed at its last stable offset %d for %s, %s of it with the cluster answering; a transaction open past its timeout needs an operator (kafka-transactions.sh find-hanging, then abort)",
			ErrTransactionOpen, blocked.Topic, blocked.Partition, blocked.Offset, now.Sub(w.since).Round(time.Millisecond), w.waited.Round(time.Millisecond))
	}
	return nil
}

// Progressed is called after a poll that brought records; it logs the end of a wait.
func (w *TransactionWait) Progressed() {
	w.lastProgress = time.Now()
	if w.since.IsZero() {
		return
	}
	w.log.Info("the open transaction ended; reading on", "waited", time.Since(w.since).Round(time.Millisecond))
	w.since = time.Time{}
}

// StallCheckInterval is how long a read to the end of a log polls before it checks
// whether it waits for a transaction (TransactionWait.Stalled).
const StallCheckInterval = time.Second
