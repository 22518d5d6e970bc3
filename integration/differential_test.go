package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The differential suite (issue 13): every case of diffCases runs as a Kafka Streams 4.4.0
// application (bench/kafkastreams, class io.github.eddystreams.differential.Main: one JVM
// runs all of them) and as an Eddy application (in this process), on the same broker and
// the same generated input, and their outputs are compared as decoded (key, value,
// timestamp) triples, each case by its compareMode. An output that differs fails the test
// unless knownDifferences lists the case and the outputs agree under the relaxed
// comparison it names; each known difference's phrase must be in DESIGN.md.
//
// Runs (diffRuns): the input preloaded (a backlog) under at least once and exactly once,
// and the input produced while both sides run ("live") under exactly once, where the
// restart cases run two Eddy instances and one of them stops and starts again mid-way.
// Both sides commit every 100 ms with their record caches off.
//
// When the order in which a task processes its partitions is defined:
//   - backlog: by record timestamp; every timestamp of the input is unique, so that both
//     sides choose alike (Kafka Streams waits to fetch every partition before choosing,
//     max.task.idle.ms 0, KIP-695);
//   - live: by the phases of livePhases: the input is produced in chunks, each chunk in
//     phases, and the test waits for both sides to settle after each phase; no task reads
//     two topics of one phase, so the order is the phases' whatever the timing.
const diffSeed = 13

// diffRuns are the runs of the suite; see the comment above.
var diffRuns = []diffRun{
	{name: "backlog-alos"},
	{name: "backlog-eos", exactlyOnce: true},
	{name: "live-eos", live: true, exactlyOnce: true, restarts: true},
}

type diffRun struct {
	name                        string
	live, exactlyOnce, restarts bool
}

// inputPartitions are the input topics and their partition counts.
var inputPartitions = map[string]int32{"s1": 4, "s2": 4, "t1": 4, "t2": 4, "fk": 4, "g": 2, "late-l": 1, "late-r": 1, "big-s": 1, "big-t": 1}

const liveChunks = 4

// livePhases are the input topics of each phase of a live chunk. No task reads two topics
// of a phase: s1 is read with s2 (stream-stream joins, merge, cogroup) and t1 (stream-table
// joins), t1 with t2 and fk, late-l with late-r. The global table g is preloaded in both
// runs: a global table's updates reach tasks asynchronously, so a live g would make the
// joins' results depend on timing.
var livePhases = [][]string{{"s1", "fk", "late-l", "big-s"}, {"s2", "t2", "late-r"}, {"t1", "big-t"}}

// inRecord is one generated input record.
type inRecord struct {
	key, value []byte // nil: Kafka's null
	ts         int64  // milliseconds
	partition  int32
	chunk      int // in the live run, the chunk it is produced in
}

