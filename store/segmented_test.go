package store

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

var orderedTimes = []int64{math.MinInt64, math.MinInt64 + 1, -1 << 40, -1001, -1000, -999, -1, 0, 1, 999, 1000, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}

func TestEncodedTimesSortLikeTheNumbers(t *testing.T) {
	for i := 1; i < len(orderedTimes); i++ {
		a, b := appendTime(nil, orderedTimes[i-1]), appendTime(nil, orderedTimes[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("encoded %d (%x) does not sort before encoded %d (%x)", orderedTimes[i-1], a, orderedTimes[i], b)
		}
		if got := readTime(b); got != orderedTimes[i] {
			t.Errorf("readTime(appendTime(%d)) = %d", orderedTimes[i], got)
		}
	}
}

func TestSegmentsRoundDown(t *testing.T) {
	cases := []struct{ t, interval, want int64 }{
		{0, 1000, 0}, {999, 1000, 0}, {1000, 1000, 1}, {-1, 1000, -1}, {-1000, 1000, -1}, {-1001, 1000, -2},
		{math.MinInt64, 1000, math.MinInt64/1000 - 1}, {math.MaxInt64, 1000, math.MaxInt64 / 1000}, {math.MinInt64, 1, math.MinInt64},
	}
	for _, c := range cases {
		if got := floorDiv(c.t, c.interval); got != c.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c.t, c.interval, got, c.want)
		}
	}
	s := &segmented{interval: 1000}
	for _, c := range []struct{ seg, want int64 }{{0, 999}, {-1, -1}, {-2, -1001}, {math.MaxInt64 / 1000, math.MaxInt64}, {math.MaxInt64/1000 - 1, math.MaxInt64/1000*1000 - 1}} {
		if got := s.segmentEnd(c.seg); got != c.want {
			t.Errorf("segmentEnd(%d) = %d, want %d", c.seg, got, c.want)
		}
	}
}

// escapeKeys are user keys in bytes.Compare order, with the bytes the escaping uses.
var escapeKeys = []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00\x01", "a\x01", "ab", "b", "\xff", "\xff\x00", "\xff\xff"}

func TestEscapedKeysKeepTheirOrderAndComeBack(t *testing.T) {
	for i, k := range escapeKeys {
		enc := appendEscaped(nil, []byte(k))
		got, rest, err := readEscaped(append(bytes.Clone(enc), "rest"...))
		if err != nil || string(got) != k || string(rest) != "rest" {
			t.Errorf("readEscaped(appendEscaped(%q)) = %q, rest %q, %v", k, got, rest, err)
		}
		if i == 0 {
			continue
		}
		prev := appendEscaped(nil, []byte(escapeKeys[i-1]))
		if bytes.Compare(prev, enc) >= 0 {
			t.Errorf("escaped %q does not sort before escaped %q", escapeKeys[i-1], k)
		}
	}
}

func TestTheEntriesOfAKeyDoNotMixWithThoseOfLongerKeys(t *testing.T) {
	// Every entry of "a" sorts before every entry of a key that "a" is a prefix of, at
	// any time: the layout's Range of one key never reaches another.
	for _, longer := range []string{"a\x00", "a\x00\x00", "a\x01", "ab", "a\xff"} {
		lastOfA := windowKey(0, []byte("a"), math.MaxInt64, true, math.MaxUint64)
		firstOfLonger := windowKey(0, []byte(longer), math.MinInt64, true, 0)
		if bytes.Compare(lastOfA, firstOfLonger) >= 0 {
			t.Errorf("the last entry of %q sorts after the first of %q", "a", longer)
		}
		lastOfA = sessionKey(0, []byte("a"), math.MaxInt64, math.MaxInt64)
		firstOfLonger = sessionKey(0, []byte(longer), math.MinInt64, math.MinInt64)
		if bytes.Compare(lastOfA, firstOfLonger) >= 0 {
			t.Errorf("the last session of %q sorts after the first of %q", "a", longer)
		}
	}
}

func TestWindowAndSessionKeysDecode(t *testing.T) {
	for _, k := range escapeKeys {
		for _, ts := range orderedTimes {
			for _, dups := range []bool{false, true} {
				seg, key, start, seq, err := decodeWindowKey(windowKey(-7, []byte(k), ts, dups, 42), dups)
				wantSeq := uint64(0)
				if dups {
					wantSeq = 42
				}
				if err != nil || seg != -7 || string(key) != k || start != ts || seq != wantSeq {
					t.Errorf("window (%q, %d, dups %v) decodes to segment %d, %q, %d, seq %d, %v", k, ts, dups, seg, key, start, seq, err)
				}
			}
			seg, key, start, end, err := decodeSessionKey(sessionKey(3, []byte(k), math.MinInt64, ts))
			if err != nil || seg != 3 || string(key) != k || start != math.MinInt64 || end != ts {
				t.Errorf("session (%q, %d) decodes to segment %d, %q, %d..%d, %v", k, ts, seg, key, start, end, err)
			}
		}
	}
}

