package pebblestore

import (
	"log/slog"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// newTestEngine returns an engine that logs Pebble's messages, debug ones included, to
// the test's output.
func newTestEngine(t *testing.T, opts Options) store.Engine {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func openTestDB(t *testing.T, e store.Engine, dir string) store.TaskDB {
	t.Helper()
	db, err := e.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return db
}

// closeAll closes a task database, then its engine.
func closeAll(t *testing.T, db store.TaskDB, e store.Engine) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("closing the TaskDB: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("closing the engine: %v", err)
	}
}

func mustKV(t *testing.T, db store.TaskDB, name string) store.KeyValueStore {
	t.Helper()
	kv, err := db.KeyValue(name)
	if err != nil {
		t.Fatalf("KeyValue(%q): %v", name, err)
	}
	return kv
}
