package topology_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The rules these tests check come from Kafka Streams' documentation (3.x/4.x javadoc):
//   - TimeWindows: "hopping windows with size of 5000ms and advance of 3000ms, have window
//     boundaries [0;5000),[3000;8000)": start included, end excluded, aligned to the epoch
//     (https://kafka.apache.org/37/javadoc/org/apache/kafka/streams/kstream/TimeWindows.html).
//     KStreamWindowAggregate updates a window while windowEnd > stream time - grace, so a
//     window closes when end + grace <= stream time.
//   - SlidingWindows: "the given maximum time difference (inclusive) between records in the
//     same window", "a window is closed when stream-time > window-end + grace-period", and
//     the worked example of three records at 8000, 9200, 12400
//     (https://kafka.apache.org/44/javadoc/org/apache/kafka/streams/kstream/SlidingWindows.html).
//   - SessionWindows: see dsl_session_test.go.

const winInput = "in"

func winMs(n int64) time.Time { return time.UnixMilli(n) }

// windowedOut is a record of a windowed aggregation's output topic; a tombstone has no
// value.
type windowedOut[V any] struct {
	key        string
	start, end int64
	value      V
	tombstone  bool
	timestamp  int64
}

func (o windowedOut[V]) String() string {
	v := fmt.Sprint(o.value)
	if o.tombstone {
		v = "null"
	}
	return fmt.Sprintf("%s[%d,%d]=%s@%d", o.key, o.start, o.end, v, o.timestamp)
}

// outputs reads the records of a windowed aggregation's output topic.
type winOutputs[V any] struct {
	out *eddytest.Output[topology.Windowed[string], V]
}

func newWinOutputs[V any](d *eddytest.Driver, topic string, keys serde.Serde[topology.Windowed[string]], values serde.Serde[V]) *winOutputs[V] {
	return &winOutputs[V]{out: eddytest.OutputTopic(d, topic, keys, values)}
}

// next returns the records written since the last call.
func (o *winOutputs[V]) next(t *testing.T) []windowedOut[V] {
	t.Helper()
	records, err := o.out.ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	var out []windowedOut[V]
	for _, r := range records {
		out = append(out, windowedOut[V]{key: r.Key.Key, start: r.Key.Start.UnixMilli(), end: r.Key.End.UnixMilli(), value: r.Value, tombstone: r.ValueNull, timestamp: r.Timestamp.UnixMilli()})
	}
	return out
}

func expectWindowed[V any](t *testing.T, what string, got []windowedOut[V], want ...windowedOut[V]) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func winRec[V any](key string, start, end int64, value V, timestamp int64) windowedOut[V] {
	return windowedOut[V]{key: key, start: start, end: end, value: value, timestamp: timestamp}
}

func winTombstone[V any](key string, start, end, timestamp int64) windowedOut[V] {
	return windowedOut[V]{key: key, start: start, end: end, tombstone: true, timestamp: timestamp}
}

type winPiped struct {
	key, value string
	at         int64
}

func pipeWindowed(t *testing.T, d *eddytest.Driver, records ...winPiped) {
	t.Helper()
	input := eddytest.InputTopic(d, winInput, serde.String(), serde.String())
	for _, r := range records {
		mustPipe(t, input, r.key, r.value, r.at)
	}
}

// countTimeWindows counts the records of in per key in windows, and writes the counts
// to out with Kafka Streams' time-windowed key format.
func countTimeWindows(t *testing.T, windows topology.TimeWindows, configure func(topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string]) (*eddytest.Driver, *winOutputs[int64]) {
	t.Helper()
	b := topology.NewBuilder(topology.RequireExplicitNames())
	grouped := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "by-key")
	windowed := topology.WindowedBy(grouped, windows)
	if configure != nil {
		windowed = configure(windowed)
	}
	keys := topology.TimeWindowedSerde(serde.String(), windows.Size())
	topology.To(topology.ToStream(topology.CountWindowed(windowed, "counts")), "out", keys, serde.Int64())
	d := startDriver(t, b, eddytest.ApplicationID("app"))
	return d, newWinOutputs(d, "out", keys, serde.Int64())
}

func collectLateRecords(late *[]topology.LateRecord[string, string]) func(topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string] {
	return func(w topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string] {
		return w.OnLateRecord(func(r topology.LateRecord[string, string]) error {
			*late = append(*late, r)
			return nil
		})
	}
}