func TestMalformedKeysAreErrors(t *testing.T) {
	good := windowKey(1, []byte("k"), 5, false, 0)
	cases := map[string][]byte{
		"empty":                       {},
		"the meta key":                metaKey,
		"a tag without a segment":     {tagData, 0x80},
		"an unknown tag":              append([]byte{0x02}, good[1:]...),
		"no key terminator":           append([]byte{tagData}, make([]byte, 8)...),
		"a bad escape":                append(append([]byte{tagData}, make([]byte, 8)...), 'k', 0x00, 0x02, 0x00, 0x01),
		"a time cut short":            good[:len(good)-1],
		"a byte too many":             append(bytes.Clone(good), 0),
		"a sequence number cut short": append(bytes.Clone(good), 1, 2, 3),
	}
	for name, k := range cases {
		if _, _, _, _, err := decodeWindowKey(k, false); !errors.Is(err, ErrCorruptKey) {
			t.Errorf("%s: decodeWindowKey error %v, want ErrCorruptKey", name, err)
		}
	}
	if _, _, _, _, err := decodeWindowKey(good, true); !errors.Is(err, ErrCorruptKey) {
		t.Errorf("a key without duplicates read as one with: error %v, want ErrCorruptKey", err)
	}
	backwards := appendTime(appendTime(keyPrefix(0, []byte("k"), 16), 5), 6) // end 5, start 6
	if _, _, _, _, err := decodeSessionKey(backwards); !errors.Is(err, ErrCorruptKey) {
		t.Errorf("a session that starts after its end: error %v, want ErrCorruptKey", err)
	}
	for name, b := range map[string][]byte{
		"empty":           {},
		"short":           make([]byte, metaLen-1),
		"version 2":       append([]byte{2, kindByteWindow}, make([]byte, metaLen-2)...),
		"unknown kind":    meta{kind: 'x', interval: 1}.encode(),
		"interval 0":      meta{kind: kindByteWindow}.encode(),
		"interval < 0":    meta{kind: kindByteSession, interval: -5}.encode(),
		"one byte longer": append(meta{kind: kindByteWindow, interval: 1}.encode(), 0),
	} {
		if _, err := decodeMeta(b); !errors.Is(err, ErrCorruptKey) {
			t.Errorf("meta %s: error %v, want ErrCorruptKey", name, err)
		}
	}
}

func FuzzDecodeWindowKey(f *testing.F) {
	for _, k := range escapeKeys {
		f.Add(windowKey(3, []byte(k), -5, false, 0), false)
		f.Add(windowKey(-3, []byte(k), 5, true, 9), true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte{tagData, 0, 0, 0, 0, 0, 0, 0, 0, 0x00}, true)
	f.Fuzz(func(t *testing.T, k []byte, dups bool) {
		seg, key, start, seq, err := decodeWindowKey(k, dups)
		if err != nil {
			if !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("error %v does not wrap ErrCorruptKey", err)
			}
			return
		}
		// One encoding per window: what decodes encodes back to the same bytes.
		if again := windowKey(seg, key, start, dups, seq); !bytes.Equal(again, k) {
			t.Fatalf("%x decodes to (%d, %q, %d, %d), which encodes to %x", k, seg, key, start, seq, again)
		}
	})
}

func FuzzDecodeSessionKey(f *testing.F) {
	for _, k := range escapeKeys {
		f.Add(sessionKey(3, []byte(k), -5, 5))
	}
	f.Add([]byte{tagData})
	f.Fuzz(func(t *testing.T, k []byte) {
		seg, key, start, end, err := decodeSessionKey(k)
		if err != nil {
			if !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("error %v does not wrap ErrCorruptKey", err)
			}
			return
		}
		if start > end {
			t.Fatalf("%x decodes to a session from %d to %d", k, start, end)
		}
		if again := sessionKey(seg, key, start, end); !bytes.Equal(again, k) {
			t.Fatalf("%x decodes to (%d, %q, %d, %d), which encodes to %x", k, seg, key, start, end, again)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(meta{kind: kindByteWindow, interval: 60000, observed: -5, seqLimit: 1 << 16}.encode())
	f.Add(meta{kind: kindByteSession, interval: 1, observed: math.MaxInt64}.encode())
	f.Add([]byte{metaVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("error %v does not wrap ErrCorruptKey", err)
			}
			return
		}
		if again := m.encode(); !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, m, again)
		}
	})
}

func TestDefaultSegmentIntervalIsHalfTheRetentionAndAtLeastAMinute(t *testing.T) {
	for retention, want := range map[time.Duration]time.Duration{
		time.Millisecond: time.Minute, time.Minute: time.Minute, 2 * time.Minute: time.Minute,
		3 * time.Minute: 90 * time.Second, 24 * time.Hour: 12 * time.Hour,
	} {
		if got := DefaultSegmentInterval(retention); got != want {
			t.Errorf("DefaultSegmentInterval(%v) = %v, want %v", retention, got, want)
		}
	}
}

func TestKindNames(t *testing.T) {
	got := []string{KindKeyValue.String(), KindWindow.String(), KindSession.String(), Kind(99).String()}
	if want := []string{"key-value", "window", "session", "Kind(99)"}; !slices.Equal(got, want) {
		t.Errorf("Kind names %q, want %q", got, want)
	}
}
