package serde_test

import (
	"errors"
	"math"
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

func roundTrip[T comparable](t *testing.T, s serde.Serde[T], values ...T) {
	t.Helper()
	for _, v := range values {
		b, err := s.Serialize("topic", v)
		if err != nil {
			t.Fatalf("Serialize(%v): %v", v, err)
		}
		got, err := s.Deserialize("topic", b)
		if err != nil {
			t.Fatalf("Deserialize(%x): %v", b, err)
		}
		if got != v {
			t.Errorf("round trip of %v gave %v", v, got)
		}
	}
}

func TestBuiltInSerdesRoundTrip(t *testing.T) {
	roundTrip(t, serde.String(), "", "hello", "héllo wörld")
	roundTrip(t, serde.Int64(), 0, 1, -1, math.MaxInt64, math.MinInt64)
	roundTrip(t, serde.Int32(), 0, 1, -1, math.MaxInt32, math.MinInt32)
	roundTrip(t, serde.Float64(), 0, -1.5, math.Inf(1), math.SmallestNonzeroFloat64)
	type point struct{ X, Y int }
	roundTrip(t, serde.JSON[point](), point{}, point{1, -2})
}

func TestInt64MatchesKafkasLongSerializer(t *testing.T) {
	// Kafka's LongSerializer writes big-endian two's complement: 258 is 00..01 02.
	b, err := serde.Int64().Serialize("t", 258)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0, 0, 0, 0, 0, 1, 2}; string(b) != string(want) {
		t.Errorf("Int64 of 258 = %x, want %x", b, want)
	}
}

func TestFixedWidthSerdesRejectWrongLengths(t *testing.T) {
	if _, err := serde.Int64().Deserialize("t", []byte{1, 2, 3}); !errors.Is(err, serde.ErrSize) {
		t.Errorf("Int64 of 3 bytes: error %v, want ErrSize", err)
	}
	if _, err := serde.Int32().Deserialize("t", nil); !errors.Is(err, serde.ErrSize) {
		t.Errorf("Int32 of no bytes: error %v, want ErrSize", err)
	}
	if _, err := serde.Float64().Deserialize("t", make([]byte, 9)); !errors.Is(err, serde.ErrSize) {
		t.Errorf("Float64 of 9 bytes: error %v, want ErrSize", err)
	}
}

func TestBytesDeserializeCopies(t *testing.T) {
	in := []byte("abc")
	out, _ := serde.Bytes().Deserialize("t", in)
	in[0] = 'x'
	if string(out) != "abc" {
		t.Errorf("Deserialize shares its input buffer: %q", out)
	}
	if out, _ := serde.Bytes().Deserialize("t", nil); out != nil {
		t.Errorf("Deserialize(nil) = %q, want nil", out)
	}
}

func TestBytesSerializeKeepsTheCallersArray(t *testing.T) {
	if out, _ := serde.Bytes().Serialize("t", nil); out != nil {
		t.Errorf("Serialize(nil) = %q, want nil", out)
	}
	if out, _ := serde.Bytes().Serialize("t", []byte{}); out == nil {
		t.Error("Serialize of an empty value is nil, Kafka's null")
	}
	// A serde built on Bytes that appends to what it returns (as the windowed key
	// serdes do) must not write into the caller's array, nor let two results share it.
	buf := []byte("key-and-more")
	key := buf[:3]
	a, _ := serde.Bytes().Serialize("t", key)
	b, _ := serde.Bytes().Serialize("t", key)
	a = append(a, '1')
	b = append(b, '2')
	if string(a) != "key1" || string(b) != "key2" || string(buf) != "key-and-more" {
		t.Errorf("appending to two serializations of key gave %q and %q and left %q", a, b, buf)
	}
}

func FuzzInt64(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 1, 2})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := serde.Int64().Deserialize("t", b)
		if err != nil {
			return
		}
		out, _ := serde.Int64().Serialize("t", v)
		if string(out) != string(b) {
			t.Errorf("%x decoded to %d, which encodes to %x", b, v, out)
		}
	})
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"A":"x","B":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		type v struct {
			A string
			B int
		}
		_, _ = serde.JSON[v]().Deserialize("t", b) // must not panic
	})
}
