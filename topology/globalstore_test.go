package topology_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

var rates = store.KeyValue("rates", serde.String(), serde.Int64(), store.WithoutLogging())

func TestAddGlobalStore(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, rates, "rates-source", "rates", nil)
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "p", pass[string, string](), "in")
	topology.ConnectGlobalStore(b, "rates", "p")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	globals := plan.Of(topo).GlobalStores
	if len(globals) != 1 {
		t.Fatalf("%d global stores, want 1", len(globals))
	}
	g := globals[0]
	if g.Def.Name() != "rates" || g.Source != "rates-source" || g.Topic != "rates" {
		t.Errorf("global store %q from %q reading %q", g.Def.Name(), g.Source, g.Topic)
	}
	if got := plan.Of(topo).Subtopologies[0].Processors[0].GlobalStores; !slices.Equal(got, []string{"rates"}) {
		t.Errorf("processor reads global stores %v, want [rates]", got)
	}
	if slices.Contains(plan.Of(topo).SourceTopics(), "rates") {
		t.Error("the global store's topic is among the source topics")
	}

	// The default apply stores the bytes as they are, deletes on a tombstone and
	// skips records without a key.
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := db.KeyValue("rates")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ key, value []byte }{
		{[]byte("a"), []byte("1")},
		{[]byte("b"), []byte("2")},
		{nil, []byte("3")},
		{[]byte("a"), nil},
	} {
		if err := g.Apply(kv, r.key, r.value, time.UnixMilli(0)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		got = append(got, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b=2"}; !slices.Equal(got, want) {
		t.Errorf("store holds %v, want %v", got, want)
	}
}

func TestAddGlobalStoreProblems(t *testing.T) {
	logged := store.KeyValue("logged", serde.String(), serde.Int64())
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in", "taken"})
	topology.AddProcessor(b, "p", pass[string, string](), "in")
	topology.AddGlobalStore(b, nil, "s", "t", nil)
	topology.AddGlobalStore(b, rates, "", "", nil)
	topology.AddGlobalStore(b, logged, "s2", "logged-topic", nil)
	topology.AddGlobalStore(b, store.KeyValue("other", serde.String(), serde.Int64(), store.WithoutLogging()), "s3", "taken", nil)
	topology.ConnectGlobalStore(b, "nowhere", "p")
	topology.ConnectGlobalStore(b, "rates", "later")
	topology.AddProcessor(b, "later", pass[string, string](), "in")
	_, err := b.Build()
	checkProblems(t, err, [][]string{
		{"global store of topic", `"t"`, "definition is nil"},
		{`global store "rates"`, "empty source name"},
		{`global store "rates"`, "empty topic name"},
		{`global store "logged"`, "must not be logged"},
		{`global store "rates"`, `"later"`, "not a processor added before"},
		{`global store "other"`, `topic "taken"`, `source "in"`},
		{`processor "p"`, `unknown global store "nowhere"`},
	})
}

// holding is a processor that holds its records until it is flushed.
type holding struct {
	ctx       processor.Context[string, string]
	held      []processor.Record[string, string]
	discarded int
}

func (h *holding) Init(ctx processor.InitContext) error {
	h.ctx = ctx.(processor.Context[string, string])
	return nil
}

func (h *holding) Process(_ processor.Context[string, string], r processor.Record[string, string]) error {
	h.held = append(h.held, r)
	return nil
}

func (h *holding) Flush() error {
	for _, r := range h.held {
		h.ctx.Forward(r)
	}
	h.held = nil
	return nil
}

func (h *holding) Discard() { h.discarded += len(h.held); h.held = nil }

func TestProcessorAdapterForwardsFlushAndDiscard(t *testing.T) {
	var user *holding
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "hold", func() processor.Processor[string, string, string, string] {
		user = &holding{}
		return user
	}, "in")
	topology.AddProcessor(b, "plain", pass[string, string](), "hold")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	nodes := plan.Of(topo).Subtopologies[0].Processors
	if _, ok := nodes[1].New().(processor.Flusher); ok {
		t.Error("the adapter of a processor that does not flush is a Flusher")
	}
	p := nodes[0].New()
	f, ok := p.(processor.Flusher)
	if !ok {
		t.Fatal("the adapter of a processor that flushes is not a Flusher")
	}
	if err := f.Flush(); err != nil { // before Init: holds nothing
		t.Fatal(err)
	}
	nc := &fakeNodeContext{}
	if err := p.Init(nc); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"x", "y"} {
		if err := p.Process(plan.Record{Key: "k", Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if len(nc.forwards) != 0 {
		t.Fatalf("forwarded %d records before a flush", len(nc.forwards))
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(nc.forwards) != 2 || nc.forwards[1].r.Value != "y" {
		t.Errorf("flush forwarded %v, want x then y", nc.forwards)
	}
	if err := p.Process(plan.Record{Key: "k", Value: "z"}); err != nil {
		t.Fatal(err)
	}
	f.Discard()
	if user.discarded != 1 || len(user.held) != 0 {
		t.Errorf("discard dropped %d records and left %d, want 1 and 0", user.discarded, len(user.held))
	}
}
