// Package store holds the state store interfaces (key-value, window, session), the
// typed handles that processors use over serdes, the Pebble and in-memory engines, and
// the conformance suite that every engine passes.
//
// store never imports the Kafka client: logging store writes to a changelog topic is the
// job of package changelog, which wraps a store.
package store
