package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// JoinWindows bounds the time difference of the records that a stream-stream join pairs:
// a record of the left stream at time t joins the right stream's records of the same
// key in [t - before, t + after], both included. A window closes once the join's stream
// time (the latest timestamp either side has seen) passes its end by more than the
// grace period; a record that arrives later may still join with the records kept, but
// the non-joined results of left and outer joins are settled when the window closes.
// Kafka Streams: JoinWindows. The zero JoinWindows joins records of equal timestamps
// only, with no grace.
type JoinWindows struct {
	before, after, grace time.Duration
}

// JoinWindowsOfTimeDifferenceAndGrace returns windows of timeDifference before and
// after each record, with a grace period for out-of-order records (0 for none). Kafka
// Streams: JoinWindows.ofTimeDifferenceAndGrace.
func JoinWindowsOfTimeDifferenceAndGrace(timeDifference, grace time.Duration) JoinWindows {
	return JoinWindows{before: timeDifference, after: timeDifference, grace: grace}
}

// JoinWindowsOfTimeDifferenceWithNoGrace returns windows of timeDifference before and
// after each record, with no grace period. Kafka Streams:
// JoinWindows.ofTimeDifferenceWithNoGrace.
func JoinWindowsOfTimeDifferenceWithNoGrace(timeDifference time.Duration) JoinWindows {
	return JoinWindowsOfTimeDifferenceAndGrace(timeDifference, 0)
}

// Before returns the windows with before as the largest time by which a right record
// may precede a left one. Kafka Streams: JoinWindows#before.
func (w JoinWindows) Before(before time.Duration) JoinWindows {
	w.before = before
	return w
}

// After returns the windows with after as the largest time by which a right record may
// follow a left one. Kafka Streams: JoinWindows#after.
func (w JoinWindows) After(after time.Duration) JoinWindows {
	w.after = after
	return w
}

// Grace returns the grace period of the windows. Kafka Streams:
// JoinWindows#gracePeriodMs.
func (w JoinWindows) Grace() time.Duration { return w.grace }

// size is the span of a window, before + after. Kafka Streams: JoinWindows#size.
func (w JoinWindows) size() time.Duration { return w.before + w.after }

// check returns what makes the windows unusable, or "". Before or after may be negative
// as long as their sum is not, as in Kafka Streams.
func (w JoinWindows) check() string {
	switch {
	case w.size() < 0:
		return fmt.Sprintf("the windows are inverted: before (%v) + after (%v) is negative", w.before, w.after)
	case w.grace < 0:
		return fmt.Sprintf("negative grace period %v", w.grace)
	}
	return ""
}

// JoinWindowed joins two streams on their keys within windows: each record of either
// stream joins every record of the other stream with the same key whose timestamp is
// within the windows (see JoinWindows), as it arrives; the result has the later of the
// two timestamps and the arriving record's headers. Records with a null key or value
// are dropped.
//
// Both streams are kept in window stores that retain duplicates, for before + after +
// grace: <name>-this-join-store for s and <name>-other-join-store for other (changelogs
// <application id>-<store>-changelog). Their serdes must be known (see WithSerdes).
// When an operator upstream may have changed a stream's keys, that stream is first
// written through the repartition topic <application id>-<name>-left-repartition (s)
// or <name>-right-repartition (other). The streams must be copartitioned (see Join).
//
// Kafka Streams: KStream#join(KStream, ValueJoinerWithKey, JoinWindows,
// StreamJoined.withStoreName(name)).
func JoinWindowed[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], name string, windows JoinWindows, joiner func(key K, value V, otherValue VO) VR, opts ...Option) Stream[K, VR] {
	var join streamJoinFunc[K, V, VO, VR]
	if joiner != nil {
		join = func(k K, v V, _ bool, o VO, _ bool) VR { return joiner(k, v, o) }
	}
	return streamStreamJoin(s, other, name, "joinWindowed", windows, false, false, join, opts)
}

