package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Client returns a client of the cluster with opts applied after the seed brokers. It is
// closed when tb's test ends.
func (c *Cluster) Client(tb testing.TB, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.seeds...)}, opts...)...)
	if err != nil {
		tb.Fatalf("kafkatest: new client: %v", err)
	}
	tb.Cleanup(client.Close)
	return client
}

// Admin returns an admin client of the cluster, closed when tb's test ends.
func (c *Cluster) Admin(tb testing.TB) *kadm.Client {
	tb.Helper()
	return kadm.NewClient(c.Client(tb))
}

var notInTopicName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// NewTopic creates a topic named after tb's test with a random suffix, so that tests
// sharing a cluster never share a topic, with the cluster's default replication and the
// given topic configs. It returns once every partition has a leader, and deletes the topic
// when the test ends.
func (c *Cluster) NewTopic(tb testing.TB, partitions int32, configs map[string]string) string {
	tb.Helper()
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		tb.Fatalf("kafkatest: topic name: %v", err)
	}
	name := notInTopicName.ReplaceAllString(tb.Name(), "_")
	name = fmt.Sprintf("%.200s-%s", name, hex.EncodeToString(suffix[:]))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := c.Admin(tb)
	topicConfigs := make(map[string]*string, len(configs))
	for k, v := range configs {
		topicConfigs[k] = kadm.StringPtr(v)
	}
	if _, err := admin.CreateTopic(ctx, partitions, -1, topicConfigs, name); err != nil {
		tb.Fatalf("kafkatest: creating topic %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.DeleteTopic(ctx, name); err != nil {
			tb.Errorf("kafkatest: deleting topic %s: %v", name, err)
		}
	})
	for {
		if err := partitionsLed(ctx, admin, name, int(partitions)); err == nil {
			return name
		} else if ctx.Err() != nil {
			tb.Fatalf("kafkatest: topic %s never got a leader on every partition: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// partitionsLed reports whether topic has want partitions, each with a leader.
func partitionsLed(ctx context.Context, admin *kadm.Client, topic string, want int) error {
	topics, err := admin.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	detail, ok := topics[topic]
	if !ok {
		return fmt.Errorf("not in metadata")
	}
	if detail.Err != nil {
		return detail.Err
	}
	if len(detail.Partitions) != want {
		return fmt.Errorf("%d of %d partitions in metadata", len(detail.Partitions), want)
	}
	for _, p := range detail.Partitions {
		if p.Err != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, p.Err)
		}
		if p.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p.Partition)
		}
	}
	return nil
}
