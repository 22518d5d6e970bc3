package topology

import (
	"errors"
	"fmt"
	"time"
)

// slidingWindowAggregator is the processor of an aggregation over SlidingWindows. It
// follows Kafka Streams' KStreamSlidingWindowAggregate: a window exists for each distinct
// set of records, made when a record enters or leaves the sliding window. A record at t
// (with time difference d)
//   - updates every existing window that contains it;
//   - makes its left window [t-d, t], from the aggregate of the previous record's window
//     when that record is within d, unless the window exists;
//   - makes its right window [t+1, t+1+d], holding the records after it within d, if
//     there are any and the window does not exist;
//   - makes the right window of the previous record when t falls in it.
//
// The windows of a key from t-2d to t+1 tell which of these exist. Records earlier than
// d share the window [0, d], since windows do not start before 0.
type slidingWindowAggregator[K, V, VA any] struct {
	windowStoreAggregator[K, V, VA]
	spec SlidingWindows
}

// slidingWindow is a window of a key as the store holds it.
type slidingWindow[VA any] struct {
	start int64
	agg   ValueAndTimestamp[VA]
}

// optionalAgg is an aggregate that may be absent: Kafka Streams' null aggregate.
type optionalAgg[VA any] struct {
	agg ValueAndTimestamp[VA]
	ok  bool
}

func some[VA any](agg ValueAndTimestamp[VA]) optionalAgg[VA] {
	return optionalAgg[VA]{agg: agg, ok: true}
}

func (a *slidingWindowAggregator[K, V, VA]) window(key K, start int64) Windowed[K] {
	return Windowed[K]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(addMillis(start, a.spec.difference.Milliseconds()))}
}

func (a *slidingWindowAggregator[K, V, VA]) emitFinal(key K, start, _ int64) (bool, error) {
	v, found, err := a.ws.Fetch(key, time.UnixMilli(start))
	if err != nil || !found {
		return found, err
	}
	a.forwardChange(a.window(key, start), Change[VA]{New: v.Value, HasNew: true}, v.Timestamp, nil)
	return true, nil
}

// windows returns the windows of key that start in [from, to], by start.
func (a *slidingWindowAggregator[K, V, VA]) windows(key K, from, to int64) ([]slidingWindow[VA], error) {
	it, err := a.ws.FetchRange(key, time.UnixMilli(from), time.UnixMilli(to))
	if err != nil {
		return nil, err
	}
	var out []slidingWindow[VA]
	for it.Next() {
		out = append(out, slidingWindow[VA]{start: millis(it.Start()), agg: it.Value()})
	}
	return out, errors.Join(it.Err(), it.Close())
}

func (a *slidingWindowAggregator[K, V, VA]) process(r dslRecord[K, V]) error {
	if r.keyNull || r.valueNull {
		a.drop()
		return nil
	}
	t := millis(r.Timestamp)
	if t < 0 {
		// Windows start at 0 or later: a record before the epoch is in none. Kafka Streams
		// fails on it.
		return nil
	}
	d, grace := a.spec.difference.Milliseconds(), a.spec.grace.Milliseconds()
	// A sliding window [start, end] is closed once stream time > end + grace.
	observed, err := a.advance(t, func(st int64) int64 { return st - grace - 1 }, a.emitFinal)
	if err != nil {
		return err
	}
	closeTime := observed - grace
	if addMillis(t, d+1) <= closeTime {
		// Every window the record could belong to ends by t + d: all are closed.
		w := Windowed[K]{Key: r.Key, Start: time.UnixMilli(t - d), End: time.UnixMilli(t)}
		return a.dropLate(r, w, addMillis(t, grace+1))
	}
	s := slidingStep[K, V, VA]{a: a, r: r, t: t, d: d, closeTime: closeTime, starts: map[int64]bool{}}
	if t < d {
		return s.early()
	}
	return s.normal()
}

// slidingStep is the processing of one record by a slidingWindowAggregator.
type slidingStep[K, V, VA any] struct {
	a            *slidingWindowAggregator[K, V, VA]
	r            dslRecord[K, V]
	t, d         int64
	closeTime    int64
	starts       map[int64]bool
	left, right  optionalAgg[VA]
	leftExists   bool
	rightExists  bool
	previous     int64
	havePrevious bool
}

// normal processes a record at t >= d. It walks the windows from t+1 down to t-2d, as
// Kafka Streams does with a backward fetch.
func (s *slidingStep[K, V, VA]) normal() error {
	windows, err := s.a.windows(s.r.Key, max(0, s.t-2*s.d), s.t+1)
	if err != nil {
		return err
	}
	for i := len(windows) - 1; i >= 0; i-- {
		w := windows[i]
		s.starts[w.start] = true
		end := w.start + s.d
		latest := millis(w.agg.Timestamp)
		switch {
		case w.start == s.t+1:
			s.rightExists = true
		case end > s.t:
			if !s.right.ok {
				s.right = some(w.agg)
			}
			if err := s.update(w.start, some(w.agg), false); err != nil {
				return err
			}
		case end == s.t:
			s.leftExists = true
			if err := s.update(w.start, some(w.agg), false); err != nil {
				return err
			}
			if latest >= s.t {
				// A record at t was aggregated before: the windows around t exist.
				return nil
			}
			s.previous, s.havePrevious = latest, true
		default: // end < t: the window of the previous record
			s.left = some(w.agg)
			s.previous, s.havePrevious = latest, true
			return s.create()
		}
	}
	return s.create()
}