// LeftJoinWindowed is JoinWindowed that also keeps the records of s that join no record
// of other: once the window of such a record closes (stream time passes its timestamp +
// after + grace), joiner is called with found false and the zero otherValue, and the
// result has the record's timestamp. Until then the record waits in the store
// <name>-left-shared-join-store (Kafka Streams 3.1+, KIP-633: no spurious result for a
// record that a later record joins). A record of s with a null key is joined at once
// with no other value and keeps its null key (Kafka Streams 3.7+, KIP-962); records of
// other with a null key, and records with a null value, are dropped. The store of other
// is <name>-outer-other-join-store. Kafka Streams: KStream#leftJoin(KStream, ...).
func LeftJoinWindowed[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], name string, windows JoinWindows, joiner func(key K, value V, otherValue VO, found bool) VR, opts ...Option) Stream[K, VR] {
	var join streamJoinFunc[K, V, VO, VR]
	if joiner != nil {
		join = func(k K, v V, _ bool, o VO, hasO bool) VR { return joiner(k, v, o, hasO) }
	}
	return streamStreamJoin(s, other, name, "leftJoinWindowed", windows, true, false, join, opts)
}

// OuterJoinWindowed is LeftJoinWindowed for both sides: the records of either stream
// that join no record of the other are joined, once their window closes, with the missing
// side as its zero value and its found flag false. For a record of other at time t the
// window closes when stream time passes t + before + grace. Records of either side with
// a null key are joined at once. The stores are <name>-outer-this-join-store,
// <name>-outer-other-join-store and <name>-outer-shared-join-store. Kafka Streams:
// KStream#outerJoin(KStream, ...).
func OuterJoinWindowed[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], name string, windows JoinWindows, joiner func(key K, value V, found bool, otherValue VO, otherFound bool) VR, opts ...Option) Stream[K, VR] {
	return streamStreamJoin(s, other, name, "outerJoinWindowed", windows, true, true, streamJoinFunc[K, V, VO, VR](joiner), opts)
}

// streamJoinFunc is a stream-stream joiner with both sides' found flags, the form of
// the outer join's.
type streamJoinFunc[K, V, VO, VR any] func(key K, value V, hasValue bool, other VO, hasOther bool) VR

// streamStreamJoin adds a processor per side, each keeping its side's records in its
// window store and joining them with the other side's store, and a node that merges
// their output. Kafka Streams: KStreamImplJoin, whose KStreamJoinWindow processors
// Eddy folds into the join processors.
func streamStreamJoin[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], name, operator string, windows JoinWindows, leftOuter, rightOuter bool, join streamJoinFunc[K, V, VO, VR], opts []Option) Stream[K, VR] {
	b := s.b
	if b == nil || !sameBuilder(b, other.b, operator) {
		return Stream[K, VR]{}
	}
	// The join as problems name it: by its name, or by the nodes it joins.
	joinName := fmt.Sprintf("%s %q", operator, name)
	if name == "" {
		joinName = fmt.Sprintf("%s of %q and %q", operator, s.node, other.node)
	}
	if join == nil {
		b.problemf("%s: joiner is nil", joinName)
		return Stream[K, VR]{}
	}
	if problem := windows.check(); problem != "" {
		b.problemf("%s: %s", joinName, problem)
		return Stream[K, VR]{}
	}
	base := name
	if base == "" {
		base = b.resourceName("", "", operator)
	}
	if s.repartition {
		s = s.repartitioned(base+"-left", operator, 0)
	}
	if other.repartition {
		other = other.repartitioned(base+"-right", operator, 0)
	}
	keys := s.keys
	if keys == nil {
		keys = sameSerde[K, K](other.keys)
	}
	if keys == nil || s.values == nil || other.values == nil {
		b.problemf("%s %q: the serdes of both streams must be known for the join's stores; set them with WithSerdes", operator, base)
	}

	thisSuffix, otherSuffix := "-this-join", "-other-join"
	thisKind, otherKind := "KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER"
	if rightOuter {
		thisSuffix, thisKind = "-outer-this-join", "KSTREAM-OUTERTHIS"
	}
	if leftOuter {
		otherSuffix, otherKind = "-outer-other-join", "KSTREAM-OUTEROTHER"
	}
	names := b.joinNames(applyOptions(opts).name, thisSuffix, otherSuffix, "-merge", thisKind, otherKind, "KSTREAM-MERGE")

	// Kafka Streams' rule: retention = size + grace and window size = size, where the
	// size is before + after; Eddy's window stores want a size of 1 ms at least.
	size := max(windows.size(), time.Millisecond)
	retention := max(windows.size()+windows.grace, size)
	thisStore := store.Window(base+thisSuffix+"-store", keys, s.values, retention, size, store.RetainDuplicates())
	otherStore := store.Window(base+otherSuffix+"-store", keys, other.values, retention, size, store.RetainDuplicates())
	for _, err := range []error{thisStore.Validate(), otherStore.Validate()} {
		if err != nil {
			b.problemf("%s: %w", joinName, err)
		}
	}
	var shared *store.KeyValueDef[[]byte, []byte]
	if leftOuter {
		sharedSuffix := "-left-shared-join-store"
		if rightOuter {
			sharedSuffix = "-outer-shared-join-store"
		}
		def := store.KeyValue(base+sharedSuffix, serde.Bytes(), serde.Bytes())
		shared = &def
	}

	times := &joinTimes{byTask: make(map[processor.TaskID]*joinTime)}
	w := windows
	addDSLNode(b, names.this, func() dslProcessor[K, V, K, VR] {
		return &streamJoinSide[K, V, VO, VR]{
			left: true, outer: leftOuter, otherOuter: rightOuter, before: w.before, after: w.after, windows: w,
			thisDef: thisStore, otherDef: otherStore, shared: shared, keys: keys, values: s.values, otherValues: other.values,
			times: times, result: func(k K, v V, hasV bool, o VO, hasO bool) VR { return join(k, v, hasV, o, hasO) },
		}
	}, s.node)
	addDSLNode(b, names.other, func() dslProcessor[K, VO, K, VR] {
		return &streamJoinSide[K, VO, V, VR]{
			left: false, outer: rightOuter, otherOuter: leftOuter, before: w.after, after: w.before, windows: w,
			thisDef: otherStore, otherDef: thisStore, shared: shared, keys: keys, values: other.values, otherValues: s.values,
			times: times, result: func(k K, o VO, hasO bool, v V, hasV bool) VR { return join(k, v, hasV, o, hasO) },
		}
	}, other.node)
	AddStore(b, thisStore, names.this, names.other)
	AddStore(b, otherStore, names.this, names.other)
	if shared != nil {
		AddStore(b, *shared, names.this, names.other)
	}
	addFuncNode(b, names.merge, func(ctx *dslContext[K, VR], r dslRecord[K, VR]) error {
		ctx.forward(r)
		return nil
	}, names.this, names.other)
	return Stream[K, VR]{b: b, node: names.merge, keys: keys, values: sameSerde[V, VR](s.values)}
}

