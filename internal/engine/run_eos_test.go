package engine

import (
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnOffsetCommitPast is a kfake fault filter: a TxnOffsetCommit of group that commits,
// on some partition, an offset past ends (so a transaction that holds records polled
// after ends were listed).
func txnOffsetCommitPast(group string, ends map[int32]int64) func(kmsg.Request) bool {
	return func(req kmsg.Request) bool {
		r, ok := req.(*kmsg.TxnOffsetCommitRequest)
		if !ok || r.Group != group {
			return false
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.Offset > ends[p.Partition] {
					return true
				}
			}
		}
		return false
	}
}

// TestRunExactlyOnceAbortRewindsWithoutDoubleCounting: the broker refuses the offsets
// of one transaction with an error that makes the client abort it (the answer it gets
// when a rebalance overtook the commit). The transaction's counts and changelog records
// were already written (a read_uncommitted reader sees them), but the engine rolls its
// stores back and rewinds to the committed offsets: the records are processed again
// (Stats counts them twice), and read_committed every key has its counts 1..n exactly,
// in the output and in the changelog, with no count of the aborted transaction added to
// the state.
func TestRunExactlyOnceAbortRewindsWithoutDoubleCounting(t *testing.T) {
	const app, in, out, parts = "eos-abort", "in", "out", 2
	rc := newRunCluster(t)
	rc.createTopics(parts, in, out)
	inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, nil), eos: true})

	keys := runKeys("k", 6)
	want := map[string]int{}
	rc.sendRound(in, parts, 0, want, keys...)
	committed := rc.consume(out, true)
	committed.waitCount(len(keys))
	ends := rc.endOffsets(in)
	rc.waitUntil("the first round is committed", func() bool { return maps.Equal(rc.groupOffsets(app, in), nonEmpty(ends)) })

	failSecondRoundsOffsetCommit(rc, app, in, parts, ends, kerr.IllegalGeneration, want, keys)
	committed.waitCount(3 * len(keys))
	inst.mustStop()

	checkExactCounts(t, "counts read committed", rc.readTopic(out, true), want)
	if got := lastCounts(t, rc.readTopic(changelogOf(app), true)); !maps.Equal(got, want) {
		t.Errorf("the changelog read committed ends with %v, want %v", got, want)
	}
	all := rc.readTopic(out, false)
	if len(all) <= 3*len(keys) {
		t.Errorf("read_uncommitted the output holds %d counts, want more than the %d committed: the aborted transaction wrote none", len(all), 3*len(keys))
	}
	if got := inst.stats.Processed.Load(); got <= int64(3*len(keys)) {
		t.Errorf("Stats.Processed is %d, want more than the %d inputs: the aborted records were not processed again", got, 3*len(keys))
	}
}

// groupMembers returns the member ids of group by client id.
func (rc *runCluster) groupMembers(group string) map[string][]string {
	rc.t.Helper()
	described, err := rc.admin.DescribeGroups(rc.ctx(), group)
	if err != nil {
		rc.t.Fatalf("describing group %s: %v", group, err)
	}
	out := map[string][]string{}
	for _, m := range described[group].Members {
		out[m.ClientID] = append(out[m.ClientID], m.MemberID)
	}
	return out
}

// groupAssignment returns the partitions of topic assigned to each member of group, by
// client id, and whether the group is stable.
func (rc *runCluster) groupAssignment(group, topic string) (map[string][]int32, bool) {
	rc.t.Helper()
	described, err := rc.admin.DescribeGroups(rc.ctx(), group)
	if err != nil {
		rc.t.Fatalf("describing group %s: %v", group, err)
	}
	g := described[group]
	out := map[string][]int32{}
	for _, m := range g.Members {
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range c.Topics {
				if tp.Topic == topic {
					out[m.ClientID] = append(out[m.ClientID], tp.Partitions...)
				}
			}
		}
	}
	return out, g.State == "Stable"
}

