package rebalance_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/processor"
)

func TestFirstAssignmentIsBalancedAndKeepsCopartitionedPartitionsTogether(t *testing.T) {
	subs, counts := twelve()
	g := newGroup(t, subs, counts)
	for _, id := range []string{"a", "b", "c"} {
		g.add(id, nil)
	}
	if rounds := g.settle(); rounds != 1 {
		t.Errorf("the first assignment took %d rebalances, want 1", rounds)
	}
	checkBalanced(t, g.tasks(), 12)
	for _, in := range g.members {
		if !slices.Equal(in.assigned["orders"], in.assigned["payments"]) {
			t.Errorf("%s holds orders %v but payments %v", in.id, in.assigned["orders"], in.assigned["payments"])
		}
	}
}

func TestAFourthMemberGetsTasksOnlyAfterTheirOwnersGiveThemUp(t *testing.T) {
	subs, counts := twelve()
	g := newGroup(t, subs, counts)
	for _, id := range []string{"a", "b", "c"} {
		g.add(id, nil)
	}
	g.settle()
	before := g.tasks()

	g.add("d", nil)
	if !g.rebalance() {
		t.Fatal("the rebalance that moves tasks to d revoked nothing")
	}
	during := g.tasks()
	if len(during["d"]) != 0 {
		t.Errorf("d got %v in the same rebalance that takes them from their owners", during["d"])
	}
	var givenUp []processor.TaskID
	for _, id := range []string{"a", "b", "c"} {
		if len(during[id]) != 3 {
			t.Errorf("%s kept %v, want 3 of its %v", id, during[id], before[id])
		}
		for _, task := range before[id] {
			if !slices.Contains(during[id], task) {
				givenUp = append(givenUp, task)
			}
		}
		for _, task := range during[id] {
			if !slices.Contains(before[id], task) {
				t.Errorf("%s got %v, which it did not own, while d waits", id, task)
			}
		}
	}

	if g.rebalance() {
		t.Error("the follow-up rebalance revoked more tasks")
	}
	after := g.tasks()
	slices.SortFunc(givenUp, func(x, y processor.TaskID) int { return strings.Compare(x.String(), y.String()) })
	got := slices.Clone(after["d"])
	slices.SortFunc(got, func(x, y processor.TaskID) int { return strings.Compare(x.String(), y.String()) })
	if !slices.Equal(got, givenUp) {
		t.Errorf("d got %v, want the tasks the others gave up, %v", after["d"], givenUp)
	}
	for _, id := range []string{"a", "b", "c"} {
		if !slices.Equal(after[id], during[id]) {
			t.Errorf("%s went from %v to %v in the follow-up rebalance", id, during[id], after[id])
		}
	}
	checkBalanced(t, after, 12)
}

func TestALeavingMembersTasksAreSpreadAndTheOthersKeepTheirs(t *testing.T) {
	subs, counts := twelve()
	g := newGroup(t, subs, counts)
	for _, id := range []string{"a", "b", "c", "d"} {
		g.add(id, nil)
	}
	g.settle()
	before := g.tasks()

	g.remove("c")
	if g.rebalance() {
		t.Error("a member leaving made the others revoke tasks")
	}
	after := g.tasks()
	checkBalanced(t, after, 12)
	var taken []processor.TaskID
	for _, id := range []string{"a", "b", "d"} {
		for _, task := range before[id] {
			if !slices.Contains(after[id], task) {
				t.Errorf("%s lost %v", id, task)
			}
		}
		for _, task := range after[id] {
			if !slices.Contains(before[id], task) {
				taken = append(taken, task)
			}
		}
	}
	slices.SortFunc(taken, func(x, y processor.TaskID) int { return strings.Compare(x.String(), y.String()) })
	if !slices.Equal(taken, before["c"]) {
		t.Errorf("the others took %v, want c's tasks %v", taken, before["c"])
	}
}

