package engine

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRunRefusesTopicsThatDoNotFitTheTopology: Run stops before joining the group, with
// ErrMissingTopics naming a source topic that does not exist, ErrCopartitioning naming
// the topics of one subtopology with different partition counts, and ErrInternalTopic
// for an existing changelog with another partition count than its input; the group
// never had a member.
func TestRunRefusesTopicsThatDoNotFitTheTopology(t *testing.T) {
	rc := newRunCluster(t)
	rc.createTopics(2, "in", "out", "right")
	rc.createTopics(3, "left3")
	rc.createTopics(1, changelogOf("bad-changelog"))

	twoSources := func() *topology.Topology {
		b := topology.NewBuilder()
		topology.AddSource(b, "source", serde.String(), serde.String(), []string{"left3", "right"})
		topology.AddSink(b, "sink", "out", serde.String(), serde.String(), []string{"source"})
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	for _, c := range []struct {
		app   string
		topo  *topology.Topology
		want  error
		names []string
	}{
		{"missing", countTopology(t, "absent", "out", nil), ErrMissingTopics, []string{"absent"}},
		{"missing-sink", countTopology(t, "in", "nowhere", nil), ErrMissingTopics, []string{"nowhere"}},
		{"copartitioning", twoSources(), ErrCopartitioning, []string{"left3", "right"}},
		{"bad-changelog", countTopology(t, "in", "out", nil), ErrInternalTopic, []string{changelogOf("bad-changelog")}},
	} {
		inst := rc.start(runSpec{app: c.app, topo: c.topo})
		err := inst.wait()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Run returned %v, want %v", c.app, err, c.want)
			continue
		}
		for _, name := range c.names {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: the error %q does not name %s", c.app, err, name)
			}
		}
		if members := rc.groupMembers(c.app); len(members) != 0 {
			t.Errorf("%s: the group has members %v, want none", c.app, members)
		}
	}
}

// TestRunStopsOnAProcessingError: a processor's error stops Run with a
// *processor.ProcessingError naming the task, the node and the record (topic, partition,
// offset). The failed record's offset is never committed: the records before it may be,
// and are counted once.
func TestRunStopsOnAProcessingError(t *testing.T) {
	for _, eos := range []bool{false, true} {
		name := "at least once"
		if eos {
			name = "exactly once"
		}
		t.Run(name, func(t *testing.T) {
			const app, in, out, parts = "fails", "in", "out", 2
			rc := newRunCluster(t)
			rc.createTopics(parts, in, out)
			boom := errors.New("boom")
			hook := func(key, value string, _ processor.RecordMetadata) error {
				if value == "bad" {
					return boom
				}
				return nil
			}
			inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, hook), eos: eos})
			keys := runKeys("k", 6)
			want := map[string]int{}
			rc.sendRound(in, parts, 0, want, keys...)
			rc.consume(out, eos).waitCount(len(keys))
			rc.waitUntil("the first round is committed", func() bool {
				return maps.Equal(rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)))
			})
			p := runKeyPartition("k0", parts)
			badAt := rc.endOffsets(in)[p]
			rc.send(in, parts, "k0", "bad", "k0", "after")

			err := inst.wait()
			var perr *processor.ProcessingError
			if !errors.As(err, &perr) {
				t.Fatalf("Run returned %v, want a *processor.ProcessingError", err)
			}
			if !errors.Is(err, boom) {
				t.Errorf("the error %v does not wrap the processor's", err)
			}
			wantTask := processor.TaskID{Subtopology: 0, Partition: p}
			wantRecord := processor.RecordMetadata{Topic: in, Partition: p, Offset: badAt}
			if perr.Task != wantTask || perr.Node != "count" || perr.Record != wantRecord {
				t.Errorf("ProcessingError of task %v, node %q, record %+v; want task %v, node count, record %+v", perr.Task, perr.Node, perr.Record, wantTask, wantRecord)
			}
			if got := rc.groupOffsets(app, in)[p]; got > badAt {
				t.Errorf("partition %d committed at %d, past the record that failed at %d", p, got, badAt)
			}
			checkExactCounts(t, "counts", rc.readTopic(out, eos), want)
		})
	}
}

