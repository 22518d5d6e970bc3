package topology_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The record cache of the windowed aggregations follows Kafka Streams' CachingWindowStore
// and CachingSessionStore (state/internals, checked in its source): a put goes to the
// cache under the windowed key; at a flush each dirty window is forwarded once, with its
// latest value and the value the underlying store held (the value at the last commit) as
// the old value; a session that was removed and has no value in the underlying store
// either (put and removed since the last commit) is not forwarded at all.

type windowedTable = topology.Table[topology.Windowed[string], int64]

// winKey is the windowed key of A from start to end.
func winKey(start, end int64) topology.Windowed[string] {
	return topology.Windowed[string]{Key: "A", Start: time.UnixMilli(start), End: time.UnixMilli(end)}
}

// windowedCounts counts the records of "in" per key with count, watching the table's
// changes.
func windowedCounts(t *testing.T, count func(topology.GroupedStream[string, string]) windowedTable, opts ...topology.BuilderOption) (*tableChanges[topology.Windowed[string], int64], func(at int64), *eddytest.Driver) {
	t.Helper()
	b := topology.NewBuilder(opts...)
	counts := count(topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), ""))
	changes := watchChanges(b, counts, "watch")
	d := startDriver(t, b, eddytest.ManualCommit())
	in := eddytest.InputTopic(d, winInput, serde.String(), serde.String())
	pipe := func(at int64) {
		t.Helper()
		if err := in.Pipe("A", "x", time.UnixMilli(at)); err != nil {
			t.Fatal(err)
		}
	}
	return changes, pipe, d
}

func tumblingCount(size, grace time.Duration) func(topology.GroupedStream[string, string]) windowedTable {
	return func(g topology.GroupedStream[string, string]) windowedTable {
		return topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeAndGrace(size, grace)), "counts")
	}
}

func sessionCount(gap, grace time.Duration) func(topology.GroupedStream[string, string]) windowedTable {
	return func(g topology.GroupedStream[string, string]) windowedTable {
		return topology.CountSession(topology.WindowedBySession(g, topology.SessionWindowsOfInactivityGapAndGrace(gap, grace)), "counts")
	}
}

// Four records of A at 20: the first is committed alone, the next three update the same
// window, which is forwarded once at the next commit with the count of the last commit
// as the old value. The window each kind puts a record at 20 in: [20, 30) for tumbling
// windows of 10, the left window [10, 20] for sliding windows of 10 (no record follows
// it, so it has no right window), [20, 20] for sessions. Timestamps: the largest folded
// in for time and sliding windows, the session's end for sessions, both 20.
func TestWindowedCacheForwardsThreeUpdatesOfAWindowOnceWithTheOldValueOfTheLastCommit(t *testing.T) {
	tests := []struct {
		name   string
		count  func(topology.GroupedStream[string, string]) windowedTable
		window topology.Windowed[string]
	}{
		{"tumbling windows", tumblingCount(10*time.Millisecond, 0), winKey(20, 30)},
		{"sliding windows", func(g topology.GroupedStream[string, string]) windowedTable {
			return topology.CountWindowed(topology.WindowedBy(g, topology.SlidingWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond)), "counts")
		}, winKey(10, 20)},
		{"sessions", sessionCount(5*time.Millisecond, 0), winKey(20, 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, pipe, d := windowedCounts(t, tt.count)
			pipe(20)
			checkTableChanges(t, changes.take(), nil)
			commit(t, d)
			checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{{key: tt.window, new: just[int64](1), ts: 20}})
			pipe(20)
			pipe(20)
			pipe(20)
			checkTableChanges(t, changes.take(), nil)
			commit(t, d)
			checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{{key: tt.window, new: just[int64](4), old: just[int64](1), ts: 20}})
			commit(t, d)
			checkTableChanges(t, changes.take(), nil)
		})
	}
}

