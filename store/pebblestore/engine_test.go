package pebblestore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestOpeningAnOpenDirectoryFails(t *testing.T) {
	e := newTestEngine(t, Options{FS: vfs.NewMem()})
	db := openTestDB(t, e, "/task")
	if db2, err := e.Open("/task/"); err == nil {
		db2.Close()
		t.Fatal("a second Open of /task succeeded")
	}
	// The engine names what is still open.
	if err := e.Close(); err == nil || !strings.Contains(err.Error(), `"/task"`) {
		t.Errorf("engine Close with /task open = %v, want an error naming it", err)
	}
	closeAll(t, db, e)
}

// TestCommitAbortAndCloseDetachIterators checks the rule that keeps iterators safe: a
// Pebble iterator reads its batch in place, and Commit, Abort and Close release the
// batch, so they must first close the Pebble iterators that read it. Nothing outside
// shows a broken rule reliably (a released batch may or may not be reused at once),
// hence this look inside.
func TestCommitAbortAndCloseDetachIterators(t *testing.T) {
	e := newTestEngine(t, Options{FS: vfs.NewMem()})
	db := openTestDB(t, e, "/task")
	kv := mustKV(t, db, "s")
	for i := range 10 {
		if err := kv.Put(fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	steps := []struct {
		name string
		do   func() error
	}{
		{"Commit", func() error { return db.Commit(map[string]int64{"s": 1}) }},
		{"Abort", db.Abort},
		{"Close", db.Close},
	}
	for _, step := range steps {
		if !it.Next() {
			t.Fatalf("Next = false before %s; Err %v", step.name, it.Err())
		}
		if it.(*iterator).it == nil {
			t.Fatalf("no Pebble iterator open after Next, before %s", step.name)
		}
		if err := kv.Put([]byte("staged"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if it.(*iterator).it != nil {
			t.Errorf("a Pebble iterator is still open after %s", step.name)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}
