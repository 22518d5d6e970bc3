package storetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// largeKeys is the number of keys of the ordering test.
const largeKeys = 50_000

// randomKey returns a key of 0 to 12 bytes, with 0x00 and 0xFF much more frequent than
// the other bytes, so that keys share prefixes and end on the bytes that bounds get
// wrong.
func randomKey(rng *rand.Rand) []byte {
	k := make([]byte, rng.IntN(13))
	for i := range k {
		switch r := rng.IntN(8); r {
		case 0:
			k[i] = 0x00
		case 1:
			k[i] = 0xFF
		default:
			k[i] = byte(rng.IntN(256))
		}
	}
	return k
}

var largeCases = []testCase{
	{fmt.Sprintf("%d random keys come back in bytes.Compare order", largeKeys), func(t *testing.T, e *env) {
		rng := rand.New(rand.NewPCG(7, 11))
		want := map[string]string{}
		var keys []string
		s := e.kv("s")
		committed := false
		for i := 0; len(want) < largeKeys; i++ {
			k := randomKey(rng)
			v := fmt.Sprint(i)
			put(t, s, string(k), v)
			if _, ok := want[string(k)]; !ok {
				keys = append(keys, string(k))
			}
			want[string(k)] = v
			if len(want) == largeKeys/2 && !committed {
				commit(t, e.db(), map[string]int64{"s": 1}) // half committed, half staged
				committed = true
			}
		}
		// Delete a tenth of the keys, committed ones and staged ones.
		for _, i := range rng.Perm(len(keys))[:largeKeys/10] {
			del(t, s, keys[i])
			delete(want, keys[i])
		}
		// Some other store's keys, which no read of s may see.
		other := e.kv("s\x00")
		for range 1000 {
			put(t, other, string(randomKey(rng)), "other")
		}

		check := func(when string) {
			t.Helper()
			s := e.kv("s")
			every := sortedPairs(want)
			wantPairs(t, "All "+when, all(t, s), every)
			from, to := randomKey(rng), randomKey(rng)
			if bytes.Compare(from, to) > 0 {
				from, to = to, from
			}
			it, err := s.Range(from, to)
			wantPairs(t, fmt.Sprintf("Range(%q, %q) %s", from, to, when), drain(t, it, err),
				filter(every, func(k []byte) bool { return inRange(k, from, to) }))
			for _, prefix := range [][]byte{{0x00}, {0xFF}, {0xFF, 0xFF}, randomKey(rng)[:1]} {
				it, err := s.PrefixScan(prefix)
				wantPairs(t, fmt.Sprintf("PrefixScan(%q) %s", prefix, when), drain(t, it, err),
					filter(every, func(k []byte) bool { return bytes.HasPrefix(k, prefix) }))
			}
			wantCount(t, e, s, int64(len(want)), when)
		}
		check("with staged writes")
		commit(t, e.db(), map[string]int64{"s": 2})
		check("after Commit")
		if e.persistent() {
			e.restart()
			check("after a restart")
			wantOffsets(t, e.db(), map[string]int64{"s": 2})
		}
	}},
}

// wantCount checks ApproximateNumEntries: exact for an engine that is not persistent,
// more than 0 for the others.
func wantCount(t *testing.T, e *env, s store.KeyValueStore, want int64, when string) {
	t.Helper()
	n := count(t, s)
	if !e.persistent() && n != want {
		t.Errorf("ApproximateNumEntries %s = %d, want exactly %d", when, n, want)
	}
	if want > 0 && n <= 0 {
		t.Errorf("ApproximateNumEntries %s = %d, want more than 0", when, n)
	}
}
