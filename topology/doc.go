// Package topology builds processor topologies: the Processor API graph (sources,
// processors, sinks, state stores) and the typed DSL over it (streams, tables,
// aggregations, windows, joins).
//
// The builder collects wiring errors and returns all of them from Build, naming the
// nodes involved; it never panics. A built topology knows its subtopologies and
// copartition groups, and Describe renders it as text.
//
// DSL functions are named for the Kafka Streams operation, followed by a qualifier only
// when the operation exists for more than one kind of input: Table (a table or grouped
// table), Windowed (time windows, or a stream-stream join over JoinWindows), Session,
// Cogrouped, FK (foreign-key join) or Global (join with a global table). So Count counts
// a grouped stream, CountTable a grouped table, CountWindowed and CountSession windows;
// Join joins a stream with a table, JoinTable two tables, JoinWindowed two streams. Left
// and Outer prefix the whole name (LeftJoinWindowed). Handles are made by StreamFrom,
// TableFrom and GlobalTableFrom.
//
// topology never imports the Kafka client.
package topology
