package topology_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The rules these tests check come from Kafka Streams' SessionWindows javadoc: the
// example of a gap of 5 with records at 10, 12, 20 and then 16, which merges the two
// sessions into [10, 20]
// (https://kafka.apache.org/42/javadoc/org/apache/kafka/streams/kstream/SessionWindows.html),
// and from KStreamSessionWindowAggregate, which drops a record whose merged session ends
// before stream time - grace - gap and forwards a null for each session it merged away.

// countSessions counts the records of in per key in sessions, written to out with Kafka
// Streams' session-windowed key format.
func countSessions(t *testing.T, windows topology.SessionWindows, configure func(topology.SessionWindowedStream[string, string]) topology.SessionWindowedStream[string, string]) (*eddytest.Driver, *winOutputs[int64]) {
	t.Helper()
	b := topology.NewBuilder()
	grouped := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "")
	sessions := topology.WindowedBySession(grouped, windows)
	if configure != nil {
		sessions = configure(sessions)
	}
	keys := topology.SessionWindowedSerde(serde.String())
	topology.To(topology.ToStream(topology.CountSession(sessions, "sessions")), "out", keys, serde.Int64())
	d := startDriver(t, b, eddytest.ApplicationID("app"))
	return d, newWinOutputs(d, "out", keys, serde.Int64())
}

// The SessionWindows javadoc example (gap 5: records at 10, 12, 20, then 16 merges the
// two sessions into [10, 20]), with a grace that keeps [10, 12] open at stream time 20;
// KStreamSessionWindowAggregate forwards a null for each session merged away, each
// stamped with its session's end, and stamps a session's updates with its end.
func TestSessionsMergeWhenARecordBridgesThem(t *testing.T) {
	d, out := countSessions(t, topology.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 10*time.Millisecond), nil)
	pipeWindowed(t, d, winPiped{"A", "1", 10}, winPiped{"A", "2", 12}, winPiped{"A", "3", 20})
	expectWindowed(t, "two sessions", out.next(t),
		winRec[int64]("A", 10, 10, 1, 10),
		winTombstone[int64]("A", 10, 10, 10), winRec[int64]("A", 10, 12, 2, 12),
		winRec[int64]("A", 20, 20, 1, 20))
	pipeWindowed(t, d, winPiped{"A", "4", 16})
	expectWindowed(t, "merged by the record at 16", out.next(t),
		winTombstone[int64]("A", 10, 12, 12), winTombstone[int64]("A", 20, 20, 20),
		winRec[int64]("A", 10, 20, 4, 20))
}

// KStreamSessionWindowAggregate drops a record when the session it makes or joins ends
// before stream time - gap - grace: a session [s, e] is closed once stream time > e + gap
// + grace.
func TestSessionsCloseAfterEndPlusGapPlusGrace(t *testing.T) {
	var late []topology.LateRecord[string, string]
	d, out := countSessions(t, topology.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 2*time.Millisecond),
		func(s topology.SessionWindowedStream[string, string]) topology.SessionWindowedStream[string, string] {
			return s.OnLateRecord(func(r topology.LateRecord[string, string]) error {
				late = append(late, r)
				return nil
			})
		})
	pipeWindowed(t, d, winPiped{"A", "1", 10}, winPiped{"B", "1", 17}, winPiped{"A", "2", 11})
	// Stream time 17 = 10 + 5 + 2: [10,10] is still open, and 11 joins it.
	expectWindowed(t, "at stream time 17", out.next(t),
		winRec[int64]("A", 10, 10, 1, 10), winRec[int64]("B", 17, 17, 1, 17),
		winTombstone[int64]("A", 10, 10, 10), winRec[int64]("A", 10, 11, 2, 11))
	pipeWindowed(t, d, winPiped{"B", "2", 19}, winPiped{"A", "3", 9})
	// Stream time 19 > 11 + 5 + 2: [10,11] is closed (and expired from the store), and so
	// is the session [9,9] that the record at 9 would make.
	expectWindowed(t, "at stream time 19", out.next(t), winTombstone[int64]("B", 17, 17, 17), winRec[int64]("B", 17, 19, 2, 19))
	if len(late) != 1 {
		t.Fatalf("late records %v, want the record at 9", late)
	}
	if r := late[0]; r.Window.Start.UnixMilli() != 9 || r.Window.End.UnixMilli() != 9 || r.WindowClose.UnixMilli() != 17 || r.StreamTime.UnixMilli() != 19 {
		t.Errorf("late record window %v, close %d, stream time %d; want [9,9], 17 (9 + 5 + 2 + 1), 19", r.Window, r.WindowClose.UnixMilli(), r.StreamTime.UnixMilli())
	}
}

