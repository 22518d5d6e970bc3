package store

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// SessionDef names a session store, the serdes of its keys and values and its
// retention. Declare it once, connect it to processors in the topology, and take a typed
// handle in a processor's Init with From, as with KeyValueDef.
type SessionDef[K, V any] struct {
	name      string
	keys      serde.Serde[K]
	values    serde.Serde[V]
	retention time.Duration
	opts      sessionOptions
	err       error
}

// Session defines a session store that keeps sessions for retention after their end
// (for a session-windowed aggregation, at least the inactivity gap plus the grace
// period). Kafka Streams: Stores.persistentSessionStore.
func Session[K, V any](name string, keys serde.Serde[K], values serde.Serde[V], retention time.Duration, opts ...SessionOption) SessionDef[K, V] {
	o := sessionOptions{options: options{logged: true, changelogConfig: map[string]string{}}}
	for _, opt := range opts {
		if opt != nil {
			opt.applySession(&o)
		}
	}
	d := SessionDef[K, V]{name: name, keys: keys, values: values, retention: retention, opts: o}
	if _, _, err := resolveSegments(retention, o.segmentInterval); err != nil {
		d.err = fmt.Errorf("store: session store %q: %w", name, err)
	}
	return d
}

func (d SessionDef[K, V]) Name() string      { return d.name }
func (d SessionDef[K, V]) Kind() Kind        { return KindSession }
func (d SessionDef[K, V]) Logged() bool      { return d.opts.logged }
func (d SessionDef[K, V]) CacheBytes() int64 { return d.opts.cacheBytes }

// ChangelogConfig returns the changelog topic configuration: that of WindowDef.
func (d SessionDef[K, V]) ChangelogConfig() map[string]string {
	return changelogConfig(d.retention, d.opts.changelogConfig)
}

// Serdes reports whether both serdes are set, for the topology builder's checks.
func (d SessionDef[K, V]) Serdes() (keys, values bool) { return d.keys != nil, d.values != nil }

// Retention is how long sessions are kept after their end.
func (d SessionDef[K, V]) Retention() time.Duration { return d.retention }

// Validate returns the reason the definition is invalid, or nil. Every call of the
// handles of an invalid definition fails with it (wrapping ErrInvalidConfig).
func (d SessionDef[K, V]) Validate() error { return d.err }

func (d SessionDef[K, V]) config() SessionConfig {
	return SessionConfig{Retention: d.retention, SegmentInterval: d.opts.segmentInterval}
}

// From returns the typed handle of the store in the processor whose context ctx is. When
// the store is not connected to that processor, or is not a session store, every call of
// the handle fails with an error that says so. In a task, the handles of every processor
// are over the task's one layer of the store (see Layer): they see one observed stream
// time.
func (d SessionDef[K, V]) From(ctx processor.InitContext) Sessions[K, V] {
	s, err := ctx.StateStore(d.name)
	if err != nil {
		return failedSessions[K, V]{err: err}
	}
	switch s := s.(type) {
	case SessionStore:
		return d.wrap(s)
	case KeyValueStore:
		return d.Wrap(s)
	}
	return failedSessions[K, V]{err: fmt.Errorf("store: %q is a %T, not a session store", d.name, s)}
}

// Wrap returns the typed handle of a session store kept in s, for the engine and the
// test driver. A KeyValueStore that holds another kind of store fails on use
// (ErrCorruptKey).
func (d SessionDef[K, V]) Wrap(s KeyValueStore) Sessions[K, V] {
	if d.err != nil {
		return failedSessions[K, V]{err: d.err}
	}
	ss, err := NewSessionStore(s, d.config())
	if err != nil {
		return failedSessions[K, V]{err: err}
	}
	return d.wrap(ss)
}

func (d SessionDef[K, V]) wrap(s SessionStore) Sessions[K, V] {
	if d.err != nil {
		return failedSessions[K, V]{err: d.err}
	}
	return &typedSessions[K, V]{s: s, c: codec[K, V]{name: s.Name(), keys: d.keys, values: d.values}}
}

