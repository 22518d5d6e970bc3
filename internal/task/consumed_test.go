package task_test

import (
	"encoding/binary"
	"maps"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

// TestCommitOffsetsFollowProcessedSkippedAndAbortedRecords checks the offsets a task
// gives the engine to commit (PrepareCommit): after the records processed or skipped and
// the transaction markers, not after those only queued, only those that moved since the
// last commit, and none after an abort, which takes the task back to its last commit.
func TestCommitOffsetsFollowProcessedSkippedAndAbortedRecords(t *testing.T) {
	b := topology.NewBuilder()
	topology.To(topology.Merge(
		topology.StreamFrom(b, "a", serde.String(), serde.Int64()),
		topology.StreamFrom(b, "b", serde.String(), serde.Int64()),
	), "out", serde.String(), serde.Int64())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := task.New(task.Config{ApplicationID: "app", Subtopology: plan.Of(topo).Complete("app").Subtopologies[0], DB: db, Collector: &sent{}, Errors: task.ErrorPolicy{Deserialization: processor.LogAndContinue}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Init(); err != nil {
		t.Fatal(err)
	}
	defer tk.Close(true)

	one := binary.BigEndian.AppendUint64(nil, 1)
	input := func(topic string, offset int64, value []byte) task.Input {
		return task.Input{Topic: topic, Offset: offset, Key: []byte("k"), Value: value, Timestamp: time.UnixMilli(offset)}
	}
	process := func(n int) {
		t.Helper()
		for range n {
			if ok, err := tk.Process(); err != nil || !ok {
				t.Fatalf("Process() = %v, %v", ok, err)
			}
		}
	}
	check := func(when string, want map[string]int64) {
		t.Helper()
		got, err := tk.PrepareCommit()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: PrepareCommit() = %v, want %v", when, got, want)
		}
	}

	check("at first", map[string]int64{})
	if err := tk.Add([]task.Input{input("a", 10, one), input("a", 11, one), input("b", 20, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	check("after a skipped record", map[string]int64{"b": 21})
	process(1)
	check("after one record of a", map[string]int64{"a": 11, "b": 21})
	process(1)
	check("after both records of a", map[string]int64{"a": 12, "b": 21})

	if err := tk.Add([]task.Input{input("a", 12, one), input("b", 21, one)}); err != nil {
		t.Fatal(err)
	}
	if err := tk.PostCommit(func(string, int32) (int64, bool) { return 0, false }); err != nil {
		t.Fatal(err)
	}
	check("after a commit", map[string]int64{})

	if err := tk.Add([]task.Input{input("a", 12, one), input("b", 21, one)}); err != nil {
		t.Fatal(err)
	}
	process(1)
	check("after a record since the commit", map[string]int64{"a": 13})
	if err := tk.Abort(); err != nil {
		t.Fatal(err)
	}
	check("after an abort", map[string]int64{})
	if ok, err := tk.Process(); ok || err != nil {
		t.Fatalf("Process() after an abort = %v, %v; want nothing queued", ok, err)
	}
	if err := tk.Add([]task.Input{input("b", 21, one)}); err != nil {
		t.Fatal(err)
	}
	process(1)
	check("after a record processed again", map[string]int64{"b": 22})

	// A record skipped behind records still queued must not be committed past them:
	// after a crash they would never be read again.
	if err := tk.Add([]task.Input{input("b", 22, one), input("b", 23, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	check("after a skipped record behind a queued one", map[string]int64{"b": 22})
	process(1)
	check("after the queued record", map[string]int64{"b": 24})

	// Transaction markers are never processed; committed offsets step over them, at once
	// when nothing is queued before them, else with the records before them.
	marker := func(topic string, offset int64) task.Input {
		return task.Input{Topic: topic, Offset: offset, Control: true}
	}
	if err := tk.Add([]task.Input{marker("a", 13), input("b", 24, one), marker("b", 25)}); err != nil {
		t.Fatal(err)
	}
	check("after markers, one behind a queued record", map[string]int64{"a": 14, "b": 24})
	process(1)
	check("after the record before the marker", map[string]int64{"a": 14, "b": 26})
	if ok, err := tk.Process(); ok || err != nil {
		t.Fatalf("Process() with only markers added = %v, %v; want nothing to process", ok, err)
	}
}
