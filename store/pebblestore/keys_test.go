package pebblestore

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/store/internal/keyspace"
)

func TestStorePrefixesArePrefixFree(t *testing.T) {
	names := []string{"", "a", "a\x00", "a\xff", "ab", "abc", "b", "\x01", "\x02",
		strings.Repeat("x", 127), strings.Repeat("x", 128), strings.Repeat("x", 300)}
	for _, a := range names {
		for _, b := range names {
			if a == b {
				continue
			}
			pa, pb := storePrefix(a), storePrefix(b)
			if bytes.HasPrefix(pa, pb) {
				t.Errorf("the prefix of store %q, %x, starts with that of store %q, %x", a, pa, b, pb)
			}
		}
		if p, o := storePrefix(a), offsetKey(a); bytes.HasPrefix(p, o[:1]) || bytes.HasPrefix(o, p[:1]) {
			t.Errorf("store %q: data prefix %x and offset key %x share their tag", a, p, o)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct {
		name        string
		prefix, end []byte
	}{
		{"an empty prefix has none", []byte{}, nil},
		{"a prefix of 0xFF bytes has none", []byte{0xFF, 0xFF}, nil},
		{"the last byte goes up", []byte("ab"), []byte("ac")},
		{"trailing 0xFF bytes go away", []byte{'a', 0xFF, 0xFF}, []byte{'b'}},
		{"a 0xFF byte before the last stays", []byte{0xFF, 'a'}, []byte{0xFF, 'b'}},
		{"a zero byte goes up", []byte{0x00}, []byte{0x01}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keyspace.PrefixEnd(c.prefix); !bytes.Equal(got, c.end) || (got == nil) != (c.end == nil) {
				t.Errorf("keyspace.PrefixEnd(%x) = %x, want %x", c.prefix, got, c.end)
			}
		})
	}
}

// TestBoundsStayInsideTheStore checks that the bounds of every scan of a store lie
// within the store's keys, for the store names and arguments where a careless layout
// spills into the next store.
func TestBoundsStayInsideTheStore(t *testing.T) {
	for _, name := range []string{"", "s", "s\xff", "\xff\xff"} {
		p := storePrefix(name)
		end := keyspace.PrefixEnd(p)
		inside := func(what string, lower, upper []byte) {
			t.Helper()
			if bytes.Compare(lower, p) < 0 || bytes.Compare(upper, end) > 0 {
				t.Errorf("store %q: %s bounds [%x, %x) leave the store's [%x, %x)", name, what, lower, upper, p, end)
			}
		}
		lower, upper := prefixKeys(p, nil)
		inside("All", lower, upper)
		lower, upper = prefixKeys(p, []byte{0xFF, 0xFF})
		inside("PrefixScan(FF FF)", lower, upper)
		lower, upper, _ = rangeKeys(p, nil, nil)
		inside("Range(nil, nil)", lower, upper)
		lower, upper, _ = rangeKeys(p, []byte{0xFF}, []byte{0xFF, 0xFF, 0xFF})
		inside("Range(FF, FF FF FF)", lower, upper)
	}
}
