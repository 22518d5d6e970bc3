package store

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// ChangelogAdditionalRetention is added to the retention of a window or session store
// to make the retention.ms of its changelog topic. Kafka Streams:
// windowstore.changelog.additional.retention.ms, whose default it is.
const ChangelogAdditionalRetention = 24 * time.Hour

// WindowOption configures a window store definition: every Option, RetainDuplicates and
// WithSegmentInterval.
type WindowOption interface{ applyWindow(*windowOptions) }

// SessionOption configures a session store definition: every Option and
// WithSegmentInterval.
type SessionOption interface{ applySession(*sessionOptions) }

type windowOptions struct {
	options
	segmentInterval time.Duration
	dups            bool
}

type sessionOptions struct {
	options
	segmentInterval time.Duration
}

func (o Option) applyWindow(w *windowOptions) {
	if o != nil {
		o(&w.options)
	}
}

func (o Option) applySession(s *sessionOptions) {
	if o != nil {
		o(&s.options)
	}
}

// SegmentOption is an option of window and session store definitions.
type SegmentOption struct{ interval time.Duration }

func (o SegmentOption) applyWindow(w *windowOptions)   { w.segmentInterval = o.interval }
func (o SegmentOption) applySession(s *sessionOptions) { s.segmentInterval = o.interval }

// WithSegmentInterval sets the segment interval of a window or session store. Default
// DefaultSegmentInterval(retention). See WindowConfig.SegmentInterval.
func WithSegmentInterval(d time.Duration) SegmentOption { return SegmentOption{interval: d} }

type windowOnlyOption func(*windowOptions)

func (o windowOnlyOption) applyWindow(w *windowOptions) { o(w) }

// RetainDuplicates makes a window store keep every value put for a key and window start,
// in the order they were put. Kafka Streams: the retainDuplicates of
// Stores.persistentWindowStore, used by stream-stream joins.
func RetainDuplicates() WindowOption {
	return windowOnlyOption(func(w *windowOptions) { w.dups = true })
}

// changelogConfig is the changelog configuration of window and session stores: compacted
// and deleted after retention + ChangelogAdditionalRetention, under the user's.
func changelogConfig(retention time.Duration, user map[string]string) map[string]string {
	// Durations are int64 nanoseconds: their milliseconds plus a day never overflow.
	ms := retention.Milliseconds() + ChangelogAdditionalRetention.Milliseconds()
	out := map[string]string{"cleanup.policy": "compact,delete", "retention.ms": strconv.FormatInt(ms, 10)}
	for k, v := range user {
		out[k] = v
	}
	return out
}

// WindowDef names a window store, the serdes of its keys and values, its retention and
// window size. Declare it once, connect it to processors in the topology, and take a
// typed handle in a processor's Init with From, as with KeyValueDef.
type WindowDef[K, V any] struct {
	name      string
	keys      serde.Serde[K]
	values    serde.Serde[V]
	retention time.Duration
	size      time.Duration
	opts      windowOptions
	err       error
}

// Window defines a window store that keeps windows of windowSize for retention after
// their start (retention >= windowSize; for a windowed aggregation, at least the window
// size plus its grace period). Kafka Streams: Stores.persistentWindowStore.
func Window[K, V any](name string, keys serde.Serde[K], values serde.Serde[V], retention, windowSize time.Duration, opts ...WindowOption) WindowDef[K, V] {
	o := windowOptions{options: options{logged: true, changelogConfig: map[string]string{}}}
	for _, opt := range opts {
		if opt != nil {
			opt.applyWindow(&o)
		}
	}
	d := WindowDef[K, V]{name: name, keys: keys, values: values, retention: retention, size: windowSize, opts: o}
	if _, _, err := resolveSegments(retention, o.segmentInterval); err != nil {
		d.err = fmt.Errorf("store: window store %q: %w", name, err)
	} else if windowSize < time.Millisecond {
		d.err = fmt.Errorf("store: window store %q: %w: window size %v is less than a millisecond", name, ErrInvalidConfig, windowSize)
	} else if windowSize > retention {
		d.err = fmt.Errorf("store: window store %q: %w: window size %v is longer than the retention %v", name, ErrInvalidConfig, windowSize, retention)
	}
	return d
}

func (d WindowDef[K, V]) Name() string      { return d.name }
func (d WindowDef[K, V]) Kind() Kind        { return KindWindow }
func (d WindowDef[K, V]) Logged() bool      { return d.opts.logged }
func (d WindowDef[K, V]) CacheBytes() int64 { return d.opts.cacheBytes }

// ChangelogConfig returns the changelog topic configuration: cleanup.policy=compact,delete
// and retention.ms = retention + ChangelogAdditionalRetention, as in Kafka Streams, under
// what WithChangelogConfig set.
func (d WindowDef[K, V]) ChangelogConfig() map[string]string {
	return changelogConfig(d.retention, d.opts.changelogConfig)
}

// Serdes reports whether both serdes are set, for the topology builder's checks.
func (d WindowDef[K, V]) Serdes() (keys, values bool) { return d.keys != nil, d.values != nil }