// The cache keys by window: the windows of one key are forwarded each once, least
// recently updated first (Kafka Streams' NamedCache flush order).
func TestWindowedCacheForwardsTheWindowsOfAKeySeparately(t *testing.T) {
	t.Run("tumbling windows updated in turn", func(t *testing.T) {
		changes, pipe, d := windowedCounts(t, tumblingCount(10*time.Millisecond, 20*time.Millisecond))
		pipe(1)
		pipe(12)
		pipe(13)
		pipe(2)
		commit(t, d)
		checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{
			{key: winKey(10, 20), new: just[int64](2), ts: 13},
			{key: winKey(0, 10), new: just[int64](2), ts: 2},
		})
	})
	t.Run("hopping windows that share a record", func(t *testing.T) {
		// Windows of 10 advancing by 5: a record at 7 is in [0, 10) and [5, 15).
		changes, pipe, d := windowedCounts(t, func(g topology.GroupedStream[string, string]) windowedTable {
			return topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond).AdvanceBy(5*time.Millisecond)), "counts")
		})
		pipe(7)
		pipe(7)
		commit(t, d)
		checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{
			{key: winKey(0, 10), new: just[int64](2), ts: 7},
			{key: winKey(5, 15), new: just[int64](2), ts: 7},
		})
	})
}

// Session merges within one commit interval, with a gap of 5 (the SessionWindows javadoc
// example: 10, 12, 20, then 16 merges everything into [10, 20]). Uncached, each merge
// forwards a tombstone per merged session then the new one; cached, as Kafka Streams'
// CachingSessionStore, a session made and merged away within the interval is forwarded
// not at all, and one that existed at the last commit gets a tombstone.
func TestWindowedCacheForwardsOnlyTheSessionsThatOutliveACommitInterval(t *testing.T) {
	type want = []wantChange[topology.Windowed[string], int64]
	tests := []struct {
		name      string
		committed []int64 // piped and committed first
		then      []int64 // piped, then committed
		want      want    // forwarded at the second commit
	}{
		{
			name: "sessions made and merged within the interval forward only the merged session",
			then: []int64{10, 12, 20, 16},
			want: want{{key: winKey(10, 20), new: just[int64](4), ts: 20}},
		},
		{
			name:      "a session of the last commit merged away forwards a tombstone, then the merged session",
			committed: []int64{10},
			then:      []int64{12, 14},
			want: want{
				{key: winKey(10, 10), old: just[int64](1), ts: 10},
				{key: winKey(10, 14), new: just[int64](3), ts: 14},
			},
		},
		{
			name:      "a record within a session of the last commit updates it, without a tombstone",
			committed: []int64{10, 14},
			then:      []int64{12},
			want:      want{{key: winKey(10, 14), new: just[int64](3), old: just[int64](2), ts: 14}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, pipe, d := windowedCounts(t, sessionCount(5*time.Millisecond, 20*time.Millisecond))
			for _, at := range tt.committed {
				pipe(at)
			}
			commit(t, d)
			changes.take()
			for _, at := range tt.then {
				pipe(at)
			}
			checkTableChanges(t, changes.take(), nil)
			commit(t, d)
			checkTableChanges(t, changes.take(), tt.want)
		})
	}
}

// The tombstone of a session merged away reaches the output topic as a null value, the
// session made and merged away within the interval not at all.
func TestWindowedCacheWritesTheTombstonesOfSessionsOfTheLastCommit(t *testing.T) {
	b := topology.NewBuilder()
	sessions := topology.WindowedBySession(topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), ""),
		topology.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 20*time.Millisecond))
	keys := topology.SessionWindowedSerde(serde.String())
	topology.To(topology.ToStream(topology.CountSession(sessions, "sessions")), "out", keys, serde.Int64())
	d := startDriver(t, b, eddytest.ManualCommit())
	out := newWinOutputs(d, "out", keys, serde.Int64())
	pipeWindowed(t, d, winPiped{"A", "1", 10})
	commit(t, d)
	expectWindowed(t, "first commit", out.next(t), winRec[int64]("A", 10, 10, 1, 10))
	pipeWindowed(t, d, winPiped{"A", "2", 12}, winPiped{"A", "3", 14})
	commit(t, d)
	expectWindowed(t, "second commit", out.next(t), winTombstone[int64]("A", 10, 10, 10), winRec[int64]("A", 10, 14, 3, 14))
}

