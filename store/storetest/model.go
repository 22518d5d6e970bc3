package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// modelKeys are the keys of the model tests: prefixes of each other, and 0x00 bytes.
var modelKeys = []string{"", "a", "a\x00", "ab", "b"}

// entry is a window or session in a model: a and b are the window start (b unused) or
// the session start and end; seq orders puts.
type entry struct {
	key   string
	a, b  int64
	seq   int
	value string
}

// model is what a window or session store should hold: every entry put and not yet
// deleted with its segment, hidden or not.
type model struct {
	entries  []entry
	known    bool
	observed int64
	seq      int
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (m *model) minLive() int64 { return m.observed - testRetention + 1 }

func (m *model) live(t int64) bool { return !m.known || t >= m.minLive() }

// liveSegment reports whether a put of time t goes into a live segment: one at or after
// that of observed − retention.
func (m *model) liveSegment(t int64) bool {
	return !m.known || floorDiv(t, testInterval) >= floorDiv(m.observed-testRetention, testInterval)
}

// put records a put of time t (window start, session end): dropped when its segment
// expired (kept, if hidden, when only the time is older than retention); a move into a
// new segment deletes the expired segments. same says which entry a put replaces (nil:
// none, for duplicates).
func (m *model) put(e entry, t int64, timeOf func(entry) int64, same func(entry) bool) {
	if !m.liveSegment(t) {
		return
	}
	moved := !m.known || floorDiv(t, testInterval) > floorDiv(m.observed, testInterval)
	if !m.known || t > m.observed {
		m.known, m.observed = true, t
	}
	if moved {
		m.entries = slices.DeleteFunc(m.entries, func(x entry) bool { return !m.liveSegment(timeOf(x)) })
	}
	if same != nil {
		m.entries = slices.DeleteFunc(m.entries, same)
	}
	m.seq++
	e.seq = m.seq
	m.entries = append(m.entries, e)
}

// wantRawModel checks that the store holds exactly the model's values, hidden or not.
func wantRawModel(t *testing.T, kv store.KeyValueStore, m *model) {
	t.Helper()
	var got, want []string
	for _, v := range rawValues(t, kv) {
		if strings.HasPrefix(v, "v") {
			got = append(got, v)
		}
	}
	for _, e := range m.entries {
		want = append(want, e.value)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the store holds %d values %q, want %d %q", len(got), got, len(want), want)
	}
}

func windowModelTest(t *testing.T, e *env, dups bool) {
	rng := rand.New(rand.NewPCG(3, uint64(len(fmt.Sprint(dups)))))
	cfg := windowCfg
	if dups {
		cfg = dupsCfg
	}
	kv := e.kv("w")
	s := newWindowStore(t, kv, cfg)
	m := &model{}
	start := func(x entry) int64 { return x.a }
	visible := func(x entry) bool { return m.live(x.a) }
	byStart := func(x, y entry) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.seq, y.seq)) }
	base := int64(-2000)
	for i := range 3000 {
		key := modelKeys[rng.IntN(len(modelKeys))]
		at := base + rng.Int64N(700) - 600
		switch op := rng.IntN(20); {
		case op < 12:
			v := fmt.Sprintf("v%d", i)
			wput(t, s, key, at, v)
			var same func(entry) bool
			if !dups {
				same = func(x entry) bool { return x.key == key && x.a == at }
			}
			m.put(entry{key: key, a: at, value: v}, at, start, same)
			base += rng.Int64N(12)
		case op < 14:
			wdel(t, s, key, at)
			m.entries = slices.DeleteFunc(m.entries, func(x entry) bool { return x.key == key && x.a == at })
		case op < 16:
			var want []entry
			for _, x := range m.entries {
				if x.key == key && x.a == at && visible(x) {
					want = append(want, x)
				}
			}
			slices.SortFunc(want, byStart)
			got, ok := wfetch(t, s, key, at)
			if len(want) == 0 && ok || len(want) > 0 && (!ok || got != want[0].value) {
				t.Fatalf("op %d: Fetch(%q, %d) = %q, %v; want %v", i, key, at, got, ok, want)
			}
		case op < 19:
			from, to := at, at+rng.Int64N(500)
			var want []win
			var es []entry
			for _, x := range m.entries {
				if x.key == key && x.a >= from && x.a <= to && visible(x) {
					es = append(es, x)
				}
			}
			slices.SortFunc(es, byStart)
			for _, x := range es {
				want = append(want, win{x.key, x.a, x.value})
			}
			wantWindows(t, fmt.Sprintf("op %d: FetchRange(%q, %d, %d)", i, key, from, to), fetchRange(t, s, key, from, to), want)
		default:
			from, to := at, at+rng.Int64N(500)
			var es []entry
			for _, x := range m.entries {
				if x.a >= from && x.a <= to && visible(x) {
					es = append(es, x)
				}
			}
			slices.SortFunc(es, func(x, y entry) int {
				return cmp.Or(cmp.Compare(floorDiv(x.a, testInterval), floorDiv(y.a, testInterval)), strings.Compare(x.key, y.key), byStart(x, y))
			})
			var want []win
			for _, x := range es {
				want = append(want, win{x.key, x.a, x.value})
			}
			wantWindows(t, fmt.Sprintf("op %d: FetchAll(%d, %d)", i, from, to), fetchAll(t, s, from, to), want)
		}
		if t.Failed() {
			t.FailNow()
		}
		if i%100 == 99 {
			commit(t, e.db(), nil)
			wantRawModel(t, kv, m)
		}
	}
}

