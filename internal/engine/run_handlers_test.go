package engine

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// handlerLog is an error handler that keeps what it is told (safe for concurrent use)
// and answers resp.
type handlerLog struct {
	resp processor.ErrorResponse
	mu   sync.Mutex
	got  []processor.FailedRecord
}

func (h *handlerLog) handle(_ context.Context, f processor.FailedRecord) processor.ErrorResponse {
	f.Key, f.Value = append([]byte(nil), f.Key...), append([]byte(nil), f.Value...)
	h.mu.Lock()
	h.got = append(h.got, f)
	h.mu.Unlock()
	return h.resp
}

func (h *handlerLog) records() []processor.FailedRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]processor.FailedRecord(nil), h.got...)
}

// headerMap is a record's headers by key; each key must appear once.
func headerMap(t *testing.T, r *kgo.Record) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, h := range r.Headers {
		if _, dup := m[h.Key]; dup {
			t.Errorf("header %s appears twice", h.Key)
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestRunPanicBecomesAProcessingError: a panic in a processor does not crash the
// process: Run returns a *processor.ProcessingError naming the task, node and record,
// wrapping a *processor.PanicError whose stack shows the panic's origin.
func TestRunPanicBecomesAProcessingError(t *testing.T) {
	const app, in, out = "panics", "in", "out"
	rc := newRunCluster(t)
	rc.createTopics(1, in, out)
	hook := func(_, value string, _ processor.RecordMetadata) error {
		if value == "bad" {
			panic("poison record")
		}
		return nil
	}
	rc.send(in, 1, "a", "1", "b", "bad")
	inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, hook)})
	err := inst.wait()
	perr, ok := errors.AsType[*processor.ProcessingError](err)
	if !ok {
		t.Fatalf("Run returned %v, want a *processor.ProcessingError", err)
	}
	want := processor.RecordMetadata{Topic: in, Partition: 0, Offset: 1}
	if perr.Node != "count" || perr.Record != want {
		t.Errorf("ProcessingError of node %q record %+v, want count %+v", perr.Node, perr.Record, want)
	}
	pe, ok := errors.AsType[*processor.PanicError](err)
	if !ok || pe.Value != "poison record" || !strings.Contains(string(pe.Stack), "run_handlers_test.go") {
		t.Errorf("the error does not wrap the panic with its stack: %v", err)
	}
	if !inst.log.has("failing on a failed record") {
		t.Error("the failure was not logged")
	}
}

// TestRunContinuesPastProcessingErrors: with a processing handler that continues and a
// dead-letter topic, poison records (an error, a panic) are dropped, every other record
// is counted exactly, the offsets are committed to the end of the input, and the
// dead-letter topic holds each poison record with its raw key, value and headers and the
// KIP-1034 headers; under both guarantees (exactly-once: read committed).
func TestRunContinuesPastProcessingErrors(t *testing.T) {
	for _, eos := range []bool{false, true} {
		name := "at least once"
		if eos {
			name = "exactly once"
		}
		t.Run(name, func(t *testing.T) {
			const app, in, out, dlq, parts = "continues", "in", "out", "dlq", 2
			rc := newRunCluster(t)
			rc.createTopics(parts, in, out, dlq)
			hook := func(_, value string, _ processor.RecordMetadata) error {
				switch value {
				case "error":
					return errors.New("refused")
				case "panic":
					panic("poison")
				}
				return nil
			}
			h := &handlerLog{resp: processor.Continue}
			inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, hook), eos: eos,
				errors: task.ErrorPolicy{Processing: h.handle, DeadLetterTopic: dlq}})
			want := map[string]int{}
			keys := runKeys("k", 6)
			rc.sendRound(in, parts, 0, want, keys...)
			poison := []*kgo.Record{
				{Topic: in, Partition: runKeyPartition("k1", parts), Key: []byte("k1"), Value: []byte("error"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("1")}}},
				{Topic: in, Partition: runKeyPartition("k2", parts), Key: []byte("k2"), Value: []byte("panic")},
			}
			rc.sendRecords(poison...)
			rc.sendRound(in, parts, 1, want, keys...)
			rc.waitUntil("the input is committed to its end", func() bool {
				return maps.Equal(rc.groupOffsets(app, in), rc.endOffsets(in))
			})
			inst.mustStop()
			checkExactCounts(t, "counts", rc.readTopic(out, eos), want)

			dead := rc.readTopic(dlq, eos)
			if len(dead) != 2 {
				t.Fatalf("dead-letter topic holds%s, want the 2 poison records", describeRecords(dead))
			}
			byValue := map[string]*kgo.Record{}
			for _, r := range dead {
				byValue[string(r.Value)] = r
			}
			for _, p := range poison {
				r := byValue[string(p.Value)]
				if r == nil || string(r.Key) != string(p.Key) || !r.Timestamp.Equal(p.Timestamp) {
					t.Errorf("no dead letter for %s=%s at %v: got%s", p.Key, p.Value, p.Timestamp, describeRecords(dead))
					continue
				}
				hs := headerMap(t, r)
				wantHs := map[string]string{
					"__streams.errors.exception": "*processor.ProcessingError",
					"__streams.errors.topic":     in,
					"__streams.errors.partition": strconv.Itoa(int(p.Partition)),
					"__streams.errors.offset":    strconv.FormatInt(p.Offset, 10),
				}
				for _, ph := range p.Headers {
					wantHs[ph.Key] = string(ph.Value)
				}
				for k, v := range wantHs {
					if hs[k] != v {
						t.Errorf("dead letter %s: header %s = %q, want %q", p.Value, k, hs[k], v)
					}
				}
				if !strings.Contains(hs["__streams.errors.message"], `node "count"`) {
					t.Errorf("dead letter %s: message %q does not name the node", p.Value, hs["__streams.errors.message"])
				}
				if p.Value[0] == 'p' && !strings.Contains(hs["__streams.errors.stacktrace"], "run_handlers_test.go") {
					t.Errorf("dead letter of the panic: stack trace %q does not show where", hs["__streams.errors.stacktrace"])
				}
				t.Logf("dead letter: key %s value %s headers %v", r.Key, r.Value, strings.ReplaceAll(strings.Join(headerLines(r), "; "), "\n", "|"))
			}
			got := h.records()
			if len(got) < 2 {
				t.Fatalf("handler told %d failures, want the 2 poison records", len(got))
			}
			for _, f := range got {
				if f.Node != "count" || f.Topic != in || f.Offset < 0 || (string(f.Value) != "error" && string(f.Value) != "panic") {
					t.Errorf("failed record %+v, want a poison record of node count", f)
				}
			}
		})
	}
}

