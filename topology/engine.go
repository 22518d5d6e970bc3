package topology

// OffsetReset says where a source starts reading a partition that has no committed
// offset. Kafka Streams: Topology.AutoOffsetReset / auto.offset.reset.
type OffsetReset int

const (
	// Earliest reads from the oldest retained record (the default, as in Kafka Streams).
	Earliest OffsetReset = iota
	// Latest reads only records produced after the application started.
	Latest
)
