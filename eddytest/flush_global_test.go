package eddytest_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// latest holds the newest record of each key until it is flushed, as a record cache
// in front of a table does.
type latest struct {
	ctx  processor.Context[string, int64]
	keys []string
	held map[string]processor.Record[string, int64]
}

func (l *latest) Init(ctx processor.InitContext) error {
	l.ctx = ctx.(processor.Context[string, int64])
	l.held = map[string]processor.Record[string, int64]{}
	return nil
}

func (l *latest) Process(_ processor.Context[string, int64], r processor.Record[string, int64]) error {
	if _, ok := l.held[r.Key]; !ok {
		l.keys = append(l.keys, r.Key)
	}
	l.held[r.Key] = r
	return nil
}

func (l *latest) Flush() error {
	for _, k := range l.keys {
		l.ctx.Forward(l.held[k])
	}
	l.keys, l.held = nil, map[string]processor.Record[string, int64]{}
	return nil
}

func (l *latest) Discard() { l.keys, l.held = nil, map[string]processor.Record[string, int64]{} }

func holdLatest() processor.Processor[string, int64, string, int64] { return &latest{} }

// cachedCountTopology counts records per key and holds the counts back until a commit;
// a second subtopology reads the counts topic through another holder and writes them on.
func cachedCountTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "in")
	topology.AddStore(b, counts, "count")
	topology.AddProcessor(b, "cache", holdLatest, "count")
	topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"cache"})
	topology.AddSource(b, "again", serde.String(), serde.Int64(), []string{"output"})
	topology.AddProcessor(b, "cache-again", holdLatest, "again")
	topology.AddSink(b, "out-again", "output-again", serde.String(), serde.Int64(), []string{"cache-again"})
	return buildTopology(t, b)
}

func TestCommitsFlushAfterEveryRecordByDefault(t *testing.T) {
	d := newDriver(t, cachedCountTopology(t))
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	for _, k := range []string{"a", "a", "b"} {
		if err := in.Pipe(k, "x", time.UnixMilli(0)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"a=1", "a=2", "b=1"}
	if got := readCounts(t, d, "output-again"); !slices.Equal(got, want) {
		t.Errorf("output %v, want %v", got, want)
	}
}

func TestManualCommitShowsUpdatesCollapsing(t *testing.T) {
	d := newDriver(t, cachedCountTopology(t), eddytest.ManualCommit())
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	for _, k := range []string{"a", "b", "a", "a"} {
		if err := in.Pipe(k, "x", time.UnixMilli(0)); err != nil {
			t.Fatal(err)
		}
	}
	if got := readCounts(t, d, "output"); len(got) != 0 {
		t.Fatalf("output %v before a commit", got)
	}
	// The store sees every update at once; only the output waits.
	s, err := d.KeyValueStore("counts")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := counts.Wrap(s).Get("a"); err != nil || n != 3 {
		t.Errorf("store has a=%d (error %v) before the commit, want 3", n, err)
	}

	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	// One commit flushes the first subtopology, processes what it wrote in the second
	// and flushes that too.
	want := []string{"a=3", "b=1"}
	if got := readCounts(t, d, "output"); !slices.Equal(got, want) {
		t.Errorf("output %v, want %v", got, want)
	}
	if got := readCounts(t, d, "output-again"); !slices.Equal(got, want) {
		t.Errorf("second output %v, want %v", got, want)
	}

	if err := in.Pipe("b", "x", time.UnixMilli(0)); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(); err != nil { // nothing held: nothing more
		t.Fatal(err)
	}
	if got := readCounts(t, d, "output-again"); !slices.Equal(got, []string{"b=2"}) {
		t.Errorf("second output %v after the second commit, want [b=2]", got)
	}
}

// chatty forwards a record at every flush, so a commit never runs out of work.
type chatty struct {
	ctx processor.Context[string, int64]
}

func (c *chatty) Init(ctx processor.InitContext) error {
	c.ctx = ctx.(processor.Context[string, int64])
	return nil
}

func (c *chatty) Process(processor.Context[string, int64], processor.Record[string, int64]) error {
	return nil
}

func (c *chatty) Flush() error {
	c.ctx.Forward(processor.Record[string, int64]{Key: "again"})
	return nil
}

func (c *chatty) Discard() {}

func TestCommitStopsAProcessorThatAlwaysFlushesSomething(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{"loop"})
	topology.AddProcessor(b, "chatty", func() processor.Processor[string, int64, string, int64] { return &chatty{} }, "in")
	topology.AddSink(b, "out", "loop", serde.String(), serde.Int64(), []string{"chatty"})
	d := newDriver(t, buildTopology(t, b), eddytest.ManualCommit())
	if err := d.Commit(); err == nil {
		t.Error("Commit of a topology that flushes into itself forever returned no error")
	}
}