func sessionModelTest(t *testing.T, e *env) {
	rng := rand.New(rand.NewPCG(5, 8))
	kv := e.kv("s")
	s := newSessionStore(t, kv, sessionCfg)
	m := &model{}
	end := func(x entry) int64 { return x.b }
	visible := func(x entry) bool { return m.live(x.b) }
	byEnd := func(x, y entry) int { return cmp.Or(cmp.Compare(x.b, y.b), cmp.Compare(x.a, y.a)) }
	base := int64(-2000)
	for i := range 3000 {
		key := modelKeys[rng.IntN(len(modelKeys))]
		to := base + rng.Int64N(500) - 400
		from := to - rng.Int64N(300)
		switch op := rng.IntN(20); {
		case op < 12:
			v := fmt.Sprintf("v%d", i)
			sput(t, s, key, from, to, v)
			m.put(entry{key: key, a: from, b: to, value: v}, to, end, func(x entry) bool { return x.key == key && x.a == from && x.b == to })
			base += rng.Int64N(12)
		case op < 14:
			// Remove a session that exists, or one that does not.
			if k := rng.IntN(len(m.entries) + 1); k < len(m.entries) {
				key, from, to = m.entries[k].key, m.entries[k].a, m.entries[k].b
			}
			sremove(t, s, key, from, to)
			m.entries = slices.DeleteFunc(m.entries, func(x entry) bool { return x.key == key && x.a == from && x.b == to })
		case op < 16:
			if k := rng.IntN(len(m.entries) + 1); k < len(m.entries) {
				key, from, to = m.entries[k].key, m.entries[k].a, m.entries[k].b
			}
			var want *entry
			for _, x := range m.entries {
				if x.key == key && x.a == from && x.b == to && visible(x) {
					want = &x
				}
			}
			got, ok := sfetch(t, s, key, from, to)
			if want == nil && ok || want != nil && (!ok || got != want.value) {
				t.Fatalf("op %d: FetchSession(%q, %d, %d) = %q, %v; want %v", i, key, from, to, got, ok, want)
			}
		case op < 19:
			earliestEnd, latestStart := from, from+rng.Int64N(400)-100
			var es []entry
			for _, x := range m.entries {
				if x.key == key && x.b >= earliestEnd && x.a <= latestStart && visible(x) {
					es = append(es, x)
				}
			}
			slices.SortFunc(es, byEnd)
			var want []sess
			for _, x := range es {
				want = append(want, sess{x.key, x.a, x.b, x.value})
			}
			wantSessions(t, fmt.Sprintf("op %d: FindSessions(%q, %d, %d)", i, key, earliestEnd, latestStart), findSessions(t, s, key, earliestEnd, latestStart), want)
		default:
			var es []entry
			for _, x := range m.entries {
				if visible(x) {
					es = append(es, x)
				}
			}
			slices.SortFunc(es, func(x, y entry) int {
				return cmp.Or(cmp.Compare(floorDiv(x.b, testInterval), floorDiv(y.b, testInterval)), strings.Compare(x.key, y.key), byEnd(x, y))
			})
			var want []sess
			for _, x := range es {
				want = append(want, sess{x.key, x.a, x.b, x.value})
			}
			wantSessions(t, fmt.Sprintf("op %d: All", i), allSessions(t, s), want)
		}
		if t.Failed() {
			t.FailNow()
		}
		if i%100 == 99 {
			commit(t, e.db(), nil)
			wantRawModel(t, kv, m)
		}
	}
}
