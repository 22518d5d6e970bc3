package engine

import (
	"log/slog"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

type discardCollector struct{}

func (discardCollector) Send(string, int32, []byte, []byte, time.Time, []processor.Header) {}
func (discardCollector) Partitions(string) (int32, error)                                  { return 1, nil }

// countingTask runs, on partition p, a task that counts "in" per key, dropping the
// records with a null key, and processes records (a nil key is Kafka's null).
func countingTask(t *testing.T, p int32, keys ...[]byte) *task.Task {
	t.Helper()
	b := topology.NewBuilder()
	topology.Count(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), ""), "counts")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	id := processor.TaskID{Partition: p}
	tk, err := task.New(task.Config{ID: id, ApplicationID: "app", Subtopology: plan.Of(topo).Complete("app").Subtopologies[0], DB: db, Collector: discardCollector{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Init(); err != nil {
		t.Fatal(err)
	}
	var inputs []task.Input
	for i, k := range keys {
		inputs = append(inputs, task.Input{Topic: "in", Partition: p, Offset: int64(i), Key: k, Value: []byte("v"), Timestamp: time.UnixMilli(int64(i))})
	}
	if err := tk.Add(inputs); err != nil {
		t.Fatal(err)
	}
	for {
		ok, err := tk.Process()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	return tk
}

// Stats total the tasks that run and those that closed (revoked, lost or shut down), as
// for Processed: a rebalance must not take a task's counts away.
func TestStatsKeepTheDroppedRecordsOfClosedTasks(t *testing.T) {
	stats := &runStats{}
	e := &membership{Engine: &Engine{cfg: Config{PublishStats: stats.publish}, log: slog.New(slog.DiscardHandler)}, tasks: map[processor.TaskID]*task.Task{}}
	first := countingTask(t, 0, []byte("a"), nil, nil)
	second := countingTask(t, 1, nil, []byte("b"))
	e.tasks[first.ID()], e.tasks[second.ID()] = first, second
	e.publishStats()
	if got := stats.DroppedRecords.Load(); got != 3 {
		t.Errorf("DroppedRecords with both tasks running = %d, want 3", got)
	}
	if got := stats.Processed.Load(); got != 5 {
		t.Errorf("Processed with both tasks running = %d, want 5", got)
	}

	delete(e.tasks, first.ID())
	e.closeTasks(map[processor.TaskID]*task.Task{first.ID(): first}, true)
	e.publishStats()
	if got := stats.DroppedRecords.Load(); got != 3 {
		t.Errorf("DroppedRecords after a task closed = %d, want 3", got)
	}

	all := e.tasks
	e.tasks = map[processor.TaskID]*task.Task{}
	e.closeTasks(all, true)
	e.publishStats()
	if got := stats.DroppedRecords.Load(); got != 3 {
		t.Errorf("DroppedRecords after every task closed = %d, want 3", got)
	}
}