// Kafka Streams' TimeWindows are [start, end): a record at a window's end is in the next.
func TestTumblingWindowsPutARecordAtAWindowsEndInTheNextWindow(t *testing.T) {
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond), nil)
	pipeWindowed(t, d, winPiped{"a", "x", 0}, winPiped{"a", "x", 9}, winPiped{"a", "x", 10}, winPiped{"a", "x", 19}, winPiped{"a", "x", 20})
	expectWindowed(t, "counts", out.next(t),
		winRec[int64]("a", 0, 10, 1, 0), winRec[int64]("a", 0, 10, 2, 9),
		winRec[int64]("a", 10, 20, 1, 10), winRec[int64]("a", 10, 20, 2, 19),
		winRec[int64]("a", 20, 30, 1, 20))
}

// KStreamWindowAggregate accepts a record for a window while end > stream time - grace,
// and its output timestamp is the largest record timestamp of the window.
func TestOutOfOrderRecordsWithinGraceAreCounted(t *testing.T) {
	var late []topology.LateRecord[string, string]
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond), collectLateRecords(&late))
	pipeWindowed(t, d,
		winPiped{"a", "x", 12}, // stream time 12; [0,10) closes at 10 + 5 = 15
		winPiped{"a", "x", 8},  // out of order, within grace
		winPiped{"a", "x", 3},
		winPiped{"a", "x", 14}, // stream time 14
		winPiped{"a", "x", 9},  // still within grace
	)
	expectWindowed(t, "counts", out.next(t),
		winRec[int64]("a", 10, 20, 1, 12),
		winRec[int64]("a", 0, 10, 1, 8), winRec[int64]("a", 0, 10, 2, 8),
		winRec[int64]("a", 10, 20, 2, 14),
		winRec[int64]("a", 0, 10, 3, 9))
	if len(late) != 0 {
		t.Errorf("late records %v, want none", late)
	}
}

// Grace expiry: once end + grace <= stream time a window takes no more records; they go
// to the late-record handler with their metadata.
func TestRecordsAfterGraceAreDroppedAndReported(t *testing.T) {
	var late []topology.LateRecord[string, string]
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond), collectLateRecords(&late))
	pipeWindowed(t, d, winPiped{"a", "x", 5}, winPiped{"a", "x", 15}, winPiped{"a", "late", 9})
	expectWindowed(t, "counts", out.next(t), winRec[int64]("a", 0, 10, 1, 5), winRec[int64]("a", 10, 20, 1, 15))
	if len(late) != 1 {
		t.Fatalf("late records %v, want the record at 9", late)
	}
	r := late[0]
	if r.Key != "a" || r.Value != "late" || r.Timestamp.UnixMilli() != 9 {
		t.Errorf("late record %s=%s@%d, want a=late@9", r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	if !r.HasMetadata || r.Metadata != (processor.RecordMetadata{Topic: winInput, Partition: 0, Offset: 2}) {
		t.Errorf("late record metadata %+v (%t), want in/0/2", r.Metadata, r.HasMetadata)
	}
	if r.Window.Start.UnixMilli() != 0 || r.Window.End.UnixMilli() != 10 || r.Window.Key != "a" {
		t.Errorf("late record window %v, want a@[0,10)", r.Window)
	}
	if r.StreamTime.UnixMilli() != 15 || r.WindowClose.UnixMilli() != 15 {
		t.Errorf("late record stream time %d, window close %d; want 15 and 15 (end 10 + grace 5)", r.StreamTime.UnixMilli(), r.WindowClose.UnixMilli())
	}
}

// Hopping windows [0;5000),[3000;8000) as in Kafka Streams' TimeWindows example: a record
// is in size/advance windows (fewer near 0, where windows start).
func TestHoppingWindowsCountARecordInEachWindowThatContainsIt(t *testing.T) {
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(5000*time.Millisecond).AdvanceBy(3000*time.Millisecond), nil)
	pipeWindowed(t, d, winPiped{"a", "x", 1000}, winPiped{"a", "x", 4000}, winPiped{"a", "x", 6500})
	expectWindowed(t, "counts", out.next(t),
		winRec[int64]("a", 0, 5000, 1, 1000),
		winRec[int64]("a", 0, 5000, 2, 4000), winRec[int64]("a", 3000, 8000, 1, 4000),
		winRec[int64]("a", 3000, 8000, 2, 6500), winRec[int64]("a", 6000, 11000, 1, 6500))
}

