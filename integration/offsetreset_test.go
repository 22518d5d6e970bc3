package integration_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSourcesStartWhereTheirOffsetResetSays reads two topics that both hold a record
// from before the application started: the Earliest source counts it, the Latest one
// does not, and both count what comes after.
func TestSourcesStartWhereTheirOffsetResetSays(t *testing.T) {
	cluster := kafka.Cluster(t)
	early := cluster.NewTopic(t, 1, nil)
	late := cluster.NewTopic(t, 1, nil)
	out := cluster.NewTopic(t, 1, nil)
	producer := cluster.Client(t)
	produce := func(topic, key string) {
		t.Helper()
		v, _ := serde.Int64().Serialize(topic, 1)
		if err := producer.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Key: []byte(key), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(early, "early-before")
	produce(late, "late-before")

	b := topology.NewBuilder()
	topology.AddSource(b, "early", serde.String(), serde.Int64(), []string{early})
	topology.AddSource(b, "late", serde.String(), serde.Int64(), []string{late}, topology.WithOffsetReset(topology.Latest))
	topology.AddSink(b, "out-early", out, serde.String(), serde.Int64(), []string{"early"})
	topology.AddSink(b, "out-late", out, serde.String(), serde.Int64(), []string{"late"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, "only", cluster, topo, eddy.ApplicationID(early+"-app"), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(100*time.Millisecond))
	awaitLatest(t, cluster, out, map[string]int64{"early-before": 1}, time.Minute)
	// The Latest source has its position once the instance processed the Earliest one's
	// old record: both joined the same assignment.
	produce(early, "early-after")
	produce(late, "late-after")
	awaitLatest(t, cluster, out, map[string]int64{"early-before": 1, "early-after": 1, "late-after": 1}, time.Minute)
	app.stop(t)
}
