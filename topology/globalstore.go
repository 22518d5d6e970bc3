package topology

import (
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/store"
)

// AddGlobalStore adds a global store to the topology: a key-value store that every
// instance of the application keeps whole, filled from every partition of topic. The
// engine reads topic into the store before any task starts and keeps the store up to
// date while the application runs; the topic is the store's changelog, so def must not
// be logged (store.WithoutLogging). No source may read topic. source names the reader of
// topic in descriptions and errors. Processors read the store once connected to it with
// ConnectGlobalStore, through their context like their own stores; they must not write
// to it (what they write is lost when the store is refilled from its topic). Kafka
// Streams: Topology#addGlobalStore.
//
// apply writes one record of topic to the store s: key and value are the record's bytes,
// value nil for a tombstone; neither may be kept after apply returns. It is called from
// the engine's goroutine, but must be safe for concurrent use (instances in one process
// share it). An error that wraps a *processor.DeserializationError, or a panic, is a record
// that cannot be read: the application's deserialization handler decides whether to
// skip it (eddy.OnDeserializationError); any other error fails. A nil apply stores the
// bytes as they are, deleting the key on a tombstone
// and skipping records without a key, as a GlobalKTable does: the store's serdes must
// then be the topic's.
func AddGlobalStore(b *Builder, def store.Definition, source, topic string, apply func(s store.KeyValueStore, key, value []byte, timestamp time.Time) error) {
	if b == nil {
		return
	}
	if isNil(def) {
		b.problemf("global store of topic %q: definition is nil", topic)
		return
	}
	if def.Name() == "" {
		b.problemf("global store of topic %q: empty name", topic)
		return
	}
	if source == "" {
		b.problemf("global store %q: empty source name", def.Name())
	}
	if topic == "" {
		b.problemf("global store %q: empty topic name", def.Name())
	}
	if apply == nil {
		apply = copyRecord
	}
	b.addGlobalStore(plan.GlobalStore{Def: def, Source: source, Topic: topic, Apply: apply})
}

// ConnectGlobalStore lets the named processors read the global store named storeName
// (see AddGlobalStore): their context's StateStore, and so the typed handles of package
// store, return it. The processors must have been added to b before; Build reports a
// store that AddGlobalStore never added. Kafka Streams: a global store is readable by
// every processor; Eddy asks for the connection so that Describe and the checks know
// who reads what.
func ConnectGlobalStore(b *Builder, storeName string, processors ...string) {
	if b == nil {
		return
	}
	for _, p := range processors {
		b.connectGlobal(storeName, p)
	}
}

// copyRecord is the default apply of a global store: the record's bytes as they are.
func copyRecord(s store.KeyValueStore, key, value []byte, _ time.Time) error {
	switch {
	case key == nil:
		return nil
	case value == nil:
		return s.Delete(key)
	default:
		return s.Put(key, value)
	}
}