func TestSessionsEmitOnWindowCloseOnlyTheMergedSessionOnce(t *testing.T) {
	d, out := countSessions(t, topology.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 10*time.Millisecond),
		func(s topology.SessionWindowedStream[string, string]) topology.SessionWindowedStream[string, string] {
			return s.Emit(topology.EmitOnWindowClose)
		})
	pipeWindowed(t, d, winPiped{"A", "1", 10}, winPiped{"A", "2", 12}, winPiped{"A", "3", 20}, winPiped{"A", "4", 16})
	expectWindowed(t, "while A's sessions are open", out.next(t))
	pipeWindowed(t, d, winPiped{"B", "1", 35})
	expectWindowed(t, "at stream time 35 = 20 + 5 + 10", out.next(t))
	pipeWindowed(t, d, winPiped{"B", "2", 36})
	expectWindowed(t, "at stream time 36", out.next(t), winRec[int64]("A", 10, 20, 4, 20))
	pipeWindowed(t, d, winPiped{"C", "1", 60})
	expectWindowed(t, "at stream time 60", out.next(t), winRec[int64]("B", 35, 36, 2, 36))
}

func TestAggregateSessionMergesWithTheMerger(t *testing.T) {
	b := topology.NewBuilder()
	grouped := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "")
	sessions := topology.WindowedBySession(grouped, topology.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 10*time.Millisecond))
	keys := topology.SessionWindowedSerde(serde.String())
	joined := topology.AggregateSession(sessions, "joined",
		func() string { return "" },
		func(_ string, v, agg string) string { return agg + v },
		func(_ string, a, b string) string { return a + "+" + b },
		serde.String())
	topology.To(topology.ToStream(joined), "joined", keys, serde.String())
	reduced := topology.ReduceSession(sessions, "reduced", func(agg, v string) string { return agg + v })
	topology.To(topology.ToStream(reduced), "reduced", keys, serde.String())
	d := startDriver(t, b, eddytest.ApplicationID("app"))
	pipeWindowed(t, d, winPiped{"A", "a", 10}, winPiped{"A", "b", 20}, winPiped{"A", "c", 15})
	// The record at 15 starts from init() = "", merges [10,10] then [20,20] (by end), then
	// folds in "c".
	got := latestWindows((newWinOutputs(d, "joined", keys, serde.String())).next(t))
	if len(got) != 1 || got["A[10,20]"].value != "+a+bc" {
		t.Errorf("aggregate %v, want only A[10,20] = \"+a+bc\"", got)
	}
	got = latestWindows((newWinOutputs(d, "reduced", keys, serde.String())).next(t))
	if len(got) != 1 || got["A[10,20]"].value != "abc" {
		t.Errorf("reduce %v, want only A[10,20] = \"abc\"", got)
	}
}

func TestSessionsEmitOnWindowCloseTheLastUpdateOfEachSessionOnce(t *testing.T) {
	checkEmitOnCloseMatchesUpdates(t, func(g topology.GroupedStream[string, string], emit topology.EmitStrategy, name string) topology.Table[topology.Windowed[string], string] {
		s := topology.WindowedBySession(g, topology.SessionWindowsOfInactivityGapAndGrace(4*time.Millisecond, 5*time.Millisecond)).Emit(emit)
		return topology.AggregateSession(s, name, func() string { return "" }, sortedList, func(_ string, a, b string) string {
			return strings.Join(slices.Sorted(slices.Values(append(strings.Fields(a), strings.Fields(b)...))), " ")
		}, serde.String())
	}, topology.SessionWindowedSerde(serde.String()))
}

func TestSessionWindowsWithAGapOfZeroAreABuildProblem(t *testing.T) {
	b := topology.NewBuilder()
	g := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "g")
	topology.CountSession(topology.WindowedBySession(g, topology.SessionWindowsOfInactivityGapWithNoGrace(0)), "c")
	expectBuildProblem(t, b, "inactivity gap 0s is not positive")
}
