package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// iterKeys are the keys of the Range and PrefixScan tables, in order, with 0x00 and 0xFF
// bytes where bounds are easy to get wrong. Each holds the value "v:"+key.
var iterKeys = []string{"\x00", "a", "a\x00", "aa", "ab", "b", "ba", "bb", "c", "\xff", "\xff\xff", "\xff\xff\x01"}

// layout writes iterKeys to a store: how much is committed and how much staged changes
// nothing to what reads see.
type layout struct {
	name  string
	write func(t *testing.T, db store.TaskDB, s store.KeyValueStore)
}

var layouts = []layout{
	{"all committed", func(t *testing.T, db store.TaskDB, s store.KeyValueStore) {
		for _, k := range iterKeys {
			put(t, s, k, "v:"+k)
		}
		commit(t, db, nil)
	}},
	{"all staged", func(t *testing.T, db store.TaskDB, s store.KeyValueStore) {
		for _, k := range iterKeys {
			put(t, s, k, "v:"+k)
		}
	}},
	mixedLayout,
}

// Half the keys committed with stale values that staged puts replace, the other half
// only staged; around every key, committed keys deleted since and staged keys deleted
// again, which reads must skip.
var mixedLayout = layout{"committed and staged, with deletes", func(t *testing.T, db store.TaskDB, s store.KeyValueStore) {
	for i, k := range iterKeys {
		if i%2 == 0 {
			put(t, s, k, "stale")
		}
		put(t, s, k+"\x00gone", "committed, then deleted")
	}
	commit(t, db, nil)
	for _, k := range iterKeys {
		put(t, s, k, "v:"+k)
		put(t, s, k+"\x00staged", "staged, then deleted")
		del(t, s, k+"\x00staged")
		del(t, s, k+"\x00gone")
	}
}}

// wantIterKeys returns the pairs that layouts write for keys.
func wantIterKeys(keys ...string) []pair {
	out := make([]pair, 0, len(keys))
	for _, k := range keys {
		out = append(out, pair{key: k, value: "v:" + k})
	}
	return out
}

// bytesOf returns *s as bytes; nil stays nil.
func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// str returns a pointer to s, for the tables' optional bounds.
func str(s string) *string { return &s }

func rangeGroup() []testCase {
	cases := []struct {
		name     string
		from, to *string // nil is a nil slice
		want     []pair
	}{
		{"both bounds are included", str("aa"), str("b"), wantIterKeys("aa", "ab", "b")},
		{"a nil from starts at the first key", nil, str("a"), wantIterKeys("\x00", "a")},
		{"a nil to ends at the last key", str("c"), nil, wantIterKeys("c", "\xff", "\xff\xff", "\xff\xff\x01")},
		{"nil bounds give every key", nil, nil, wantIterKeys(iterKeys...)},
		{"bounds that are not keys", str("a\x00\x00"), str("b\x00"), wantIterKeys("aa", "ab", "b")},
		{"from equal to to gives that key", str("b"), str("b"), wantIterKeys("b")},
		{"from equal to an absent to gives nothing", str("bc"), str("bc"), nil},
		{"from greater than to gives nothing", str("c"), str("a"), nil},
		{"from one byte past to gives nothing", str("b\x00"), str("b"), nil},
		{"a to that starts longer keys does not include them", str("a"), str("a"), wantIterKeys("a")},
		{"bounds of 0xFF bytes", str("\xff"), str("\xff\xff"), wantIterKeys("\xff", "\xff\xff")},
		{"an empty from starts at the first key", str(""), str("a"), wantIterKeys("\x00", "a")},
		{"an empty to ends before every non-empty key", nil, str(""), nil},
		{"a from past the last key gives nothing", str("\xff\xff\x02"), nil, nil},
	}
	var out []testCase
	for _, c := range cases {
		for _, l := range layouts {
			out = append(out, testCase{c.name + ", " + l.name, func(t *testing.T, e *env) {
				s := e.kv("s")
				l.write(t, e.db(), s)
				it, err := s.Range(bytesOf(c.from), bytesOf(c.to))
				wantPairs(t, fmt.Sprintf("Range(%s, %s)", quoteOrNil(c.from), quoteOrNil(c.to)), drain(t, it, err), c.want)
			}})
		}
	}
	return out
}