func TestLocalStatePlacesTasksWithoutAnOwner(t *testing.T) {
	subs, counts := twelve()
	p0 := map[string][]int32{"orders": {0}, "payments": {0}}
	cases := []struct {
		name    string
		offsets map[string]map[processor.TaskID]int64
		owned   map[string]map[string][]int32 // at generation 1
		// prevTasks replaces the member's user data with one listing these tasks only.
		prevTasks map[string][]processor.TaskID
		want      map[processor.TaskID]string
	}{
		{
			name:    "a task with no previous owner goes to the member reporting state for it",
			offsets: map[string]map[processor.TaskID]int64{"c": {task(0, 0): 5}},
			want:    map[processor.TaskID]string{task(0, 0): "c"},
		},
		{
			name: "the largest offset sum wins among members reporting state",
			offsets: map[string]map[processor.TaskID]int64{
				"a": {task(1, 3): 10}, "b": {task(1, 3): 90}, "c": {task(1, 3): 50},
			},
			want: map[processor.TaskID]string{task(1, 3): "b"},
		},
		{
			name: "state does not override the balance",
			offsets: map[string]map[processor.TaskID]int64{"a": {
				task(0, 0): 6, task(0, 1): 5, task(0, 2): 4, task(0, 3): 3, task(0, 4): 2, task(0, 5): 1,
			}},
			want: map[processor.TaskID]string{task(0, 0): "a", task(0, 1): "a", task(0, 2): "a", task(0, 3): "a"},
		},
		{
			name:      "previous tasks in the user data count as ownership",
			offsets:   map[string]map[processor.TaskID]int64{"a": {task(0, 0): 1000}},
			prevTasks: map[string][]processor.TaskID{"c": {task(0, 0)}},
			want:      map[processor.TaskID]string{task(0, 0): "c"},
		},
		{
			name:    "a previous owner keeps its task although another member has more state",
			offsets: map[string]map[processor.TaskID]int64{"a": {task(0, 0): 1}, "b": {task(0, 0): 1000}},
			owned:   map[string]map[string][]int32{"a": p0},
			want:    map[processor.TaskID]string{task(0, 0): "a"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var joins []kmsg.JoinGroupResponseMember
			var leader *rebalance.Balancer
			for _, id := range []string{"a", "b", "c"} {
				b := newBalancer(t, subs, tc.offsets[id], nil)
				if leader == nil {
					leader = b
				}
				gen := int32(-1)
				if tc.owned[id] != nil {
					gen = 1
				}
				metadata := b.JoinGroupMetadata(nil, tc.owned[id], gen)
				if prev, ok := tc.prevTasks[id]; ok {
					metadata = withUserData(t, metadata, rebalance.UserData{PrevTasks: prev})
				}
				joins = append(joins, member(id, metadata))
			}
			plan := balance(t, leader, joins, counts)
			tasks := make(map[string][]processor.TaskID)
			for id, assigned := range plan {
				tasks[id] = rebalance.TasksOf(assigned, subs)
			}
			checkBalanced(t, tasks, 12)
			for task, want := range tc.want {
				if !slices.Contains(tasks[want], task) {
					t.Errorf("task %v is not on %s: %v", task, want, tasks)
				}
			}
		})
	}
}

func TestTheSamePlanForTheSameMetadataWhoeverLeadsAndInAnyOrder(t *testing.T) {
	subs, counts := twelve()
	owned := map[string]map[string][]int32{
		"a": {"orders": {0, 1}, "payments": {0, 1}},
		"b": {"clicks": {0, 1, 2, 3, 4}},
		"c": {"orders": {2}, "payments": {2}, "clicks": {5}},
	}
	offsets := map[string]map[processor.TaskID]int64{
		"b": {task(0, 3): 7, task(0, 4): 7},
		"d": {task(0, 3): 7, task(0, 5): 1},
	}
	var joins []kmsg.JoinGroupResponseMember
	var balancers []*rebalance.Balancer
	for _, id := range []string{"a", "b", "c", "d"} {
		b := newBalancer(t, subs, offsets[id], nil)
		balancers = append(balancers, b)
		joins = append(joins, member(id, b.JoinGroupMetadata(nil, owned[id], 4)))
	}
	first := syncAssignments(t, balancers[0], joins, counts)
	for i := range 20 {
		shuffled := slices.Clone(joins)
		rng := rand.New(rand.NewPCG(1, uint64(i)))
		rng.Shuffle(len(shuffled), func(j, k int) { shuffled[j], shuffled[k] = shuffled[k], shuffled[j] })
		got := syncAssignments(t, balancers[i%len(balancers)], shuffled, counts)
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d gave a different plan:\n%v\nwant\n%v", i, got, first)
		}
	}
}

