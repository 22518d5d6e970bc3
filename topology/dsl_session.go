package topology

import (
	"errors"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// SessionWindowedStream is a grouped stream cut into sessions, ready for a session
// aggregation (CountSession, ReduceSession, AggregateSession). Its methods return a copy
// with a setting changed. Kafka Streams: SessionWindowedKStream.
type SessionWindowedStream[K, V any] struct {
	g         GroupedStream[K, V]
	windows   SessionWindows
	emit      EmitStrategy
	late      func(LateRecord[K, V]) error
	retention time.Duration
}

// WindowedBySession cuts the grouped stream into sessions. Kafka Streams:
// KGroupedStream#windowedBy(SessionWindows).
func WindowedBySession[K, V any](g GroupedStream[K, V], windows SessionWindows) SessionWindowedStream[K, V] {
	return SessionWindowedStream[K, V]{g: g, windows: windows}
}

// Emit sets when the aggregation forwards results: see TimeWindowedStream.Emit. With
// EmitOnWindowClose, a session is emitted when stream time passes its end plus the gap
// plus grace; the sessions merged into it are never emitted. Kafka Streams:
// SessionWindowedKStream#emitStrategy.
func (s SessionWindowedStream[K, V]) Emit(strategy EmitStrategy) SessionWindowedStream[K, V] {
	s.emit = strategy
	return s
}

// OnLateRecord sets a handler of the records dropped because the session they would make
// or join had closed: see TimeWindowedStream.OnLateRecord.
func (s SessionWindowedStream[K, V]) OnLateRecord(handler func(LateRecord[K, V]) error) SessionWindowedStream[K, V] {
	s.late = handler
	return s
}

// WithRetention sets how long the session store keeps sessions after their end,
// measured in stream time. It must be at least the default, the inactivity gap plus
// grace plus 1ms (Kafka Streams: gap plus grace; see DESIGN.md). Kafka Streams:
// Materialized#withRetention.
func (s SessionWindowedStream[K, V]) WithRetention(retention time.Duration) SessionWindowedStream[K, V] {
	s.retention = retention
	return s
}

// CountSession counts the records of each session, in the session store name (changelog
// <application id>-<name>-changelog). Records with a null key or value are dropped.
// Kafka Streams: SessionWindowedKStream#count.
func CountSession[K, V any](s SessionWindowedStream[K, V], name string) Table[Windowed[K], int64] {
	return sessionAggregate(s, name, "session count",
		func() (int64, bool) { return 0, true },
		func(K, V) int64 { return 1 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, a, b int64) int64 { return a + b },
		serde.Int64())
}

// ReduceSession combines the values of each session, in the session store name: a
// session's first value is its aggregate, each later one is combined with it, and when a
// record merges sessions their aggregates are combined, oldest session end first. The
// stream's value serde must be known. Kafka Streams: SessionWindowedKStream#reduce.
func ReduceSession[K, V any](s SessionWindowedStream[K, V], name string, reducer func(agg, value V) V) Table[Windowed[K], V] {
	if s.g.s.b != nil && s.g.s.values == nil {
		s.g.s.b.problemf("session reduce %q: the stream's value serde is not known; set it with WithSerdes", name)
	}
	return sessionAggregate(s, name, "session reduce",
		func() (V, bool) {
			var zero V
			return zero, false
		},
		func(_ K, v V) V { return v },
		func(_ K, v V, agg V) V { return reducer(agg, v) },
		func(_ K, a, b V) V { return reducer(a, b) },
		s.g.s.values)
}

// AggregateSession folds the values of each session into an aggregate, in the session
// store name. A record starts from init(), merged with the aggregates of the sessions it
// joins (merger(key, so far, session), oldest session end first), then folds its value
// in with aggregator. Kafka Streams: SessionWindowedKStream#aggregate with a Merger.
func AggregateSession[K, V, VA any](s SessionWindowedStream[K, V], name string, init func() VA, aggregator func(key K, value V, agg VA) VA, merger func(key K, agg1, agg2 VA) VA, aggregates serde.Serde[VA]) Table[Windowed[K], VA] {
	return sessionAggregate(s, name, "session aggregate",
		func() (VA, bool) { return init(), true },
		func(k K, v V) VA { return aggregator(k, v, init()) },
		aggregator, merger, aggregates)
}

// sessionAggregate adds the processor and stores of a session aggregation. start is the
// aggregate a record starts from (absent for a reduce).
func sessionAggregate[K, V, VA any](s SessionWindowedStream[K, V], name, operator string, start func() (VA, bool), first func(K, V) VA, add func(K, V, VA) VA, merge func(K, VA, VA) VA, aggregates serde.Serde[VA]) Table[Windowed[K], VA] {
	b := s.g.s.b
	if b == nil {
		return Table[Windowed[K], VA]{}
	}
	storeName := b.storeName(name, operator)
	if s.g.s.keys == nil {
		b.problemf("%s %q: the stream's key serde is not known; set it with WithSerdes", operator, storeName)
	}
	minRetention := s.windows.gap + s.windows.grace + time.Millisecond
	if err := s.windows.validate(); err != nil {
		b.problemf("%s %q: %v: %v", operator, storeName, s.windows, err)
		minRetention = max(minRetention, time.Millisecond)
	}
	retention := minRetention
	if s.retention != 0 {
		if s.retention < minRetention {
			b.problemf("%s %q: retention %s is shorter than the inactivity gap plus grace plus 1ms, %s", operator, storeName, s.retention, minRetention)
		}
		retention = max(s.retention, minRetention)
	}
	def := store.Session(storeName, s.g.s.keys, aggregates, retention)
	if err := def.Validate(); err != nil {
		b.problemf("%s %q: %v", operator, storeName, err)
	}
	node := b.nodeName(storeName, "")
	base := windowedBase[K, V, VA]{node: node, late: s.late, keys: s.g.s.keys, finalDef: emitStore(storeName)}
	windowKeys := SessionWindowedSerde(s.g.s.keys)
	cached := windowedCache[K, V, VA]{windowedBase: base, cacheBytes: b.recordCacheBytes(), windowKeys: windowKeys, aggregates: aggregates}
	addDSLNode(b, node, func() dslProcessor[K, V, Windowed[K], Change[VA]] {
		return &sessionAggregator[K, V, VA]{windowedCache: cached, spec: s.windows, emit: s.emit, def: def, start: start, first: first, add: add, merge: merge}
	}, s.g.s.node)
	AddStore(b, def, node)
	if s.emit == EmitOnWindowClose {
		AddStore(b, emitStore(storeName), node)
	}
	return Table[Windowed[K], VA]{b: b, node: node, keys: windowKeys, values: aggregates, view: sessionStoreView(def)}
}

// sessionStoreView is the view of a table of sessions materialized in def; the timestamp
// of a session is its end.
func sessionStoreView[K, VA any](def store.SessionDef[K, VA]) *tableView[Windowed[K], VA] {
	return &tableView[Windowed[K], VA]{
		stores: []store.Definition{def},
		open: func(ctx processor.InitContext) tableReader[Windowed[K], VA] {
			ss := def.From(ctx)
			return func(key Windowed[K]) (ValueAndTimestamp[VA], bool, error) {
				v, found, err := ss.FetchSession(key.Key, key.Start, key.End)
				return ValueAndTimestamp[VA]{Value: v, Timestamp: key.End}, found, err
			}
		},
	}
}

// sessionAggregator is the processor of a session aggregation. Kafka Streams:
// KStreamSessionWindowAggregate.
type sessionAggregator[K, V, VA any] struct {
	windowedCache[K, V, VA]
	spec  SessionWindows
	emit  EmitStrategy
	def   store.SessionDef[K, VA]
	ss    store.Sessions[K, VA]
	start func() (VA, bool)
	first func(K, V) VA
	add   func(K, V, VA) VA
	merge func(K, VA, VA) VA
}

func (a *sessionAggregator[K, V, VA]) init(ctx *dslContext[Windowed[K], Change[VA]]) error {
	a.ss = a.def.From(ctx)
	return a.initCache(ctx, a.emit)
}

func session[K any](key K, start, end int64) Windowed[K] {
	return Windowed[K]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(end)}
}

