package topology_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The counts these tests expect follow Kafka Streams' task-level dropped-records metric:
// KStreamAggregate, KStreamWindowAggregate, KStreamSessionWindowAggregate, KTableSource,
// KStreamKTableJoinProcessor and KStreamKStreamJoin record it for each record they skip
// for a null key or value, and the windowed aggregations for each closed window a record
// is too late for (KStreamWindowAggregate records it inside its loop over the record's
// windows). A record an operator forwards (a left join's null key) or that merely finds
// no match is not dropped.

// dropRun pipes raw records, nil standing for Kafka's null, at increasing timestamps.
type dropRun struct {
	t  *testing.T
	d  *eddytest.Driver
	ts int64
}

func (r *dropRun) pipe(topic string, key, value []byte) {
	r.t.Helper()
	r.ts += 10
	if err := r.d.PipeRaw(topic, eddytest.Record{Key: key, Value: value, Timestamp: time.UnixMilli(r.ts)}); err != nil {
		r.t.Fatal(err)
	}
}

func raw(s string) []byte { return []byte(s) }

func TestOperatorsCountTheRecordsTheyDropForNulls(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *topology.Builder)
		pipe  func(r *dropRun)
		// dropped is the expected DroppedRecords; written the expected number of records
		// written to "out", to show that what was not dropped went through.
		dropped, written int
	}{
		{
			name: "an aggregation counts a record with a null key and one with a null value",
			build: func(bl *topology.Builder) {
				counts := topology.Count(topology.GroupByKey(topology.StreamFrom(bl, "in", serde.String(), serde.String()), "by-key"), "counts")
				topology.To(topology.ToStream(counts), "out", serde.String(), serde.Int64())
			},
			pipe: func(r *dropRun) {
				r.pipe("in", nil, raw("x"))
				r.pipe("in", raw("a"), nil)
				r.pipe("in", raw("a"), raw("x"))
			},
			dropped: 2, written: 1,
		},
		{
			name: "a table source counts a record with a null key but not a tombstone",
			build: func(bl *topology.Builder) {
				topology.To(topology.ToStream(topology.TableFrom(bl, "in", "table", serde.String(), serde.String())), "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("in", raw("a"), raw("x"))
				r.pipe("in", nil, raw("y"))
				r.pipe("in", raw("a"), nil) // deletes a
			},
			dropped: 1, written: 2,
		},
		{
			name: "a stream-table join counts a stream record with a null key or value but not one without a match",
			build: func(bl *topology.Builder) {
				table := topology.TableFrom(bl, "table", "table-store", serde.String(), serde.String())
				joined := topology.Join(topology.StreamFrom(bl, "in", serde.String(), serde.String()), table, "join",
					func(_, v, tv string) string { return v + tv })
				topology.To(joined, "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("table", raw("a"), raw("1"))
				r.pipe("in", nil, raw("x"))
				r.pipe("in", raw("a"), nil)
				r.pipe("in", raw("b"), raw("no match"))
				r.pipe("in", raw("a"), raw("x"))
			},
			dropped: 2, written: 1,
		},
		{
			name: "a stream-table left join forwards a null key and counts a null value",
			build: func(bl *topology.Builder) {
				table := topology.TableFrom(bl, "table", "table-store", serde.String(), serde.String())
				joined := topology.LeftJoin(topology.StreamFrom(bl, "in", serde.String(), serde.String()), table, "join",
					func(_, v, tv string, _ bool) string { return v + tv })
				topology.To(joined, "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("in", nil, raw("x"))
				r.pipe("in", raw("a"), nil)
			},
			dropped: 1, written: 1,
		},
		{
			name: "a stream-stream join counts null keys and values of either side",
			build: func(bl *topology.Builder) {
				joined := topology.JoinWindowed(topology.StreamFrom(bl, "in", serde.String(), serde.String()),
					topology.StreamFrom(bl, "other", serde.String(), serde.String()), "join",
					topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0), func(_, v, o string) string { return v + o })
				topology.To(joined, "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("in", nil, raw("x"))
				r.pipe("other", raw("a"), nil)
				r.pipe("other", nil, raw("y"))
				r.pipe("in", raw("a"), raw("x"))
				r.pipe("other", raw("a"), raw("y"))
			},
			dropped: 3, written: 1,
		},
		{
			name: "a stream-stream left join forwards a left null key and counts a right one",
			build: func(bl *topology.Builder) {
				joined := topology.LeftJoinWindowed(topology.StreamFrom(bl, "in", serde.String(), serde.String()),
					topology.StreamFrom(bl, "other", serde.String(), serde.String()), "join",
					topology.JoinWindowsOfTimeDifferenceAndGrace(time.Second, 0), func(_, v, o string, _ bool) string { return v + o })
				topology.To(joined, "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("in", nil, raw("x"))
				r.pipe("other", nil, raw("y"))
			},
			dropped: 1, written: 1,
		},
		{
			name: "a global table join counts a null value and a key selector's null",
			build: func(bl *topology.Builder) {
				global := topology.GlobalTableFrom(bl, "global", "global-store", serde.Bytes(), serde.String())
				joined := topology.JoinGlobal(topology.StreamFrom(bl, "in", serde.String(), serde.String()), global,
					func(_, v string) []byte {
						if v == "none" {
							return nil
						}
						return []byte(v)
					},
					func(v, g string) string { return v + g })
				topology.To(joined, "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("global", raw("p"), raw("1"))
				r.pipe("in", raw("a"), nil)
				r.pipe("in", raw("a"), raw("none"))
				r.pipe("in", raw("a"), raw("missing"))
				r.pipe("in", raw("a"), raw("p"))
			},
			dropped: 2, written: 1,
		},
		{
			name: "operators that ignore nothing count nothing",
			build: func(bl *topology.Builder) {
				s := topology.Filter(topology.StreamFrom(bl, "in", serde.String(), serde.String()), func(k, _ string) bool { return k != "skip" })
				topology.To(s, "out", serde.String(), serde.String())
			},
			pipe: func(r *dropRun) {
				r.pipe("in", nil, raw("x"))
				r.pipe("in", raw("a"), nil)
				r.pipe("in", raw("skip"), raw("filtered, not dropped"))
			},
			dropped: 0, written: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bl := topology.NewBuilder()
			c.build(bl)
			d := startDriver(t, bl, eddytest.ApplicationID("app"))
			c.pipe(&dropRun{t: t, d: d})
			if got := d.DroppedRecords(); got != int64(c.dropped) {
				t.Errorf("DroppedRecords() = %d, want %d", got, c.dropped)
			}
			if got := len(d.Written("out")); got != c.written {
				t.Errorf("%d records written to out, want %d", got, c.written)
			}
		})
	}
}

func TestWindowedAggregationsCountLateRecordsOncePerClosedWindow(t *testing.T) {
	lateTo := func(late *int) func(topology.LateRecord[string, string]) error {
		return func(topology.LateRecord[string, string]) error { *late++; return nil }
	}
	cases := []struct {
		name string
		// build adds the aggregation of "in", reporting late records to handler.
		build   func(b *topology.Builder, handler func(topology.LateRecord[string, string]) error)
		records []winPiped
		// dropped is the expected count; the late-record handler must have been called as
		// often.
		dropped int
	}{
		{
			name: "a tumbling window counts a record later than its window's end plus grace",
			build: func(bl *topology.Builder, handler func(topology.LateRecord[string, string]) error) {
				w := topology.WindowedBy(topology.GroupByKey(topology.StreamFrom(bl, winInput, serde.String(), serde.String()), ""),
					topology.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond))
				topology.CountWindowed(w.OnLateRecord(handler), "counts")
			},
			// Stream time 15 closes [0,10) (10 + 5 <= 15): 9 is late; 12 is in [10,20), open.
			records: []winPiped{{"a", "x", 5}, {"a", "x", 15}, {"a", "late", 9}, {"a", "x", 12}},
			dropped: 1,
		},
		{
			name: "a hopping window counts a record once for each closed window it belongs to",
			build: func(bl *topology.Builder, handler func(topology.LateRecord[string, string]) error) {
				w := topology.WindowedBy(topology.GroupByKey(topology.StreamFrom(bl, winInput, serde.String(), serde.String()), ""),
					topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond).AdvanceBy(5*time.Millisecond))
				topology.CountWindowed(w.OnLateRecord(handler), "counts")
			},
			// At stream time 30, windows ending at 30 or before are closed: 12 is in [5,15)
			// and [10,20), both closed; 27 is in [20,30), closed, and [25,35), open.
			records: []winPiped{{"a", "x", 30}, {"a", "late", 12}, {"a", "half late", 27}},
			dropped: 3,
		},
		{
			name: "a sliding window counts a record too late for every window it could be in once",
			build: func(bl *topology.Builder, handler func(topology.LateRecord[string, string]) error) {
				w := topology.WindowedBy(topology.GroupByKey(topology.StreamFrom(bl, winInput, serde.String(), serde.String()), ""),
					topology.SlidingWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond))
				topology.CountWindowed(w.OnLateRecord(handler), "counts")
			},
			// Every window holding 50 ends by 60, closed at stream time 100.
			records: []winPiped{{"a", "x", 100}, {"a", "late", 50}},
			dropped: 1,
		},
		{
			name: "a session window counts a record whose session had closed",
			build: func(bl *topology.Builder, handler func(topology.LateRecord[string, string]) error) {
				s := topology.WindowedBySession(topology.GroupByKey(topology.StreamFrom(bl, winInput, serde.String(), serde.String()), ""),
					topology.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 2*time.Millisecond))
				topology.CountSession(s.OnLateRecord(handler), "sessions")
			},
			// At stream time 19 a session ending at 9 closed (19 > 9 + 5 + 2); one ending at
			// 12 is open (19 = 12 + 5 + 2).
			records: []winPiped{{"a", "x", 10}, {"b", "x", 19}, {"c", "late", 9}, {"d", "x", 12}},
			dropped: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			late := 0
			bl := topology.NewBuilder()
			c.build(bl, lateTo(&late))
			d := startDriver(t, bl, eddytest.ApplicationID("app"))
			pipeWindowed(t, d, c.records...)
			if got := d.DroppedRecords(); got != int64(c.dropped) {
				t.Errorf("DroppedRecords() = %d, want %d", got, c.dropped)
			}
			if late != c.dropped {
				t.Errorf("the late-record handler was called %d times, want %d", late, c.dropped)
			}
		})
	}
}

