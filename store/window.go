package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"
)

// WindowStore holds values keyed by a key and the start of a window, in milliseconds
// since the Unix epoch. It is a layer over a KeyValueStore (see NewWindowStore), with
// that store's rules: one task, one goroutine; slices passed in are not retained;
// values returned by Fetch belong to the caller. Kafka Streams: WindowStore.
//
// Retention: the store tracks its observed stream time, the latest window start put
// (Kafka Streams' observedStreamTime). Reads return only windows that start after
// observed − retention. A Put into an expired segment, one before the segment of
// observed − retention, is dropped and counted (Layer.ExpiredPuts); a Put of an older
// window into a live segment is kept, though reads hide it (both as in Kafka Streams).
// Whole segments of expired windows are deleted when the observed time moves into a new
// segment, without logging the deletes: the changelog expires by topic retention.
type WindowStore interface {
	// Name is the name of the KeyValueStore under the layer.
	Name() string
	// Put stores value for the window of key starting at windowStart. value must not be
	// nil. With RetainDuplicates every Put adds an entry; otherwise it replaces the value.
	Put(key []byte, windowStart int64, value []byte) error
	// Delete removes the window of key starting at windowStart, with every duplicate of
	// it in a store that retains duplicates (where Kafka Streams ignores deletes).
	Delete(key []byte, windowStart int64) error
	// Fetch returns the value of the window of key starting at windowStart: with
	// duplicates, the one put first.
	Fetch(key []byte, windowStart int64) (value []byte, found bool, err error)
	// FetchRange iterates over the windows of key that start in [from, to], by start,
	// duplicates in the order they were put.
	FetchRange(key []byte, from, to int64) (WindowIterator, error)
	// FetchAll iterates over the windows of every key that start in [from, to]: by
	// segment, then key (bytes.Compare order), then start, then duplicates in the order
	// they were put. So the order is by start only across segments.
	FetchAll(from, to int64) (WindowIterator, error)
	// All iterates over every window within retention, in the order of FetchAll.
	All() (WindowIterator, error)
}

// WindowIterator walks the windows of a WindowStore; see Iterator for the rules. Key and
// Value are valid until the next call to Next or Close.
type WindowIterator interface {
	Next() bool
	Key() []byte
	WindowStart() int64
	Value() []byte
	Err() error
	Close() error
}

// WindowConfig configures a window store.
type WindowConfig struct {
	// Retention is how long a window is kept after its start, measured in observed
	// stream time, at least a millisecond. Kafka Streams: retentionPeriod.
	Retention time.Duration
	// SegmentInterval is the time span of one segment of the key space: expiry deletes
	// whole segments, and a fetch of one key reads each segment of its time range.
	// Default DefaultSegmentInterval(Retention). The interval a store was first written
	// with stays that store's: a later configuration does not change it.
	SegmentInterval time.Duration
	// RetainDuplicates keeps every value put for a key and window start, rather than the
	// last one (Kafka Streams' retainDuplicates, for stream-stream joins). Changing it
	// for a store that holds data makes its keys unreadable (ErrCorruptKey).
	RetainDuplicates bool
}

// resolveSegments checks a retention and a segment interval (0 for the default) and
// returns them in milliseconds.
func resolveSegments(retention, interval time.Duration) (int64, int64, error) {
	r, err := millis("retention", retention)
	if err != nil {
		return 0, 0, err
	}
	if interval == 0 {
		interval = DefaultSegmentInterval(retention)
	}
	i, err := millis("segment interval", interval)
	if err != nil {
		return 0, 0, err
	}
	return r, i, nil
}

// NewWindowStore returns a window store that keeps its windows in kv, which must hold
// nothing else. Its keys are laid out as segment, key, start (and a sequence number with
// duplicates), plus one meta record with the observed stream time; a changelog of kv
// carries them as they are. When kv implements Unlogger, expired segments are deleted
// through Unlogged. Creating the store reads nothing: the first call reads the meta
// record.
func NewWindowStore(kv KeyValueStore, cfg WindowConfig) (WindowStore, error) {
	return newWindowStore(kv, cfg)
}

func newWindowStore(kv KeyValueStore, cfg WindowConfig) (*windowStore, error) {
	r, i, err := resolveSegments(cfg.Retention, cfg.SegmentInterval)
	if err != nil {
		return nil, fmt.Errorf("store: window store %q: %w", kv.Name(), err)
	}
	w := &windowStore{kv: kv, dups: cfg.RetainDuplicates}
	w.seg = newSegmented(kv, kindByteWindow, r, i, func(k []byte) (int64, uint64, error) {
		_, _, start, seq, err := decodeWindowKey(k, w.dups)
		if !w.dups {
			return start, 0, err
		}
		return start, seq + 1, err
	})
	return w, nil
}

