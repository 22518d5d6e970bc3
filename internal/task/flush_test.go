package task_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

// holder keeps the latest record of each key until it is flushed, as a record cache
// does, and logs its flushes and discards.
type holder struct {
	name string
	log  *[]string
	fail error

	ctx   processor.Context[string, string]
	keys  []string
	held  map[string]processor.Record[string, string]
	calls int
}

func (h *holder) Init(ctx processor.InitContext) error {
	h.ctx = ctx.(processor.Context[string, string])
	h.held = map[string]processor.Record[string, string]{}
	return nil
}

func (h *holder) Process(_ processor.Context[string, string], r processor.Record[string, string]) error {
	if _, ok := h.held[r.Key]; !ok {
		h.keys = append(h.keys, r.Key)
	}
	h.held[r.Key] = r
	return nil
}

func (h *holder) Flush() error {
	*h.log = append(*h.log, fmt.Sprintf("flush %s (%d held)", h.name, len(h.keys)))
	if h.fail != nil {
		return h.fail
	}
	for _, k := range h.keys {
		h.ctx.Forward(h.held[k])
	}
	h.keys, h.held = nil, map[string]processor.Record[string, string]{}
	return nil
}

func (h *holder) Discard() {
	*h.log = append(*h.log, fmt.Sprintf("discard %s (%d held)", h.name, len(h.keys)))
	h.keys, h.held = nil, map[string]processor.Record[string, string]{}
}

// sent is what a task sent, as key=value@topic.
type sent struct{ records []string }

func (s *sent) Send(topic string, _ int32, key, value []byte, _ time.Time, _ []processor.Header) {
	s.records = append(s.records, fmt.Sprintf("%s=%s@%s", key, value, topic))
}

func (s *sent) Partitions(string) (int32, error) { return 1, nil }

// newTask starts the task of subtopology 0 of topo, partition 0.
func newTask(t *testing.T, topo *topology.Topology, c task.Collector, globals map[string]store.KeyValueStore) *task.Task {
	t.Helper()
	engine := memstore.New()
	db, err := engine.Open("")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := task.New(task.Config{
		ID:            processor.TaskID{},
		ApplicationID: "app",
		Subtopology:   plan.Of(topo).Complete("app").Subtopologies[0],
		DB:            db,
		Collector:     c,
		GlobalStores:  globals,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tk.Close(true); err != nil {
			t.Error(err)
		}
	})
	return tk
}

// pipe adds records key=value to topic "in" of a task and processes them.
func pipe(t *testing.T, tk *task.Task, offset int64, kvs ...string) {
	t.Helper()
	var inputs []task.Input
	for i, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		inputs = append(inputs, task.Input{Topic: "in", Offset: offset + int64(i), Key: []byte(k), Value: []byte(v), Timestamp: time.UnixMilli(offset + int64(i))})
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
			return
		}
	}
}

