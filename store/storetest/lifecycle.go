package storetest

import (
	"path/filepath"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// reopenings are the two ways to open a task's directory again.
var reopenings = []struct {
	name   string
	reopen func(e *env) store.TaskDB
}{
	{"in a new engine", func(e *env) store.TaskDB {
		e.restart()
		return e.db()
	}},
	{"in the same engine", func(e *env) store.TaskDB {
		e.t.Helper()
		if err := e.taskDB.Close(); err != nil {
			e.t.Fatalf("closing the TaskDB: %v", err)
		}
		e.taskDB = nil
		return e.db()
	}},
}

func lifecycleCases() []testCase {
	var cases []testCase
	for _, r := range reopenings {
		cases = append(cases,
			testCase{"a directory reopened " + r.name + " holds the committed state if the engine is persistent, else nothing", func(t *testing.T, e *env) {
				db, s1, s2 := e.db(), e.kv("one"), e.kv("two")
				put(t, s1, "kept", "1")
				put(t, s1, "overwritten", "committed")
				put(t, s1, "deleted", "committed")
				put(t, s2, "kept", "2")
				commit(t, db, map[string]int64{"one": 3, "two": 1})
				put(t, s1, "staged", "lost")
				put(t, s1, "overwritten", "lost")
				del(t, s1, "deleted")
				put(t, e.kv("three"), "staged", "lost")

				db = r.reopen(e)
				s1, s2, s3 := e.kv("one"), e.kv("two"), e.kv("three")
				if !e.persistent() {
					wantPairs(t, "All of store one", all(t, s1), nil)
					wantPairs(t, "All of store two", all(t, s2), nil)
					wantOffsets(t, db, map[string]int64{})
					return
				}
				wantPairs(t, "All of store one", all(t, s1), []pair{{"deleted", "committed"}, {"kept", "1"}, {"overwritten", "committed"}})
				wantPairs(t, "All of store two", all(t, s2), []pair{{"kept", "2"}})
				wantPairs(t, "All of store three", all(t, s3), nil)
				wantOffsets(t, db, map[string]int64{"one": 3, "two": 1})
			}},
			testCase{"commits over several reopenings " + r.name + " add up if the engine is persistent", func(t *testing.T, e *env) {
				want := map[string]string{}
				for round, key := range []string{"a", "b", "c"} {
					db := e.db()
					put(t, e.kv("s"), key, key)
					commit(t, db, map[string]int64{"s": int64(round + 1)})
					want[key] = key
					db = r.reopen(e)
					if !e.persistent() {
						wantPairs(t, "All", all(t, e.kv("s")), nil)
						clear(want)
						continue
					}
					wantPairs(t, "All", all(t, e.kv("s")), sortedPairs(want))
					wantOffsets(t, db, map[string]int64{"s": int64(round + 1)})
				}
			}},
		)
	}
	return append(cases, closedCases...)
}

var closedCases = []testCase{
	{"two directories of one engine are independent", func(t *testing.T, e *env) {
		db1, db2 := e.db(), e.open(filepath.Join(filepath.Dir(e.dir), "task-0_1"))
		s1, s2 := e.kv("s"), mustKV(t, db2, "s")
		put(t, s1, "k", "1")
		put(t, s2, "k", "2")
		put(t, s2, "only-2", "2")
		commit(t, db1, map[string]int64{"s": 1})
		abort(t, db2)
		wantPairs(t, "All of the first", all(t, s1), []pair{{"k", "1"}})
		wantPairs(t, "All of the second", all(t, s2), nil)
		wantOffsets(t, db2, map[string]int64{})
	}},
	{"a TaskDB used after Close returns ErrClosed", func(t *testing.T, e *env) {
		db := e.db()
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := db.KeyValue("s")
		wantErrClosed(t, "KeyValue", err)
		_, err = db.CommittedOffsets()
		wantErrClosed(t, "CommittedOffsets", err)
		wantErrClosed(t, "Commit", db.Commit(map[string]int64{"s": 1}))
		wantErrClosed(t, "Abort", db.Abort())
		wantErrClosed(t, "a second Close", db.Close())
	}},
	{"a store used after its TaskDB closed returns ErrClosed", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "k", "v")
		if err := e.db().Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		k, v := []byte("k"), []byte("v")
		_, _, err := s.Get(k)
		wantErrClosed(t, "Get", err)
		wantErrClosed(t, "Put", s.Put(k, v))
		_, _, err = s.PutIfAbsent(k, v)
		wantErrClosed(t, "PutIfAbsent", err)
		wantErrClosed(t, "Delete", s.Delete(k))
		_, err = s.Range(nil, nil)
		wantErrClosed(t, "Range", err)
		_, err = s.PrefixScan(k)
		wantErrClosed(t, "PrefixScan", err)
		_, err = s.All()
		wantErrClosed(t, "All", err)
		_, err = s.ApproximateNumEntries()
		wantErrClosed(t, "ApproximateNumEntries", err)
	}},
	{"an iterator open when its TaskDB closes ends with ErrClosed", func(t *testing.T, e *env) {
		s := e.kv("s")
		put(t, s, "a", "1")
		put(t, s, "b", "2")
		commit(t, e.db(), nil)
		it, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		if !it.Next() {
			t.Fatalf("Next = false; Err %v", it.Err())
		}
		if err := e.db().Close(); err != nil {
			t.Fatalf("Close with an iterator open: %v", err)
		}
		if it.Next() {
			t.Error("Next after the TaskDB closed = true")
		}
		wantErrClosed(t, "Err after the TaskDB closed", it.Err())
		if err := it.Close(); err != nil {
			t.Errorf("closing the iterator after its TaskDB: %v", err)
		}
	}},
	{"closing an engine with a TaskDB open fails until the TaskDB is closed", func(t *testing.T, e *env) {
		db := e.db()
		if err := e.engine.Close(); err == nil {
			t.Fatal("engine Close with a TaskDB open succeeded")
		}
		put(t, e.kv("s"), "k", "v") // the TaskDB still works
		commit(t, db, nil)
		if err := db.Close(); err != nil {
			t.Fatalf("TaskDB Close: %v", err)
		}
		if err := e.engine.Close(); err != nil {
			t.Errorf("engine Close after the TaskDB closed: %v", err)
		}
	}},
	{"an engine used after Close returns ErrClosed", func(t *testing.T, e *env) {
		if err := e.engine.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := e.engine.Open(e.dir)
		wantErrClosed(t, "Open", err)
		wantErrClosed(t, "a second Close", e.engine.Close())
	}},
}
