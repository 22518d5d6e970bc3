package engine

import (
	"testing"

	"github.com/eddy-streams/eddy/internal/task"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCollectorNextOffsetIsAfterTheNewestAcknowledgedRecord(t *testing.T) {
	c := newCollector(nil, map[string]int32{"a": 2}, nil, task.ErrorPolicy{}, nil)
	check := func(topic string, partition int32, want int64, wantOK bool) {
		t.Helper()
		if got, ok := c.nextOffset(topic, partition); got != want || ok != wantOK {
			t.Errorf("nextOffset(%q, %d) = %d, %v; want %d, %v", topic, partition, got, ok, want, wantOK)
		}
	}
	check("a", 1, 0, false)
	c.promise(&kgo.Record{Topic: "a", Partition: 1, Offset: 0}, nil)
	check("a", 1, 1, true)
	c.promise(&kgo.Record{Topic: "a", Partition: 1, Offset: 7}, nil)
	c.promise(&kgo.Record{Topic: "a", Partition: 1, Offset: 5}, nil)
	check("a", 1, 8, true)
	check("a", 0, 0, false)
	check("a", 2, 0, false)
	check("b", 0, 0, false)
	c.promise(&kgo.Record{Topic: "b", Partition: 0, Offset: 3}, nil) // not a topic of the application: ignored
	check("b", 0, 0, false)
}