// Retention is how long windows are kept after their start.
func (d WindowDef[K, V]) Retention() time.Duration { return d.retention }

// WindowSize is the size of the windows: End of an iterator is Start + WindowSize.
func (d WindowDef[K, V]) WindowSize() time.Duration { return d.size }

// Validate returns the reason the definition is invalid, or nil. Every call of the
// handles of an invalid definition fails with it (wrapping ErrInvalidConfig).
func (d WindowDef[K, V]) Validate() error { return d.err }

func (d WindowDef[K, V]) config() WindowConfig {
	return WindowConfig{Retention: d.retention, SegmentInterval: d.opts.segmentInterval, RetainDuplicates: d.opts.dups}
}

// From returns the typed handle of the store in the processor whose context ctx is. When
// the store is not connected to that processor, or is not a window store, every call of
// the handle fails with an error that says so. In a task, the handles of every processor
// are over the task's one layer of the store (see Layer): they see one observed stream
// time.
func (d WindowDef[K, V]) From(ctx processor.InitContext) Windows[K, V] {
	s, err := ctx.StateStore(d.name)
	if err != nil {
		return failedWindows[K, V]{err: err}
	}
	switch s := s.(type) {
	case WindowStore:
		return d.wrap(s)
	case KeyValueStore:
		return d.Wrap(s)
	}
	return failedWindows[K, V]{err: fmt.Errorf("store: %q is a %T, not a window store", d.name, s)}
}

// Wrap returns the typed handle of a window store kept in s, for the engine and the test
// driver. A KeyValueStore that holds another kind of store fails on use (ErrCorruptKey).
func (d WindowDef[K, V]) Wrap(s KeyValueStore) Windows[K, V] {
	if d.err != nil {
		return failedWindows[K, V]{err: d.err}
	}
	ws, err := NewWindowStore(s, d.config())
	if err != nil {
		return failedWindows[K, V]{err: err}
	}
	return d.wrap(ws)
}

func (d WindowDef[K, V]) wrap(s WindowStore) Windows[K, V] {
	if d.err != nil {
		return failedWindows[K, V]{err: d.err}
	}
	return &typedWindows[K, V]{s: s, c: codec[K, V]{name: s.Name(), keys: d.keys, values: d.values}, size: d.size.Milliseconds()}
}

// Windows is the typed handle of a window store. Times are kept in milliseconds: a
// time.Time is truncated to the millisecond at or before it (time.Time.UnixMilli), and
// times returned are in UTC. A time outside the int64 milliseconds since the Unix epoch
// (about 292 million years either way) is an error. It has the concurrency rules of the
// store under it: one task, one goroutine. Kafka Streams: WindowStore.
type Windows[K, V any] interface {
	// Put stores value for the window of key starting at windowStart. A window in an
	// expired segment (see WindowStore) is dropped.
	Put(key K, windowStart time.Time, value V) error
	// Delete removes the window of key starting at windowStart (all its duplicates).
	Delete(key K, windowStart time.Time) error
	// Fetch returns the value of the window of key starting at windowStart.
	Fetch(key K, windowStart time.Time) (V, bool, error)
	// FetchRange iterates over the windows of key that start in [from, to], by start.
	FetchRange(key K, from, to time.Time) (WindowedIterator[K, V], error)
	// FetchAll iterates over the windows of every key that start in [from, to], in the
	// order of WindowStore.FetchAll.
	FetchAll(from, to time.Time) (WindowedIterator[K, V], error)
	// All iterates over every window within retention.
	All() (WindowedIterator[K, V], error)
}

// WindowedIterator walks the windows of a window store or the sessions of a session
// store; see Iterator for the rules. A key or value that cannot be deserialized ends the
// iteration with the error in Err. Kafka Streams: KeyValueIterator<Windowed<K>, V>.
type WindowedIterator[K, V any] interface {
	Next() bool
	Key() K
	// Start is the window start, or the session start.
	Start() time.Time
	// End is the window start + window size (excluded from the window, as Kafka
	// Streams' TimeWindow), or the session end (included).
	End() time.Time
	Value() V
	Err() error
	Close() error
}

var (
	minTime = time.UnixMilli(math.MinInt64)
	maxTime = time.UnixMilli(math.MaxInt64).Add(time.Millisecond - 1)
)

