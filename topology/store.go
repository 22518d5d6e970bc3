package topology

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/eddy-streams/eddy/store"
)

// storeEntry is a store as added: its definition and the names of the processors it is
// connected to, in the order they were connected.
type storeEntry struct {
	def        store.Definition
	processors []string
}

// serdesReporter is implemented by store definitions that can tell whether their serdes
// are set, as store.KeyValueDef does.
type serdesReporter interface {
	Serdes() (keys, values bool)
}

// AddStore adds the store def to the topology, if it is not there yet, and connects it
// to the named processors, which may then open it from their context. It may be called
// again with the same definition to connect more processors; adding a different
// definition under a name already used is an error. Processors that share a store run in
// the same subtopology, hence in the same tasks. Kafka Streams: Topology#addStateStore
// and Topology#connectProcessorAndStateStores.
//
// Two definitions are the same when they have the same Go type (and so the same key and
// value types), kind, logging and changelog configuration; serdes cannot be compared, and
// those of the first definition added are the ones used.
func AddStore(b *Builder, def store.Definition, processors ...string) {
	if b == nil {
		return
	}
	b.storeCalls++
	if isNil(def) {
		b.problemf("store #%d: definition is nil", b.storeCalls)
		return
	}
	name := def.Name()
	if name == "" {
		b.problemf("store #%d: empty name", b.storeCalls)
		return
	}
	e := b.storeByName[name]
	if e == nil {
		e = &storeEntry{def: def}
		if b.storeByName == nil {
			b.storeByName = make(map[string]*storeEntry)
		}
		b.storeByName[name] = e
		b.stores = append(b.stores, e)
		if s, ok := def.(serdesReporter); ok {
			keys, values := s.Serdes()
			if !keys {
				b.problemf("store %q: key serde is nil", name)
			}
			if !values {
				b.problemf("store %q: value serde is nil", name)
			}
		}
	} else if diff := definitionDiff(e.def, def); diff != "" && !b.duplicateStores[name] {
		b.problemf("store %q: added again with a different definition: %s", name, diff)
	}
	for _, p := range processors {
		if !slices.Contains(e.processors, p) {
			e.processors = append(e.processors, p)
		}
	}
}

// definitionDiff describes the first difference between two definitions of a store, or
// returns "" when they are the same.
func definitionDiff(a, b store.Definition) string {
	if ta, tb := reflect.TypeOf(a), reflect.TypeOf(b); ta != tb {
		return fmt.Sprintf("%s, then %s", ta, tb)
	}
	if a.Kind() != b.Kind() {
		return fmt.Sprintf("kind %s, then %s", a.Kind(), b.Kind())
	}
	if a.Logged() != b.Logged() {
		return fmt.Sprintf("logged %t, then %t", a.Logged(), b.Logged())
	}
	if a.CacheBytes() != b.CacheBytes() {
		return fmt.Sprintf("cache of %d bytes, then %d", a.CacheBytes(), b.CacheBytes())
	}
	if ca, cb := a.ChangelogConfig(), b.ChangelogConfig(); !maps.Equal(ca, cb) {
		return fmt.Sprintf("changelog config %v, then %v", ca, cb)
	}
	return ""
}

// isNil reports whether def is nil or a nil pointer, map, slice or func, whose methods
// would likely panic.
func isNil(def store.Definition) bool {
	if def == nil {
		return true
	}
	switch v := reflect.ValueOf(def); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return v.IsNil()
	}
	return false
}
