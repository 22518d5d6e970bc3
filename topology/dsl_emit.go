package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// This file holds what the windowed aggregations share: their stream time, the handling
// of late records, and the final results of EmitOnWindowClose.
//
// EmitOnWindowClose keeps, besides the aggregation's window or session store, a logged
// key-value store of its own, <name>-emit (changelog <application id>-<name>-emit-changelog):
//
//	0x00                                    -> stream time | window end emitted up to
//	0x01 | end | start | serialized key     -> empty: a window not emitted yet
//
// Times are 8 big-endian bytes with the sign bit flipped, so that the index is ordered by
// window end, then start, then key. Each window is indexed when it is created and its
// entry deleted when it is emitted, both in the task's transaction with the aggregate
// itself, so each window is emitted once across restarts and rebalances. When stream time
// advances, the operator emits the indexed windows that closed, in index order, before it
// applies the record (the store may expire what closed). The stream time saved with each
// emission is restored when the task starts, so a record for a window emitted before a
// restart is still late after it. Kafka Streams keeps the last emitted close time in the
// processor metadata of its commits, and finds closed windows with a time-ordered store.

const (
	emitStateTag byte = 0x00
	emitEntryTag byte = 0x01
)

// emitStoreName is the name of the emit store of the aggregation whose store is name.
func emitStoreName(name string) string { return name + "-emit" }

// emitStore defines the emit store of the aggregation whose store is name.
func emitStore(name string) store.KeyValueDef[[]byte, []byte] {
	return store.KeyValue(emitStoreName(name), serde.Bytes(), serde.Bytes())
}

// finalEmitter indexes the windows of one task's aggregation that are not emitted yet.
type finalEmitter[K any] struct {
	kv    store.KV[[]byte, []byte]
	keys  serde.Serde[K]
	topic string
	// emittedUpTo is the largest window end emitted up to: no entry of the index ends at
	// or before it, so scans start after it.
	emittedUpTo int64
}

// open loads the emitter's state and returns the stream time saved with the last
// emission, or noTime.
func (e *finalEmitter[K]) open() (int64, error) {
	e.emittedUpTo = math.MinInt64
	v, found, err := e.kv.Get([]byte{emitStateTag})
	if err != nil || !found {
		return noTime, err
	}
	if len(v) != 16 {
		return noTime, fmt.Errorf("topology: store %q: emit state of %d bytes: %w", e.topic, len(v), serde.ErrSize)
	}
	e.emittedUpTo = int64(binary.BigEndian.Uint64(v[8:]))
	return int64(binary.BigEndian.Uint64(v)), nil
}

