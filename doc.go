// Package eddy runs stream processing topologies against Apache Kafka, in the style of
// Kafka Streams.
//
// An application builds a topology with package topology, hands it to New with its
// options, and calls Run. Each running App joins one consumer group named after the
// application id, processes the partitions assigned to it, keeps local state in Pebble
// stores backed by compacted changelog topics, and can give exactly-once results through
// Kafka transactions. Scaling out is starting another App with the same application id.
//
// The packages below eddy have one job each:
//
//   - serde: serializers and deserializers between Go values and bytes
//   - processor: the contract user code implements (records, processors, contexts)
//   - store: state store interfaces and their Pebble and in-memory engines
//   - changelog: logging of store writes to changelog topics, and restoration
//   - topology: the builder, both the Processor API graph and the typed DSL
//   - rebalance: the consumer group balancer that places tasks on instances
//
// serde, processor, topology and store never import the Kafka client, so code written
// against them can be tested without a broker.
package eddy
