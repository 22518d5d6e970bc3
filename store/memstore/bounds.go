package memstore

import "bytes"

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
		b.upper = keyAfter(to)
	}
	return b
}

// prefixBounds returns the bounds of PrefixScan(prefix), as copies.
func prefixBounds(prefix []byte) bounds {
	return bounds{lower: bytes.Clone(prefix), upper: prefixEnd(prefix)}
}

// keyAfter returns, in a new slice, the smallest key greater than key: key and a zero
// byte.
func keyAfter(key []byte) []byte {
	after := make([]byte, len(key)+1)
	copy(after, key)
	return after
}

// prefixEnd returns, in a new slice, the smallest key greater than every key that starts
// with prefix; nil when there is none (prefix is empty or all 0xFF bytes).
func prefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := bytes.Clone(prefix[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}

// above reports whether key is at or past the upper bound.
func (b *bounds) above(key []byte) bool {
	return b.upper != nil && bytes.Compare(key, b.upper) >= 0
}
