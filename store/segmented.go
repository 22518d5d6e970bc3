package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrCorruptKey is returned (wrapped) when a window or session store finds a key or its
// meta record that its layout cannot decode: the store was written by another kind of
// store, or damaged.
var ErrCorruptKey = errors.New("store: corrupt key")

// ErrInvalidConfig is returned (wrapped) by NewWindowStore and NewSessionStore, and by
// every call of a typed handle whose definition is invalid.
var ErrInvalidConfig = errors.New("store: invalid configuration")

// The layout of window and session stores in their KeyValueStore. Every key starts with
// a tag byte:
//
//	meta:    0x00
//	window:  0x01 | segment | escaped key | start       [| sequence]
//	session: 0x01 | segment | escaped key | end | start
//
// segment is floor(time / segment interval), the time being the window start or the
// session end. Times and segments are 8 bytes big-endian with the sign bit flipped, so
// that negative values sort before positive ones; the sequence number of duplicates is 8
// bytes big-endian. The user key is escaped (0x00 as 0x00 0xFF) and ends with 0x00 0x01:
// keys keep their bytes.Compare order and no key's entries mix with those of a key it is
// a prefix of. So within a segment, entries are ordered by key, then time.
//
// The meta value: version (1), kind ('w' or 's'), the segment interval of the layout in
// milliseconds, the observed stream time, and the sequence limit (every sequence number
// in use is below it). Changelogs carry these keys as they are.
const (
	tagMeta byte = 0x00
	tagData byte = 0x01

	kindByteWindow  byte = 'w'
	kindByteSession byte = 's'

	metaVersion byte = 1
	metaLen          = 2 + 8 + 8 + 8

	timeLen = 8
	segLen  = 8
	seqLen  = 8
)

var (
	metaKey   = []byte{tagMeta}
	dataStart = []byte{tagData}
	dataEnd   = []byte{tagData + 1} // not a data key: sorts after every one
	keyEnd    = []byte{0x00, 0x01}
)

// seqBlock is how many sequence numbers a window store with duplicates reserves with one
// write of its meta key.
const seqBlock = 1 << 16

// DefaultSegmentInterval is the segment interval of window and session stores whose
// configuration sets none: half the retention, and at least a minute. Kafka Streams:
// the same, for RocksDbWindowBytesStoreSupplier and RocksDbSessionBytesStoreSupplier.
func DefaultSegmentInterval(retention time.Duration) time.Duration {
	return max(retention/2, time.Minute)
}

func appendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// appendEscaped appends key, escaped and terminated.
func appendEscaped(b, key []byte) []byte {
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 {
			b = append(b, key...)
			break
		}
		b = append(b, key[:i+1]...)
		b = append(b, 0xFF)
		key = key[i+1:]
	}
	return append(b, keyEnd...)
}

// readEscaped reads an escaped key from the start of b and returns it and the rest of b.
// key is a subslice of b when it holds no 0x00 byte, else a new slice.
func readEscaped(b []byte) (key, rest []byte, err error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 || i+1 >= len(b) {
		return nil, nil, fmt.Errorf("%w: unterminated user key", ErrCorruptKey)
	}
	if b[i+1] == 0x01 {
		return b[:i], b[i+2:], nil
	}
	var out []byte
	for {
		switch {
		case i < 0 || i+1 >= len(b):
			return nil, nil, fmt.Errorf("%w: unterminated user key", ErrCorruptKey)
		case b[i+1] == 0x01:
			return append(out, b[:i]...), b[i+2:], nil
		case b[i+1] == 0xFF:
			out = append(out, b[:i+1]...)
			b = b[i+2:]
			i = bytes.IndexByte(b, 0)
		default:
			return nil, nil, fmt.Errorf("%w: byte 0x%02x after 0x00 in the user key", ErrCorruptKey, b[i+1])
		}
	}
}

// segmentPrefix returns tag | segment.
func segmentPrefix(seg int64) []byte {
	return appendTime(append(make([]byte, 0, 1+segLen), tagData), seg)
}

// keyPrefix returns tag | segment | escaped key, with room for n more bytes.
func keyPrefix(seg int64, key []byte, n int) []byte {
	b := make([]byte, 0, 1+segLen+len(key)+len(keyEnd)+n+4)
	return appendEscaped(appendTime(append(b, tagData), seg), key)
}

