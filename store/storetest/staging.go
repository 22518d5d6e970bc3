package storetest

import (
	"math"
	"testing"
)

var stagingCases = []testCase{
	{"reads see writes staged since the last Commit", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "committed", "1")
		put(t, s, "deleted", "1")
		commit(t, e.db(), nil)
		put(t, s, "staged", "2")
		put(t, s, "committed", "2")
		del(t, s, "deleted")
		wantValue(t, s, "staged", "2")
		wantValue(t, s, "committed", "2")
		wantAbsent(t, s, "deleted")
		wantPairs(t, "All", all(t, s), []pair{{"committed", "2"}, {"staged", "2"}})
	}},
	{"Abort discards staged puts", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		abort(t, e.db())
		wantAbsent(t, s, "k")
		wantPairs(t, "All", all(t, s), nil)
	}},
	{"Abort brings back committed keys deleted since the last Commit", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "a", "1")
		put(t, s, "b", "2")
		commit(t, e.db(), nil)
		del(t, s, "a")
		del(t, s, "b")
		abort(t, e.db())
		wantPairs(t, "All", all(t, s), []pair{{"a", "1"}, {"b", "2"}})
	}},
	{"Abort brings back committed values overwritten since the last Commit", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "old")
		commit(t, e.db(), nil)
		put(t, s, "k", "new")
		del(t, s, "k")
		put(t, s, "k", "newer")
		abort(t, e.db())
		wantValue(t, s, "k", "old")
	}},
	{"Abort discards the staged writes of every store", func(t *testing.T, e *env) {
		s1, s2 := e.kv("one"), e.kv("two")
		put(t, s1, "k", "committed")
		commit(t, e.db(), nil)
		put(t, s1, "k", "staged")
		put(t, s2, "k", "staged")
		abort(t, e.db())
		wantValue(t, s1, "k", "committed")
		wantAbsent(t, s2, "k")
	}},
	{"Commit keeps staged writes through a later Abort", func(t *testing.T, e *env) {
		s1, s2 := e.kv("one"), e.kv("two")
		put(t, s1, "k", "1")
		put(t, s2, "k", "2")
		put(t, s2, "gone", "x")
		commit(t, e.db(), nil)
		del(t, s2, "gone")
		commit(t, e.db(), nil)
		abort(t, e.db())
		wantValue(t, s1, "k", "1")
		wantValue(t, s2, "k", "2")
		wantAbsent(t, s2, "gone")
	}},
	{"writes after an Abort are staged and committed as usual", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "aborted")
		abort(t, e.db())
		put(t, s, "k", "committed")
		commit(t, e.db(), nil)
		abort(t, e.db())
		wantValue(t, s, "k", "committed")
	}},
	{"a key put and deleted before Commit is absent after it", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		del(t, s, "k")
		commit(t, e.db(), nil)
		wantAbsent(t, s, "k")
		wantPairs(t, "All", all(t, s), nil)
	}},
	{"a key deleted and put again before Commit holds the new value", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "old")
		commit(t, e.db(), nil)
		del(t, s, "k")
		put(t, s, "k", "new")
		commit(t, e.db(), nil)
		abort(t, e.db())
		wantValue(t, s, "k", "new")
	}},
	{"Abort and Commit with nothing staged change nothing", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		commit(t, e.db(), nil)
		abort(t, e.db())
		commit(t, e.db(), nil)
		commit(t, e.db(), map[string]int64{})
		abort(t, e.db())
		wantPairs(t, "All", all(t, s), []pair{{"k", "v"}})
	}},
	{"a store opened after writes to others is empty and commits with them", func(t *testing.T, e *env) {
		put(t, e.kv("one"), "k", "1")
		late := e.kv("late")
		wantPairs(t, "All of the new store", all(t, late), nil)
		put(t, late, "k", "2")
		commit(t, e.db(), nil)
		abort(t, e.db())
		wantValue(t, late, "k", "2")
	}},
	{"ApproximateNumEntries follows staged writes, Commit and Abort", func(t *testing.T, e *env) {
		s := e.kv("s")
		steps := []struct {
			do   func()
			want int64
		}{
			{func() {}, 0},
			{func() { put(t, s, "a", "1"); put(t, s, "b", "1") }, 2},
			{func() { put(t, s, "a", "2") }, 2}, // an overwrite
			{func() { commit(t, e.db(), nil) }, 2},
			{func() { del(t, s, "a"); del(t, s, "never") }, 1},
			{func() { put(t, s, "c", "1") }, 2},
			{func() { abort(t, e.db()) }, 2},
			{func() { del(t, s, "a"); del(t, s, "b"); commit(t, e.db(), nil) }, 0},
		}
		for i, step := range steps {
			step.do()
			n := count(t, s)
			switch {
			case !e.persistent() && n != step.want:
				t.Errorf("step %d: ApproximateNumEntries = %d, want exactly %d", i, n, step.want)
			case i == 0 && n != 0:
				t.Errorf("empty store: ApproximateNumEntries = %d, want 0", n)
			case i == 1 && n <= 0:
				t.Errorf("after two puts: ApproximateNumEntries = %d, want more than 0", n)
			}
		}
	}},
}