// genInputs generates every input topic's records from seed, with timestamps from t0:
// several keys, out-of-order and late records (beyond every grace), null keys and
// values, tombstones (also for keys the table never held), a table backlog larger than
// a fetch, and at the end, on every partition of every topic the windows and joins read,
// a record that closes every window. Every timestamp is unique across all topics.
func genInputs(seed uint64, t0 int64) map[string][]inRecord {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	used := map[int64]bool{}
	unique := func(ms int64) int64 {
		for used[ms] {
			ms++
		}
		used[ms] = true
		return t0 + ms
	}
	n := 0
	next := func(prefix string) []byte { n++; return []byte(prefix + strconv.Itoa(n)) }
	key := func(keys int, nullShare float64) []byte {
		if rng.Float64() < nullShare {
			return nil
		}
		return []byte("k" + strconv.Itoa(rng.IntN(keys)))
	}
	const span = 80_000 // ms over which each topic's records spread
	jittered := func(i, count int) int64 {
		ms := int64(i) * span / int64(count)
		switch r := rng.Float64(); {
		case r < 0.03:
			ms -= 15_000 + rng.Int64N(5_000) // late beyond every grace
		case r < 0.25:
			ms -= rng.Int64N(4_000) // out of order, within grace or not
		default:
			ms += rng.Int64N(300)
		}
		return unique(max(ms, 0))
	}
	in := map[string][]inRecord{}
	add := func(topic string, i, count int, k, v []byte, ts int64) {
		p := rng.Int32N(inputPartitions[topic])
		if k != nil {
			p = keyPartition(k, inputPartitions[topic])
		}
		in[topic] = append(in[topic], inRecord{key: k, value: v, ts: ts, partition: p, chunk: i * liveChunks / count})
	}
	for _, topic := range []string{"s1", "s2"} {
		const count = 400
		for i := range count {
			k := key(6, 0.05)
			v := next("v")
			if rng.Float64() < 0.04 {
				v = nil
			}
			add(topic, i, count, k, v, jittered(i, count))
		}
	}
	for _, topic := range []string{"t1", "t2"} {
		const count = 250
		for i := range count {
			k, v := key(8, 0.03), next("w")
			if topic == "t1" {
				v = []byte(fmt.Sprintf("f%d.%s", rng.IntN(6), v[1:]))
			}
			if rng.Float64() < 0.12 {
				k, v = key(10, 0), nil // k8 and k9 are never set: tombstones for absent keys
			}
			add(topic, i, count, k, v, jittered(i, count))
		}
	}
	for i := range 40 {
		v := next("r")
		if rng.Float64() < 0.1 {
			v = nil
		}
		add("fk", i, 40, []byte("f"+strconv.Itoa(rng.IntN(5))), v, jittered(i, 40))
	}
	for i := range 8 {
		v := next("g")
		if i == 7 {
			v = nil
		}
		add("g", 0, 1, []byte("f"+strconv.Itoa(i%5)), v, unique(int64(i)))
	}
	// The minimal late stream-stream join of issue 13: right records at 61 s and 110 s,
	// then (in the live run, a chunk later) a left record at 70 s.
	in["late-r"] = []inRecord{
		{key: []byte("k"), value: []byte("r1"), ts: unique(61_000)},
		{key: []byte("k"), value: []byte("r2"), ts: unique(110_000)},
	}
	in["late-l"] = []inRecord{{key: []byte("k"), value: []byte("l1"), ts: unique(70_000), chunk: 1}}
	// A table backlog larger than one fetch of its partition (1 MiB) beside a small
	// stream: a side that processes what it has fetched, instead of waiting for the
	// table's backlog, joins the later stream records with old table values.
	const bigTable, bigStream = 24_000, 200
	pad := strings.Repeat("x", 100)
	for i := range bigTable {
		in["big-t"] = append(in["big-t"], inRecord{key: []byte("k" + strconv.Itoa(rng.IntN(10))),
			value: []byte("t" + strconv.Itoa(i) + pad), ts: unique(int64(i) * span / bigTable), chunk: i * liveChunks / bigTable})
	}
	for i := range bigStream {
		in["big-s"] = append(in["big-s"], inRecord{key: []byte("k" + strconv.Itoa(rng.IntN(10))),
			value: next("v"), ts: unique(int64(i)*span/bigStream + 7), chunk: i * liveChunks / bigStream})
	}
	// The closers: records every 2 s for 30 s after the rest, on every partition, close
	// every window (the largest size + grace is 15 s) one after the other. Kafka Streams'
	// emit on window close loses a window that a record closes by moving stream time far
	// past it (its store's fetch stops at the retention), where Eddy emits it: small steps
	// keep the suite on the path both take.
	for i, topic := range []string{"s1", "s2", "t1", "t2", "fk"} {
		for p := range inputPartitions[topic] {
			k := closerKey(p, inputPartitions[topic])
			for step := int64(1); step <= 15; step++ {
				in[topic] = append(in[topic], inRecord{key: k, value: []byte("end"), partition: p,
					ts: unique(span + step*2_000 + int64(i)*100 + int64(p)), chunk: liveChunks - 1})
			}
		}
	}
	return in
}

// keyPartition is the partition Kafka's default partitioner gives key (murmur2), as
// both sides' sinks partition.
func keyPartition(key []byte, partitions int32) int32 {
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: key}, int(partitions)))
}

// closerKey is a key that falls on partition p.
func closerKey(p, partitions int32) []byte {
	for i := 0; ; i++ {
		if k := []byte("end-" + strconv.Itoa(i)); keyPartition(k, partitions) == p {
			return k
		}
	}
}

