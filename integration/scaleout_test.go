package integration_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// taskRegistry watches, across the instances of one test, which instance runs each task
// and when each task last processed a record.
type taskRegistry struct {
	mu         sync.Mutex
	owner      map[processor.TaskID]string
	violations []string
	// last is when each task last processed a record; gaps are the longest pause of each
	// task on an instance that kept it.
	last map[processor.TaskID]time.Time
	gaps map[processor.TaskID]time.Duration
	// moved are the tasks that ever started on a second instance.
	moved map[processor.TaskID]bool
	seen  map[processor.TaskID]bool
}

func newTaskRegistry() *taskRegistry {
	return &taskRegistry{
		owner: map[processor.TaskID]string{},
		last:  map[processor.TaskID]time.Time{},
		gaps:  map[processor.TaskID]time.Duration{},
		moved: map[processor.TaskID]bool{},
		seen:  map[processor.TaskID]bool{},
	}
}

func (r *taskRegistry) open(id processor.TaskID, instance string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if other, ok := r.owner[id]; ok {
		r.violations = append(r.violations, fmt.Sprintf("task %s started on %s while running on %s", id, instance, other))
	}
	if r.seen[id] {
		r.moved[id] = true
	}
	r.seen[id] = true
	r.owner[id] = instance
	delete(r.last, id)
}

func (r *taskRegistry) close(id processor.TaskID, instance string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.owner[id] == instance {
		delete(r.owner, id)
	}
}

// awaitSpread waits until every one of tasks runs, on exactly instances distinct
// instances, and then for settle more, so that input flows through the new assignment.
func (r *taskRegistry) awaitSpread(t *testing.T, tasks, instances int, settle time.Duration) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r.mu.Lock()
		owners := map[string]bool{}
		for _, instance := range r.owner {
			owners[instance] = true
		}
		running := len(r.owner)
		r.mu.Unlock()
		if running == tasks && len(owners) == instances {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d of %d tasks run, on %d instances, want %d", running, tasks, len(owners), instances)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(settle)
}

func (r *taskRegistry) processed(id processor.TaskID, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.last[id]; ok && at.Sub(last) > r.gaps[id] {
		r.gaps[id] = at.Sub(last)
	}
	r.last[id] = at
}

var tallies = store.KeyValue("tallies", serde.String(), serde.Int64())

// trackedCounter counts records per key and reports its task's life to a registry.
type trackedCounter struct {
	registry *taskRegistry
	instance string
	task     processor.TaskID
	kv       store.KV[string, int64]
}

func (c *trackedCounter) Init(ctx processor.InitContext) error {
	c.task = ctx.TaskID()
	c.kv = tallies.From(ctx)
	c.registry.open(c.task, c.instance)
	return nil
}

func (c *trackedCounter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	c.registry.processed(c.task, time.Now())
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	if err := c.kv.Put(r.Key, n+1); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n + 1, Timestamp: r.Timestamp})
	return nil
}

func (c *trackedCounter) Close() error {
	c.registry.close(c.task, c.instance)
	return nil
}

func trackedCountTopology(t *testing.T, in, out, instance string, registry *taskRegistry) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{in})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] {
		return &trackedCounter{registry: registry, instance: instance}
	}, "in")
	topology.AddStore(b, tallies, "count")
	topology.AddSink(b, "out", out, serde.String(), serde.Int64(), []string{"count"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestScaleOutAndInWhileInputFlows starts one instance, adds a second and a third while
// input flows, then stops one. Every task must run on one instance at a time, all input
// must be counted exactly (every rebalance here is clean: revoked tasks commit first),
// and the test reports how long tasks that did not move stopped processing.
func TestScaleOutAndInWhileInputFlows(t *testing.T) {
	t.Run("at least once", func(t *testing.T) { scaleOutAndIn(t) })
	t.Run("exactly once", func(t *testing.T) { scaleOutAndIn(t, eddy.ExactlyOnce()) })
}

func scaleOutAndIn(t *testing.T, opts ...eddy.Opt) {
	cluster := kafka.Cluster(t)
	const partitions = 6
	in := cluster.NewTopic(t, partitions, nil)
	out := cluster.NewTopic(t, partitions, nil)
	registry := newTaskRegistry()
	appID := in + "-app"
	start := func(name string) *instance {
		return startApp(t, name, cluster, trackedCountTopology(t, in, out, name, registry),
			append([]eddy.Opt{
				eddy.ApplicationID(appID),
				eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(100 * time.Millisecond),
			}, opts...)...,
		)
	}

	// Input flows for the whole test: a record every millisecond over 500 keys.
	want := map[string]int64{}
	producer := cluster.Client(t, kgo.DefaultProduceTopic(in))
	ctx, stopInput := context.WithCancel(t.Context())
	inputDone := make(chan error, 1)
	go func() {
		var err error
		for i := 0; ctx.Err() == nil; i++ {
			key := fmt.Sprintf("key-%03d", i%500)
			if err = producer.ProduceSync(t.Context(), kgo.KeyStringRecord(key, "x")).FirstErr(); err != nil {
				break
			}
			want[key]++
			time.Sleep(time.Millisecond)
		}
		inputDone <- err
	}()

	first := start("first")
	registry.awaitSpread(t, partitions, 1, 2*time.Second)
	second := start("second")
	registry.awaitSpread(t, partitions, 2, 2*time.Second)
	third := start("third")
	registry.awaitSpread(t, partitions, 3, 2*time.Second)
	second.stop(t)
	registry.awaitSpread(t, partitions, 2, 2*time.Second)
	stopInput()
	if err := <-inputDone; err != nil {
		t.Fatalf("producing input: %v", err)
	}

	awaitLatest(t, cluster, out, want, 2*time.Minute)
	first.stop(t)
	third.stop(t)

	registry.mu.Lock()
	defer registry.mu.Unlock()
	for _, v := range registry.violations {
		t.Error(v)
	}
	if len(registry.seen) != partitions {
		t.Errorf("%d tasks ran, want %d", len(registry.seen), partitions)
	}
	var stayed []time.Duration
	for _, id := range slices.SortedFunc(maps.Keys(registry.gaps), func(a, b processor.TaskID) int { return int(a.Partition - b.Partition) }) {
		if !registry.moved[id] {
			stayed = append(stayed, registry.gaps[id])
		}
	}
	if len(stayed) == 0 {
		t.Logf("every task moved at least once; no pause of a task that stayed to report")
		return
	}
	slices.Sort(stayed)
	t.Logf("%d of %d tasks never moved across 3 rebalances; their longest processing pause: median %s, max %s (input: a record every ~1 ms over %d partitions)",
		len(stayed), partitions, stayed[len(stayed)/2].Round(time.Millisecond), stayed[len(stayed)-1].Round(time.Millisecond), partitions)
}
