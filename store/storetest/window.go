package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// The window and session tests use a retention of 300 ms and segments of 100 ms, so
// that a few puts cross segments and expire them; times are milliseconds.
const (
	testRetention = 300
	testInterval  = 100
)

var (
	windowCfg = store.WindowConfig{Retention: testRetention * time.Millisecond, SegmentInterval: testInterval * time.Millisecond}
	dupsCfg   = store.WindowConfig{Retention: testRetention * time.Millisecond, SegmentInterval: testInterval * time.Millisecond, RetainDuplicates: true}
)

// win is a window as the tests see it.
type win struct {
	key   string
	start int64
	value string
}

func (w win) String() string { return fmt.Sprintf("%q@%d=%q", w.key, w.start, w.value) }

func newWindowStore(t *testing.T, kv store.KeyValueStore, cfg store.WindowConfig) store.WindowStore {
	t.Helper()
	s, err := store.NewWindowStore(kv, cfg)
	if err != nil {
		t.Fatalf("NewWindowStore(%q, %+v): %v", kv.Name(), cfg, err)
	}
	return s
}

// windows returns a window store over the key-value store name of e.db().
func (e *env) windows(name string, cfg store.WindowConfig) store.WindowStore {
	e.t.Helper()
	return newWindowStore(e.t, e.kv(name), cfg)
}

func wput(t *testing.T, s store.WindowStore, key string, start int64, value string) {
	t.Helper()
	if err := s.Put([]byte(key), start, []byte(value)); err != nil {
		t.Fatalf("Put(%q, %d, %q): %v", key, start, value, err)
	}
}

func wdel(t *testing.T, s store.WindowStore, key string, start int64) {
	t.Helper()
	if err := s.Delete([]byte(key), start); err != nil {
		t.Fatalf("Delete(%q, %d): %v", key, start, err)
	}
}

func wfetch(t *testing.T, s store.WindowStore, key string, start int64) (string, bool) {
	t.Helper()
	v, ok, err := s.Fetch([]byte(key), start)
	if err != nil {
		t.Fatalf("Fetch(%q, %d): %v", key, start, err)
	}
	if ok && v == nil {
		t.Fatalf("Fetch(%q, %d) found a nil value", key, start)
	}
	return string(v), ok
}

func wantWindow(t *testing.T, s store.WindowStore, key string, start int64, value string) {
	t.Helper()
	if got, ok := wfetch(t, s, key, start); !ok || got != value {
		t.Errorf("Fetch(%q, %d) = %q, %v; want %q", key, start, got, ok, value)
	}
}

func wantNoWindow(t *testing.T, s store.WindowStore, key string, start int64) {
	t.Helper()
	if got, ok := wfetch(t, s, key, start); ok {
		t.Errorf("Fetch(%q, %d) = %q; want it absent", key, start, got)
	}
}