func syncAssignments(t *testing.T, leader *rebalance.Balancer, members []kmsg.JoinGroupResponseMember, counts map[string]int32) []kmsg.SyncGroupRequestGroupAssignment {
	t.Helper()
	mb, _, err := leader.MemberBalancer(slices.Clone(members))
	if err != nil {
		t.Fatalf("MemberBalancer: %v", err)
	}
	return mb.Balance(counts).IntoSyncAssignment()
}

func TestPartitionCountsDecideTheTasks(t *testing.T) {
	cases := []struct {
		name      string
		subs      map[int][]string
		counts    map[string]int32
		wantTasks []processor.TaskID
		wantLog   []string
	}{
		{
			name:      "a subtopology whose two topics have different partition counts gets the tasks of the smaller",
			subs:      map[int][]string{0: {"left", "right"}},
			counts:    map[string]int32{"left": 4, "right": 6},
			wantTasks: []processor.TaskID{task(0, 0), task(0, 1), task(0, 2), task(0, 3)},
			wantLog:   []string{"level=ERROR", "different partition counts", "topics=\"[left right]\"", "partitions=\"[4 6]\""},
		},
		{
			name:      "a subtopology with a topic missing from metadata has no tasks",
			subs:      map[int][]string{0: {"left"}, 1: {"right", "gone"}},
			counts:    map[string]int32{"left": 2, "right": 3},
			wantTasks: []processor.TaskID{task(0, 0), task(0, 1)},
			wantLog:   []string{"level=WARN", "missing from metadata", "topic=gone"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log logBuffer
			leader := newBalancer(t, tc.subs, nil, &log)
			other := newBalancer(t, tc.subs, nil, nil)
			plan := balance(t, leader, []kmsg.JoinGroupResponseMember{
				member("a", leader.JoinGroupMetadata(nil, nil, -1)),
				member("b", other.JoinGroupMetadata(nil, nil, -1)),
			}, tc.counts)
			var got []processor.TaskID
			for id, assigned := range plan {
				if !wholeTasks(assigned, tc.subs) {
					t.Errorf("%s got part of a task: %v", id, assigned)
				}
				got = append(got, rebalance.TasksOf(assigned, tc.subs)...)
			}
			slices.SortFunc(got, func(x, y processor.TaskID) int { return strings.Compare(x.String(), y.String()) })
			if !slices.Equal(got, tc.wantTasks) {
				t.Errorf("tasks %v, want %v", got, tc.wantTasks)
			}
			for _, want := range tc.wantLog {
				if !strings.Contains(log.String(), want) {
					t.Errorf("the log does not say %q:\n%s", want, log.String())
				}
			}
		})
	}
}

func TestUnreadableUserDataDoesNotFailTheRebalance(t *testing.T) {
	subs, counts := twelve()
	valid := newBalancer(t, subs, map[processor.TaskID]int64{task(0, 3): 9}, nil).JoinGroupMetadata(nil, nil, 1)
	var validMeta kmsg.ConsumerMemberMetadata
	if err := validMeta.ReadFrom(valid); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		userData []byte
	}{
		{"a member with no user data is balanced without state", nil},
		{"a member with random bytes as user data is balanced without state", []byte("not eddy's user data")},
		{"a member with truncated user data is balanced without state", validMeta.UserData[:len(validMeta.UserData)-1]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log logBuffer
			leader := newBalancer(t, subs, nil, &log)
			meta := kmsg.NewConsumerMemberMetadata()
			meta.Version = 3
			meta.Topics = []string{"clicks", "orders", "payments"}
			meta.OwnedPartitions = []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "clicks", Partitions: []int32{4}}}
			meta.Generation = 1
			meta.UserData = tc.userData
			plan := balance(t, leader, []kmsg.JoinGroupResponseMember{
				member("a", leader.JoinGroupMetadata(nil, nil, -1)),
				member("b", newBalancer(t, subs, nil, nil).JoinGroupMetadata(nil, nil, -1)),
				member("x", meta.AppendTo(nil)),
			}, counts)
			tasks := make(map[string][]processor.TaskID)
			for id, assigned := range plan {
				tasks[id] = rebalance.TasksOf(assigned, subs)
			}
			checkBalanced(t, tasks, 12)
			if !slices.Contains(tasks["x"], task(1, 4)) {
				t.Errorf("x lost the task its owned partitions name: %v", tasks["x"])
			}
			if !strings.Contains(log.String(), "unreadable user data") || !strings.Contains(log.String(), "member=x") {
				t.Errorf("the log does not name x's unreadable user data:\n%s", log.String())
			}
		})
	}
}

