package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// waitAssignment waits until group is stable with the partitions of topic assigned as
// want says (client id: partition count).
func (rc *runCluster) waitAssignment(group, topic string, want map[string]int) map[string][]int32 {
	rc.t.Helper()
	var got map[string][]int32
	rc.waitUntil(fmt.Sprintf("the group assigns %v partitions per client", want), func() bool {
		a, stable := rc.groupAssignment(group, topic)
		got = a
		if !stable || len(a) != len(want) {
			return false
		}
		for c, n := range want {
			if len(a[c]) != n {
				return false
			}
		}
		return true
	})
	return got
}

// TestRunRebalanceRevokesAndAssignsTasks: a second instance of the application joins
// while the first runs on four partitions, and takes two of its tasks. The first
// commits them before it lets them go (at least once in the revoke callback, with a
// commit interval longer than the test, so that nothing else commits them; exactly once
// the loop commits its transaction at once when a rebalance waits, and only then lets
// it run), so the second starts where the first stopped, restoring their counts from
// the changelog; the second stops and the first gets them back. At least once and
// exactly once, every key's counts are 1..n exactly and the group committed the whole
// input; at least once, the two instances' Stats add up to the input: no record was
// processed twice.
func TestRunRebalanceRevokesAndAssignsTasks(t *testing.T) {
	for _, eos := range []bool{false, true} {
		name := "at least once"
		if eos {
			name = "exactly once"
		}
		t.Run(name, func(t *testing.T) {
			const app, in, out, parts = "scale", "in", "out", 4
			rc := newRunCluster(t)
			rc.createTopics(parts, in, out)
			topo := countTopology(t, in, out, nil)
			// At least once, the first instance's commit interval is longer than the
			// test: what it commits, it commits for a rebalance (and at its stop).
			// Exactly once, the outputs read read_committed show the progress.
			interval := time.Minute
			if eos {
				interval = 0
			}
			a := rc.start(runSpec{app: app, topo: topo, eos: eos, instance: "a", commitInterval: interval})
			outputs := rc.consume(out, eos)

			keys := runKeys("k", 12)
			want := map[string]int{}
			rc.sendRound(in, parts, 0, want, keys...)
			outputs.waitCount(len(keys))
			rc.waitAssignment(app, in, map[string]int{"a": parts})

			b := rc.start(runSpec{app: app, topo: topo, eos: eos, instance: "b"})
			assigned := rc.waitAssignment(app, in, map[string]int{"a": parts / 2, "b": parts / 2})
			rc.sendRound(in, parts, 1, want, keys...)
			outputs.waitCount(2 * len(keys))
			var onB int
			for _, k := range keys {
				if slices.Contains(assigned["b"], runKeyPartition(k, parts)) {
					onB++
				}
			}
			rc.waitUntil("the second instance processes the records of its tasks", func() bool { return b.stats.Processed.Load() >= int64(onB) })

			b.mustStop()
			rc.waitAssignment(app, in, map[string]int{"a": parts})
			rc.sendRound(in, parts, 2, want, keys...)
			outputs.waitCount(3 * len(keys))
			a.mustStop()

			checkExactCounts(t, "counts", rc.readTopic(out, eos), want)
			if got := lastCounts(t, rc.readTopic(changelogOf(app), eos)); !maps.Equal(got, want) {
				t.Errorf("the changelog ends with %v, want %v", got, want)
			}
			if got, want := rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)); !maps.Equal(got, want) {
				t.Errorf("committed offsets %v, want the end of the input %v", got, want)
			}
			if eos {
				return
			}
			if got, want := a.stats.Processed.Load()+b.stats.Processed.Load(), int64(3*len(keys)); got != want {
				t.Errorf("the instances processed %d + %d records, want %d in all: records were processed twice", a.stats.Processed.Load(), b.stats.Processed.Load(), want)
			}
		})
	}
}