// buildReference builds the Kafka Streams side with the benchmark contender's build.sh and
// returns the command line that runs it. A missing java or mvn fails the test: CI has both.
func buildReference(t *testing.T) []string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join("bench", "kafkastreams", "build.sh"), "io.github.eddystreams.differential.Main")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("building the Kafka Streams side (bench/kafkastreams/build.sh; needs Java 17 and Maven): %v\n%s", err, stderr.String())
	}
	line := strings.Fields(strings.TrimSpace(string(out)))
	if len(line) < 2 {
		t.Fatalf("bench/kafkastreams/build.sh printed no command line: %q", out)
	}
	return line
}

// TestDifferentialDesignListsKnownDifferences checks, without a broker, that DESIGN.md
// lists every known difference the suite accepts.
func TestDifferentialDesignListsKnownDifferences(t *testing.T) {
	checkKnownDifferences(t)
}

// checkKnownDifferences fails t unless DESIGN.md has every known difference's phrase and
// every known difference names cases of diffCases.
func checkKnownDifferences(t *testing.T) {
	t.Helper()
	design, err := os.ReadFile(filepath.Join("..", "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(design)), " ")
	for _, d := range knownDifferences {
		if !strings.Contains(text, d.phrase) {
			t.Errorf("known difference of %v (%s) is not listed in DESIGN.md: it lacks %q", d.cases, d.what, d.phrase)
		}
	}
	names := map[string]bool{}
	for _, c := range diffCases {
		names[c.name] = true
	}
	for _, d := range knownDifferences {
		for _, c := range d.cases {
			if !names[c] {
				t.Errorf("known difference names case %q, which diffCases lacks", c)
			}
		}
	}
}

// diffSummary counts a run's outcome for the closing line.
type diffSummary struct {
	cases, recordsIn, compared, identical, listed, failed int
	listedCases, failedCases                              []string
}

func TestDifferential(t *testing.T) {
	checkKnownDifferences(t)
	if t.Failed() {
		t.FailNow()
	}
	ref := buildReference(t)
	for _, run := range diffRuns {
		t.Run(run.name, func(t *testing.T) {
			began := time.Now()
			sum := runDifferential(t, run, ref)
			t.Logf("differential %s: %d cases, %d input records, %d output records compared (Kafka Streams and Eddy together); "+
				"%d identical, %d differing as DESIGN.md lists %v, %d failed %v; %s",
				run.name, sum.cases, sum.recordsIn, sum.compared, sum.identical, sum.listed, sum.listedCases, sum.failed, sum.failedCases,
				time.Since(began).Round(time.Second))
		})
	}
}

// diffState is one run in progress.
type diffState struct {
	t      *testing.T
	run    diffRun
	prefix string
	admin  *kadm.Client
	groups map[string][]string // consumer group -> the input topics it reads
	cases  map[string]string   // consumer group -> its case
	apps   map[string][]*instance
	// ended holds the error of each Eddy instance that stopped by itself: its case fails,
	// and the run goes on without waiting for its group.
	ended map[*instance]error
	// stateDir holds the state directories of both sides and the JVM's log.
	stateDir string
}

func (s *diffState) topic(name string) string { return s.prefix + "-" + name }

func runDifferential(t *testing.T, run diffRun, ref []string) diffSummary {
	ctx := t.Context()
	cluster := kafka.Cluster(t)
	s := &diffState{t: t, run: run, admin: cluster.Admin(t), groups: map[string][]string{}, cases: map[string]string{},
		apps: map[string][]*instance{}, ended: map[*instance]error{}, stateDir: t.TempDir(),
		prefix: fmt.Sprintf("diff-%s-%08x", run.name, rand.Uint32())}
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).UnixMilli()
	inputs := genInputs(diffSeed, t0)
	t.Logf("run %s: topics %s-*, input timestamps from %d (seed %d)", run.name, s.prefix, t0, diffSeed)

	topics := map[string]int32{}
	for name, p := range inputPartitions {
		topics[s.topic(name)] = p
	}
	for _, c := range diffCases {
		topics[s.topic(c.name+"-ks-out")] = 4
		topics[s.topic(c.name+"-eddy-out")] = 4
		var in []string
		for _, name := range c.inputs {
			in = append(in, s.topic(name))
		}
		s.groups[s.topic(c.name+"-ks")] = in
		s.groups[s.topic(c.name+"-eddy")] = in
		s.cases[s.topic(c.name+"-ks")], s.cases[s.topic(c.name+"-eddy")] = c.name, c.name
	}
	s.createTopics(ctx, topics)

	producer := cluster.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sum := diffSummary{cases: len(diffCases)}
	for _, recs := range inputs {
		sum.recordsIn += len(recs)
	}
	if run.live {
		s.produce(ctx, producer, inputs, []string{"g"}, -1)
	} else {
		s.produce(ctx, producer, inputs, slices.Collect(maps.Keys(inputPartitions)), -1)
	}

	jvm := s.startReference(ctx, ref)
	apps := s.apps
	for _, c := range diffCases {
		apps[c.name] = append(apps[c.name], s.startEddy(c, 0))
		if run.restarts && c.restart {
			apps[c.name] = append(apps[c.name], s.startEddy(c, 1))
		}
	}

	if run.live {
		for chunk := range liveChunks {
			if run.restarts && chunk == 1 {
				s.restartPhase(apps, "stopping", func(c diffCase) {
					if _, ended := s.ended[apps[c.name][1]]; !ended {
						apps[c.name][1].stop(t)
					}
				})
			}
			if run.restarts && chunk == 2 {
				s.restartPhase(apps, "starting again", func(c diffCase) { apps[c.name][1] = s.startEddy(c, 1) })
			}
			for _, phase := range livePhases {
				s.produce(ctx, producer, inputs, phase, chunk)
				s.awaitSettled(ctx, 2*time.Minute)
			}
		}
	}
	s.awaitSettled(ctx, 4*time.Minute)

	s.collectEnded()
	for _, c := range diffCases {
		if err := s.endedWith(c.name); err != nil {
			sum.failed++
			sum.failedCases = append(sum.failedCases, c.name)
			t.Errorf("case %s: Eddy's application stopped: %v", c.name, err)
			continue
		}
		ks := s.readOutput(ctx, cluster, s.topic(c.name+"-ks-out"), c.values)
		ed := s.readOutput(ctx, cluster, s.topic(c.name+"-eddy-out"), c.values)
		sum.compared += len(ks) + len(ed)
		same, detail := compareOutputs(c.compare, ks, ed, t0)
		if same {
			sum.identical++
			continue
		}
		if d := knownDifferenceOf(c.name); d != nil {
			if ok, relaxedDetail := compareOutputs(d.relaxed, ks, ed, t0); ok {
				sum.listed++
				sum.listedCases = append(sum.listedCases, c.name)
				t.Logf("case %s differs as DESIGN.md lists (%s); the outputs agree as %s. By %s:\n%s", c.name, d.what, d.relaxed, c.compare, detail)
				continue
			} else {
				detail += fmt.Sprintf("\nand compared as %s (known difference: %s):\n%s", d.relaxed, d.what, relaxedDetail)
			}
		}
		sum.failed++
		sum.failedCases = append(sum.failedCases, c.name)
		t.Errorf("case %s: Eddy's output differs from Kafka Streams' (%d and %d records), compared by %s:\n%s",
			c.name, len(ed), len(ks), c.compare, detail)
	}

	for _, c := range diffCases {
		for _, in := range apps[c.name] {
			if _, ended := s.ended[in]; !ended {
				in.stop(t)
			}
		}
	}
	jvm.stop(t)
	return sum
}

// collectEnded records the Eddy instances that stopped by themselves.
func (s *diffState) collectEnded() {
	for _, ins := range s.apps {
		for _, in := range ins {
			if _, ended := s.ended[in]; ended {
				continue
			}
			select {
			case err := <-in.done:
				if err == nil {
					err = errors.New("it stopped without an error before the test stopped it")
				}
				s.ended[in] = err
			default:
			}
		}
	}
}

// endedWith is the error of an instance of the case that stopped by itself, or nil.
func (s *diffState) endedWith(name string) error {
	for _, in := range s.apps[name] {
		if err, ended := s.ended[in]; ended {
			return err
		}
	}
	return nil
}

// restartPhase stops or starts the second instance of every restart case.
func (s *diffState) restartPhase(apps map[string][]*instance, what string, fn func(diffCase)) {
	for _, c := range diffCases {
		if c.restart {
			s.t.Logf("run %s: %s the second Eddy instance of %s", s.run.name, what, c.name)
			fn(c)
		}
	}
}

// createTopics creates the run's topics, waits until each partition has a leader (Kafka
// Streams fails at once on a source topic it cannot see), and deletes every topic of the
// run, the applications' internal ones included, when the test ends.
func (s *diffState) createTopics(ctx context.Context, topics map[string]int32) {
	t := s.t
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		listed, err := s.admin.ListTopics(ctx)
		if err != nil {
			t.Errorf("listing topics to delete: %v", err)
			return
		}
		var names []string
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, s.prefix+"-") {
				names = append(names, name)
			}
		}
		if _, err := s.admin.DeleteTopics(ctx, names...); err != nil {
			t.Errorf("deleting the run's topics: %v", err)
		}
	})
	for name, p := range topics {
		if _, err := s.admin.CreateTopic(ctx, p, -1, nil, name); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	deadline, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := ""
		listed, err := s.admin.ListTopics(deadline, slices.Collect(maps.Keys(topics))...)
		if err == nil {
			for name, p := range topics {
				d, ok := listed[name]
				if !ok || d.Err != nil || len(d.Partitions) != int(p) {
					missing = name
					break
				}
				for _, part := range d.Partitions {
					if part.Leader < 0 {
						missing = name
					}
				}
			}
		} else {
			missing = err.Error()
		}
		if missing == "" {
			return
		}
		select {
		case <-deadline.Done():
			t.Fatalf("topics not ready after a minute: %s", missing)
		case <-tick.C:
		}
	}
}