func TestMembersOnlyGetTasksOfTopicsTheySubscribeTo(t *testing.T) {
	subs, counts := twelve()
	leader := newBalancer(t, subs, nil, nil)
	clicksOnly := newBalancer(t, map[int][]string{1: {"clicks"}}, nil, nil)
	ordersOnly := newBalancer(t, map[int][]string{0: {"orders"}}, nil, nil)
	plan := balance(t, leader, []kmsg.JoinGroupResponseMember{
		member("a", leader.JoinGroupMetadata(nil, nil, -1)),
		member("b", clicksOnly.JoinGroupMetadata(nil, nil, -1)),
		member("c", ordersOnly.JoinGroupMetadata(nil, nil, -1)),
	}, counts)
	if len(plan["c"]) != 0 {
		t.Errorf("c subscribes to orders but not payments and got %v", plan["c"])
	}
	if _, ok := plan["b"]["orders"]; ok {
		t.Errorf("b subscribes to clicks only and got %v", plan["b"])
	}
	tasks := rebalance.TasksOf(plan["a"], subs)
	tasks = append(tasks, rebalance.TasksOf(plan["b"], subs)...)
	if len(tasks) != 12 || len(plan["b"]["clicks"]) == 0 {
		t.Errorf("a has %v and b %v; want all 12 tasks between them, some for b", plan["a"], plan["b"])
	}
}

func TestStickiness(t *testing.T) {
	type join struct {
		id         string
		owned      map[string][]int32
		generation int32
	}
	cases := []struct {
		name   string
		subs   map[int][]string
		counts map[string]int32
		joins  []join
		want   map[string][]processor.TaskID
	}{
		{
			// 7 tasks over 3 members: a keeps 3, b 2, c waits for 0_3 and 0_6.
			name:   "a member that owned more than its share keeps one more while the balance allows",
			subs:   map[int][]string{0: {"orders"}},
			counts: map[string]int32{"orders": 7},
			joins: []join{
				{"a", map[string][]int32{"orders": {0, 1, 2, 3}}, 3},
				{"b", map[string][]int32{"orders": {4, 5, 6}}, 3},
				{"c", nil, -1},
			},
			want: map[string][]processor.TaskID{"a": {task(0, 0), task(0, 1), task(0, 2)}, "b": {task(0, 4), task(0, 5)}},
		},
		{
			name:   "the claim of the highest generation keeps the task from a member that missed rebalances",
			subs:   map[int][]string{0: {"orders"}},
			counts: map[string]int32{"orders": 2},
			joins: []join{
				{"a", map[string][]int32{"orders": {0}}, 2},
				{"b", map[string][]int32{"orders": {0}}, 5},
			},
			want: map[string][]processor.TaskID{"a": {task(0, 1)}, "b": {task(0, 0)}},
		},
		{
			// kgo's per-partition adjustment alone would give b orders/0 and withhold
			// payments/0 from it: half a task.
			name:   "a task claimed in part at a later generation is withheld whole",
			subs:   map[int][]string{0: {"orders", "payments"}},
			counts: map[string]int32{"orders": 1, "payments": 1},
			joins: []join{
				{"a", map[string][]int32{"orders": {0}, "payments": {0}}, 5},
				{"b", map[string][]int32{"orders": {0}}, 6},
			},
			want: map[string][]processor.TaskID{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leader := newBalancer(t, tc.subs, nil, nil)
			var members []kmsg.JoinGroupResponseMember
			for _, j := range tc.joins {
				members = append(members, member(j.id, leader.JoinGroupMetadata(nil, j.owned, j.generation)))
			}
			for id, assigned := range balance(t, leader, members, tc.counts) {
				if !wholeTasks(assigned, tc.subs) {
					t.Errorf("%s got part of a task: %v", id, assigned)
				}
				if got := rebalance.TasksOf(assigned, tc.subs); !slices.Equal(got, tc.want[id]) {
					t.Errorf("%s got %v, want %v", id, got, tc.want[id])
				}
			}
		})
	}
}

