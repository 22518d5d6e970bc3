package topology

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// FixedWindows are the window definitions of WindowedBy: TimeWindows and SlidingWindows,
// and no other type.
type FixedWindows interface {
	fixedWindows()
	validate() error
}

func (TimeWindows) fixedWindows()    {}
func (SlidingWindows) fixedWindows() {}

// TimeWindowedStream is a grouped stream cut into time or sliding windows, ready for a
// windowed aggregation (CountWindowed, ReduceWindowed, AggregateWindowed). Its methods
// return a copy with a setting changed. Kafka Streams: TimeWindowedKStream.
type TimeWindowedStream[K, V any] struct {
	g         GroupedStream[K, V]
	windows   FixedWindows
	emit      EmitStrategy
	late      func(LateRecord[K, V]) error
	retention time.Duration
}

// WindowedBy cuts the grouped stream into windows: TimeWindows (tumbling or hopping) or
// SlidingWindows. Kafka Streams: KGroupedStream#windowedBy.
func WindowedBy[K, V any](g GroupedStream[K, V], windows FixedWindows) TimeWindowedStream[K, V] {
	return TimeWindowedStream[K, V]{g: g, windows: windows}
}

// Emit sets when the aggregation forwards results: EmitOnWindowUpdate (the default,
// through the record cache: see WithoutRecordCache) or EmitOnWindowClose, which emits
// each window's final result once, when it closes, and keeps what it needs for that in
// the logged store <name>-emit. Kafka Streams: TimeWindowedKStream#emitStrategy.
func (w TimeWindowedStream[K, V]) Emit(s EmitStrategy) TimeWindowedStream[K, V] {
	w.emit = s
	return w
}

// OnLateRecord sets a handler of the records that the aggregation drops because a window
// they belong to had closed; each is also logged at Debug and counted in
// eddy.Stats.DroppedRecords, once per closed window (see plan.DropCounter). An error
// from the handler fails the task, as an error of a processor does. By default late
// records are only logged and counted. Kafka Streams counts them in the dropped-records
// metric and logs them; the handler is Eddy's.
func (w TimeWindowedStream[K, V]) OnLateRecord(handler func(LateRecord[K, V]) error) TimeWindowedStream[K, V] {
	w.late = handler
	return w
}

// WithRetention sets how long the aggregation's store keeps windows after their start,
// measured in stream time, for reading them through the table (joins) after they
// closed. It must be at least the default: the window size plus grace for TimeWindows,
// twice the time difference plus grace for SlidingWindows, as in Kafka Streams. Kafka
// Streams: Materialized#withRetention.
func (w TimeWindowedStream[K, V]) WithRetention(retention time.Duration) TimeWindowedStream[K, V] {
	w.retention = retention
	return w
}

// CountWindowed counts the records of each key in each window, in the window store name
// (changelog <application id>-<name>-changelog). Records with a null key or value are
// dropped. Kafka Streams: TimeWindowedKStream#count.
func CountWindowed[K, V any](w TimeWindowedStream[K, V], name string) Table[Windowed[K], int64] {
	return windowedAggregate(w, name, "windowed count", func(K, V) int64 { return 1 }, func(_ K, _ V, n int64) int64 { return n + 1 }, serde.Int64())
}

// ReduceWindowed combines the values of each key in each window, in the window store
// name: a window's first value is its aggregate, each later one is combined with it. The
// stream's value serde must be known. Kafka Streams: TimeWindowedKStream#reduce.
func ReduceWindowed[K, V any](w TimeWindowedStream[K, V], name string, reducer func(agg, value V) V) Table[Windowed[K], V] {
	if w.g.s.b != nil && w.g.s.values == nil {
		w.g.s.b.problemf("windowed reduce %q: the stream's value serde is not known; set it with WithSerdes", name)
	}
	return windowedAggregate(w, name, "windowed reduce", func(_ K, v V) V { return v }, func(_ K, v V, agg V) V { return reducer(agg, v) }, w.g.s.values)
}

