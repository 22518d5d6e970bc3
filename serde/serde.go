package serde

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Serde converts values of type T to bytes and back. The topic is the one the bytes are
// written to or read from (a store's changelog topic for stores), for serdes that depend
// on it, such as schema registries.
//
// Serialize may reuse nothing of v after it returns; the returned slice belongs to the
// caller, which does not modify it: it may be v's own bytes (Bytes returns them).
// Deserialize must not keep data: the engine may reuse the buffer after it returns.
// A Serde must be safe for concurrent use.
//
// The engine passes nil bytes (a Kafka null) to Deserialize only where the operator gives
// null a meaning of its own; serdes need not handle it otherwise.
type Serde[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
	Deserialize(topic string, data []byte) (T, error)
}

// ErrSize is returned by the fixed-width serdes for input of the wrong length.
var ErrSize = errors.New("serde: wrong number of bytes")

// funcs adapts a pair of functions to Serde.
type funcs[T any] struct {
	ser func(topic string, v T) ([]byte, error)
	de  func(topic string, data []byte) (T, error)
}

func (f funcs[T]) Serialize(topic string, v T) ([]byte, error)      { return f.ser(topic, v) }
func (f funcs[T]) Deserialize(topic string, data []byte) (T, error) { return f.de(topic, data) }

// Func returns a Serde made of two functions.
func Func[T any](serialize func(topic string, v T) ([]byte, error), deserialize func(topic string, data []byte) (T, error)) Serde[T] {
	return funcs[T]{ser: serialize, de: deserialize}
}

// String is UTF-8 text, as Kafka's StringSerde.
func String() Serde[string] {
	return Func(
		func(_ string, v string) ([]byte, error) { return []byte(v), nil },
		func(_ string, b []byte) (string, error) { return string(b), nil },
	)
}

// Bytes passes bytes through, as Kafka's ByteArraySerde. nil stays nil (Kafka's null).
//
// Deserialize returns a copy: the bytes it is given belong to the engine (a fetched
// record, a store's value), and the copy to the code that gets the value, which may
// modify it.
//
// Serialize returns v itself, without a copy, with its capacity cut to its length. So a
// []byte handed to Eddy (forwarded, sent to a sink, written to a store) must not be
// modified afterwards: the producer reads it after the call that took it returns, until
// the record is sent. Eddy only reads serialized bytes, or copies them (stores and
// changelogs copy what they are given); the cut capacity makes a serde that appends to
// them (TimeWindowedSerde) copy too, instead of writing into v's array past its end.
func Bytes() Serde[[]byte] {
	return Func(
		func(_ string, v []byte) ([]byte, error) { return v[:len(v):len(v)], nil },
		func(_ string, b []byte) ([]byte, error) {
			if b == nil {
				return nil, nil
			}
			return append([]byte{}, b...), nil
		},
	)
}

// Int64 is an 8-byte big-endian two's complement integer, as Kafka's LongSerde, so that
// Eddy and Kafka Streams applications read each other's topics.
func Int64() Serde[int64] {
	return Func(
		func(_ string, v int64) ([]byte, error) { return binary.BigEndian.AppendUint64(nil, uint64(v)), nil },
		func(_ string, b []byte) (int64, error) {
			if len(b) != 8 {
				return 0, fmt.Errorf("%w: int64 needs 8, got %d", ErrSize, len(b))
			}
			return int64(binary.BigEndian.Uint64(b)), nil
		},
	)
}

// Int32 is a 4-byte big-endian two's complement integer, as Kafka's IntegerSerde.
func Int32() Serde[int32] {
	return Func(
		func(_ string, v int32) ([]byte, error) { return binary.BigEndian.AppendUint32(nil, uint32(v)), nil },
		func(_ string, b []byte) (int32, error) {
			if len(b) != 4 {
				return 0, fmt.Errorf("%w: int32 needs 4, got %d", ErrSize, len(b))
			}
			return int32(binary.BigEndian.Uint32(b)), nil
		},
	)
}

// Float64 is an 8-byte big-endian IEEE 754 double, as Kafka's DoubleSerde.
func Float64() Serde[float64] {
	return Func(
		func(_ string, v float64) ([]byte, error) {
			return binary.BigEndian.AppendUint64(nil, math.Float64bits(v)), nil
		},
		func(_ string, b []byte) (float64, error) {
			if len(b) != 8 {
				return 0, fmt.Errorf("%w: float64 needs 8, got %d", ErrSize, len(b))
			}
			return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
		},
	)
}

// JSON encodes values with encoding/json.
func JSON[T any]() Serde[T] {
	return Func(
		func(_ string, v T) ([]byte, error) {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("serde: json: %w", err)
			}
			return b, nil
		},
		func(_ string, b []byte) (T, error) {
			var v T
			if err := json.Unmarshal(b, &v); err != nil {
				return v, fmt.Errorf("serde: json: %w", err)
			}
			return v, nil
		},
	)
}