func TestFlushErrorsAreProcessingErrors(t *testing.T) {
	boom := errors.New("boom")
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "failing", func() processor.Processor[string, string, string, string] {
		return &failingFlush{err: boom}
	}, "in")
	d := newDriver(t, buildTopology(t, b))
	err := eddytest.InputTopic(d, "input", serde.String(), serde.String()).Pipe("k", "v", time.UnixMilli(0))
	var perr *processor.ProcessingError
	if !errors.As(err, &perr) || !errors.Is(err, boom) || perr.Node != "failing" || !perr.Flushing {
		t.Errorf("Pipe returned %v, want a flushing ProcessingError of node failing wrapping boom", err)
	}
}

type failingFlush struct{ err error }

func (f *failingFlush) Process(processor.Context[string, string], processor.Record[string, string]) error {
	return nil
}
func (f *failingFlush) Flush() error { return f.err }
func (f *failingFlush) Discard()     {}

var prices = store.KeyValue("prices", serde.String(), serde.Int64(), store.WithoutLogging())

// pricer forwards the price of each ordered item times the ordered quantity, from the
// global prices store; -1 for an unknown item.
type pricer struct{ kv store.KV[string, int64] }

func (p *pricer) Init(ctx processor.InitContext) error { p.kv = prices.From(ctx); return nil }

func (p *pricer) Process(ctx processor.Context[string, int64], r processor.Record[string, int64]) error {
	price, ok, err := p.kv.Get(r.Key)
	if err != nil {
		return err
	}
	total := int64(-1)
	if ok {
		total = price * r.Value
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: total, Timestamp: r.Timestamp})
	return nil
}

func TestGlobalStoresTakeTheirTopicsRecordsAtOnce(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, prices, "prices-source", "prices", nil)
	topology.AddSource(b, "orders", serde.String(), serde.Int64(), []string{"orders"})
	topology.AddProcessor(b, "price", func() processor.Processor[string, int64, string, int64] { return &pricer{} }, "orders")
	topology.ConnectGlobalStore(b, "prices", "price")
	topology.AddSink(b, "out", "totals", serde.String(), serde.Int64(), []string{"price"})
	// The topology also writes the prices topic: the store takes those records too.
	topology.AddSource(b, "price-updates", serde.String(), serde.Int64(), []string{"price-updates"})
	topology.AddSink(b, "to-prices", "prices", serde.String(), serde.Int64(), []string{"price-updates"})
	d := newDriver(t, buildTopology(t, b))
	pricesIn := eddytest.InputTopic(d, "prices", serde.String(), serde.Int64())
	orders := eddytest.InputTopic(d, "orders", serde.String(), serde.Int64())
	updates := eddytest.InputTopic(d, "price-updates", serde.String(), serde.Int64())

	steps := []func() error{
		func() error { return pricesIn.Pipe("apple", 3, time.UnixMilli(0)) },
		func() error { return orders.Pipe("apple", 2, time.UnixMilli(1)) },
		func() error { return orders.Pipe("pear", 2, time.UnixMilli(2)) },
		func() error { return updates.Pipe("pear", 5, time.UnixMilli(3)) },
		func() error { return orders.Pipe("pear", 1, time.UnixMilli(4)) },
		func() error { return d.PipeRaw("prices", eddytest.Record{Key: []byte("apple")}) }, // a tombstone
		func() error { return orders.Pipe("apple", 1, time.UnixMilli(6)) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{"apple=6", "pear=-1", "pear=5", "apple=-1"}
	if got := readCounts(t, d, "totals"); !slices.Equal(got, want) {
		t.Errorf("totals %v, want %v", got, want)
	}
	s, err := d.KeyValueStore("prices")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := prices.Wrap(s).Get("pear"); err != nil || !ok || n != 5 {
		t.Errorf("global store has pear=%d (present %v, error %v), want 5", n, ok, err)
	}
}