// produce writes the records of topics (of chunk, or all when chunk < 0) in order.
func (s *diffState) produce(ctx context.Context, client *kgo.Client, inputs map[string][]inRecord, topics []string, chunk int) {
	var recs []*kgo.Record
	for _, name := range topics {
		for _, r := range inputs[name] {
			if chunk < 0 || r.chunk == chunk {
				recs = append(recs, &kgo.Record{Topic: s.topic(name), Partition: r.partition, Key: r.key, Value: r.value,
					Timestamp: time.UnixMilli(r.ts)})
			}
		}
	}
	if err := client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		s.t.Fatalf("producing the input: %v", err)
	}
}

// startEddy starts instance i of the case's Eddy application.
func (s *diffState) startEddy(c diffCase, i int) *instance {
	b := topology.NewBuilder(topology.WithoutRecordCache())
	c.build(b, s.topic, s.topic(c.name+"-eddy-out"))
	topo, err := b.Build()
	if err != nil {
		s.t.Fatalf("case %s: %v", c.name, err)
	}
	opts := []eddy.Opt{
		eddy.ApplicationID(s.topic(c.name + "-eddy")),
		eddy.CommitInterval(100 * time.Millisecond),
		eddy.StateDir(filepath.Join(s.stateDir, fmt.Sprintf("%s-%d", c.name, i))),
	}
	if s.run.exactlyOnce {
		opts = append(opts, eddy.ExactlyOnce())
	}
	return startApp(s.t, fmt.Sprintf("%s/%d", c.name, i), kafka.Cluster(s.t), topo, opts...)
}

