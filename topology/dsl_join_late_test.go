package topology_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The tests of this file follow late records through stream-stream joins, with what
// Kafka Streams writes derived from its code: a record is joined with the other side's
// window store (KStreamKStreamJoin#process), which returns only the records within its
// retention, before + after + grace, of the store's own observed stream time (the
// latest record put into it; AbstractRocksDBSegmentedBytesStore#fetch); then the record
// is put into its own side's store, which drops it, and counts it in the task's
// dropped-records metric, only when its whole segment has expired
// (AbstractSegments#getOrCreateSegmentIfLive). A left or outer record that joins
// nothing and whose window ended before the join's stream time is written at once.

// lateStep is a record piped to "left" or "right" (key "k") and what the inner, left and
// outer joins write for it, as "value@seconds".
type lateStep struct {
	topic, value       string
	at                 time.Duration
	inner, left, outer []string
}

// runLateSteps pipes steps through the three joins of buildWindowedJoins with windows,
// and checks what each join writes at each step.
func runLateSteps(t *testing.T, windows topology.JoinWindows, steps []lateStep) {
	t.Helper()
	d := startDriver(t, buildWindowedJoins(t, windows))
	outs := map[string]*joinReader{}
	for _, variant := range []string{"inner", "left", "outer"} {
		outs[variant] = &joinReader{d: d, topic: variant + "-out"}
	}
	for i, st := range steps {
		pipeJoin(t, d, st.topic, keyOf("k"), st.value, time.Unix(0, 0).Add(st.at))
		for variant, want := range map[string][]string{"inner": st.inner, "left": st.left, "outer": st.outer} {
			if got := lateValues(outs[variant].read()); !slices.Equal(got, want) {
				t.Errorf("step %d (%s=%s at %v): %s join wrote %v, want %v", i, st.topic, st.value, st.at, variant, got, want)
			}
		}
	}
}

// lateValues shows records as value@seconds.
func lateValues(records []joinOut) []string {
	var out []string
	for _, r := range records {
		out = append(out, r.value+"@"+(time.Duration(r.ts)*time.Millisecond).String())
	}
	return out
}

// The case of issue 13: windows of 10 s with a grace of 2 s keep each side's records for
// 22 s, in segments of a minute. The right store's observed time is 110 s when the left
// record at 70 s arrives: r1 at 61 s has expired, though both right records share a
// segment. Kafka Streams joins the late record with nothing: the inner join writes
// nothing; the left and outer joins write it at once with no right value (its window
// ended at 80 s, before stream time).
func TestJoinWindowedLateRecordFindsNothingTheOtherSideExpired(t *testing.T) {
	runLateSteps(t, topology.JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 2*time.Second), []lateStep{
		{topic: "right", value: "r1", at: 61 * time.Second},
		// r1's window closed at 61 + 10 + 2 s: the outer join writes it alone.
		{topic: "right", value: "r2", at: 110 * time.Second, outer: []string{"[null, r1]@1m1s"}},
		{topic: "left", value: "late", at: 70 * time.Second,
			left: []string{"[late, null]@1m10s"}, outer: []string{"[late, null]@1m10s"}},
	})
}

// A record of the other side that expired within the segment holding the other side's
// latest record is hidden, one in a later segment is not: windows of a minute without
// grace keep records for 2 min, in segments of a minute; after the right records at
// 59 s, 125 s and 179 s, the right store keeps what starts after 59 s. The meta record
// of the right store was last written at 125 s (the first record of its segment).
func TestJoinWindowedLateRecordJoinsOnlyWhatTheOtherSideKeeps(t *testing.T) {
	runLateSteps(t, topology.JoinWindowsOfTimeDifferenceWithNoGrace(time.Minute), []lateStep{
		{topic: "right", value: "a", at: 59 * time.Second},
		{topic: "right", value: "b", at: 125 * time.Second, outer: []string{"[null, a]@59s"}},
		{topic: "right", value: "c", at: 179 * time.Second},
		{topic: "left", value: "L", at: 65 * time.Second,
			inner: []string{"[L, b]@2m5s"}, left: []string{"[L, b]@2m5s"}, outer: []string{"[L, b]@2m5s"}},
	})
}