// TestRunExactlyOnceLostMembershipRedoesTheWork: an instance is put out of its group
// (as a session timeout would: the coordinator removes it) while a transaction of its
// is open and holds counts; its processor is stuck meanwhile. Another instance gets
// every task and restores them read_committed, which waits for that transaction. Once
// unstuck, the first instance does not commit: its open transaction is aborted and its
// tasks closed without a commit, and it joins again as a new member. Every key's
// counts are exact read_committed: the work of the aborted transaction was redone once,
// by the tasks' new owner.
func TestRunExactlyOnceLostMembershipRedoesTheWork(t *testing.T) {
	const app, in, out, parts = "lost", "in", "out", 2
	rc := newRunCluster(t)
	rc.createTopics(parts, in, out)
	const stuckKey = "stuck"
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(key, value string, _ processor.RecordMetadata) error {
		if key == stuckKey {
			once.Do(func() {
				close(blocked)
				<-release
			})
		}
		return nil
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	a := rc.start(runSpec{app: app, topo: countTopology(t, in, out, hook), eos: true, instance: "a"})
	committed := rc.consume(out, true)

	keys := runKeys("k", 8)
	want := map[string]int{}
	rc.sendRound(in, parts, 0, want, keys...)
	committed.waitCount(len(keys))
	rc.waitAssignment(app, in, map[string]int{"a": parts})

	// The keys of the stuck key's partition come before it in one batch: they are
	// counted in the transaction that the stuck record holds open.
	p := runKeyPartition(stuckKey, parts)
	var kvs []string
	for _, k := range keys {
		if runKeyPartition(k, parts) == p {
			kvs = append(kvs, k, "1")
			want[k]++
		}
	}
	if len(kvs) == 0 {
		t.Fatalf("no key on partition %d", p)
	}
	kvs = append(kvs, stuckKey, "1")
	want[stuckKey]++
	rc.send(in, parts, kvs...)
	select {
	case <-blocked:
	case <-time.After(runTimeout):
		t.Fatal("the stuck record was never processed")
	}
	cl := changelogOf(app)
	rc.waitUntil("the open transaction holds changelog records", func() bool {
		return rc.stableOffsets(cl)[p] < rc.endOffsets(cl)[p]
	})

	members := rc.groupMembers(app)["a"]
	if len(members) != 1 {
		t.Fatalf("the instance is the members %v, want one", members)
	}
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = app
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = members[0]
	leave.Members = append(leave.Members, m)
	resp, err := leave.RequestWith(rc.ctx(), rc.client)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, m := range resp.Members {
			err = errors.Join(err, kerr.ErrorForCode(m.ErrorCode))
		}
	}
	if err != nil {
		t.Fatalf("removing the instance from its group: %v", err)
	}

	b := rc.start(runSpec{app: app, topo: countTopology(t, in, out, nil), eos: true, instance: "b"})
	rc.waitUntil("the second instance gets every task", func() bool {
		assigned, stable := rc.groupAssignment(app, in)
		return stable && len(assigned["b"]) == parts
	})
	close(release)
	released = true

	total := func() int {
		n := 0
		for _, c := range want {
			n += c
		}
		return n
	}
	committed.waitCount(total())
	rc.waitUntil("the first instance joins again, as a new member, and gets a task back", func() bool {
		ids := rc.groupMembers(app)["a"]
		assigned, stable := rc.groupAssignment(app, in)
		return len(ids) == 1 && ids[0] != members[0] && stable && len(assigned["a"]) == 1 && len(assigned["b"]) == 1
	})
	rc.sendRound(in, parts, 2, want, append(keys, stuckKey)...)
	committed.waitCount(total())
	b.mustStop()
	a.mustStop()

	checkExactCounts(t, "counts read committed", rc.readTopic(out, true), want)
	if got := lastCounts(t, rc.readTopic(cl, true)); !maps.Equal(got, want) {
		t.Errorf("the changelog read committed ends with %v, want %v", got, want)
	}
	if all := rc.readTopic(out, false); len(all) <= total() {
		t.Errorf("read_uncommitted the output holds %d counts, want more than the %d committed: the lost transaction wrote none", len(all), total())
	}
	if got, want := rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)); !maps.Equal(got, want) {
		t.Errorf("committed offsets %v, want the end of the input %v", got, want)
	}
}
