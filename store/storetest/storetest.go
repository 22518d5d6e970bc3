// Package storetest is the conformance suite of the state store engines: every engine's
// tests call TestEngine, so that all engines keep the contracts of package store the
// same way.
//
// Where package store leaves a choice open, the suite fixes it, so that code written
// against one engine works on the others:
//
//   - A second Close of a TaskDB or an Engine returns store.ErrClosed; closing an
//     Iterator again is a no-op. Next after Close returns false, and Err then wraps
//     store.ErrClosed; so does Next on an iterator whose TaskDB was closed.
//   - Engine.Close with a TaskDB still open fails and leaves the engine usable.
//   - Commit refuses a negative offset (offsets name the next changelog record to
//     restore) and then changes nothing.
//   - Get, PutIfAbsent and Iterator.Value return a non-nil empty slice for an empty
//     value, so that a deserializer never mistakes it for a null.
//   - Iterators stay in strictly increasing key order, without error, across writes to
//     their store and across Commit and Abort; Key and Value stay valid until the next
//     call to Next or Close whatever happens to the store in between.
//   - ApproximateNumEntries is exact for engines that are not persistent. For the others
//     the suite requires only 0 for an empty store and more than 0 for one with keys.
//
// The window and session stores of package store (store.NewWindowStore,
// store.NewSessionStore) are layers over a KeyValueStore; the suite runs them over each
// engine's stores too, against a model of their retention: what a store returns, and
// what it still holds underneath, after random puts, deletes and commits.
package storetest

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// TestEngine runs the conformance suite against the engines that newEngine returns.
//
// Subtests run in parallel, and each calls newEngine once or more, from its own
// goroutine: newEngine must be safe for concurrent use. The engines returned for one t
// must share their storage, so that a persistent engine started after another one was
// closed finds what the first wrote; engines returned for different ts should not (each
// subtest uses its own directory anyway). The suite closes every engine it gets.
func TestEngine(t *testing.T, newEngine func(t *testing.T) store.Engine) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"reads and writes", kvCases},
		{"Range", rangeGroup()},
		{"PrefixScan", prefixGroup()},
		{"iterators", iteratorCases},
		{"stores of one TaskDB", isolationCases},
		{"staged writes", stagingCases},
		{"committed offsets", offsetCases},
		{"lifecycle", lifecycleCases()},
		{"many keys", largeCases},
		{"window stores", windowCases()},
		{"session stores", sessionCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, newEnv(t, newEngine))
				})
			}
		})
	}
}

// testCase is one subtest: run gets a fresh environment.
type testCase struct {
	name string
	run  func(t *testing.T, e *env)
}

// env is the world of one subtest: an engine, and the directory of its task.
type env struct {
	t         *testing.T
	newEngine func(t *testing.T) store.Engine
	engine    store.Engine
	dir       string
	taskDB    store.TaskDB // opened by db
}

func newEnv(t *testing.T, newEngine func(t *testing.T) store.Engine) *env {
	e := &env{t: t, newEngine: newEngine, dir: filepath.Join(t.TempDir(), "task-0_0")}
	e.engine = e.start()
	return e
}

// start returns a new engine that the end of the test closes.
func (e *env) start() store.Engine {
	eng := e.newEngine(e.t)
	if eng == nil {
		e.t.Fatal("newEngine returned nil")
	}
	e.t.Cleanup(func() { closeAtEnd(e.t, "engine", eng.Close) })
	return eng
}

// persistent reports whether the engine under test keeps state across Close.
func (e *env) persistent() bool { return e.engine.Persistent() }

// open opens dir on the current engine; the end of the test closes the TaskDB if the
// test has not.
func (e *env) open(dir string) store.TaskDB {
	e.t.Helper()
	db, err := e.engine.Open(dir)
	if err != nil {
		e.t.Fatalf("Open(%s): %v", dir, err)
	}
	e.t.Cleanup(func() { closeAtEnd(e.t, "TaskDB", db.Close) })
	return db
}

// db returns the TaskDB of the test's directory, opening it on first use.
func (e *env) db() store.TaskDB {
	e.t.Helper()
	if e.taskDB == nil {
		e.taskDB = e.open(e.dir)
	}
	return e.taskDB
}

// kv returns the store named name of e.db().
func (e *env) kv(name string) store.KeyValueStore {
	e.t.Helper()
	return mustKV(e.t, e.db(), name)
}

// restart closes the test's TaskDB and engine, starts a new engine on the same storage
// and reopens the directory.
func (e *env) restart() {
	e.t.Helper()
	if e.taskDB != nil {
		if err := e.taskDB.Close(); err != nil {
			e.t.Fatalf("closing the TaskDB: %v", err)
		}
		e.taskDB = nil
	}
	if err := e.engine.Close(); err != nil {
		e.t.Fatalf("closing the engine: %v", err)
	}
	e.engine = e.start()
}

// closeAtEnd closes what a test left open; store.ErrClosed means the test closed it.
func closeAtEnd(t *testing.T, what string, close func() error) {
	if err := close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("closing the %s at the end of the test: %v", what, err)
	}
}
