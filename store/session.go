package store

import (
	"fmt"
	"math"
	"time"
)

// SessionStore holds values keyed by a key and a session: its start and end, both
// included, in milliseconds since the Unix epoch. It is a layer over a KeyValueStore (see
// NewSessionStore), with that store's rules: one task, one goroutine; slices passed in
// are not retained; values returned by FetchSession belong to the caller. Kafka Streams:
// SessionStore.
//
// Retention is that of WindowStore, measured on session ends: the observed stream time
// is the latest session end put, reads return only sessions that end after observed −
// retention, and a Put into an expired segment is dropped and counted.
type SessionStore interface {
	// Name is the name of the KeyValueStore under the layer.
	Name() string
	// Put stores value for the session of key from start to end (start <= end). value
	// must not be nil.
	Put(key []byte, start, end int64, value []byte) error
	// Remove removes the session of key from start to end.
	Remove(key []byte, start, end int64) error
	// FetchSession returns the value of the session of key from start to end.
	FetchSession(key []byte, start, end int64) (value []byte, found bool, err error)
	// FindSessions iterates over the sessions of key that end at or after earliestEnd
	// and start at or before latestStart, by end then start: those that overlap
	// [earliestEnd, latestStart] when earliestEnd <= latestStart. Kafka Streams:
	// SessionStore#findSessions(key, earliestSessionEndTime, latestSessionStartTime).
	FindSessions(key []byte, earliestEnd, latestStart int64) (SessionIterator, error)
	// Fetch iterates over every session of key, by end then start.
	Fetch(key []byte) (SessionIterator, error)
	// All iterates over every session within retention: by segment (of session ends),
	// then key (bytes.Compare order), then end, then start.
	All() (SessionIterator, error)
}

// SessionIterator walks the sessions of a SessionStore; see Iterator for the rules. Key
// and Value are valid until the next call to Next or Close.
type SessionIterator interface {
	Next() bool
	Key() []byte
	Start() int64
	End() int64
	Value() []byte
	Err() error
	Close() error
}

// SessionConfig configures a session store.
type SessionConfig struct {
	// Retention is how long a session is kept after its end, measured in observed
	// stream time, at least a millisecond. Kafka Streams: retentionPeriod.
	Retention time.Duration
	// SegmentInterval: see WindowConfig. Segments are of session ends. Default
	// DefaultSegmentInterval(Retention).
	SegmentInterval time.Duration
}

// NewSessionStore returns a session store that keeps its sessions in kv, as
// NewWindowStore does for windows.
func NewSessionStore(kv KeyValueStore, cfg SessionConfig) (SessionStore, error) {
	return newSessionStore(kv, cfg)
}

func newSessionStore(kv KeyValueStore, cfg SessionConfig) (*sessionStore, error) {
	r, i, err := resolveSegments(cfg.Retention, cfg.SegmentInterval)
	if err != nil {
		return nil, fmt.Errorf("store: session store %q: %w", kv.Name(), err)
	}
	s := &sessionStore{kv: kv}
	s.seg = newSegmented(kv, kindByteSession, r, i, func(k []byte) (int64, uint64, error) {
		_, _, _, end, err := decodeSessionKey(k)
		return end, 0, err
	})
	return s, nil
}

type sessionStore struct {
	kv  KeyValueStore
	seg *segmented
}

func (s *sessionStore) Name() string { return s.kv.Name() }

func (s *sessionStore) key(key []byte, start, end int64, op string) ([]byte, error) {
	if start > end {
		return nil, fmt.Errorf("store: session store %q: %s: session starts at %d, after its end %d", s.Name(), op, start, end)
	}
	if err := s.seg.ensureLoaded(); err != nil {
		return nil, err
	}
	return sessionKey(s.seg.segment(end), key, start, end), nil
}

func (s *sessionStore) Put(key []byte, start, end int64, value []byte) error {
	if value == nil {
		return fmt.Errorf("store: session store %q: put: %w", s.Name(), ErrNilValue)
	}
	k, err := s.key(key, start, end, "put")
	if err != nil {
		return err
	}
	if live, err := s.seg.admit(end); err != nil || !live {
		return err
	}
	if err := s.seg.advance(end); err != nil {
		return err
	}
	return s.kv.Put(k, value)
}

func (s *sessionStore) Remove(key []byte, start, end int64) error {
	k, err := s.key(key, start, end, "remove")
	if err != nil {
		return err
	}
	return s.kv.Delete(k)
}

func (s *sessionStore) FetchSession(key []byte, start, end int64) ([]byte, bool, error) {
	k, err := s.key(key, start, end, "fetch")
	if err != nil {
		return nil, false, err
	}
	v, found, err := s.kv.Get(k)
	if err != nil || !found {
		return nil, false, err
	}
	if expired, err := s.seg.expired(end); err != nil || expired {
		return nil, false, err
	}
	return v, true, nil
}

func (s *sessionStore) FindSessions(key []byte, earliestEnd, latestStart int64) (SessionIterator, error) {
	if err := s.seg.refresh(); err != nil {
		return nil, err
	}
	if !s.seg.known {
		return s.iter(emptySource{}, nil), nil
	}
	lo, hi := max(earliestEnd, s.seg.minLive()), s.seg.latest()
	if lo > hi {
		return s.iter(emptySource{}, nil), nil
	}
	src := newWalk(s.kv, s.seg.segment(lo), s.seg.segment(hi),
		func(seg int64) []byte { return appendTime(keyPrefix(seg, key, timeLen), lo) },
		func(seg int64) []byte { return sessionKey(seg, key, math.MaxInt64, hi) })
	return s.iter(src, func(start, _ int64) bool { return start <= latestStart }), nil
}

func (s *sessionStore) Fetch(key []byte) (SessionIterator, error) {
	return s.FindSessions(key, math.MinInt64, math.MaxInt64)
}

func (s *sessionStore) All() (SessionIterator, error) {
	if err := s.seg.refresh(); err != nil {
		return nil, err
	}
	if !s.seg.known {
		return s.iter(emptySource{}, nil), nil
	}
	it, err := s.kv.Range(dataStart, dataEnd)
	if err != nil {
		return nil, err
	}
	live := s.seg.minLive()
	return s.iter(iterSource{it}, func(_, end int64) bool { return end >= live }), nil
}

func (s *sessionStore) iter(src source, keep func(a, b int64) bool) SessionIterator {
	return &sessionIter{entryIter{src: src, keep: keep, name: s.Name(), decode: func(k []byte) ([]byte, int64, int64, error) {
		_, key, start, end, err := decodeSessionKey(k)
		return key, start, end, err
	}}}
}

type sessionIter struct{ entryIter }

func (i *sessionIter) Start() int64 { return i.a }
func (i *sessionIter) End() int64   { return i.b }