func appendFlipped(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

func readFlipped(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func (e *finalEmitter[K]) entry(key K, start, end int64) ([]byte, error) {
	k, err := e.keys.Serialize(e.topic, key)
	if err != nil {
		return nil, fmt.Errorf("topology: store %q: serializing key: %w", e.topic, err)
	}
	b := make([]byte, 0, 17+len(k))
	b = append(b, emitEntryTag)
	b = appendFlipped(b, end)
	b = appendFlipped(b, start)
	return append(b, k...), nil
}

// add indexes the window of key from start to end.
func (e *finalEmitter[K]) add(key K, start, end int64) error {
	k, err := e.entry(key, start, end)
	if err != nil {
		return err
	}
	return e.kv.Put(k, []byte{})
}

// remove drops the window of key from start to end from the index, as when a session is
// merged into another.
func (e *finalEmitter[K]) remove(key K, start, end int64) error {
	k, err := e.entry(key, start, end)
	if err != nil {
		return err
	}
	return e.kv.Delete(k)
}

// closedWindow is an indexed window that closed.
type closedWindow[K any] struct {
	key        K
	start, end int64
	entry      []byte
}

// emit calls fn on each indexed window that ends at or before maxEnd, in index order,
// and removes it; then, when it found any, saves streamTime. fn returns whether the
// window was still in the store.
func (e *finalEmitter[K]) emit(maxEnd, streamTime int64, fn func(key K, start, end int64) (bool, error)) error {
	if maxEnd <= e.emittedUpTo {
		return nil
	}
	from := []byte{emitEntryTag}
	if e.emittedUpTo != math.MinInt64 {
		from = appendFlipped(from, e.emittedUpTo+1)
	}
	to := appendFlipped([]byte{emitEntryTag}, maxEnd)
	to = append(to, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	it, err := e.kv.Range(from, to)
	if err != nil {
		return err
	}
	var due []closedWindow[K]
	for it.Next() {
		k := it.Key()
		if len(k) < 17 {
			err = fmt.Errorf("topology: store %q: index entry of %d bytes: %w", e.topic, len(k), serde.ErrSize)
			break
		}
		key, kerr := e.keys.Deserialize(e.topic, k[17:])
		if kerr != nil {
			err = fmt.Errorf("topology: store %q: deserializing key: %w", e.topic, kerr)
			break
		}
		due = append(due, closedWindow[K]{key: key, end: readFlipped(k[1:9]), start: readFlipped(k[9:17]), entry: k})
	}
	if err := errors.Join(err, it.Err(), it.Close()); err != nil {
		return err
	}
	// Nothing can be indexed at or before maxEnd any more: such windows are closed.
	e.emittedUpTo = maxEnd
	if len(due) == 0 {
		return nil
	}
	for _, w := range due {
		found, err := fn(w.key, w.start, w.end)
		if err != nil {
			return err
		}
		if !found {
			slog.Warn("topology: a closed window to emit was no longer in its store", "store", e.topic, "start", w.start, "end", w.end)
		}
		if err := e.kv.Delete(w.entry); err != nil {
			return err
		}
	}
	state := binary.BigEndian.AppendUint64(nil, uint64(streamTime))
	state = binary.BigEndian.AppendUint64(state, uint64(e.emittedUpTo))
	return e.kv.Put([]byte{emitStateTag}, state)
}

// windowedBase is what the windowed aggregations' processors share.
type windowedBase[K, V, VA any] struct {
	ctx  *dslContext[Windowed[K], Change[VA]]
	node string
	late func(LateRecord[K, V]) error
	// final is nil unless the aggregation emits on window close.
	final    *finalEmitter[K]
	finalDef store.KeyValueDef[[]byte, []byte]
	keys     serde.Serde[K]
	// observed is the operator's stream time: the largest timestamp it has seen, in
	// milliseconds, as Kafka Streams' observedStreamTime; noTime before the first.
	observed int64
	// dropCounter counts the late records dropped, for the log and plan.DropCounter.
	dropCounter
	// rolledBack is set when the engine rolled the task's stores back (Discard): stream
	// time and the emitter's state are then read again from the store, as of the last
	// commit, as Kafka Streams starts its processors over after an aborted transaction.
	rolledBack bool
}

// flush and discard make the windowed processors follow the engine's rollbacks: they
// hold no output, but their stream time and emit state must go back with the stores.
// The window or session store goes back by itself: the task resets its layer
// (store.Layer.Reset).
func (b *windowedBase[K, V, VA]) flush() error { return nil }
func (b *windowedBase[K, V, VA]) discard()     { b.rolledBack = true }

func (b *windowedBase[K, V, VA]) initBase(ctx *dslContext[Windowed[K], Change[VA]], emit EmitStrategy) error {
	b.ctx = ctx
	if emit == EmitOnWindowClose {
		b.final = &finalEmitter[K]{kv: b.finalDef.From(ctx), keys: b.keys, topic: b.finalDef.Name()}
	}
	return b.load()
}

// load sets stream time, and the emitter's state, from the store.
func (b *windowedBase[K, V, VA]) load() error {
	b.observed, b.rolledBack = noTime, false
	if b.final == nil {
		return nil
	}
	observed, err := b.final.open()
	b.observed = observed
	return err
}

// advance moves stream time to t, if later, after emitting the windows that close then
// (maxEnd returns the end of the last window closed at a stream time). It returns
// stream time.
func (b *windowedBase[K, V, VA]) advance(t int64, maxEnd func(streamTime int64) int64, emit func(key K, start, end int64) (bool, error)) (int64, error) {
	if b.rolledBack {
		if err := b.load(); err != nil {
			return b.observed, err
		}
	}
	if t <= b.observed {
		return b.observed, nil
	}
	if b.final != nil {
		if err := b.final.emit(maxEnd(t), t, emit); err != nil {
			return b.observed, err
		}
	}
	b.observed = t
	return t, nil
}

// forwardChange forwards the change of the window w, at ts.
func (b *windowedBase[K, V, VA]) forwardChange(w Windowed[K], c Change[VA], ts time.Time, headers []processor.Header) {
	b.ctx.forward(dslRecord[Windowed[K], Change[VA]]{Record: processor.Record[Windowed[K], Change[VA]]{Key: w, Value: c, Timestamp: ts, Headers: headers}})
}

// dropLate drops a record that belongs to the closed window w, which closed at stream
// time closedAt: it logs it at Debug and hands it to the late-record handler.
func (b *windowedBase[K, V, VA]) dropLate(r dslRecord[K, V], w Windowed[K], closedAt int64) error {
	b.drop()
	meta, hasMeta := b.ctx.node.RecordMetadata()
	slog.Debug("topology: skipping a record for a closed window",
		"node", b.node, "topic", meta.Topic, "partition", meta.Partition, "offset", meta.Offset,
		"timestamp", millis(r.Timestamp), "window_start", millis(w.Start), "window_end", millis(w.End),
		"window_close", closedAt, "stream_time", b.observed, "dropped", b.dropped())
	if b.late == nil {
		return nil
	}
	return b.late(LateRecord[K, V]{
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers,
		Metadata: meta, HasMetadata: hasMeta,
		Window: w, StreamTime: time.UnixMilli(b.observed), WindowClose: time.UnixMilli(closedAt),
	})
}
