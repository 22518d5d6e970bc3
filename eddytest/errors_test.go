package eddytest_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// boomSerde is a string serde that panics on "boom", both ways.
type boomSerde struct{}

func (boomSerde) Serialize(_ string, v string) ([]byte, error) {
	if v == "boom" {
		panic("serializing boom")
	}
	return []byte(v), nil
}

func (boomSerde) Deserialize(_ string, b []byte) (string, error) {
	if string(b) == "boom" {
		panic("deserializing boom")
	}
	return string(b), nil
}

// boomIf panics when v is "boom": the user code of the table below.
func boomIf(v string) {
	if v == "boom" {
		panic("boom in user code")
	}
}

// panicky is a processor that panics in the method its field names.
type panicky struct {
	in  string // "init", "process", "close", "punctuate", "flush"
	ctx processor.Context[string, string]
	hit bool
}

func (p *panicky) Init(ctx processor.InitContext) error {
	if p.in == "init" {
		panic("boom in Init")
	}
	if p.in == "punctuate" {
		_, err := ctx.Schedule(time.Second, processor.StreamTime, func(time.Time) error {
			if p.hit {
				panic("boom in a punctuator")
			}
			return nil
		})
		return err
	}
	return nil
}

func (p *panicky) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	p.ctx = ctx
	if r.Value == "boom" {
		p.hit = true
		if p.in == "process" {
			panic("boom in Process")
		}
	}
	ctx.Forward(r)
	return nil
}

func (p *panicky) Close() error {
	if p.in == "close" {
		panic("boom in Close")
	}
	return nil
}

func (p *panicky) Flush() error {
	if p.in == "flush" && p.hit {
		p.hit = false
		panic("boom in Flush")
	}
	return nil
}

func (p *panicky) Discard() {}

