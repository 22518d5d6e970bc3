package engine

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRunRepartitionsThroughAnInternalTopicAndPurgesIt: the DSL's word count runs as
// two subtopologies joined by a repartition topic, which Run creates (named after the
// application, with the partition count of the input). Each word's counts, flushed
// from the record cache at commits, only grow and end at the word's number of
// occurrences; after the first commit the records of the repartition topic that were
// consumed and committed are deleted (purged).
func TestRunRepartitionsThroughAnInternalTopicAndPurgesIt(t *testing.T) {
	const app, in, out, parts = "words", "in", "out", 2
	rc := newRunCluster(t)
	rc.createTopics(parts, in, out)
	want := map[string]int{}
	var kvs []string
	for i := range 60 {
		word := fmt.Sprintf("w%d", i%7)
		kvs = append(kvs, fmt.Sprintf("line%d", i), word)
		want[word]++
	}
	rc.send(in, parts, kvs...)
	inst := rc.start(runSpec{app: app, topo: wordCountTopology(t, in, out), commitInterval: time.Second})

	repartition := app + "-by-word-repartition"
	outputs := rc.consume(out, false)
	outputs.waitFor("every word's final count", func(rs []*kgo.Record) bool {
		return maps.Equal(lastCounts(t, rs), want)
	})
	rc.waitUntil("the repartition topic's consumed records are purged", func() bool {
		starts, err := rc.admin.ListStartOffsets(rc.ctx(), repartition)
		if err != nil || starts.Error() != nil {
			return false
		}
		committed := rc.groupOffsets(app, repartition)
		purged := true
		starts.Each(func(o kadm.ListedOffset) {
			purged = purged && o.Offset > 0 && o.Offset <= committed[o.Partition]
		})
		return purged && len(committed) == parts
	})
	inst.mustStop()

	details, err := rc.admin.ListTopics(rc.ctx(), repartition)
	if err != nil || details.Error() != nil {
		t.Fatalf("listing %s: %v %v", repartition, err, details.Error())
	}
	if n := len(details[repartition].Partitions); n != parts {
		t.Errorf("%s has %d partitions, want %d as its input", repartition, n, parts)
	}
	// Internal topics keep the records' own timestamps whatever the broker's default: the
	// topic sets CreateTime itself (not the broker's default, which kfake reports too).
	described, err := rc.admin.DescribeTopicConfigs(rc.ctx(), repartition, plan.ChangelogTopic(app, "word-counts"))
	if err != nil {
		t.Fatal(err)
	}
	if len(described) != 2 {
		t.Fatalf("described %d topics, want 2", len(described))
	}
	for _, topic := range described {
		got := "unset"
		for _, c := range topic.Configs {
			if c.Key == plan.TimestampTypeConfig && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				got = c.MaybeValue()
			}
		}
		if topic.Err != nil || got != "CreateTime" {
			t.Errorf("%s: %s set on the topic is %s (%v), want CreateTime", topic.Name, plan.TimestampTypeConfig, got, topic.Err)
		}
	}
	for word, counts := range countsByKey(t, rc.readTopic(out, false)) {
		if !slices.IsSorted(counts) || counts[len(counts)-1] != int64(want[word]) {
			t.Errorf("word %s has the counts %v, want increasing counts up to %d", word, counts, want[word])
		}
	}
	if got := inst.stats.Processed.Load(); got != 60 {
		t.Errorf("Stats.Processed is %d, want the 60 lines of the input topic", got)
	}
	if got := inst.stats.ProcessedInternal.Load(); got != 60 {
		t.Errorf("Stats.ProcessedInternal is %d, want the 60 words read back from the repartition topic", got)
	}
}

// runRates is the global store of TestRunGlobalStore.
var runRates = store.KeyValue("rates", serde.String(), serde.String(), store.WithoutLogging())

type runEnricher struct{ rates store.KV[string, string] }

func (e *runEnricher) Init(ctx processor.InitContext) error {
	e.rates = runRates.From(ctx)
	return nil
}

func (e *runEnricher) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	rate, ok, err := e.rates.Get(r.Key)
	if err != nil {
		return err
	}
	if !ok {
		rate = "-"
	}
	ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: r.Value + "|" + rate, Timestamp: r.Timestamp})
	return nil
}

