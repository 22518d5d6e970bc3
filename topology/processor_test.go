package topology_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// lengths forwards the length of each value to all its children, and also to child
// "long" alone when the length is over 3. It counts its Init and Close calls and keeps
// what Init was given.
type lengths struct {
	inits, closes int
	initCtx       processor.InitContext
	initErr       error
	seen          []processor.Record[string, string]
}

func (l *lengths) Init(ctx processor.InitContext) error {
	l.inits++
	l.initCtx = ctx
	return l.initErr
}

func (l *lengths) Close() error {
	l.closes++
	return nil
}

func (l *lengths) Process(ctx processor.Context[string, int], r processor.Record[string, string]) error {
	l.seen = append(l.seen, r)
	out := processor.Record[string, int]{Key: r.Key, Value: len(r.Value), Timestamp: r.Timestamp, Headers: r.Headers}
	ctx.Forward(out)
	if out.Value > 3 {
		ctx.ForwardTo("long", out)
	}
	return nil
}

// lengthsNode builds a topology around a lengths processor, which supply makes, and
// returns the node the engine would run.
func lengthsNode(t *testing.T, supply processor.Supplier[string, string, string, int]) *plan.Processor {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "lengths", supply, "in")
	topology.AddProcessor(b, "all", pass[string, int](), "lengths")
	topology.AddProcessor(b, "long", pass[string, any](), "lengths")
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return plan.Of(topo).Subtopologies[0].Processors[0]
}