// TestDriverTurnsPanicsInUserCodeIntoErrors: a panic in any kind of user function, on
// the Processor API and in the DSL, comes out of the driver as an error, never as a
// panic: a *processor.ProcessingError naming the node, wrapping a *processor.PanicError
// with the panic's value and a stack that shows where it happened; a source serde's as
// a *processor.DeserializationError, a sink serde's as a *processor.ProductionError.
func TestDriverTurnsPanicsInUserCodeIntoErrors(t *testing.T) {
	s := serde.String()
	procAPI := func(in string) func(b *topology.Builder) {
		return func(b *topology.Builder) {
			topology.AddSource(b, "src", s, s, []string{"input"})
			topology.AddProcessor(b, "p", func() processor.Processor[string, string, string, string] { return &panicky{in: in} }, "src")
			topology.AddSink(b, "sink", "output", s, s, []string{"p"})
		}
	}
	stream := func(b *topology.Builder) topology.Stream[string, string] {
		return topology.StreamFrom(b, "input", s, s)
	}
	to := func(st topology.Stream[string, string]) { topology.To(st, "output", s, s) }
	armed := false // the value getter's mapper panics only once set
	cases := []struct {
		name  string
		build func(b *topology.Builder)
		// at is where the panic happens: "new" (eddytest.New), "pipe", "close".
		at   string
		node string // the node the ProcessingError names; "" to skip the check
		// kind is the error type that wraps the PanicError.
		kind string
		// table, if set, is piped to the topic "table" before the input.
		table string
	}{
		{"Processor.Init", procAPI("init"), "new", "p", "processing", ""},
		{"Processor.Process", procAPI("process"), "pipe", "p", "processing", ""},
		{"Processor.Close", procAPI("close"), "close", "", "close", ""},
		{"punctuator", procAPI("punctuate"), "pipe", "p", "processing", ""},
		{"Flusher.Flush", procAPI("flush"), "pipe", "p", "processing", ""},
		{"mapper", func(b *topology.Builder) {
			to(topology.MapValues(stream(b), func(_, v string) string { boomIf(v); return v }, topology.Named("m")))
		}, "pipe", "m", "processing", ""},
		{"predicate", func(b *topology.Builder) {
			to(topology.Filter(stream(b), func(_, v string) bool { boomIf(v); return true }, topology.Named("f")))
		}, "pipe", "f", "processing", ""},
		{"key selector", func(b *topology.Builder) {
			to(topology.SelectKey(stream(b), func(_, v string) string { boomIf(v); return v }, topology.Named("k")))
		}, "pipe", "k", "processing", ""},
		{"flat mapper", func(b *topology.Builder) {
			to(topology.FlatMapValues(stream(b), func(_, v string) []string { boomIf(v); return []string{v} }, topology.Named("fm")))
		}, "pipe", "fm", "processing", ""},
		{"peek", func(b *topology.Builder) {
			to(topology.Peek(stream(b), func(_, v string) { boomIf(v) }, topology.Named("pk")))
		}, "pipe", "pk", "processing", ""},
		{"for each", func(b *topology.Builder) {
			topology.ForEach(stream(b), func(_, v string) error { boomIf(v); return nil }, topology.Named("fe"))
		}, "pipe", "fe", "processing", ""},
		{"aggregator", func(b *topology.Builder) {
			g := topology.GroupByKey(stream(b), "g")
			agg := topology.Aggregate(g, "agg", func() string { return "" }, func(_, v, a string) string { boomIf(v); return a + v }, s)
			to(topology.ToStream(agg))
		}, "pipe", "", "processing", ""},
		{"store serde", func(b *topology.Builder) {
			g := topology.GroupByKey(stream(b), "g")
			agg := topology.Aggregate(g, "agg", func() string { return "" }, func(_, v, a string) string { return v }, serde.Serde[string](boomSerde{}))
			to(topology.ToStream(agg))
		}, "pipe", "", "processing", ""},
		{"joiner", func(b *topology.Builder) {
			tbl := topology.TableFrom(b, "table", "tbl", s, s)
			to(topology.Join(stream(b), tbl, "j", func(_, v, tv string) string { boomIf(v); return v + tv }))
		}, "pipe", "", "processing", "t"},
		{"value getter", func(b *topology.Builder) {
			// The table "boom" is mapped when the join reads it, through the mapped
			// table's value getter (its update forwarded nowhere that maps it).
			tbl := topology.TableFrom(b, "table", "tbl", s, s)
			mapped := topology.MapValuesTable(tbl, func(_, v string) string {
				if armed {
					boomIf(v)
				}
				return v
			})
			to(topology.Join(stream(b), mapped, "j", func(_, v, tv string) string { return v + tv }))
		}, "pipe", "", "processing", "boom"},
		{"sink serde", func(b *topology.Builder) {
			topology.To(stream(b), "output", s, serde.Serde[string](boomSerde{}))
		}, "pipe", "", "production", ""},
		{"source serde", func(b *topology.Builder) {
			to(topology.StreamFrom(b, "input", s, serde.Serde[string](boomSerde{})))
		}, "pipe", "", "deserialization", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			armed = false
			b := topology.NewBuilder()
			c.build(b)
			topo := buildTopology(t, b)
			d, err := eddytest.New(topo)
			var got error
			switch c.at {
			case "new":
				got = err
			default:
				if err != nil {
					t.Fatal(err)
				}
				if c.table != "" {
					if err := d.PipeRaw("table", eddytest.Record{Key: []byte("k"), Value: []byte(c.table), Timestamp: time.UnixMilli(1)}); err != nil {
						t.Fatal(err)
					}
				}
				armed = true
				in := eddytest.InputTopic(d, "input", s, s)
				if err := in.Pipe("other", "fine", time.UnixMilli(1)); err != nil {
					t.Fatalf("a record that does not panic: %v", err)
				}
				pipeErr := in.Pipe("k", "boom", time.UnixMilli(5000))
				closeErr := d.Close()
				if c.at == "pipe" {
					got = pipeErr
					if closeErr != nil {
						t.Errorf("Close: %v", closeErr)
					}
				} else {
					got = closeErr
					if pipeErr != nil {
						t.Errorf("Pipe: %v", pipeErr)
					}
				}
			}
			if got == nil {
				t.Fatal("no error, want the panic as an error")
			}
			pe, ok := errors.AsType[*processor.PanicError](got)
			if !ok {
				t.Fatalf("error %v (%T) does not wrap a *processor.PanicError", got, got)
			}
			if !strings.Contains(string(pe.Stack), "errors_test.go") {
				t.Errorf("the stack does not show the test's code:\n%s", pe.Stack)
			}
			if s, _ := pe.Value.(string); !strings.Contains(s, "boom") {
				t.Errorf("panic value %v, want the one given to panic", pe.Value)
			}
			switch c.kind {
			case "processing":
				perr, ok := errors.AsType[*processor.ProcessingError](got)
				if !ok {
					t.Fatalf("error %v is not a *processor.ProcessingError", got)
				}
				if c.node != "" && perr.Node != c.node {
					t.Errorf("ProcessingError names node %q, want %q", perr.Node, c.node)
				}
			case "production":
				if _, ok := errors.AsType[*processor.ProductionError](got); !ok {
					t.Errorf("error %v is not a *processor.ProductionError", got)
				}
			case "deserialization":
				if _, ok := errors.AsType[*processor.DeserializationError](got); !ok {
					t.Errorf("error %v is not a *processor.DeserializationError", got)
				}
			}
		})
	}
}

