package integration_test

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The headers of a dead-letter record, as Kafka Streams names them (KIP-1034,
// org.apache.kafka.streams.errors.internals.ExceptionHandlerUtils).
var deadLetterHeaders = []string{
	"__streams.errors.exception", "__streams.errors.message", "__streams.errors.stacktrace",
	"__streams.errors.topic", "__streams.errors.partition", "__streams.errors.offset",
}

// doublingTopology reads int64 amounts from in and writes each doubled to out; an
// amount of 0 makes the processor panic.
func doublingTopology(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "amounts", serde.String(), serde.Int64(), []string{in})
	topology.AddProcessor(b, "double", func() processor.Processor[string, int64, string, int64] {
		return processor.ProcessFunc[string, int64, string, int64](func(ctx processor.Context[string, int64], r processor.Record[string, int64]) error {
			if r.Value == 0 {
				panic("cannot double 0")
			}
			r.Value *= 2
			ctx.Forward(r)
			return nil
		})
	}, "amounts")
	topology.AddSink(b, "doubled", out, serde.String(), serde.Int64(), []string{"double"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// readAllRecords reads topic from its start to its end as it is now (read_committed if
// committed), with a plain franz-go consumer.
func readAllRecords(t *testing.T, cluster *kafkatest.Cluster, topic string, committed bool) []*kgo.Record {
	t.Helper()
	admin := kadm.NewClient(cluster.Client(t))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// Read committed too, the end is the high watermark: every transaction is over once
	// its marker is, and the markers are kept to move past aborted records.
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	reader := cluster.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords())
	next := map[int32]int64{}
	var out []*kgo.Record
	done := func() bool {
		for p, o := range ends[topic] {
			if next[p] < o.Offset {
				return false
			}
		}
		return true
	}
	for !done() {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: reached %v of %v", topic, next, ends)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// headersOf maps a record's headers; a key that appears twice fails the test.
func headersOf(t *testing.T, r *kgo.Record) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, h := range r.Headers {
		if _, dup := m[h.Key]; dup {
			t.Errorf("record %s/%d@%d: header %s twice", r.Topic, r.Partition, r.Offset, h.Key)
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

// checkDeadLetter checks that dead is the dead letter of poison: its raw key, value,
// timestamp and headers, then the six KIP-1034 headers in order, naming poison's topic,
// partition and offset and the error's Go type; it logs the record.
func checkDeadLetter(t *testing.T, dead, poison *kgo.Record, errType string) {
	t.Helper()
	if string(dead.Key) != string(poison.Key) || string(dead.Value) != string(poison.Value) || !dead.Timestamp.Equal(poison.Timestamp) {
		t.Errorf("dead letter key %q value %q at %v, want the poison record's %q %q at %v", dead.Key, dead.Value, dead.Timestamp, poison.Key, poison.Value, poison.Timestamp)
	}
	if len(dead.Headers) != len(poison.Headers)+len(deadLetterHeaders) {
		t.Fatalf("dead letter has %d headers, want the poison record's %d and %d", len(dead.Headers), len(poison.Headers), len(deadLetterHeaders))
	}
	for i, h := range poison.Headers {
		if dead.Headers[i].Key != h.Key || string(dead.Headers[i].Value) != string(h.Value) {
			t.Errorf("dead letter header %d is %s=%q, want the poison record's %s=%q", i, dead.Headers[i].Key, dead.Headers[i].Value, h.Key, h.Value)
		}
	}
	for i, name := range deadLetterHeaders {
		if got := dead.Headers[len(poison.Headers)+i].Key; got != name {
			t.Errorf("dead letter header %d is %q, want %q", len(poison.Headers)+i, got, name)
		}
	}
	hs := headersOf(t, dead)
	for k, v := range map[string]string{
		"__streams.errors.exception": errType,
		"__streams.errors.topic":     poison.Topic,
		"__streams.errors.partition": strconv.Itoa(int(poison.Partition)),
		"__streams.errors.offset":    strconv.FormatInt(poison.Offset, 10),
	} {
		if hs[k] != v {
			t.Errorf("dead letter of %s/%d@%d: %s = %q, want %q", poison.Topic, poison.Partition, poison.Offset, k, hs[k], v)
		}
	}
	if hs["__streams.errors.message"] == "" || hs["__streams.errors.stacktrace"] == "" {
		t.Errorf("dead letter of %s/%d@%d: empty message or stack trace: %v", poison.Topic, poison.Partition, poison.Offset, hs)
	}
}

// logDeadLetter logs a dead letter, the stack trace's first lines only.
func logDeadLetter(t *testing.T, r *kgo.Record) {
	t.Helper()
	var hs []string
	for _, h := range r.Headers {
		v := string(h.Value)
		if h.Key == "__streams.errors.stacktrace" {
			lines := strings.Split(v, "\n")
			v = strings.Join(lines[:min(len(lines), 6)], " | ") + " | …"
		}
		hs = append(hs, h.Key+"="+strconv.Quote(v))
	}
	t.Logf("dead letter %s/%d@%d: key %q value %q timestamp %d headers:\n    %s", r.Topic, r.Partition, r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli(), strings.Join(hs, "\n    "))
}

// TestPoisonRecordsUnderEachPolicy: an undecodable record and one whose processing
// panics, on real Kafka. By default Run stops at the first with a
// *processor.DeserializationError naming its topic, partition and offset; continuing
// past undecodable records only, Run stops at the panic with a *processor.ProcessingError
// wrapping a *processor.PanicError; continuing past both with a dead-letter topic, the
// output holds exactly the other records, the group's offsets reach the end of the
// input, and a plain consumer reads both poison records from the dead-letter topic with
// their raw bytes and the KIP-1034 headers.
func TestPoisonRecordsUnderEachPolicy(t *testing.T) {
	cluster := kafka.Cluster(t)
	in := cluster.NewTopic(t, 2, nil)
	producer := cluster.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	amount := func(n int64) []byte { b, _ := serde.Int64().Serialize(in, n); return b }
	records := []*kgo.Record{
		{Topic: in, Partition: 1, Key: []byte("a"), Value: amount(1)},
		{Topic: in, Partition: 1, Key: []byte("b"), Value: []byte("xyz"), Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("legacy")}}},
		{Topic: in, Partition: 1, Key: []byte("c"), Value: amount(0)},
		{Topic: in, Partition: 1, Key: []byte("d"), Value: amount(4)},
		{Topic: in, Partition: 0, Key: []byte("e"), Value: amount(5)},
	}
	if err := producer.ProduceSync(t.Context(), records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	undecodable, panics := records[1], records[2]

	t.Run("fail", func(t *testing.T) {
		app := startApp(t, "strict", cluster, doublingTopology(t, in, cluster.NewTopic(t, 2, nil)),
			eddy.ApplicationID(in+"-strict"), eddy.StateDir(t.TempDir()))
		err := app.wait(t, time.Minute)
		derr, ok := errors.AsType[*processor.DeserializationError](err)
		if !ok || derr.Record != (processor.RecordMetadata{Topic: in, Partition: 1, Offset: undecodable.Offset}) || derr.Source != "amounts" {
			t.Fatalf("Run returned %v, want the DeserializationError of source amounts at %s/1@%d", err, in, undecodable.Offset)
		}
		t.Logf("the default policy stopped with: %v", err)

		app = startApp(t, "skips-undecodable", cluster, doublingTopology(t, in, cluster.NewTopic(t, 2, nil)),
			eddy.ApplicationID(in+"-half"), eddy.StateDir(t.TempDir()), eddy.SkipUndecodableRecords())
		err = app.wait(t, time.Minute)
		perr, ok := errors.AsType[*processor.ProcessingError](err)
		pe, isPanic := errors.AsType[*processor.PanicError](err)
		if !ok || !isPanic || perr.Node != "double" || perr.Record != (processor.RecordMetadata{Topic: in, Partition: 1, Offset: panics.Offset}) {
			t.Fatalf("Run returned %v, want a ProcessingError of node double at %s/1@%d wrapping a PanicError", err, in, panics.Offset)
		}
		if !strings.Contains(string(pe.Stack), "errors_test.go") {
			t.Errorf("the panic's stack does not show where it happened:\n%s", pe.Stack)
		}
		t.Logf("continuing past undecodable records only, it stopped with: %v", err)
	})

	t.Run("continue", func(t *testing.T) {
		out := cluster.NewTopic(t, 2, nil)
		dlq := cluster.NewTopic(t, 1, nil)
		group := in + "-lenient"
		app := startApp(t, "lenient", cluster, doublingTopology(t, in, out),
			eddy.ApplicationID(group), eddy.StateDir(t.TempDir()), eddy.CommitInterval(100*time.Millisecond),
			eddy.OnDeserializationError(processor.LogAndContinue), eddy.OnProcessingError(processor.LogAndContinue),
			eddy.DeadLetterTopic(dlq))
		admin := kadm.NewClient(cluster.Client(t))
		ends, err := admin.ListEndOffsets(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			committed, err := admin.FetchOffsets(t.Context(), group)
			at := func(p int32) int64 { o, _ := committed.Lookup(in, p); return o.At }
			if err == nil && at(0) == ends[in][0].Offset && at(1) == ends[in][1].Offset {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the group did not commit the end of the input %v within a minute: %v, %v", ends, committed, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		app.stop(t)
		if s := app.app.Stats(); s.SkippedUndecodable != 1 || s.Processed != 4 {
			t.Errorf("Stats %+v, want 1 skipped undecodable record and 4 processed", s)
		}

		var got []string
		for _, r := range readAllRecords(t, cluster, out, false) {
			n, err := serde.Int64().Deserialize(out, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(r.Key)+"="+strconv.FormatInt(n, 10))
		}
		slices.Sort(got)
		if want := []string{"a=2", "d=8", "e=10"}; !slices.Equal(got, want) {
			t.Errorf("output %v, want %v", got, want)
		}

		dead := readAllRecords(t, cluster, dlq, false)
		if len(dead) != 2 {
			t.Fatalf("the dead-letter topic holds %d records, want 2", len(dead))
		}
		checkDeadLetter(t, dead[0], undecodable, "*processor.DeserializationError")
		checkDeadLetter(t, dead[1], panics, "*processor.ProcessingError")
		if st := headersOf(t, dead[1])["__streams.errors.stacktrace"]; !strings.Contains(st, "errors_test.go") || !strings.Contains(st, "panic") {
			t.Errorf("the panic's dead letter has the stack trace %q, want the panic's", st)
		}
		for _, r := range dead {
			logDeadLetter(t, r)
		}
	})
}

// TestDeadLettersExactlyOnceWithKills runs two exactly-once instance processes on the
// tally topology (a count and sum per key) while input flows, every 25th record poison
// (an undecodable amount, or an amount of 0 that makes the processor panic), with a
// dead-letter topic. It kills an instance with SIGKILL shortly after poison records
// (0-300 ms, around the 100 ms commits), several times, and restarts it on its state
// directory. Read committed, every key's counts must be exactly 1..n over its valid
// records with the right sums, and the dead-letter topic must hold every poison record
// exactly once, with its raw bytes and the headers naming it.
func TestDeadLettersExactlyOnceWithKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes; skipped with -short")
	}
	const kills = 6
	cluster := kafka.Cluster(t)
	dlq := cluster.NewTopic(t, 2, nil)
	rig := newPoisonedEOSRig(t, 2, 4, 50, 400, dlq, 25)
	rng := rand.New(rand.NewPCG(5, 6))
	poisonSeen := 0
	for range kills {
		deadline := time.Now().Add(30 * time.Second)
		for {
			rig.mu.Lock()
			n := len(rig.poison)
			rig.mu.Unlock()
			if n > poisonSeen {
				poisonSeen = n
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no poison record produced in 30 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		rig.restart(rng.IntN(len(rig.children)))
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	records := rig.finish()

	dead := readAllRecords(t, cluster, dlq, true)
	byOrigin := map[string][]*kgo.Record{}
	for _, r := range dead {
		hs := headersOf(t, r)
		origin := hs["__streams.errors.topic"] + "/" + hs["__streams.errors.partition"] + "@" + hs["__streams.errors.offset"]
		byOrigin[origin] = append(byOrigin[origin], r)
	}
	undecodable, panicked := 0, 0
	for _, p := range rig.poison {
		origin := p.Topic + "/" + strconv.Itoa(int(p.Partition)) + "@" + strconv.FormatInt(p.Offset, 10)
		got := byOrigin[origin]
		delete(byOrigin, origin)
		if len(got) != 1 {
			t.Errorf("poison record %s (%s=%q) is in the dead-letter topic %d times, want once", origin, p.Key, p.Value, len(got))
			continue
		}
		errType := "*processor.ProcessingError"
		if string(p.Value) == "undecodable" {
			errType = "*processor.DeserializationError"
			undecodable++
		} else {
			panicked++
		}
		checkDeadLetter(t, got[0], p, errType)
	}
	if len(byOrigin) > 0 {
		t.Errorf("dead letters of no poison record: %v", slices.Collect(maps.Keys(byOrigin)))
	}
	for _, r := range dead[:min(len(dead), 2)] {
		logDeadLetter(t, r)
	}
	// Read uncommitted, the topic also holds the dead letters of the transactions the
	// kills aborted: what exactly-once keeps out of the committed view.
	uncommitted := len(readAllRecords(t, cluster, dlq, false))
	t.Logf("dead letters under exactly-once: %d kills (SIGKILL) of 2 instance processes, each 0-300 ms after a poison record; %d valid input records, %d committed output records; %d poison records (%d undecodable, %d panics), each read once from the dead-letter topic read_committed (%d records there; %d read uncommitted, aborted ones included)",
		kills, rig.produced, records, len(rig.poison), undecodable, panicked, len(dead), uncommitted)
}