// Null keys and values count in windowed and session aggregations too, without reaching
// the late-record handler.
func TestWindowedAggregationsCountNullKeysAndValues(t *testing.T) {
	for _, kind := range []string{"time", "sliding", "session"} {
		t.Run(kind, func(t *testing.T) {
			late := 0
			handler := func(topology.LateRecord[string, string]) error { late++; return nil }
			bl := topology.NewBuilder()
			g := topology.GroupByKey(topology.StreamFrom(bl, winInput, serde.String(), serde.String()), "")
			switch kind {
			case "time":
				topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(time.Second)).OnLateRecord(handler), "counts")
			case "sliding":
				topology.CountWindowed(topology.WindowedBy(g, topology.SlidingWindowsOfTimeDifferenceWithNoGrace(time.Second)).OnLateRecord(handler), "counts")
			case "session":
				topology.CountSession(topology.WindowedBySession(g, topology.SessionWindowsOfInactivityGapWithNoGrace(time.Second)).OnLateRecord(handler), "counts")
			}
			d := startDriver(t, bl, eddytest.ApplicationID("app"))
			r := &dropRun{t: t, d: d}
			r.pipe(winInput, nil, raw("x"))
			r.pipe(winInput, raw("a"), nil)
			r.pipe(winInput, raw("a"), raw("x"))
			if got := d.DroppedRecords(); got != 2 {
				t.Errorf("DroppedRecords() = %d, want 2", got)
			}
			if late != 0 {
				t.Errorf("the late-record handler was called %d times for null keys and values", late)
			}
		})
	}
}