// decodeData splits a data key into its segment, user key and the fixed-size trailer
// that follows the key (trailer bytes exactly).
func decodeData(k []byte, trailer int) (seg int64, key, rest []byte, err error) {
	if len(k) < 1+segLen || k[0] != tagData {
		return 0, nil, nil, fmt.Errorf("%w: %d bytes, not a data key", ErrCorruptKey, len(k))
	}
	key, rest, err = readEscaped(k[1+segLen:])
	if err != nil {
		return 0, nil, nil, err
	}
	if len(rest) != trailer {
		return 0, nil, nil, fmt.Errorf("%w: %d bytes after the user key, want %d", ErrCorruptKey, len(rest), trailer)
	}
	return readTime(k[1:]), key, rest, nil
}

// windowKey returns the data key of a window; seq is used when dups is set.
func windowKey(seg int64, key []byte, start int64, dups bool, seq uint64) []byte {
	b := appendTime(keyPrefix(seg, key, timeLen+seqLen), start)
	if dups {
		b = binary.BigEndian.AppendUint64(b, seq)
	}
	return b
}

// decodeWindowKey decodes the data key of a window store; seq is 0 without duplicates.
func decodeWindowKey(k []byte, dups bool) (seg int64, key []byte, start int64, seq uint64, err error) {
	trailer := timeLen
	if dups {
		trailer += seqLen
	}
	seg, key, rest, err := decodeData(k, trailer)
	if err != nil {
		return 0, nil, 0, 0, err
	}
	if dups {
		seq = binary.BigEndian.Uint64(rest[timeLen:])
	}
	return seg, key, readTime(rest), seq, nil
}

// sessionKey returns the data key of a session.
func sessionKey(seg int64, key []byte, start, end int64) []byte {
	return appendTime(appendTime(keyPrefix(seg, key, 2*timeLen), end), start)
}

// decodeSessionKey decodes the data key of a session store.
func decodeSessionKey(k []byte) (seg int64, key []byte, start, end int64, err error) {
	seg, key, rest, err := decodeData(k, 2*timeLen)
	if err != nil {
		return 0, nil, 0, 0, err
	}
	end, start = readTime(rest), readTime(rest[timeLen:])
	if start > end {
		return 0, nil, 0, 0, fmt.Errorf("%w: session starts at %d after its end %d", ErrCorruptKey, start, end)
	}
	return seg, key, start, end, nil
}

// meta is the decoded meta record of a store.
type meta struct {
	kind     byte
	interval int64 // milliseconds
	observed int64
	seqLimit uint64
}

func (m meta) encode() []byte {
	b := make([]byte, 0, metaLen)
	b = append(b, metaVersion, m.kind)
	b = binary.BigEndian.AppendUint64(b, uint64(m.interval))
	b = appendTime(b, m.observed)
	return binary.BigEndian.AppendUint64(b, m.seqLimit)
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) != metaLen {
		return meta{}, fmt.Errorf("%w: meta record of %d bytes, want %d", ErrCorruptKey, len(b), metaLen)
	}
	if b[0] != metaVersion {
		return meta{}, fmt.Errorf("%w: meta record version %d, want %d", ErrCorruptKey, b[0], metaVersion)
	}
	m := meta{kind: b[1], interval: int64(binary.BigEndian.Uint64(b[2:])), observed: readTime(b[10:]), seqLimit: binary.BigEndian.Uint64(b[18:])}
	if m.kind != kindByteWindow && m.kind != kindByteSession {
		return meta{}, fmt.Errorf("%w: meta record of unknown kind 0x%02x", ErrCorruptKey, m.kind)
	}
	if m.interval <= 0 {
		return meta{}, fmt.Errorf("%w: meta record with segment interval %d ms", ErrCorruptKey, m.interval)
	}
	return m, nil
}

func kindName(k byte) string {
	if k == kindByteSession {
		return "session"
	}
	return "window"
}

// floorDiv is a/b rounded down, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// millis converts a configuration duration, refusing what is not a positive number of
// milliseconds.
func millis(what string, d time.Duration) (int64, error) {
	if d < time.Millisecond {
		return 0, fmt.Errorf("%w: %s %v is less than a millisecond", ErrInvalidConfig, what, d)
	}
	return d.Milliseconds(), nil
}