// AggregateWindowed folds the values of each key in each window into an aggregate, in
// the window store name: a window's first value is folded into init(), each later one
// into the aggregate so far. Kafka Streams: TimeWindowedKStream#aggregate.
func AggregateWindowed[K, V, VA any](w TimeWindowedStream[K, V], name string, init func() VA, aggregator func(key K, value V, agg VA) VA, aggregates serde.Serde[VA]) Table[Windowed[K], VA] {
	first := func(k K, v V) VA { return aggregator(k, v, init()) }
	return windowedAggregate(w, name, "windowed aggregate", first, aggregator, aggregates)
}

// windowedAggregate adds the processor and stores of a windowed aggregation.
func windowedAggregate[K, V, VA any](w TimeWindowedStream[K, V], name, operator string, first func(K, V) VA, add func(K, V, VA) VA, aggregates serde.Serde[VA]) Table[Windowed[K], VA] {
	b := w.g.s.b
	if b == nil {
		return Table[Windowed[K], VA]{}
	}
	storeName := b.storeName(name, operator)
	if w.g.s.keys == nil {
		b.problemf("%s %q: the stream's key serde is not known; set it with WithSerdes", operator, storeName)
	}
	var size, minRetention time.Duration
	switch spec := w.windows.(type) {
	case TimeWindows:
		size, minRetention = spec.size, spec.size+spec.grace
	case SlidingWindows:
		size, minRetention = spec.difference, 2*spec.difference+spec.grace
	default:
		b.problemf("%s %q: no windows (WindowedBy was given %v)", operator, storeName, w.windows)
		return Table[Windowed[K], VA]{}
	}
	if err := w.windows.validate(); err != nil {
		b.problemf("%s %q: %v: %v", operator, storeName, w.windows, err)
		size, minRetention = max(size, time.Millisecond), max(minRetention, time.Millisecond)
	}
	retention := minRetention
	if w.retention != 0 {
		if w.retention < minRetention {
			b.problemf("%s %q: retention %s is shorter than the window size plus grace %s", operator, storeName, w.retention, minRetention)
		}
		retention = max(w.retention, minRetention)
	}
	var opts []store.WindowOption
	if _, byKey := w.windows.(TimeWindows); byKey {
		// Time windows read and write the store window by window; sliding windows read
		// it by ranges, which a cache would only flush.
		opts = append(opts, store.WithCaching(b.recordCacheBytes()))
	}
	// A sliding window of difference 0 holds one instant: the store's windows last 1ms.
	def := store.Window(storeName, w.g.s.keys, timestamped(aggregates), max(retention, time.Millisecond), max(size, time.Millisecond), opts...)
	if err := def.Validate(); err != nil {
		b.problemf("%s %q: %v", operator, storeName, err)
	}
	node := b.nodeName(storeName, "")
	base := windowedBase[K, V, VA]{node: node, late: w.late, keys: w.g.s.keys, finalDef: emitStore(storeName)}
	windowKeys := TimeWindowedSerde(w.g.s.keys, size)
	cached := windowedCache[K, V, VA]{windowedBase: base, cacheBytes: b.recordCacheBytes(), windowKeys: windowKeys, aggregates: aggregates}
	folds := windowStoreAggregator[K, V, VA]{windowedCache: cached, emit: w.emit, def: def, first: first, add: add}
	switch spec := w.windows.(type) {
	case TimeWindows:
		addDSLNode(b, node, func() dslProcessor[K, V, Windowed[K], Change[VA]] {
			return &timeWindowAggregator[K, V, VA]{windowStoreAggregator: folds, spec: spec}
		}, w.g.s.node)
	case SlidingWindows:
		addDSLNode(b, node, func() dslProcessor[K, V, Windowed[K], Change[VA]] {
			return &slidingWindowAggregator[K, V, VA]{windowStoreAggregator: folds, spec: spec}
		}, w.g.s.node)
	}
	AddStore(b, def, node)
	if w.emit == EmitOnWindowClose {
		AddStore(b, emitStore(storeName), node)
	}
	return Table[Windowed[K], VA]{b: b, node: node, keys: windowKeys, values: aggregates, view: windowStoreView(def, size)}
}

