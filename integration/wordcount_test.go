package integration_test

import (
	"os"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/examples/wordcount"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/topology"
)

// wordCountSetup creates the word count's topics with partitions partitions each and
// builds its topology.
func wordCountSetup(t *testing.T, cluster *kafkatest.Cluster, partitions int32) (wordcount.Topics, *topology.Topology) {
	t.Helper()
	topics := wordcount.Topics{
		Lines:  cluster.NewTopic(t, partitions, nil),
		Counts: cluster.NewTopic(t, partitions, nil),
	}
	topo, err := wordcount.Topology(topics)
	if err != nil {
		t.Fatal(err)
	}
	return topics, topo
}

func TestWordCountEndToEnd(t *testing.T) {
	cluster := kafka.Cluster(t)
	topics, topo := wordCountSetup(t, cluster, 3)
	input, want := lines(1, 2000, vocabulary(300))
	produceValues(t.Context(), t, cluster.Client(t), topics.Lines, nil, input)

	app := startApp(t, "only", cluster, topo,
		eddy.ApplicationID(topics.Lines+"-app"),
		eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(100*time.Millisecond),
	)
	awaitLatest(t, cluster, topics.Counts, want, time.Minute)
	app.stop(t)
	// One instance that never restarted processed each line once, and each word once
	// when it read it back from the repartition topic.
	var words int64
	for _, n := range want {
		words += n
	}
	if got := app.app.Stats(); got.Processed != int64(len(input)) || got.ProcessedInternal != words {
		t.Errorf("Stats() = %+v, want Processed %d (the lines) and ProcessedInternal %d (the words)", got, len(input), words)
	}
}

// TestRestartCarriesOnAndLostStateComesBackFromTheChangelog runs three lives of one
// application: the second restarts on its state directory and carries on counting; the
// third starts with the state directory deleted and restores its store from the
// changelog before it counts on.
func TestRestartCarriesOnAndLostStateComesBackFromTheChangelog(t *testing.T) {
	cluster := kafka.Cluster(t)
	topics, topo := wordCountSetup(t, cluster, 4)
	producer := cluster.Client(t)
	stateDir := t.TempDir()
	vocab := vocabulary(50_000)
	want := map[string]int64{}
	life := func(name string, seed uint64, n int, meter *restoreMeter) {
		t.Helper()
		input, counts := lines(seed, n, vocab)
		for w, c := range counts {
			want[w] += c
		}
		produceValues(t.Context(), t, producer, topics.Lines, nil, input)
		app := startApp(t, name, cluster, topo,
			eddy.ApplicationID(topics.Lines+"-app"),
			eddy.StateDir(stateDir),
			eddy.CommitInterval(200*time.Millisecond),
			eddy.OnRestore(meter),
		)
		awaitLatest(t, cluster, topics.Counts, want, 2*time.Minute)
		app.stop(t)
	}

	first := &restoreMeter{}
	life("first", 1, 20_000, first)
	if n, _ := first.totals(); n != 0 {
		t.Errorf("the first life restored %d records from empty changelogs", n)
	}

	second := &restoreMeter{}
	life("second", 2, 5_000, second)
	if n, _ := second.totals(); n != 0 {
		t.Errorf("a clean restart on its own state directory restored %d records, want 0", n)
	}

	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	third := &restoreMeter{}
	life("third", 3, 5_000, third)
	restored, took := third.totals()
	if restored == 0 {
		t.Fatal("the third life restored nothing after its state directory was deleted")
	}
	t.Logf("restore after losing the state directory: %d changelog records in %s, %.0f records/s",
		restored, took.Round(time.Millisecond), float64(restored)/took.Seconds())
}
