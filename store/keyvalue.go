package store

import (
	"fmt"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// Kind is the shape of a store.
type Kind int

const (
	KindKeyValue Kind = iota + 1
	// KindWindow is a window store (WindowDef): a KeyValueStore laid out by NewWindowStore.
	KindWindow
	// KindSession is a session store (SessionDef): a KeyValueStore laid out by
	// NewSessionStore.
	KindSession
)

func (k Kind) String() string {
	switch k {
	case KindKeyValue:
		return "key-value"
	case KindWindow:
		return "window"
	case KindSession:
		return "session"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Definition describes a store to the topology builder and the engine, whatever its
// types. KeyValueDef, WindowDef and SessionDef implement it. The engine opens every
// store as a KeyValueStore (TaskDB.KeyValue), whatever its kind: window and session
// stores are layers over one.
type Definition interface {
	// Name is the store's name, unique within a topology. It names the changelog topic
	// too: <application.id>-<name>-changelog.
	Name() string
	Kind() Kind
	// Logged reports whether writes go to a changelog topic. Default true.
	Logged() bool
	// ChangelogConfig is the topic configuration of the changelog, over the defaults
	// (cleanup.policy=compact; a policy that includes compact, as window stores'
	// compact,delete, is kept).
	ChangelogConfig() map[string]string
	// CacheBytes is the bound of the store's write-back cache in each task (see
	// WithCaching); 0, the default, is no cache.
	CacheBytes() int64
}

// Option configures a store definition.
type Option func(*options)

type options struct {
	logged          bool
	changelogConfig map[string]string
	cacheBytes      int64
}

// WithoutLogging keeps the store's writes out of any changelog: its state is lost with
// its task's local directory. Kafka Streams: StoreBuilder#withLoggingDisabled.
func WithoutLogging() Option { return func(o *options) { o.logged = false } }

// WithCaching puts a write-back cache of at most maxBytes in front of the store in each
// task: reads of cached keys and writes stay in memory until the engine
// flushes them, before every commit, so that a key written many times between two
// commits costs one store write and one changelog record. Stores read by key gain; stores
// read by ranges do not (a range flushes the cache first). Default: no cache; the DSL
// caches its table and aggregation stores unless the topology is built
// WithoutRecordCache. maxBytes below 1 is no cache. Kafka Streams:
// StoreBuilder#withCachingEnabled, sized by statestore.cache.max.bytes for all the
// caches of an instance together.
func WithCaching(maxBytes int64) Option { return func(o *options) { o.cacheBytes = max(0, maxBytes) } }

// WithChangelogConfig sets topic configurations of the store's changelog topic, such as
// min.compaction.lag.ms. Kafka Streams: StoreBuilder#withLoggingEnabled(config).
func WithChangelogConfig(config map[string]string) Option {
	return func(o *options) {
		for k, v := range config {
			o.changelogConfig[k] = v
		}
	}
}

// KeyValueDef names a key-value store and the serdes of its keys and values. Declare it
// once, connect it to processors in the topology, and take a typed handle in a
// processor's Init with From (see the example of KeyValue).
type KeyValueDef[K, V any] struct {
	name   string
	keys   serde.Serde[K]
	values serde.Serde[V]
	opts   options
}

// KeyValue defines a key-value store.
func KeyValue[K, V any](name string, keys serde.Serde[K], values serde.Serde[V], opts ...Option) KeyValueDef[K, V] {
	o := options{logged: true, changelogConfig: map[string]string{}}
	for _, opt := range opts {
		opt(&o)
	}
	return KeyValueDef[K, V]{name: name, keys: keys, values: values, opts: o}
}

func (d KeyValueDef[K, V]) Name() string      { return d.name }
func (d KeyValueDef[K, V]) Kind() Kind        { return KindKeyValue }
func (d KeyValueDef[K, V]) Logged() bool      { return d.opts.logged }
func (d KeyValueDef[K, V]) CacheBytes() int64 { return d.opts.cacheBytes }

// ChangelogConfig returns a copy of the changelog topic configuration set with options.
func (d KeyValueDef[K, V]) ChangelogConfig() map[string]string {
	out := make(map[string]string, len(d.opts.changelogConfig))
	for k, v := range d.opts.changelogConfig {
		out[k] = v
	}
	return out
}

// Serdes reports whether both serdes are set, for the topology builder's checks.
func (d KeyValueDef[K, V]) Serdes() (keys, values bool) { return d.keys != nil, d.values != nil }

// From returns the typed handle of the store in the processor whose context ctx is. When
// the store is not connected to that processor, every call of the handle fails with an
// error that says so.
func (d KeyValueDef[K, V]) From(ctx processor.InitContext) KV[K, V] {
	s, err := ctx.StateStore(d.name)
	if err != nil {
		return failedKV[K, V]{err: err}
	}
	kv, ok := s.(KeyValueStore)
	if !ok {
		return failedKV[K, V]{err: fmt.Errorf("store: %q is a %T, not a key-value store", d.name, s)}
	}
	return d.Wrap(kv)
}

// Wrap returns the typed handle of a byte store, for the engine and the test driver.
func (d KeyValueDef[K, V]) Wrap(s KeyValueStore) KV[K, V] {
	t := &typedKV[K, V]{s: s, keys: d.keys, values: d.values}
	t.lender, _ = s.(lender)
	return t
}

// lender is a store that lends the values it holds and keeps the values written to it,
// sparing the typed handles a copy each way: the engine's cache (internal/cache). A lent
// value is valid until the store's next call; a kept value must not be used by the
// caller again.
type lender interface {
	GetShared(key []byte) ([]byte, bool, error)
	PutOwned(key, value []byte) error
}

// KV is the typed handle of a key-value store. It has the concurrency rules of the
// KeyValueStore under it: one task, one goroutine.
type KV[K, V any] interface {
	// Get returns the value of key and whether it is present.
	Get(key K) (V, bool, error)
	Put(key K, value V) error
	// PutIfAbsent sets the value of key if it has none, and returns the value it had.
	PutIfAbsent(key K, value V) (V, bool, error)
	Delete(key K) error
	// Range iterates over keys from from to to, both included, in the order of their
	// serialized bytes: for serde.String that is byte-wise string order; for serde.Int64
	// it is numeric order for non-negative numbers only.
	Range(from, to K) (KVIterator[K, V], error)
	// PrefixScan iterates over the keys whose serialized form starts with that of prefix.
	PrefixScan(prefix K) (KVIterator[K, V], error)
	All() (KVIterator[K, V], error)
	ApproximateNumEntries() (int64, error)
}

// KVIterator walks a typed store in key order; see Iterator for the rules. A key or value
// that cannot be deserialized ends the iteration with the error in Err.
type KVIterator[K, V any] interface {
	Next() bool
	Key() K
	Value() V
	Err() error
	Close() error
}

type typedKV[K, V any] struct {
	s      KeyValueStore
	keys   serde.Serde[K]
	values serde.Serde[V]
	// lender is s when it lends and keeps values, else nil.
	lender lender
}

func (t *typedKV[K, V]) key(k K) ([]byte, error) {
	b, err := t.keys.Serialize(t.s.Name(), k)
	if err != nil {
		return nil, fmt.Errorf("store %s: serializing key: %w", t.s.Name(), err)
	}
	return b, nil
}

func (t *typedKV[K, V]) value(b []byte) (V, error) {
	v, err := t.values.Deserialize(t.s.Name(), b)
	if err != nil {
		return v, fmt.Errorf("store %s: deserializing value: %w", t.s.Name(), err)
	}
	return v, nil
}

func (t *typedKV[K, V]) Get(key K) (V, bool, error) {
	var zero V
	k, err := t.key(key)
	if err != nil {
		return zero, false, err
	}
	get := t.s.Get
	if t.lender != nil {
		get = t.lender.GetShared // the serde does not keep what it deserializes
	}
	b, found, err := get(k)
	if err != nil || !found {
		return zero, false, err
	}
	v, err := t.value(b)
	return v, err == nil, err
}

func (t *typedKV[K, V]) Put(key K, value V) error {
	k, err := t.key(key)
	if err != nil {
		return err
	}
	v, err := t.values.Serialize(t.s.Name(), value)
	if err != nil {
		return fmt.Errorf("store %s: serializing value: %w", t.s.Name(), err)
	}
	if v == nil {
		v = []byte{}
	}
	if t.lender != nil {
		return t.lender.PutOwned(k, v) // what Serialize returns belongs to the caller
	}
	return t.s.Put(k, v)
}

func (t *typedKV[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	var zero V
	k, err := t.key(key)
	if err != nil {
		return zero, false, err
	}
	v, err := t.values.Serialize(t.s.Name(), value)
	if err != nil {
		return zero, false, fmt.Errorf("store %s: serializing value: %w", t.s.Name(), err)
	}
	if v == nil {
		v = []byte{}
	}
	old, found, err := t.s.PutIfAbsent(k, v)
	if err != nil || !found {
		return zero, false, err
	}
	prev, err := t.value(old)
	return prev, err == nil, err
}

func (t *typedKV[K, V]) Delete(key K) error {
	k, err := t.key(key)
	if err != nil {
		return err
	}
	return t.s.Delete(k)
}

func (t *typedKV[K, V]) Range(from, to K) (KVIterator[K, V], error) {
	f, err := t.key(from)
	if err != nil {
		return nil, err
	}
	l, err := t.key(to)
	if err != nil {
		return nil, err
	}
	return t.iter(t.s.Range(f, l))
}

func (t *typedKV[K, V]) PrefixScan(prefix K) (KVIterator[K, V], error) {
	p, err := t.key(prefix)
	if err != nil {
		return nil, err
	}
	return t.iter(t.s.PrefixScan(p))
}

func (t *typedKV[K, V]) All() (KVIterator[K, V], error) { return t.iter(t.s.All()) }

func (t *typedKV[K, V]) ApproximateNumEntries() (int64, error) { return t.s.ApproximateNumEntries() }

func (t *typedKV[K, V]) iter(it Iterator, err error) (KVIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return &typedIterator[K, V]{it: it, kv: t}, nil
}

type typedIterator[K, V any] struct {
	it    Iterator
	kv    *typedKV[K, V]
	key   K
	value V
	err   error
}

func (i *typedIterator[K, V]) Next() bool {
	if i.err != nil || !i.it.Next() {
		return false
	}
	name := i.kv.s.Name()
	if i.key, i.err = i.kv.keys.Deserialize(name, i.it.Key()); i.err != nil {
		i.err = fmt.Errorf("store %s: deserializing key: %w", name, i.err)
		return false
	}
	if i.value, i.err = i.kv.value(i.it.Value()); i.err != nil {
		return false
	}
	return true
}

func (i *typedIterator[K, V]) Key() K       { return i.key }
func (i *typedIterator[K, V]) Value() V     { return i.value }
func (i *typedIterator[K, V]) Close() error { return i.it.Close() }

func (i *typedIterator[K, V]) Err() error {
	if i.err != nil {
		return i.err
	}
	return i.it.Err()
}

// failedKV is the handle of a store that could not be found: every call returns err.
type failedKV[K, V any] struct{ err error }

func (f failedKV[K, V]) Get(K) (V, bool, error) {
	var v V
	return v, false, f.err
}
func (f failedKV[K, V]) Put(K, V) error { return f.err }
func (f failedKV[K, V]) PutIfAbsent(K, V) (V, bool, error) {
	var v V
	return v, false, f.err
}
func (f failedKV[K, V]) Delete(K) error                         { return f.err }
func (f failedKV[K, V]) Range(K, K) (KVIterator[K, V], error)   { return nil, f.err }
func (f failedKV[K, V]) PrefixScan(K) (KVIterator[K, V], error) { return nil, f.err }
func (f failedKV[K, V]) All() (KVIterator[K, V], error)         { return nil, f.err }
func (f failedKV[K, V]) ApproximateNumEntries() (int64, error)  { return 0, f.err }