// reference is the running JVM of the Kafka Streams side.
type reference struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan error
	log    string
}

// startReference starts the JVM with every case and waits until all its clients run.
func (s *diffState) startReference(ctx context.Context, ref []string) *reference {
	t := s.t
	var names []string
	for _, c := range diffCases {
		names = append(names, c.name)
	}
	guarantee := "at_least_once"
	if s.run.exactlyOnce {
		guarantee = "exactly_once"
	}
	args := append(ref[1:], "--bootstrap", kafka.Cluster(t).Bootstrap(), "--state-dir", filepath.Join(s.stateDir, "kafka-streams"),
		"--prefix", s.prefix, "--cases", strings.Join(names, ","), "--guarantee", guarantee)
	// Kafka Streams logs every record it skips for a null key or value at WARN: the input
	// has many on purpose.
	args = append([]string{"-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.kstream.internals=error"}, args...)
	cmd := exec.Command(ref[0], args...)
	r := &reference{cmd: cmd, exited: make(chan error, 1), log: filepath.Join(s.stateDir, "kafka-streams.log")}
	logFile, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the Kafka Streams side: %v", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		r.exited <- cmd.Wait()
		logFile.Close()
	}()
	t.Cleanup(func() {
		// Ends the JVM if the test failed before stop.
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	deadline := time.NewTimer(3 * time.Minute)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				t.Fatalf("the Kafka Streams side exited before it was ready; its log:\n%s", tail(r.log, 40))
			case line == "ready":
				go func() {
					for line := range lines {
						t.Logf("Kafka Streams side: %s", line)
					}
				}()
				return r
			default:
				t.Fatalf("the Kafka Streams side: %s; its log:\n%s", line, tail(r.log, 40))
			}
		case <-deadline.C:
			t.Fatalf("the Kafka Streams side is not running after 3 minutes; its log:\n%s", tail(r.log, 40))
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// stop closes the JVM's stdin, on which it closes every client and exits.
func (r *reference) stop(t *testing.T) {
	r.stdin.Close()
	select {
	case err := <-r.exited:
		if err != nil {
			t.Errorf("the Kafka Streams side exited with %v; its log:\n%s", err, tail(r.log, 40))
		}
	case <-time.After(time.Minute):
		r.cmd.Process.Kill()
		t.Errorf("the Kafka Streams side did not exit within a minute of its stdin closing")
	}
}

// tail is the first lines of path that name an exception or an error, then its last n
// lines.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var errs []string
	for _, l := range lines {
		if len(errs) < n && (strings.Contains(l, "Exception") || strings.Contains(l, "ERROR") || strings.Contains(l, "Caused by")) {
			errs = append(errs, l)
		}
	}
	return strings.Join(errs, "\n") + "\n...\n" + strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// awaitSettled waits until both sides have processed everything: every group committed the
// end of its input topics and of the internal topics it reads (under exactly once, but
// for the last transaction marker), and no topic of the run grew, for three checks in a
// row (300 ms, three commit intervals).
func (s *diffState) awaitSettled(ctx context.Context, timeout time.Duration) {
	t := s.t
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last kadm.ListedOffsets
	stable, why := 0, ""
	for {
		ends, lagging, err := s.lagging(ctx)
		switch {
		case err != nil:
			stable, why = 0, err.Error()
		case lagging != "":
			stable, why = 0, lagging
		case last != nil && sameOffsets(last, ends):
			stable++
		default:
			stable, why = 0, "topics still grow"
		}
		last = ends
		if stable >= 3 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s: not settled after %s: %s", s.run.name, timeout, why)
		case <-tick.C:
		}
	}
}

