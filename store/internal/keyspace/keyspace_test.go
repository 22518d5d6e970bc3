package keyspace

import (
	"bytes"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ prefix, want []byte }{
		{nil, nil},
		{[]byte{0xFF, 0xFF}, nil},
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xFF}, []byte("b")},
		{[]byte{0x01, 0xFF, 0xFF}, []byte{0x02}},
	} {
		if got := PrefixEnd(c.prefix); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.prefix, got, c.want)
		}
	}
}

func TestAfterIsTheNextKeyAndACopy(t *testing.T) {
	key := []byte("k")
	after := After(key)
	if !bytes.Equal(after, []byte("k\x00")) {
		t.Errorf("After(k) = %q", after)
	}
	after[0] = 'x'
	if string(key) != "k" {
		t.Error("After shares its input")
	}
}
