package rebalance

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/processor"
)

// memberBalancer balances one generation of the group: the kgo.GroupMemberBalancer that
// Balancer.MemberBalancer returns. It builds on kgo.ConsumerBalancer for reading the
// members' metadata and for the plan, but does not return it, because its Balance method
// is not meant to be called (kgo calls BalanceOrError).
type memberBalancer struct {
	b  *Balancer
	cb *kgo.ConsumerBalancer
}

// consumerBalance is the kgo.ConsumerBalancerBalance of the ConsumerBalancer, so that its
// BalanceOrError balances like memberBalancer.Balance.
type consumerBalance struct{ mb *memberBalancer }

func (c consumerBalance) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	return c.mb.balance(cb, topics)
}

// Balance assigns the tasks that topics' partition counts make (see the package
// documentation for the rules) and returns a *kgo.BalancePlan of their partitions. The
// plan lists every member, some with nothing.
func (mb *memberBalancer) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	return mb.balance(mb.cb, topics)
}

func (mb *memberBalancer) balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	b := mb.b
	tasks := b.tasksFor(topics)
	candidates, joins := b.candidates(cb)
	target, orphans := place(tasks, candidates)
	if len(orphans) > 0 {
		b.log.Warn("no member subscribes to every source topic of these tasks; they stay unassigned", "tasks", orphans)
	}

	plan := cb.NewPlan()
	for _, c := range candidates {
		for _, id := range target[c.id] {
			for _, topic := range b.subtopologies[id.Subtopology] {
				plan.AddPartition(joins[c.id], topic, id.Partition)
			}
		}
	}
	// Withhold what another member still owns; see the package documentation.
	plan.AdjustCooperative(cb)
	pending := b.keepWholeTasks(plan, target)

	for _, c := range candidates {
		// tasks is where the member ends up; it gets waiting in a later rebalance, once
		// their current owners have revoked them.
		b.log.Info("placed tasks", "member", c.id, "tasks", target[c.id], "waiting", pending[c.id])
	}
	return plan
}

// candidates reads each member's metadata. It returns the members sorted by id, and the
// member of each id. Unreadable user data is logged; the member is then balanced on its
// owned partitions only.
func (b *Balancer) candidates(cb *kgo.ConsumerBalancer) ([]*candidate, map[string]*kmsg.JoinGroupResponseMember) {
	var out []*candidate
	joins := make(map[string]*kmsg.JoinGroupResponseMember)
	cb.EachMember(func(member *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		c := &candidate{
			id:         member.MemberID,
			generation: meta.Generation,
			subs:       make(map[int]bool),
			claims:     make(map[processor.TaskID]bool),
		}
		for _, sub := range b.subIDs {
			subscribed := true
			for _, topic := range b.subtopologies[sub] {
				subscribed = subscribed && slices.Contains(meta.Topics, topic)
			}
			if subscribed {
				c.subs[sub] = true
			}
		}
		for _, owned := range meta.OwnedPartitions {
			if sub, ok := b.topicSub[owned.Topic]; ok {
				for _, p := range owned.Partitions {
					c.claims[processor.TaskID{Subtopology: sub, Partition: p}] = true
				}
			}
		}
		data, err := DecodeUserData(meta.UserData)
		if err != nil {
			b.log.Warn("member sent unreadable user data; balancing it without previous tasks or local state",
				"member", member.MemberID, "err", err)
		}
		for _, id := range data.PrevTasks {
			c.claims[id] = true
		}
		c.offsets = data.TaskOffsets
		b.log.Debug("group member", "member", member.MemberID, "generation", meta.Generation,
			"topics", meta.Topics, "prev_tasks", data.PrevTasks, "task_offsets", len(data.TaskOffsets))
		out = append(out, c)
		joins[member.MemberID] = member
	})
	slices.SortFunc(out, func(x, y *candidate) int { return cmp.Compare(x.id, y.id) })
	return out, joins
}

// keepWholeTasks removes from plan every task that the cooperative adjustment left only
// partly assigned, and returns, per member, the tasks of target that plan does not give
// it in this generation.
func (b *Balancer) keepWholeTasks(plan *kgo.BalancePlan, target map[string][]processor.TaskID) map[string][]processor.TaskID {
	type partition struct {
		topic string
		p     int32
	}
	pending := make(map[string][]processor.TaskID)
	members := plan.AsMemberIDMap()
	for id, tasks := range target {
		has := make(map[partition]bool)
		for topic, ps := range members[id] {
			for _, p := range ps {
				has[partition{topic, p}] = true
			}
		}
		kept := make(map[string][]int32)
		for _, task := range tasks {
			topics := b.subtopologies[task.Subtopology]
			if !slices.ContainsFunc(topics, func(t string) bool { return !has[partition{t, task.Partition}] }) {
				for _, topic := range topics {
					kept[topic] = append(kept[topic], task.Partition)
				}
			} else {
				pending[id] = append(pending[id], task)
			}
		}
		members[id] = kept
	}
	return pending
}
