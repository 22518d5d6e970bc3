package task

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
)

func at(ms int64) time.Time { return time.UnixMilli(ms) }

func rec(topic string, offset, ms int64) queued {
	q := queued{meta: processor.RecordMetadata{Topic: topic, Offset: offset}}
	q.record.Timestamp = at(ms)
	return q
}

func TestPartitionGroupPicksTheLowestHeadTimestamp(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, 0, at(0))
	for _, r := range []queued{rec("a", 0, 5), rec("a", 1, 1), rec("b", 0, 3), rec("b", 1, 9)} {
		g.queue(r.meta.Topic).push(r)
	}
	// Heads a@5 and b@3: b first; then a@5 against b@9; then a@1 (its own order is
	// kept within a partition) against b@9; then b@9.
	want := []string{"b0", "a0", "a1", "b1"}
	for i, w := range want {
		r, ok := g.next(at(0))
		if !ok {
			t.Fatalf("record %d: none ready", i)
		}
		if got := r.meta.Topic + string(rune('0'+r.meta.Offset)); got != w {
			t.Fatalf("record %d is %s, want %s", i, got, w)
		}
	}
	if _, ok := g.next(at(0)); ok {
		t.Error("a record after the queues ran dry")
	}
}

func TestPartitionGroupBreaksTiesByTopicOrder(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, 0, at(0))
	g.queue("b").push(rec("b", 0, 1))
	g.queue("a").push(rec("a", 0, 1))
	if r, _ := g.next(at(0)); r.meta.Topic != "a" {
		t.Errorf("tie went to %s, want a (listed first)", r.meta.Topic)
	}
}

func TestPartitionGroupWaitsForAnEmptyPartitionUpToMaxIdle(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, 100*time.Millisecond, at(0))
	g.queue("a").push(rec("a", 0, 1))
	if _, ok := g.next(at(50)); ok {
		t.Fatal("processed while the other partition was empty for less than max idle")
	}
	if _, ok := g.next(at(100)); !ok {
		t.Fatal("still waiting after max idle")
	}
}

func TestScheduleFiresOncePerJumpAndKeepsItsGrid(t *testing.T) {
	s := &schedule{interval: 10 * time.Millisecond, next: at(10)}
	for _, c := range []struct {
		now  int64
		fire bool
		next int64
	}{
		{5, false, 10},
		{10, true, 20},
		{19, false, 20},
		{55, true, 60}, // a jump over several intervals fires once
		{60, true, 70},
	} {
		if got := s.due(at(c.now)); got != c.fire || !s.next.Equal(at(c.next)) {
			t.Errorf("at %d: fired %v next %d, want %v next %d", c.now, got, s.next.UnixMilli(), c.fire, c.next)
		}
	}
	first := &schedule{interval: 10 * time.Millisecond}
	if !first.due(at(7)) || !first.next.Equal(at(17)) {
		t.Errorf("a schedule made before any record: next %d after the first record at 7, want it to fire and next 17", first.next.UnixMilli())
	}
	s.Cancel()
	if s.due(at(100)) {
		t.Error("a cancelled schedule fired")
	}
}
