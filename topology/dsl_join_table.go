package topology

import (
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// Join joins each record of the stream with the table's current value of its key (a
// lookup): only stream records trigger the join, and a record whose key the table does
// not hold is dropped, as are records with a null key or value. The result keeps the
// stream record's key, timestamp and headers. Updates of the table never produce
// output, and a table update that arrives after a stream record is not joined with it.
//
// When an operator upstream may have changed the stream's keys, the stream is first
// written through the repartition topic <application id>-<name>-repartition (its serdes
// must be known; see WithSerdes); name is unused otherwise. Stream and table must be
// copartitioned: the join reads the table's store, so both run in the same tasks and
// the app checks at start that their topics have the same partition count.
//
// Kafka Streams: KStream#join(KTable, ValueJoinerWithKey, Joined.as(name)), without the
// grace period of versioned tables.
func Join[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], name string, joiner func(key K, value V, tableValue VT) VR, opts ...Option) Stream[K, VR] {
	var join func(K, V, VT, bool) VR
	if joiner != nil {
		join = func(k K, v V, vt VT, _ bool) VR { return joiner(k, v, vt) }
	}
	return streamTableJoin(s, t, name, "join", "KSTREAM-JOIN", false, join, opts)
}

// LeftJoin is Join that keeps the stream records whose key the table does not hold:
// joiner is then called with found false and the zero tableValue. A stream record with a
// null key is joined with no table value (found false) and keeps its null key, as in
// Kafka Streams since 3.7 (KIP-962); one with a null value is dropped. Kafka Streams:
// KStream#leftJoin(KTable, ValueJoinerWithKey, Joined.as(name)).
func LeftJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], name string, joiner func(key K, value V, tableValue VT, found bool) VR, opts ...Option) Stream[K, VR] {
	return streamTableJoin(s, t, name, "leftJoin", "KSTREAM-LEFTJOIN", true, joiner, opts)
}

func streamTableJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], name, operator, kind string, left bool, joiner func(K, V, VT, bool) VR, opts []Option) Stream[K, VR] {
	b := s.b
	if b == nil || !sameBuilder(b, t.b, operator) {
		return Stream[K, VR]{}
	}
	if joiner == nil {
		b.problemf("%s: joiner is nil", operator)
		return Stream[K, VR]{}
	}
	if t.view == nil {
		b.problemf("%s: table %q cannot be read (it has no view)", operator, t.node)
		return Stream[K, VR]{}
	}
	if s.repartition {
		s = s.repartitioned(name, operator, 0)
	}
	node := b.nodeName(applyOptions(opts).name, kind)
	view := t.view
	addDSLNode(b, node, func() dslProcessor[K, V, K, VR] {
		return &streamTableJoiner[K, V, VT, VR]{view: view, left: left, joiner: joiner}
	}, s.node)
	connectView(b, view, node)
	return Stream[K, VR]{b: b, node: node, keys: s.keys, values: sameSerde[V, VR](s.values)}
}

// streamTableJoiner is the processor of Join and LeftJoin. Kafka Streams:
// KStreamKTableJoinProcessor.
type streamTableJoiner[K, V, VT, VR any] struct {
	view   *tableView[K, VT]
	left   bool
	joiner func(K, V, VT, bool) VR
	read   tableReader[K, VT]
	ctx    *dslContext[K, VR]
	dropCounter
}

func (j *streamTableJoiner[K, V, VT, VR]) init(ctx *dslContext[K, VR]) error {
	j.ctx, j.read = ctx, j.view.open(ctx)
	return nil
}

func (j *streamTableJoiner[K, V, VT, VR]) process(r dslRecord[K, V]) error {
	if r.valueNull || (r.keyNull && !j.left) {
		j.drop()
		return nil
	}
	var tv ValueAndTimestamp[VT]
	found := false
	if !r.keyNull {
		var err error
		if tv, found, err = j.read(r.Key); err != nil {
			return err
		}
	}
	if !found && !j.left {
		return nil
	}
	out := withValue(r, j.joiner(r.Key, r.Value, tv.Value, found))
	out.keyNull = r.keyNull
	j.ctx.forward(out)
	return nil
}

// JoinTable joins two tables on their keys: the result holds, for each key that both
// tables hold, joiner's result on their values. An update of either side updates the
// result with the other side's current value, and deletes it (a Change without New,
// a tombstone once written) when the key leaves either table. The timestamp of a result
// is the later of the two values' timestamps.
//
// With a name, the result is materialized in the store name (changelog
// <application id>-<name>-changelog), whose values results serializes; with "" it is
// not, and lookups in it (by a later join) compute it from both sides' stores. results
// may be nil when the result is not materialized, as long as nothing downstream needs
// it. The tables must be copartitioned (see Join).
//
// Kafka Streams: KTable#join(KTable, ValueJoiner, Named, Materialized.as(name)); its
// joiner has no key.
func JoinTable[K, V, VO, VR any](t Table[K, V], other Table[K, VO], name string, joiner func(key K, value V, otherValue VO) VR, results serde.Serde[VR], opts ...Option) Table[K, VR] {
	var join tableJoinFunc[K, V, VO, VR]
	if joiner != nil {
		join = func(k K, v V, hasV bool, o VO, hasO bool) (VR, bool) {
			if !hasV || !hasO {
				var zero VR
				return zero, false
			}
			return joiner(k, v, o), true
		}
	}
	return tableTableJoin(t, other, name, "joinTable", "JOIN", join, results, opts)
}

