package memstore

import (
	"bytes"

	"github.com/eddy-streams/eddy/store/internal/keyspace"
)

// bounds is the key interval of an iterator: lower included, upper excluded; nil means
// unbounded on that side. empty is set when the interval holds no key at all.
type bounds struct {
	lower, upper []byte
	empty        bool
}

// rangeBounds returns the bounds of Range(from, to), both included. The slices are
// copies: the caller may change from and to afterwards.
func rangeBounds(from, to []byte) bounds {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return bounds{empty: true}
	}
	b := bounds{lower: bytes.Clone(from)}
	if to != nil {
		b.upper = keyspace.After(to)
	}
	return b
}

// prefixBounds returns the bounds of PrefixScan(prefix), as copies.
func prefixBounds(prefix []byte) bounds {
	return bounds{lower: bytes.Clone(prefix), upper: keyspace.PrefixEnd(prefix)}
}

// above reports whether key is at or past the upper bound.
func (b *bounds) above(key []byte) bool {
	return b.upper != nil && bytes.Compare(key, b.upper) >= 0
}