// joinTimes holds the time of the joins of each task, which both sides' processors of
// a task share. Kafka Streams: KStreamImplJoin.TimeTrackerSupplier.
type joinTimes struct {
	mu     sync.Mutex
	byTask map[processor.TaskID]*joinTime
}

func (t *joinTimes) get(id processor.TaskID) *joinTime {
	t.mu.Lock()
	defer t.mu.Unlock()
	jt, ok := t.byTask[id]
	if !ok {
		jt = &joinTime{}
		t.byTask[id] = jt
	}
	jt.users++
	return jt
}

func (t *joinTimes) release(id processor.TaskID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if jt, ok := t.byTask[id]; ok {
		if jt.users--; jt.users <= 0 {
			delete(t.byTask, id)
		}
	}
}

// joinTime is the time of one task's join, used from that task's goroutine only.
type joinTime struct {
	users int
	// stream is the latest timestamp either side has seen since the task started; zero
	// before the first. Kafka Streams: TimeTracker.streamTime (not kept across restarts
	// there either).
	stream    time.Time
	hasStream bool
	// scanned is set once the shared store was read since the task started; min is then
	// the earliest timestamp it holds, when hasMin.
	scanned bool
	min     time.Time
	hasMin  bool
}

func (jt *joinTime) advance(t time.Time) {
	if !jt.hasStream || t.After(jt.stream) {
		jt.stream, jt.hasStream = t, true
	}
}

func (jt *joinTime) waiting(t time.Time) {
	switch {
	case jt.hasMin:
		if t.Before(jt.min) {
			jt.min = t
		}
	case jt.scanned:
		jt.min, jt.hasMin = t, true
	}
}

// streamJoinSide is the processor of one side of a stream-stream join. this is the
// side whose records it processes; left tells which side that is. before and after are
// the windows as this side sees them: swapped for the right side.
type streamJoinSide[K, V, VO, VR any] struct {
	// outer and otherOuter tell whether the records of this side and of the other
	// side that join nothing are kept (wait in the shared store).
	left, outer, otherOuter bool
	before, after           time.Duration
	windows                 JoinWindows
	thisDef                 store.WindowDef[K, V]
	otherDef                store.WindowDef[K, VO]
	shared                  *store.KeyValueDef[[]byte, []byte]
	keys                    serde.Serde[K]
	values                  serde.Serde[V]
	otherValues             serde.Serde[VO]
	times                   *joinTimes
	// result joins this side's value with the other's, in this side's order.
	result func(key K, value V, hasValue bool, other VO, hasOther bool) VR
	dropCounter

	ctx         *dslContext[K, VR]
	task        processor.TaskID
	time        *joinTime
	thisWindows store.Windows[K, V]
	otherWins   store.Windows[K, VO]
	waiting     store.KV[[]byte, []byte]
}