// With the cache off (Kafka Streams: statestore.cache.max.bytes=0), every update and
// every tombstone is forwarded at once, as KStreamWindowAggregate and
// KStreamSessionWindowAggregate forward them.
func TestWindowedAggregationsWithoutRecordCacheForwardEveryUpdate(t *testing.T) {
	type want = []wantChange[topology.Windowed[string], int64]
	t.Run("tumbling windows", func(t *testing.T) {
		changes, pipe, _ := windowedCounts(t, tumblingCount(10*time.Millisecond, 0), topology.WithoutRecordCache())
		pipe(1)
		pipe(2)
		pipe(3)
		checkTableChanges(t, changes.take(), want{
			{key: winKey(0, 10), new: just[int64](1), ts: 1},
			{key: winKey(0, 10), new: just[int64](2), old: just[int64](1), ts: 2},
			{key: winKey(0, 10), new: just[int64](3), old: just[int64](2), ts: 3},
		})
	})
	t.Run("sessions", func(t *testing.T) {
		changes, pipe, _ := windowedCounts(t, sessionCount(5*time.Millisecond, 20*time.Millisecond), topology.WithoutRecordCache())
		pipe(10)
		pipe(10)
		pipe(12)
		checkTableChanges(t, changes.take(), want{
			{key: winKey(10, 10), new: just[int64](1), ts: 10},
			// A record on the session [t, t] updates it without a merge: Eddy gives the
			// old value, which Kafka Streams forwards only when cached (see DESIGN.md).
			{key: winKey(10, 10), new: just[int64](2), old: just[int64](1), ts: 10},
			{key: winKey(10, 10), old: just[int64](2), ts: 10},
			{key: winKey(10, 12), new: just[int64](3), ts: 12},
		})
	})
}

// RecordCacheMaxBytes bounds the cache of a windowed aggregation as any other: the entry
// of a new window of a tumbling count (key "A" and a start: 9 bytes, a count: 8, plus
// the overhead of an entry, about a hundred bytes) fits in 150 bytes, two do not, so a
// second window evicts and forwards the first.
func TestWindowedCacheEvictsTheLeastRecentlyUpdatedWindowWhenFull(t *testing.T) {
	changes, pipe, d := windowedCounts(t, tumblingCount(10*time.Millisecond, 20*time.Millisecond), topology.RecordCacheMaxBytes(150))
	pipe(1)
	pipe(2)
	checkTableChanges(t, changes.take(), nil)
	pipe(12)
	checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{{key: winKey(0, 10), new: just[int64](2), ts: 2}})
	commit(t, d)
	checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{{key: winKey(10, 20), new: just[int64](1), ts: 12}})
}

// EmitOnWindowClose does not cache: a window's final result is forwarded when the record
// that closes it is processed, without waiting for a commit, as Kafka Streams'
// emit-final path forwards it.
func TestEmitOnWindowCloseForwardsWithoutWaitingForACommit(t *testing.T) {
	changes, pipe, _ := windowedCounts(t, func(g topology.GroupedStream[string, string]) windowedTable {
		return topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond)).Emit(topology.EmitOnWindowClose), "counts")
	})
	pipe(1)
	pipe(2)
	checkTableChanges(t, changes.take(), nil)
	pipe(10)
	checkTableChanges(t, changes.take(), []wantChange[topology.Windowed[string], int64]{{key: winKey(0, 10), new: just[int64](2), ts: 2}})
}