func TestProcessorAdapterForwards(t *testing.T) {
	var made []*lengths
	node := lengthsNode(t, func() processor.Processor[string, string, string, int] {
		l := &lengths{}
		made = append(made, l)
		return l
	})
	if node.Name != "lengths" {
		t.Fatalf("first processor is %q, want lengths", node.Name)
	}
	p := node.New()
	if len(made) != 1 {
		t.Fatalf("New called the supplier %d times, want 1", len(made))
	}
	nc := &fakeNodeContext{meta: processor.RecordMetadata{Topic: "input", Partition: 2, Offset: 9}}
	if err := p.Init(nc); err != nil {
		t.Fatalf("Init: %v", err)
	}
	l := made[0]
	if l.inits != 1 {
		t.Errorf("Init called the processor's Init %d times, want 1", l.inits)
	}
	if l.initCtx.ApplicationID() != "app" || l.initCtx.TaskID() != (processor.TaskID{Subtopology: 1, Partition: 2}) ||
		!l.initCtx.StreamTime().Equal(time.UnixMilli(42)) {
		t.Error("the processor's InitContext does not delegate to the NodeContext")
	}
	typed, ok := l.initCtx.(processor.Context[string, int])
	if !ok {
		t.Fatalf("the InitContext is a %T, not a processor.Context[string, int] to forward from punctuators", l.initCtx)
	}
	if md, ok := typed.RecordMetadata(); !ok || md != nc.meta {
		t.Errorf("RecordMetadata() = %v, %t, want %v", md, ok, nc.meta)
	}

	ts := time.UnixMilli(1000)
	headers := []processor.Header{{Key: "h", Value: []byte("v")}}
	if err := p.Process(plan.Record{Key: "k", Value: "abc", Timestamp: ts, Headers: headers}); err != nil {
		t.Fatalf("Process: %v", err)
	}
	if err := p.Process(plan.Record{Key: "k", Value: "abcdef", Timestamp: ts}); err != nil {
		t.Fatalf("Process: %v", err)
	}
	want := []forwarded{
		{child: "", r: plan.Record{Key: "k", Value: 3, Timestamp: ts, Headers: headers}},
		{child: "", r: plan.Record{Key: "k", Value: 6, Timestamp: ts}},
		{child: "long", r: plan.Record{Key: "k", Value: 6, Timestamp: ts}},
	}
	if len(nc.forwards) != len(want) {
		t.Fatalf("forwarded %+v, want %+v", nc.forwards, want)
	}
	for i, f := range nc.forwards {
		w := want[i]
		if f.child != w.child || f.r.Key != w.r.Key || f.r.Value != w.r.Value || !f.r.Timestamp.Equal(w.r.Timestamp) || len(f.r.Headers) != len(w.r.Headers) {
			t.Errorf("forward %d is %+v, want %+v", i, f, w)
		}
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if l.closes != 1 {
		t.Errorf("Close called the processor's Close %d times, want 1", l.closes)
	}
	node.New()
	if len(made) != 2 || made[1] == made[0] {
		t.Error("a second New did not make a new processor")
	}
}

func TestProcessorAdapterErrors(t *testing.T) {
	errInit := errors.New("init failed")
	tests := []struct {
		name string
		// supply makes the processor, run drives the node; the error it returns must
		// contain each of want, and match is, when set.
		supply processor.Supplier[string, string, string, int]
		run    func(p plan.NodeProcessor) error
		want   []string
		is     error
	}{
		{
			name:   "a key of the wrong type is an error (the task's names the node)",
			supply: func() processor.Processor[string, string, string, int] { return &lengths{} },
			run: func(p plan.NodeProcessor) error {
				return p.Process(plan.Record{Key: 7, Value: "v"})
			},
			want: []string{"key is a int, not a string"},
		},
		{
			name:   "a value of the wrong type is an error (the task's names the node)",
			supply: func() processor.Processor[string, string, string, int] { return &lengths{} },
			run: func(p plan.NodeProcessor) error {
				return p.Process(plan.Record{Key: "k", Value: []byte("v")})
			},
			want: []string{"value is a []uint8, not a string"},
		},
		{
			name:   "an error of the processor's Init is returned as it is",
			supply: func() processor.Processor[string, string, string, int] { return &lengths{initErr: errInit} },
			run:    func(plan.NodeProcessor) error { return nil },
			want:   []string{"init failed"},
			is:     errInit,
		},
		{
			name:   "a supplier that returns nil fails Init",
			supply: func() processor.Processor[string, string, string, int] { return nil },
			run:    func(plan.NodeProcessor) error { return nil },
			want:   []string{"supplier returned nil"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lengthsNode(t, tt.supply).New()
			nc := &fakeNodeContext{}
			err := p.Init(nc)
			if err == nil {
				err = tt.run(p)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if len(nc.forwards) != 0 {
				t.Errorf("forwarded %v after an error", nc.forwards)
			}
		})
	}
}

func TestProcessorAdapterBeforeInit(t *testing.T) {
	p := lengthsNode(t, func() processor.Processor[string, string, string, int] { return &lengths{} }).New()
	if err := p.Process(plan.Record{Key: "k", Value: "v"}); err == nil || !strings.Contains(err.Error(), "before a successful init") {
		t.Errorf("Process before Init returned %v, want an error", err)
	}
	if err := p.Init(nil); err == nil {
		t.Error("Init(nil) returned no error")
	}
}

func TestProcessorAdapterTurnsNilIntoZeroValues(t *testing.T) {
	var l lengths
	p := lengthsNode(t, func() processor.Processor[string, string, string, int] { return &l }).New()
	nc := &fakeNodeContext{}
	if err := p.Init(nc); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if err := p.Process(plan.Record{}); err != nil {
		t.Fatalf("Process of a record with nil key and value: %v", err)
	}
	if len(l.seen) != 1 || l.seen[0].Key != "" || l.seen[0].Value != "" {
		t.Errorf("the processor saw %+v, want one record of empty strings", l.seen)
	}
}

func TestProcessorAdapterWithoutInitOrClose(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "pass", pass[string, string](), "in")
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	p := plan.Of(topo).Subtopologies[0].Processors[0].New()
	nc := &fakeNodeContext{}
	if err := p.Init(nc); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if err := p.Process(plan.Record{Key: "k", Value: "v"}); err != nil {
		t.Fatalf("Process: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(nc.forwards) != 1 || nc.forwards[0].r.Key != "k" || nc.forwards[0].r.Value != "v" {
		t.Errorf("forwarded %+v, want the record", nc.forwards)
	}
}
