package pebblestore

import (
	"bytes"
	"encoding/binary"

	"github.com/eddy-streams/eddy/store/internal/keyspace"
)

// Key layout of a task's Pebble DB. Every key starts with a tag byte:
//
//	tagOffset | name                              committed offset of store name
//	tagData   | uvarint(len(name)) | name | key    key of store name
//
// The length makes store prefixes prefix-free: of two different names, neither prefix
// starts with the other (same length: the names differ within it; different lengths: the
// uvarints, which are prefix-free, differ), so no bounded scan of one store ever reaches
// another's keys. Tag 0x00 is left for metadata of a later format.
const (
	tagOffset byte = 0x01
	tagData   byte = 0x02
)

// storePrefix returns the prefix of the keys of store name, in a new slice.
func storePrefix(name string) []byte {
	p := make([]byte, 0, 1+binary.MaxVarintLen64+len(name))
	p = append(p, tagData)
	p = binary.AppendUvarint(p, uint64(len(name)))
	return append(p, name...)
}

// offsetKey returns the key of the committed offset of store name.
func offsetKey(name string) []byte {
	return append([]byte{tagOffset}, name...)
}

// offsetKeys are the bounds of every offset key: lower included, upper excluded.
func offsetKeys() (lower, upper []byte) {
	return []byte{tagOffset}, []byte{tagOffset + 1}
}

// concat returns a new slice holding a then b, with room for one more byte.
func concat(a, b []byte) []byte {
	out := make([]byte, len(a)+len(b), len(a)+len(b)+1)
	copy(out, a)
	copy(out[len(a):], b)
	return out
}

// rangeKeys returns the Pebble bounds, lower included and upper excluded, of the keys of
// the store with prefix from from to to, both included; nil from or to is unbounded. ok
// is false when the range is empty (from > to).
func rangeKeys(prefix, from, to []byte) (lower, upper []byte, ok bool) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return nil, nil, false
	}
	lower = concat(prefix, from)
	if to == nil {
		upper = keyspace.PrefixEnd(prefix)
	} else {
		upper = keyspace.After(concat(prefix, to))
	}
	return lower, upper, true
}

// prefixKeys returns the Pebble bounds of the keys of the store with prefix that start
// with p.
func prefixKeys(prefix, p []byte) (lower, upper []byte) {
	lower = concat(prefix, p)
	return lower, keyspace.PrefixEnd(lower)
}
