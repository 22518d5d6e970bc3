package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
)

var sessionCfg = store.SessionConfig{Retention: testRetention * time.Millisecond, SegmentInterval: testInterval * time.Millisecond}

// sess is a session as the tests see it.
type sess struct {
	key        string
	start, end int64
	value      string
}

func (s sess) String() string { return fmt.Sprintf("%q@[%d,%d]=%q", s.key, s.start, s.end, s.value) }

func newSessionStore(t *testing.T, kv store.KeyValueStore, cfg store.SessionConfig) store.SessionStore {
	t.Helper()
	s, err := store.NewSessionStore(kv, cfg)
	if err != nil {
		t.Fatalf("NewSessionStore(%q, %+v): %v", kv.Name(), cfg, err)
	}
	return s
}

// sessions returns a session store over the key-value store name of e.db().
func (e *env) sessions(name string) store.SessionStore {
	e.t.Helper()
	return newSessionStore(e.t, e.kv(name), sessionCfg)
}

func sput(t *testing.T, s store.SessionStore, key string, start, end int64, value string) {
	t.Helper()
	if err := s.Put([]byte(key), start, end, []byte(value)); err != nil {
		t.Fatalf("Put(%q, %d, %d, %q): %v", key, start, end, value, err)
	}
}

func sremove(t *testing.T, s store.SessionStore, key string, start, end int64) {
	t.Helper()
	if err := s.Remove([]byte(key), start, end); err != nil {
		t.Fatalf("Remove(%q, %d, %d): %v", key, start, end, err)
	}
}

func sfetch(t *testing.T, s store.SessionStore, key string, start, end int64) (string, bool) {
	t.Helper()
	v, ok, err := s.FetchSession([]byte(key), start, end)
	if err != nil {
		t.Fatalf("FetchSession(%q, %d, %d): %v", key, start, end, err)
	}
	if ok && v == nil {
		t.Fatalf("FetchSession(%q, %d, %d) found a nil value", key, start, end)
	}
	return string(v), ok
}

func wantSession(t *testing.T, s store.SessionStore, key string, start, end int64, value string) {
	t.Helper()
	if got, ok := sfetch(t, s, key, start, end); !ok || got != value {
		t.Errorf("FetchSession(%q, %d, %d) = %q, %v; want %q", key, start, end, got, ok, value)
	}
}

func wantNoSession(t *testing.T, s store.SessionStore, key string, start, end int64) {
	t.Helper()
	if got, ok := sfetch(t, s, key, start, end); ok {
		t.Errorf("FetchSession(%q, %d, %d) = %q; want it absent", key, start, end, got)
	}
}