// segmented is the part that window and session stores share: the segments of their
// key space, the observed stream time, retention, and the meta record.
//
// The observed stream time (Kafka Streams: observedStreamTime) is the largest time put:
// window start or session end. A layer knows it exactly for the writes made through it;
// the meta record holds the value it had when it last moved into a new segment (written
// through the logging store, so a restore brings it back). The engine shares one layer
// per store and task among the processors (NewLayer), so that every reader of a store
// sees what its writer expired, as Kafka Streams' one store object does; it resets the
// layer (reset) when it rolls the store back. A second layer over the same KeyValueStore
// (a Processor API user's own, the test driver's) knows only what the meta record says:
// so a layer reads it again before every iterating read, before it drops a put or hides
// an entry as expired, and before it moves the observed time into a new segment. Two
// layers on one store then agree up to a segment interval, and a layer notices a
// rollback or a restore that crossed a segment.
type segmented struct {
	name      string
	kv        KeyValueStore // writes that a changelog must carry
	quiet     KeyValueStore // expiry deletes: kept out of the changelog
	kind      byte
	retention int64 // milliseconds
	// configured is the segment interval of the configuration; interval is that of the
	// meta record once loaded (milliseconds).
	configured, interval int64
	// timeOf decodes a data key into its time (window start, session end) and the
	// sequence limit it implies (its sequence number + 1; 0 without duplicates).
	timeOf func(k []byte) (t int64, seqLimit uint64, err error)

	loaded   bool
	known    bool // observed is set: something was put
	observed int64
	// seqNext and seqLimit are the block of sequence numbers this layer reserved;
	// metaLimit is the limit in the meta record when last read or written.
	seqNext, seqLimit, metaLimit uint64
	// expiredPuts counts the puts dropped because their segment had expired. Not reset.
	expiredPuts int64
}

func newSegmented(kv KeyValueStore, kind byte, retention, interval int64, timeOf func([]byte) (int64, uint64, error)) *segmented {
	s := &segmented{name: kv.Name(), kv: kv, quiet: kv, kind: kind, retention: retention, configured: interval, interval: interval, timeOf: timeOf}
	if u, ok := kv.(Unlogger); ok {
		s.quiet = u.Unlogged()
	}
	return s
}

func (s *segmented) errorf(format string, args ...any) error {
	return fmt.Errorf("store: %s store %q: "+format, append([]any{kindName(s.kind), s.name}, args...)...)
}

func (s *segmented) segment(t int64) int64 { return floorDiv(t, s.interval) }

// segmentEnd is the last millisecond of segment seg.
func (s *segmented) segmentEnd(seg int64) int64 {
	if seg >= floorDiv(math.MaxInt64, s.interval) {
		return math.MaxInt64
	}
	return seg*s.interval + s.interval - 1
}

// minLive is the earliest time reads return: observed − retention + 1.
func (s *segmented) minLive() int64 {
	if !s.known || s.observed < math.MinInt64+(s.retention-1) {
		return math.MinInt64
	}
	return s.observed - s.retention + 1
}

// minLiveSegment is the earliest segment that puts go into: that of observed −
// retention (Kafka Streams: AbstractSegments#getOrCreateSegmentIfLive, and the segments
// cleanupExpiredSegments keeps). It may hold entries that reads hide (before minLive).
func (s *segmented) minLiveSegment() int64 {
	if !s.known || s.observed < math.MinInt64+s.retention {
		return math.MinInt64
	}
	return s.segment(s.observed - s.retention)
}

// latest is the latest time any entry of the store can have: the end of the observed
// time's segment (the meta record may lag behind the entries within that segment).
func (s *segmented) latest() int64 { return s.segmentEnd(s.segment(s.observed)) }

// ensureLoaded reads the meta record once.
func (s *segmented) ensureLoaded() error {
	if s.loaded {
		return nil
	}
	return s.refresh()
}

// refresh reads the meta record and merges it into what the handle knows.
func (s *segmented) refresh() error {
	b, found, err := s.kv.Get(metaKey)
	if err != nil {
		return s.errorf("reading its meta record: %w", err)
	}
	if !found {
		return s.scan()
	}
	m, err := decodeMeta(b)
	if err != nil {
		return s.errorf("%w", err)
	}
	if m.kind != s.kind {
		return s.errorf("%w: it holds a %s store", ErrCorruptKey, kindName(m.kind))
	}
	s.interval = m.interval
	if !s.known || !s.loaded || s.segment(m.observed) != s.segment(s.observed) {
		s.observed = m.observed
	} else {
		s.observed = max(s.observed, m.observed)
	}
	s.known, s.loaded, s.metaLimit = true, true, m.seqLimit
	return nil
}

