// Package rebalance is the consumer group balancer that places tasks, not raw partitions,
// on the members of an application's group: copartitioned partitions stay together, a task
// goes back to the member that holds its state, load is balanced by task count, and tasks
// that do not move keep processing during a rebalance (cooperative protocol).
package rebalance
