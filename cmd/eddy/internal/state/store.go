package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Kind is the kind of a store, read from its meta record.
type Kind int

const (
	KeyValue Kind = iota
	Window
	Session
)

func (k Kind) String() string {
	switch k {
	case Window:
		return "window"
	case Session:
		return "session"
	}
	return "key-value"
}

// The layout of window and session stores within their store (store/segmented.go):
//
//	meta:    0x00 -> version 1 | kind 'w' or 's' | segment interval | observed time | sequence limit
//	window:  0x01 | segment | escaped key | start [| sequence]
//	session: 0x01 | segment | escaped key | end | start
//
// Times and segments are 8 bytes big-endian with the sign bit flipped; the user key is
// escaped (0x00 as 0x00 0xFF) and ends with 0x00 0x01.
var metaKey = []byte{0x00}

const (
	segTagData  byte = 0x01
	metaVersion byte = 1
	metaLen          = 2 + 8 + 8 + 8
	timeLen          = 8
)

// Store is one store of a task.
type Store struct {
	t      *TaskDB
	name   string
	prefix []byte
	kind   Kind
}

// Store returns the store named name; its kind is that of its meta record, key-value
// when it has none.
func (t *TaskDB) Store(name string) (*Store, error) {
	s := &Store{t: t, name: name, prefix: storePrefix(name)}
	v, closer, err := t.db.Get(append(bytes.Clone(s.prefix), metaKey...))
	if errors.Is(err, pebble.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", name, err)
	}
	defer closer.Close()
	if len(v) == metaLen && v[0] == metaVersion && (v[1] == 'w' || v[1] == 's') {
		s.kind = Window
		if v[1] == 's' {
			s.kind = Session
		}
	}
	return s, nil
}

// Kind is the store's kind.
func (s *Store) Kind() Kind { return s.kind }

// Entry is one entry of a store. Start is a window's start, or a session's start and
// End its end (milliseconds); Seq numbers the duplicates of a window store that keeps
// them (a stream-stream join's), HasSeq says whether it does.
type Entry struct {
	Key, Value []byte
	Start, End int64
	Seq        uint64
	HasSeq     bool
}

// Get returns the value of key in a key-value store, or every window or session of key
// in a window or session store.
func (s *Store) Get(key []byte) ([]Entry, error) {
	return s.Scan(key, key, 0)
}

// Scan returns the entries whose keys are from from to to, both included (nil: no
// bound), at most limit of them (0: all). Key-value entries come in key order; window
// and session entries in the order of the store: by segment of time, then key, then
// time.
func (s *Store) Scan(from, to []byte, limit int) ([]Entry, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return nil, nil
	}
	opts := &pebble.IterOptions{LowerBound: s.prefix, UpperBound: prefixEnd(s.prefix)}
	if s.kind == KeyValue {
		if from != nil {
			opts.LowerBound = append(bytes.Clone(s.prefix), from...)
		}
		if to != nil {
			opts.UpperBound = append(append(bytes.Clone(s.prefix), to...), 0x00)
		}
	} else {
		opts.LowerBound = append(bytes.Clone(s.prefix), segTagData)
	}
	it, err := s.t.db.NewIter(opts)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		k := it.Key()[len(s.prefix):]
		e := Entry{Key: bytes.Clone(k), Value: bytes.Clone(it.Value())}
		if s.kind != KeyValue {
			if e, err = s.decode(k, e.Value); err != nil {
				return nil, errors.Join(err, it.Close())
			}
			if (from != nil && bytes.Compare(e.Key, from) < 0) || (to != nil && bytes.Compare(e.Key, to) > 0) {
				continue
			}
		}
		out = append(out, e)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// decode decodes the key of a window or session entry.
func (s *Store) decode(k, value []byte) (Entry, error) {
	if len(k) < 1+timeLen || k[0] != segTagData {
		return Entry{}, fmt.Errorf("store %q: key %x is not a %s key", s.name, k, s.kind)
	}
	key, rest, err := unescape(k[1+timeLen:])
	if err != nil {
		return Entry{}, fmt.Errorf("store %q: key %x: %w", s.name, k, err)
	}
	e := Entry{Key: key, Value: value}
	switch {
	case s.kind == Session && len(rest) == 2*timeLen:
		e.End, e.Start = readTime(rest), readTime(rest[timeLen:])
	case s.kind == Window && len(rest) == timeLen:
		e.Start = readTime(rest)
	case s.kind == Window && len(rest) == 2*timeLen:
		e.Start, e.Seq, e.HasSeq = readTime(rest), binary.BigEndian.Uint64(rest[timeLen:]), true
	default:
		return Entry{}, fmt.Errorf("store %q: key %x: %d bytes after the user key", s.name, k, len(rest))
	}
	return e, nil
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// unescape reads an escaped user key from the start of b and returns it and the rest.
func unescape(b []byte) (key, rest []byte, err error) {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0x00 {
			key = append(key, b[i])
			continue
		}
		switch b[i+1] {
		case 0x01:
			return key, b[i+2:], nil
		case 0xFF:
			key = append(key, 0x00)
			i++
		default:
			return nil, nil, fmt.Errorf("byte 0x%02x after 0x00 in the user key", b[i+1])
		}
	}
	return nil, nil, errors.New("unterminated user key")
}
