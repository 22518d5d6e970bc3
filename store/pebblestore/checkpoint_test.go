package pebblestore

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddy-streams/eddy/store"
)

func TestDecodeOffset(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		want    int64
		corrupt bool
	}{
		{name: "zero", in: []byte{1, 0}, want: 0},
		{name: "one byte", in: []byte{1, 0x7F}, want: 127},
		{name: "two bytes", in: []byte{1, 0x80, 0x01}, want: 128},
		{name: "the largest int64", in: encodeOffset(math.MaxInt64), want: math.MaxInt64},
		{name: "an empty value", in: []byte{}, corrupt: true},
		{name: "nil", in: nil, corrupt: true},
		{name: "an unknown format", in: []byte{2, 0}, corrupt: true},
		{name: "format 0", in: []byte{0, 0}, corrupt: true},
		{name: "no offset", in: []byte{1}, corrupt: true},
		{name: "a truncated offset", in: []byte{1, 0x80}, corrupt: true},
		{name: "a byte after the offset", in: []byte{1, 5, 0}, corrupt: true},
		{name: "an offset that is not in its shortest form", in: []byte{1, 0x85, 0x00}, corrupt: true},
		{name: "an offset above the largest int64", in: append([]byte{1}, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), corrupt: true},
		{name: "an offset over 64 bits", in: append([]byte{1}, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F), corrupt: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeOffset(c.in)
			if c.corrupt {
				if !errors.Is(err, store.ErrCorruptCheckpoint) {
					t.Errorf("decodeOffset(%x) = %d, %v; want an error wrapping ErrCorruptCheckpoint", c.in, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("decodeOffset(%x) = %d, %v; want %d", c.in, got, err, c.want)
			}
			if enc := encodeOffset(c.want); !bytes.Equal(enc, c.in) {
				t.Errorf("encodeOffset(%d) = %x, want %x", c.want, enc, c.in)
			}
		})
	}
}

// FuzzDecodeOffset checks that decodeOffset never panics, that it refuses with
// ErrCorruptCheckpoint what it cannot read, and that what it reads is the one encoding
// of a non-negative offset.
func FuzzDecodeOffset(f *testing.F) {
	for _, seed := range [][]byte{nil, {1, 0}, {1, 0x80, 0x01}, encodeOffset(math.MaxInt64), {2, 0}, {1, 0x80}, {1, 0x85, 0x00}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		off, err := decodeOffset(in)
		if err != nil {
			if !errors.Is(err, store.ErrCorruptCheckpoint) {
				t.Fatalf("decodeOffset(%x): error %v does not wrap ErrCorruptCheckpoint", in, err)
			}
			return
		}
		if off < 0 {
			t.Fatalf("decodeOffset(%x) = %d, a negative offset", in, off)
		}
		if enc := encodeOffset(off); !bytes.Equal(enc, in) {
			t.Fatalf("decodeOffset(%x) = %d, which encodes as %x", in, off, enc)
		}
	})
}

// TestCorruptCheckpoint writes values that are not offsets under an offset key, with
// Pebble directly, and checks that CommittedOffsets then fails with ErrCorruptCheckpoint
// while the data stays readable.
func TestCorruptCheckpoint(t *testing.T) {
	cases := []struct {
		name  string
		value []byte
	}{
		{"an empty value", []byte{}},
		{"a value of an unknown format", []byte{9, 1}},
		{"a truncated value", []byte{offsetFormat1, 0x80}},
		{"a value with trailing bytes", append(encodeOffset(5), 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, dir := vfs.NewMem(), "/task"
			e := newTestEngine(t, Options{FS: fs})
			db := openTestDB(t, e, dir)
			kv, err := db.KeyValue("s")
			if err != nil {
				t.Fatal(err)
			}
			if err := kv.Put([]byte("k"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			if err := db.Commit(map[string]int64{"s": 5, "other": 7}); err != nil {
				t.Fatal(err)
			}
			closeAll(t, db, e)

			raw, err := pebble.Open(dir, &pebble.Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			if err := raw.Set(offsetKey("s"), c.value, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := raw.Close(); err != nil {
				t.Fatal(err)
			}

			e = newTestEngine(t, Options{FS: fs})
			db = openTestDB(t, e, dir)
			if got, err := db.CommittedOffsets(); !errors.Is(err, store.ErrCorruptCheckpoint) {
				t.Errorf("CommittedOffsets = %v, %v; want an error wrapping ErrCorruptCheckpoint", got, err)
			}
			kv, err = db.KeyValue("s")
			if err != nil {
				t.Fatal(err)
			}
			if v, ok, err := kv.Get([]byte("k")); err != nil || !ok || string(v) != "v" {
				t.Errorf("Get(k) = %q, %v, %v; want v", v, ok, err)
			}
			closeAll(t, db, e)
		})
	}
}
