package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestResetThenRerunGivesTheSameOutput runs an application with a repartition topic and
// a changelog (orders counted per region) over its input to the end and stops it; a dry
// run of `eddy reset` (the built command) prints the plan and changes nothing; the reset
// rewinds the input, deletes both internal topics and wipes the local state; a rerun
// gives the same output as the first run, record for record per key; and while the rerun
// runs, the reset refuses.
func TestResetThenRerunGivesTheSameOutput(t *testing.T) {
	cluster := kafka.Cluster(t)
	bin := buildEddy(t)
	const orders, regions = 600, 7
	in := cluster.NewTopic(t, 3, nil)
	out := cluster.NewTopic(t, 3, nil)
	app := in + "-app"
	stateDir := t.TempDir()
	appDir := filepath.Join(stateDir, app)
	repartition, changelog := app+"-by-region-repartition", app+"-counts-changelog"

	keys, values := make([]string, orders), make([]string, orders)
	want := map[string]int64{}
	for i := range orders {
		keys[i], values[i] = fmt.Sprintf("order-%04d", i), fmt.Sprintf("region-%d", i%regions)
		want[values[i]]++
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	produceValues(ctx, t, cluster.Client(t), in, keys, values)

	// No record cache: every update of a count is output, so each region's output is
	// its counts 1, 2, ..., n in order, in both runs.
	b := topology.NewBuilder(topology.WithoutRecordCache())
	byRegion := topology.GroupBy(topology.StreamFrom(b, in, serde.String(), serde.String()), "by-region",
		func(_, region string) string { return region }, serde.String())
	topology.To(topology.ToStream(topology.Count(byRegion, "counts")), out, serde.String(), serde.Int64())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	opts := []eddy.Opt{eddy.ApplicationID(app), eddy.StateDir(stateDir), eddy.CommitInterval(100 * time.Millisecond)}

	first := startApp(t, "first", cluster, topo, opts...)
	awaitLatest(t, cluster, out, want, 2*time.Minute)
	admin := kadm.NewClient(cluster.Client(t))
	for committedInput(t, admin, app, in) < orders {
		if ctx.Err() != nil {
			t.Fatal("the first run did not commit its input")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.stop(t)
	firstOut := readOutput(t, ctx, cluster, out, nil, orders)
	checkCounts(t, "first run", firstOut, want)

	// A fresh client for each look: a client keeps the metadata it read for a while.
	look := func() (topics []string, committed kadm.Offsets) {
		t.Helper()
		adm := kadm.NewClient(cluster.Client(t))
		listed, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fetched, err := adm.FetchOffsets(ctx, app)
		if err != nil || fetched.Error() != nil {
			t.Fatalf("fetching the group's offsets: %v %v", err, fetched.Error())
		}
		return listed.Names(), fetched.Offsets()
	}
	topicsBefore, committedBefore := look()
	for _, topic := range []string{repartition, changelog} {
		if !slices.Contains(topicsBefore, topic) {
			t.Fatalf("the first run made no topic %s: %q", topic, topicsBefore)
		}
	}
	stateBefore := dirNames(t, appDir)
	if !slices.Contains(stateBefore, "1_0") {
		t.Fatalf("the first run left no state for task 1_0: %q", stateBefore)
	}

	args := []string{"reset", "-bootstrap", cluster.Bootstrap(), "-application-id", app, "-state-dir", stateDir}
	code, stdout, stderr := runEddy(ctx, bin, append(args, "-dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	var wantLines []string
	for p := range int32(3) {
		o, ok := committedBefore.Lookup(in, p)
		if !ok {
			t.Fatalf("no committed offset on %s partition %d", in, p)
		}
		wantLines = append(wantLines, fmt.Sprintf("  %s partition %d: offset 0 (committed: %d)\n", in, p, o.At))
	}
	internal := slices.Sorted(slices.Values([]string{repartition, changelog}))
	wantLines = append(wantLines, "Internal topics deleted:\n  "+internal[0]+"\n  "+internal[1]+"\n",
		"Local state wiped in "+appDir+":\n", "  1_0\n", "Dry run: nothing is changed.\n")
	for _, line := range wantLines {
		if !strings.Contains(stdout, line) {
			t.Errorf("the dry run's output misses %q:\n%s", line, stdout)
		}
	}
	t.Logf("eddy reset -dry-run:\n%s", stdout)
	if topics, committed := look(); !slices.Equal(topics, topicsBefore) || !offsetsEqual(committed, committedBefore) {
		t.Errorf("the dry run changed the cluster: topics %q, offsets %v; were %q, %v", topics, committed, topicsBefore, committedBefore)
	}
	if got := dirNames(t, appDir); !slices.Equal(got, stateBefore) {
		t.Errorf("the dry run changed the state directory: %q, was %q", got, stateBefore)
	}

	code, stdout, stderr = runEddy(ctx, bin, args...)
	if code != 0 || !strings.HasSuffix(stdout, "Done.\n") {
		t.Fatalf("reset: exit %d: %s\n%s", code, stderr, stdout)
	}
	topics, committed := look()
	for _, topic := range []string{repartition, changelog} {
		if slices.Contains(topics, topic) {
			t.Errorf("the reset left topic %s", topic)
		}
	}
	committed.Each(func(o kadm.Offset) {
		if o.Topic != in || o.At != 0 {
			t.Errorf("after the reset the group has offset %d on %s partition %d, want only offset 0 on %s", o.At, o.Topic, o.Partition, in)
		}
	})
	if n := len(committed[in]); n != 3 {
		t.Errorf("after the reset the group has offsets on %d partitions of the input, want 3", n)
	}
	if got, want := dirNames(t, appDir), []string{".lock", "instance-id"}; !slices.Equal(got, want) {
		t.Errorf("after the reset the state directory holds %q, want %q", got, want)
	}

	ends, err := admin.ListEndOffsets(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	second := startApp(t, "second", cluster, topo, opts...)
	secondOut := readOutput(t, ctx, cluster, out, ends, orders)
	checkCounts(t, "rerun", secondOut, want)
	for region, firstSeq := range firstOut {
		if !slices.Equal(secondOut[region], firstSeq) {
			t.Errorf("%s: the rerun output %v, the first run %v", region, secondOut[region], firstSeq)
		}
	}
	if len(secondOut) != len(firstOut) {
		t.Errorf("the rerun output %d keys, the first run %d", len(secondOut), len(firstOut))
	}

	code, _, stderr = runEddy(ctx, bin, args...)
	if code != 1 || !strings.Contains(stderr, "active members") {
		t.Errorf("reset while the rerun runs: exit %d, %q; want 1 and the group's members", code, stderr)
	}
	second.stop(t)
}

// buildEddy builds cmd/eddy into a temporary directory.
func buildEddy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eddy")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/eddy-streams/eddy/cmd/eddy")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/eddy: %v\n%s", err, out)
	}
	return bin
}

// runEddy runs the command and returns its exit status and output.
func runEddy(ctx context.Context, bin string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code == 0 {
		code = -1
	}
	return code, stdout.String(), stderr.String()
}

// readOutput reads topic from the offsets from (the start when nil) until it has read n
// records, and returns the values of each key in the order of its partition.
func readOutput(t *testing.T, ctx context.Context, cluster *kafkatest.Cluster, topic string, from kadm.ListedOffsets, n int) map[string][]int64 {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if from != nil {
		opts = []kgo.Opt{kgo.ConsumePartitions(from.KOffsets())}
	}
	client := cluster.Client(t, opts...)
	out := map[string][]int64{}
	for read := 0; read < n; {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			t.Fatalf("reading %s after %d records: %v", topic, read, err)
		}
		for _, r := range fetches.Records() {
			v, err := serde.Int64().Deserialize(topic, r.Value)
			if err != nil {
				t.Fatalf("%s offset %d: %v", topic, r.Offset, err)
			}
			out[string(r.Key)] = append(out[string(r.Key)], v)
			read++
		}
	}
	return out
}

// checkCounts checks that each key's output is 1, 2, ..., its count.
func checkCounts(t *testing.T, run string, out map[string][]int64, want map[string]int64) {
	t.Helper()
	for key, n := range want {
		seq := out[key]
		ok := int64(len(seq)) == n
		for i := 0; ok && i < len(seq); i++ {
			ok = seq[i] == int64(i+1)
		}
		if !ok {
			t.Errorf("%s: %s output %v, want 1 to %d", run, key, seq, n)
		}
	}
	if len(out) != len(want) {
		t.Errorf("%s: output for %d keys, want %d", run, len(out), len(want))
	}
}

func offsetsEqual(a, b kadm.Offsets) bool {
	count := 0
	equal := true
	a.Each(func(o kadm.Offset) {
		count++
		if other, ok := b.Lookup(o.Topic, o.Partition); !ok || other.At != o.At {
			equal = false
		}
	})
	n := 0
	b.Each(func(kadm.Offset) { n++ })
	return equal && count == n
}

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