// drainWindows reads it to the end, checks Err and closes it.
func drainWindows(t *testing.T, it store.WindowIterator, err error) []win {
	t.Helper()
	if err != nil {
		t.Fatalf("opening a window iterator: %v", err)
	}
	var out []win
	for it.Next() {
		if it.Value() == nil {
			t.Fatalf("window %q@%d has a nil Value", it.Key(), it.WindowStart())
		}
		out = append(out, win{string(it.Key()), it.WindowStart(), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("window iterator Err: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("window iterator Close: %v", err)
	}
	return out
}

func fetchRange(t *testing.T, s store.WindowStore, key string, from, to int64) []win {
	t.Helper()
	it, err := s.FetchRange([]byte(key), from, to)
	return drainWindows(t, it, err)
}

func fetchAll(t *testing.T, s store.WindowStore, from, to int64) []win {
	t.Helper()
	it, err := s.FetchAll(from, to)
	return drainWindows(t, it, err)
}

func allWindows(t *testing.T, s store.WindowStore) []win {
	t.Helper()
	it, err := s.All()
	return drainWindows(t, it, err)
}

func wantWindows(t *testing.T, what string, got, want []win) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s returned %d windows %v,\nwant %d windows %v", what, len(got), got, len(want), want)
	}
}

// rawValues returns the values held by the key-value store under a window or session
// store, sorted: what a layer keeps, whether or not it returns it.
func rawValues(t *testing.T, kv store.KeyValueStore) []string {
	t.Helper()
	var out []string
	for _, p := range all(t, kv) {
		out = append(out, p.value)
	}
	slices.Sort(out)
	return out
}

// wantRaw checks which of values the key-value store under a layer holds.
func wantRaw(t *testing.T, kv store.KeyValueStore, present, gone []string) {
	t.Helper()
	raw := rawValues(t, kv)
	for _, v := range present {
		if !slices.Contains(raw, v) {
			t.Errorf("store %q no longer holds %q", kv.Name(), v)
		}
	}
	for _, v := range gone {
		if slices.Contains(raw, v) {
			t.Errorf("store %q still holds %q", kv.Name(), v)
		}
	}
}

// copyStore copies every key of from into to: what a restoration from a changelog that
// carried every write does.
func copyStore(t *testing.T, from, to store.KeyValueStore) {
	t.Helper()
	for _, p := range all(t, from) {
		put(t, to, p.key, p.value)
	}
}

// loggingStore is a logging decorator, as changelog.Logged: it records the keys of the
// writes it passes on, and implements store.Unlogger.
type loggingStore struct {
	store.KeyValueStore
	logged []string // "put <key>" and "delete <key>"
}

func (l *loggingStore) Unlogged() store.KeyValueStore { return l.KeyValueStore }

func (l *loggingStore) Put(key, value []byte) error {
	l.logged = append(l.logged, fmt.Sprintf("put %q=%q", key, value))
	return l.KeyValueStore.Put(key, value)
}

func (l *loggingStore) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	l.logged = append(l.logged, fmt.Sprintf("put-if-absent %q", key))
	return l.KeyValueStore.PutIfAbsent(key, value)
}

func (l *loggingStore) Delete(key []byte) error {
	l.logged = append(l.logged, fmt.Sprintf("delete %q", key))
	return l.KeyValueStore.Delete(key)
}

// deletes returns the deletes it logged.
func (l *loggingStore) deletes() []string {
	var out []string
	for _, w := range l.logged {
		if strings.HasPrefix(w, "delete") {
			out = append(out, w)
		}
	}
	return out
}

// wantLogged checks that a value was or was not written through the decorator.
func (l *loggingStore) wantPutLogged(t *testing.T, value string, want bool) {
	t.Helper()
	got := false
	for _, w := range l.logged {
		got = got || strings.HasSuffix(w, fmt.Sprintf("=%q", value))
	}
	if got != want {
		t.Errorf("a put of %q logged: %v, want %v (logged %q)", value, got, want, l.logged)
	}
}

