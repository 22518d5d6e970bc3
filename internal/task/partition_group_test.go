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

// clock returns a wall clock for partitionGroup.next that reads *ms.
func clock(ms *int64) func() time.Time { return func() time.Time { return at(*ms) } }

// never is the wall clock of a group that must not read it.
func never(t *testing.T) func() time.Time {
	return func() time.Time { t.Fatal("the group read the wall clock"); return time.Time{} }
}

func TestPartitionGroupPicksTheLowestHeadTimestamp(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, false, 0)
	for _, r := range []queued{rec("a", 0, 5), rec("a", 1, 1), rec("b", 0, 3), rec("b", 1, 9)} {
		g.queue(r.meta.Topic).push(r)
	}
	// Heads a@5 and b@3: b first; then a@5 against b@9; then a@1 (its own order is
	// kept within a partition) against b@9; then b@9.
	want := []string{"b0", "a0", "a1", "b1"}
	for i, w := range want {
		r, ok := g.next(never(t))
		if !ok {
			t.Fatalf("record %d: none ready", i)
		}
		if got := r.meta.Topic + string(rune('0'+r.meta.Offset)); got != w {
			t.Fatalf("record %d is %s, want %s", i, got, w)
		}
	}
	if _, ok := g.next(never(t)); ok {
		t.Error("a record after the queues ran dry")
	}
}

func TestPartitionGroupBreaksTiesByTopicOrder(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, false, 0)
	g.queue("b").push(rec("b", 0, 1))
	g.queue("a").push(rec("a", 0, 1))
	if r, _ := g.next(never(t)); r.meta.Topic != "a" {
		t.Errorf("tie went to %s, want a (listed first)", r.meta.Topic)
	}
}

// With max idle 0, an empty partition holds the others back until the group knows it is
// caught up: while its end is unknown, and while the consumer has not handed over
// everything up to its end (KIP-695). Then the others run at once, without the clock.
func TestPartitionGroupWaitsForAnEmptyPartitionUntilItIsCaughtUp(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, true, 0)
	g.queue("a").push(rec("a", 0, 1))
	b := g.queue("b")
	var blocking []string
	g.blocking(func(q *queue) { blocking = append(blocking, q.topic) })
	if len(blocking) != 1 || blocking[0] != "b" {
		t.Fatalf("blocking partitions %v, want [b]", blocking)
	}
	for _, c := range []struct {
		name          string
		position, end int64
		ready         bool
	}{
		{"nothing known", -1, -1, false},
		{"end unknown", 5, -1, false},
		{"position unknown", -1, 5, false},
		{"records left to fetch", 3, 5, false},
		{"caught up", 5, 5, true},
		{"past a stale end", 7, 5, true},
	} {
		b.position, b.end = c.position, c.end
		if _, ok := g.next(never(t)); ok != c.ready {
			t.Errorf("%s (position %d, end %d): ready %v, want %v", c.name, c.position, c.end, ok, c.ready)
		}
		if ok := g.queue("a").len() == 0; ok {
			g.queue("a").push(rec("a", 0, 1))
		}
	}
}

// A positive max idle waits that long more once the empty partition is caught up,
// counted from when the group first found it so; records arriving for it end the wait.
func TestPartitionGroupWaitsMaxIdleForACaughtUpPartition(t *testing.T) {
	g := newPartitionGroup([]string{"a", "b"}, 0, true, 100*time.Millisecond)
	g.queue("a").push(rec("a", 0, 1))
	b := g.queue("b")
	b.position, b.end = 4, 9
	now := int64(0)
	if _, ok := g.next(clock(&now)); ok {
		t.Fatal("processed while the empty partition had records to fetch")
	}
	b.position, now = 9, 30 // caught up from 30 on
	if _, ok := g.next(clock(&now)); ok {
		t.Fatal("processed as soon as the empty partition caught up")
	}
	now = 129
	if _, ok := g.next(clock(&now)); ok {
		t.Fatal("processed before max idle passed")
	}
	now = 130
	if _, ok := g.next(clock(&now)); !ok {
		t.Fatal("still waiting after max idle")
	}
}

// A group that does not wait (the test driver's, Kafka Streams' max.task.idle.ms -1)
// processes what it holds, and one input partition never waits.
func TestPartitionGroupThatDoesNotWait(t *testing.T) {
	for name, g := range map[string]*partitionGroup{
		"no wait":          newPartitionGroup([]string{"a", "b"}, 0, false, time.Hour),
		"single partition": newPartitionGroup([]string{"a"}, 0, true, time.Hour),
	} {
		g.queue("a").push(rec("a", 0, 1))
		if _, ok := g.next(never(t)); !ok {
			t.Errorf("%s: waited", name)
		}
		g.queue("a").push(rec("a", 1, 1))
		g.blocking(func(q *queue) { t.Errorf("%s: %s reported blocking", name, q.topic) })
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