// scan finds the observed time and the sequence limit in the data, for a store without
// a meta record: a new store (which is quick), or one whose meta record a changelog's
// retention removed. It writes what it found to the meta record, unlogged.
func (s *segmented) scan() error {
	it, err := s.kv.All() // every key: one that is not of the layout is an error
	if err != nil {
		return s.errorf("scanning for its stream time: %w", err)
	}
	known, observed, limit := false, int64(math.MinInt64), uint64(0)
	for it.Next() {
		t, seq, err := s.timeOf(it.Key())
		if err != nil {
			it.Close()
			return s.errorf("scanning for its stream time: %w", err)
		}
		known, observed, limit = true, max(observed, t), max(limit, seq)
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return s.errorf("scanning for its stream time: %w", err)
	}
	s.loaded, s.known, s.observed, s.metaLimit = true, known, observed, limit
	if !known {
		return nil
	}
	if err := s.quiet.Put(metaKey, s.meta().encode()); err != nil {
		return s.errorf("writing its meta record: %w", err)
	}
	return nil
}

func (s *segmented) meta() meta {
	return meta{kind: s.kind, interval: s.interval, observed: s.observed, seqLimit: s.metaLimit}
}

// expired reports whether an entry of time t is older than retention, confirming with
// the meta record before it says so.
func (s *segmented) expired(t int64) (bool, error) {
	if t >= s.minLive() {
		return false, nil
	}
	if err := s.refresh(); err != nil {
		return false, err
	}
	return t < s.minLive(), nil
}

// admit reports whether a put of time t is kept: whether its segment is live, confirmed
// with the meta record before it says no. A put it refuses is counted. Kafka Streams
// drops (and counts) a put into an expired segment, not one that is only older than
// retention, which its reads hide: so does the layer.
func (s *segmented) admit(t int64) (bool, error) {
	if s.segment(t) >= s.minLiveSegment() {
		return true, nil
	}
	if err := s.refresh(); err != nil {
		return false, err
	}
	if s.segment(t) >= s.minLiveSegment() {
		return true, nil
	}
	s.expiredPuts++
	return false, nil
}

// publish writes the meta record as the layer knows it, unlogged; nothing before the
// first put.
func (s *segmented) publish() error {
	if !s.loaded || !s.known {
		return nil
	}
	if err := s.quiet.Put(metaKey, s.meta().encode()); err != nil {
		return s.errorf("writing its meta record: %w", err)
	}
	return nil
}

// reset forgets what the layer keeps in memory, for a store rolled back under it: the
// next call reads the meta record again.
func (s *segmented) reset() {
	s.loaded, s.known, s.observed, s.interval = false, false, 0, s.configured
	s.seqNext, s.seqLimit, s.metaLimit = 0, 0, 0
}

// advance moves the observed time to t if t is later. Moving into a new segment writes
// the meta record and deletes the segments that expired.
func (s *segmented) advance(t int64) error {
	if s.known && s.segment(t) <= s.segment(s.observed) {
		s.observed = max(s.observed, t)
		return nil
	}
	if err := s.refresh(); err != nil {
		return err
	}
	if s.known && s.segment(t) <= s.segment(s.observed) {
		s.observed = max(s.observed, t)
		return nil
	}
	s.known, s.observed = true, t
	if err := s.kv.Put(metaKey, s.meta().encode()); err != nil {
		return s.errorf("writing its meta record: %w", err)
	}
	return s.expire()
}