// headerLines renders a record's headers for the test log.
func headerLines(r *kgo.Record) []string {
	var s []string
	for _, h := range r.Headers {
		v := string(h.Value)
		if len(v) > 80 {
			v = v[:80] + "…"
		}
		s = append(s, h.Key+"="+v)
	}
	return s
}

// createTopicWithConfig creates a one-partition topic with configs.
func (rc *runCluster) createTopicWithConfig(topic string, configs map[string]string) {
	rc.t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	resp, err := rc.admin.CreateTopics(rc.ctx(), 1, 1, cfg, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		rc.t.Fatalf("creating %s: %v", topic, err)
	}
}

// TestRunProduceFailures: an output record above the output topic's max.message.bytes
// is refused by the broker. At least once, with Continue, that record is dropped, the
// others are written and the input is committed to its end; with Fail (and under
// exactly-once whatever the handler says) Run returns a *processor.ProductionError naming
// the topic, and the input is not committed past the record.
func TestRunProduceFailures(t *testing.T) {
	const in, out = "in", "out"
	// Random letters: the producer compresses batches, and a repeated letter would
	// compress below the limit.
	rnd := rand.New(rand.NewPCG(1, 2))
	bigBytes := make([]byte, 8000)
	for i := range bigBytes {
		bigBytes[i] = byte('a' + rnd.IntN(26))
	}
	big := string(bigBytes)
	for _, c := range []struct {
		name string
		resp processor.ErrorResponse
		eos  bool
	}{
		{"continue", processor.Continue, false},
		{"fail", processor.Fail, false},
		{"exactly once", processor.Continue, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := "produce-" + strings.ReplaceAll(c.name, " ", "-")
			rc := newRunCluster(t)
			rc.createTopics(1, in)
			rc.createTopicWithConfig(out, map[string]string{"max.message.bytes": "1024"})
			h := &handlerLog{resp: c.resp}
			inst := rc.start(runSpec{app: app, topo: upperTopology(t, in, out), eos: c.eos, errors: task.ErrorPolicy{Production: h.handle}})
			// One record at a time, so that the big one is alone in its batch: the broker
			// refuses a whole batch.
			outputs := rc.consume(out, c.eos)
			rc.send(in, 1, "a", "a")
			outputs.waitCount(1)
			rc.send(in, 1, "b", big)
			if c.resp == processor.Continue && !c.eos {
				rc.waitUntil("the handler is asked", func() bool { return len(h.records()) > 0 })
				rc.send(in, 1, "c", "c")
				outputs.waitCount(2)
				rc.waitUntil("the input is committed to its end", func() bool { return rc.groupOffsets(app, in)[0] == 3 })
				inst.mustStop()
				got := rc.readTopic(out, false)
				if len(got) != 2 || string(got[0].Value) != "0/0:A" || string(got[1].Value) != "0/2:C" {
					t.Errorf("output%s, want 0/0:A and 0/2:C", describeRecords(got))
				}
				fs := h.records()
				if len(fs) != 1 || fs[0].Topic != out || fs[0].Offset != -1 || string(fs[0].Value) != "0/1:"+strings.ToUpper(big) {
					t.Fatalf("handler told %+v, want the big output record", fs)
				}
				if _, ok := errors.AsType[*processor.ProductionError](fs[0].Err); !ok {
					t.Errorf("error %v, want a ProductionError", fs[0].Err)
				}
				return
			}
			err := inst.wait()
			perr, ok := errors.AsType[*processor.ProductionError](err)
			if !ok || perr.Topic != out {
				t.Fatalf("Run returned %v, want a *processor.ProductionError of %s", err, out)
			}
			if c.eos && len(h.records()) != 0 {
				t.Errorf("under exactly-once the handler was asked: %+v", h.records())
			}
			if got := rc.groupOffsets(app, in)[0]; got > 1 {
				t.Errorf("input committed to %d, past the record that failed at 1", got)
			}
		})
	}
}