// recorder is an error handler that keeps what it is told and answers resp.
type recorder struct {
	resp processor.ErrorResponse
	got  []processor.FailedRecord
}

func (r *recorder) handle(_ context.Context, f processor.FailedRecord) processor.ErrorResponse {
	f.Key, f.Value = append([]byte(nil), f.Key...), append([]byte(nil), f.Value...)
	r.got = append(r.got, f)
	return r.resp
}

var dlqHeaderNames = []string{
	"__streams.errors.exception", "__streams.errors.message", "__streams.errors.stacktrace",
	"__streams.errors.topic", "__streams.errors.partition", "__streams.errors.offset",
}

// checkDeadLetter checks that dlq holds exactly the records of want, each with its raw
// key, value, timestamp and headers, followed by the six KIP-1034 headers naming the
// input record, the error's type and message.
func checkDeadLetter(t *testing.T, dlq []eddytest.Record, want []processor.FailedRecord, errType string) {
	t.Helper()
	if len(dlq) != len(want) {
		t.Fatalf("dead-letter topic holds %d records, want %d", len(dlq), len(want))
	}
	for i, r := range dlq {
		w := want[i]
		if string(r.Key) != string(w.Key) || string(r.Value) != string(w.Value) || !r.Timestamp.Equal(w.Timestamp) {
			t.Errorf("dead letter %d: key %q value %q at %v, want %q %q at %v", i, r.Key, r.Value, r.Timestamp, w.Key, w.Value, w.Timestamp)
		}
		if len(r.Headers) != len(w.Headers)+6 {
			t.Fatalf("dead letter %d has headers %v, want the record's %d and 6 more", i, r.Headers, len(w.Headers))
		}
		for j, h := range w.Headers {
			if r.Headers[j].Key != h.Key || string(r.Headers[j].Value) != string(h.Value) {
				t.Errorf("dead letter %d: header %d is %s=%q, want the record's %s=%q", i, j, r.Headers[j].Key, r.Headers[j].Value, h.Key, h.Value)
			}
		}
		got := map[string]string{}
		for j, h := range r.Headers[len(w.Headers):] {
			if h.Key != dlqHeaderNames[j] {
				t.Errorf("dead letter %d: header %d is %q, want %q", i, j, h.Key, dlqHeaderNames[j])
			}
			got[h.Key] = string(h.Value)
		}
		wantValues := map[string]string{
			"__streams.errors.exception": errType,
			"__streams.errors.message":   w.Err.Error(),
			"__streams.errors.topic":     w.Topic,
			"__streams.errors.partition": strconv.Itoa(int(w.Partition)),
			"__streams.errors.offset":    strconv.FormatInt(w.Offset, 10),
		}
		for k, v := range wantValues {
			if got[k] != v {
				t.Errorf("dead letter %d: header %s = %q, want %q", i, k, got[k], v)
			}
		}
		if got["__streams.errors.stacktrace"] == "" {
			t.Errorf("dead letter %d: empty stack trace", i)
		}
	}
}