// KStreamWindowAggregate drops a record only for the windows that closed: it still counts
// in the open ones, and each closed one is reported.
func TestALateHoppingRecordStillCountsInItsOpenWindows(t *testing.T) {
	var late []topology.LateRecord[string, string]
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond).AdvanceBy(5*time.Millisecond), collectLateRecords(&late))
	pipeWindowed(t, d, winPiped{"a", "x", 20}, winPiped{"a", "x", 17})
	// 17 is in [10,20), closed at stream time 20, and in [15,25), open.
	expectWindowed(t, "counts", out.next(t),
		winRec[int64]("a", 15, 25, 1, 20), winRec[int64]("a", 20, 30, 1, 20),
		winRec[int64]("a", 15, 25, 2, 20))
	if len(late) != 1 || late[0].Window.Start.UnixMilli() != 10 || late[0].Window.End.UnixMilli() != 20 {
		t.Fatalf("late records %v, want one for [10,20)", late)
	}
}

// EmitStrategy.onWindowClose: each window once, when stream time reaches end + grace, in
// window order; nothing for open windows; records for emitted windows are late.
func TestEmitOnWindowCloseEmitsEachWindowOnceAfterItCloses(t *testing.T) {
	var late []topology.LateRecord[string, string]
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond),
		func(w topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string] {
			return collectLateRecords(&late)(w.Emit(topology.EmitOnWindowClose))
		})
	pipeWindowed(t, d, winPiped{"b", "x", 1}, winPiped{"a", "x", 3}, winPiped{"a", "x", 12}, winPiped{"a", "x", 14}, winPiped{"b", "x", 9})
	expectWindowed(t, "before any window closed", out.next(t))

	pipeWindowed(t, d, winPiped{"b", "x", 15}) // [0,10) closes: 10 + 5 <= 15
	expectWindowed(t, "at stream time 15", out.next(t), winRec[int64]("a", 0, 10, 1, 3), winRec[int64]("b", 0, 10, 2, 9))

	pipeWindowed(t, d, winPiped{"a", "x", 8}, winPiped{"c", "x", 24})
	expectWindowed(t, "late record, then stream time 24", out.next(t))
	if len(late) != 1 || late[0].Timestamp.UnixMilli() != 8 {
		t.Errorf("late records %v, want the record at 8", late)
	}

	pipeWindowed(t, d, winPiped{"c", "x", 40}) // [10,20) and [20,30) close
	expectWindowed(t, "at stream time 40", out.next(t),
		winRec[int64]("a", 10, 20, 2, 14), winRec[int64]("b", 10, 20, 1, 15), winRec[int64]("c", 20, 30, 1, 24))

	pipeWindowed(t, d, winPiped{"c", "x", 41}, winPiped{"c", "x", 44})
	expectWindowed(t, "while [40,50) is open", out.next(t))
}

// Emission follows stream time: a window whose end + grace the wall clock passed is not
// emitted until a record moves stream time there, as in Kafka Streams.
func TestEmitOnWindowCloseFollowsStreamTimeNotTheWallClock(t *testing.T) {
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(time.Second),
		func(w topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string] {
			return w.Emit(topology.EmitOnWindowClose)
		})
	pipeWindowed(t, d, winPiped{"a", "x", 100})
	if err := d.AdvanceWallClock(time.Hour); err != nil {
		t.Fatal(err)
	}
	expectWindowed(t, "after an hour of wall-clock time", out.next(t))
	pipeWindowed(t, d, winPiped{"b", "x", 999})
	expectWindowed(t, "at stream time 999", out.next(t))
	pipeWindowed(t, d, winPiped{"b", "x", 1000})
	expectWindowed(t, "at stream time 1000", out.next(t), winRec[int64]("a", 0, 1000, 1, 100), winRec[int64]("b", 0, 1000, 1, 999))
}