// Asymmetric windows: a left record at t joins the right records in [t - 2 s, t + 10 s],
// a right record at t the left records in [t - 10 s, t + 2 s]; both sides keep their
// records for 14 s. A late record of either side finds nothing of the other side older
// than the other side's latest record - 14 s.
func TestJoinWindowedLateRecordsWithAsymmetricWindows(t *testing.T) {
	windows := topology.JoinWindowsOfTimeDifferenceAndGrace(0, 2*time.Second).Before(2 * time.Second).After(10 * time.Second)
	t.Run("a late right record", func(t *testing.T) {
		runLateSteps(t, windows, []lateStep{
			{topic: "left", value: "A", at: 61 * time.Second},
			{topic: "left", value: "B", at: 75 * time.Second, left: []string{"[A, null]@1m1s"}, outer: []string{"[A, null]@1m1s"}},
			// A at 61 s is in [60 s, 72 s] but older than 75 - 14 s.
			{topic: "right", value: "late", at: 70 * time.Second, outer: []string{"[null, late]@1m10s"}},
		})
	})
	t.Run("a late left record", func(t *testing.T) {
		runLateSteps(t, windows, []lateStep{
			{topic: "right", value: "a", at: 61 * time.Second},
			{topic: "right", value: "b", at: 75 * time.Second, outer: []string{"[null, a]@1m1s"}},
			// The late record's window is [68 s, 80 s]: b at 75 s is in it, and kept.
			{topic: "left", value: "late", at: 70 * time.Second,
				inner: []string{"[late, b]@1m15s"}, left: []string{"[late, b]@1m15s"}, outer: []string{"[late, b]@1m15s"}},
		})
	})
	t.Run("a late left record looking back", func(t *testing.T) {
		back := topology.JoinWindowsOfTimeDifferenceAndGrace(0, 2*time.Second).Before(10 * time.Second).After(2 * time.Second)
		runLateSteps(t, back, []lateStep{
			{topic: "right", value: "a", at: 61 * time.Second},
			{topic: "right", value: "b", at: 75 * time.Second, outer: []string{"[null, a]@1m1s"}},
			// a at 61 s is in [60 s, 72 s] but older than 75 - 14 s.
			{topic: "left", value: "late", at: 70 * time.Second,
				left: []string{"[late, null]@1m10s"}, outer: []string{"[late, null]@1m10s"}},
		})
	})
}

// A self-join puts each record into both of its stores, one processor after the other:
// a late record finds neither its earlier records that expired nor itself (Kafka
// Streams, without the self-join optimization: the same two processors over one
// stream).
func TestJoinWindowedSelfJoinOfALateRecord(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.StreamFrom(b, "left", serde.String(), serde.String())
	topology.To(topology.JoinWindowed(s, s, "self", topology.JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 2*time.Second),
		func(_, v, o string) string { return joinArgs(v, true, o, true) }), "out", serde.String(), serde.String())
	runLeftSteps(t, b, []leftStep{
		{"v1", 61 * time.Second, []string{"[v1, v1]@1m1s"}, 0},
		{"v2", 110 * time.Second, []string{"[v2, v2]@1m50s"}, 0},
		// Kept in both stores (their segment lives), and hidden.
		{"late", 70 * time.Second, nil, 0},
	})
}

// A record is dropped from its own side's store, and counted, when its segment expired
// (Kafka Streams' expired-records, recorded in the task's dropped-records sensor): with
// records kept for 22 s in segments of a minute, after a left record at 130 s, a left
// record at 50 s (segment 0, before the segment of 130 - 22 s) is dropped and counted;
// one at 100 s (segment 1) is kept, though no read returns it. Both are still joined
// first: the left join writes them at once.
func TestJoinWindowedCountsTheRecordsItsStoreDrops(t *testing.T) {
	b := topology.NewBuilder()
	l := topology.StreamFrom(b, "left", serde.String(), serde.String())
	r := topology.StreamFrom(b, "right", serde.String(), serde.String())
	topology.To(topology.LeftJoinWindowed(l, r, "left", topology.JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 2*time.Second),
		func(_, v, o string, found bool) string { return joinArgs(v, true, o, found) }), "out", serde.String(), serde.String())
	runLeftSteps(t, b, []leftStep{
		{"A", 130 * time.Second, nil, 0},
		{"expired", 50 * time.Second, []string{"[expired, null]@50s"}, 1},
		{"hidden", 100 * time.Second, []string{"[hidden, null]@1m40s"}, 1},
	})
}

// leftStep is a record piped to "left" (key "k"), what the join then writes to "out",
// as value@time, and the driver's count of dropped records after it.
type leftStep struct {
	value   string
	at      time.Duration
	want    []string
	dropped int64
}

// runLeftSteps runs the topology of b on the test driver and checks each step.
func runLeftSteps(t *testing.T, b *topology.Builder, steps []leftStep) {
	t.Helper()
	d := startDriver(t, b)
	out := &joinReader{d: d, topic: "out"}
	for _, st := range steps {
		pipeJoin(t, d, "left", keyOf("k"), st.value, time.Unix(0, 0).Add(st.at))
		if got := lateValues(out.read()); !slices.Equal(got, st.want) {
			t.Errorf("%s at %v: wrote %v, want %v", st.value, st.at, got, st.want)
		}
		if got := d.DroppedRecords(); got != st.dropped {
			t.Errorf("after %s at %v: DroppedRecords() = %d, want %d", st.value, st.at, got, st.dropped)
		}
	}
}