// expire deletes, without logging, every segment before the earliest live one: their
// entries are all older than retention.
func (s *segmented) expire() error {
	live := s.minLiveSegment()
	if live == math.MinInt64 {
		return nil
	}
	// The segment prefix of live is not a data key and sorts before all of live's.
	it, err := s.quiet.Range(dataStart, segmentPrefix(live))
	if err != nil {
		return s.errorf("deleting expired segments: %w", err)
	}
	for it.Next() {
		if err := s.quiet.Delete(it.Key()); err != nil {
			it.Close()
			return s.errorf("deleting expired segments: %w", err)
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return s.errorf("deleting expired segments: %w", err)
	}
	return nil
}

// nextSeq returns a new sequence number, above every one in use in the store. It reads
// the meta record every time: a rolled-back reservation must be made again, or a restore
// would hand out the numbers of the entries written since.
func (s *segmented) nextSeq() (uint64, error) {
	if err := s.refresh(); err != nil {
		return 0, err
	}
	if s.seqNext == s.seqLimit || s.metaLimit < s.seqLimit {
		start := max(s.metaLimit, s.seqNext)
		if start > math.MaxUint64-seqBlock {
			return 0, s.errorf("sequence numbers exhausted")
		}
		s.seqNext, s.seqLimit, s.metaLimit = start, start+seqBlock, start+seqBlock
		if err := s.kv.Put(metaKey, s.meta().encode()); err != nil {
			return 0, s.errorf("writing its meta record: %w", err)
		}
	}
	seq := s.seqNext
	s.seqNext++
	return seq, nil
}

// walk iterates over the entries of one user key in the segments from first to last:
// from lower(seg) to upper(seg) in each, both included. It skips empty segments with
// one Range each time it leaves a segment, so its cost follows the segments that hold
// data, not the time span.
type walk struct {
	kv           KeyValueStore
	lower, upper func(seg int64) []byte
	last         int64
	end          []byte // upper(last)

	it     Iterator
	from   []byte // where to open it
	seg    int64  // segment of lo and hi
	lo, hi []byte
	done   bool
	err    error
}

func newWalk(kv KeyValueStore, first, last int64, lower, upper func(int64) []byte) *walk {
	w := &walk{kv: kv, lower: lower, upper: upper, last: last, end: upper(last), done: first > last}
	w.setSegment(first)
	w.from = w.lo
	return w
}

func (w *walk) setSegment(seg int64) {
	w.seg, w.lo, w.hi = seg, w.lower(seg), w.upper(seg)
}

// next returns the next key and value in the walk.
func (w *walk) next() (k, v []byte, ok bool) {
	for !w.done {
		if w.it == nil {
			w.it, w.err = w.kv.Range(w.from, w.end)
			if w.err != nil {
				w.done = true
				return nil, nil, false
			}
		}
		if !w.it.Next() {
			w.err, w.done = w.it.Err(), true
			return nil, nil, false
		}
		k := w.it.Key()
		if len(k) < 1+segLen || k[0] != tagData {
			w.err, w.done = fmt.Errorf("%w: %d-byte key among data keys", ErrCorruptKey, len(k)), true
			return nil, nil, false
		}
		if seg := readTime(k[1:]); seg != w.seg {
			w.setSegment(seg)
		}
		switch {
		case bytes.Compare(k, w.lo) < 0:
			w.reopen(w.lo) // other keys of this segment come before ours
		case bytes.Compare(k, w.hi) > 0:
			if w.seg >= w.last {
				w.done = true
				return nil, nil, false
			}
			w.setSegment(w.seg + 1)
			w.reopen(w.lo)
		default:
			return k, w.it.Value(), true
		}
	}
	return nil, nil, false
}

func (w *walk) reopen(from []byte) {
	w.err = w.it.Close()
	w.it, w.from = nil, from
	if w.err != nil {
		w.done = true
	}
}

func (w *walk) close() error {
	w.done = true
	if w.it == nil {
		return nil
	}
	err := w.it.Close()
	w.it = nil
	return err
}

// source is where an entry iterator reads its keys: a walk, or a plain Iterator.
type source interface {
	next() (k, v []byte, ok bool)
	error() error
	close() error
}

func (w *walk) error() error { return w.err }

// iterSource is a source over an Iterator.
type iterSource struct{ it Iterator }

func (s iterSource) next() ([]byte, []byte, bool) {
	if !s.it.Next() {
		return nil, nil, false
	}
	return s.it.Key(), s.it.Value(), true
}
func (s iterSource) error() error { return s.it.Err() }
func (s iterSource) close() error { return s.it.Close() }

// emptySource yields nothing.
type emptySource struct{}

func (emptySource) next() ([]byte, []byte, bool) { return nil, nil, false }
func (emptySource) error() error                 { return nil }
func (emptySource) close() error                 { return nil }

// entryIter decodes the data keys of a source and keeps those that keep accepts. a and b
// are the two times of an entry: window start (b unused), or session start and end.
type entryIter struct {
	src    source
	decode func(k []byte) (key []byte, a, b int64, err error)
	keep   func(a, b int64) bool
	name   string

	key, value []byte
	a, b       int64
	err        error
	closed     bool
}

func (i *entryIter) Next() bool {
	if i.closed {
		i.err = fmt.Errorf("store %s: iterator used after Close: %w", i.name, ErrClosed)
		return false
	}
	if i.err != nil {
		return false
	}
	for {
		k, v, ok := i.src.next()
		if !ok {
			i.err = i.src.error()
			return false
		}
		key, a, b, err := i.decode(k)
		if err != nil {
			i.err = fmt.Errorf("store %s: %w", i.name, err)
			return false
		}
		if i.keep == nil || i.keep(a, b) {
			i.key, i.value, i.a, i.b = key, v, a, b
			return true
		}
	}
}

func (i *entryIter) Key() []byte   { return i.key }
func (i *entryIter) Value() []byte { return i.value }
func (i *entryIter) Err() error    { return i.err }

func (i *entryIter) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	i.key, i.value = nil, nil
	return i.src.close()
}
