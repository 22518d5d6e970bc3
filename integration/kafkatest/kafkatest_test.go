package kafkatest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestEnvNameFollowsTheOfficialImageConvention(t *testing.T) {
	for property, want := range map[string]string{
		"node.id":                        "KAFKA_NODE_ID",
		"log.cleaner.dedupe.buffer.size": "KAFKA_LOG_CLEANER_DEDUPE_BUFFER_SIZE",
		"some_property.with-dash":        "KAFKA_SOME__PROPERTY_WITH___DASH",
	} {
		if got := envName(property); got != want {
			t.Errorf("envName(%q) = %q, want %q", property, got, want)
		}
	}
}

func TestBrokerConfigOfThreeNodesNamesEveryVoterAndReplicatesInternalTopics(t *testing.T) {
	nodes := []node{{1, 9001, 9002}, {2, 9003, 9004}, {3, 9005, 9006}}
	config := brokerConfig(nodes, nodes[1], map[string]string{"num.partitions": "8"})
	for property, want := range map[string]string{
		"node.id":                          "2",
		"listeners":                        "PLAINTEXT://127.0.0.1:9003,CONTROLLER://127.0.0.1:9004",
		"advertised.listeners":             "PLAINTEXT://127.0.0.1:9003",
		"controller.quorum.voters":         "1@127.0.0.1:9002,2@127.0.0.1:9004,3@127.0.0.1:9006",
		"offsets.topic.replication.factor": "3",
		"transaction.state.log.min.isr":    "2",
		"num.partitions":                   "8",
	} {
		if got := config[property]; got != want {
			t.Errorf("%s = %q, want %q", property, got, want)
		}
	}
}

func TestStartNamesTheImageThatCannotBeHad(t *testing.T) {
	t.Setenv(EnvBootstrap, "")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const image = "eddy/no-such-kafka-image:0"
	c, err := Start(ctx, Image(image))
	if err == nil {
		c.Close(ctx)
		t.Fatalf("Start with image %s succeeded", image)
	}
	if !strings.Contains(err.Error(), image) {
		t.Errorf("Start error %q does not name the image %s", err, image)
	}
}

func TestExternalClusterMustBeOnLoopback(t *testing.T) {
	t.Setenv(EnvBootstrap, "192.0.2.1:9092")
	if c, err := Start(t.Context()); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Start with %s=192.0.2.1:9092 gave cluster %v and error %v, want a loopback error", EnvBootstrap, c, err)
	}
}

// TestThreeNodeCluster starts the cluster shape that broker-failure tests need and checks
// that a fully replicated topic works, and that KAFKA_BOOTSTRAP reaches a running cluster.
func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers; skipped with -short")
	}
	t.Setenv(EnvBootstrap, "")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cluster, err := Start(ctx, Nodes(3))
	if err != nil {
		t.Fatal(err)
	}
	// Registered before any cleanup that needs the cluster, so it runs after them.
	t.Cleanup(func() {
		if err := cluster.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	t.Logf("started %s", cluster)

	topic := cluster.NewTopic(t, 3, map[string]string{"min.insync.replicas": "3"})
	details, err := cluster.Admin(t).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range details[topic].Partitions {
		if len(p.ISR) != 3 {
			t.Errorf("partition %d has in-sync replicas %v, want 3", p.Partition, p.ISR)
		}
	}
	// With min.insync.replicas=3, acks=all succeeds only when all three brokers have the record.
	producer := cluster.Client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := range 30 {
		if err := producer.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
			t.Fatalf("producing to a topic replicated three times: %v", err)
		}
	}

	t.Setenv(EnvBootstrap, cluster.Bootstrap())
	external, err := Start(ctx)
	if err != nil {
		t.Fatalf("Start with %s=%s: %v", EnvBootstrap, cluster.Bootstrap(), err)
	}
	if external.Image() != "" || len(external.Seeds()) != 3 || external.Version() == "" {
		t.Errorf("external cluster %s: want no image, 3 seeds and a version", external)
	}
	t.Logf("as an external cluster: %s", external)
}

func TestClusterIDsNeverLookLikeOptions(t *testing.T) {
	for range 2000 {
		id, err := newClusterID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 || id[0] == '-' {
			t.Fatalf("cluster id %q: want 22 characters, not starting with '-'", id)
		}
	}
}