func prefixGroup() []testCase {
	cases := []struct {
		name   string
		prefix *string
		want   []pair
	}{
		{"a prefix of several keys", str("a"), wantIterKeys("a", "a\x00", "aa", "ab")},
		{"a prefix that is a whole key", str("aa"), wantIterKeys("aa")},
		{"a prefix of no key", str("x"), nil},
		{"a prefix of one 0x00 byte", str("\x00"), wantIterKeys("\x00")},
		{"a prefix of one 0xFF byte", str("\xff"), wantIterKeys("\xff", "\xff\xff", "\xff\xff\x01")},
		{"a prefix of two 0xFF bytes", str("\xff\xff"), wantIterKeys("\xff\xff", "\xff\xff\x01")},
		{"a prefix longer than every key", str("\xff\xff\x01\x00"), nil},
		{"an empty prefix gives every key", str(""), wantIterKeys(iterKeys...)},
		{"a nil prefix gives every key", nil, wantIterKeys(iterKeys...)},
	}
	var out []testCase
	for _, c := range cases {
		for _, l := range layouts {
			out = append(out, testCase{c.name + ", " + l.name, func(t *testing.T, e *env) {
				s := e.kv("s")
				l.write(t, e.db(), s)
				it, err := s.PrefixScan(bytesOf(c.prefix))
				wantPairs(t, fmt.Sprintf("PrefixScan(%s)", quoteOrNil(c.prefix)), drain(t, it, err), c.want)
			}})
		}
	}
	return out
}

func quoteOrNil(s *string) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *s)
}

