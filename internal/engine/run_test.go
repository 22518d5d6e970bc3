package engine

import (
	"maps"
	"testing"
	"time"
)

// TestRunAtLeastOnceProcessesCommitsAndLogsState: at least once, a topology that upper
// cases every record (keeping its headers) and counts records per key writes one
// output per input and the counts 1..n of every key, partitioned by key; the group's committed offsets reach the end of the input
// while Run still runs (the commit interval, not the shutdown, commits them); the
// changelog of the count store ends with each key's count, on the key's partition; and
// Stats counts every record processed.
func TestRunAtLeastOnceProcessesCommitsAndLogsState(t *testing.T) {
	const app, in, outCounts, outUpper, parts = "alos", "in", "out-counts", "out-upper", 3
	rc := newRunCluster(t)
	rc.createTopics(parts, in, outCounts, outUpper)
	inst := rc.start(runSpec{app: app, topo: bothTopology(t, in, outCounts, outUpper, nil)})

	keys := runKeys("k", 7)
	want := map[string]int{}
	for round := range 3 {
		rc.sendRound(in, parts, round, want, keys...)
	}
	total := 3 * len(keys)
	counts := rc.consume(outCounts, false).waitCount(total)
	upper := rc.consume(outUpper, false).waitCount(total)
	inputs := rc.readTopic(in, false)
	ends := nonEmpty(rc.endOffsets(in))
	rc.waitUntil("the group commits the end of the input", func() bool { return maps.Equal(rc.groupOffsets(app, in), ends) })
	rc.waitUntil("Stats count every record", func() bool { return inst.stats.Processed.Load() == int64(total) })

	checkExactCounts(t, "counts", counts, want)
	checkUpper(t, "upper-cased records", inputs, upper, true)
	for _, r := range counts {
		if p := runKeyPartition(string(r.Key), parts); r.Partition != p {
			t.Errorf("count of %s written to partition %d, want its input partition %d", r.Key, r.Partition, p)
		}
	}
	changes := rc.readTopic(changelogOf(app), false)
	if got := lastCounts(t, changes); !maps.Equal(got, want) {
		t.Errorf("the changelog ends with the counts %v, want %v", got, want)
	}
	for _, r := range changes {
		if p := runKeyPartition(string(r.Key), parts); r.Partition != p {
			t.Errorf("changelog record of %s on partition %d, want its task's partition %d", r.Key, r.Partition, p)
		}
	}
	inst.mustStop()
	if got := inst.stats.Processed.Load(); got != int64(total) {
		t.Errorf("Stats.Processed is %d after the stop, want %d", got, total)
	}
	if got := inst.stats.SkippedUndecodable.Load(); got != 0 {
		t.Errorf("Stats.SkippedUndecodable is %d, want 0", got)
	}
}

// TestRunExactlyOnceCommitsTransactionsAndTheLastOneOnShutdown: with a transactional
// id, outputs read read_committed hold every count and upper-cased record exactly once,
// the group's offsets are committed by the transactions while Run runs, and the
// changelog, read read_committed, ends with the counts. A second Run on the same state
// with a commit interval longer than the test keeps its work in one open transaction
// (readers that read committed do not see it, and the group offsets stay), until a
// clean stop commits it: then the counts continue from the first run's, exactly once,
// and no transaction is left open on any topic it wrote.
func TestRunExactlyOnceCommitsTransactionsAndTheLastOneOnShutdown(t *testing.T) {
	const app, in, outCounts, outUpper, parts = "eos", "in", "out-counts", "out-upper", 3
	rc := newRunCluster(t)
	rc.createTopics(parts, in, outCounts, outUpper)
	topo := bothTopology(t, in, outCounts, outUpper, nil)
	stateDir := t.TempDir()
	inst := rc.start(runSpec{app: app, topo: topo, eos: true, stateDir: stateDir})

	keys := runKeys("k", 7)
	want := map[string]int{}
	for round := range 3 {
		rc.sendRound(in, parts, round, want, keys...)
	}
	total := 3 * len(keys)
	counts := rc.consume(outCounts, true).waitCount(total)
	upper := rc.consume(outUpper, true).waitCount(total)
	ends := nonEmpty(rc.endOffsets(in))
	rc.waitUntil("the transactions commit the end of the input", func() bool { return maps.Equal(rc.groupOffsets(app, in), ends) })
	checkExactCounts(t, "counts read committed while running", counts, want)
	checkUpper(t, "upper-cased records read committed while running", rc.readTopic(in, false), upper, true)
	if got := inst.stats.Processed.Load(); got != int64(total) {
		t.Errorf("Stats.Processed is %d, want %d", got, total)
	}
	inst.mustStop()

	// The second run commits only when it stops.
	inst = rc.start(runSpec{app: app, topo: topo, eos: true, stateDir: stateDir, commitInterval: time.Minute})
	rc.sendRound(in, parts, 3, want, keys...)
	rc.consume(outCounts, false).waitCount(total + len(keys)) // processed, in an open transaction
	rc.consume(outUpper, false).waitCount(total + len(keys))
	if got := rc.groupOffsets(app, in); !maps.Equal(got, ends) {
		t.Errorf("with a transaction open the group's offsets are %v, want those of the first run %v", got, ends)
	}
	stable, hw := rc.stableOffsets(outCounts), rc.endOffsets(outCounts)
	if maps.Equal(stable, hw) {
		t.Errorf("the counts of an open transaction are readable read_committed: last stable offsets %v = high watermarks", stable)
	}
	inst.mustStop()

	for _, topic := range []string{outCounts, outUpper, changelogOf(app)} {
		if stable, hw := rc.stableOffsets(topic), rc.endOffsets(topic); !maps.Equal(stable, hw) {
			t.Errorf("%s: last stable offsets %v below the high watermarks %v after a clean stop: a transaction was left open", topic, stable, hw)
		}
	}
	if got, want := rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)); !maps.Equal(got, want) {
		t.Errorf("after the stop the group's offsets are %v, want the end of the input %v", got, want)
	}
	checkExactCounts(t, "counts read committed", rc.readTopic(outCounts, true), want)
	checkUpper(t, "upper-cased records read committed", rc.readTopic(in, false), rc.readTopic(outUpper, true), true)
	if got := lastCounts(t, rc.readTopic(changelogOf(app), true)); !maps.Equal(got, want) {
		t.Errorf("the changelog read committed ends with the counts %v, want %v", got, want)
	}
	if got := inst.stats.Processed.Load(); got != int64(len(keys)) {
		t.Errorf("the second run's Stats.Processed is %d, want %d (only the new round)", got, len(keys))
	}
}
