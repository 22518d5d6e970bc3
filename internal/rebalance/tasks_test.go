package rebalance_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/processor"
)

func TestTasksOf(t *testing.T) {
	subs, _ := twelve()
	cases := []struct {
		name     string
		assigned map[string][]int32
		want     []processor.TaskID
	}{
		{"nothing assigned is no task", nil, nil},
		{"a task needs the partition of every topic of its subtopology",
			map[string][]int32{"orders": {0, 1}, "payments": {1}}, []processor.TaskID{task(0, 1)}},
		{"tasks come sorted by subtopology then partition",
			map[string][]int32{"clicks": {5, 0}, "orders": {3, 2}, "payments": {2, 3}},
			[]processor.TaskID{task(0, 2), task(0, 3), task(1, 0), task(1, 5)}},
		{"topics of no subtopology are ignored",
			map[string][]int32{"elsewhere": {0}, "clicks": {1}}, []processor.TaskID{task(1, 1)}},
		{"a partition listed twice is one task", map[string][]int32{"clicks": {2, 2}}, []processor.TaskID{task(1, 2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rebalance.TasksOf(tc.assigned, subs); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRejectsBadConfigs(t *testing.T) {
	cases := []struct {
		name string
		subs map[int][]string
		want string
	}{
		{"no subtopologies", nil, "no subtopologies"},
		{"a subtopology without topics", map[int][]string{0: {"a"}, 1: {}}, "subtopology 1 has no source topics"},
		{"an empty topic name", map[int][]string{0: {""}}, "empty topic name"},
		{"a topic in two subtopologies", map[int][]string{0: {"a", "b"}, 3: {"b"}}, `topic "b" is a source of subtopologies 0 and 3`},
		{"a topic twice in one subtopology", map[int][]string{0: {"a", "a"}}, `lists topic "a" twice`},
		{"a negative subtopology id", map[int][]string{-1: {"a"}}, "negative id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := rebalance.New(rebalance.Config{Subtopologies: tc.subs})
			if err == nil {
				t.Fatalf("New returned %v, want an error", b)
			}
			if !strings.HasPrefix(err.Error(), "rebalance: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestJoinGroupMetadataIsStandardConsumerMetadata(t *testing.T) {
	subs, _ := twelve()
	offsets := map[processor.TaskID]int64{task(0, 1): 10, task(1, 4): 3}
	b := newBalancer(t, subs, offsets, nil)
	assigned := map[string][]int32{"orders": {3, 1}, "payments": {1, 3}, "clicks": {2}}

	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(b.JoinGroupMetadata([]string{"ignored"}, assigned, 7)); err != nil {
		t.Fatalf("reading the metadata: %v", err)
	}
	if want := []string{"clicks", "orders", "payments"}; !slices.Equal(meta.Topics, want) {
		t.Errorf("topics %v, want every source topic %v", meta.Topics, want)
	}
	if meta.Generation != 7 {
		t.Errorf("generation %d, want 7", meta.Generation)
	}
	want := []kmsg.ConsumerMemberMetadataOwnedPartition{
		{Topic: "clicks", Partitions: []int32{2}},
		{Topic: "orders", Partitions: []int32{1, 3}},
		{Topic: "payments", Partitions: []int32{1, 3}},
	}
	if !reflect.DeepEqual(meta.OwnedPartitions, want) {
		t.Errorf("owned partitions %+v, want %+v", meta.OwnedPartitions, want)
	}
	data, err := rebalance.DecodeUserData(meta.UserData)
	if err != nil {
		t.Fatalf("DecodeUserData: %v", err)
	}
	wantData := rebalance.UserData{PrevTasks: []processor.TaskID{task(0, 1), task(0, 3), task(1, 2)}, TaskOffsets: offsets}
	if !reflect.DeepEqual(data, wantData) {
		t.Errorf("user data %+v, want %+v", data, wantData)
	}
}

func TestParseSyncAssignment(t *testing.T) {
	b := newBalancer(t, map[int][]string{0: {"a"}}, nil, nil)
	a := kmsg.NewConsumerMemberAssignment()
	a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "a", Partitions: []int32{0, 2}}}
	got, err := b.ParseSyncAssignment(a.AppendTo(nil))
	if err != nil || !reflect.DeepEqual(got, map[string][]int32{"a": {0, 2}}) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := b.ParseSyncAssignment([]byte{0, 0, 0, 0, 0, 9}); err == nil || !strings.HasPrefix(err.Error(), "rebalance: ") {
		t.Errorf("garbage: err = %v, want a rebalance error", err)
	}
}
