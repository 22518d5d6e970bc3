package topology

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// This file holds the window definitions of the DSL's windowed aggregations, the
// Windowed key they produce and its serdes. Windows work on event time, in whole
// milliseconds (Kafka's timestamps): a record's timestamp picks its windows, and a
// window closes once the operator's stream time (the largest timestamp it has seen)
// passes its end plus the grace period. Records for a closed window are late: they are
// dropped and handed to the late-record handler (see OnLateRecord).

// TimeWindows are fixed-size windows aligned to the epoch: tumbling when they advance by
// their size (the default), hopping when they advance by less. A window covers
// [start, end), start included and end excluded, so a record whose timestamp is a
// window's end belongs to the next window. Windows start at 0 or later: a record with a
// negative timestamp falls in none. Kafka Streams: TimeWindows.
type TimeWindows struct {
	size, advance, grace time.Duration
}

// TimeWindowsOfSizeWithNoGrace defines tumbling windows of the given size with no grace
// period: a record is late as soon as stream time reaches the end of its window. Kafka
// Streams: TimeWindows.ofSizeWithNoGrace.
func TimeWindowsOfSizeWithNoGrace(size time.Duration) TimeWindows {
	return TimeWindows{size: size, advance: size}
}

// TimeWindowsOfSizeAndGrace defines tumbling windows of the given size that accept
// out-of-order records until stream time reaches their end plus grace. Kafka Streams:
// TimeWindows.ofSizeAndGrace.
func TimeWindowsOfSizeAndGrace(size, grace time.Duration) TimeWindows {
	return TimeWindows{size: size, advance: size, grace: grace}
}

// AdvanceBy returns hopping windows: the same size and grace, a new window starting every
// advance, which must be positive and at most the size. A record then belongs to up to
// size/advance windows. Kafka Streams: TimeWindows#advanceBy.
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	w.advance = advance
	return w
}

// Size, Advance and Grace return the definition's durations.
func (w TimeWindows) Size() time.Duration    { return w.size }
func (w TimeWindows) Advance() time.Duration { return w.advance }
func (w TimeWindows) Grace() time.Duration   { return w.grace }

func (w TimeWindows) validate() error {
	if err := wholeMillis("size", w.size, 1); err != nil {
		return err
	}
	if err := wholeMillis("advance", w.advance, 1); err != nil {
		return err
	}
	if w.advance > w.size {
		return fmt.Errorf("advance %s is larger than the size %s", w.advance, w.size)
	}
	return wholeMillis("grace", w.grace, 0)
}

// windowsFor returns the starts of the windows that contain the timestamp ts (in
// milliseconds), oldest first: every multiple of the advance in (ts-size, ts], from 0.
func (w TimeWindows) windowsFor(ts int64) []int64 {
	size, advance := w.size.Milliseconds(), w.advance.Milliseconds()
	start := max(0, ts-size+advance) / advance * advance
	var starts []int64
	for ; start <= ts; start += advance {
		starts = append(starts, start)
	}
	return starts
}

// SlidingWindows are fixed-size windows whose place follows the records: two records
// share a window when their timestamps differ by at most the time difference. A window
// covers [start, end], both included, with end = start + time difference. Each record
// makes the window that ends at it ([t - difference, t], its left window) and, when a
// later record of the key falls within the difference, the window that starts just after
// it ([t+1ms, t+1ms + difference], its right window), as in Kafka Streams'
// documentation: a window is made whenever a record enters or leaves the sliding window.
// Records earlier than the time difference share the window [0, difference]; records
// before the epoch are in no window. Kafka Streams: SlidingWindows.
type SlidingWindows struct {
	difference, grace time.Duration
}

// SlidingWindowsOfTimeDifferenceWithNoGrace defines sliding windows with no grace
// period. Kafka Streams: SlidingWindows.ofTimeDifferenceWithNoGrace.
func SlidingWindowsOfTimeDifferenceWithNoGrace(difference time.Duration) SlidingWindows {
	return SlidingWindows{difference: difference}
}

// SlidingWindowsOfTimeDifferenceAndGrace defines sliding windows that accept out-of-order
// records while stream time is at most their end plus grace (a sliding window closes
// when stream time > end + grace). Kafka Streams: SlidingWindows.ofTimeDifferenceAndGrace.
func SlidingWindowsOfTimeDifferenceAndGrace(difference, grace time.Duration) SlidingWindows {
	return SlidingWindows{difference: difference, grace: grace}
}