// early processes a record at t < d, whose left window would start before 0: records
// before d share the window [0, d].
func (s *slidingStep[K, V, VA]) early() error {
	windows, err := s.a.windows(s.r.Key, 0, s.t+1)
	if err != nil {
		return err
	}
	var combined optionalAgg[VA]
	for _, w := range windows {
		s.starts[w.start] = true
		latest := millis(w.agg.Timestamp)
		switch {
		case w.start == 0:
			combined = some(w.agg)
			if latest < s.t {
				s.previous, s.havePrevious = latest, true
			}
		case w.start <= s.t:
			s.right = some(w.agg)
			if err := s.update(w.start, some(w.agg), false); err != nil {
				return err
			}
		case w.start == s.t+1:
			s.rightExists = true
		default:
			return fmt.Errorf("sliding window starting at %d found for a record at %d", w.start, s.t)
		}
	}
	// With no window containing t but [0, d], the records of [0, d] after t are those of
	// t's right window.
	if !s.right.ok && combined.ok && millis(combined.agg.Timestamp) > s.t {
		s.right = combined
	}
	if err := s.createRight(); err != nil {
		return err
	}
	if s.havePrevious && !s.starts[s.previous+1] {
		if err := s.update(s.previous+1, optionalAgg[VA]{}, true); err != nil {
			return err
		}
	}
	return s.update(0, combined, !combined.ok)
}

// create makes the windows that the record needs and that do not exist.
func (s *slidingStep[K, V, VA]) create() error {
	if s.havePrevious {
		// The previous record's right window holds the records after it within d: this
		// one, when t is within d of it.
		start := s.previous + 1
		if !s.starts[start] && start+s.d >= s.t {
			if err := s.update(start, optionalAgg[VA]{}, true); err != nil {
				return err
			}
		}
	}
	if !s.leftExists {
		// The left window [t-d, t] holds the records of the previous record's window that
		// are within d of t, then this one.
		var base optionalAgg[VA]
		if s.havePrevious && s.t-s.d <= s.previous {
			base = some(ValueAndTimestamp[VA]{Value: s.left.agg.Value, Timestamp: s.r.Timestamp})
		}
		if err := s.update(s.t-s.d, base, true); err != nil {
			return err
		}
	}
	return s.createRight()
}

// createRight makes the record's right window [t+1, t+1+d] from the aggregate of the
// records after t, if any and if the window does not exist.
func (s *slidingStep[K, V, VA]) createRight() error {
	if s.rightExists || !s.right.ok || millis(s.right.agg.Timestamp) <= s.t {
		return nil
	}
	start := s.t + 1
	w := s.a.window(s.r.Key, start)
	if err := s.a.ws.Put(s.r.Key, w.Start, s.right.agg); err != nil {
		return err
	}
	if s.a.final != nil {
		return s.a.final.add(s.r.Key, start, millis(w.End))
	}
	return s.a.update(w, Change[VA]{New: s.right.agg.Value, HasNew: true}, s.right.agg.Timestamp, s.r.Headers)
}

// update adds the record to the window starting at start, whose aggregate so far is base
// (absent for a new, empty window), unless the window closed. created says that the
// window is new in the store.
func (s *slidingStep[K, V, VA]) update(start int64, base optionalAgg[VA], created bool) error {
	a, r := s.a, s.r
	w := a.window(r.Key, start)
	end := millis(w.End)
	if end < s.closeTime {
		return a.dropLate(r, w, addMillis(end, a.spec.grace.Milliseconds()+1))
	}
	next := ValueAndTimestamp[VA]{Timestamp: r.Timestamp}
	if base.ok {
		next.Value = a.add(r.Key, r.Value, base.agg.Value)
		if base.agg.Timestamp.After(next.Timestamp) {
			next.Timestamp = base.agg.Timestamp
		}
	} else {
		next.Value = a.first(r.Key, r.Value)
	}
	if err := a.ws.Put(r.Key, w.Start, next); err != nil {
		return err
	}
	if a.final != nil {
		if !created {
			return nil
		}
		return a.final.add(r.Key, start, end)
	}
	change := Change[VA]{New: next.Value, HasNew: true}
	if !created && base.ok {
		change.Old, change.HasOld = base.agg.Value, true
	}
	return a.update(w, change, next.Timestamp, r.Headers)
}