func TestReduceWindowedAndAggregateWindowedFoldEachWindow(t *testing.T) {
	b := topology.NewBuilder()
	grouped := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "")
	windowed := topology.WindowedBy(grouped, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond))
	keys := topology.TimeWindowedSerde(serde.String(), 10*time.Millisecond)
	reduced := topology.ReduceWindowed(windowed, "longest", func(agg, v string) string {
		if len(v) > len(agg) {
			return v
		}
		return agg
	})
	topology.To(topology.ToStream(reduced), "longest", keys, serde.String())
	summed := topology.AggregateWindowed(windowed, "lengths", func() int64 { return 100 }, func(_ string, v string, agg int64) int64 { return agg + int64(len(v)) }, serde.Int64())
	topology.To(topology.ToStream(summed), "lengths", keys, serde.Int64())
	d := startDriver(t, b, eddytest.ApplicationID("app"))
	longest := newWinOutputs(d, "longest", keys, serde.String())
	lengths := newWinOutputs(d, "lengths", keys, serde.Int64())
	pipeWindowed(t, d, winPiped{"a", "xx", 1}, winPiped{"a", "xxx", 2}, winPiped{"a", "x", 3}, winPiped{"a", "y", 11})
	expectWindowed(t, "reduce", longest.next(t),
		winRec("a", 0, 10, "xx", 1), winRec("a", 0, 10, "xxx", 2), winRec("a", 0, 10, "xxx", 3), winRec("a", 10, 20, "y", 11))
	expectWindowed(t, "aggregate", lengths.next(t),
		winRec[int64]("a", 0, 10, 102, 1), winRec[int64]("a", 0, 10, 105, 2), winRec[int64]("a", 0, 10, 106, 3), winRec[int64]("a", 10, 20, 101, 11))
}

// Kafka Streams drops records with a null key or value from windowed aggregations.
func TestWindowedAggregationsDropNullKeysAndValues(t *testing.T) {
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond), nil)
	input := eddytest.InputTopic(d, winInput, serde.String(), serde.String())
	if err := input.PipeNullKey("x", winMs(1)); err != nil {
		t.Fatal(err)
	}
	if err := input.PipeNullValue("a", winMs(2)); err != nil {
		t.Fatal(err)
	}
	pipeWindowed(t, d, winPiped{"a", "x", 3})
	expectWindowed(t, "counts", out.next(t), winRec[int64]("a", 0, 10, 1, 3))
}

// Kafka Streams' windows start at 0 or later (TimeWindows#windowsFor): a record before
// the epoch is in no time or sliding window.
func TestRecordsBeforeTheEpochFallInNoWindow(t *testing.T) {
	d, out := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond), nil)
	pipeWindowed(t, d, winPiped{"a", "x", -5}, winPiped{"a", "x", 5})
	expectWindowed(t, "tumbling", out.next(t), winRec[int64]("a", 0, 10, 1, 5))
	ds, sliding := aggregateSliding(t, topology.SlidingWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond), nil)
	pipeWindowed(t, ds, winPiped{"a", "1", -5}, winPiped{"a", "2", 5})
	expectWindowed(t, "sliding", sliding.next(t), winRec("a", 0, 10, "2", 5))
}

func TestAnErrorOfTheLateRecordHandlerFailsTheTask(t *testing.T) {
	boom := errors.New("boom")
	d, _ := countTimeWindows(t, topology.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond),
		func(w topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string] {
			return w.OnLateRecord(func(topology.LateRecord[string, string]) error { return boom })
		})
	input := eddytest.InputTopic(d, winInput, serde.String(), serde.String())
	mustPipe(t, input, "a", "x", 20)
	if err := input.Pipe("a", "x", winMs(5)); !errors.Is(err, boom) {
		t.Fatalf("Pipe of a late record = %v, want the handler's error", err)
	}
}

// aggregateSliding aggregates the values of in per key in sliding windows, as the sorted
// list of their values, and writes them to out.
func aggregateSliding(t *testing.T, windows topology.SlidingWindows, configure func(topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string]) (*eddytest.Driver, *winOutputs[string]) {
	t.Helper()
	b := topology.NewBuilder()
	grouped := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "")
	windowed := topology.WindowedBy(grouped, windows)
	if configure != nil {
		windowed = configure(windowed)
	}
	keys := topology.TimeWindowedSerde(serde.String(), windows.TimeDifference())
	values := topology.AggregateWindowed(windowed, "values", func() string { return "" }, sortedList, serde.String())
	topology.To(topology.ToStream(values), "out", keys, serde.String())
	d := startDriver(t, b, eddytest.ApplicationID("app"))
	return d, newWinOutputs(d, "out", keys, serde.String())
}