// TimeDifference and Grace return the definition's durations.
func (w SlidingWindows) TimeDifference() time.Duration { return w.difference }
func (w SlidingWindows) Grace() time.Duration          { return w.grace }

func (w SlidingWindows) validate() error {
	if err := wholeMillis("time difference", w.difference, 0); err != nil {
		return err
	}
	return wholeMillis("grace", w.grace, 0)
}

// SessionWindows group the records of a key into sessions: periods of activity separated
// by at least the inactivity gap. A session covers [first record, last record], both
// included; a record within the gap of one or more sessions of its key joins them, and
// sessions it bridges merge into one. Kafka Streams: SessionWindows.
type SessionWindows struct {
	gap, grace time.Duration
}

// SessionWindowsOfInactivityGapWithNoGrace defines sessions with no grace period. Kafka
// Streams: SessionWindows.ofInactivityGapWithNoGrace.
func SessionWindowsOfInactivityGapWithNoGrace(gap time.Duration) SessionWindows {
	return SessionWindows{gap: gap}
}

// SessionWindowsOfInactivityGapAndGrace defines sessions that accept out-of-order records
// until stream time passes their end plus the gap plus grace (a session [start, end]
// closes when stream time > end + gap + grace). Kafka Streams:
// SessionWindows.ofInactivityGapAndGrace.
func SessionWindowsOfInactivityGapAndGrace(gap, grace time.Duration) SessionWindows {
	return SessionWindows{gap: gap, grace: grace}
}

// InactivityGap and Grace return the definition's durations.
func (w SessionWindows) InactivityGap() time.Duration { return w.gap }
func (w SessionWindows) Grace() time.Duration         { return w.grace }

func (w SessionWindows) validate() error {
	if err := wholeMillis("inactivity gap", w.gap, 1); err != nil {
		return err
	}
	return wholeMillis("grace", w.grace, 0)
}

// wholeMillis checks that d is a whole number of milliseconds, at least min of them.
func wholeMillis(what string, d time.Duration, min int64) error {
	if d%time.Millisecond != 0 {
		return fmt.Errorf("%s %s is not a whole number of milliseconds", what, d)
	}
	if d.Milliseconds() < min {
		if min == 0 {
			return fmt.Errorf("%s %s is negative", what, d)
		}
		return fmt.Errorf("%s %s is not positive", what, d)
	}
	return nil
}

// Windowed is the key of a windowed aggregation: the record key and the window it was
// aggregated in. End is excluded for TimeWindows and included for sliding and session
// windows, as in Kafka Streams. Kafka Streams: Windowed<K>.
type Windowed[K any] struct {
	Key        K
	Start, End time.Time
}

func (w Windowed[K]) String() string {
	return fmt.Sprintf("%v@%d/%d", w.Key, w.Start.UnixMilli(), w.End.UnixMilli())
}

// TimeWindowedSerde is the serde of the keys of TimeWindows and SlidingWindows
// aggregations, in Kafka Streams' TimeWindowedSerializer format, so that each reads the
// other's topics: the key as keys serializes it, then the window start in milliseconds
// as 8 big-endian bytes. The end is not written: the deserializer sets it to start +
// size, where size is the windows' size (for sliding windows: the time difference).
// Kafka Streams: WindowedSerdes.timeWindowedSerdeFrom(type, size).
func TimeWindowedSerde[K any](keys serde.Serde[K], size time.Duration) serde.Serde[Windowed[K]] {
	if keys == nil {
		return nil
	}
	return serde.Func(
		func(topic string, w Windowed[K]) ([]byte, error) {
			k, err := keys.Serialize(topic, w.Key)
			if err != nil {
				return nil, err
			}
			return binary.BigEndian.AppendUint64(k, uint64(w.Start.UnixMilli())), nil
		},
		func(topic string, data []byte) (Windowed[K], error) {
			if len(data) < 8 {
				return Windowed[K]{}, fmt.Errorf("topology: a time-windowed key of %d bytes: %w", len(data), serde.ErrSize)
			}
			k, err := keys.Deserialize(topic, data[:len(data)-8])
			if err != nil {
				return Windowed[K]{}, err
			}
			start := int64(binary.BigEndian.Uint64(data[len(data)-8:]))
			return Windowed[K]{Key: k, Start: time.UnixMilli(start), End: time.UnixMilli(addMillis(start, size.Milliseconds()))}, nil
		},
	)
}