// TestRunExactlyOnceRejoinsAfterATransactionFails: the broker refuses a transaction's
// offsets with an error that the client cannot abort its way out of, so ending the
// transaction fails. The instance drops its tasks' uncommitted work and joins the group
// again as a new member (Kafka Streams' TaskMigratedException); the work is redone, and
// read_committed the counts are exact.
func TestRunExactlyOnceRejoinsAfterATransactionFails(t *testing.T) {
	const app, in, out, parts = "eos-rejoin", "in", "out", 2
	rc := newRunCluster(t)
	rc.createTopics(parts, in, out)
	inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, nil), eos: true})

	keys := runKeys("k", 6)
	want := map[string]int{}
	rc.sendRound(in, parts, 0, want, keys...)
	committed := rc.consume(out, true)
	committed.waitCount(len(keys))
	ends := rc.endOffsets(in)
	rc.waitUntil("the first round is committed", func() bool { return maps.Equal(rc.groupOffsets(app, in), nonEmpty(ends)) })
	before := rc.groupMembers(app)["a"]
	if len(before) != 1 {
		t.Fatalf("the group has members %v for the instance, want one", before)
	}

	failSecondRoundsOffsetCommit(rc, app, in, parts, ends, kerr.GroupAuthorizationFailed, want, keys)
	committed.waitCount(3 * len(keys))
	after := rc.groupMembers(app)["a"]
	if len(after) != 1 || after[0] == before[0] {
		t.Errorf("the instance is the group member %v after the failed transaction, want one new member (was %v)", after, before)
	}
	inst.mustStop()

	checkExactCounts(t, "counts read committed", rc.readTopic(out, true), want)
	if got := lastCounts(t, rc.readTopic(changelogOf(app), true)); !maps.Equal(got, want) {
		t.Errorf("the changelog read committed ends with %v, want %v", got, want)
	}
	if got := inst.stats.Processed.Load(); got <= int64(3*len(keys)) {
		t.Errorf("Stats.Processed is %d, want more than the %d inputs: the dropped work was not redone", got, 3*len(keys))
	}
}

// failSecondRoundsOffsetCommit sends a second round of keys, answers err to the first
// TxnOffsetCommit that commits offsets past ends (the first round's), sends a third round
// and waits until the group has committed every round.
func failSecondRoundsOffsetCommit(rc *runCluster, app, in string, parts int32, ends map[int32]int64, err *kerr.Error, want map[string]int, keys []string) {
	rc.t.Helper()
	fault := rc.cluster.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.TxnOffsetCommit},
		Group: app,
		Err:   err,
		When:  txnOffsetCommitPast(app, ends),
	})
	rc.sendRound(in, parts, 1, want, keys...)
	if err := fault.Wait(rc.ctx(), 1); err != nil {
		rc.t.Fatalf("no transaction committed the second round's offsets: %v", err)
	}
	rc.sendRound(in, parts, 2, want, keys...)
	rc.waitUntil("every round is committed", func() bool {
		return maps.Equal(rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)))
	})
}

// TestRunRejoinsWhenAFlushFindsItsTransactionLost: under exactly-once, a produce failure
// that says the producer lost its epoch (the broker aborted the transaction after its
// timeout, as after a long broker freeze) loses that transaction, not the application:
// the instance rejoins, redoes the work, and every output is committed once.
func TestRunRejoinsWhenAFlushFindsItsTransactionLost(t *testing.T) {
	const app, in, out = "eos-flush-lost", "in", "out"
	rc := newRunCluster(t)
	rc.createTopics(1, in, out)
	fault := rc.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: out, Err: kerr.InvalidProducerEpoch, Count: 1})
	inst := rc.start(runSpec{app: app, topo: upperTopology(t, in, out), eos: true})
	outputs := rc.consume(out, true)
	rc.send(in, 1, "a", "a", "b", "b", "c", "c")
	if err := fault.Wait(rc.ctx(), 1); err != nil {
		t.Fatalf("no produce failed: %v", err)
	}
	got := outputs.waitCount(3)
	inst.mustStop()
	var values []string
	for _, r := range got {
		values = append(values, string(r.Value))
	}
	if want := []string{"0/0:A", "0/1:B", "0/2:C"}; !slices.Equal(values, want) {
		t.Errorf("committed output %q, want %q", values, want)
	}
	if again := rc.readTopic(out, true); len(again) != 3 {
		t.Errorf("the committed output holds %d records, want 3", len(again))
	}
}