// latest returns the last value of each window of outs, by "key[start,end]".
func latestWindows[V any](outs []windowedOut[V]) map[string]windowedOut[V] {
	m := map[string]windowedOut[V]{}
	for _, o := range outs {
		k := fmt.Sprintf("%s[%d,%d]", o.key, o.start, o.end)
		if o.tombstone {
			delete(m, k)
			continue
		}
		m[k] = o
	}
	return m
}

// The SlidingWindows javadoc example: with a time difference of 5000ms, records at 8000,
// 9200 and 12400 make exactly the windows [3000;8000] {1}, [4200;9200] {1,2},
// [7400;12400] {1,2,3}, [8001;13001] {2,3} and [9201;14201] {3}.
func TestSlidingWindowsMatchKafkaStreamsDocumentedExample(t *testing.T) {
	d, out := aggregateSliding(t, topology.SlidingWindowsOfTimeDifferenceWithNoGrace(5000*time.Millisecond), nil)
	pipeWindowed(t, d, winPiped{"A", "1", 8000}, winPiped{"A", "2", 9200}, winPiped{"A", "3", 12400})
	got := latestWindows(out.next(t))
	want := map[string]string{
		"A[3000,8000]":  "1",
		"A[4200,9200]":  "1 2",
		"A[7400,12400]": "1 2 3",
		"A[8001,13001]": "2 3",
		"A[9201,14201]": "3",
	}
	if len(got) != len(want) {
		t.Errorf("windows %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k].value != v {
			t.Errorf("window %s = %q, want %q (all: %v)", k, got[k].value, v, got)
		}
	}
}

// slidingWindowsByDefinition computes the windows of one key's records from the
// documented definition: every record's left window [t-d, t] ([0, d] for t < d, as
// Kafka Streams' windows start at 0 or later), and the right window [t+1, t+1+d] of
// every record that another record follows within it; each window holds the records in
// it (both ends included), and is stamped with the latest of them.
func slidingWindowsByDefinition(records []winPiped, d int64) map[string]windowedOut[string] {
	windows := map[[2]int64]bool{}
	for _, r := range records {
		windows[[2]int64{max(0, r.at-d), max(d, r.at)}] = true
		for _, o := range records {
			if o.at > r.at && o.at <= r.at+1+d {
				windows[[2]int64{r.at + 1, r.at + 1 + d}] = true
			}
		}
	}
	out := map[string]windowedOut[string]{}
	for w := range windows {
		var values []string
		stamp := int64(-1)
		for _, r := range records {
			if r.at >= w[0] && r.at <= w[1] {
				values = append(values, r.value)
				stamp = max(stamp, r.at)
			}
		}
		slices.Sort(values)
		out[fmt.Sprintf("%s[%d,%d]", records[0].key, w[0], w[1])] = winRec(records[0].key, w[0], w[1], strings.Join(values, " "), stamp)
	}
	return out
}

// Kafka Streams' sliding-window algorithm makes the windows that the definition implies,
// whatever order the records come in (within grace).
func TestSlidingWindowsMatchTheirDefinitionForOutOfOrderRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 60 {
		// Time differences of 10, 1 and 0ms; every fourth round has records before d,
		// which share the window [0, d].
		d := []int64{10, 1, 0}[round%3]
		from := d
		if round%4 == 0 {
			from = 0
		}
		var records []winPiped
		for i := range 12 {
			records = append(records, winPiped{"k", fmt.Sprintf("v%02d", i), from + rng.Int64N(60)})
		}
		t.Run(fmt.Sprintf("%d with d=%d", round, d), func(t *testing.T) {
			dr, out := aggregateSliding(t, topology.SlidingWindowsOfTimeDifferenceAndGrace(time.Duration(d)*time.Millisecond, time.Hour), nil)
			pipeWindowed(t, dr, records...)
			got, want := latestWindows(out.next(t)), slidingWindowsByDefinition(records, d)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("records %v:\n got %v\nwant %v", records, got, want)
			}
		})
	}
}

