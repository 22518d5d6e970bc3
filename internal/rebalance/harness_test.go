package rebalance_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/processor"
)

// twelve is the shape most tests use, with 12 tasks: subtopology 0 reads the
// copartitioned "orders" and "payments", subtopology 1 reads "clicks"; six partitions each.
func twelve() (map[int][]string, map[string]int32) {
	return map[int][]string{0: {"orders", "payments"}, 1: {"clicks"}},
		map[string]int32{"orders": 6, "payments": 6, "clicks": 6}
}

func task(sub int, p int32) processor.TaskID {
	return processor.TaskID{Subtopology: sub, Partition: p}
}

// logBuffer collects what a Balancer logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newBalancer(t *testing.T, subs map[int][]string, offsets map[processor.TaskID]int64, log *logBuffer) *rebalance.Balancer {
	t.Helper()
	cfg := rebalance.Config{Subtopologies: subs}
	if offsets != nil {
		cfg.TaskOffsets = func() map[processor.TaskID]int64 { return maps.Clone(offsets) }
	}
	if log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := rebalance.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

// instance is one simulated application instance: a group member with its own Balancer
// (and so its own TaskOffsets) and what its client holds.
type instance struct {
	id         string
	b          *rebalance.Balancer
	assigned   map[string][]int32
	generation int32 // the generation it last synced in; -1 before its first
}

// group simulates the classic cooperative protocol as kgo runs it: every member joins
// with its current assignment, the first member (the leader) balances, every member
// takes its new assignment and, if it lost partitions, revokes them and rejoins.
type group struct {
	t          *testing.T
	subs       map[int][]string
	counts     map[string]int32
	generation int32
	members    []*instance
}

func newGroup(t *testing.T, subs map[int][]string, counts map[string]int32) *group {
	return &group{t: t, subs: subs, counts: counts}
}

func (g *group) add(id string, offsets map[processor.TaskID]int64) *instance {
	in := &instance{id: id, b: newBalancer(g.t, g.subs, offsets, nil), generation: -1}
	g.members = append(g.members, in)
	return in
}

func (g *group) remove(id string) {
	g.members = slices.DeleteFunc(g.members, func(in *instance) bool { return in.id == id })
}

// rebalance runs one generation and reports whether a member lost partitions, which
// makes kgo rejoin. It fails the test if the new plan gives a member a partition another
// member held, or part of a task.
func (g *group) rebalance() (revoked bool) {
	g.t.Helper()
	g.generation++
	joins := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, in := range g.members {
		joins = append(joins, member(in.id, in.b.JoinGroupMetadata(nil, in.assigned, in.generation)))
	}
	plan := balance(g.t, g.members[0].b, joins, g.counts)

	held := make(map[string]string) // "topic/partition" -> member, before this generation
	for _, in := range g.members {
		for topic, ps := range in.assigned {
			for _, p := range ps {
				held[fmt.Sprintf("%s/%d", topic, p)] = in.id
			}
		}
	}
	for _, in := range g.members {
		next := plan[in.id]
		for topic, ps := range next {
			for _, p := range ps {
				if owner, ok := held[fmt.Sprintf("%s/%d", topic, p)]; ok && owner != in.id {
					g.t.Errorf("generation %d gives %s %s/%d while %s still holds it", g.generation, in.id, topic, p, owner)
				}
			}
		}
		if !wholeTasks(next, g.subs) {
			g.t.Errorf("generation %d gives %s part of a task: %v", g.generation, in.id, next)
		}
		for topic, ps := range in.assigned {
			for _, p := range ps {
				if !slices.Contains(next[topic], p) {
					revoked = true
				}
			}
		}
		in.assigned = next
		in.generation = g.generation
	}
	return revoked
}

// settle rebalances until no member revokes anything, and returns how many rebalances
// it took.
func (g *group) settle() int {
	g.t.Helper()
	for round := 1; round <= 5; round++ {
		if !g.rebalance() {
			return round
		}
	}
	g.t.Fatalf("the group did not settle in 5 rebalances")
	return 0
}

// tasks returns each member's tasks.
func (g *group) tasks() map[string][]processor.TaskID {
	out := make(map[string][]processor.TaskID)
	for _, in := range g.members {
		out[in.id] = rebalance.TasksOf(in.assigned, g.subs)
	}
	return out
}

func member(id string, metadata []byte) kmsg.JoinGroupResponseMember {
	m := kmsg.NewJoinGroupResponseMember()
	m.MemberID = id
	m.ProtocolMetadata = metadata
	return m
}

// balance runs leader's MemberBalancer and Balance over members, as kgo's leader does,
// and returns each member's assignment as the member reads it.
func balance(t *testing.T, leader *rebalance.Balancer, members []kmsg.JoinGroupResponseMember, counts map[string]int32) map[string]map[string][]int32 {
	t.Helper()
	mb, topics, err := leader.MemberBalancer(members)
	if err != nil {
		t.Fatalf("MemberBalancer: %v", err)
	}
	input := make(map[string]int32)
	for topic := range topics {
		if n, ok := counts[topic]; ok {
			input[topic] = n
		}
	}
	out := make(map[string]map[string][]int32)
	for _, a := range mb.Balance(input).IntoSyncAssignment() {
		assigned, err := leader.ParseSyncAssignment(a.MemberAssignment)
		if err != nil {
			t.Fatalf("ParseSyncAssignment for %s: %v", a.MemberID, err)
		}
		out[a.MemberID] = assigned
	}
	if len(out) != len(members) {
		t.Errorf("the plan has %d members, the group %d", len(out), len(members))
	}
	return out
}

// wholeTasks reports whether assigned is exactly the partitions of some tasks.
func wholeTasks(assigned map[string][]int32, subs map[int][]string) bool {
	rebuilt := make(map[string][]int32)
	for _, id := range rebalance.TasksOf(assigned, subs) {
		for _, topic := range subs[id.Subtopology] {
			rebuilt[topic] = append(rebuilt[topic], id.Partition)
		}
	}
	for topic, ps := range assigned {
		if len(ps) == 0 {
			continue
		}
		if !slices.Equal(slices.Sorted(slices.Values(ps)), rebuilt[topic]) {
			return false
		}
	}
	return true
}

// checkBalanced fails the test unless every task of want is held by exactly one member
// and every member has floor or ceil of the average.
func checkBalanced(t *testing.T, tasks map[string][]processor.TaskID, want int) {
	t.Helper()
	seen := make(map[processor.TaskID]string)
	for id, ts := range tasks {
		lo, hi := want/len(tasks), (want+len(tasks)-1)/len(tasks)
		if len(ts) < lo || len(ts) > hi {
			t.Errorf("%s has %d tasks, want %d to %d: %v", id, len(ts), lo, hi, ts)
		}
		for _, task := range ts {
			if other, ok := seen[task]; ok {
				t.Errorf("task %v is on %s and %s", task, other, id)
			}
			seen[task] = id
		}
	}
	if len(seen) != want {
		t.Errorf("%d tasks assigned, want %d", len(seen), want)
	}
}
