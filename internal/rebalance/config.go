package rebalance

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/eddy-streams/eddy/processor"
)

// Config configures a Balancer. Every member of a group must use the same Subtopologies:
// the leader balances with its own, and a member whose Subtopologies differ reads its
// assignment with different tasks in mind.
type Config struct {
	// Subtopologies maps each subtopology ID to its source topics, which must be
	// copartitioned: task (s, p) owns partition p of every topic of subtopology s.
	// Required; IDs are not negative, each list is non-empty, and a topic belongs to
	// one subtopology only. Kafka Streams: the copartition groups of
	// InternalTopologyBuilder.
	Subtopologies map[int][]string

	// TaskOffsets reports, at every join, the tasks this member has local state for and
	// how much: the sum of the changelog offsets its local stores reflect. The leader
	// prefers the member with the largest sum when it places a task that has no previous
	// owner. It is called on the client's group-management goroutine while the engine
	// may be processing, so it must be safe for that, and quick: the join waits for it.
	// The balancer reads the returned map right after the call and keeps no reference;
	// nothing may modify it meanwhile (a fresh map is simplest). Nil means no local state. Kafka Streams: taskOffsetSums of
	// SubscriptionInfo.
	TaskOffsets func() map[processor.TaskID]int64

	// OnJoin, when set, is called each time the member joins or rejoins its group, on the
	// client's group goroutine, before the join request goes out: the group is
	// rebalancing from then until the member's next assignment. It must be quick.
	OnJoin func()

	// Logger receives what the balancer decides and what it finds wrong in the group
	// (partition count mismatches, unreadable user data). Nil discards.
	Logger *slog.Logger
}

// validate returns the first problem of c, in subtopology order.
func (c *Config) validate() error {
	if len(c.Subtopologies) == 0 {
		return fmt.Errorf("rebalance: no subtopologies")
	}
	owner := make(map[string]int)
	for _, sub := range slices.Sorted(maps.Keys(c.Subtopologies)) {
		topics := c.Subtopologies[sub]
		if sub < 0 {
			return fmt.Errorf("rebalance: subtopology %d: negative id", sub)
		}
		if len(topics) == 0 {
			return fmt.Errorf("rebalance: subtopology %d has no source topics", sub)
		}
		for _, topic := range topics {
			if topic == "" {
				return fmt.Errorf("rebalance: subtopology %d has an empty topic name", sub)
			}
			if other, ok := owner[topic]; ok {
				if other == sub {
					return fmt.Errorf("rebalance: subtopology %d lists topic %q twice", sub, topic)
				}
				return fmt.Errorf("rebalance: topic %q is a source of subtopologies %d and %d; a topic belongs to one subtopology", topic, other, sub)
			}
			owner[topic] = sub
		}
	}
	return nil
}