// A sliding window includes both ends ("maximum time difference (inclusive)") and closes
// once stream time > end + grace: a record exactly at the end of a closed window is
// reported for it and still counts in the open windows it is in.
func TestSlidingWindowsIncludeTheirEndAndCloseAfterEndPlusGrace(t *testing.T) {
	var late []topology.LateRecord[string, string]
	d, out := aggregateSliding(t, topology.SlidingWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond), collectLateRecords(&late))
	pipeWindowed(t, d, winPiped{"a", "1", 100}, winPiped{"a", "2", 110})
	expectWindowed(t, "two records 10ms apart", out.next(t),
		winRec("a", 90, 100, "1", 100),
		winRec("a", 101, 111, "2", 110), // the right window of 100
		winRec("a", 100, 110, "1 2", 110))
	if len(late) != 0 {
		t.Fatalf("late records %v, want none", late)
	}
	// Stream time 110: [90,100] is closed (110 > 100 + 0); [100,110] and [101,111] are
	// open, and the record at 100 belongs to [100,110] only.
	pipeWindowed(t, d, winPiped{"a", "3", 100})
	expectWindowed(t, "a record at 100 at stream time 110", out.next(t), winRec("a", 100, 110, "1 2 3", 110))
	if len(late) != 1 || late[0].Window.Start.UnixMilli() != 90 || late[0].Window.End.UnixMilli() != 100 || late[0].WindowClose.UnixMilli() != 101 {
		t.Fatalf("late records %v, want one for [90,100] closed at 101", late)
	}
	// A record whose every window ended before stream time - grace is dropped whole.
	pipeWindowed(t, d, winPiped{"a", "4", 99})
	expectWindowed(t, "a record at 99", out.next(t))
	if len(late) != 2 || late[1].Timestamp.UnixMilli() != 99 {
		t.Fatalf("late records %v, want the record at 99 too", late)
	}
}

func TestSlidingWindowsEmitOnWindowCloseOncePerWindow(t *testing.T) {
	d, out := aggregateSliding(t, topology.SlidingWindowsOfTimeDifferenceAndGrace(5000*time.Millisecond, 1000*time.Millisecond),
		func(w topology.TimeWindowedStream[string, string]) topology.TimeWindowedStream[string, string] {
			return w.Emit(topology.EmitOnWindowClose)
		})
	pipeWindowed(t, d, winPiped{"A", "1", 8000}, winPiped{"A", "2", 9200}, winPiped{"A", "3", 12400})
	// [3000,8000] closes when stream time > 8000 + 1000.
	expectWindowed(t, "at stream time 12400", out.next(t), winRec("A", 3000, 8000, "1", 8000), winRec("A", 4200, 9200, "1 2", 9200))
	pipeWindowed(t, d, winPiped{"B", "x", 14401})
	expectWindowed(t, "at stream time 14401", out.next(t), winRec("A", 7400, 12400, "1 2 3", 12400), winRec("A", 8001, 13001, "2 3", 12400))
	pipeWindowed(t, d, winPiped{"B", "y", 15202})
	expectWindowed(t, "at stream time 15202", out.next(t), winRec("A", 9201, 14201, "3", 12400))
}

func TestInvalidWindowsAreBuildProblems(t *testing.T) {
	cases := []struct {
		name  string
		build func(g topology.GroupedStream[string, string])
		want  string
	}{
		{"a window size of zero", func(g topology.GroupedStream[string, string]) {
			topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(0)), "c")
		}, "size 0s is not positive"},
		{"an advance larger than the size", func(g topology.GroupedStream[string, string]) {
			topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(time.Second).AdvanceBy(2*time.Second)), "c")
		}, "advance 2s is larger than the size 1s"},
		{"a negative grace", func(g topology.GroupedStream[string, string]) {
			topology.CountWindowed(topology.WindowedBy(g, topology.SlidingWindowsOfTimeDifferenceAndGrace(time.Second, -time.Second)), "c")
		}, "grace -1s is negative"},
		{"a fraction of a millisecond", func(g topology.GroupedStream[string, string]) {
			topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(1500*time.Microsecond)), "c")
		}, "not a whole number of milliseconds"},
		{"a retention shorter than size plus grace", func(g topology.GroupedStream[string, string]) {
			w := topology.WindowedBy(g, topology.TimeWindowsOfSizeAndGrace(time.Minute, time.Second)).WithRetention(time.Minute)
			topology.CountWindowed(w, "c")
		}, "retention 1m0s is shorter"},
		{"a generated store name under RequireExplicitNames", func(g topology.GroupedStream[string, string]) {
			topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(time.Second)), "")
		}, "generated name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder(topology.RequireExplicitNames())
			c.build(topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "g"))
			expectBuildProblem(t, b, c.want)
		})
	}
}

