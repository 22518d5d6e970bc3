package eddytest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// windowCounts keeps counts per key and 10 s tumbling window for 30 s of stream time.
var windowCounts = store.Window("window-counts", serde.String(), serde.Int64(), 30*time.Second, 10*time.Second,
	store.WithSegmentInterval(10*time.Second))

// windowCounter counts records per key and 10 s window in def, and forwards the counts.
type windowCounter struct {
	def store.WindowDef[string, int64]
	w   store.Windows[string, int64]
}

func (c *windowCounter) Init(ctx processor.InitContext) error {
	c.w = c.def.From(ctx)
	return nil
}

func (c *windowCounter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	start := r.Timestamp.Truncate(10 * time.Second)
	n, _, err := c.w.Fetch(r.Key, start)
	if err != nil {
		return err
	}
	if err := c.w.Put(r.Key, start, n+1); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: fmt.Sprintf("%s@%d", r.Key, start.Unix()), Value: n + 1, Timestamp: r.Timestamp})
	return nil
}

func TestAWindowStoreRunsThroughTheTaskCodeAsAKeyValueStore(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &windowCounter{def: windowCounts} }, "in")
	topology.AddStore(b, windowCounts, "count")
	topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"count"})
	d := newDriver(t, buildTopology(t, b), eddytest.ApplicationID("app"))
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	for _, r := range []struct {
		key string
		at  int64 // seconds
	}{{"a", 1}, {"a", 5}, {"b", 12}, {"a", 15}, {"a", 3}, {"a", 61}, {"a", 4}} {
		if err := in.Pipe(r.key, "x", time.Unix(r.at, 0)); err != nil {
			t.Fatal(err)
		}
	}
	got := readCounts(t, d, "output")
	// At 61 s the window of 0 s has expired: a record for it starts again and is dropped.
	want := []string{"a@0=1", "a@0=2", "b@10=1", "a@10=1", "a@0=3", "a@60=1", "a@0=1"}
	if !slices.Equal(got, want) {
		t.Errorf("output %v, want %v", got, want)
	}

	windows := storeWindows(t, d, windowCounts, func(it store.WindowedIterator[string, int64]) string {
		return fmt.Sprintf("%s@[%d,%d)=%d", it.Key(), it.Start().Unix(), it.End().Unix(), it.Value())
	})
	if want := []string{"a@[60,70)=1"}; !slices.Equal(windows, want) {
		t.Errorf("windows in the store %v, want %v", windows, want)
	}
	for _, r := range d.Written("app-window-counts-changelog") {
		if r.Value == nil {
			t.Errorf("the changelog holds a tombstone for %q: expiry must not be logged", r.Key)
		}
	}
}

// minuteCounts is windowCounts in segments of a minute: expiry within a segment is known
// only to the layer that wrote it, until it publishes it.
var minuteCounts = store.Window("minute-counts", serde.String(), serde.Int64(), 30*time.Second, 10*time.Second,
	store.WithSegmentInterval(time.Minute))

// A handle on the driver's store hides what the processors' store expired, though the
// meta record of the store was last written at the first window of its segment.
func TestAHandleOnTheDriversWindowStoreAgreesWithTheProcessors(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &windowCounter{def: minuteCounts} }, "in")
	topology.AddStore(b, minuteCounts, "count")
	d := newDriver(t, buildTopology(t, b))
	in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
	for _, at := range []int64{1, 15, 35} {
		if err := in.Pipe("a", "x", time.Unix(at, 0)); err != nil {
			t.Fatal(err)
		}
	}
	starts := storeWindows(t, d, minuteCounts, func(it store.WindowedIterator[string, int64]) int64 { return it.Start().Unix() })
	// Observed time 30 s: the window of 0 s expired, that of 10 s has not.
	if want := []int64{10, 30}; !slices.Equal(starts, want) {
		t.Errorf("window starts in the store %v, want %v", starts, want)
	}
}

// storeWindows lays def over the driver's store of its name and returns every window
// that All reads, as show returns it.
func storeWindows[T any](t *testing.T, d *eddytest.Driver, def store.WindowDef[string, int64], show func(store.WindowedIterator[string, int64]) T) []T {
	t.Helper()
	kv, err := d.KeyValueStore(def.Name())
	if err != nil {
		t.Fatal(err)
	}
	it, err := def.Wrap(kv).All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []T
	for it.Next() {
		out = append(out, show(it))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
