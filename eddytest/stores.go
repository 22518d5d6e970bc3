package eddytest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// TableStore returns the store of a table or an aggregation of the DSL (TableFrom,
// GlobalTableFrom, Count, Reduce, Aggregate, the stores of table operators), named as
// the operator's name argument names it, as the topology's processors see it: keys and
// values decoded with the store's own serdes, each value with the timestamp of the
// record that set it. K and V are the table's key and value types; other types are an
// error that names the store's. Kafka Streams: TopologyTestDriver#getTimestampedKeyValueStore.
//
// The handle has the rules of KeyValueStore: a cached store writes its cache back before
// each call, and a write through the handle changes the store without logging it to the
// changelog. A store of the Processor API holds what its definition says: read it
// with KeyValueStore and the definition's Wrap.
func TableStore[K, V any](d *Driver, name string) (store.KV[K, topology.ValueAndTimestamp[V]], error) {
	return typedStore(d, name, "TableStore", store.KeyValueDef[K, topology.ValueAndTimestamp[V]].Wrap)
}

// WindowStore returns the store of a windowed aggregation of the DSL (CountWindowed,
// ReduceWindowed, AggregateWindowed, with time or sliding windows), as the topology's
// processors see it: keys and aggregates decoded with the store's serdes, each aggregate
// with the timestamp of its last update, and each window's start and end
// (store.WindowedIterator's Start and End). K is the grouped stream's key type (not
// topology.Windowed[K]) and V the aggregate's type. Windows the processors expired are
// hidden, as of the call: take the store again after piping more records. Kafka
// Streams: TopologyTestDriver#getTimestampedWindowStore. See TableStore for writes and
// for the stores of the Processor API.
func WindowStore[K, V any](d *Driver, name string) (store.Windows[K, topology.ValueAndTimestamp[V]], error) {
	return typedStore(d, name, "WindowStore", store.WindowDef[K, topology.ValueAndTimestamp[V]].Wrap)
}

// SessionStore returns the store of a session-windowed aggregation of the DSL
// (CountSession, ReduceSession, AggregateSession), as the topology's processors see it:
// keys and aggregates decoded with the store's serdes, with each session's start and
// end (the timestamps of its first and last record). As in Kafka Streams, session
// stores keep no other timestamp. K is the grouped stream's key type and V the
// aggregate's type. Kafka Streams: TopologyTestDriver#getSessionStore. See WindowStore
// for expiry, and TableStore for writes and for the stores of the Processor API.
func SessionStore[K, V any](d *Driver, name string) (store.Sessions[K, V], error) {
	return typedStore(d, name, "SessionStore", store.SessionDef[K, V].Wrap)
}

// typedStore returns the handle wrap makes of the store name, whose definition must be
// a Def; reader names the caller in the error.
func typedStore[Def store.Definition, Handle any](d *Driver, name, reader string, wrap func(Def, store.KeyValueStore) Handle) (Handle, error) {
	var none Handle
	def, kv, err := d.dslStore(name)
	if err != nil {
		return none, err
	}
	typed, ok := def.(Def)
	if !ok {
		return none, wrongStore(name, def, reader, typed)
	}
	return wrap(typed, kv), nil
}

// dslStore returns the definition of the store name and the store, as KeyValueStore
// returns it.
func (d *Driver) dslStore(name string) (store.Definition, store.KeyValueStore, error) {
	def, ok := d.storeDefs()[name]
	if !ok {
		return nil, nil, d.noStore(name)
	}
	kv, err := d.KeyValueStore(name)
	if err != nil {
		return nil, nil, err
	}
	return def, kv, nil
}

// storeDefs returns the definitions of the topology's stores, global stores included,
// by name.
func (d *Driver) storeDefs() map[string]store.Definition {
	defs := map[string]store.Definition{}
	for _, sub := range d.topo.Subtopologies {
		for _, st := range sub.Stores {
			defs[st.Def.Name()] = st.Def
		}
	}
	for _, g := range d.topo.GlobalStores {
		defs[g.Def.Name()] = g.Def
	}
	return defs
}

// noStore is the error of a store the topology does not have, which names those it has.
func (d *Driver) noStore(name string) error {
	return fmt.Errorf("eddytest: no store %q in the topology (its stores: %q)", name, slices.Sorted(maps.Keys(d.storeDefs())))
}

// wrongStore is the error of a reader whose types are not those of the store.
func wrongStore(name string, def store.Definition, reader string, want any) error {
	return fmt.Errorf("eddytest: %s of store %q: the store is a %s store defined as %T, not %T", reader, name, def.Kind(), def, want)
}
