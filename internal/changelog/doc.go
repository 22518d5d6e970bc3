// Package changelog makes state stores durable in Kafka: a decorator sends every store
// write and delete to the store's compacted changelog topic
// (<application.id>-<store>-changelog, on the task's partition), checkpoints record the
// changelog offset that local state reflects, and restoration replays a changelog from
// that offset into the store before its task processes anything.
package changelog
