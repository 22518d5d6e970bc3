package topology

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// When the engine rolls a task back (an aborted transaction: Flusher.Discard, then the
// stores' Abort and the reset of their layers), a windowed aggregation must drop its
// cached updates and start its stream time over, as Kafka Streams re-initialises its
// processors and caches. The
// record at 100 is rolled back: its update is never forwarded, and a record at 6, late
// at stream time 100, is in time again. Each case runs with stores that keep windows for
// an hour, and with the default retention, under which the store itself would drop the
// record at 6 were its observed time not rolled back too.
func TestWindowedAggregationDiscardDropsItsCacheAndStreamTime(t *testing.T) {
	tests := []struct {
		name  string
		count func(GroupedStream[string, string], time.Duration) Table[Windowed[string], int64]
		first int64 // the record committed first
		// committed is forwarded at the first flush, afterRollback by the record at 6.
		committed, afterRollback []string
	}{
		{
			name: "tumbling windows",
			count: func(g GroupedStream[string, string], retention time.Duration) Table[Windowed[string], int64] {
				return CountWindowed(WindowedBy(g, TimeWindowsOfSizeWithNoGrace(10*time.Millisecond)).WithRetention(retention), "counts")
			},
			first:         5,
			committed:     []string{"A@0/10: 1/- @5"},
			afterRollback: []string{"A@0/10: 2/1 @6"},
		},
		{
			// The record at 6 follows the one at 5 within the time difference: it makes
			// the right window of 5, [6, 16], and its own left window [-4, 6] shares
			// [0, 10] with 5 (windows start at 0).
			name: "sliding windows",
			count: func(g GroupedStream[string, string], retention time.Duration) Table[Windowed[string], int64] {
				return CountWindowed(WindowedBy(g, SlidingWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond)).WithRetention(retention), "counts")
			},
			first:         5,
			committed:     []string{"A@0/10: 1/- @5"},
			afterRollback: []string{"A@6/16: 1/- @6", "A@0/10: 2/1 @6"},
		},
		{
			name: "sessions",
			count: func(g GroupedStream[string, string], retention time.Duration) Table[Windowed[string], int64] {
				return CountSession(WindowedBySession(g, SessionWindowsOfInactivityGapWithNoGrace(5*time.Millisecond)).WithRetention(retention), "counts")
			},
			first:         5,
			committed:     []string{"A@5/5: 1/- @5"},
			afterRollback: []string{"A@5/5: -/1 @5", "A@5/6: 2/- @6"},
		},
	}
	for _, tt := range tests {
		for _, retention := range []time.Duration{time.Hour, 0} {
			t.Run(fmt.Sprintf("%s, retention %s", tt.name, retention), func(t *testing.T) {
				b := NewBuilder()
				tt.count(GroupByKey(StreamFrom(b, "in", serde.String(), serde.String()), ""), retention)
				topo, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				ctx := newCacheTestContext(t)
				ctx.share(t, topo)
				p := builtNodeProcessor(t, topo, "counts")
				if err := p.Init(ctx); err != nil {
					t.Fatal(err)
				}
				f, ok := p.(processor.Flusher)
				if !ok {
					t.Fatalf("the aggregation's processor %T is not a Flusher", p)
				}
				process := func(ms int64) {
					t.Helper()
					if err := p.Process(plan.Record{Key: "A", Value: "x", Timestamp: time.UnixMilli(ms)}); err != nil {
						t.Fatal(err)
					}
				}
				flush := func(what string, want []string) {
					t.Helper()
					if err := f.Flush(); err != nil {
						t.Fatal(err)
					}
					checkCacheEmitted(t, what, ctx.take(), want)
				}
				process(tt.first)
				checkCacheEmitted(t, "before the first flush", ctx.take(), nil)
				flush("the first flush", tt.committed)
				if err := ctx.db.Commit(nil); err != nil {
					t.Fatal(err)
				}
				process(100)
				checkCacheEmitted(t, "the record at 100", ctx.take(), nil)
				f.Discard()
				ctx.abort(t)
				flush("a flush after the rollback", nil)
				process(6)
				flush("the record at 6 after the rollback", tt.afterRollback)
			})
		}
	}
}
