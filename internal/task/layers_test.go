package task_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// windows keeps windows for 300 ms, all in one segment (the default interval: a minute).
var windows = store.Window("w", serde.String(), serde.String(), 300*time.Millisecond, time.Millisecond)

// windowWriter puts each record into the window store windows and forwards it.
type windowWriter struct{ w store.Windows[string, string] }

func (p *windowWriter) Init(ctx processor.InitContext) error {
	p.w = windows.From(ctx)
	return nil
}

func (p *windowWriter) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	if err := p.w.Put(r.Key, r.Timestamp, r.Value); err != nil {
		return err
	}
	ctx.Forward(r)
	return nil
}

// windowReader forwards each record with, as its value, the values of its key that it
// reads in windows.
type windowReader struct{ w store.Windows[string, string] }

func (p *windowReader) Init(ctx processor.InitContext) error {
	p.w = windows.From(ctx)
	return nil
}

func (p *windowReader) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	it, err := p.w.FetchRange(r.Key, time.UnixMilli(0), time.UnixMilli(10_000))
	if err != nil {
		return err
	}
	defer it.Close()
	var values []string
	for it.Next() {
		values = append(values, it.Value())
	}
	r.Value = strings.Join(values, ",")
	ctx.Forward(r)
	return it.Err()
}

// windowTopology puts each record of "in" into the window store w (node "writer") and
// writes, for each, what another node ("reader") then reads of its key in w to "out".
func windowTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "writer", func() processor.Processor[string, string, string, string] { return &windowWriter{} }, "in")
	topology.AddProcessor(b, "reader", func() processor.Processor[string, string, string, string] { return &windowReader{} }, "writer")
	topology.AddStore(b, windows, "writer", "reader")
	topology.AddSink(b, "out", "out", serde.String(), serde.String(), []string{"reader"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// pipeAt adds one record key=value of topic "in" at offset and time ms, and processes it.
func pipeAt(t *testing.T, tk *task.Task, offset int64, kv string, ms int64) {
	t.Helper()
	k, v, _ := strings.Cut(kv, "=")
	if err := tk.Add([]task.Input{{Topic: "in", Offset: offset, Key: []byte(k), Value: []byte(v), Timestamp: time.UnixMilli(ms)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Process(); err != nil {
		t.Fatal(err)
	}
}

// Every processor of a task reads a window store through one layer, which sees what the
// writer expired within a segment and goes back with the store when the task aborts.
func TestProcessorsShareAWindowStoreLayerThatAbortResets(t *testing.T) {
	out := &sent{}
	tk := newTask(t, windowTopology(t), out, nil)
	pipeAt(t, tk, 0, "k=a", 100)
	if _, err := tk.PrepareCommit(); err != nil {
		t.Fatal(err)
	}
	if err := tk.PostCommit(func(string, int32) (int64, bool) { return 0, false }); err != nil {
		t.Fatal(err)
	}
	// Observed time 500 in the same segment: a, at 100, is older than 500 - 300.
	pipeAt(t, tk, 1, "k=b", 500)
	if err := tk.Abort(); err != nil {
		t.Fatal(err)
	}
	// Rolled back to observed time 100: a is live again, and so is c at 150.
	pipeAt(t, tk, 1, "k=c", 150)
	var got []string
	for _, r := range out.records {
		if strings.HasSuffix(r, "@out") {
			got = append(got, r)
		}
	}
	if want := []string{"k=a@out", "k=b@out", "k=a,c@out"}; !slices.Equal(got, want) {
		t.Errorf("the reader wrote %q, want %q", got, want)
	}
}
