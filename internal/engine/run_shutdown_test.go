package engine

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runProducer writes records of keys to topic, one at a time, until stopped.
type runProducer struct {
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	err      error
}

func (rc *runCluster) produceUntilStopped(topic string, partitions int32, keys []string) *runProducer {
	p := &runProducer{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stopCh:
				return
			case <-time.After(time.Millisecond):
			}
			k := keys[i%len(keys)]
			r := &kgo.Record{Topic: topic, Partition: runKeyPartition(k, partitions), Key: []byte(k), Value: fmt.Appendf(nil, "v%d", i)}
			if err := rc.client.ProduceSync(rc.t.Context(), r).FirstErr(); err != nil {
				p.err = err
				return
			}
		}
	}()
	rc.t.Cleanup(p.stop)
	return p
}

func (p *runProducer) stop() {
	p.stopOnce.Do(func() { close(p.stopCh) })
	<-p.done
}

// inputOffsets returns, by input partition, the offsets that upper-cased outputs were
// made from (their values start with "partition/offset:").
func inputOffsets(t *testing.T, outputs []*kgo.Record) map[int32][]int64 {
	t.Helper()
	out := map[int32][]int64{}
	for _, r := range outputs {
		var p int32
		var o int64
		if _, err := fmt.Sscanf(string(r.Value), "%d/%d:", &p, &o); err != nil {
			t.Fatalf("output %s=%s: %v", r.Key, r.Value, err)
		}
		out[p] = append(out[p], o)
	}
	for _, os := range out {
		slices.Sort(os)
	}
	return out
}

// checkOutputsUpTo checks that the upper-cased outputs come from exactly the input
// offsets 0..committed-1 of each partition, once each.
func checkOutputsUpTo(t *testing.T, what string, outputs []*kgo.Record, committed map[int32]int64) {
	t.Helper()
	got := inputOffsets(t, outputs)
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if _, ok := committed[p]; !ok {
			t.Errorf("%s: outputs of partition %d, whose offsets were never committed", what, p)
		}
	}
	for p, c := range committed {
		os := got[p]
		ok := int64(len(os)) == c
		for i, o := range os {
			ok = ok && o == int64(i)
		}
		if !ok {
			t.Errorf("%s: partition %d committed at %d, but its outputs come from the offsets %v, want 0..%d once each", what, p, c, os, c-1)
		}
	}
}

// TestRunStopsCleanlyMidStreamAndContinues: while records keep arriving, cancelling
// Run's context makes it return nil after committing what it processed: the outputs
// come from exactly the input records before the committed offsets (at least once: the
// output is flushed before the offsets are committed, and nothing processed is left
// uncommitted; exactly once: read_committed, and no transaction is left open, so a
// read_committed reader reaches the end of every topic the instance wrote). A second Run
// on the same state directory continues from there: every input record has exactly one
// output and every key's counts are 1..n.
func TestRunStopsCleanlyMidStreamAndContinues(t *testing.T) {
	for _, eos := range []bool{false, true} {
		name := "at least once"
		if eos {
			name = "exactly once"
		}
		t.Run(name, func(t *testing.T) {
			const app, in, outCounts, outUpper, parts = "stop", "in", "out-counts", "out-upper", 2
			rc := newRunCluster(t)
			rc.createTopics(parts, in, outCounts, outUpper)
			topo := bothTopology(t, in, outCounts, outUpper, nil)
			stateDir := t.TempDir()
			keys := runKeys("k", 6)
			producer := rc.produceUntilStopped(in, parts, keys)

			first := rc.start(runSpec{app: app, topo: topo, eos: eos, stateDir: stateDir})
			outputs := rc.consume(outUpper, eos)
			outputs.waitCount(40)
			first.mustStop()
			if eos {
				for _, topic := range []string{outCounts, outUpper, changelogOf(app)} {
					if stable, hw := rc.stableOffsets(topic), rc.endOffsets(topic); !maps.Equal(stable, hw) {
						t.Errorf("%s: last stable offsets %v below the high watermarks %v after the stop: a transaction was left open", topic, stable, hw)
					}
				}
			}
			committed := rc.groupOffsets(app, in)
			if ends := rc.endOffsets(in); !slices.ContainsFunc(slices.Collect(maps.Keys(ends)), func(p int32) bool { return ends[p] > committed[p] }) {
				t.Logf("the input did not grow past the committed offsets %v (ends %v): the stop was not mid-stream", committed, ends)
			}
			checkOutputsUpTo(t, "after the first run", rc.readTopic(outUpper, eos), committed)

			second := rc.start(runSpec{app: app, topo: topo, eos: eos, stateDir: stateDir})
			var before int64
			for _, c := range committed {
				before += c
			}
			outputs.waitCount(int(before) + 40)
			producer.stop()
			if producer.err != nil {
				t.Fatal(producer.err)
			}
			rc.waitUntil("the second run commits the end of the input", func() bool {
				return maps.Equal(rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)))
			})
			second.mustStop()

			inputs := rc.readTopic(in, false)
			want := map[string]int{}
			for _, r := range inputs {
				want[string(r.Key)]++
			}
			checkUpper(t, "upper-cased records", inputs, rc.readTopic(outUpper, eos), true)
			checkExactCounts(t, "counts", rc.readTopic(outCounts, eos), want)
			if got, want := first.stats.Processed.Load()+second.stats.Processed.Load(), int64(len(inputs)); got != want {
				t.Errorf("the runs processed %d + %d records, want %d: records were processed twice or not at all", first.stats.Processed.Load(), second.stats.Processed.Load(), want)
			}
		})
	}
}