func (a *sessionAggregator[K, V, VA]) emitFinal(key K, start, end int64) (bool, error) {
	w := session(key, start, end)
	v, found, err := a.ss.FetchSession(key, w.Start, w.End)
	if err != nil || !found {
		return found, err
	}
	a.forwardChange(w, Change[VA]{New: v, HasNew: true}, w.End, nil)
	return true, nil
}

// storedSession is a session of a key as the store holds it.
type storedSession[VA any] struct {
	start, end int64
	agg        VA
}

func (a *sessionAggregator[K, V, VA]) process(r dslRecord[K, V]) error {
	if r.keyNull || r.valueNull {
		a.drop()
		return nil
	}
	t := millis(r.Timestamp)
	gap, grace := a.spec.gap.Milliseconds(), a.spec.grace.Milliseconds()
	// A session [start, end] is closed once stream time > end + gap + grace.
	observed, err := a.advance(t, func(st int64) int64 { return st - gap - grace - 1 }, a.emitFinal)
	if err != nil {
		return err
	}
	closeTime := observed - gap - grace

	// The sessions within the gap of t on either side merge with the record's.
	it, err := a.ss.FindSessions(r.Key, time.UnixMilli(t-gap), time.UnixMilli(t+gap))
	if err != nil {
		return err
	}
	var found []storedSession[VA]
	for it.Next() {
		found = append(found, storedSession[VA]{start: millis(it.Start()), end: millis(it.End()), agg: it.Value()})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	agg, ok := a.start()
	start, end := t, t
	for _, s := range found {
		if ok {
			agg = a.merge(r.Key, agg, s.agg)
		} else {
			agg, ok = s.agg, true
		}
		start, end = min(start, s.start), max(end, s.end)
	}
	if end < closeTime {
		return a.dropLate(r, session(r.Key, start, end), addMillis(end, gap+grace+1))
	}
	if start != t || end != t {
		for _, s := range found {
			w := session(r.Key, s.start, s.end)
			if err := a.ss.Remove(r.Key, w.Start, w.End); err != nil {
				return err
			}
			if a.final != nil {
				if err := a.final.remove(r.Key, s.start, s.end); err != nil {
					return err
				}
				continue
			}
			if err := a.update(w, Change[VA]{Old: s.agg, HasOld: true}, w.End, r.Headers); err != nil {
				return err
			}
		}
	}
	if ok {
		agg = a.add(r.Key, r.Value, agg)
	} else {
		agg = a.first(r.Key, r.Value)
	}
	w := session(r.Key, start, end)
	if err := a.ss.Put(r.Key, w.Start, w.End, agg); err != nil {
		return err
	}
	if a.final != nil {
		return a.final.add(r.Key, start, end)
	}
	change := Change[VA]{New: agg, HasNew: true}
	if len(found) == 1 && start == t && end == t {
		// The record updates the session [t, t] it fell on.
		change.Old, change.HasOld = found[0].agg, true
	}
	return a.update(w, change, w.End, r.Headers)
}
