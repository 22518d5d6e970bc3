package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests of task idling (idle.go) on a stream-table join of clicks with users: every
// user is written (at 1 s) before any click (at 2 s), so a click processed in event-time
// order finds its user.

const (
	idleClicks, idleUsers, idleOut = "clicks", "users", "enriched"
	idleKeys                       = 8
)

// idleJoinTopology left-joins the clicks with the users' table: "<click>|<user>", or
// "<click>|-" for a click that finds no user.
func idleJoinTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	clicks := topology.StreamFrom(b, idleClicks, serde.String(), serde.String())
	users := topology.TableFrom(b, idleUsers, "users", serde.String(), serde.String())
	joined := topology.LeftJoin(clicks, users, "clicks-with-users", func(_, click, user string, found bool) string {
		if !found {
			user = "-"
		}
		return click + "|" + user
	})
	topology.To(joined, idleOut, serde.String(), serde.String())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// sendIdleBacklog writes the users (at 1 s) and then the clicks (at 2 s), one partition
// each, and returns the join's output in event-time order.
func sendIdleBacklog(rc *runCluster) []string {
	rc.t.Helper()
	var users, clicks []*kgo.Record
	var want []string
	for i := range idleKeys {
		key := fmt.Sprintf("u%d", i)
		users = append(users, &kgo.Record{Topic: idleUsers, Key: []byte(key), Value: []byte("user" + fmt.Sprint(i)), Timestamp: time.UnixMilli(1000)})
		clicks = append(clicks, &kgo.Record{Topic: idleClicks, Key: []byte(key), Value: []byte("click" + fmt.Sprint(i)), Timestamp: time.UnixMilli(2000)})
		want = append(want, fmt.Sprintf("click%d|user%d", i, i))
	}
	rc.sendRecords(users...)
	rc.sendRecords(clicks...)
	return want
}

// TestRunTaskWaitsForAnInputWhoseRecordsAreOnTheirWay: the users' partition cannot be
// fetched for its first fetches (a retriable error), so the consumer hands over the
// clicks first. With max task idle 0 the task knows the users' partition has records
// (it lists its end) and waits for them: every click finds its user, at least once and
// exactly once. With idling disabled (Kafka Streams' -1) the clicks run ahead and find
// nobody: which shows the fault makes the difference.
func TestRunTaskWaitsForAnInputWhoseRecordsAreOnTheirWay(t *testing.T) {
	for _, c := range []struct {
		name string
		eos  bool
		idle time.Duration
	}{
		{"at least once", false, 0},
		{"exactly once", true, 0},
		{"idling disabled", false, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := newRunCluster(t)
			rc.createTopics(1, idleClicks, idleUsers, idleOut)
			want := sendIdleBacklog(rc)
			fault := rc.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: idleUsers, Err: kerr.NotLeaderForPartition, Count: 3})
			inst := rc.start(runSpec{app: "idle", topo: idleJoinTopology(t), eos: c.eos, maxTaskIdle: c.idle})
			got := recordValues(rc.consume(idleOut, c.eos).waitCount(len(want)))
			inst.mustStop()
			if err := fault.Wait(rc.ctx(), 3); err != nil {
				t.Fatalf("the users' partition was not refused three fetches: %v", err)
			}
			if c.idle < 0 {
				if slices.Equal(got, want) {
					t.Fatalf("with idling disabled every click found its user: the fault did not make the clicks run ahead")
				}
				return
			}
			if !slices.Equal(got, want) {
				t.Errorf("output %v\nwant     %v (every click after its user)", got, want)
			}
		})
	}
}