// drainSessions reads it to the end, checks Err and closes it.
func drainSessions(t *testing.T, it store.SessionIterator, err error) []sess {
	t.Helper()
	if err != nil {
		t.Fatalf("opening a session iterator: %v", err)
	}
	var out []sess
	for it.Next() {
		if it.Value() == nil {
			t.Fatalf("session %q@[%d,%d] has a nil Value", it.Key(), it.Start(), it.End())
		}
		out = append(out, sess{string(it.Key()), it.Start(), it.End(), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("session iterator Err: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("session iterator Close: %v", err)
	}
	return out
}

func findSessions(t *testing.T, s store.SessionStore, key string, earliestEnd, latestStart int64) []sess {
	t.Helper()
	it, err := s.FindSessions([]byte(key), earliestEnd, latestStart)
	return drainSessions(t, it, err)
}

func fetchSessions(t *testing.T, s store.SessionStore, key string) []sess {
	t.Helper()
	it, err := s.Fetch([]byte(key))
	return drainSessions(t, it, err)
}

func allSessions(t *testing.T, s store.SessionStore) []sess {
	t.Helper()
	it, err := s.All()
	return drainSessions(t, it, err)
}

func wantSessions(t *testing.T, what string, got, want []sess) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s returned %d sessions %v,\nwant %d sessions %v", what, len(got), got, len(want), want)
	}
}

func sessionCases() []testCase {
	return []testCase{
		{"FetchSession returns what Put stored, and Put replaces it", func(t *testing.T, e *env) {
			s := e.sessions("s")
			wantNoSession(t, s, "k", 0, 10)
			sput(t, s, "k", 0, 10, "v1")
			sput(t, s, "k", 0, 11, "longer session")
			sput(t, s, "k", 1, 10, "later start")
			wantSession(t, s, "k", 0, 10, "v1")
			sput(t, s, "k", 0, 10, "v2")
			wantSession(t, s, "k", 0, 10, "v2")
			wantNoSession(t, s, "k", 5, 5)
		}},
		{"Put refuses a nil value and a session that ends before it starts", func(t *testing.T, e *env) {
			s := e.sessions("s")
			if err := s.Put([]byte("k"), 0, 1, nil); !errors.Is(err, store.ErrNilValue) {
				t.Errorf("Put(k, 0, 1, nil) = %v, want ErrNilValue", err)
			}
			if err := s.Put([]byte("k"), 2, 1, []byte("v")); err == nil {
				t.Error("Put of a session from 2 to 1 succeeded")
			}
			if err := s.Remove([]byte("k"), 2, 1); err == nil {
				t.Error("Remove of a session from 2 to 1 succeeded")
			}
			if _, _, err := s.FetchSession([]byte("k"), 2, 1); err == nil {
				t.Error("FetchSession of a session from 2 to 1 succeeded")
			}
			wantSessions(t, "All", allSessions(t, s), nil)
			sput(t, s, "k", 7, 7, "a session of one instant")
			wantSession(t, s, "k", 7, 7, "a session of one instant")
		}},
		{"Remove removes one session", func(t *testing.T, e *env) {
			s := e.sessions("s")
			sput(t, s, "k", 0, 10, "a")
			sput(t, s, "k", 0, 20, "b")
			sremove(t, s, "k", 0, 10)
			sremove(t, s, "k", 50, 60) // absent: not an error
			wantNoSession(t, s, "k", 0, 10)
			wantSessions(t, "Fetch", fetchSessions(t, s, "k"), []sess{{"k", 0, 20, "b"}})
		}},
		{"FindSessions returns sessions that end at or after earliestEnd and start at or before latestStart, by end then start", func(t *testing.T, e *env) {
			s := e.sessions("s")
			for _, x := range []sess{{"k", 0, 10, "a"}, {"k", 20, 30, "b"}, {"k", 40, 50, "c"}, {"k", 5, 45, "d"}, {"k", 25, 30, "e"}, {"k", 120, 250, "f"}, {"x", 20, 30, "other key"}} {
				sput(t, s, x.key, x.start, x.end, x.value)
			}
			a, b, c, d, ee, f := sess{"k", 0, 10, "a"}, sess{"k", 20, 30, "b"}, sess{"k", 40, 50, "c"}, sess{"k", 5, 45, "d"}, sess{"k", 25, 30, "e"}, sess{"k", 120, 250, "f"}
			for _, q := range []struct {
				earliestEnd, latestStart int64
				want                     []sess
			}{
				{30, 40, []sess{b, ee, d, c}},
				{31, 40, []sess{d, c}},
				{30, 39, []sess{b, ee, d}},
				{10, 10, []sess{a, d}},
				{11, 4, nil},
				{0, 0, []sess{a}},
				{math.MinInt64, math.MaxInt64, []sess{a, b, ee, d, c, f}},
				{200, 130, []sess{f}}, // latestStart before earliestEnd: sessions that span both
				{251, math.MaxInt64, nil},
				{math.MinInt64, -1, nil},
			} {
				wantSessions(t, fmt.Sprintf("FindSessions(k, %d, %d)", q.earliestEnd, q.latestStart), findSessions(t, s, "k", q.earliestEnd, q.latestStart), q.want)
			}
			wantSessions(t, "Fetch(k)", fetchSessions(t, s, "k"), []sess{a, b, ee, d, c, f})
		}},
		{"merging sessions: find the overlapping ones, remove them, put the merged one", func(t *testing.T, e *env) {
			s := e.sessions("s")
			const gap = 10
			// A session-windowed count, as Kafka Streams' KStreamSessionWindowAggregate.
			record := func(key string, at int64) {
				t.Helper()
				start, end, count := at, at, 1
				for _, x := range findSessions(t, s, key, at-gap, at+gap) {
					start, end = min(start, x.start), max(end, x.end)
					var n int
					fmt.Sscan(x.value, &n)
					count += n
					sremove(t, s, key, x.start, x.end)
				}
				sput(t, s, key, start, end, fmt.Sprint(count))
			}
			for _, at := range []int64{0, 5, 30, 15} {
				record("k", at)
			}
			record("other", 12)
			wantSessions(t, "Fetch after 0, 5, 30, 15", fetchSessions(t, s, "k"), []sess{{"k", 0, 15, "3"}, {"k", 30, 30, "1"}})
			record("k", 22) // joins both
			wantSessions(t, "Fetch after 22", fetchSessions(t, s, "k"), []sess{{"k", 0, 30, "5"}})
			record("k", 41)
			wantSessions(t, "Fetch after 41", fetchSessions(t, s, "k"), []sess{{"k", 0, 30, "5"}, {"k", 41, 41, "1"}})
			wantSessions(t, "All", allSessions(t, s), []sess{{"k", 0, 30, "5"}, {"k", 41, 41, "1"}, {"other", 12, 12, "1"}})
		}},
		{"the sessions of a key never include those of keys it is a prefix of", func(t *testing.T, e *env) {
			s := e.sessions("s")
			keys := []string{"", "a", "a\x00", "a\x01", "ab", "a\xff", "b"}
			for _, k := range keys {
				sput(t, s, k, 0, 5, "5:"+k)
				sput(t, s, k, 100, 150, "150:"+k)
			}
			for _, k := range keys {
				want := []sess{{k, 0, 5, "5:" + k}, {k, 100, 150, "150:" + k}}
				wantSessions(t, fmt.Sprintf("Fetch(%q)", k), fetchSessions(t, s, k), want)
				wantSessions(t, fmt.Sprintf("FindSessions(%q, 5, 100)", k), findSessions(t, s, k, 5, 100), want)
				wantSession(t, s, k, 100, 150, "150:"+k)
			}
		}},
		{"negative times sort before positive ones", func(t *testing.T, e *env) {
			s := newSessionStore(t, e.kv("s"), store.SessionConfig{Retention: time.Hour, SegmentInterval: 100 * time.Millisecond})
			in := []sess{{"k", -250, -150, "a"}, {"k", -120, -1, "b"}, {"k", -1, 0, "c"}, {"k", -300, 120, "d"}, {"k", -100, -100, "e"}}
			for _, x := range in {
				sput(t, s, x.key, x.start, x.end, x.value)
			}
			want := []sess{in[0], in[4], in[1], in[2], in[3]}
			wantSessions(t, "Fetch", fetchSessions(t, s, "k"), want)
			wantSessions(t, "All", allSessions(t, s), want)
			wantSessions(t, "FindSessions(k, -100, -50)", findSessions(t, s, "k", -100, -50), []sess{in[4], in[1], in[3]})
		}},
		{"All orders by segment of the end, then key, then end, then start", func(t *testing.T, e *env) {
			s := e.sessions("s")
			for _, x := range []sess{{"b", 150, 160, "b1"}, {"a", 0, 199, "a1"}, {"b", 10, 20, "b0"}, {"a", 0, 20, "a0"}, {"a", 5, 20, "a0b"}} {
				sput(t, s, x.key, x.start, x.end, x.value)
			}
			wantSessions(t, "All", allSessions(t, s), []sess{{"a", 0, 20, "a0"}, {"a", 5, 20, "a0b"}, {"b", 10, 20, "b0"}, {"a", 0, 199, "a1"}, {"b", 150, 160, "b1"}})
		}},
		{"sessions that ended before observed time − retention are hidden, then deleted with their segment", func(t *testing.T, e *env) {
			kv := e.kv("s")
			s := newSessionStore(t, kv, sessionCfg)
			sput(t, s, "k", 0, 50, "s50")
			sput(t, s, "k", 600, 710, "s710")
			sput(t, s, "k", 0, 1000, "long") // an old start does not expire a session
			// Observed 1000: sessions ending at 701 or later live.
			wantSession(t, s, "k", 600, 710, "s710")
			sput(t, s, "k", 690, 699, "too late") // its segment, 600-699, expired
			sput(t, s, "k", 690, 700, "hidden")   // its segment lives: kept, hidden
			wantNoSession(t, s, "k", 690, 699)
			wantNoSession(t, s, "k", 690, 700)
			if n := s.(store.Layer).ExpiredPuts(); n != 1 {
				t.Errorf("ExpiredPuts() = %d, want 1 (too late)", n)
			}
			wantSessions(t, "Fetch", fetchSessions(t, s, "k"), []sess{{"k", 600, 710, "s710"}, {"k", 0, 1000, "long"}})
			wantRaw(t, kv, []string{"s710", "long", "hidden"}, []string{"s50", "too late"})
			sput(t, s, "k", 1005, 1011, "s1011")
			wantNoSession(t, s, "k", 600, 710)
			wantSessions(t, "FindSessions", findSessions(t, s, "k", math.MinInt64, math.MaxInt64), []sess{{"k", 0, 1000, "long"}, {"k", 1005, 1011, "s1011"}})
			wantSessions(t, "All", allSessions(t, s), []sess{{"k", 0, 1000, "long"}, {"k", 1005, 1011, "s1011"}})
			wantRaw(t, kv, []string{"s710"}, nil) // its segment (700-799) still has live ends
		}},
		{"the observed time survives a restart of a persistent engine and a restore", func(t *testing.T, e *env) {
			kv := e.kv("s")
			s := newSessionStore(t, kv, sessionCfg)
			sput(t, s, "k", 600, 650, "s650")
			sput(t, s, "k", 700, 710, "s710")
			sput(t, s, "k", 1000, 1010, "s1010")
			restored := e.kv("restored")
			copyStore(t, kv, restored)
			r := newSessionStore(t, restored, sessionCfg)
			wantSessions(t, "All of the restored store", allSessions(t, r), []sess{{"k", 1000, 1010, "s1010"}})
			sput(t, r, "k", 1200, 1300, "s1300")
			wantRaw(t, restored, []string{"s1010", "s1300"}, []string{"s650", "s710"})
			commit(t, e.db(), nil)

			e.restart()
			s = e.sessions("s")
			if !e.persistent() {
				wantSessions(t, "All after a restart", allSessions(t, s), nil)
				return
			}
			wantSessions(t, "All after a restart", allSessions(t, s), []sess{{"k", 1000, 1010, "s1010"}})
			wantRaw(t, e.kv("s"), []string{"s710"}, nil) // hidden, in a live segment
			sput(t, s, "k", 650, 700, "too late")
			wantNoSession(t, s, "k", 650, 700)
		}},
		{"expired segments are deleted through Unlogged, not logged", func(t *testing.T, e *env) {
			kv := e.kv("s")
			logged := &loggingStore{KeyValueStore: kv}
			s := newSessionStore(t, logged, sessionCfg)
			sput(t, s, "k", 0, 50, "s50")
			sput(t, s, "k", 900, 1000, "s1000")
			wantRaw(t, kv, []string{"s1000"}, []string{"s50"})
			if d := logged.deletes(); len(d) != 0 {
				t.Errorf("expiry logged deletes %q", d)
			}
			sremove(t, s, "k", 900, 1000)
			if d := logged.deletes(); len(d) != 1 {
				t.Errorf("Remove logged %d deletes %q, want 1", len(d), d)
			}
		}},
		{"staged writes are read back, and Abort brings back the committed sessions", func(t *testing.T, e *env) {
			s := e.sessions("s")
			sput(t, s, "k", 100, 110, "committed")
			sput(t, s, "k", 120, 150, "replaced")
			commit(t, e.db(), nil)
			sput(t, s, "k", 120, 150, "staged")
			sremove(t, s, "k", 100, 110)
			wantSessions(t, "Fetch of staged writes", fetchSessions(t, s, "k"), []sess{{"k", 120, 150, "staged"}})
			sput(t, s, "k", 1000, 1000, "moves the observed time")
			abort(t, e.db())
			wantSession(t, s, "k", 100, 110, "committed")
			wantSessions(t, "Fetch after Abort", fetchSessions(t, s, "k"), []sess{{"k", 100, 110, "committed"}, {"k", 120, 150, "replaced"}})
			sput(t, s, "k", 115, 118, "after abort")
			commit(t, e.db(), nil)
			abort(t, e.db())
			wantSessions(t, "All", allSessions(t, s), []sess{{"k", 100, 110, "committed"}, {"k", 115, 118, "after abort"}, {"k", 120, 150, "replaced"}})
		}},
		{"a store of another kind is refused with ErrCorruptKey", func(t *testing.T, e *env) {
			wput(t, e.windows("windows", windowCfg), "k", 1, "v")
			s := e.sessions("windows")
			if _, err := s.Fetch([]byte("k")); !errors.Is(err, store.ErrCorruptKey) {
				t.Errorf("Fetch of a session store over a window store: %v, want ErrCorruptKey", err)
			}
			put(t, e.kv("plain"), "plain key", "v")
			if _, err := e.sessions("plain").All(); !errors.Is(err, store.ErrCorruptKey) {
				t.Errorf("All of a session store over plain keys: %v, want ErrCorruptKey", err)
			}
		}},
		{"an iterator closed twice is fine; Next after Close reports ErrClosed", func(t *testing.T, e *env) {
			s := e.sessions("s")
			sput(t, s, "k", 1, 2, "a")
			sput(t, s, "k", 3, 4, "b")
			it, err := s.Fetch([]byte("k"))
			if err != nil {
				t.Fatal(err)
			}
			if !it.Next() {
				t.Fatalf("Next = false; Err %v", it.Err())
			}
			if err := errors.Join(it.Close(), it.Close()); err != nil {
				t.Errorf("closing twice: %v", err)
			}
			if it.Next() {
				t.Error("Next after Close = true")
			}
			wantErrClosed(t, "Err after Next after Close", it.Err())
		}},
		{"random puts and removes read back as a model of the store", func(t *testing.T, e *env) {
			sessionModelTest(t, e)
		}},
	}
}
