package topology_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The errors of a running topology name the node and the topic once each: the task's
// error names them, and what it wraps says only what failed.
func TestRuntimeErrorsNameTheNodeAndTopicOnce(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.StreamFrom(b, "orders", serde.String(), serde.Int64(), topology.SourceNamed("order-source"))
	checked := topology.Process(in, func() processor.Processor[string, int64, string, int64] {
		return processor.ProcessFunc[string, int64, string, int64](func(ctx processor.Context[string, int64], r processor.Record[string, int64]) error {
			if r.Value == 7 {
				return errors.New("seven is refused")
			}
			ctx.Forward(r)
			return nil
		})
	}, nil, topology.Named("checker"))
	refusing := serde.Func(
		func(_ string, v int64) ([]byte, error) {
			if v == 8 {
				return nil, errors.New("eight is refused")
			}
			return serde.Int64().Serialize("", v)
		},
		serde.Int64().Deserialize)
	topology.To(checked, "totals", serde.String(), refusing, topology.Named("total-sink"))
	d := startDriver(t, b)
	orders := eddytest.InputTopic(d, "orders", serde.String(), serde.Int64())
	cases := []struct {
		name string
		pipe func() error
		want string
		once []string
	}{
		{"undecodable", func() error {
			return d.PipeRaw("orders", eddytest.Record{Key: []byte("k"), Value: []byte("abc")})
		}, `task 0_0: source "order-source" cannot deserialize topic "orders" partition 0 offset 0: value: serde: wrong number of bytes`,
			[]string{`"order-source"`, `"orders"`, "deserializ"}},
		{"processing", func() error { return orders.Pipe("k", 7, time.UnixMilli(1)) },
			`task 0_0: node "checker": topic "orders" partition 0 offset 1: seven is refused`,
			[]string{`"checker"`, `"orders"`}},
		{"unserializable", func() error { return orders.Pipe("k", 8, time.UnixMilli(2)) },
			`task 0_0: sink "total-sink" cannot serialize a record for topic "totals" (input topic "orders" partition 0 offset 2): value: eight is refused`,
			[]string{`"total-sink"`, `"orders"`, `"totals"`, "serializ"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.pipe()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			for _, s := range c.once {
				if n := strings.Count(err.Error(), s); n != 1 {
					t.Errorf("error %q says %s %d times, want once", err, s, n)
				}
			}
		})
	}
}

// Two operators that name their store alike are a duplicate store, named, and not a
// duplicate processor: the processor is named after the store.
func TestTwoStoresWithOneNameAreADuplicateStore(t *testing.T) {
	for _, c := range []struct {
		name string
		add  func(b *topology.Builder, s topology.Stream[string, string])
		want string
	}{
		{"two counts", func(b *topology.Builder, s topology.Stream[string, string]) {
			topology.Count(topology.GroupByKey(s, "by-key-2"), "counts")
		}, `duplicate store "counts": count uses it, and count before it`},
		{"a count and a table", func(b *topology.Builder, s topology.Stream[string, string]) {
			topology.TableFrom(b, "table-input", "counts", serde.String(), serde.String())
		}, `duplicate store "counts": table table-input uses it, and count before it`},
		{"a count and a windowed count", func(b *topology.Builder, s topology.Stream[string, string]) {
			topology.CountWindowed(topology.WindowedBy(topology.GroupByKey(s, "by-key-2"), topology.TimeWindowsOfSizeWithNoGrace(time.Second)), "counts")
		}, `duplicate store "counts": windowed count uses it, and count before it`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			s := topology.StreamFrom(b, "input", serde.String(), serde.String())
			topology.Count(topology.GroupByKey(s, "by-key"), "counts")
			c.add(b, s)
			_, err := b.Build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Build: %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "already used") || !strings.Contains(err.Error(), "1 problem") {
				t.Errorf("Build: %q reports more than the duplicate store", err)
			}
		})
	}
}

// A bad JoinWindows names the join: by its name, or by the streams it joins.
func TestABadJoinWindowsNamesTheJoin(t *testing.T) {
	for _, c := range []struct {
		name, join, want string
	}{
		{"named", "orders-with-payments", `joinWindowed "orders-with-payments": the windows are inverted`},
		{"unnamed", "", `joinWindowed of "order-source" and "payment-source": the windows are inverted`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			orders := topology.StreamFrom(b, "orders", serde.String(), serde.String(), topology.SourceNamed("order-source"))
			payments := topology.StreamFrom(b, "payments", serde.String(), serde.String(), topology.SourceNamed("payment-source"))
			topology.JoinWindowed(orders, payments, c.join, topology.JoinWindowsOfTimeDifferenceWithNoGrace(-time.Second),
				func(_, o, p string) string { return o + p })
			if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Build: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// unconnected reads a store it is not connected to, in Init.
type unconnected struct{}

func (unconnected) Init(ctx processor.InitContext) error {
	_, err := ctx.StateStore("counts")
	return err
}

func (unconnected) Process(processor.Context[string, string], processor.Record[string, string]) error {
	return nil
}

// A processor that opens a store it is not connected to gets an error that, wrapped in
// the task's, names the task and the node once, and says it happened in Init.
func TestAnUnconnectedStoreNamesTheTaskAndNodeOnce(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "reader", func() processor.Processor[string, string, string, string] { return unconnected{} }, "in")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = eddytest.New(topo)
	if err == nil || !strings.Contains(err.Error(), `task 0_0: node "reader" in Init: store "counts" is not connected to the node`) {
		t.Fatalf("New: %v, want the store's error", err)
	}
	for _, s := range []string{"0_0", `"reader"`} {
		if n := strings.Count(err.Error(), s); n != 1 {
			t.Errorf("error %q says %s %d times, want once", err, s, n)
		}
	}
}

// A record of a global table's topic that cannot be read names the global store, its
// source and the topic once each, and no task: the global stores belong to none.
func TestAnUndecodableGlobalRecordNamesTheStoreOnce(t *testing.T) {
	b := topology.NewBuilder()
	topology.GlobalTableFrom(b, "rates", "rates-store", serde.String(), serde.Int64())
	topology.StreamFrom(b, "prices", serde.String(), serde.Int64())
	d := startDriver(t, b)
	err := d.PipeRaw("rates", eddytest.Record{Key: []byte("eur"), Value: []byte("not 8 bytes")})
	want := `global store "rates-store": source "KTABLE-SOURCE-0000000001" cannot deserialize topic "rates" partition 0 offset 0: value: serde: wrong number of bytes`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("PipeRaw: %v, want an error containing %q", err, want)
	}
	var derr *processor.DeserializationError
	if !errors.As(err, &derr) || derr.GlobalStore != "rates-store" {
		t.Errorf("PipeRaw: %v, want a DeserializationError of the global store rates-store", err)
	}
	for _, s := range []string{`"rates-store"`, `"rates"`} {
		if n := strings.Count(err.Error(), s); n != 1 {
			t.Errorf("error %q says %s %d times, want once", err, s, n)
		}
	}
	if strings.Contains(err.Error(), "task") {
		t.Errorf("error %q names a task", err)
	}
}