// int64Topology reads int64 values from in and writes them to out as they are.
func int64Topology(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "numbers", serde.String(), serde.Int64(), []string{in})
	topology.AddSink(b, "sink", out, serde.String(), serde.Int64(), []string{"numbers"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func int64Record(topic, key string, n int64) *kgo.Record {
	v, _ := serde.Int64().Serialize(topic, n)
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: v}
}

// TestRunUndecodableRecords: a record whose value its source cannot deserialize stops
// Run with a *processor.DeserializationError naming the source and the record, unless
// SkipUndecodable is set: then it is skipped and counted in Stats, the records around
// it are processed, and its offset is committed with theirs.
func TestRunUndecodableRecords(t *testing.T) {
	const in, out = "in", "out"
	setup := func(t *testing.T) (*runCluster, *kgo.Record) {
		rc := newRunCluster(t)
		rc.createTopics(1, in, out)
		bad := &kgo.Record{Topic: in, Key: []byte("b"), Value: []byte("abc")}
		rc.sendRecords(int64Record(in, "a", 1), bad, int64Record(in, "c", 3))
		return rc, bad
	}
	t.Run("skipped", func(t *testing.T) {
		const app = "skips"
		rc, _ := setup(t)
		inst := rc.start(runSpec{app: app, topo: int64Topology(t, in, out), skipUndecodable: true})
		got := rc.consume(out, false).waitCount(2)
		rc.waitUntil("the input is committed", func() bool { return rc.groupOffsets(app, in)[0] == 3 })
		inst.mustStop()
		if len(got) != 2 || string(got[0].Key) != "a" || runValue(got[0].Value) != "1" || string(got[1].Key) != "c" || runValue(got[1].Value) != "3" {
			t.Errorf("the output is%s, want a=1 c=3", describeRecords(got))
		}
		if n := inst.stats.SkippedUndecodable.Load(); n != 1 {
			t.Errorf("Stats.SkippedUndecodable is %d, want 1", n)
		}
		if n := inst.stats.Processed.Load(); n != 2 {
			t.Errorf("Stats.Processed is %d, want 2", n)
		}
	})
	t.Run("fails", func(t *testing.T) {
		rc, bad := setup(t)
		inst := rc.start(runSpec{app: "fails", topo: int64Topology(t, in, "out")})
		err := inst.wait()
		var derr *processor.DeserializationError
		if !errors.As(err, &derr) {
			t.Fatalf("Run returned %v, want a *processor.DeserializationError", err)
		}
		wantRecord := processor.RecordMetadata{Topic: in, Partition: 0, Offset: bad.Offset}
		if derr.Source != "numbers" || derr.Record != wantRecord || derr.Task != (processor.TaskID{}) {
			t.Errorf("DeserializationError of source %q, task %v, record %+v; want source numbers, task 0_0, record %+v", derr.Source, derr.Task, derr.Record, wantRecord)
		}
		if !errors.Is(err, serde.ErrSize) {
			t.Errorf("the error %v does not wrap the serde's", err)
		}
	})
}

// TestRunLatestSourceSkipsEarlierRecords: a source whose offset reset is Latest starts
// where its partitions end when the group has no committed offset: what was written
// before the instance started is never processed, what comes after is. Once offsets are
// committed, a restart continues from them: records written while it was stopped are
// processed.
func TestRunLatestSourceSkipsEarlierRecords(t *testing.T) {
	const app, in, out = "latest", "in", "out"
	rc := newRunCluster(t)
	rc.createTopics(1, in, out)
	topo := countTopology(t, in, out, nil, topology.WithOffsetReset(topology.Latest))
	rc.send(in, 1, "old", "1", "old", "2")

	inst := rc.start(runSpec{app: app, topo: topo})
	outputs := rc.consume(out, false)
	// Probe until the instance reads: the probes before it had its position are
	// skipped too.
	rc.waitUntil("the instance processes a probe", func() bool {
		rc.send(in, 1, "probe", "p")
		return len(outputs.poll()) > 0
	})
	want := map[string]int{}
	rc.sendRound(in, 1, 0, want, runKeys("k", 4)...)
	inst.mustStop()
	rc.sendRound(in, 1, 1, want, runKeys("k", 4)...)
	inst = rc.start(runSpec{app: app, topo: topo})
	rc.waitUntil("the restart commits the end of the input", func() bool {
		return maps.Equal(rc.groupOffsets(app, in), rc.endOffsets(in))
	})
	inst.mustStop()

	counts := countsByKey(t, rc.readTopic(out, false))
	if old, ok := counts["old"]; ok {
		t.Errorf("the records written before the first start were processed: counts %v", old)
	}
	var rest []*kgo.Record
	for _, r := range rc.readTopic(out, false) {
		if string(r.Key) != "probe" {
			rest = append(rest, r)
		}
	}
	checkExactCounts(t, "counts", rest, want)
}

// TestRunStopsOnAFetchErrorItCannotRetry: a fetch error that the client does not retry
// (here the broker refusing the topic) stops Run with that error.
func TestRunStopsOnAFetchErrorItCannotRetry(t *testing.T) {
	const app, in, out = "fetch-error", "in", "out"
	rc := newRunCluster(t)
	rc.createTopics(1, in, out)
	rc.send(in, 1, "a", "1")
	rc.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: in, Err: kerr.TopicAuthorizationFailed, Count: -1})
	inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, nil)})
	err := inst.wait()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), in) {
		t.Errorf("Run returned %v, want the fetch error of topic %s", err, in)
	}
}

// TestRunStopsWhenAnOutputCannotBeWritten: at least once, the broker refuses the
// records of the output topic; the commit, which waits for every output record first,
// fails, so Run stops with the broker's error and commits no input offset: the records
// whose outputs were lost are read again by the next run.
func TestRunStopsWhenAnOutputCannotBeWritten(t *testing.T) {
	const app, in, out = "produce-error", "in", "out"
	rc := newRunCluster(t)
	rc.createTopics(1, in, out)
	rc.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: out, Err: kerr.TopicAuthorizationFailed, Count: -1})
	inst := rc.start(runSpec{app: app, topo: countTopology(t, in, out, nil)})
	rc.send(in, 1, "a", "1", "b", "1")
	err := inst.wait()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("Run returned %v, want the produce error", err)
	}
	if got := rc.groupOffsets(app, in); len(got) != 0 {
		t.Errorf("the group committed %v, want nothing: the outputs were never written", got)
	}
	if got := rc.endOffsets(out)[0]; got != 0 {
		t.Errorf("the output topic ends at %d, want 0", got)
	}
}
