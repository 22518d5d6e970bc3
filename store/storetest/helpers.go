package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// The helpers below fail the test on any error; keys and values are strings, which hold
// any bytes.

func mustKV(t *testing.T, db store.TaskDB, name string) store.KeyValueStore {
	t.Helper()
	s, err := db.KeyValue(name)
	if err != nil {
		t.Fatalf("KeyValue(%q): %v", name, err)
	}
	return s
}

func put(t *testing.T, s store.KeyValueStore, key, value string) {
	t.Helper()
	if err := s.Put([]byte(key), []byte(value)); err != nil {
		t.Fatalf("Put(%q, %q): %v", key, value, err)
	}
}

func del(t *testing.T, s store.KeyValueStore, key string) {
	t.Helper()
	if err := s.Delete([]byte(key)); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
}

func get(t *testing.T, s store.KeyValueStore, key string) (string, bool) {
	t.Helper()
	v, ok, err := s.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if ok && v == nil {
		t.Fatalf("Get(%q) found the key with a nil value", key)
	}
	return string(v), ok
}

// wantValue checks that key holds value.
func wantValue(t *testing.T, s store.KeyValueStore, key, value string) {
	t.Helper()
	if got, ok := get(t, s, key); !ok || got != value {
		t.Errorf("store %q: Get(%q) = %q, %v; want %q", s.Name(), key, got, ok, value)
	}
}

// wantAbsent checks that key has no value.
func wantAbsent(t *testing.T, s store.KeyValueStore, key string) {
	t.Helper()
	if got, ok := get(t, s, key); ok {
		t.Errorf("store %q: Get(%q) = %q; want it absent", s.Name(), key, got)
	}
}

func commit(t *testing.T, db store.TaskDB, offsets map[string]int64) {
	t.Helper()
	if err := db.Commit(offsets); err != nil {
		t.Fatalf("Commit(%v): %v", offsets, err)
	}
}

func abort(t *testing.T, db store.TaskDB) {
	t.Helper()
	if err := db.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
}

func offsets(t *testing.T, db store.TaskDB) map[string]int64 {
	t.Helper()
	got, err := db.CommittedOffsets()
	if err != nil {
		t.Fatalf("CommittedOffsets: %v", err)
	}
	return got
}

func wantOffsets(t *testing.T, db store.TaskDB, want map[string]int64) {
	t.Helper()
	if got := offsets(t, db); !maps.Equal(got, want) {
		t.Errorf("CommittedOffsets = %v, want %v", got, want)
	}
}

func count(t *testing.T, s store.KeyValueStore) int64 {
	t.Helper()
	n, err := s.ApproximateNumEntries()
	if err != nil {
		t.Fatalf("ApproximateNumEntries: %v", err)
	}
	return n
}

// pair is a key and its value.
type pair struct{ key, value string }

func (p pair) String() string { return fmt.Sprintf("%q=%q", p.key, p.value) }

// drain reads it to the end, checking that keys strictly increase and that Err is nil,
// and closes it.
func drain(t *testing.T, it store.Iterator, err error) []pair {
	t.Helper()
	if err != nil {
		t.Fatalf("opening an iterator: %v", err)
	}
	var out []pair
	for it.Next() {
		if it.Value() == nil {
			t.Fatalf("key %q has a nil Value", it.Key())
		}
		p := pair{key: string(it.Key()), value: string(it.Value())}
		if n := len(out); n > 0 && out[n-1].key >= p.key {
			t.Fatalf("iterator returned %q after %q", p.key, out[n-1].key)
		}
		out = append(out, p)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterator Err: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("iterator Close: %v", err)
	}
	return out
}

func keysOf(pairs []pair) []string {
	keys := make([]string, len(pairs))
	for i, p := range pairs {
		keys[i] = p.key
	}
	return keys
}

func all(t *testing.T, s store.KeyValueStore) []pair {
	t.Helper()
	it, err := s.All()
	return drain(t, it, err)
}

// wantPairs compares what an iteration returned with what it should have.
func wantPairs(t *testing.T, what string, got, want []pair) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s returned %d pairs %s,\nwant %d pairs %s", what, len(got), short(got), len(want), short(want))
	}
}

// short prints at most a few pairs.
func short(pairs []pair) string {
	const most = 12
	var b strings.Builder
	for i, p := range pairs {
		if i == most {
			fmt.Fprintf(&b, " …(%d more)", len(pairs)-most)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.String())
	}
	return "[" + b.String() + "]"
}

// wantErrClosed checks that err wraps store.ErrClosed.
func wantErrClosed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("%s: error %v, want one wrapping store.ErrClosed", what, err)
	}
}

// sortedPairs returns the pairs of m in key order.
func sortedPairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pair{key: k, value: m[k]})
	}
	return out
}

// filter returns the pairs whose keys keep accepts.
func filter(pairs []pair, keep func(key []byte) bool) []pair {
	var out []pair
	for _, p := range pairs {
		if keep([]byte(p.key)) {
			out = append(out, p)
		}
	}
	return out
}

// inRange reports whether key is within [from, to], nil meaning unbounded.
func inRange(key, from, to []byte) bool {
	return (from == nil || bytes.Compare(key, from) >= 0) && (to == nil || bytes.Compare(key, to) <= 0)
}
