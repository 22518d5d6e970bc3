package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

var kvCases = []testCase{
	{"Get of an absent key reports it absent", func(t *testing.T, e *env) {
		v, ok, err := e.kv("s").Get([]byte("k"))
		if err != nil || ok || v != nil {
			t.Errorf("Get = %q, %v, %v; want nil, false, nil", v, ok, err)
		}
	}},
	{"Get returns the value Put stored", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		wantValue(t, s, "k", "v")
	}},
	{"Put replaces the value of a present key", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v1")
		put(t, s, "k", "v2")
		wantValue(t, s, "k", "v2")
	}},
	{"Put of a nil value fails with ErrNilValue and changes nothing", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		if err := s.Put([]byte("k"), nil); !errors.Is(err, store.ErrNilValue) {
			t.Errorf("Put(k, nil) = %v, want ErrNilValue", err)
		}
		if err := s.Put([]byte("other"), nil); !errors.Is(err, store.ErrNilValue) {
			t.Errorf("Put(other, nil) = %v, want ErrNilValue", err)
		}
		wantValue(t, s, "k", "v")
		wantAbsent(t, s, "other")
	}},
	{"PutIfAbsent of a nil value fails with ErrNilValue and changes nothing", func(t *testing.T, e *env) {
		s := e.kv("s")
		if _, _, err := s.PutIfAbsent([]byte("k"), nil); !errors.Is(err, store.ErrNilValue) {
			t.Errorf("PutIfAbsent(k, nil) = %v, want ErrNilValue", err)
		}
		wantAbsent(t, s, "k")
	}},
	{"an empty value is a value, distinct from absence", func(t *testing.T, e *env) {
		s := e.kv("s")
		if err := s.Put([]byte("k"), []byte{}); err != nil {
			t.Fatalf("Put(k, []byte{}): %v", err)
		}
		v, ok, err := s.Get([]byte("k"))
		if err != nil || !ok || v == nil || len(v) != 0 {
			t.Errorf("Get = %#v, %v, %v; want a non-nil empty slice, true, nil", v, ok, err)
		}
		old, found, err := s.PutIfAbsent([]byte("k"), []byte("x"))
		if err != nil || !found || old == nil || len(old) != 0 {
			t.Errorf("PutIfAbsent = %#v, %v, %v; want a non-nil empty slice, true, nil", old, found, err)
		}
		wantPairs(t, "All", all(t, s), []pair{{"k", ""}})
	}},
	{"the empty key is a key like any other", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "a", "1")
		put(t, s, "", "empty")
		wantValue(t, s, "", "empty")
		wantPairs(t, "All", all(t, s), []pair{{"", "empty"}, {"a", "1"}})
		del(t, s, "")
		wantAbsent(t, s, "")
		wantPairs(t, "All after Delete", all(t, s), []pair{{"a", "1"}})
	}},
	{"PutIfAbsent stores the value of an absent key and reports it absent", func(t *testing.T, e *env) {
		s := e.kv("s")
		old, found, err := s.PutIfAbsent([]byte("k"), []byte("v"))
		if err != nil || found || old != nil {
			t.Errorf("PutIfAbsent = %q, %v, %v; want nil, false, nil", old, found, err)
		}
		wantValue(t, s, "k", "v")
	}},
	{"PutIfAbsent keeps the value of a present key and returns it", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v1")
		old, found, err := s.PutIfAbsent([]byte("k"), []byte("v2"))
		if err != nil || !found || string(old) != "v1" {
			t.Errorf("PutIfAbsent = %q, %v, %v; want v1, true, nil", old, found, err)
		}
		wantValue(t, s, "k", "v1")
	}},
	{"PutIfAbsent after Delete stores the new value", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v1")
		commit(t, e.db(), nil)
		del(t, s, "k")
		if _, found, err := s.PutIfAbsent([]byte("k"), []byte("v2")); err != nil || found {
			t.Errorf("PutIfAbsent after Delete: found %v, err %v; want false, nil", found, err)
		}
		wantValue(t, s, "k", "v2")
	}},
	{"Delete removes a present key", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		put(t, s, "l", "w")
		del(t, s, "k")
		wantAbsent(t, s, "k")
		wantValue(t, s, "l", "w")
	}},
	{"Delete of an absent key is not an error", func(t *testing.T, e *env) {
		s := e.kv("s")
		del(t, s, "never")
		commit(t, e.db(), nil)
		wantAbsent(t, s, "never")
		wantPairs(t, "All", all(t, s), nil)
	}},
	{"the slice Get returns belongs to the caller", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "value")
		v, _, err := s.Get([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		copy(v, "XXXXX")
		wantValue(t, s, "k", "value")
	}},
	{"the slice PutIfAbsent returns belongs to the caller", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "value")
		old, _, err := s.PutIfAbsent([]byte("k"), []byte("other"))
		if err != nil {
			t.Fatal(err)
		}
		copy(old, "XXXXX")
		wantValue(t, s, "k", "value")
	}},
	{"changing the key and value after Put does not change the store", func(t *testing.T, e *env) {
		s := e.kv("s")
		k, v := []byte("key"), []byte("value")
		if err := s.Put(k, v); err != nil {
			t.Fatal(err)
		}
		copy(k, "XXX")
		copy(v, "XXXXX")
		wantValue(t, s, "key", "value")
		wantAbsent(t, s, "XXX")
		commit(t, e.db(), nil)
		wantValue(t, s, "key", "value")
	}},
	{"changing the key and value after PutIfAbsent does not change the store", func(t *testing.T, e *env) {
		s := e.kv("s")
		k, v := []byte("key"), []byte("value")
		if _, _, err := s.PutIfAbsent(k, v); err != nil {
			t.Fatal(err)
		}
		copy(k, "XXX")
		copy(v, "XXXXX")
		wantValue(t, s, "key", "value")
		wantAbsent(t, s, "XXX")
	}},
	{"changing the key after Delete does not change the store", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "key", "value")
		put(t, s, "XXX", "other")
		k := []byte("key")
		if err := s.Delete(k); err != nil {
			t.Fatal(err)
		}
		copy(k, "XXX")
		wantAbsent(t, s, "key")
		wantValue(t, s, "XXX", "other")
	}},
	{"changing the bounds after Range or PrefixScan does not change the iteration", func(t *testing.T, e *env) {
		s := e.kv("s")
		for _, k := range []string{"a", "b", "ba", "c", "d"} {
			put(t, s, k, k)
		}
		from, to := []byte("b"), []byte("c")
		it, err := s.Range(from, to)
		copy(from, "a")
		copy(to, "d")
		wantPairs(t, "Range(b, c)", drain(t, it, err), []pair{{"b", "b"}, {"ba", "ba"}, {"c", "c"}})
		prefix := []byte("b")
		it, err = s.PrefixScan(prefix)
		copy(prefix, "d")
		wantPairs(t, "PrefixScan(b)", drain(t, it, err), []pair{{"b", "b"}, {"ba", "ba"}})
	}},
	{"Name is the name the store was asked for", func(t *testing.T, e *env) {
		for _, name := range []string{"counts", "", "a/b c\x00\xff"} {
			if got := e.kv(name).Name(); got != name {
				t.Errorf("KeyValue(%q).Name() = %q", name, got)
			}
		}
	}},
	{"KeyValue returns the same store for the same name", func(t *testing.T, e *env) {
		put(t, e.kv("s"), "k", "v")
		wantValue(t, e.kv("s"), "k", "v")
	}},
	{"large keys and values are stored whole", func(t *testing.T, e *env) {
		s := e.kv("s")
		key := bytes.Repeat([]byte("k\x00\xff"), 4<<10)
		value := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
		if err := s.Put(key, value); err != nil {
			t.Fatal(err)
		}
		commit(t, e.db(), nil)
		v, ok, err := s.Get(key)
		if err != nil || !ok || !bytes.Equal(v, value) {
			t.Errorf("Get of a 12 KiB key: %d bytes, %v, %v; want the 1 MiB value", len(v), ok, err)
		}
	}},
}
