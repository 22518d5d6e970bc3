package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
)

// bufferingTask is countingTask with n records of "in" added and none processed.
func bufferingTask(t *testing.T, p int32, n int) *task.Task {
	t.Helper()
	rt := countingTask(t, p)
	inputs := make([]task.Input, n)
	for i := range inputs {
		inputs[i] = task.Input{Topic: "in", Partition: p, Offset: int64(i), Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(int64(i))}
	}
	if err := rt.Add(inputs); err != nil {
		t.Fatal(err)
	}
	return rt
}

func processN(t *testing.T, rt *task.Task, n int) {
	t.Helper()
	for range n {
		if _, err := rt.Process(); err != nil {
			t.Fatal(err)
		}
	}
}

// Kafka Streams pauses a partition whose task buffers buffered.records.per.partition
// records or more, and resumes it once the task holds fewer.
func TestFetchGatePausesFullPartitionsAndResumesThemWhenDrained(t *testing.T) {
	var calls []string
	g := &fetchGate{
		max:    10,
		pause:  func(p map[string][]int32) { calls = append(calls, fmt.Sprint("pause ", p)) },
		resume: func(p map[string][]int32) { calls = append(calls, fmt.Sprint("resume ", p)) },
		paused: map[topicPartition]processor.TaskID{},
	}
	full, light := bufferingTask(t, 0, 10), bufferingTask(t, 1, 9)
	tasks := map[processor.TaskID]*task.Task{full.ID(): full, light.ID(): light}
	check := func(step string, want ...string) {
		t.Helper()
		if fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Fatalf("%s: calls %q, want %q", step, calls, want)
		}
		calls = nil
	}

	g.update(tasks)
	check("a task holding 10 of a bound of 10", "pause map[in:[0]]")
	g.update(tasks)
	check("nothing changed")
	processN(t, full, 1)
	g.update(tasks)
	check("the task went below the bound", "resume map[in:[0]]")

	if err := light.Add([]task.Input{{Topic: "in", Partition: 1, Offset: 9, Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(9)}}); err != nil {
		t.Fatal(err)
	}
	g.update(tasks)
	check("the other task reached the bound", "pause map[in:[1]]")
	delete(tasks, light.ID())
	g.update(tasks)
	check("its task was revoked: franz-go would keep it paused", "resume map[in:[1]]")
}
