// Package keyspace holds the key arithmetic that every store engine needs to turn the
// inclusive bounds and prefixes of the store API into half-open key intervals.
package keyspace

import "bytes"

// After returns, in a new slice, the smallest key greater than key: key and a zero byte.
func After(key []byte) []byte {
	after := make([]byte, len(key)+1)
	copy(after, key)
	return after
}

// PrefixEnd returns, in a new slice, the smallest key greater than every key that starts
// with prefix; nil when there is none (prefix is empty or all 0xFF bytes).
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := bytes.Clone(prefix[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}