type windowStore struct {
	kv   KeyValueStore
	seg  *segmented
	dups bool
}

func (w *windowStore) Name() string { return w.kv.Name() }

func (w *windowStore) key(key []byte, start int64, seq uint64) []byte {
	return windowKey(w.seg.segment(start), key, start, w.dups, seq)
}

func (w *windowStore) Put(key []byte, start int64, value []byte) error {
	if value == nil {
		return fmt.Errorf("store: window store %q: put: %w", w.Name(), ErrNilValue)
	}
	if err := w.seg.ensureLoaded(); err != nil {
		return err
	}
	if live, err := w.seg.admit(start); err != nil || !live {
		return err
	}
	if err := w.seg.advance(start); err != nil {
		return err
	}
	var seq uint64
	if w.dups {
		var err error
		if seq, err = w.seg.nextSeq(); err != nil {
			return err
		}
	}
	return w.kv.Put(w.key(key, start, seq), value)
}

func (w *windowStore) Delete(key []byte, start int64) error {
	if err := w.seg.ensureLoaded(); err != nil {
		return err
	}
	if !w.dups {
		return w.kv.Delete(w.key(key, start, 0))
	}
	it, err := w.kv.Range(w.key(key, start, 0), w.key(key, start, math.MaxUint64))
	if err != nil {
		return err
	}
	for it.Next() {
		if err := w.kv.Delete(it.Key()); err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Err(), it.Close())
}

func (w *windowStore) Fetch(key []byte, start int64) ([]byte, bool, error) {
	if err := w.seg.ensureLoaded(); err != nil {
		return nil, false, err
	}
	var value []byte
	if !w.dups {
		v, found, err := w.kv.Get(w.key(key, start, 0))
		if err != nil || !found {
			return nil, false, err
		}
		value = v
	} else {
		it, err := w.kv.Range(w.key(key, start, 0), w.key(key, start, math.MaxUint64))
		if err != nil {
			return nil, false, err
		}
		if it.Next() {
			value = bytes.Clone(it.Value())
			if value == nil {
				value = []byte{}
			}
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil || value == nil {
			return nil, false, err
		}
	}
	if expired, err := w.seg.expired(start); err != nil || expired {
		return nil, false, err
	}
	return value, true, nil
}

// bounds refreshes the observed time and narrows [from, to] to the windows that can be
// live; ok is false when none can.
func (w *windowStore) bounds(from, to int64) (lo, hi int64, ok bool, err error) {
	if err := w.seg.refresh(); err != nil {
		return 0, 0, false, err
	}
	if !w.seg.known {
		return 0, 0, false, nil
	}
	lo, hi = max(from, w.seg.minLive()), min(to, w.seg.latest())
	return lo, hi, lo <= hi, nil
}

func (w *windowStore) FetchRange(key []byte, from, to int64) (WindowIterator, error) {
	lo, hi, ok, err := w.bounds(from, to)
	if err != nil || !ok {
		return w.iter(emptySource{}, nil), err
	}
	last := uint64(0)
	if w.dups {
		last = math.MaxUint64
	}
	src := newWalk(w.kv, w.seg.segment(lo), w.seg.segment(hi),
		func(seg int64) []byte { return windowKey(seg, key, lo, w.dups, 0) },
		func(seg int64) []byte { return windowKey(seg, key, hi, w.dups, last) })
	return w.iter(src, nil), nil
}

func (w *windowStore) FetchAll(from, to int64) (WindowIterator, error) {
	lo, hi, ok, err := w.bounds(from, to)
	if err != nil || !ok {
		return w.iter(emptySource{}, nil), err
	}
	end := dataEnd
	if s := w.seg.segment(hi); s < math.MaxInt64 {
		end = segmentPrefix(s + 1) // not a data key: sorts after every key of s
	}
	it, err := w.kv.Range(segmentPrefix(w.seg.segment(lo)), end)
	if err != nil {
		return nil, err
	}
	return w.iter(iterSource{it}, func(start, _ int64) bool { return start >= lo && start <= hi }), nil
}

func (w *windowStore) All() (WindowIterator, error) { return w.FetchAll(math.MinInt64, math.MaxInt64) }

func (w *windowStore) iter(src source, keep func(a, b int64) bool) WindowIterator {
	return &windowIter{entryIter{src: src, keep: keep, name: w.Name(), decode: func(k []byte) ([]byte, int64, int64, error) {
		_, key, start, _, err := decodeWindowKey(k, w.dups)
		return key, start, 0, err
	}}}
}

type windowIter struct{ entryIter }

func (i *windowIter) WindowStart() int64 { return i.a }
