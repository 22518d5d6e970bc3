package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// How an instance lives through a cluster that does not answer (a broker outage, a
// frozen broker, a network partition), at start and mid-run:
//
//   - Every response that any of the instance's clients reads from any broker counts as
//     an answer (clusterContact, a franz-go hook). A healthy instance hears one at least
//     every heartbeat interval (3 s): its group member heartbeats whatever the loop does.
//     Not while it joins its group, though: the coordinator holds a JoinGroup until
//     the group is complete, up to the rebalance timeout. So after probeAfter of
//     silence the watchdog asks the cluster itself, for metadata of no topic (probe).
//   - After unreachableAfter without an answer the instance reports the cluster
//     unreachable (Status.UnreachableSince; the App's state Disconnected), and back
//     when an answer comes.
//   - Meanwhile nothing fails: the clients retry, a commit waits (commitContext is
//     bounded by OutageTimeout, not by a shorter timeout of its own), start-up steps
//     are retried (untilReachable), and a membership that fails with a transient error
//     is replaced by a new one after a backoff, as one that lost its tasks is.
//   - After OutageTimeout without an answer, Run ends with ErrClusterUnavailable: the
//     watchdog cancels the run and every commit under way (abandon).
//
// Kafka Streams bounds the same with task.timeout.ms (default 5 minutes), per task.

// ErrClusterUnavailable ends Run when the cluster has not answered for OutageTimeout,
// at start or mid-run.
var ErrClusterUnavailable = errors.New("the Kafka cluster is unavailable")

// DefaultOutageTimeout is the default OutageTimeout: Kafka Streams' task.timeout.ms.
const DefaultOutageTimeout = 5 * time.Minute

// unreachableAfter is how long the cluster may stay silent before the instance reports
// it unreachable: several heartbeat intervals (3 s), and more than the fetch wait
// (500 ms), so that a healthy but quiet cluster is never reported.
const unreachableAfter = 10 * time.Second

// probeAfter is how long the cluster may be silent before the watchdog probes it, and
// probeTimeout how long a probe waits for its answer.
const (
	probeAfter   = 3 * time.Second
	probeTimeout = 5 * time.Second
)

// clusterContact records when the cluster last answered. It is a franz-go hook
// (kgo.HookBrokerE2E) on every client of the instance.
type clusterContact struct {
	// lastAnswer is the time of the last response read without error, in Unix
	// nanoseconds; the time Run started before the first.
	lastAnswer atomic.Int64
	now        func() time.Time
}

func newClusterContact(now func() time.Time) *clusterContact {
	c := &clusterContact{now: now}
	c.lastAnswer.Store(now().UnixNano())
	return c
}

// OnBrokerE2E implements kgo.HookBrokerE2E: a response read, even one that carries an
// error code, is an answer.
func (c *clusterContact) OnBrokerE2E(_ kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	if e2e.Err() == nil {
		c.lastAnswer.Store(c.now().UnixNano())
	}
}

// silentSince returns when the cluster last answered.
func (c *clusterContact) silentSince() time.Time { return time.Unix(0, c.lastAnswer.Load()) }

// watchContact reports the cluster unreachable and reachable again on the status
// board, and after OutageTimeout of silence cancels the run with ErrClusterUnavailable
// (giveUp). It checks every second until ctx ends, probing the cluster through client
// (the instance's admin client, which has the hook) when it has been silent for
// probeAfter.
func (e *Engine) watchContact(ctx context.Context, client *kgo.Client, giveUp func(error)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if e.contact.now().Sub(e.contact.silentSince()) >= probeAfter {
			probe(ctx, client)
		}
		since := e.contact.silentSince()
		silent := e.contact.now().Sub(since)
		e.status.update(func(s *Status) {
			switch {
			case silent >= unreachableAfter && s.UnreachableSince.IsZero():
				e.log.Warn("the Kafka cluster does not answer", "since", since)
				s.UnreachableSince = since
			case silent < unreachableAfter && !s.UnreachableSince.IsZero():
				e.log.Info("the Kafka cluster answers again", "after", e.contact.now().Sub(s.UnreachableSince).Round(time.Second))
				s.UnreachableSince = time.Time{}
			}
		})
		if silent >= e.cfg.OutageTimeout {
			giveUp(fmt.Errorf("%w: no broker answered for %s (OutageTimeout %s)", ErrClusterUnavailable, silent.Round(time.Second), e.cfg.OutageTimeout))
			return
		}
	}
}

// probe asks the cluster for the metadata of no topic, the cheapest request every
// broker answers; the answer reaches clusterContact through the client's hook.
func probe(ctx context.Context, client *kgo.Client) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none; nil would be every topic
	_, _ = req.RequestWith(ctx, client)        // an error is silence, which the watchdog counts
}

// isTransient reports whether err may go away when the cluster answers again: a
// network error, a request that timed out, or an error Kafka calls retriable. An
// instance retries what failed with such an error, within OutageTimeout. An error of
// a record, which its error handler decided should fail the application, is never
// transient, whatever it wraps (user code calling a service that timed out).
func isTransient(err error) bool {
	var (
		processing      *processor.ProcessingError
		deserialization *processor.DeserializationError
		production      *processor.ProductionError
		netErr          net.Error
	)
	if errors.As(err, &processing) || errors.As(err, &deserialization) || errors.As(err, &production) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) ||
		kgo.IsRetryableBrokerErr(err) || kerr.IsRetriable(err)
}

// untilReachable runs step until it succeeds, fails with an error that is not
// transient, or ctx ends. Transient errors are retried, with the backoff of
// memberships, for OutageTimeout at most; the error then wraps ErrClusterUnavailable
// and step's last error, as it does when the watchdog gives up meanwhile.
func (e *Engine) untilReachable(ctx context.Context, what string, step func(context.Context) error) error {
	var backoff rejoinBackoff
	began := e.contact.now()
	for {
		err := step(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return stopCause(ctx, err)
		case !isTransient(err):
			return err
		case e.contact.now().Sub(began) >= e.cfg.OutageTimeout:
			return fmt.Errorf("%w: %s failed for %s (OutageTimeout): %w", ErrClusterUnavailable, what, e.cfg.OutageTimeout, err)
		}
		wait := backoff.next()
		e.log.Warn("retrying: the cluster does not answer yet", "step", what, "error", err, "after", wait)
		select {
		case <-ctx.Done():
			return stopCause(ctx, err)
		case <-time.After(wait):
		}
	}
}

// stopCause returns why ctx ended, for an error err that its end caused: the
// watchdog's ErrClusterUnavailable with err, or err as it is when the run was stopped.
func stopCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrClusterUnavailable) {
		return fmt.Errorf("%w (last error: %w)", cause, err)
	}
	return err
}