// toMillis converts a time to milliseconds since the Unix epoch, rounding down.
func toMillis(name string, t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("store %s: time %v is outside the range of int64 milliseconds", name, t)
	}
	return t.UnixMilli(), nil
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// codec turns typed keys and values into bytes and back.
type codec[K, V any] struct {
	name   string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

func (c codec[K, V]) key(k K) ([]byte, error) {
	b, err := c.keys.Serialize(c.name, k)
	if err != nil {
		return nil, fmt.Errorf("store %s: serializing key: %w", c.name, err)
	}
	return b, nil
}

func (c codec[K, V]) encodeValue(v V) ([]byte, error) {
	b, err := c.values.Serialize(c.name, v)
	if err != nil {
		return nil, fmt.Errorf("store %s: serializing value: %w", c.name, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func (c codec[K, V]) value(b []byte) (V, error) {
	v, err := c.values.Deserialize(c.name, b)
	if err != nil {
		return v, fmt.Errorf("store %s: deserializing value: %w", c.name, err)
	}
	return v, nil
}

// keyAt serializes a key and converts times, the arguments of most calls.
func (c codec[K, V]) keyAt(k K, times ...time.Time) ([]byte, []int64, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, nil, err
	}
	ms := make([]int64, len(times))
	for i, t := range times {
		if ms[i], err = toMillis(c.name, t); err != nil {
			return nil, nil, err
		}
	}
	return b, ms, nil
}

// get deserializes what a point read returned.
func (c codec[K, V]) get(b []byte, found bool, err error) (V, bool, error) {
	var zero V
	if err != nil || !found {
		return zero, false, err
	}
	v, err := c.value(b)
	return v, err == nil, err
}

type typedWindows[K, V any] struct {
	s    WindowStore
	c    codec[K, V]
	size int64
}

func (t *typedWindows[K, V]) Put(key K, windowStart time.Time, value V) error {
	k, ms, err := t.c.keyAt(key, windowStart)
	if err != nil {
		return err
	}
	v, err := t.c.encodeValue(value)
	if err != nil {
		return err
	}
	return t.s.Put(k, ms[0], v)
}

func (t *typedWindows[K, V]) Delete(key K, windowStart time.Time) error {
	k, ms, err := t.c.keyAt(key, windowStart)
	if err != nil {
		return err
	}
	return t.s.Delete(k, ms[0])
}

func (t *typedWindows[K, V]) Fetch(key K, windowStart time.Time) (V, bool, error) {
	k, ms, err := t.c.keyAt(key, windowStart)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return t.c.get(t.s.Fetch(k, ms[0]))
}

func (t *typedWindows[K, V]) FetchRange(key K, from, to time.Time) (WindowedIterator[K, V], error) {
	k, ms, err := t.c.keyAt(key, from, to)
	if err != nil {
		return nil, err
	}
	return t.iter(t.s.FetchRange(k, ms[0], ms[1]))
}

func (t *typedWindows[K, V]) FetchAll(from, to time.Time) (WindowedIterator[K, V], error) {
	f, err := toMillis(t.c.name, from)
	if err != nil {
		return nil, err
	}
	l, err := toMillis(t.c.name, to)
	if err != nil {
		return nil, err
	}
	return t.iter(t.s.FetchAll(f, l))
}

func (t *typedWindows[K, V]) All() (WindowedIterator[K, V], error) { return t.iter(t.s.All()) }

func (t *typedWindows[K, V]) iter(it WindowIterator, err error) (WindowedIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return &typedWindowedIter[K, V]{it: it, c: t.c, times: func() (int64, int64) {
		start := it.WindowStart()
		if start > math.MaxInt64-t.size {
			return start, math.MaxInt64
		}
		return start, start + t.size
	}}, nil
}

// byteIter is what WindowIterator and SessionIterator share.
type byteIter interface {
	Next() bool
	Key() []byte
	Value() []byte
	Err() error
	Close() error
}

type typedWindowedIter[K, V any] struct {
	it         byteIter
	c          codec[K, V]
	times      func() (start, end int64)
	key        K
	value      V
	start, end time.Time
	err        error
}

func (i *typedWindowedIter[K, V]) Next() bool {
	if i.err != nil || !i.it.Next() {
		return false
	}
	if i.key, i.err = i.c.keys.Deserialize(i.c.name, i.it.Key()); i.err != nil {
		i.err = fmt.Errorf("store %s: deserializing key: %w", i.c.name, i.err)
		return false
	}
	if i.value, i.err = i.c.value(i.it.Value()); i.err != nil {
		return false
	}
	s, e := i.times()
	i.start, i.end = fromMillis(s), fromMillis(e)
	return true
}

func (i *typedWindowedIter[K, V]) Key() K           { return i.key }
func (i *typedWindowedIter[K, V]) Value() V         { return i.value }
func (i *typedWindowedIter[K, V]) Start() time.Time { return i.start }
func (i *typedWindowedIter[K, V]) End() time.Time   { return i.end }
func (i *typedWindowedIter[K, V]) Close() error     { return i.it.Close() }

func (i *typedWindowedIter[K, V]) Err() error {
	if i.err != nil {
		return i.err
	}
	return i.it.Err()
}

// failedWindows is the handle of a window store that could not be found or is
// misconfigured: every call returns err.
type failedWindows[K, V any] struct{ err error }

func (f failedWindows[K, V]) Put(K, time.Time, V) error { return f.err }
func (f failedWindows[K, V]) Delete(K, time.Time) error { return f.err }
func (f failedWindows[K, V]) Fetch(K, time.Time) (V, bool, error) {
	var v V
	return v, false, f.err
}
func (f failedWindows[K, V]) FetchRange(K, time.Time, time.Time) (WindowedIterator[K, V], error) {
	return nil, f.err
}
func (f failedWindows[K, V]) FetchAll(time.Time, time.Time) (WindowedIterator[K, V], error) {
	return nil, f.err
}
func (f failedWindows[K, V]) All() (WindowedIterator[K, V], error) { return nil, f.err }
