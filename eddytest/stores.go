package eddytest

import (
	"fmt"
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
	def, kv, err := d.dslStore(name)
	if err != nil {
		return nil, err
	}
	typed, ok := def.(store.KeyValueDef[K, topology.ValueAndTimestamp[V]])
	if !ok {
		return nil, wrongStore(name, def, "TableStore", typed)
	}
	return typed.Wrap(kv), nil
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
	def, kv, err := d.dslStore(name)
	if err != nil {
		return nil, err
	}
	typed, ok := def.(store.WindowDef[K, topology.ValueAndTimestamp[V]])
	if !ok {
		return nil, wrongStore(name, def, "WindowStore", typed)
	}
	return typed.Wrap(kv), nil
}

// SessionStore returns the store of a session-windowed aggregation of the DSL
// (CountSession, ReduceSession, AggregateSession), as the topology's processors see it:
// keys and aggregates decoded with the store's serdes, with each session's start and
// end (the timestamps of its first and last record). As in Kafka Streams, session
// stores keep no other timestamp. K is the grouped stream's key type and V the
// aggregate's type. Kafka Streams: TopologyTestDriver#getSessionStore. See WindowStore
// for expiry, and TableStore for writes and for the stores of the Processor API.
func SessionStore[K, V any](d *Driver, name string) (store.Sessions[K, V], error) {
	def, kv, err := d.dslStore(name)
	if err != nil {
		return nil, err
	}
	typed, ok := def.(store.SessionDef[K, V])
	if !ok {
		return nil, wrongStore(name, def, "SessionStore", typed)
	}
	return typed.Wrap(kv), nil
}

// dslStore returns the definition of the store name and the store, as KeyValueStore
// returns it.
func (d *Driver) dslStore(name string) (store.Definition, store.KeyValueStore, error) {
	def, ok := d.storeDef(name)
	if !ok {
		return nil, nil, d.noStore(name)
	}
	kv, err := d.KeyValueStore(name)
	if err != nil {
		return nil, nil, err
	}
	return def, kv, nil
}

// storeDef returns the definition of the store name, a global store included.
func (d *Driver) storeDef(name string) (store.Definition, bool) {
	for _, sub := range d.topo.Subtopologies {
		for _, st := range sub.Stores {
			if st.Def.Name() == name {
				return st.Def, true
			}
		}
	}
	for _, g := range d.topo.GlobalStores {
		if g.Def.Name() == name {
			return g.Def, true
		}
	}
	return nil, false
}

// noStore is the error of a store the topology does not have, which names those it has.
func (d *Driver) noStore(name string) error {
	var names []string
	for _, sub := range d.topo.Subtopologies {
		for _, st := range sub.Stores {
			names = append(names, st.Def.Name())
		}
	}
	for _, g := range d.topo.GlobalStores {
		names = append(names, g.Def.Name())
	}
	slices.Sort(names)
	return fmt.Errorf("eddytest: no store %q in the topology (its stores: %q)", name, slices.Compact(names))
}

// wrongStore is the error of a reader whose types are not those of the store.
func wrongStore(name string, def store.Definition, reader string, want any) error {
	return fmt.Errorf("eddytest: %s of store %q: the store is a %s store defined as %T, not %T", reader, name, def.Kind(), def, want)
}