func sameOffsets(a, b kadm.ListedOffsets) bool {
	same := len(a) == len(b)
	a.Each(func(o kadm.ListedOffset) {
		if p, ok := b.Lookup(o.Topic, o.Partition); !ok || p.Offset != o.Offset {
			same = false
		}
	})
	return same
}

// lagging returns the end offsets of the run's topics and, if some group has not
// committed its input's end, which and where.
func (s *diffState) lagging(ctx context.Context) (kadm.ListedOffsets, string, error) {
	all, err := s.admin.ListEndOffsets(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("listing end offsets: %w", err)
	}
	ends := kadm.ListedOffsets{}
	for topic, ps := range all {
		if strings.HasPrefix(topic, s.prefix+"-") {
			ends[topic] = ps
		}
	}
	s.collectEnded()
	var groups []string
	for _, group := range slices.Sorted(maps.Keys(s.groups)) {
		if s.endedWith(s.cases[group]) == nil {
			groups = append(groups, group)
		}
	}
	fetched := s.admin.FetchManyOffsets(ctx, groups...)
	for _, group := range groups {
		resp, ok := fetched[group]
		if !ok || resp.Err != nil {
			return ends, fmt.Sprintf("group %s: no offsets (%v)", group, resp.Err), nil
		}
		topics := map[string]bool{}
		for _, in := range s.groups[group] {
			topics[in] = true
		}
		internal := map[string]bool{}
		for topic := range resp.Fetched {
			if !topics[topic] {
				topics[topic], internal[topic] = true, true
			}
		}
		for topic := range topics {
			for p, end := range ends[topic] {
				slack := int64(0)
				if internal[topic] && s.run.exactlyOnce {
					slack = 1 // the marker of the last transaction
				}
				if end.Offset <= slack {
					continue
				}
				committed, ok := resp.Fetched.Lookup(topic, p)
				if !ok || committed.At < end.Offset-slack {
					return ends, fmt.Sprintf("group %s has not processed %s[%d] to its end %d (committed: %v)", group, topic, p, end.Offset, committed.At), nil
				}
			}
		}
	}
	return ends, "", nil
}