// SessionWindowedSerde is the serde of the keys of session aggregations, in Kafka
// Streams' SessionWindowedSerializer format: the key as keys serializes it, then the
// session's end and its start in milliseconds, each as 8 big-endian bytes. Kafka Streams:
// WindowedSerdes.sessionWindowedSerdeFrom(type).
func SessionWindowedSerde[K any](keys serde.Serde[K]) serde.Serde[Windowed[K]] {
	if keys == nil {
		return nil
	}
	return serde.Func(
		func(topic string, w Windowed[K]) ([]byte, error) {
			k, err := keys.Serialize(topic, w.Key)
			if err != nil {
				return nil, err
			}
			k = binary.BigEndian.AppendUint64(k, uint64(w.End.UnixMilli()))
			return binary.BigEndian.AppendUint64(k, uint64(w.Start.UnixMilli())), nil
		},
		func(topic string, data []byte) (Windowed[K], error) {
			if len(data) < 16 {
				return Windowed[K]{}, fmt.Errorf("topology: a session-windowed key of %d bytes: %w", len(data), serde.ErrSize)
			}
			n := len(data) - 16
			k, err := keys.Deserialize(topic, data[:n])
			if err != nil {
				return Windowed[K]{}, err
			}
			end := int64(binary.BigEndian.Uint64(data[n:]))
			start := int64(binary.BigEndian.Uint64(data[n+8:]))
			return Windowed[K]{Key: k, Start: time.UnixMilli(start), End: time.UnixMilli(end)}, nil
		},
	)
}

// addMillis adds without overflowing, as Kafka Streams' TimeWindow ends at Long.MAX_VALUE
// rather than wrapping.
func addMillis(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// EmitStrategy says when a windowed aggregation forwards its results. Kafka Streams:
// EmitStrategy.
type EmitStrategy int

const (
	// EmitOnWindowUpdate forwards the new aggregate of a window for every record that
	// updates it (the default), through the record cache: the updates of a window
	// between two commits are forwarded once, with the value of the last commit as the
	// old value, and a session made and merged away between two commits not at all
	// (WithoutRecordCache forwards every update at once). Kafka Streams:
	// EmitStrategy.onWindowUpdate(), with its caching window and session stores.
	EmitOnWindowUpdate EmitStrategy = iota
	// EmitOnWindowClose forwards each window's final aggregate once, when the window
	// closes (stream time passes its end plus grace), windows in the order they close,
	// and nothing before. Kafka Streams: EmitStrategy.onWindowClose(), and the results of
	// suppress(Suppressed.untilWindowCloses(unbounded())).
	EmitOnWindowClose
)

func (s EmitStrategy) String() string {
	switch s {
	case EmitOnWindowUpdate:
		return "on-window-update"
	case EmitOnWindowClose:
		return "on-window-close"
	}
	return fmt.Sprintf("EmitStrategy(%d)", int(s))
}

// LateRecord describes a record that a windowed aggregation dropped because a window it
// belongs to had closed, as handed to the handler set with OnLateRecord. A hopping
// window record is reported once for each closed window it belongs to, and still counts
// in the windows that are open; a session record is reported once.
type LateRecord[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []processor.Header
	// Metadata is the topic, partition and offset of the input record the task was
	// processing; HasMetadata is false when there is none (a record forwarded from a
	// wall-clock punctuator).
	Metadata    processor.RecordMetadata
	HasMetadata bool
	// Window is the closed window (its Key is the record's key): for sessions, the
	// session the record would have made or joined.
	Window Windowed[K]
	// StreamTime is the operator's stream time: the largest timestamp it has seen.
	StreamTime time.Time
	// WindowClose is the stream time from which Window took no more records: end + grace
	// for time windows, end + grace + 1ms for sliding windows, end + gap + grace + 1ms
	// for sessions.
	WindowClose time.Time
}

// millis is t in Kafka's milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// noTime is the operators' stream time before their first record, as Kafka Streams'
// ConsumerRecord.NO_TIMESTAMP.
const noTime int64 = -1
