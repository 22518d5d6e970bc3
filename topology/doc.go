// Package topology builds processor topologies: the Processor API graph (sources,
// processors, sinks, state stores) and the typed DSL over it (streams, tables,
// aggregations, windows, joins).
//
// The builder collects wiring errors and returns all of them from Build, naming the
// nodes involved; it never panics. A built topology knows its subtopologies and
// copartition groups, and Describe renders it as text.
//
// topology never imports the Kafka client.
package topology