// TestDriverProcessingErrorHandler: with Continue, a record whose processing fails (an
// error returned, or a panic) is dropped from the failing node on, what the node
// forwarded before stays, the next records are processed, the handler is told the task,
// node, topic, partition, offset, raw bytes and error, and the dead-letter topic gets the
// input record; with Fail, Pipe returns the error.
func TestDriverProcessingErrorHandler(t *testing.T) {
	s := serde.String()
	b := topology.NewBuilder()
	st := topology.StreamFrom(b, "input", s, s)
	st = topology.FlatMapValues(st, func(_, v string) []string {
		if v == "panic" {
			panic("poison")
		}
		return []string{v + "-1", v + "-2"}
	}, topology.Named("split"))
	st = topology.Filter(st, func(_, v string) bool {
		if strings.HasPrefix(v, "bad") && strings.HasSuffix(v, "-2") {
			panic("bad second half")
		}
		return true
	}, topology.Named("check"))
	topology.To(st, "output", s, s)
	topo := buildTopology(t, b)

	t.Run("continue", func(t *testing.T) {
		h := &recorder{resp: processor.Continue}
		d := newDriver(t, topo, eddytest.OnProcessingError(h.handle), eddytest.DeadLetterTopic("dlq"))
		in := eddytest.InputTopic(d, "input", s, s)
		hdr := []processor.Header{{Key: "trace", Value: []byte("t-1")}}
		for i, v := range []string{"a", "panic", "bad", "b"} {
			if err := d.PipeRaw("input", eddytest.Record{Key: []byte("k" + strconv.Itoa(i)), Value: []byte(v), Timestamp: time.UnixMilli(int64(10 * (i + 1))), Headers: hdr}); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		_ = in
		out, err := eddytest.OutputTopic(d, "output", s, s).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out {
			got = append(got, r.Key+"="+r.Value)
		}
		if want := "k0=a-1 k0=a-2 k2=bad-1 k3=b-1 k3=b-2"; strings.Join(got, " ") != want {
			t.Errorf("output %v, want %s", got, want)
		}
		if len(h.got) != 2 {
			t.Fatalf("handler called %d times, want 2: %+v", len(h.got), h.got)
		}
		for i, w := range []struct {
			node, value string
			offset      int64
		}{{"split", "panic", 1}, {"check", "bad", 2}} {
			f := h.got[i]
			if f.Task != (processor.TaskID{}) || f.Node != w.node || f.Topic != "input" || f.Partition != 0 || f.Offset != w.offset ||
				string(f.Key) != "k"+strconv.FormatInt(w.offset, 10) || string(f.Value) != w.value || !f.Timestamp.Equal(time.UnixMilli(10*(w.offset+1))) ||
				len(f.Headers) != 1 || f.Headers[0].Key != "trace" {
				t.Errorf("failed record %d: %+v, want node %s, input 0 offset %d, value %q", i, f, w.node, w.offset, w.value)
			}
			perr, ok := errors.AsType[*processor.ProcessingError](f.Err)
			if _, isPanic := errors.AsType[*processor.PanicError](f.Err); !ok || !isPanic || perr.Node != w.node {
				t.Errorf("failed record %d: error %v, want a ProcessingError of %s wrapping a PanicError", i, f.Err, w.node)
			}
		}
		checkDeadLetter(t, d.Written("dlq"), h.got, "*processor.ProcessingError")
	})
	t.Run("fail", func(t *testing.T) {
		h := &recorder{resp: processor.Fail}
		d := newDriver(t, topo, eddytest.OnProcessingError(h.handle), eddytest.DeadLetterTopic("dlq"))
		in := eddytest.InputTopic(d, "input", s, s)
		if err := in.Pipe("k", "a", time.UnixMilli(1)); err != nil {
			t.Fatal(err)
		}
		err := in.Pipe("k", "panic", time.UnixMilli(2))
		if _, ok := errors.AsType[*processor.PanicError](err); !ok {
			t.Errorf("Pipe returned %v, want the panic", err)
		}
		if len(h.got) != 1 || len(d.Written("dlq")) != 0 {
			t.Errorf("handler called %d times, dead letters %d; want 1 and 0", len(h.got), len(d.Written("dlq")))
		}
	})
}

// TestDriverPunctuatorErrorContinues: a punctuator's error continued past has no input
// record (topic "", offset -1), writes no dead letter, and the punctuator fires again.
func TestDriverPunctuatorErrorContinues(t *testing.T) {
	s := serde.String()
	fired := 0
	b := topology.NewBuilder()
	topology.AddSource(b, "src", s, s, []string{"input"})
	topology.AddProcessor(b, "p", func() processor.Processor[string, string, string, string] {
		return &failingPunctuator{fired: &fired}
	}, "src")
	topo := buildTopology(t, b)
	h := &recorder{resp: processor.Continue}
	d := newDriver(t, topo, eddytest.OnProcessingError(h.handle), eddytest.DeadLetterTopic("dlq"))
	in := eddytest.InputTopic(d, "input", s, s)
	for i := range 3 {
		if err := in.Pipe("k", "v", time.UnixMilli(int64(i)*1000)); err != nil {
			t.Fatal(err)
		}
	}
	if fired != 3 || len(h.got) != 3 {
		t.Fatalf("punctuator fired %d times, handler called %d; want 3 and 3", fired, len(h.got))
	}
	for _, f := range h.got {
		if f.Node != "p" || f.Topic != "" || f.Partition != -1 || f.Offset != -1 || f.Key != nil || f.Value != nil {
			t.Errorf("failed record %+v, want node p without an input record", f)
		}
	}
	if n := len(d.Written("dlq")); n != 0 {
		t.Errorf("%d dead letters, want none for punctuators", n)
	}
}

// TestDriverDeserializationErrorHandler: an undecodable record, continued past, is
// skipped (the next records are processed), the handler is told its coordinates and
// bytes, and it reaches the dead-letter topic; failed, Pipe returns the
// *processor.DeserializationError.
func TestDriverDeserializationErrorHandler(t *testing.T) {
	b := topology.NewBuilder()
	topology.To(topology.StreamFrom(b, "input", serde.String(), serde.Int64(), topology.SourceNamed("numbers")), "output", serde.String(), serde.Int64())
	topo := buildTopology(t, b)
	good, _ := serde.Int64().Serialize("", 7)
	for _, resp := range []processor.ErrorResponse{processor.Continue, processor.Fail} {
		t.Run(resp.String(), func(t *testing.T) {
			h := &recorder{resp: resp}
			d := newDriver(t, topo, eddytest.OnDeserializationError(h.handle), eddytest.DeadLetterTopic("dlq"))
			pipe := func(v []byte, ms int64) error {
				return d.PipeRaw("input", eddytest.Record{Key: []byte("k"), Value: v, Timestamp: time.UnixMilli(ms)})
			}
			if err := pipe(good, 1); err != nil {
				t.Fatal(err)
			}
			err := pipe([]byte("xyz"), 2)
			if resp == processor.Fail {
				derr, ok := errors.AsType[*processor.DeserializationError](err)
				if !ok || derr.Source != "numbers" || derr.Record.Offset != 1 {
					t.Fatalf("Pipe returned %v, want the DeserializationError of numbers at offset 1", err)
				}
				if len(d.Written("dlq")) != 0 {
					t.Error("a dead letter written for a record that failed")
				}
				return
			}
			if err != nil {
				t.Fatalf("Pipe returned %v, want the record skipped", err)
			}
			if err := pipe(good, 3); err != nil {
				t.Fatal(err)
			}
			if n := len(d.Written("output")); n != 2 {
				t.Errorf("%d output records, want 2", n)
			}
			if len(h.got) != 1 {
				t.Fatalf("handler called %d times, want 1", len(h.got))
			}
			f := h.got[0]
			if f.Node != "numbers" || f.Topic != "input" || f.Offset != 1 || string(f.Value) != "xyz" || string(f.Key) != "k" {
				t.Errorf("failed record %+v, want source numbers, input offset 1, value xyz", f)
			}
			if _, ok := errors.AsType[*processor.DeserializationError](f.Err); !ok {
				t.Errorf("error %v, want a DeserializationError", f.Err)
			}
			checkDeadLetter(t, d.Written("dlq"), h.got, "*processor.DeserializationError")
		})
	}
}

// TestDriverSerializationErrorAtASink: a sink whose serde fails goes to the production
// handler, which is told the input record; continued past, that output record is
// dropped, the other sink still gets its own, and the input record is dead-lettered.
func TestDriverSerializationErrorAtASink(t *testing.T) {
	s := serde.String()
	failing := serde.Func(func(_ string, v string) ([]byte, error) {
		if v == "x" {
			return nil, errors.New("cannot write x")
		}
		return []byte(v), nil
	}, func(_ string, b []byte) (string, error) { return string(b), nil })
	b := topology.NewBuilder()
	st := topology.StreamFrom(b, "input", s, s)
	topology.To(st, "strict", s, failing, topology.Named("to-strict"))
	topology.To(st, "lenient", s, s, topology.Named("to-lenient"))
	topo := buildTopology(t, b)
	for _, resp := range []processor.ErrorResponse{processor.Continue, processor.Fail} {
		t.Run(resp.String(), func(t *testing.T) {
			h := &recorder{resp: resp}
			d := newDriver(t, topo, eddytest.OnProductionError(h.handle), eddytest.DeadLetterTopic("dlq"))
			in := eddytest.InputTopic(d, "input", s, s)
			for i, v := range []string{"a", "x", "b"} {
				err := in.Pipe("k", v, time.UnixMilli(int64(i)))
				if v == "x" && resp == processor.Fail {
					perr, ok := errors.AsType[*processor.ProductionError](err)
					if !ok || perr.Sink != "to-strict" || perr.Topic != "strict" || perr.Input.Offset != 1 {
						t.Fatalf("Pipe returned %v, want the ProductionError of to-strict for input offset 1", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("record %s: %v", v, err)
				}
			}
			values := func(topic string) string {
				var vs []string
				for _, r := range d.Written(topic) {
					vs = append(vs, string(r.Value))
				}
				return strings.Join(vs, ",")
			}
			if got := values("strict"); got != "a,b" {
				t.Errorf("strict got %s, want a,b", got)
			}
			if got := values("lenient"); got != "a,x,b" {
				t.Errorf("lenient got %s, want a,x,b", got)
			}
			if len(h.got) != 1 || h.got[0].Node != "to-strict" || h.got[0].Offset != 1 || string(h.got[0].Value) != "x" {
				t.Fatalf("handler told %+v, want the input record at offset 1 failing at to-strict", h.got)
			}
			checkDeadLetter(t, d.Written("dlq"), h.got, "*processor.ProductionError")
		})
	}
}

// TestDriverGlobalStoreUndecodableRecord: a record of a global table's topic that the
// table cannot deserialize fails the pipe by default, and with Continue is not applied
// while the records around it are.
func TestDriverGlobalStoreUndecodableRecord(t *testing.T) {
	b := topology.NewBuilder()
	gt := topology.GlobalTableFrom(b, "globals", "g", serde.String(), serde.Int64())
	st := topology.StreamFrom(b, "input", serde.String(), serde.String())
	joined := topology.JoinGlobal(st, gt, func(k, _ string) string { return k }, func(v string, n int64) string { return v + "=" + strconv.FormatInt(n, 10) })
	topology.To(joined, "output", serde.String(), serde.String())
	topo := buildTopology(t, b)
	n1, _ := serde.Int64().Serialize("", 1)
	for _, resp := range []processor.ErrorResponse{processor.Continue, processor.Fail} {
		t.Run(resp.String(), func(t *testing.T) {
			h := &recorder{resp: resp}
			d := newDriver(t, topo, eddytest.OnDeserializationError(h.handle))
			if err := d.PipeRaw("globals", eddytest.Record{Key: []byte("a"), Value: n1}); err != nil {
				t.Fatal(err)
			}
			err := d.PipeRaw("globals", eddytest.Record{Key: []byte("b"), Value: []byte("bad")})
			if resp == processor.Fail {
				derr, ok := errors.AsType[*processor.DeserializationError](err)
				if !ok || derr.Record.Topic != "globals" || derr.Record.Offset != 1 {
					t.Fatalf("Pipe returned %v, want the DeserializationError of globals offset 1", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(h.got) != 1 || h.got[0].Topic != "globals" || h.got[0].Offset != 1 || string(h.got[0].Value) != "bad" {
				t.Fatalf("handler told %+v, want globals offset 1", h.got)
			}
			kv, err := d.KeyValueStore("g")
			if err != nil {
				t.Fatal(err)
			}
			if v, ok, err := kv.Get([]byte("b")); err != nil || ok {
				t.Errorf("the undecodable record was applied: %q, %v", v, err)
			}
			in := eddytest.InputTopic(d, "input", serde.String(), serde.String())
			for _, k := range []string{"a", "b"} {
				if err := in.Pipe(k, "v", time.UnixMilli(1)); err != nil {
					t.Fatal(err)
				}
			}
			out, _ := eddytest.OutputTopic(d, "output", serde.String(), serde.String()).ReadAll()
			if len(out) != 1 || out[0].Value != "v=1" {
				t.Errorf("output %v, want only a's join v=1", out)
			}
		})
	}
}

// failingPunctuator schedules a stream-time punctuator that fails every time.
type failingPunctuator struct{ fired *int }

func (p *failingPunctuator) Init(ctx processor.InitContext) error {
	_, err := ctx.Schedule(time.Second, processor.StreamTime, func(time.Time) error {
		*p.fired++
		return errors.New("punctuator failed")
	})
	return err
}

func (p *failingPunctuator) Process(processor.Context[string, string], processor.Record[string, string]) error {
	return nil
}

func (p *failingPunctuator) Close() error { return nil }
