package eddytest_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

var counts = store.KeyValue("counts", serde.String(), serde.Int64())

// counter counts records per key in the counts store and forwards the new count.
type counter struct{ kv store.KV[string, int64] }

func (c *counter) Init(ctx processor.InitContext) error { c.kv = counts.From(ctx); return nil }

func (c *counter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	if r.Value == "reset" {
		ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: 0, Timestamp: r.Timestamp})
		return c.kv.Delete(r.Key)
	}
	if err := c.kv.Put(r.Key, n+1); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n + 1, Timestamp: r.Timestamp})
	return nil
}

func countTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "in")
	topology.AddStore(b, counts, "count")
	topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"count"})
	return buildTopology(t, b)
}

// buildTopology builds b, failing the test if it cannot.
func buildTopology(t *testing.T, b *topology.Builder) *topology.Topology {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// newDriver starts a test driver on topo with opts, closed at the end of the test, where a
// failure to close fails the test.
func newDriver(t *testing.T, topo *topology.Topology, opts ...eddytest.Option) *eddytest.Driver {
	t.Helper()
	d, err := eddytest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// readCounts reads the unread records of topic, string keys and int64 values, as
// "key=value".
func readCounts(t *testing.T, d *eddytest.Driver, topic string) []string {
	t.Helper()
	records, err := eddytest.OutputTopic(d, topic, serde.String(), serde.Int64()).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range records {
		out = append(out, fmt.Sprintf("%s=%d", r.Key, r.Value))
	}
	return out
}

func TestCountsFlowToOutputStoreAndChangelog(t *testing.T) {
	d := newDriver(t, countTopology(t), eddytest.ApplicationID("app"))
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	for i, k := range []string{"a", "b", "a", "a", "b"} {
		if err := in.Pipe(k, "x", time.UnixMilli(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Pipe("b", "reset", time.UnixMilli(9)); err != nil {
		t.Fatal(err)
	}

	out, err := eddytest.OutputTopic(d, "output", serde.String(), serde.Int64()).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out {
		got = append(got, fmt.Sprintf("%s=%d@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
	}
	want := []string{"a=1@0", "b=1@1", "a=2@2", "a=3@3", "b=2@4", "b=0@9"}
	if !slices.Equal(got, want) {
		t.Errorf("output %v, want %v", got, want)
	}

	s, err := d.KeyValueStore("counts")
	if err != nil {
		t.Fatal(err)
	}
	kv := counts.Wrap(s)
	if n, ok, err := kv.Get("a"); err != nil || !ok || n != 3 {
		t.Errorf("store has a=%d (present %v, error %v), want 3", n, ok, err)
	}
	if _, ok, _ := kv.Get("b"); ok {
		t.Error("store still has b after its delete")
	}

	// The changelog holds every write, a tombstone for the delete.
	logged := d.Written("app-counts-changelog")
	if len(logged) != 6 {
		t.Fatalf("changelog has %d records, want 6", len(logged))
	}
	if last := logged[5]; string(last.Key) != "b" || last.Value != nil || last.Timestamp.UnixMilli() != 9 {
		t.Errorf("last changelog record is %q=%v@%d, want the tombstone b=nil@9", last.Key, last.Value, last.Timestamp.UnixMilli())
	}
}

// puncher records the times its punctuator fires at, and cancels it on a "cancel" record.
type puncher struct {
	kind     processor.PunctuationType
	interval time.Duration
	fired    *[]int64
	cancel   processor.Cancellable
}

func (p *puncher) Init(ctx processor.InitContext) error {
	var err error
	p.cancel, err = ctx.Schedule(p.interval, p.kind, func(at time.Time) error {
		*p.fired = append(*p.fired, at.UnixMilli())
		return nil
	})
	return err
}

func (p *puncher) Process(_ processor.Context[string, string], r processor.Record[string, string]) error {
	if r.Value == "cancel" {
		p.cancel.Cancel()
	}
	return nil
}

func punctuationTopology(t *testing.T, kind processor.PunctuationType, fired *[]int64) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "punch", func() processor.Processor[string, string, string, string] {
		return &puncher{kind: kind, interval: 10 * time.Millisecond, fired: fired}
	}, "in")
	return buildTopology(t, b)
}

func TestStreamTimePunctuationFollowsRecordTimestamps(t *testing.T) {
	var fired []int64
	d := newDriver(t, punctuationTopology(t, processor.StreamTime, &fired))
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	// The first record fires the schedule; an out-of-order record does not move stream
	// time; a jump over several intervals fires once; cancel stops it.
	for _, ms := range []int64{3, 8, 2, 13, 45, 49} {
		if err := in.Pipe("k", "v", time.UnixMilli(ms)); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Pipe("k", "cancel", time.UnixMilli(50)); err != nil {
		t.Fatal(err)
	}
	if err := in.Pipe("k", "v", time.UnixMilli(99)); err != nil {
		t.Fatal(err)
	}
	if want := []int64{3, 13, 45}; !slices.Equal(fired, want) {
		t.Errorf("stream-time punctuations at %v, want %v", fired, want)
	}
}

func TestWallClockPunctuationFollowsTheDriversClock(t *testing.T) {
	var fired []int64
	start := time.UnixMilli(1000)
	d := newDriver(t, punctuationTopology(t, processor.WallClockTime, &fired), eddytest.WallClock(start))
	for _, step := range []time.Duration{5, 5, 3, 30} {
		if err := d.AdvanceWallClock(step * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{1010, 1043}; !slices.Equal(fired, want) {
		t.Errorf("wall-clock punctuations at %v, want %v", fired, want)
	}
	if err := d.AdvanceWallClock(-time.Second); err == nil {
		t.Error("the wall clock went back")
	}
}

var errBoom = errors.New("boom")

func TestProcessingErrorNamesTaskNodeTopicPartitionAndOffset(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "fails", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			if r.Value == "bad" {
				return errBoom
			}
			return nil
		})
	}, "in")
	d := newDriver(t, buildTopology(t, b))
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	if err := in.Pipe("k", "good", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	err := in.Pipe("k", "bad", time.UnixMilli(2))
	var perr *processor.ProcessingError
	if !errors.As(err, &perr) || !errors.Is(err, errBoom) {
		t.Fatalf("error %v, want a processing error wrapping boom", err)
	}
	for _, part := range []string{"task 0_0", `node "fails"`, `topic "input"`, "partition 0", "offset 1"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %s", err, part)
		}
	}
}

func TestUndecodableRecordsFailOrAreSkipped(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{"input"})
	topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"in"})
	topo := buildTopology(t, b)
	bad := eddytest.Record{Key: []byte("k"), Value: []byte("not eight bytes"), Timestamp: time.UnixMilli(1)}

	strict := newDriver(t, topo)
	err := strict.PipeRaw("input", bad)
	var derr *processor.DeserializationError
	if !errors.As(err, &derr) || derr.Record.Topic != "input" || derr.Record.Offset != 0 {
		t.Fatalf("error %v, want a deserialization error at input offset 0", err)
	}

	lenient := newDriver(t, topo, eddytest.SkipUndecodableRecords())
	if err := lenient.PipeRaw("input", bad); err != nil {
		t.Fatalf("skipping: %v", err)
	}
	good, _ := serde.Int64().Serialize("input", 7)
	if err := lenient.PipeRaw("input", eddytest.Record{Key: []byte("k"), Value: good, Timestamp: time.UnixMilli(2)}); err != nil {
		t.Fatal(err)
	}
	if out := lenient.Written("output"); len(out) != 1 {
		t.Errorf("output has %d records, want the 1 good one", len(out))
	}
}

func TestRecordsWrittenToATopicThatAnotherSubtopologyReadsAreProcessed(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "rekey", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			ctx.Forward(processor.Record[string, string]{Key: r.Value, Value: r.Key, Timestamp: r.Timestamp})
			return nil
		})
	}, "in")
	topology.AddSink(b, "to-middle", "middle", serde.String(), serde.String(), []string{"rekey"})
	topology.AddSource(b, "middle-in", serde.String(), serde.String(), []string{"middle"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "middle-in")
	topology.AddStore(b, counts, "count")
	topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"count"})
	topo := buildTopology(t, b)
	if n := len(plan.Of(topo).Complete("app").Subtopologies); n != 2 {
		t.Fatalf("%d subtopologies, want 2", n)
	}
	d := newDriver(t, topo)
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	for _, kv := range [][2]string{{"1", "x"}, {"2", "y"}, {"3", "x"}} {
		if err := in.Pipe(kv[0], kv[1], time.UnixMilli(1)); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := eddytest.LatestValues(eddytest.OutputTopic(d, "output", serde.String(), serde.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	if latest["x"] != 2 || latest["y"] != 1 || len(latest) != 2 {
		t.Errorf("counts after re-keying: %v, want x=2 y=1", latest)
	}
}

// ticker forwards a record from a wall-clock punctuator, through processor.ContextOf.
type ticker struct{}

func (ticker) Init(ctx processor.InitContext) error {
	out, err := processor.ContextOf[string, int64](ctx)
	if err != nil {
		return err
	}
	if _, err := processor.ContextOf[int64, int64](ctx); err == nil {
		return errors.New("ContextOf accepted types the processor does not forward")
	}
	_, err = ctx.Schedule(time.Second, processor.WallClockTime, func(at time.Time) error {
		out.Forward(processor.Record[string, int64]{Key: "tick", Value: at.Unix(), Timestamp: at})
		return nil
	})
	return err
}

func (ticker) Process(processor.Context[string, int64], processor.Record[string, string]) error {
	return nil
}

func TestPunctuatorsForwardThroughContextOf(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "tick", func() processor.Processor[string, string, string, int64] { return ticker{} }, "in")
	topology.AddSink(b, "out", "ticks", serde.String(), serde.Int64(), []string{"tick"})
	d := newDriver(t, buildTopology(t, b), eddytest.WallClock(time.Unix(100, 0)))
	if err := d.AdvanceWallClock(time.Second); err != nil {
		t.Fatal(err)
	}
	ticks, err := eddytest.OutputTopic(d, "ticks", serde.String(), serde.Int64()).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(ticks) != 1 || ticks[0].Key != "tick" || ticks[0].Value != 101 {
		t.Errorf("ticks %v, want one tick at 101", ticks)
	}
}

// A misspelled input topic fails the pipe instead of passing for the wrong reason, and
// writes nothing; so does piping into a topic the topology only writes.
func TestPipingIntoATopicNoSourceReadsIsAnError(t *testing.T) {
	d := newDriver(t, countTopology(t))
	for _, topic := range []string{"inptu", "output", "eddytest-counts-changelog"} {
		in := eddytest.InputTopic(d, topic, serde.String(), serde.String())
		err := in.Pipe("a", "x", time.UnixMilli(1))
		if !errors.Is(err, eddytest.ErrUnknownTopic) {
			t.Errorf("Pipe into %s: %v, want ErrUnknownTopic", topic, err)
		} else if !strings.Contains(err.Error(), `"input"`) {
			t.Errorf("Pipe into %s: %q does not name the topic the topology reads", topic, err)
		}
	}
	if got := d.Written("inptu"); got != nil {
		t.Errorf("the unknown topic holds %v, want nothing", got)
	}
	if got := d.Written("output"); got != nil {
		t.Errorf("the output topic holds %v after failed pipes, want nothing", got)
	}
}

// Reading a topic that no sink writes, and that is no changelog, fails: a test that
// asserts "no output" on a misspelled topic would otherwise pass.
func TestReadingATopicTheTopologyNeverWritesIsAnError(t *testing.T) {
	d := newDriver(t, countTopology(t))
	if err := eddytest.InputTopic(d, "input", serde.String(), serde.String()).Pipe("a", "x", time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"outptu", "input"} {
		out := eddytest.OutputTopic(d, topic, serde.String(), serde.Int64())
		if _, err := out.ReadAll(); !errors.Is(err, eddytest.ErrUnknownTopic) {
			t.Errorf("ReadAll of %s: %v, want ErrUnknownTopic", topic, err)
		} else if !strings.Contains(err.Error(), `"output"`) {
			t.Errorf("ReadAll of %s: %q does not name the topics the topology writes", topic, err)
		}
		if _, err := out.ReadAllWithNulls(); !errors.Is(err, eddytest.ErrUnknownTopic) {
			t.Errorf("ReadAllWithNulls of %s: %v, want ErrUnknownTopic", topic, err)
		}
		if _, err := eddytest.LatestValues(out); !errors.Is(err, eddytest.ErrUnknownTopic) {
			t.Errorf("LatestValues of %s: %v, want ErrUnknownTopic", topic, err)
		}
	}
	// The sink's topic and the store's changelog are known.
	got, err := eddytest.OutputTopic(d, "output", serde.String(), serde.Int64()).ReadAll()
	if err != nil || len(got) != 1 || got[0].Key != "a" || got[0].Value != 1 {
		t.Errorf("ReadAll of output = %v, %v; want a=1", got, err)
	}
	changelog, err := eddytest.OutputTopic(d, "eddytest-counts-changelog", serde.String(), serde.Int64()).ReadAll()
	if err != nil || len(changelog) != 1 || changelog[0].Key != "a" || changelog[0].Value != 1 {
		t.Errorf("ReadAll of the changelog = %v, %v; want a=1", changelog, err)
	}
}

// The dead-letter topic is a topic the topology writes: an Output reads it. Without
// DeadLetterTopic, the same name is unknown.
func TestTheDeadLetterTopicIsReadAsAnOutput(t *testing.T) {
	b := topology.NewBuilder()
	checked := topology.Process(topology.StreamFrom(b, "input", serde.String(), serde.String()), func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			if r.Value == "bad" {
				return errors.New("refused")
			}
			ctx.Forward(r)
			return nil
		})
	}, nil)
	topology.To(checked, "output", serde.String(), serde.String())
	topo := buildTopology(t, b)
	for _, dlq := range []bool{true, false} {
		opts := []eddytest.Option{eddytest.OnProcessingError(processor.LogAndContinue)}
		if dlq {
			opts = append(opts, eddytest.DeadLetterTopic("dlq"))
		}
		d := newDriver(t, topo, opts...)
		in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
		for _, v := range []string{"good", "bad"} {
			if err := in.Pipe("k", v, time.UnixMilli(1)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := eddytest.OutputTopic(d, "dlq", serde.String(), serde.String()).ReadAll()
		switch {
		case !dlq && !errors.Is(err, eddytest.ErrUnknownTopic):
			t.Errorf("without a dead-letter topic, reading dlq: %v, want ErrUnknownTopic", err)
		case dlq && (err != nil || len(got) != 1 || got[0].Key != "k" || got[0].Value != "bad"):
			t.Errorf("the dead-letter topic holds %+v (%v), want the bad record", got, err)
		}
	}
}