var iteratorCases = []testCase{
	{"All on an empty store yields nothing", func(t *testing.T, e *env) {
		wantPairs(t, "All", all(t, e.kv("s")), nil)
	}},
	{"All returns every key in bytes.Compare order", func(t *testing.T, e *env) {
		s := e.kv("s")
		mixedLayout.write(t, e.db(), s)
		wantPairs(t, "All", all(t, s), wantIterKeys(iterKeys...))
	}},
	{"Next after the end keeps returning false and Err stays nil", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		it, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		if !it.Next() {
			t.Fatalf("Next = false on a store with a key; Err %v", it.Err())
		}
		for i := range 3 {
			if it.Next() {
				t.Fatalf("Next %d after the end = true", i)
			}
		}
		if err := it.Err(); err != nil {
			t.Errorf("Err after the end = %v", err)
		}
	}},
	{"closing an iterator twice is not an error", func(t *testing.T, e *env) {
		it, err := e.kv("s").All()
		if err != nil {
			t.Fatal(err)
		}
		if err := it.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
		if err := it.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}},
	{"Next after Close returns false and Err reports ErrClosed", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "a", "1")
		put(t, s, "b", "2")
		it, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		if !it.Next() {
			t.Fatalf("first Next = false; Err %v", it.Err())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if it.Next() {
			t.Error("Next after Close = true")
		}
		wantErrClosed(t, "Err after Next after Close", it.Err())
	}},
	{"Key and Value stay valid across writes, Commit and Abort until Next", func(t *testing.T, e *env) {
		db, s := e.db(), e.kv("s")
		put(t, s, "a", "value of a")
		put(t, s, "b", "value of b")
		commit(t, db, nil)
		it, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		if !it.Next() {
			t.Fatalf("Next = false; Err %v", it.Err())
		}
		k, v := it.Key(), it.Value()
		put(t, s, "a", "overwritten")
		put(t, s, "c", "value of c")
		commit(t, db, nil)
		put(t, s, "d", "value of d")
		abort(t, db)
		if string(k) != "a" || string(v) != "value of a" {
			t.Errorf("Key, Value = %q, %q after writes, Commit and Abort; want a, value of a", k, v)
		}
	}},
	{"writes during iteration leave the iterator in key order", func(t *testing.T, e *env) {
		s := e.kv("s")
		var want []string
		for c := 'a'; c <= 'z'; c++ {
			want = append(want, string(c))
			put(t, s, string(c), "committed")
		}
		commit(t, e.db(), nil)
		it, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		seen := map[string]bool{}
		last := ""
		for it.Next() {
			k := string(it.Key())
			if last != "" && k <= last {
				t.Fatalf("%q after %q", k, last)
			}
			last = k
			seen[k] = true
			if len(k) > 1 {
				continue // a key written below, which an iterator may or may not see
			}
			del(t, s, k)          // the key just read
			put(t, s, k+"!", "x") // a key between this one and the next
			put(t, s, "0", "x")   // a key before every other
		}
		if err := it.Err(); err != nil {
			t.Fatalf("Err: %v", err)
		}
		for _, k := range want {
			if !seen[k] {
				t.Errorf("key %q, never written during the iteration, was not returned", k)
			}
		}
	}},
	{"an iterator open across Commit and Abort stays in key order", func(t *testing.T, e *env) {
		db, s := e.db(), e.kv("s")
		for i := range 100 {
			put(t, s, fmt.Sprintf("k%03d", i), "v")
		}
		commit(t, db, nil)
		it, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		seen := map[string]bool{}
		last := ""
		for i := 0; it.Next(); i++ {
			k := string(it.Key())
			if last != "" && k <= last {
				t.Fatalf("%q after %q", k, last)
			}
			last = k
			seen[k] = true
			// Writes before and after the iterator's position, committed or aborted,
			// and then more writes staged in the batch that follows.
			switch i % 3 {
			case 0:
				put(t, s, fmt.Sprintf("a%03d", i), "committed during the iteration")
				put(t, s, fmt.Sprintf("x%03d", i), "committed during the iteration")
				commit(t, db, map[string]int64{"s": int64(i)})
			case 1:
				put(t, s, fmt.Sprintf("j%03d", i), "aborted")
				del(t, s, fmt.Sprintf("k%03d", i+1))
				abort(t, db)
			}
			for j := range 20 {
				put(t, s, fmt.Sprintf("b%03d-%02d", i, j), "staged during the iteration")
			}
		}
		if err := it.Err(); err != nil {
			t.Fatalf("Err: %v", err)
		}
		for i := range 100 {
			if k := fmt.Sprintf("k%03d", i); !seen[k] {
				t.Errorf("committed key %q was not returned", k)
			}
		}
	}},
	{"two iterators over one store move independently", func(t *testing.T, e *env) {
		s := e.kv("s")
		for _, k := range []string{"a", "b", "c"} {
			put(t, s, k, k)
		}
		it1, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		defer it1.Close()
		it2, err := s.Range([]byte("b"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer it2.Close()
		var got []string
		for range 3 {
			if it1.Next() {
				got = append(got, "1:"+string(it1.Key()))
			}
			if it2.Next() {
				got = append(got, "2:"+string(it2.Key()))
			}
		}
		want := []string{"1:a", "2:b", "1:b", "2:c", "1:c"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("interleaved iterators returned %q, want %q", got, want)
		}
	}},
	{"Range and PrefixScan agree with a filter over All", func(t *testing.T, e *env) {
		s := e.kv("s")
		mixedLayout.write(t, e.db(), s)
		every := all(t, s)
		for _, from := range iterKeys {
			for _, to := range iterKeys {
				it, err := s.Range([]byte(from), []byte(to))
				want := filter(every, func(k []byte) bool { return inRange(k, []byte(from), []byte(to)) })
				wantPairs(t, fmt.Sprintf("Range(%q, %q)", from, to), drain(t, it, err), want)
			}
			it, err := s.PrefixScan([]byte(from))
			want := filter(every, func(k []byte) bool { return bytes.HasPrefix(k, []byte(from)) })
			wantPairs(t, fmt.Sprintf("PrefixScan(%q)", from), drain(t, it, err), want)
		}
	}},
}
