package topology

import (
	"bytes"
	"errors"
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

// The foreign-key join's wire formats are decoded from internal topics and the
// subscription store; these tests hold them to their documented layout and fuzz the
// decoders.

func TestFKSubscriptionWireFormat(t *testing.T) {
	h := fkHash{ok: true}
	for i := range h.sum {
		h.sum[i] = byte(i + 1)
	}
	cases := []struct {
		name string
		sub  fkSubscription
		want []byte
	}{
		{
			name: "a subscription with a hash carries it between the header and the primary key",
			sub:  fkSubscription{instruction: fkPropagateOnlyIfValue, hash: h, partition: 258, primaryKey: []byte("o1")},
			want: append(append([]byte{1, 3, 1, 0, 0, 1, 2}, h.sum[:]...), 'o', '1'),
		},
		{
			name: "a subscription without a hash goes from the header to the primary key",
			sub:  fkSubscription{instruction: fkDeleteAndPropagate, partition: 7, primaryKey: []byte("o1")},
			want: []byte{1, 0, 0, 0, 0, 0, 7, 'o', '1'},
		},
		{
			name: "an empty primary key is kept",
			sub:  fkSubscription{instruction: fkDeleteNoPropagate, primaryKey: []byte{}},
			want: []byte{1, 1, 0, 0, 0, 0, 0},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := encodeFKSubscription(c.sub)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("encoded % x, want % x", got, c.want)
			}
			back, err := decodeFKSubscription(got)
			if err != nil {
				t.Fatal(err)
			}
			if back.instruction != c.sub.instruction || back.hash != c.sub.hash || back.partition != c.sub.partition || !bytes.Equal(back.primaryKey, c.sub.primaryKey) {
				t.Errorf("decoded %+v, want %+v", back, c.sub)
			}
		})
	}
}

func TestFKResponseWireFormat(t *testing.T) {
	h := fkHash{ok: true}
	h.sum[15] = 9
	values := fkResponseSerde(serde.String())
	cases := []struct {
		name string
		res  fkResponse[string]
		want []byte
	}{
		{
			name: "a response with a hash and a value",
			res:  fkResponse[string]{hash: h, partition: 1, value: "Ann", hasValue: true},
			want: append(append([]byte{1, 3, 0, 0, 0, 1}, h.sum[:]...), 'A', 'n', 'n'),
		},
		{
			name: "a response with an empty value is not one without a value",
			res:  fkResponse[string]{partition: 2, value: "", hasValue: true},
			want: []byte{1, 2, 0, 0, 0, 2},
		},
		{
			name: "a response without a hash or a value",
			res:  fkResponse[string]{partition: 3},
			want: []byte{1, 0, 0, 0, 0, 3},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := values.Serialize("t", c.res)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("encoded % x, want % x", got, c.want)
			}
			back, err := values.Deserialize("t", got)
			if err != nil {
				t.Fatal(err)
			}
			if back != c.res {
				t.Errorf("decoded %+v, want %+v", back, c.res)
			}
		})
	}
}

func TestFKWireDecodersRefuseMalformedRecords(t *testing.T) {
	cases := []struct {
		name         string
		subscription bool
		data         []byte
	}{
		{"a subscription shorter than its header", true, []byte{1, 2, 0, 0, 0}},
		{"a subscription of an unknown version", true, []byte{2, 2, 0, 0, 0, 0, 0}},
		{"a subscription with an unknown instruction", true, []byte{1, 4, 0, 0, 0, 0, 0}},
		{"a subscription with unknown flags", true, []byte{1, 2, 2, 0, 0, 0, 0}},
		{"a subscription from a negative partition", true, []byte{1, 2, 0, 0xff, 0xff, 0xff, 0xff}},
		{"a subscription whose hash is cut short", true, []byte{1, 2, 1, 0, 0, 0, 0, 1, 2, 3}},
		{"a response shorter than its header", false, []byte{1, 0, 0}},
		{"a response of an unknown version", false, []byte{0, 0, 0, 0, 0, 0}},
		{"a response with unknown flags", false, []byte{1, 4, 0, 0, 0, 0}},
		{"a response to a negative partition", false, []byte{1, 0, 0x80, 0, 0, 0}},
		{"a response whose hash is cut short", false, []byte{1, 1, 0, 0, 0, 0, 1}},
		{"a response without a value followed by bytes", false, []byte{1, 0, 0, 0, 0, 0, 'x'}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.subscription {
				_, err = decodeFKSubscription(c.data)
			} else {
				_, _, _, err = decodeFKResponse(c.data)
			}
			if !errors.Is(err, errFKWire) {
				t.Errorf("decoded % x: error %v, want one wrapping errFKWire", c.data, err)
			}
		})
	}
}

func FuzzFKSubscriptionDecoder(f *testing.F) {
	f.Add(encodeFKSubscription(fkSubscription{instruction: fkPropagateNullIfNoValue, hash: fkHash{ok: true}, partition: 3, primaryKey: []byte("k")}))
	f.Add(encodeFKSubscription(fkSubscription{}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeFKSubscription(data)
		if err != nil {
			return
		}
		// What decodes is canonical: it encodes back to the same bytes.
		if again := encodeFKSubscription(s); !bytes.Equal(again, data) {
			t.Fatalf("decoded % x as %+v, which encodes as % x", data, s, again)
		}
	})
}

func FuzzFKResponseDecoder(f *testing.F) {
	f.Add(encodeFKResponse(fkHash{ok: true}, 1, []byte("Ann")))
	f.Add(encodeFKResponse(fkHash{}, 0, nil))
	f.Add(encodeFKResponse(fkHash{}, 0, []byte{}))
	f.Add([]byte{1, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, partition, value, err := decodeFKResponse(data)
		if err != nil {
			return
		}
		if again := encodeFKResponse(h, partition, value); !bytes.Equal(again, data) {
			t.Fatalf("decoded % x as (%+v, %d, %q), which encodes as % x", data, h, partition, value, again)
		}
	})
}

func TestFKStoreKeysOfOneForeignKeyShareAPrefixNoOtherKeyHas(t *testing.T) {
	// "a"+"b…" and "ab"+"…" must not collide, nor fall under each other's prefix.
	k1 := fkStoreKey([]byte("a"), []byte("bc"))
	k2 := fkStoreKey([]byte("ab"), []byte("c"))
	if bytes.Equal(k1, k2) {
		t.Fatalf("store keys collide: % x", k1)
	}
	if bytes.HasPrefix(k2, fkStorePrefix([]byte("a"), 0)) || bytes.HasPrefix(k1, fkStorePrefix([]byte("ab"), 0)) {
		t.Error("a foreign key's prefix matches another foreign key's subscriptions")
	}
	if !bytes.HasPrefix(k1, fkStorePrefix([]byte("a"), 0)) {
		t.Error("a subscription is not under its foreign key's prefix")
	}
}