func TestMemberBalancer(t *testing.T) {
	subs, _ := twelve()
	leader := newBalancer(t, subs, nil, nil)
	t.Run("it fails on metadata that is not consumer metadata", func(t *testing.T) {
		_, _, err := leader.MemberBalancer([]kmsg.JoinGroupResponseMember{member("a", []byte{0, 9, 1})})
		if err == nil || !strings.HasPrefix(err.Error(), "rebalance: ") {
			t.Errorf("err = %v, want a rebalance error", err)
		}
	})
	t.Run("it asks for every source topic and every topic a member subscribes to", func(t *testing.T) {
		other := newBalancer(t, map[int][]string{7: {"elsewhere"}}, nil, nil)
		_, topics, err := leader.MemberBalancer([]kmsg.JoinGroupResponseMember{member("a", other.JoinGroupMetadata(nil, nil, -1))})
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{"clicks", "elsewhere", "orders", "payments"} {
			if _, ok := topics[topic]; !ok {
				t.Errorf("topics %v lack %q", topics, topic)
			}
		}
	})
	t.Run("it is a cooperative kgo balancer", func(t *testing.T) {
		var gb kgo.GroupBalancer = leader
		if !gb.IsCooperative() || gb.ProtocolName() != rebalance.ProtocolName {
			t.Errorf("IsCooperative %v, ProtocolName %q", gb.IsCooperative(), gb.ProtocolName())
		}
	})
}

func TestOnlyTheTasksTheBalanceNeedsMove(t *testing.T) {
	cases := []struct {
		name      string
		before    []string
		after     []string
		wantMoved int
	}{
		{"growing from two members to five moves three tasks from each old member", []string{"a", "b"}, []string{"a", "b", "c", "d", "e"}, 6},
		{"shrinking from five members to four moves only the leaver's tasks", []string{"a", "b", "c", "d", "e"}, []string{"a", "b", "c", "e"}, 2},
		{"the same members again move nothing", []string{"a", "b", "c"}, []string{"a", "b", "c"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subs, counts := twelve()
			g := newGroup(t, subs, counts)
			for _, id := range tc.before {
				g.add(id, nil)
			}
			g.settle()
			owner := make(map[processor.TaskID]string)
			for id, tasks := range g.tasks() {
				for _, task := range tasks {
					owner[task] = id
				}
			}
			for _, id := range tc.before {
				if !slices.Contains(tc.after, id) {
					g.remove(id)
				}
			}
			for _, id := range tc.after {
				if !slices.Contains(tc.before, id) {
					g.add(id, nil)
				}
			}
			g.settle()
			after := g.tasks()
			checkBalanced(t, after, 12)
			moved := 0
			for id, tasks := range after {
				for _, task := range tasks {
					if owner[task] != id {
						moved++
					}
				}
			}
			if moved != tc.wantMoved {
				t.Errorf("%d tasks moved, want %d: from %v to %v", moved, tc.wantMoved, owner, after)
			}
		})
	}
}

// withUserData returns metadata with its user data replaced by d's encoding.
func withUserData(t *testing.T, metadata []byte, d rebalance.UserData) []byte {
	t.Helper()
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(metadata); err != nil {
		t.Fatalf("reading metadata: %v", err)
	}
	meta.UserData = rebalance.EncodeUserData(d)
	return meta.AppendTo(nil)
}

func TestOnJoinIsCalledAtEveryJoin(t *testing.T) {
	joins := 0
	b, err := rebalance.New(rebalance.Config{
		Subtopologies: map[int][]string{0: {"orders"}},
		OnJoin:        func() { joins++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	b.JoinGroupMetadata(nil, nil, -1)
	b.JoinGroupMetadata(nil, map[string][]int32{"orders": {0}}, 1)
	if joins != 2 {
		t.Errorf("OnJoin called %d times for 2 joins", joins)
	}
}
