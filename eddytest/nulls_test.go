package eddytest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// passThrough returns a driver whose topology copies the topic "in" to "out" with the
// DSL, which keeps nulls.
func passThrough(t *testing.T) *eddytest.Driver {
	t.Helper()
	b := topology.NewBuilder()
	topology.To(topology.StreamFrom(b, "in", serde.String(), serde.Int64()), "out", serde.String(), serde.Int64())
	return newDriver(t, buildTopology(t, b))
}

func TestNullKeysAndValuesRoundTrip(t *testing.T) {
	d := passThrough(t)
	in := eddytest.InputTopic(d, "in", serde.String(), serde.Int64())
	out := eddytest.OutputTopic(d, "out", serde.String(), serde.Int64())
	headers := []processor.Header{{Key: "trace", Value: []byte("t1")}}
	if err := in.PipeNullValue("gone", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeNullKey(7, time.UnixMilli(2)); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeWithNulls(eddytest.TestRecord[string, int64]{Key: "ignored", KeyNull: true, ValueNull: true, Timestamp: time.UnixMilli(3)}); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeWithNulls(eddytest.TestRecord[string, int64]{Key: "k", Value: 0, Timestamp: time.UnixMilli(4), Headers: headers}); err != nil {
		t.Fatal(err)
	}
	want := []eddytest.TestRecord[string, int64]{
		{Key: "gone", ValueNull: true, Timestamp: time.UnixMilli(1)},
		{Value: 7, KeyNull: true, Timestamp: time.UnixMilli(2)},
		{KeyNull: true, ValueNull: true, Timestamp: time.UnixMilli(3)},
		{Key: "k", Value: 0, Timestamp: time.UnixMilli(4), Headers: headers},
	}
	got, err := out.ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadAllWithNulls() = %+v, want %+v", got, want)
	}
	raw := d.Written("in")
	if raw[0].Value != nil || raw[1].Key != nil || raw[2].Key != nil || raw[2].Value != nil || raw[3].Value == nil {
		t.Errorf("the input topic holds %+v: nulls must be nil bytes and the zero value 0 must not", raw)
	}
}

func TestReadAllWithNullsSharesTheReadPositionOfReadAll(t *testing.T) {
	d := passThrough(t)
	in := eddytest.InputTopic(d, "in", serde.String(), serde.Int64())
	out := eddytest.OutputTopic(d, "out", serde.String(), serde.Int64())
	if err := in.Pipe("a", 1, time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	if got, err := out.ReadAll(); err != nil || len(got) != 1 {
		t.Fatalf("ReadAll() = %v, %v; want the one record", got, err)
	}
	if err := in.PipeNullValue("a", time.UnixMilli(2)); err != nil {
		t.Fatal(err)
	}
	got, err := out.ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "a" || !got[0].ValueNull {
		t.Errorf("ReadAllWithNulls() = %+v, want only the tombstone of a", got)
	}
	if got, err := out.ReadAll(); err != nil || len(got) != 0 {
		t.Errorf("ReadAll() after ReadAllWithNulls = %v, %v; want nothing unread", got, err)
	}
}

func TestReadAllWithNullsReportsUndecodableRecordsWithoutMoving(t *testing.T) {
	b := topology.NewBuilder()
	topology.To(topology.StreamFrom(b, "in", serde.Bytes(), serde.Bytes()), "out", serde.Bytes(), serde.Bytes())
	d := newDriver(t, buildTopology(t, b))
	if err := d.PipeRaw("in", eddytest.Record{Key: []byte("k"), Value: []byte("short")}); err != nil {
		t.Fatal(err)
	}
	out := eddytest.OutputTopic(d, "out", serde.String(), serde.Int64())
	if _, err := out.ReadAllWithNulls(); err == nil {
		t.Fatal("ReadAllWithNulls() of a 5-byte int64 succeeded")
	}
	if _, err := out.ReadAllWithNulls(); err == nil {
		t.Error("a second ReadAllWithNulls() succeeded: the failed read moved the position")
	}
}

// ReadAll refuses a tombstone whatever the serde, even serde.String, which would read
// nil as "", and leaves it for ReadAllWithNulls.
func TestReadAllRefusesATombstoneWhateverTheSerde(t *testing.T) {
	b := topology.NewBuilder()
	topology.To(topology.StreamFrom(b, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	d := newDriver(t, buildTopology(t, b))
	in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
	out := eddytest.OutputTopic(d, "out", serde.String(), serde.String())
	if err := in.Pipe("a", "", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeNullValue("a", time.UnixMilli(2)); err != nil {
		t.Fatal(err)
	}
	got, err := out.ReadAll()
	if err == nil || !strings.Contains(err.Error(), "record 1 has a null value (a tombstone)") || !strings.Contains(err.Error(), "ReadAllWithNulls") {
		t.Fatalf("ReadAll() of a tombstone: error %v, want one that names record 1 and ReadAllWithNulls", err)
	}
	if want := []processor.Record[string, string]{{Key: "a", Value: "", Timestamp: time.UnixMilli(1)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadAll() returned %+v before the tombstone, want %+v", got, want)
	}
	withNulls, err := out.ReadAllWithNulls()
	if err != nil {
		t.Fatal(err)
	}
	want := []eddytest.TestRecord[string, string]{
		{Key: "a", Value: "", Timestamp: time.UnixMilli(1)},
		{Key: "a", ValueNull: true, Timestamp: time.UnixMilli(2)},
	}
	if !reflect.DeepEqual(withNulls, want) {
		t.Errorf("ReadAllWithNulls() after the failed ReadAll = %+v, want %+v (the empty string, then the tombstone)", withNulls, want)
	}
	if err := in.PipeNullKey("v", time.UnixMilli(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := out.ReadAll(); err == nil || !strings.Contains(err.Error(), "null key") {
		t.Errorf("ReadAll() of a null key: %v, want an error naming it", err)
	}
}

// LatestValues reads a topic as compaction would keep it: a tombstone deletes its key.
func TestLatestValuesDeletesTheKeysOfTombstones(t *testing.T) {
	d := passThrough(t)
	in := eddytest.InputTopic(d, "in", serde.String(), serde.Int64())
	out := eddytest.OutputTopic(d, "out", serde.String(), serde.Int64())
	for _, step := range []func() error{
		func() error { return in.Pipe("a", 1, time.UnixMilli(1)) },
		func() error { return in.Pipe("b", 2, time.UnixMilli(2)) },
		func() error { return in.PipeNullValue("a", time.UnixMilli(3)) },
		func() error { return in.PipeNullValue("c", time.UnixMilli(4)) },
		func() error { return in.Pipe("b", 3, time.UnixMilli(5)) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := eddytest.LatestValues(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"b": 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("LatestValues() = %v, want %v", got, want)
	}
}