func (j *streamJoinSide[K, V, VO, VR]) init(ctx *dslContext[K, VR]) error {
	j.ctx = ctx
	j.thisWindows, j.otherWins = j.thisDef.From(ctx), j.otherDef.From(ctx)
	if j.shared != nil {
		j.waiting = j.shared.From(ctx)
	}
	j.task = ctx.TaskID()
	j.time = j.times.get(j.task)
	return nil
}

// flush has nothing to do: the join holds no output back. It makes the processor a
// bufferingProcessor, for discard.
func (j *streamJoinSide[K, V, VO, VR]) flush() error { return nil }

// discard forgets the join's time when the engine rolls the task's stores back (an
// aborted transaction), as if the task restarted: Kafka Streams makes the task anew. The
// window stores go back by themselves: the task resets their layers
// (store.Layer.Reset).
func (j *streamJoinSide[K, V, VO, VR]) discard() {
	*j.time = joinTime{users: j.time.users}
}

func (j *streamJoinSide[K, V, VO, VR]) close() error {
	j.times.release(j.task)
	return nil
}

func (j *streamJoinSide[K, V, VO, VR]) process(r dslRecord[K, V]) error {
	ts := r.Timestamp
	j.time.advance(ts)
	if r.valueNull {
		j.drop()
		return nil
	}
	if r.keyNull {
		if j.outer {
			var none VO
			out := withValue(r, j.result(r.Key, r.Value, true, none, false))
			out.keyNull = true
			j.ctx.forward(out)
		} else {
			j.drop()
		}
		return nil
	}
	if j.waiting != nil && !ts.Before(j.time.stream) {
		if err := j.emitClosed(); err != nil {
			return err
		}
	}
	from, to := ts.Add(-j.before), ts.Add(j.after)
	it, err := j.otherWins.FetchRange(r.Key, from, to)
	if err != nil {
		return err
	}
	found := false
	for it.Next() {
		found = true
		otherTS := it.Start()
		if j.otherOuter {
			// The other record joined: it no longer waits for its window to close.
			if err := j.joined(r.Key, otherTS); err != nil {
				return errors.Join(err, it.Close())
			}
		}
		out := withValue(r, j.result(r.Key, r.Value, true, it.Value(), true))
		out.Timestamp = later(ts, otherTS)
		j.ctx.forward(out)
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	if !found && j.outer {
		if to.Before(j.time.stream) {
			// Too late to wait: the window already closed (Kafka Streams' rule, which
			// leaves the grace period out here).
			var none VO
			j.ctx.forward(withValue(r, j.result(r.Key, r.Value, true, none, false)))
		} else if err := j.wait(r.Key, ts, r.Value); err != nil {
			return err
		}
	}
	return j.thisWindows.Put(r.Key, ts, r.Value)
}

// joined removes the other side's records of key at ts from the shared store, if they
// wait there: reading first spares the changelog a tombstone for every joined pair.
func (j *streamJoinSide[K, V, VO, VR]) joined(key K, ts time.Time) error {
	kb, err := j.keys.Serialize(j.shared.Name(), key)
	if err != nil {
		return fmt.Errorf("topology: %s: serializing key: %w", j.shared.Name(), err)
	}
	k := waitingKey(ts, !j.left, kb)
	if _, found, err := j.waiting.Get(k); err != nil || !found {
		return err
	}
	return j.waiting.Delete(k)
}

// wait adds a record that joined nothing to the shared store, where it waits for its
// window to close.
func (j *streamJoinSide[K, V, VO, VR]) wait(key K, ts time.Time, value V) error {
	kb, err := j.keys.Serialize(j.shared.Name(), key)
	if err != nil {
		return fmt.Errorf("topology: %s: serializing key: %w", j.shared.Name(), err)
	}
	vb, err := j.values.Serialize(j.shared.Name(), value)
	if err != nil {
		return fmt.Errorf("topology: %s: serializing value: %w", j.shared.Name(), err)
	}
	k := waitingKey(ts, j.left, kb)
	list, _, err := j.waiting.Get(k)
	if err != nil {
		return err
	}
	list = binary.AppendUvarint(list, uint64(len(vb)))
	if err := j.waiting.Put(k, append(list, vb...)); err != nil {
		return err
	}
	j.time.waiting(ts)
	return nil
}

// emitClosed forwards the waiting records whose window closed: those of the left side
// at t once stream time passes t + after + grace, those of the right side once it
// passes t + before + grace (the windows as the left side sees them). Kafka Streams:
// KStreamKStreamJoin#emitNonJoinedOuterRecords, without its throttling by wall-clock
// time.
func (j *streamJoinSide[K, V, VO, VR]) emitClosed() error {
	jt, w := j.time, j.windows
	if jt.scanned && (!jt.hasMin || !jt.min.Add(min(w.before, w.after)+w.grace).Before(jt.stream)) {
		return nil
	}
	it, err := j.waiting.All()
	if err != nil {
		return err
	}
	jt.scanned, jt.hasMin = true, false
	var closed [][]byte
	leftOpen, rightOpen := false, false
	for !(leftOpen && rightOpen) && it.Next() {
		k, list := it.Key(), it.Value()
		ts, left, kb, err := parseWaitingKey(k)
		if err != nil {
			return errors.Join(fmt.Errorf("topology: %s: %w", j.shared.Name(), err), it.Close())
		}
		lookAhead := w.before
		if left {
			lookAhead = w.after
		}
		if !ts.Add(lookAhead + w.grace).Before(jt.stream) {
			if !jt.hasMin {
				jt.min, jt.hasMin = ts, true
			}
			if left {
				leftOpen = true
			} else {
				rightOpen = true
			}
			continue
		}
		if err := j.forwardWaiting(ts, left, kb, list); err != nil {
			return errors.Join(err, it.Close())
		}
		closed = append(closed, append([]byte(nil), k...))
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	for _, k := range closed {
		if err := j.waiting.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// forwardWaiting forwards the results of the values of one entry of the shared store,
// joined with nothing, in the order they arrived.
func (j *streamJoinSide[K, V, VO, VR]) forwardWaiting(ts time.Time, left bool, kb, list []byte) error {
	name := j.shared.Name()
	key, err := j.keys.Deserialize(name, kb)
	if err != nil {
		return fmt.Errorf("topology: %s: deserializing key: %w", name, err)
	}
	for len(list) > 0 {
		n, w := binary.Uvarint(list)
		if w <= 0 || uint64(len(list)-w) < n {
			return fmt.Errorf("topology: %s: a corrupt list of values", name)
		}
		vb := list[w : w+int(n)]
		list = list[w+int(n):]
		var value VR
		if left == j.left {
			v, err := j.values.Deserialize(name, vb)
			if err != nil {
				return fmt.Errorf("topology: %s: deserializing value: %w", name, err)
			}
			var none VO
			value = j.result(key, v, true, none, false)
		} else {
			o, err := j.otherValues.Deserialize(name, vb)
			if err != nil {
				return fmt.Errorf("topology: %s: deserializing value: %w", name, err)
			}
			var none V
			value = j.result(key, none, false, o, true)
		}
		j.ctx.forward(dslRecord[K, VR]{Record: processor.Record[K, VR]{Key: key, Value: value, Timestamp: ts}})
	}
	return nil
}

// waitingKey is the key of the shared store: the timestamp (sign bit flipped, so that
// bytes order as times), the side (0 left, 1 right), then the serialized key. Kafka
// Streams: TimestampedKeyAndJoinSide.
func waitingKey(ts time.Time, left bool, key []byte) []byte {
	out := make([]byte, 9, 9+len(key))
	binary.BigEndian.PutUint64(out, uint64(ts.UnixMilli())^(1<<63))
	if !left {
		out[8] = 1
	}
	return append(out, key...)
}

func parseWaitingKey(k []byte) (time.Time, bool, []byte, error) {
	if len(k) < 9 || k[8] > 1 {
		return time.Time{}, false, nil, fmt.Errorf("a corrupt key of %d bytes", len(k))
	}
	ts := time.UnixMilli(int64(binary.BigEndian.Uint64(k) ^ (1 << 63)))
	return ts, k[8] == 0, k[9:], nil
}