// sortedList folds a value into a sorted, space-separated list: an aggregate that shows
// exactly which records a window holds.
func sortedList(_ string, v, agg string) string {
	list := append(strings.Fields(agg), v)
	slices.Sort(list)
	return strings.Join(list, " ")
}

// windowedAggregation adds a windowed aggregation of g, named name, emitting with emit.
type windowedAggregation func(g topology.GroupedStream[string, string], emit topology.EmitStrategy, name string) topology.Table[topology.Windowed[string], string]

// checkEmitOnCloseMatchesUpdates runs the same records through an aggregation emitting
// on update and one emitting on close: EmitStrategy.onWindowClose must emit, for each
// window, the result that onWindowUpdate forwarded last, once, after the window closed,
// in the order windows close (by end, then start, then key). The records come out of
// order, some late, with big jumps of stream time past the stores' retention.
func checkEmitOnCloseMatchesUpdates(t *testing.T, aggregate windowedAggregation, keys serde.Serde[topology.Windowed[string]]) {
	t.Helper()
	b := topology.NewBuilder()
	g := topology.GroupByKey(topology.StreamFrom(b, winInput, serde.String(), serde.String()), "")
	topology.To(topology.ToStream(aggregate(g, topology.EmitOnWindowUpdate, "updates")), "updates", keys, serde.String())
	topology.To(topology.ToStream(aggregate(g, topology.EmitOnWindowClose, "finals")), "finals", keys, serde.String())
	d := startDriver(t, b, eddytest.ApplicationID("app"))
	rng := rand.New(rand.NewPCG(3, 4))
	var records []winPiped
	for i := range 300 {
		at := max(0, int64(i)*3+rng.Int64N(40)-20) + int64(i/50)*200 // a jump every 50 records
		records = append(records, winPiped{[]string{"a", "b", "c"}[rng.IntN(3)], fmt.Sprintf("v%03d", i), at})
	}
	pipeWindowed(t, d, records...)
	pipeWindowed(t, d, winPiped{"~flush", "x", 1_000_000})

	var want []windowedOut[string]
	for _, w := range latestWindows(newWinOutputs(d, "updates", keys, serde.String()).next(t)) {
		if w.key != "~flush" {
			want = append(want, w)
		}
	}
	slices.SortFunc(want, func(a, b windowedOut[string]) int {
		if a.end != b.end {
			return int(a.end - b.end)
		}
		if a.start != b.start {
			return int(a.start - b.start)
		}
		return strings.Compare(a.key, b.key)
	})
	if len(want) < 30 {
		t.Fatalf("only %d windows: the test does not exercise much", len(want))
	}
	expectWindowed(t, "final results", newWinOutputs(d, "finals", keys, serde.String()).next(t), want...)
}

func TestEmitOnWindowCloseEmitsTheLastUpdateOfEachWindowOnce(t *testing.T) {
	timeWindowed := func(w topology.FixedWindows) windowedAggregation {
		return func(g topology.GroupedStream[string, string], emit topology.EmitStrategy, name string) topology.Table[topology.Windowed[string], string] {
			return topology.AggregateWindowed(topology.WindowedBy(g, w).Emit(emit), name, func() string { return "" }, sortedList, serde.String())
		}
	}
	keys := topology.TimeWindowedSerde(serde.String(), 10*time.Millisecond)
	t.Run("tumbling windows", func(t *testing.T) {
		checkEmitOnCloseMatchesUpdates(t, timeWindowed(topology.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)), keys)
	})
	t.Run("hopping windows", func(t *testing.T) {
		w := topology.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond).AdvanceBy(3 * time.Millisecond)
		checkEmitOnCloseMatchesUpdates(t, timeWindowed(w), keys)
	})
	t.Run("sliding windows", func(t *testing.T) {
		checkEmitOnCloseMatchesUpdates(t, timeWindowed(topology.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)), keys)
	})
}