var offsetCases = []testCase{
	{"CommittedOffsets is empty before the first Commit", func(t *testing.T, e *env) {
		e.kv("s")
		if got := offsets(t, e.db()); len(got) != 0 {
			t.Errorf("CommittedOffsets = %v, want none", got)
		}
	}},
	{"Commit merges offsets per store name", func(t *testing.T, e *env) {
		db := e.db()
		commit(t, db, map[string]int64{"a": 1, "b": 2})
		commit(t, db, map[string]int64{"b": 5, "c": 7})
		wantOffsets(t, db, map[string]int64{"a": 1, "b": 5, "c": 7})
	}},
	{"Commit with no offsets keeps the committed ones", func(t *testing.T, e *env) {
		db := e.db()
		commit(t, db, map[string]int64{"a": 1})
		put(t, e.kv("a"), "k", "v")
		commit(t, db, nil)
		wantOffsets(t, db, map[string]int64{"a": 1})
	}},
	{"Abort leaves the committed offsets unchanged", func(t *testing.T, e *env) {
		db := e.db()
		commit(t, db, map[string]int64{"a": 1})
		put(t, e.kv("a"), "k", "v")
		abort(t, db)
		wantOffsets(t, db, map[string]int64{"a": 1})
	}},
	{"offsets of zero and of the largest int64 are kept as they are", func(t *testing.T, e *env) {
		db := e.db()
		commit(t, db, map[string]int64{"zero": 0, "max": math.MaxInt64})
		wantOffsets(t, db, map[string]int64{"zero": 0, "max": math.MaxInt64})
	}},
	{"offsets may name stores never opened, with any bytes in their names", func(t *testing.T, e *env) {
		db := e.db()
		want := map[string]int64{"": 1, "never-opened": 2, "a\x00b": 3, "\xff": 4}
		commit(t, db, want)
		wantOffsets(t, db, want)
	}},
	{"CommittedOffsets returns a map the caller owns", func(t *testing.T, e *env) {
		db := e.db()
		commit(t, db, map[string]int64{"a": 1})
		got := offsets(t, db)
		got["a"] = 99
		got["b"] = 2
		wantOffsets(t, db, map[string]int64{"a": 1})
	}},
	{"changing the map after Commit does not change the committed offsets", func(t *testing.T, e *env) {
		db := e.db()
		in := map[string]int64{"a": 1}
		commit(t, db, in)
		in["a"] = 99
		in["b"] = 2
		wantOffsets(t, db, map[string]int64{"a": 1})
	}},
	{"Commit refuses a negative offset and commits nothing", func(t *testing.T, e *env) {
		db, s := e.db(), e.kv("s")
		commit(t, db, map[string]int64{"s": 10})
		put(t, s, "k", "staged")
		if err := db.Commit(map[string]int64{"s": 11, "t": -1}); err == nil {
			t.Fatal("Commit with offset -1 succeeded, want an error")
		}
		wantOffsets(t, db, map[string]int64{"s": 10})
		abort(t, db)
		wantAbsent(t, s, "k")
	}},
}
