package pebblestore

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/eddy-streams/eddy/store"
)

// The committed offset of a store is the value of its offset key (see keys.go), written
// in the batch of the data it reflects. Format 1 of the value:
//
//	0x01 | uvarint(offset)
//
// with the uvarint in its shortest form and nothing after it, so that each offset has
// exactly one encoding. A later format takes another first byte.
const offsetFormat1 byte = 0x01

// encodeOffset returns the value of a committed offset. REQUIRES: off >= 0.
func encodeOffset(off int64) []byte {
	return binary.AppendUvarint([]byte{offsetFormat1}, uint64(off))
}

// decodeOffset reads a value that encodeOffset wrote. Any other input is an error that
// wraps store.ErrCorruptCheckpoint.
func decodeOffset(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty offset value", store.ErrCorruptCheckpoint)
	}
	if b[0] != offsetFormat1 {
		return 0, fmt.Errorf("%w: unknown offset format %d", store.ErrCorruptCheckpoint, b[0])
	}
	v, n := binary.Uvarint(b[1:])
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: truncated offset", store.ErrCorruptCheckpoint)
	case n < 0:
		return 0, fmt.Errorf("%w: offset overflows 64 bits", store.ErrCorruptCheckpoint)
	case n != len(b)-1:
		return 0, fmt.Errorf("%w: %d bytes after the offset", store.ErrCorruptCheckpoint, len(b)-1-n)
	case v > math.MaxInt64:
		return 0, fmt.Errorf("%w: offset %d out of range", store.ErrCorruptCheckpoint, v)
	case n != len(binary.AppendUvarint(nil, v)):
		return 0, fmt.Errorf("%w: offset %d not in its shortest form", store.ErrCorruptCheckpoint, v)
	}
	return int64(v), nil
}