// LeftJoinTable is JoinTable that keeps every key of t: the result holds joiner's result
// for each key t holds, with found false and the zero otherValue when other does not
// hold the key. Deleting a key from other updates the result (found false); deleting it
// from t deletes it. Kafka Streams: KTable#leftJoin(KTable, ValueJoiner, Named,
// Materialized.as(name)).
func LeftJoinTable[K, V, VO, VR any](t Table[K, V], other Table[K, VO], name string, joiner func(key K, value V, otherValue VO, found bool) VR, results serde.Serde[VR], opts ...Option) Table[K, VR] {
	var join tableJoinFunc[K, V, VO, VR]
	if joiner != nil {
		join = func(k K, v V, hasV bool, o VO, hasO bool) (VR, bool) {
			if !hasV {
				var zero VR
				return zero, false
			}
			return joiner(k, v, o, hasO), true
		}
	}
	return tableTableJoin(t, other, name, "leftJoinTable", "LEFT", join, results, opts)
}

// OuterJoinTable is JoinTable that keeps every key of either table: the result holds
// joiner's result for each key either table holds, the missing side given as its zero
// value with its found flag false; it is deleted once neither table holds the key.
// Kafka Streams: KTable#outerJoin(KTable, ValueJoiner, Named, Materialized.as(name)).
func OuterJoinTable[K, V, VO, VR any](t Table[K, V], other Table[K, VO], name string, joiner func(key K, value V, found bool, otherValue VO, otherFound bool) VR, results serde.Serde[VR], opts ...Option) Table[K, VR] {
	var join tableJoinFunc[K, V, VO, VR]
	if joiner != nil {
		join = func(k K, v V, hasV bool, o VO, hasO bool) (VR, bool) {
			if !hasV && !hasO {
				var zero VR
				return zero, false
			}
			return joiner(k, v, hasV, o, hasO), true
		}
	}
	return tableTableJoin(t, other, name, "outerJoinTable", "OUTER", join, results, opts)
}

// tableJoinFunc is the result of a table-table join for one key, given what each side
// holds, and whether there is one.
type tableJoinFunc[K, V, VO, VR any] func(key K, value V, hasValue bool, other VO, hasOther bool) (VR, bool)

// tableTableJoin adds a processor per side, each reading the other side's view, and a
// node under both that materializes the result or passes it on. Kafka Streams:
// KTableImpl#doJoin, with KTableKTable{Inner,Left,Right,Outer}Join and
// KTableKTableJoinMerger.
func tableTableJoin[K, V, VO, VR any](t Table[K, V], other Table[K, VO], name, operator, kind string, join tableJoinFunc[K, V, VO, VR], results serde.Serde[VR], opts []Option) Table[K, VR] {
	b := t.b
	if b == nil || !sameBuilder(b, other.b, operator) {
		return Table[K, VR]{}
	}
	if join == nil {
		b.problemf("%s: joiner is nil", operator)
		return Table[K, VR]{}
	}
	if t.view == nil || other.view == nil {
		b.problemf("%s: table %q or %q cannot be read (it has no view)", operator, t.node, other.node)
		return Table[K, VR]{}
	}
	names := b.joinNames(applyOptions(opts).name, "-join-this", "-join-other", "",
		"KTABLE-"+kind+"THIS", "KTABLE-"+kind+"OTHER", "KTABLE-MERGE")
	thisView, otherView := t.view, other.view
	addDSLNode(b, names.this, func() dslProcessor[K, Change[V], K, Change[VR]] {
		return &tableJoinSide[K, V, VO, VR]{other: otherView, join: join}
	}, t.node)
	connectView(b, otherView, names.this)
	reversed := func(k K, o VO, hasO bool, v V, hasV bool) (VR, bool) { return join(k, v, hasV, o, hasO) }
	addDSLNode(b, names.other, func() dslProcessor[K, Change[VO], K, Change[VR]] {
		return &tableJoinSide[K, VO, V, VR]{other: thisView, join: reversed}
	}, other.node)
	connectView(b, thisView, names.other)

	out := Table[K, VR]{b: b, node: names.merge, keys: t.keys, values: results}
	if name == "" {
		addFuncNode(b, names.merge, func(ctx *dslContext[K, Change[VR]], r dslRecord[K, Change[VR]]) error {
			ctx.forward(r)
			return nil
		}, names.this, names.other)
		out.view = joinedView(thisView, otherView, join)
		return out
	}
	if results == nil {
		b.problemf("%s %q: the serde of the results is nil; a materialized join needs it", operator, name)
	}
	if t.keys == nil {
		b.problemf("%s %q: the table's key serde is not known", operator, name)
	}
	def := tableStore(name, t.keys, results)
	addDSLNode(b, names.merge, func() dslProcessor[K, Change[VR], K, Change[VR]] {
		return &tableJoinMerger[K, VR]{def: def}
	}, names.this, names.other)
	AddStore(b, def, names.merge)
	out.view = storeView[K, VR](def)
	return out
}