// TestRunDeadLetterTopicMustExist: a dead-letter topic that does not exist stops Run at
// start with ErrMissingTopics naming it.
func TestRunDeadLetterTopicMustExist(t *testing.T) {
	rc := newRunCluster(t)
	rc.createTopics(1, "in", "out")
	inst := rc.start(runSpec{app: "nodlq", topo: countTopology(t, "in", "out", nil), errors: task.ErrorPolicy{DeadLetterTopic: "absent-dlq"}})
	err := inst.wait()
	if !errors.Is(err, ErrMissingTopics) || !strings.Contains(err.Error(), "absent-dlq") {
		t.Errorf("Run returned %v, want ErrMissingTopics naming absent-dlq", err)
	}
}

// TestRunGlobalStoreUndecodableRecord: a record of a global table's topic that cannot be
// deserialized fails Run by default; continued past, it is skipped (counted in the
// skipped total) and its offset is checkpointed, so that a restart with the default
// handler does not fail on it again (Pebble keeps the global stores and their
// checkpoint in the state directory).
func TestRunGlobalStoreUndecodableRecord(t *testing.T) {
	const globals, in, out = "rates", "in", "out"
	topo := func(t *testing.T) *topology.Topology {
		b := topology.NewBuilder()
		gt := topology.GlobalTableFrom(b, globals, "rates", serde.String(), serde.Int64())
		st := topology.StreamFrom(b, in, serde.String(), serde.String())
		j := topology.JoinGlobal(st, gt, func(k, _ string) string { return k }, func(v string, n int64) string { return v + "=" + strconv.FormatInt(n, 10) })
		topology.To(j, out, serde.String(), serde.String())
		built, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return built
	}
	setup := func(t *testing.T) *runCluster {
		rc := newRunCluster(t)
		rc.createTopics(1, globals, in, out)
		rc.sendRecords(int64Record(globals, "a", 1), &kgo.Record{Topic: globals, Key: []byte("b"), Value: []byte("bad")}, int64Record(globals, "c", 3))
		return rc
	}
	t.Run("fail", func(t *testing.T) {
		rc := setup(t)
		err := rc.start(runSpec{app: "global-fails", topo: topo(t)}).wait()
		derr, ok := errors.AsType[*processor.DeserializationError](err)
		if !ok || derr.Record != (processor.RecordMetadata{Topic: globals, Partition: 0, Offset: 1}) {
			t.Fatalf("Run returned %v, want the DeserializationError of %s offset 1", err, globals)
		}
	})
	t.Run("continue", func(t *testing.T) {
		rc := setup(t)
		stateDir := t.TempDir()
		h := &handlerLog{resp: processor.Continue}
		inst := rc.start(runSpec{app: "global-skips", topo: topo(t), stateDir: stateDir, stores: newPebble(t), errors: task.ErrorPolicy{Deserialization: h.handle}})
		rc.send(in, 1, "a", "x", "b", "y", "c", "z")
		got := rc.consume(out, false).waitCount(2)
		rc.waitUntil("the input is committed", func() bool { return rc.groupOffsets("global-skips", in)[0] == 3 })
		if n := inst.stats.SkippedUndecodable.Load(); n != 1 {
			t.Errorf("skipped %d, want 1", n)
		}
		inst.mustStop()
		if len(got) != 2 || runValue(got[0].Value) != "x=1" || runValue(got[1].Value) != "z=3" {
			t.Errorf("output%s, want x=1 and z=3", describeRecords(got))
		}
		if fs := h.records(); len(fs) != 1 || fs[0].Topic != globals || fs[0].Offset != 1 || string(fs[0].Value) != "bad" {
			t.Errorf("handler told %+v, want %s offset 1", fs, globals)
		}
		// Restarted on the same state with the default handler: the record is behind
		// the checkpoint and is not read again.
		again := rc.start(runSpec{app: "global-skips", topo: topo(t), stateDir: stateDir, stores: newPebble(t)})
		rc.send(in, 1, "a", "w")
		rc.waitUntil("the restart processes", func() bool { return rc.groupOffsets("global-skips", in)[0] == 4 })
		again.mustStop()
	})
}
