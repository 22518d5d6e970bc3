// Package rebalance is the consumer group balancer that places tasks, not raw partitions,
// on the members of an application's group: copartitioned partitions stay together, a task
// goes back to the member that holds its state, load is balanced by task count, and tasks
// that do not move keep processing during a rebalance (cooperative protocol).
//
// Balancer implements kgo.GroupBalancer under the protocol name ProtocolName. Kafka
// Streams does the same job in StreamsPartitionAssignor, with task placement by
// HighAvailabilityTaskAssignor; this package has no standby or warm-up tasks and no
// probing rebalances yet.
//
// # Placement
//
// The group leader balances with its own Config. Task (s, p) exists for every partition p
// that all source topics of subtopology s have; it owns partition p of each of them, and
// a member may take it only if it subscribes to all of them. The placement, in order:
//
//  1. Every task goes to exactly one member, with all its partitions.
//  2. Every member gets floor(T/M) or ceil(T/M) of the T tasks, M counting the members
//     that may take some task. When members subscribe to different topics this is best
//     effort: a task that only full members may take goes to the least loaded of them.
//  3. A task stays with its previous owner as far as 2 allows. The previous owner is the
//     member whose owned partitions include one of the task's, or whose user data lists it
//     among its previous tasks; among several, the one of the highest generation, then the
//     smallest member ID. A member owning too many keeps its smallest task IDs.
//  4. Other tasks go to the member reporting the largest offset sum for them (largest
//     first over all tasks), then to the least-loaded member, the smallest member ID on a
//     tie. The same metadata always gives the same plan.
//
// # Cooperative movement
//
// A task that moves from member A to member B is not given to B in the rebalance that
// moves it: B would start processing while A still does. The plan leaves it unassigned;
// A's client sees the task's partitions gone from its assignment, revokes them (the
// engine commits and closes the task), and rejoins, which starts a second rebalance in
// which A no longer owns the task and B gets it. Tasks that stay put are never revoked.
//
// The withholding is franz-go's (*kgo.BalancePlan).AdjustCooperative, checked in v1.22.2:
// per partition it computes what the plan adds to each member (planned minus owned) and
// what it takes from each (owned minus planned), and drops from a member's plan every
// partition that is both added to it and taken from another member. An owned-partitions
// claim beaten by another member's claim of a strictly higher generation does not count
// as owned (KIP-792), so a member that missed rebalances and is planned the task back
// waits for the current owner's revocation too. The second join is kgo's: a cooperative
// member that lost partitions at a sync revokes them and rejoins (groupConsumer.revoke,
// "after revoking what we lost from a rebalance"). Because all partitions of a task move
// together, per-partition withholding withholds whole tasks; the one exception, claims of
// one task's partitions at different generations, is closed by removing any task the
// adjustment left partly assigned.
//
// # User data
//
// Each member's JoinGroup metadata is a standard kmsg.ConsumerMemberMetadata, so brokers
// and tools read it like any consumer's; its UserData holds the member's previous tasks
// and local state (UserData, EncodeUserData). A member whose user data cannot be read is
// balanced as one without state: the rebalance does not fail.
package rebalance