func windowCases() []testCase {
	return []testCase{
		{"Fetch returns what Put stored, and Put replaces it", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wantNoWindow(t, s, "k", 10)
			wput(t, s, "k", 10, "v1")
			wput(t, s, "k", 20, "other window")
			wput(t, s, "other", 10, "other key")
			wantWindow(t, s, "k", 10, "v1")
			wput(t, s, "k", 10, "v2")
			wantWindow(t, s, "k", 10, "v2")
			wantNoWindow(t, s, "k", 11)
			wantWindows(t, "FetchRange", fetchRange(t, s, "k", 0, 100), []win{{"k", 10, "v2"}, {"k", 20, "other window"}})
		}},
		{"Put of a nil value fails with ErrNilValue; an empty value is a value", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			if err := s.Put([]byte("k"), 1, nil); !errors.Is(err, store.ErrNilValue) {
				t.Errorf("Put(k, 1, nil) = %v, want ErrNilValue", err)
			}
			wantNoWindow(t, s, "k", 1)
			if err := s.Put([]byte("k"), 1, []byte{}); err != nil {
				t.Fatal(err)
			}
			v, ok, err := s.Fetch([]byte("k"), 1)
			if err != nil || !ok || v == nil || len(v) != 0 {
				t.Errorf("Fetch = %#v, %v, %v; want a non-nil empty slice", v, ok, err)
			}
		}},
		{"Delete removes one window", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "k", 1, "a")
			wput(t, s, "k", 2, "b")
			wdel(t, s, "k", 1)
			wdel(t, s, "k", 3) // absent: not an error
			wantNoWindow(t, s, "k", 1)
			wantWindows(t, "All", allWindows(t, s), []win{{"k", 2, "b"}})
		}},
		{"FetchRange includes both bounds and returns windows by start across segments", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			for _, start := range []int64{250, 10, 199, 100, 200, 99, 0} {
				wput(t, s, "k", start, fmt.Sprint(start))
			}
			ws := func(starts ...int64) []win {
				var out []win
				for _, s := range starts {
					out = append(out, win{"k", s, fmt.Sprint(s)})
				}
				return out
			}
			for _, c := range []struct {
				from, to int64
				want     []win
			}{
				{0, 250, ws(0, 10, 99, 100, 199, 200, 250)},
				{10, 199, ws(10, 99, 100, 199)},
				{11, 198, ws(99, 100)},
				{99, 100, ws(99, 100)},
				{100, 100, ws(100)},
				{101, 198, nil},
				{200, 10, nil},
				{math.MinInt64, math.MaxInt64, ws(0, 10, 99, 100, 199, 200, 250)},
				{251, math.MaxInt64, nil},
			} {
				wantWindows(t, fmt.Sprintf("FetchRange(k, %d, %d)", c.from, c.to), fetchRange(t, s, "k", c.from, c.to), c.want)
			}
		}},
		{"a window at a segment boundary belongs to the segment it starts", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "k", 199, "last of 1")
			wput(t, s, "k", 200, "first of 2")
			wantWindows(t, "FetchRange(200, 200)", fetchRange(t, s, "k", 200, 200), []win{{"k", 200, "first of 2"}})
			wantWindows(t, "FetchRange(0, 199)", fetchRange(t, s, "k", 0, 199), []win{{"k", 199, "last of 1"}})
			wantWindows(t, "FetchAll(200, 299)", fetchAll(t, s, 200, 299), []win{{"k", 200, "first of 2"}})
			wantWindows(t, "FetchAll(100, 199)", fetchAll(t, s, 100, 199), []win{{"k", 199, "last of 1"}})
			// Expiry at the boundary: with observed 499, windows from 200 on live.
			wput(t, s, "k", 499, "observed")
			wantWindows(t, "FetchRange after 499", fetchRange(t, s, "k", 0, 1000), []win{{"k", 200, "first of 2"}, {"k", 499, "observed"}})
		}},
		{"negative window starts sort before positive ones", func(t *testing.T, e *env) {
			s := e.windows("w", store.WindowConfig{Retention: time.Hour, SegmentInterval: 100 * time.Millisecond})
			starts := []int64{50, -1, 0, -101, -100, -99, -250, 99}
			for _, start := range starts {
				wput(t, s, "k", start, fmt.Sprint(start))
			}
			slices.Sort(starts)
			var want []win
			for _, start := range starts {
				want = append(want, win{"k", start, fmt.Sprint(start)})
			}
			wantWindows(t, "FetchRange", fetchRange(t, s, "k", -1000, 1000), want)
			wantWindows(t, "All", allWindows(t, s), want)
			wantWindows(t, "FetchRange(-100, -1)", fetchRange(t, s, "k", -100, -1), want[2:5])
			wantWindow(t, s, "k", -101, "-101")
		}},
		{"the windows of a key never include those of keys it is a prefix of", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			keys := []string{"", "a", "a\x00", "a\x00\x01", "a\x01", "ab", "a\xff", "b"}
			for _, k := range keys {
				wput(t, s, k, 5, "5:"+k)
				wput(t, s, k, 150, "150:"+k)
			}
			for _, k := range keys {
				wantWindows(t, fmt.Sprintf("FetchRange(%q)", k), fetchRange(t, s, k, 0, 200), []win{{k, 5, "5:" + k}, {k, 150, "150:" + k}})
				wantWindow(t, s, k, 150, "150:"+k)
			}
		}},
		{"FetchAll orders by segment, then key, then start", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "b", 150, "b150")
			wput(t, s, "a", 199, "a199")
			wput(t, s, "b", 10, "b10")
			wput(t, s, "a", 20, "a20")
			wput(t, s, "a", 110, "a110")
			wput(t, s, "a\x00", 15, "a0-15")
			want := []win{{"a", 20, "a20"}, {"a\x00", 15, "a0-15"}, {"b", 10, "b10"}, {"a", 110, "a110"}, {"a", 199, "a199"}, {"b", 150, "b150"}}
			wantWindows(t, "FetchAll", fetchAll(t, s, 0, 199), want)
			wantWindows(t, "All", allWindows(t, s), want)
			wantWindows(t, "FetchAll(15, 150)", fetchAll(t, s, 15, 150), []win{want[0], want[1], want[3], want[5]})
			wantWindows(t, "FetchAll(151, 198)", fetchAll(t, s, 151, 198), nil)
		}},
		{"duplicates are kept in the order they were put", func(t *testing.T, e *env) {
			s := e.windows("w", dupsCfg)
			wput(t, s, "k", 5, "first")
			wput(t, s, "k", 5, "second")
			wput(t, s, "k", 4, "earlier window")
			wput(t, s, "k", 5, "third")
			wput(t, s, "ka", 5, "other key")
			wput(t, s, "k", 5, "second") // the same value again is another entry
			want := []win{{"k", 4, "earlier window"}, {"k", 5, "first"}, {"k", 5, "second"}, {"k", 5, "third"}, {"k", 5, "second"}}
			wantWindows(t, "FetchRange", fetchRange(t, s, "k", 0, 10), want)
			wantWindows(t, "FetchAll", fetchAll(t, s, 0, 10), append(slices.Clone(want), win{"ka", 5, "other key"}))
			wantWindow(t, s, "k", 5, "first")
			wdel(t, s, "k", 5) // every duplicate
			wantWindows(t, "FetchRange after Delete", fetchRange(t, s, "k", 0, 10), want[:1])
			wantNoWindow(t, s, "k", 5)
			wput(t, s, "k", 5, "after delete")
			wantWindows(t, "FetchRange after a new Put", fetchRange(t, s, "k", 5, 5), []win{{"k", 5, "after delete"}})
		}},
		{"duplicates put after a restart or a restore come after those before", func(t *testing.T, e *env) {
			s := e.windows("w", dupsCfg)
			for i := range 5 {
				wput(t, s, "k", 5, fmt.Sprint(i))
			}
			commit(t, e.db(), nil)
			restored := e.kv("restored")
			copyStore(t, e.kv("w"), restored)
			commit(t, e.db(), nil)
			want := func(n int) []win {
				var out []win
				for i := range n {
					out = append(out, win{"k", 5, fmt.Sprint(i)})
				}
				return out
			}
			r := newWindowStore(t, restored, dupsCfg)
			wput(t, r, "k", 5, "5")
			wantWindows(t, "FetchRange of the restored store", fetchRange(t, r, "k", 5, 5), want(6))
			commit(t, e.db(), nil)

			e.restart()
			s = e.windows("w", dupsCfg)
			wput(t, s, "k", 5, "5")
			if !e.persistent() {
				wantWindows(t, "FetchRange after a restart", fetchRange(t, s, "k", 5, 5), []win{{"k", 5, "5"}})
				return
			}
			wantWindows(t, "FetchRange after a restart", fetchRange(t, s, "k", 5, 5), want(6))
		}},
		{"duplicates put after an Abort never reuse the sequence numbers of entries in the store", func(t *testing.T, e *env) {
			// A second handle reserves sequence numbers in a transaction that is rolled
			// back, then puts again: a restore must not hand out its numbers again.
			kv := e.kv("w")
			first, second := newWindowStore(t, kv, dupsCfg), newWindowStore(t, kv, dupsCfg)
			wput(t, first, "k", 5, "a")
			commit(t, e.db(), nil)
			wput(t, second, "k", 5, "rolled back")
			abort(t, e.db())
			wput(t, second, "k", 5, "b")
			commit(t, e.db(), nil)
			restored := e.kv("restored")
			copyStore(t, kv, restored)
			r := newWindowStore(t, restored, dupsCfg)
			for _, v := range []string{"c1", "c2", "c3"} {
				wput(t, r, "k", 5, v)
			}
			var want []win
			for _, v := range []string{"a", "b", "c1", "c2", "c3"} {
				want = append(want, win{"k", 5, v})
			}
			wantWindows(t, "FetchRange of the restored store", fetchRange(t, r, "k", 5, 5), want)
		}},
		{"a layer Reset after an Abort goes back with its store", func(t *testing.T, e *env) {
			s := newWindowStore(t, e.kv("w"), dupsCfg)
			wput(t, s, "k", 150, "w150")
			wput(t, s, "k", 410, "w410") // a new segment: the meta record says 410
			commit(t, e.db(), nil)
			wput(t, s, "k", 480, "rolled back") // the same segment: only the layer knows 480
			abort(t, e.db())
			// The layer still hides what the rolled-back put expired, until Reset.
			wantWindows(t, "FetchRange before Reset", fetchRange(t, s, "k", 0, 1000), []win{{"k", 410, "w410"}})
			s.(store.Layer).Reset()
			wput(t, s, "k", 410, "again")
			wantWindows(t, "FetchRange after Reset", fetchRange(t, s, "k", 0, 1000), []win{{"k", 150, "w150"}, {"k", 410, "w410"}, {"k", 410, "again"}})
		}},
		{"windows older than observed time − retention are hidden, then deleted with their segment", func(t *testing.T, e *env) {
			kv := e.kv("w")
			s := newWindowStore(t, kv, windowCfg)
			wput(t, s, "k", 50, "w50")   // segment 0
			wput(t, s, "k", 650, "w650") // segment 6
			wput(t, s, "k", 710, "w710") // segment 7
			wput(t, s, "k", 1000, "w1000")
			// Observed 1000: windows from 701 on live; segments up to 6 are deleted.
			wantNoWindow(t, s, "k", 650)
			wantWindow(t, s, "k", 710, "w710")
			// Puts follow Kafka Streams': one into an expired segment (before that of
			// 1000 − 300) is dropped and counted; an older one into a live segment is
			// kept, and hidden.
			wput(t, s, "k", 699, "too late")
			wput(t, s, "k", 700, "hidden")
			wput(t, s, "k", 701, "w701")
			wantNoWindow(t, s, "k", 699)
			wantNoWindow(t, s, "k", 700)
			want := []win{{"k", 701, "w701"}, {"k", 710, "w710"}, {"k", 1000, "w1000"}}
			wantWindows(t, "FetchRange", fetchRange(t, s, "k", 0, 2000), want)
			wantWindows(t, "All", allWindows(t, s), want)
			wantWindows(t, "FetchAll", fetchAll(t, s, math.MinInt64, math.MaxInt64), want)
			wantRaw(t, kv, []string{"w701", "w710", "w1000", "hidden"}, []string{"w50", "w650", "too late"})
			if n := s.(store.Layer).ExpiredPuts(); n != 1 {
				t.Errorf("ExpiredPuts() = %d, want 1 (too late)", n)
			}

			// Observed 1010, in the same segment: 710 is hidden but its segment, where
			// 750 still lives, stays.
			wput(t, s, "k", 750, "w750")
			wput(t, s, "k", 1010, "w1010")
			wantNoWindow(t, s, "k", 710)
			wantWindows(t, "FetchRange at 1010", fetchRange(t, s, "k", 0, 2000), []win{{"k", 750, "w750"}, {"k", 1000, "w1000"}, {"k", 1010, "w1010"}})
			wantRaw(t, kv, []string{"w710", "w750"}, nil)
			commit(t, e.db(), nil)
			wantRaw(t, kv, []string{"w710", "w750"}, []string{"w650"})
		}},
		{"a window far older than retention is dropped, whatever its key", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "a", 1_000_000, "now")
			wput(t, s, "b", -1_000_000, "ancient")
			wput(t, s, "b", math.MinInt64, "the first millisecond")
			wantWindows(t, "All", allWindows(t, s), []win{{"a", 1_000_000, "now"}})
		}},
		{"the observed time survives a restart of a persistent engine", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "k", 710, "w710")
			wput(t, s, "k", 1000, "w1000")
			commit(t, e.db(), map[string]int64{"w": 3})
			e.restart()
			s = e.windows("w", windowCfg)
			if !e.persistent() {
				wantWindows(t, "All after a restart", allWindows(t, s), nil)
				return
			}
			wantWindows(t, "All after a restart", allWindows(t, s), []win{{"k", 710, "w710"}, {"k", 1000, "w1000"}})
			wput(t, s, "k", 700, "too late")
			wantNoWindow(t, s, "k", 700)
			wput(t, s, "k", 1010, "w1010")
			wantWindows(t, "All after a restart and a put", allWindows(t, s), []win{{"k", 1000, "w1000"}, {"k", 1010, "w1010"}})
		}},
		{"the observed time survives a restore into a new store", func(t *testing.T, e *env) {
			kv := e.kv("w")
			s := newWindowStore(t, kv, windowCfg)
			wput(t, s, "k", 650, "w650")
			wput(t, s, "k", 710, "w710")
			wput(t, s, "k", 1010, "w1010")
			restored := e.kv("restored")
			copyStore(t, kv, restored)
			r := newWindowStore(t, restored, windowCfg)
			wantWindows(t, "All of the restored store", allWindows(t, r), []win{{"k", 1010, "w1010"}})
			wantNoWindow(t, r, "k", 710)
			wput(t, r, "k", 700, "too late")
			wantNoWindow(t, r, "k", 700)
			// Moving to a new segment expires what the restore brought back.
			wput(t, r, "k", 1300, "w1300")
			wantRaw(t, restored, []string{"w1010", "w1300"}, []string{"w650", "w710", "too late"})
		}},
		{"expired segments are deleted through Unlogged, not logged", func(t *testing.T, e *env) {
			kv := e.kv("w")
			logged := &loggingStore{KeyValueStore: kv}
			s := newWindowStore(t, logged, windowCfg)
			wput(t, s, "k", 50, "w50")
			wput(t, s, "k", 120, "w120")
			wput(t, s, "k", 1000, "w1000")
			wantRaw(t, kv, []string{"w1000"}, []string{"w50", "w120"})
			if d := logged.deletes(); len(d) != 0 {
				t.Errorf("expiry logged deletes %q", d)
			}
			logged.wantPutLogged(t, "w50", true)
			logged.wantPutLogged(t, "w1000", true)
			wdel(t, s, "k", 1000)
			if d := logged.deletes(); len(d) != 1 {
				t.Errorf("Delete logged %d deletes %q, want 1", len(d), d)
			}
		}},
		{"a store without Unlogger deletes expired segments through itself", func(t *testing.T, e *env) {
			kv := e.kv("w")
			s := newWindowStore(t, struct{ store.KeyValueStore }{kv}, windowCfg)
			wput(t, s, "k", 50, "w50")
			wput(t, s, "k", 1000, "w1000")
			wantRaw(t, kv, []string{"w1000"}, []string{"w50"})
		}},
		{"two handles on one store agree on the observed time", func(t *testing.T, e *env) {
			kv := e.kv("w")
			writer, reader := newWindowStore(t, kv, windowCfg), newWindowStore(t, kv, windowCfg)
			wput(t, writer, "k", 10, "w10")
			wantWindows(t, "the reader's FetchRange", fetchRange(t, reader, "k", 0, 100), []win{{"k", 10, "w10"}})
			wput(t, writer, "k", 500, "w500")
			wput(t, writer, "k", 1000, "w1000")
			wantWindows(t, "the reader's FetchRange after the writer moved on", fetchRange(t, reader, "k", 0, 2000), []win{{"k", 1000, "w1000"}})
			wput(t, reader, "k", 650, "too late for the writer's observed time")
			wantNoWindow(t, writer, "k", 650)
			wantNoWindow(t, reader, "k", 650)
		}},
		{"staged writes are read back, and Abort brings back the committed windows", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "k", 100, "committed")
			wput(t, s, "k", 150, "replaced")
			commit(t, e.db(), nil)
			wput(t, s, "k", 150, "staged")
			wantWindow(t, s, "k", 150, "staged")
			wput(t, s, "k", 1000, "moves the observed time")
			wantNoWindow(t, s, "k", 100)
			abort(t, e.db())
			wantWindow(t, s, "k", 100, "committed")
			wantWindow(t, s, "k", 150, "replaced")
			wantWindows(t, "FetchRange after Abort", fetchRange(t, s, "k", 0, 2000), []win{{"k", 100, "committed"}, {"k", 150, "replaced"}})
			wput(t, s, "k", 120, "after abort")
			commit(t, e.db(), nil)
			abort(t, e.db())
			wantWindows(t, "All", allWindows(t, s), []win{{"k", 100, "committed"}, {"k", 120, "after abort"}, {"k", 150, "replaced"}})
		}},
		{"an iterator closed twice is fine; Next after Close reports ErrClosed", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			wput(t, s, "k", 1, "a")
			wput(t, s, "k", 2, "b")
			for name, open := range map[string]func() (store.WindowIterator, error){
				"FetchRange": func() (store.WindowIterator, error) { return s.FetchRange([]byte("k"), 0, 10) },
				"FetchAll":   func() (store.WindowIterator, error) { return s.FetchAll(0, 10) },
			} {
				it, err := open()
				if err != nil {
					t.Fatal(err)
				}
				if !it.Next() {
					t.Fatalf("%s: Next = false; Err %v", name, it.Err())
				}
				if err := it.Close(); err != nil {
					t.Errorf("%s: Close: %v", name, err)
				}
				if err := it.Close(); err != nil {
					t.Errorf("%s: second Close: %v", name, err)
				}
				if it.Next() {
					t.Errorf("%s: Next after Close = true", name)
				}
				wantErrClosed(t, name+": Err after Next after Close", it.Err())
			}
		}},
		{"a store of another kind is refused with ErrCorruptKey", func(t *testing.T, e *env) {
			sessions := newSessionStore(t, e.kv("sessions"), sessionCfg)
			sput(t, sessions, "k", 1, 2, "v")
			s := e.windows("sessions", windowCfg)
			if _, err := s.All(); !errors.Is(err, store.ErrCorruptKey) {
				t.Errorf("All of a window store over a session store: %v, want ErrCorruptKey", err)
			}
			if err := s.Put([]byte("k"), 1, []byte("v")); !errors.Is(err, store.ErrCorruptKey) {
				t.Errorf("Put into a window store over a session store: %v, want ErrCorruptKey", err)
			}
			put(t, e.kv("plain"), "plain key", "v")
			if _, err := e.windows("plain", windowCfg).FetchAll(0, 10); !errors.Is(err, store.ErrCorruptKey) {
				t.Errorf("FetchAll of a window store over plain keys: %v, want ErrCorruptKey", err)
			}
			wput(t, newWindowStore(t, e.kv("no dups"), windowCfg), "k", 1, "v")
			it, err := e.windows("no dups", dupsCfg).All()
			if err == nil {
				for it.Next() {
				}
				err = it.Err()
				it.Close()
			}
			if !errors.Is(err, store.ErrCorruptKey) {
				t.Errorf("All with duplicates of a store written without: %v, want ErrCorruptKey", err)
			}
		}},
		{"a store keeps the segment interval it was first written with", func(t *testing.T, e *env) {
			s := e.windows("w", windowCfg)
			for _, start := range []int64{10, 150, 290} {
				wput(t, s, "k", start, fmt.Sprint(start))
			}
			other := e.windows("w", store.WindowConfig{Retention: testRetention * time.Millisecond, SegmentInterval: 7 * time.Millisecond})
			wantWindows(t, "FetchRange with another interval configured", fetchRange(t, other, "k", 0, 300), []win{{"k", 10, "10"}, {"k", 150, "150"}, {"k", 290, "290"}})
			wantWindow(t, other, "k", 150, "150")
		}},
		{"random puts and deletes read back as a model of the store", func(t *testing.T, e *env) {
			windowModelTest(t, e, false)
		}},
		{"random puts and deletes with duplicates read back as a model of the store", func(t *testing.T, e *env) {
			windowModelTest(t, e, true)
		}},
	}
}
