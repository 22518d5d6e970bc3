package task

import (
	"errors"
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/processor"
)

// schedule is one punctuator scheduled by a node.
type schedule struct {
	node     *node
	interval time.Duration
	kind     processor.PunctuationType
	fn       processor.Punctuator
	// next is when it fires next; zero for a stream-time schedule until the task has
	// seen its first record.
	next      time.Time
	cancelled bool
}

func (s *schedule) Cancel() { s.cancelled = true }

// due reports whether s fires at time now of its clock, and if so moves next past now:
// a clock that jumps several intervals fires once. A stream-time schedule made before
// the task's first record fires at that record, then every interval; both as in Kafka
// Streams (PunctuationSchedule).
func (s *schedule) due(now time.Time) bool {
	if s.cancelled || now.IsZero() {
		return false
	}
	if s.next.IsZero() {
		s.next = now.Add(s.interval)
		return true
	}
	if now.Before(s.next) {
		return false
	}
	skipped := now.Sub(s.next) / s.interval
	s.next = s.next.Add((skipped + 1) * s.interval)
	return true
}

var errBadInterval = errors.New("punctuation interval must be positive")

func (t *Task) schedule(n *node, interval time.Duration, kind processor.PunctuationType, fn processor.Punctuator) (processor.Cancellable, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("task %s: node %q: %w, got %s", t.id, n.name, errBadInterval, interval)
	}
	if fn == nil {
		return nil, fmt.Errorf("task %s: node %q: nil punctuator", t.id, n.name)
	}
	if kind != processor.StreamTime && kind != processor.WallClockTime {
		return nil, fmt.Errorf("task %s: node %q: unknown punctuation type %v", t.id, n.name, kind)
	}
	s := &schedule{node: n, interval: interval, kind: kind, fn: fn}
	switch kind {
	case processor.WallClockTime:
		s.next = t.now().Add(interval)
	case processor.StreamTime:
		if !t.streamTime.IsZero() {
			s.next = t.streamTime.Add(interval)
		}
	}
	t.schedules = append(t.schedules, s)
	return s, nil
}

// punctuate runs the schedules of the given kind that are due at now.
func (t *Task) punctuate(kind processor.PunctuationType, now time.Time) (bool, error) {
	fired := false
	live := t.schedules[:0]
	for _, s := range t.schedules {
		if !s.cancelled {
			live = append(live, s)
		}
	}
	t.schedules = live
	for _, s := range live {
		if s.kind != kind || !s.due(now) {
			continue
		}
		fired = true
		t.current = nil
		if err := t.run(s.node, func() error { return s.fn(now) }); err != nil && !t.continueProcessing(err) {
			return fired, err
		}
	}
	return fired, nil
}