// joinedView reads a join that is not materialized from the views of its sides. Kafka
// Streams: KTableKTableAbstractJoinValueGetterSupplier.
func joinedView[K, V, VO, VR any](left *tableView[K, V], right *tableView[K, VO], join tableJoinFunc[K, V, VO, VR]) *tableView[K, VR] {
	stores := append(append([]store.Definition(nil), left.stores...), right.stores...)
	return &tableView[K, VR]{
		stores: stores,
		open: func(ctx processor.InitContext) tableReader[K, VR] {
			readLeft, readRight := left.open(ctx), right.open(ctx)
			return func(key K) (ValueAndTimestamp[VR], bool, error) {
				l, hasL, err := readLeft(key)
				if err != nil {
					return ValueAndTimestamp[VR]{}, false, err
				}
				r, hasR, err := readRight(key)
				if err != nil {
					return ValueAndTimestamp[VR]{}, false, err
				}
				v, ok := join(key, l.Value, hasL, r.Value, hasR)
				if !ok {
					return ValueAndTimestamp[VR]{}, false, nil
				}
				ts := l.Timestamp
				switch {
				case hasL && hasR:
					ts = later(l.Timestamp, r.Timestamp)
				case hasR:
					ts = r.Timestamp
				}
				return ValueAndTimestamp[VR]{Value: v, Timestamp: ts}, true, nil
			}
		},
	}
}

// tableJoinSide joins the changes of one side of a table-table join with the other
// side's current value. The old result is the join of the change's old value with the
// same other value: what the result was before the change.
type tableJoinSide[K, V, VO, VR any] struct {
	other *tableView[K, VO]
	join  tableJoinFunc[K, V, VO, VR]
	read  tableReader[K, VO]
	ctx   *dslContext[K, Change[VR]]
	dropCounter
}

func (j *tableJoinSide[K, V, VO, VR]) init(ctx *dslContext[K, Change[VR]]) error {
	j.ctx, j.read = ctx, j.other.open(ctx)
	return nil
}

func (j *tableJoinSide[K, V, VO, VR]) process(r dslRecord[K, Change[V]]) error {
	if r.keyNull || r.valueNull {
		j.drop()
		return nil
	}
	o, hasO, err := j.read(r.Key)
	if err != nil {
		return err
	}
	var change Change[VR]
	change.New, change.HasNew = j.join(r.Key, r.Value.New, r.Value.HasNew, o.Value, hasO)
	change.Old, change.HasOld = j.join(r.Key, r.Value.Old, r.Value.HasOld, o.Value, hasO)
	if !change.HasNew && !change.HasOld {
		return nil
	}
	out := withValue(r, change)
	if hasO {
		out.Timestamp = later(r.Timestamp, o.Timestamp)
	}
	j.ctx.forward(out)
	return nil
}

// tableJoinMerger keeps the results of a materialized join in its store and forwards
// their changes, the old value being the one the store held.
type tableJoinMerger[K, VR any] struct {
	def store.KeyValueDef[K, ValueAndTimestamp[VR]]
	kv  store.KV[K, ValueAndTimestamp[VR]]
	ctx *dslContext[K, Change[VR]]
}

func (m *tableJoinMerger[K, VR]) init(ctx *dslContext[K, Change[VR]]) error {
	m.ctx, m.kv = ctx, m.def.From(ctx)
	return nil
}

func (m *tableJoinMerger[K, VR]) process(r dslRecord[K, Change[VR]]) error {
	if r.keyNull || r.valueNull {
		return nil
	}
	old, hadOld, err := m.kv.Get(r.Key)
	if err != nil {
		return err
	}
	if r.Value.HasNew {
		err = m.kv.Put(r.Key, ValueAndTimestamp[VR]{Value: r.Value.New, Timestamp: r.Timestamp})
	} else if hadOld {
		err = m.kv.Delete(r.Key)
	}
	if err != nil {
		return err
	}
	if !r.Value.HasNew && !hadOld {
		return nil
	}
	m.ctx.forward(withValue(r, Change[VR]{New: r.Value.New, HasNew: r.Value.HasNew, Old: old.Value, HasOld: hadOld}))
	return nil
}
