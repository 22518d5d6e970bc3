package storetest

import (
	"fmt"
	"testing"
)

// isolationNames are store names where a careless key layout lets one store see another:
// names that are prefixes of others, and names with 0x00 and 0xFF bytes.
var isolationNames = []string{"", "a", "a\x00", "a\xff", "ab", "abc", "b"}

var isolationCases = []testCase{
	{"the same key in two stores holds two values", func(t *testing.T, e *env) {
		s1, s2 := e.kv("one"), e.kv("two")
		put(t, s1, "k", "1")
		put(t, s2, "k", "2")
		commit(t, e.db(), nil)
		wantValue(t, s1, "k", "1")
		wantValue(t, s2, "k", "2")
	}},
	{"a delete in one store leaves the same key in another", func(t *testing.T, e *env) {
		s1, s2 := e.kv("one"), e.kv("two")
		put(t, s1, "k", "1")
		put(t, s2, "k", "2")
		commit(t, e.db(), nil)
		del(t, s1, "k")
		commit(t, e.db(), nil)
		wantAbsent(t, s1, "k")
		wantValue(t, s2, "k", "2")
	}},
	{"stores whose names are prefixes of each other see only their own keys", func(t *testing.T, e *env) {
		db := e.db()
		for _, name := range isolationNames {
			s := e.kv(name)
			for _, k := range []string{"", "k", "\xff\xff"} {
				put(t, s, k, name)
			}
		}
		commit(t, db, nil)
		for _, name := range isolationNames {
			s := e.kv(name)
			want := []pair{{"", name}, {"k", name}, {"\xff\xff", name}}
			wantPairs(t, fmt.Sprintf("All of store %q", name), all(t, s), want)
			it, err := s.Range(nil, nil)
			wantPairs(t, fmt.Sprintf("Range(nil, nil) of store %q", name), drain(t, it, err), want)
			it, err = s.PrefixScan([]byte("\xff"))
			wantPairs(t, fmt.Sprintf("PrefixScan(0xFF) of store %q", name), drain(t, it, err), want[2:])
			it, err = s.PrefixScan(nil)
			wantPairs(t, fmt.Sprintf("PrefixScan(nil) of store %q", name), drain(t, it, err), want)
			n := count(t, s)
			if !e.persistent() && n != 3 {
				t.Errorf("store %q: ApproximateNumEntries = %d, want 3", name, n)
			}
			if n <= 0 {
				t.Errorf("store %q: ApproximateNumEntries = %d, want more than 0", name, n)
			}
		}
	}},
	{"an empty store next to a full one is empty", func(t *testing.T, e *env) {
		full, empty := e.kv("a"), e.kv("a\x00")
		for i := range 100 {
			put(t, full, fmt.Sprintf("\xff%03d", i), "v")
		}
		commit(t, e.db(), nil)
		wantPairs(t, "All of the empty store", all(t, empty), nil)
		if n := count(t, empty); n != 0 {
			t.Errorf("ApproximateNumEntries of the empty store = %d, want 0", n)
		}
	}},
}
