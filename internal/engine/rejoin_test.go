package engine

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRejoinBackoffDoublesFrom100msUpTo1sWithJitterAndResets(t *testing.T) {
	var b rejoinBackoff
	for i, base := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		base *= time.Millisecond
		got := b.next()
		if low, high := base*8/10, base*12/10; got < low || got > high {
			t.Errorf("wait %d is %s, want within [%s, %s]", i+1, got, low, high)
		}
	}
	b.reset()
	if got := b.next(); got > 120*time.Millisecond {
		t.Errorf("the first wait after a reset is %s, want about 100ms", got)
	}
}

// TestOutOfGroupTellsAMemberPutOutOfItsGroupFromOneStillIn: a member that is in the
// group is told so; once the coordinator has removed it (here by a LeaveGroup sent for
// it, as a session timeout would), its heartbeat as the member it believes it is says
// that it is out, while the client still holds the rebalance back.
func TestOutOfGroupTellsAMemberPutOutOfItsGroupFromOneStillIn(t *testing.T) {
	const group, topic = "g", "in"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	assigned := make(chan struct{}, 1)
	member, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { assigned <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer member.CloseAllowingRebalance()
	poll, cancelPoll := context.WithCancel(ctx)
	go func() {
		<-assigned
		cancelPoll()
	}()
	member.PollFetches(poll) // returns once assigned, and holds rebalances back from here
	if outOfGroup(ctx, member, group) {
		t.Fatal("outOfGroup says a member of the group is out of it")
	}

	id, _ := member.GroupMetadata()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	leaving := kmsg.NewLeaveGroupRequestMember()
	leaving.MemberID = id
	req.Members = append(req.Members, leaving)
	other, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := req.RequestWith(ctx, other); err != nil {
		t.Fatal(err)
	}
	if !outOfGroup(ctx, member, group) {
		t.Error("outOfGroup says a member the coordinator removed is still in the group")
	}
}