// TestRunExactlyOnceCommitsOnlyWhatTasksProcessed: under exactly-once a task holds the
// clicks unprocessed while it waits max task idle for the (empty, caught-up) users'
// partition. A transaction that commits meanwhile (here one with a tick, which another
// task passes through) commits the offsets the tasks consumed, not those of every record
// the consumer handed over: a crash then would lose the clicks. Once the wait is over
// the clicks are processed and their offsets committed.
func TestRunExactlyOnceCommitsOnlyWhatTasksProcessed(t *testing.T) {
	const ticks, ticksOut = "ticks", "ticks-out"
	rc := newRunCluster(t)
	rc.createTopics(1, idleClicks, idleUsers, idleOut, ticks, ticksOut)
	var clicks []*kgo.Record
	for i := range idleKeys {
		clicks = append(clicks, &kgo.Record{Topic: idleClicks, Key: []byte(fmt.Sprint(i)), Value: []byte("c"), Timestamp: time.UnixMilli(2000)})
	}
	rc.sendRecords(clicks...)
	b := topology.NewBuilder()
	joined := topology.LeftJoin(topology.StreamFrom(b, idleClicks, serde.String(), serde.String()), topology.TableFrom(b, idleUsers, "users", serde.String(), serde.String()), "clicks-with-users",
		func(_, click, _ string, _ bool) string { return click })
	topology.To(joined, idleOut, serde.String(), serde.String())
	topology.To(topology.StreamFrom(b, ticks, serde.String(), serde.String()), ticksOut, serde.String(), serde.String())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	inst := rc.start(runSpec{app: "idle", topo: topo, eos: true, maxTaskIdle: 5 * time.Second})
	// The consumer hands the clicks over before the tick, written after the start.
	rc.sendRecords(&kgo.Record{Topic: ticks, Key: []byte("t"), Value: []byte("tick")})
	rc.consume(ticksOut, true).waitCount(1)
	if got := rc.groupOffsets("idle", ticks)[0]; got != 1 {
		t.Fatalf("the tick's transaction committed offset %d of the ticks, want 1", got)
	}
	if got, ok := rc.groupOffsets("idle", idleClicks)[0]; ok {
		t.Fatalf("the tick's transaction committed offset %d of the clicks, which the task held unprocessed", got)
	}
	if got := rc.readTopic(idleOut, true); len(got) > 0 {
		t.Fatalf("output %s before max task idle passed", describeRecords(got))
	}
	rc.consume(idleOut, true).waitCount(idleKeys)
	rc.waitUntil("the clicks' offsets are committed", func() bool {
		return rc.groupOffsets("idle", idleClicks)[0] == idleKeys
	})
	inst.mustStop()
}

// TestRunCommitsPastTransactionMarkers: input written in transactions ends with a
// commit marker; the tasks step over it, so the group's committed offsets reach the end
// of every input partition (lag 0 in Kafka's tools), under both guarantees, and a task
// with two inputs is not kept waiting by a marker it never processes.
func TestRunCommitsPastTransactionMarkers(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly once %v", eos), func(t *testing.T) {
			rc := newRunCluster(t)
			rc.createTopics(1, idleClicks, idleUsers, idleOut)
			producer, err := kgo.NewClient(kgo.SeedBrokers(rc.seeds...), kgo.TransactionalID("writer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer producer.Close()
			var want []string
			for round := range 3 {
				if err := producer.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				key := fmt.Sprintf("u%d", round)
				rs := []*kgo.Record{
					{Topic: idleUsers, Key: []byte(key), Value: []byte("user"), Timestamp: time.UnixMilli(int64(1000 * (2*round + 1)))},
					{Topic: idleClicks, Key: []byte(key), Value: []byte("click"), Timestamp: time.UnixMilli(int64(1000 * (2*round + 2)))},
				}
				if err := producer.ProduceSync(rc.ctx(), rs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				if err := producer.EndTransaction(rc.ctx(), kgo.TryCommit); err != nil {
					t.Fatal(err)
				}
				want = append(want, "click|user")
			}
			inst := rc.start(runSpec{app: "idle", topo: idleJoinTopology(t), eos: eos})
			if got := recordValues(rc.consume(idleOut, eos).waitCount(len(want))); !slices.Equal(got, want) {
				t.Errorf("output %v, want %v", got, want)
			}
			for _, topic := range []string{idleClicks, idleUsers} {
				rc.waitUntil(topic+"'s committed offset reaches its end, past the last marker", func() bool {
					return maps.Equal(rc.groupOffsets("idle", topic), rc.endOffsets(topic))
				})
			}
			inst.mustStop()
		})
	}
}

// TestRunTaskStopsWaitingForRecordsThatNeverCome: the users' partition has records below
// its end that the consumer never hands over (here every fetch of it fails, as when
// compaction removed them after the end was learned). After the fetch stall timeout,
// with its end unchanged, the task takes it as caught up and processes the clicks, and
// says so in the log.
func TestRunTaskStopsWaitingForRecordsThatNeverCome(t *testing.T) {
	rc := newRunCluster(t)
	rc.createTopics(1, idleClicks, idleUsers, idleOut)
	sendIdleBacklog(rc)
	rc.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: idleUsers, Err: kerr.NotLeaderForPartition, Count: -1})
	inst := rc.start(runSpec{app: "idle", topo: idleJoinTopology(t), fetchStall: 300 * time.Millisecond})
	got := recordValues(rc.consume(idleOut, false).waitCount(idleKeys))
	inst.mustStop()
	for _, v := range got {
		if !strings.HasSuffix(v, "|-") {
			t.Errorf("output %q: a click found a user whose records were never fetched", v)
		}
	}
	if !inst.log.has("no records come for an input partition below its end") {
		t.Error("the log does not say the task stopped waiting for the users' partition")
	}
}