// TestRunGlobalStoreIsBootstrappedKeptUpToDateAndCheckpointed: a processor reads a
// global store, which Run fills from its topic before any task processes (the first
// record sees it) and keeps up to date while it runs (a later record sees the new
// value). With persistent stores, the global store's offsets are committed with the
// tasks': a restart restores only what was written to the topic since.
func TestRunGlobalStoreIsBootstrappedKeptUpToDateAndCheckpointed(t *testing.T) {
	const app, in, out, globals, parts = "global", "in", "out", "rates-topic", 2
	rc := newRunCluster(t)
	rc.createTopics(1, in, out)
	rc.createTopics(parts, globals)
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, runRates, "rates-source", globals, nil)
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{in})
	topology.AddProcessor(b, "enrich", func() processor.Processor[string, string, string, string] { return &runEnricher{} }, "source")
	topology.ConnectGlobalStore(b, runRates.Name(), "enrich")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), []string{"enrich"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	p := runKeyPartition("eur", parts)

	rc.send(globals, parts, "eur", "1.0")
	stores := newPebble(t)
	events := &runEvents{}
	inst := rc.start(runSpec{app: app, topo: topo, stateDir: stateDir, stores: stores, restore: events})
	outputs := rc.consume(out, false)
	rc.send(in, 1, "eur", "a")
	if got := outputs.waitCount(1); string(got[0].Value) != "a|1.0" {
		t.Errorf("the first record came out as %s, want a|1.0: the bootstrap did not fill the global store", got[0].Value)
	}
	if e := events.of(globals, p); len(e) != 3 || e[0].kind != "start" || e[0].start != 0 || e[0].end != 1 || e[2].kind != "end" || e[2].records != 1 {
		t.Errorf("the bootstrap told the listener %+v, want a start from 0 to 1, a batch and an end of 1 record", e)
	}

	rc.send(globals, parts, "eur", "1.1")
	i := 0
	rc.waitUntil("a record sees the global store's update", func() bool {
		i++
		rc.send(in, 1, "eur", fmt.Sprintf("b%d", i))
		rs := outputs.waitCount(1 + i)
		return string(rs[len(rs)-1].Value) == fmt.Sprintf("b%d|1.1", i)
	})
	rc.waitUntil("the input is committed", func() bool { return maps.Equal(rc.groupOffsets(app, in), rc.endOffsets(in)) })
	inst.mustStop()
	if err := stores.Close(); err != nil {
		t.Fatal(err)
	}
	for j, r := range outputs.records[1:] {
		want := fmt.Sprintf("b%d|1.0", j+1)
		if j+1 == i {
			want = fmt.Sprintf("b%d|1.1", j+1)
		}
		if string(r.Value) != want {
			t.Errorf("output %d is %s, want %s", j+1, r.Value, want)
		}
	}

	rc.send(globals, parts, "eur", "1.2")
	stores = newPebble(t)
	defer stores.Close()
	events = &runEvents{}
	inst = rc.start(runSpec{app: app, topo: topo, stateDir: stateDir, stores: stores, restore: events})
	rc.send(in, 1, "eur", "c")
	if got := outputs.waitCount(i + 2); string(got[i+1].Value) != "c|1.2" {
		t.Errorf("after the restart a record came out as %s, want c|1.2", got[i+1].Value)
	}
	inst.mustStop()
	if e := events.of(globals, p); len(e) != 3 || e[0].kind != "start" || e[0].start != 2 || e[0].end != 3 || e[2].records != 1 {
		t.Errorf("the restart's bootstrap told the listener %+v, want a start from the checkpoint 2 to 3, a batch and an end of 1 record", e)
	}
	if e := events.of(globals, 1-p); len(e) != 0 {
		t.Errorf("the listener heard %+v for the empty partition, want nothing", e)
	}
}

// TestRunStopsCleanlyWhileBootstrappingGlobalStores: exactly once, the bootstrap of a
// global store reads its topic read_committed to the end, and so waits while another
// producer's transaction is open below the end. Cancelling Run's context meanwhile
// makes it return nil at once, before any task started: nothing was processed.
func TestRunStopsCleanlyWhileBootstrappingGlobalStores(t *testing.T) {
	const app, in, out, globals = "global-stop", "in", "out", "rates-topic"
	rc := newRunCluster(t)
	rc.createTopics(1, in, out, globals)
	b := topology.NewBuilder()
	topology.AddGlobalStore(b, runRates, "rates-source", globals, nil)
	topology.AddSource(b, "source", serde.String(), serde.String(), []string{in})
	topology.AddProcessor(b, "enrich", func() processor.Processor[string, string, string, string] { return &runEnricher{} }, "source")
	topology.ConnectGlobalStore(b, runRates.Name(), "enrich")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), []string{"enrich"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	open, err := kgo.NewClient(kgo.SeedBrokers(rc.seeds...), kgo.TransactionalID("other"), kgo.DefaultProduceTopic(globals))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(rc.ctx(), kgo.KeyStringRecord("eur", "9.9")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rc.send(globals, 1, "usd", "1.0") // committed, after the open transaction
	rc.send(in, 1, "eur", "a")

	events := &runEvents{}
	inst := rc.start(runSpec{app: app, topo: topo, eos: true, restore: events})
	rc.waitUntil("the bootstrap starts", func() bool { return len(events.of(globals, 0)) > 0 })
	began := time.Now()
	if err := inst.stop(); err != nil {
		t.Errorf("Run returned %v when stopped during the bootstrap, want nil", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Run took %s to stop during the bootstrap", took)
	}
	for _, e := range events.of(globals, 0) {
		if e.kind == "end" {
			t.Errorf("the bootstrap ended (%+v) while a transaction was open below the end of its topic", e)
		}
	}
	if n := inst.stats.Processed.Load(); n != 0 {
		t.Errorf("Stats.Processed is %d, want 0: no task may start before the bootstrap ends", n)
	}
	if got := rc.endOffsets(out)[0]; got != 0 {
		t.Errorf("the output topic ends at %d, want 0", got)
	}
	if err := open.EndTransaction(rc.ctx(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}
