package pebblestore

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddy-streams/eddy/store"
)

// TestCrashLeavesOneEarlierCommit commits many times with the WAL off and small
// memtables, so that some commits are flushed and the last ones are not, then takes the
// file system as a crash at that moment would leave it. The DB must reopen holding the
// data of one commit together with that commit's offset: never a mix, never data ahead
// of or behind its offset.
func TestCrashLeavesOneEarlierCommit(t *testing.T) {
	const commits, keysPerCommit = 200, 50
	fs := vfs.NewCrashableMem()
	e := newTestEngine(t, Options{FS: fs, MemTableSize: 1 << 20})
	db := openTestDB(t, e, "/task")
	kv := mustKV(t, db, "s")
	value := bytes.Repeat([]byte("x"), 1000) // about 10 MiB in all: several flushes
	for c := 1; c <= commits; c++ {
		for i := range keysPerCommit {
			put(t, kv, fmt.Sprintf("c%04d-%02d", c, i), value)
		}
		put(t, kv, "last", []byte(strconv.Itoa(c)))
		if err := db.Commit(map[string]int64{"s": int64(c)}); err != nil {
			t.Fatal(err)
		}
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{}) // what was synced, nothing more
	closeAll(t, db, e)

	e = newTestEngine(t, Options{FS: crashed})
	db = openTestDB(t, e, "/task")
	defer closeAll(t, db, e)
	offsets, err := db.CommittedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	c := offsets["s"]
	t.Logf("the crash kept commit %d of %d", c, commits)
	if c <= 0 || c > commits {
		t.Fatalf("offset after the crash = %d; want a commit from 1 to %d (the flushed ones)", c, commits)
	}
	kv = mustKV(t, db, "s")
	if v, ok, err := kv.Get([]byte("last")); err != nil || !ok || string(v) != strconv.Itoa(int(c)) {
		t.Errorf("key last = %q, %v, %v; want %d, the value of the commit of the offset", v, ok, err, c)
	}
	n, err := kv.ApproximateNumEntries()
	if err != nil {
		t.Fatal(err)
	}
	if want := c*keysPerCommit + 1; n != want {
		t.Errorf("the store holds %d keys, want %d: those of commits 1 to %d", n, want, c)
	}
	it, err := kv.Range([]byte(fmt.Sprintf("c%04d", c+1)), []byte("c9999"))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Next() {
		t.Errorf("key %q of a commit after %d survived the crash", it.Key(), c)
	}
}

func put(t *testing.T, kv store.KeyValueStore, key string, value []byte) {
	t.Helper()
	if err := kv.Put([]byte(key), value); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}
