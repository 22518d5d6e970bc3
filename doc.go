// Package eddy runs stream processing topologies against Apache Kafka, in the style of
// Kafka Streams.
//
// An application builds a topology with package topology, hands it to New with its
// options, and calls Run. Each running App joins one consumer group named after the
// application id, processes the partitions assigned to it, keeps local state in Pebble
// stores backed by compacted changelog topics, and can give exactly-once results through
// Kafka transactions. Scaling out is starting another App with the same application id.
//
// Running as a service: an App reports its State (Status, OnStateChange) and serves
// liveness and readiness probes (LivenessHandler, ReadinessHandler); it waits out a
// cluster that does not answer for OutageTimeout; error handlers decide, record by
// record, whether to fail or continue past a record it cannot deserialize, process or
// produce (OnDeserializationError, OnProcessingError, OnProductionError), and
// DeadLetterTopic keeps the records continued past.
//
// The packages below eddy have one job each:
//
//   - serde: serializers and deserializers between Go values and bytes
//   - processor: the contract user code implements (records, processors, contexts), the
//     errors users inspect and the error handlers
//   - store: state store interfaces and their Pebble and in-memory engines
//   - topology: the builder, both the Processor API graph and the typed DSL
//   - eddytest: a test driver that runs a topology in memory, without a broker
//   - cmd/eddy: the operator's command (reset an application, read a stopped
//     instance's state)
//
// The module github.com/eddy-streams/eddy/embedded runs a broker inside the process, to
// run an application without a cluster. The engine is under internal/.
//
// serde, processor, topology and store never import the Kafka client, so code written
// against them can be tested without a broker.
package eddy