// holdingTopology reads "in" through two holders in a row, and a processor that is not
// a Flusher between them, into "out".
func holdingTopology(t *testing.T, log *[]string, fail error) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "first", func() processor.Processor[string, string, string, string] {
		return &holder{name: "first", log: log}
	}, "in")
	topology.AddProcessor(b, "upper", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			r.Value = strings.ToUpper(r.Value)
			ctx.Forward(r)
			return nil
		})
	}, "first")
	topology.AddProcessor(b, "second", func() processor.Processor[string, string, string, string] {
		return &holder{name: "second", log: log, fail: fail}
	}, "upper")
	topology.AddSink(b, "out", "out", serde.String(), serde.String(), []string{"second"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestFlushForwardsWhatProcessorsHoldParentsFirst(t *testing.T) {
	var log []string
	out := &sent{}
	tk := newTask(t, holdingTopology(t, &log, nil), out, nil)

	pipe(t, tk, 0, "a=1", "b=1", "a=2")
	if len(out.records) != 0 {
		t.Fatalf("sent %v before a flush", out.records)
	}
	if _, err := tk.PrepareCommit(); err != nil {
		t.Fatal(err)
	}
	// One flush carries the records through both holders: the first flushes into the
	// second, which flushes next. Updates of a key collapsed.
	if want := []string{"a=2@out", "b=1@out"}; !slices.Equal(out.records, want) {
		t.Errorf("sent %v, want %v", out.records, want)
	}
	if want := []string{"flush first (2 held)", "flush second (2 held)"}; !slices.Equal(log, want) {
		t.Errorf("calls %v, want %v", log, want)
	}
}

func TestAbortDiscardsWhatProcessorsHold(t *testing.T) {
	var log []string
	out := &sent{}
	tk := newTask(t, holdingTopology(t, &log, nil), out, nil)

	pipe(t, tk, 0, "a=1")
	if _, err := tk.PrepareCommit(); err != nil {
		t.Fatal(err)
	}
	if err := tk.PostCommit(func(string, int32) (int64, bool) { return 0, false }); err != nil {
		t.Fatal(err)
	}
	pipe(t, tk, 1, "b=1", "c=1")
	// The transaction aborted.
	if err := tk.Abort(); err != nil {
		t.Fatal(err)
	}
	offsets, err := tk.PrepareCommit()
	if err != nil {
		t.Fatal(err)
	}
	if len(offsets) != 0 {
		t.Errorf("offsets to commit after the abort: %v, want none (back at the last commit)", offsets)
	}
	if want := []string{"a=1@out"}; !slices.Equal(out.records, want) {
		t.Errorf("sent %v, want %v: the records after the commit were discarded", out.records, want)
	}
	want := []string{
		"flush first (1 held)", "flush second (1 held)",
		"discard first (2 held)", "discard second (0 held)",
		"flush first (0 held)", "flush second (0 held)",
	}
	if !slices.Equal(log, want) {
		t.Errorf("calls %v, want %v", log, want)
	}
}

func TestFlushErrorNamesTheNode(t *testing.T) {
	var log []string
	boom := errors.New("boom")
	tk := newTask(t, holdingTopology(t, &log, boom), &sent{}, nil)
	pipe(t, tk, 0, "a=1")

	_, err := tk.PrepareCommit()
	var perr *processor.ProcessingError
	if !errors.As(err, &perr) || !errors.Is(err, boom) {
		t.Fatalf("error %v, want a *processor.ProcessingError wrapping boom", err)
	}
	if perr.Node != "second" || !perr.Flushing || perr.Record.Offset != -1 {
		t.Errorf("error names node %q, flushing %v, offset %d; want second, true, -1", perr.Node, perr.Flushing, perr.Record.Offset)
	}
	if want := `node "second" while flushing before a commit: boom`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

var lookup = store.KeyValue("lookup", serde.String(), serde.String(), store.WithoutLogging())

// joiner forwards each record's value joined with the global lookup store's value of its
// key, or the error of opening the store.
type joiner struct {
	kv  store.KV[string, string]
	err error
}

func (j *joiner) Init(ctx processor.InitContext) error {
	j.kv = lookup.From(ctx)
	_, j.err = ctx.StateStore("lookup")
	return nil
}

func (j *joiner) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	if j.err != nil {
		r.Value += "+" + j.err.Error()
	} else {
		v, ok, err := j.kv.Get(r.Key)
		if err != nil {
			return err
		}
		if !ok {
			v = "none"
		}
		r.Value += "+" + v
	}
	ctx.Forward(r)
	return nil
}

func TestConnectedProcessorsReadGlobalStores(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, lookup, "lookup-source", "lookups", nil)
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "join", func() processor.Processor[string, string, string, string] { return &joiner{} }, "in")
	topology.AddProcessor(b, "not-connected", func() processor.Processor[string, string, string, string] { return &joiner{} }, "in")
	topology.ConnectGlobalStore(b, "lookup", "join")
	topology.AddSink(b, "out", "out", serde.String(), serde.String(), []string{"join", "not-connected"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := db.KeyValue("lookup")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Put([]byte("a"), []byte("A")); err != nil {
		t.Fatal(err)
	}
	out := &sent{}
	tk := newTask(t, topo, out, map[string]store.KeyValueStore{"lookup": kv})
	pipe(t, tk, 0, "a=1", "b=2")

	want := []string{
		"a=1+A@out",
		`a=1+store "lookup" is not connected to the node@out`,
		"b=2+none@out",
		`b=2+store "lookup" is not connected to the node@out`,
	}
	if !slices.Equal(out.records, want) {
		t.Errorf("sent %q, want %q", out.records, want)
	}
}
