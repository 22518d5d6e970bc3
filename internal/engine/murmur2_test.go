package engine

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka's default partitioner is the contract: franz-go's StickyKeyPartitioner with a nil
// hasher implements it too, so the two must agree on every key.
func TestKeyPartitionMatchesFranzGoKafkaCompatiblePartitioner(t *testing.T) {
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for _, key := range []string{"", "a", "ab", "abc", "abcd", "hello world", "kafka", "21", "\xff\xfe\x00"} {
		for _, n := range []int32{1, 3, 8, 100} {
			want := partitioner.Partition(&kgo.Record{Key: []byte(key)}, int(n))
			if got := keyPartition([]byte(key), n); int(got) != want {
				t.Errorf("key %q among %d partitions: got %d, franz-go says %d", key, n, got, want)
			}
		}
	}
}
