package rebalance

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/processor"
)

// ProtocolName is the name under which members of an Eddy group announce the Balancer in
// JoinGroup. The broker only lets members that share a protocol name into one group, so
// the name changes only with a change of assignment rules that old and new members cannot
// share; changes of the user data go through UserDataVersion instead. Kafka Streams'
// equivalent is "stream".
const ProtocolName = "eddy-tasks-v1"

// Balancer is a kgo.GroupBalancer that assigns tasks instead of partitions: every
// partition of a task goes to the same member, tasks stay with their previous owner when
// balance allows, a task without an owner goes to the member with the most local state
// for it, and every member gets the same number of tasks give or take one. It is
// cooperative (KIP-429): a task changes member in two rebalances, so that tasks which do
// not move keep processing. Pass it to kgo.Balancers as the only balancer. Kafka Streams:
// StreamsPartitionAssignor, with task placement in the spirit of its
// HighAvailabilityTaskAssignor (no standby or warm-up tasks yet).
//
// A Balancer does not change after New, so one may serve several clients and its methods
// may be called concurrently; kgo calls them from its group-management goroutine.
type Balancer struct {
	subtopologies map[int][]string // each list sorted
	subIDs        []int            // sorted
	topicSub      map[string]int   // topic -> its subtopology
	topics        []string         // every source topic, sorted
	taskOffsets   func() map[processor.TaskID]int64
	onJoin        func()
	log           *slog.Logger
}

var _ kgo.GroupBalancer = (*Balancer)(nil)

// New returns a Balancer for cfg, or an error saying what is wrong with cfg.
func New(cfg Config) (*Balancer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Balancer{
		subtopologies: make(map[int][]string, len(cfg.Subtopologies)),
		topicSub:      make(map[string]int),
		taskOffsets:   cfg.TaskOffsets,
		onJoin:        cfg.OnJoin,
		log:           cfg.Logger,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	for sub, topics := range cfg.Subtopologies {
		b.subtopologies[sub] = slices.Sorted(slices.Values(topics))
		for _, topic := range topics {
			b.topicSub[topic] = sub
		}
	}
	b.subIDs = slices.Sorted(maps.Keys(b.subtopologies))
	b.topics = slices.Sorted(maps.Keys(b.topicSub))
	return b, nil
}

// ProtocolName returns ProtocolName.
func (*Balancer) ProtocolName() string { return ProtocolName }

// IsCooperative returns true: members keep the tasks they are not losing through a
// rebalance.
func (*Balancer) IsCooperative() bool { return true }

// JoinGroupMetadata returns a kmsg.ConsumerMemberMetadata (version 3) subscribing to every
// source topic of the Config, whatever topicInterests says (the client must consume the
// same topics), owning currentAssignment, at generation. Its UserData is EncodeUserData of
// the tasks currentAssignment holds and of Config.TaskOffsets, called here. Since the
// offsets change between joins, so does the metadata, as in Kafka Streams. Config.OnJoin
// is called first.
func (b *Balancer) JoinGroupMetadata(_ []string, currentAssignment map[string][]int32, generation int32) []byte {
	if b.onJoin != nil {
		b.onJoin()
	}
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = slices.Clone(b.topics)
	meta.Generation = generation
	for _, topic := range slices.Sorted(maps.Keys(currentAssignment)) {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = topic
		owned.Partitions = slices.Sorted(slices.Values(currentAssignment[topic]))
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	data := UserData{PrevTasks: TasksOf(currentAssignment, b.subtopologies)}
	if b.taskOffsets != nil {
		data.TaskOffsets = b.taskOffsets()
	}
	meta.UserData = EncodeUserData(data)
	return meta.AppendTo(nil)
}

// ParseSyncAssignment decodes the kmsg.ConsumerMemberAssignment the leader sent this
// member into topic -> partitions. TasksOf turns the result into tasks.
func (*Balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	a.Default()
	if err := a.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("rebalance: reading the sync assignment: %w", err)
	}
	m := make(map[string][]int32, len(a.Topics))
	for _, t := range a.Topics {
		m[t.Topic] = append(m[t.Topic], t.Partitions...)
	}
	return m, nil
}

// MemberBalancer reads every member's kmsg.ConsumerMemberMetadata and returns the
// balancer of this generation, with the topics whose partition counts it needs: every
// topic a member subscribes to and every source topic of the Config. It fails only when a
// member's metadata is not a ConsumerMemberMetadata; unreadable user data is logged and
// the member balanced as one without previous tasks or local state.
func (b *Balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	mb := &memberBalancer{b: b}
	cb, err := kgo.NewConsumerBalancer(consumerBalance{mb}, members)
	if err != nil {
		return nil, nil, fmt.Errorf("rebalance: %w", err)
	}
	mb.cb = cb
	topics := maps.Clone(cb.MemberTopics())
	if topics == nil {
		topics = make(map[string]struct{}, len(b.topics))
	}
	for _, topic := range b.topics {
		topics[topic] = struct{}{}
	}
	return mb, topics, nil
}