// outRecord is a decoded output record; a null key or value is flagged, not empty.
type outRecord struct {
	key, value         string
	keyNull, valueNull bool
	ts                 int64
	partition          int32
	offset             int64
}

func (r outRecord) format(t0 int64) string {
	k, v := r.key, r.value
	if r.keyNull {
		k = "<null>"
	}
	if r.valueNull {
		v = "<null>"
	}
	return fmt.Sprintf("%s=%s@t0+%d", k, v, r.ts-t0)
}

// readOutput reads every committed record of topic, in offset order per partition.
func (s *diffState) readOutput(ctx context.Context, cluster *kafkatest.Cluster, topic string, kind valueKind) []outRecord {
	t := s.t
	ends, err := s.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	todo := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			todo[o.Partition] = o.Offset
		}
	})
	// Transaction markers come too, so that a partition whose tail is an aborted
	// transaction (an Eddy instance stopped mid-way) or a marker is read to its end.
	client := cluster.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond), kgo.KeepControlRecords())
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var out []outRecord
	for len(todo) > 0 {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions %v not read to their ends after a minute", topic, todo)
		}
		if err := fetches.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		for _, r := range fetches.Records() {
			if r.Attrs.IsControl() {
				if end, ok := todo[r.Partition]; ok && r.Offset+1 >= end {
					delete(todo, r.Partition)
				}
				continue
			}
			o := outRecord{key: string(r.Key), keyNull: r.Key == nil, valueNull: r.Value == nil,
				ts: r.Timestamp.UnixMilli(), partition: r.Partition, offset: r.Offset}
			if !o.valueNull {
				o.value = string(r.Value)
				if kind == longValues {
					if len(r.Value) != 8 {
						t.Fatalf("%s[%d]@%d: a long value of %d bytes", topic, r.Partition, r.Offset, len(r.Value))
					}
					o.value = strconv.FormatInt(int64(binary.BigEndian.Uint64(r.Value)), 10)
				}
			}
			out = append(out, o)
			if end, ok := todo[r.Partition]; ok && r.Offset+1 >= end {
				delete(todo, r.Partition)
			}
		}
	}
	return out
}

// compareOutputs compares the outputs of Kafka Streams (ks) and Eddy (ed) by mode and, when
// they differ, says how.
func compareOutputs(mode compareMode, ks, ed []outRecord, t0 int64) (bool, string) {
	switch mode {
	case unjoinedEarlier:
		return unjoinedEarlierDiff(ks, ed, t0)
	case asMultiset:
		return multisetDiff(ks, ed, t0)
	case bySequence:
		ksKeys, ksNull := byKey(ks)
		edKeys, edNull := byKey(ed)
		var diffs []string
		for _, k := range slices.Sorted(maps.Keys(union(ksKeys, edKeys))) {
			a, b := ksKeys[k], edKeys[k]
			i := 0
			for i < len(a) && i < len(b) && a[i].format(t0) == b[i].format(t0) {
				i++
			}
			if i == len(a) && i == len(b) {
				continue
			}
			diffs = append(diffs, fmt.Sprintf("key %s: the first %d records agree, then\n    Kafka Streams: %s\n    Eddy:          %s",
				k, i, render(a[i:], t0, 6), render(b[i:], t0, 6)))
		}
		if same, detail := multisetDiff(ksNull, edNull, t0); !same {
			diffs = append(diffs, "null keys: "+detail)
		}
		return len(diffs) == 0, limitLines(strings.Join(diffs, "\n"), 40)
	case byFinalValue:
		a, b := finalValues(ks, t0), finalValues(ed, t0)
		var diffs []string
		for _, k := range slices.Sorted(maps.Keys(union(a, b))) {
			if a[k] != b[k] {
				diffs = append(diffs, fmt.Sprintf("key %s: Kafka Streams %q, Eddy %q", k, a[k], b[k]))
			}
		}
		return len(diffs) == 0, limitLines(strings.Join(diffs, "\n"), 40)
	}
	panic(fmt.Sprintf("compare mode %d", mode))
}

