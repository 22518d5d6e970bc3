package integration_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newest holds the newest record of each key until the engine flushes it before a
// commit, as a record cache does (processor.Flusher through the Processor API).
type newest struct {
	ctx  processor.Context[string, string]
	keys []string
	held map[string]processor.Record[string, string]
}

func (n *newest) Init(ctx processor.InitContext) error {
	n.ctx = ctx.(processor.Context[string, string])
	n.held = map[string]processor.Record[string, string]{}
	return nil
}

func (n *newest) Process(_ processor.Context[string, string], r processor.Record[string, string]) error {
	if _, ok := n.held[r.Key]; !ok {
		n.keys = append(n.keys, r.Key)
	}
	n.held[r.Key] = r
	return nil
}

func (n *newest) Flush() error {
	for _, k := range n.keys {
		n.ctx.Forward(n.held[k])
	}
	n.keys, n.held = nil, map[string]processor.Record[string, string]{}
	return nil
}

func (n *newest) Discard() { n.keys, n.held = nil, map[string]processor.Record[string, string]{} }

// TestHeldRecordsAreFlushedIntoEachCommit runs a processor that holds the newest value
// of each key back until a commit. With commits every 200 ms its output gets every
// key's newest value while the instance runs; with one commit an hour, nothing comes out
// until the instance stops, and then exactly one record per key: the final commit
// flushed them, and many updates collapsed into one.
func TestHeldRecordsAreFlushedIntoEachCommit(t *testing.T) {
	for _, exactlyOnce := range []bool{false, true} {
		for _, interval := range []time.Duration{200 * time.Millisecond, time.Hour} {
			name := fmt.Sprintf("exactly_once=%t/commit_interval=%s", exactlyOnce, interval)
			t.Run(name, func(t *testing.T) { testFlush(t, exactlyOnce, interval) })
		}
	}
}

func testFlush(t *testing.T, exactlyOnce bool, interval time.Duration) {
	cluster := kafka.Cluster(t)
	const keys, updates = 50, 20
	in := cluster.NewTopic(t, 3, nil)
	out := cluster.NewTopic(t, 3, nil)
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{in})
	topology.AddProcessor(b, "newest", func() processor.Processor[string, string, string, string] { return &newest{} }, "in")
	topology.AddSink(b, "out", out, serde.String(), serde.String(), []string{"newest"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	opts := []eddy.Opt{eddy.ApplicationID(in + "-app"), eddy.StateDir(t.TempDir()), eddy.CommitInterval(interval)}
	isolation := kgo.ReadUncommitted()
	if exactlyOnce {
		opts = append(opts, eddy.ExactlyOnce())
		isolation = kgo.ReadCommitted()
	}

	var ks, vs []string
	want := map[string]string{}
	for u := range updates {
		for k := range keys {
			key, value := fmt.Sprintf("k%02d", k), fmt.Sprintf("v%02d", u)
			ks, vs = append(ks, key), append(vs, value)
			want[key] = value
		}
	}
	ctx := testContext(t, 2*time.Minute)
	produceValues(ctx, t, cluster.Client(t), in, ks, vs)

	instance := startApp(t, "flusher", cluster, topo, opts...)
	reader := cluster.Client(t, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(isolation),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	read := 0
	readFor := func(d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) && !maps.Equal(got, want) {
			pollCtx, cancel := context.WithDeadline(ctx, deadline)
			fetches := reader.PollFetches(pollCtx)
			cancel()
			fetches.EachRecord(func(r *kgo.Record) {
				got[string(r.Key)] = string(r.Value)
				read++
			})
		}
	}

	if interval < time.Minute {
		readFor(time.Minute)
		if !maps.Equal(got, want) {
			t.Fatalf("after a minute of commits every %s, the output holds %d of %d keys' newest values", interval, newestValues(got, want), keys)
		}
		instance.stop(t)
		t.Logf("%d updates of %d keys gave %d output records", keys*updates, keys, read)
		if read >= keys*updates {
			t.Errorf("%d output records for %d updates: nothing was held back", read, keys*updates)
		}
		return
	}

	for instance.app.Stats().Processed < keys*updates {
		if ctx.Err() != nil {
			t.Fatalf("processed %d of %d records", instance.app.Stats().Processed, keys*updates)
		}
		time.Sleep(50 * time.Millisecond)
	}
	readFor(time.Second)
	if read != 0 {
		t.Fatalf("%d output records before the first commit", read)
	}
	instance.stop(t)
	readFor(30 * time.Second)
	if !maps.Equal(got, want) || read != keys {
		t.Errorf("the final commit gave %d records, holding %d of %d keys' newest values; want exactly one per key", read, newestValues(got, want), keys)
	}
}

func newestValues(got, want map[string]string) int {
	n := 0
	for k, v := range want {
		if got[k] == v {
			n++
		}
	}
	return n
}