// windowStoreView is the view of a table of windows materialized in def, whose windows
// last size.
func windowStoreView[K, VA any](def store.WindowDef[K, ValueAndTimestamp[VA]], size time.Duration) *tableView[Windowed[K], VA] {
	return &tableView[Windowed[K], VA]{
		stores: []store.Definition{def},
		open: func(ctx processor.InitContext) tableReader[Windowed[K], VA] {
			ws := def.From(ctx)
			return func(key Windowed[K]) (ValueAndTimestamp[VA], bool, error) {
				if !key.End.Equal(key.Start.Add(size)) {
					return ValueAndTimestamp[VA]{}, false, nil
				}
				return ws.Fetch(key.Key, key.Start)
			}
		},
	}
}

// timeWindowAggregator is the processor of an aggregation over TimeWindows. Kafka
// Streams: KStreamWindowAggregate.
type timeWindowAggregator[K, V, VA any] struct {
	windowStoreAggregator[K, V, VA]
	spec TimeWindows
}

// windowStoreAggregator is what the aggregations over time and sliding windows share:
// their window store, their emit strategy and how they fold records in.
type windowStoreAggregator[K, V, VA any] struct {
	windowedCache[K, V, VA]
	emit  EmitStrategy
	def   store.WindowDef[K, ValueAndTimestamp[VA]]
	ws    store.Windows[K, ValueAndTimestamp[VA]]
	first func(K, V) VA
	add   func(K, V, VA) VA
}

func (a *windowStoreAggregator[K, V, VA]) init(ctx *dslContext[Windowed[K], Change[VA]]) error {
	a.ws = a.def.From(ctx)
	return a.initCache(ctx, a.emit)
}

func (a *timeWindowAggregator[K, V, VA]) window(key K, start int64) Windowed[K] {
	return Windowed[K]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(addMillis(start, a.spec.size.Milliseconds()))}
}

// emitFinal forwards the final aggregate of a closed window.
func (a *timeWindowAggregator[K, V, VA]) emitFinal(key K, start, _ int64) (bool, error) {
	v, found, err := a.ws.Fetch(key, time.UnixMilli(start))
	if err != nil || !found {
		return found, err
	}
	a.forwardChange(a.window(key, start), Change[VA]{New: v.Value, HasNew: true}, v.Timestamp, nil)
	return true, nil
}

func (a *timeWindowAggregator[K, V, VA]) process(r dslRecord[K, V]) error {
	if r.keyNull || r.valueNull {
		a.drop()
		return nil
	}
	t := millis(r.Timestamp)
	grace := a.spec.grace.Milliseconds()
	// A time window [start, end) is closed once end + grace <= stream time.
	observed, err := a.advance(t, func(st int64) int64 { return st - grace }, a.emitFinal)
	if err != nil {
		return err
	}
	closeTime := observed - grace
	for _, start := range a.spec.windowsFor(t) {
		w := a.window(r.Key, start)
		end := millis(w.End)
		if end <= closeTime {
			if err := a.dropLate(r, w, addMillis(end, grace)); err != nil {
				return err
			}
			continue
		}
		old, found, err := a.ws.Fetch(r.Key, w.Start)
		if err != nil {
			return err
		}
		next := ValueAndTimestamp[VA]{Timestamp: r.Timestamp}
		if found {
			next.Value = a.add(r.Key, r.Value, old.Value)
			if old.Timestamp.After(next.Timestamp) {
				next.Timestamp = old.Timestamp
			}
		} else {
			next.Value = a.first(r.Key, r.Value)
		}
		if err := a.ws.Put(r.Key, w.Start, next); err != nil {
			return err
		}
		if a.final != nil {
			if !found {
				if err := a.final.add(r.Key, start, end); err != nil {
					return err
				}
			}
			continue
		}
		if err := a.update(w, Change[VA]{New: next.Value, HasNew: true, Old: old.Value, HasOld: found}, next.Timestamp, r.Headers); err != nil {
			return err
		}
	}
	return nil
}

// String names the windows in problems.
func (w TimeWindows) String() string {
	return fmt.Sprintf("TimeWindows(size %s, advance %s, grace %s)", w.size, w.advance, w.grace)
}

func (w SlidingWindows) String() string {
	return fmt.Sprintf("SlidingWindows(time difference %s, grace %s)", w.difference, w.grace)
}

func (w SessionWindows) String() string {
	return fmt.Sprintf("SessionWindows(inactivity gap %s, grace %s)", w.gap, w.grace)
}