// Sessions is the typed handle of a session store. Times are kept in milliseconds, as
// for Windows. It has the concurrency rules of the store under it: one task, one
// goroutine. Kafka Streams: SessionStore.
type Sessions[K, V any] interface {
	// Put stores value for the session of key from start to end (both included). A
	// session in an expired segment (see WindowStore) is dropped.
	Put(key K, start, end time.Time, value V) error
	// Remove removes the session of key from start to end.
	Remove(key K, start, end time.Time) error
	// FetchSession returns the value of the session of key from start to end.
	FetchSession(key K, start, end time.Time) (V, bool, error)
	// FindSessions iterates over the sessions of key that end at or after earliestEnd
	// and start at or before latestStart, by end then start. For a session-windowed
	// aggregation of a record at t with gap g: FindSessions(key, t-g, t+g) gives the
	// sessions to merge.
	FindSessions(key K, earliestEnd, latestStart time.Time) (WindowedIterator[K, V], error)
	// Fetch iterates over every session of key, by end then start.
	Fetch(key K) (WindowedIterator[K, V], error)
	// All iterates over every session within retention, in the order of
	// SessionStore.All.
	All() (WindowedIterator[K, V], error)
}

type typedSessions[K, V any] struct {
	s SessionStore
	c codec[K, V]
}

func (t *typedSessions[K, V]) Put(key K, start, end time.Time, value V) error {
	k, ms, err := t.c.keyAt(key, start, end)
	if err != nil {
		return err
	}
	v, err := t.c.encodeValue(value)
	if err != nil {
		return err
	}
	return t.s.Put(k, ms[0], ms[1], v)
}

func (t *typedSessions[K, V]) Remove(key K, start, end time.Time) error {
	k, ms, err := t.c.keyAt(key, start, end)
	if err != nil {
		return err
	}
	return t.s.Remove(k, ms[0], ms[1])
}

func (t *typedSessions[K, V]) FetchSession(key K, start, end time.Time) (V, bool, error) {
	k, ms, err := t.c.keyAt(key, start, end)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return t.c.get(t.s.FetchSession(k, ms[0], ms[1]))
}

func (t *typedSessions[K, V]) FindSessions(key K, earliestEnd, latestStart time.Time) (WindowedIterator[K, V], error) {
	k, ms, err := t.c.keyAt(key, earliestEnd, latestStart)
	if err != nil {
		return nil, err
	}
	return t.iter(t.s.FindSessions(k, ms[0], ms[1]))
}

func (t *typedSessions[K, V]) Fetch(key K) (WindowedIterator[K, V], error) {
	k, err := t.c.key(key)
	if err != nil {
		return nil, err
	}
	return t.iter(t.s.Fetch(k))
}

func (t *typedSessions[K, V]) All() (WindowedIterator[K, V], error) { return t.iter(t.s.All()) }

func (t *typedSessions[K, V]) iter(it SessionIterator, err error) (WindowedIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return &typedWindowedIter[K, V]{it: it, c: t.c, times: func() (int64, int64) { return it.Start(), it.End() }}, nil
}

// failedSessions is the handle of a session store that could not be found or is
// misconfigured: every call returns err.
type failedSessions[K, V any] struct{ err error }

func (f failedSessions[K, V]) Put(K, time.Time, time.Time, V) error { return f.err }
func (f failedSessions[K, V]) Remove(K, time.Time, time.Time) error { return f.err }
func (f failedSessions[K, V]) FetchSession(K, time.Time, time.Time) (V, bool, error) {
	var v V
	return v, false, f.err
}
func (f failedSessions[K, V]) FindSessions(K, time.Time, time.Time) (WindowedIterator[K, V], error) {
	return nil, f.err
}
func (f failedSessions[K, V]) Fetch(K) (WindowedIterator[K, V], error) { return nil, f.err }
func (f failedSessions[K, V]) All() (WindowedIterator[K, V], error)    { return nil, f.err }