func union[V any](a, b map[string]V) map[string]V {
	u := map[string]V{}
	for k, v := range a {
		u[k] = v
	}
	for k, v := range b {
		u[k] = v
	}
	return u
}

// byKey groups records by key in partition offset order (a key's records are all in one
// partition), and returns the null-key records apart.
func byKey(rs []outRecord) (map[string][]outRecord, []outRecord) {
	keys := map[string][]outRecord{}
	var nulls []outRecord
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b outRecord) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		return int(a.offset - b.offset)
	})
	for _, r := range sorted {
		if r.keyNull {
			nulls = append(nulls, r)
			continue
		}
		keys[r.key] = append(keys[r.key], r)
	}
	return keys, nulls
}

// finalValues is each key's last value and timestamp; a tombstone deletes the key.
func finalValues(rs []outRecord, t0 int64) map[string]string {
	keys, _ := byKey(rs)
	final := map[string]string{}
	for k, recs := range keys {
		if last := recs[len(recs)-1]; !last.valueNull {
			final[k] = last.format(t0)
		}
	}
	return final
}

// unjoinedEarlierDiff compares by unjoinedEarlier. A stream-stream join's result that
// joined nothing has "-" for the missing side: a value that starts with "-+" or ends
// with "+-" (the cases' joiners).
func unjoinedEarlierDiff(ks, ed []outRecord, t0 int64) (bool, string) {
	unjoined := func(r outRecord) bool {
		return !r.valueNull && (strings.HasPrefix(r.value, "-+") || strings.HasSuffix(r.value, "+-"))
	}
	split := func(rs []outRecord) (joined, other []outRecord) {
		for _, r := range rs {
			if unjoined(r) {
				other = append(other, r)
			} else {
				joined = append(joined, r)
			}
		}
		return joined, other
	}
	ksJoined, ksUnjoined := split(ks)
	edJoined, edUnjoined := split(ed)
	same, detail := multisetDiff(ksJoined, edJoined, t0)
	extra := map[string]int{}
	for _, r := range edUnjoined {
		extra[r.format(t0)]++
	}
	var missing []string
	for _, r := range ksUnjoined {
		if f := r.format(t0); extra[f] > 0 {
			extra[f]--
		} else {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		same = false
		detail += fmt.Sprintf("\nresults that joined nothing in Kafka Streams' output and not in Eddy's (%d): %s", len(missing), strings.Join(missing, " "))
	}
	return same, detail
}

func multisetDiff(ks, ed []outRecord, t0 int64) (bool, string) {
	count := map[string]int{}
	for _, r := range ks {
		count[r.format(t0)]++
	}
	for _, r := range ed {
		count[r.format(t0)]--
	}
	var onlyKS, onlyEddy []string
	for _, s := range slices.Sorted(maps.Keys(count)) {
		for n := count[s]; n > 0; n-- {
			onlyKS = append(onlyKS, s)
		}
		for n := count[s]; n < 0; n++ {
			onlyEddy = append(onlyEddy, s)
		}
	}
	if len(onlyKS) == 0 && len(onlyEddy) == 0 {
		return true, ""
	}
	return false, limitLines(fmt.Sprintf("only Kafka Streams wrote (%d): %s\nonly Eddy wrote (%d): %s",
		len(onlyKS), strings.Join(onlyKS[:min(len(onlyKS), 12)], " "), len(onlyEddy), strings.Join(onlyEddy[:min(len(onlyEddy), 12)], " ")), 40)
}

func render(rs []outRecord, t0 int64, n int) string {
	if len(rs) == 0 {
		return "(nothing more)"
	}
	var parts []string
	for _, r := range rs[:min(n, len(rs))] {
		parts = append(parts, r.format(t0))
	}
	if len(rs) > n {
		parts = append(parts, fmt.Sprintf("... (%d more)", len(rs)-n))
	}
	return strings.Join(parts, " ")
}

func limitLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... (%d more lines)", len(lines)-n)
}
