package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A member that stalls past its session timeout (a long garbage-collection pause, CPU
// starvation, a VM migration) is put out of its group while its transaction is open.
// Until that transaction ends, it pins the last stable offset of every partition it
// wrote, and whoever restores or reads those partitions read_committed waits. So under
// exactly-once the instance gets out of the way as soon as it finds out:
//
//   - When the client wants to run a group callback (OnPartitionsCallbackBlocked), the
//     instance asks the coordinator whether it is still the member it was (outOfGroup).
//     If not, the transaction is aborted at once: the commit due aborts instead of
//     trying to commit, and an End already under way is cut short. Without this, End
//     waited out its 10 s bound: franz-go's session forces a heartbeat after its offset
//     commit, and the heartbeat loop had ended, waiting for the lost callback, which
//     the loop holds back until End returns.
//   - A membership that ends with an error starts the next one by initializing its
//     producer id, which makes the broker abort whatever transaction this instance's
//     transactional id left open (an End cut short, or one that failed).
//
// What it cannot do: a member that stays stalled (or is killed) leaves its transaction
// open until the broker aborts it, transactionTimeout after it began plus up to the
// broker's check interval (transaction.abort.timed.out.transaction.cleanup.interval.ms,
// 10 s by default). Readers wait that long, bounded by changelog.DefaultTransactionWait.

// onCallbacksBlocked is the client's OnPartitionsCallbackBlocked hook: a group callback
// waits for the loop to allow rebalances. It runs on a goroutine of its own.
func (m *membership) onCallbacksBlocked(ctx context.Context, client *kgo.Client) {
	m.callbacksWaiting.Store(true)
	if m.cfg.TransactionalID == "" || !outOfGroup(ctx, client, m.cfg.ApplicationID) {
		return
	}
	m.log.Warn("this instance was put out of its group (a stall past its session timeout?); aborting its transaction")
	m.lostMembership.Store(true)
	if cancel := m.cancelEnd.Load(); cancel != nil {
		(*cancel)()
	}
}

// outOfGroupTimeout bounds the heartbeat of outOfGroup.
const outOfGroupTimeout = 5 * time.Second

// outOfGroup reports whether the group coordinator says that the client is no longer
// the member, of the generation, that it believes it is. It sends a heartbeat as that
// member, which changes nothing for a member still in the group. A rebalance in
// progress, or an error reaching the coordinator, is not an answer: false.
func outOfGroup(ctx context.Context, client *kgo.Client, group string) bool {
	member, generation := client.GroupMetadata()
	if member == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, outOfGroupTimeout)
	defer cancel()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = group, member, generation
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return false
	}
	err = kerr.ErrorForCode(resp.ErrorCode)
	return isMembershipError(err) && !errors.Is(err, kerr.RebalanceInProgress)
}

// rejoinBackoff spaces the memberships that follow one another after errors, as the
// Java clients space retries (retry.backoff.ms 100 ms, doubling up to
// retry.backoff.max.ms 1 s, with 20% jitter): a cluster that is down is not asked
// again every few milliseconds.
type rejoinBackoff struct{ failures int }

func (b *rejoinBackoff) reset() { b.failures = 0 }

// next returns how long to wait before the next membership, and counts a failure.
func (b *rejoinBackoff) next() time.Duration {
	const initial, max = 100 * time.Millisecond, time.Second
	wait := initial << min(b.failures, 4)
	b.failures++
	return time.Duration(float64(min(wait, max)) * (0.8 + 0.4*rand.Float64()))
}
