// Package state is `eddy state`: it reads the local stores of a stopped instance, in
// the state directory layout of the App (<state dir>/<application id>/<task id>/, one
// Pebble database per task, global/ for the global stores) and the key layout of
// store/pebblestore and of the window and session stores (store/segmented.go). It takes
// the directory's lock, so it refuses a directory an instance uses (and an instance
// cannot start while it reads), and opens every database read-only.
package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eddy-streams/eddy/internal/statedir"
	"github.com/eddy-streams/eddy/processor"
)

// Dir is an application's state directory, open for reading: it holds the directory's
// lock until Close.
type Dir struct {
	path   string
	unlock func()
}

// Open takes the lock of <stateDir>/<application>. It fails when the directory does not
// exist, and with statedir.ErrLocked (wrapped) while an instance runs on it.
func Open(stateDir, application string) (*Dir, error) {
	path := filepath.Join(stateDir, application)
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("no state directory %s for application %s", path, application)
	}
	unlock, err := statedir.Lock(path)
	if err != nil {
		return nil, fmt.Errorf("refusing to read %s: %w", path, err)
	}
	return &Dir{path: path, unlock: unlock}, nil
}

// Close releases the lock.
func (d *Dir) Close() { d.unlock() }

// Tasks returns the directories that hold stores: the tasks' ones, ordered by task id,
// then global when present.
func (d *Dir) Tasks() ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.path, err)
	}
	var ids []processor.TaskID
	global := false
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if e.Name() == statedir.GlobalDir {
			global = true
		} else if id, err := processor.ParseTaskID(e.Name()); err == nil {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b processor.TaskID) int {
		if a.Subtopology != b.Subtopology {
			return a.Subtopology - b.Subtopology
		}
		return int(a.Partition - b.Partition)
	})
	out := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		out = append(out, id.String())
	}
	if global {
		out = append(out, statedir.GlobalDir)
	}
	return out, nil
}

// OpenTask opens the database of task (a task id, or global) read-only.
func (d *Dir) OpenTask(task string) (*TaskDB, error) {
	if _, err := processor.ParseTaskID(task); err != nil && task != statedir.GlobalDir {
		return nil, fmt.Errorf("%q is neither a task id (0_1) nor %s", task, statedir.GlobalDir)
	}
	dir := filepath.Join(d.path, task)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("task %s has no local state in %s", task, d.path)
	}
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, ErrorIfNotExists: true, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("opening the stores of task %s: %w", task, err)
	}
	return &TaskDB{db: db, task: task}, nil
}

// quietLogger drops Pebble's routine messages and keeps its errors.
type quietLogger struct{ pebble.Logger }

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}

// The key layout of store/pebblestore (keys.go, checkpoint.go).
const (
	tagOffset     byte = 0x01 // tagOffset | store name: the committed changelog offset
	tagData       byte = 0x02 // tagData | uvarint(len(name)) | name | key
	offsetFormat1 byte = 0x01 // offset value: 0x01 | uvarint(offset)
)

// TaskDB is one task's database, read-only.
type TaskDB struct {
	db   *pebble.DB
	task string
}

// Close closes the database.
func (t *TaskDB) Close() error { return t.db.Close() }

// StoreInfo describes one store of a task.
type StoreInfo struct {
	Name    string
	Kind    Kind
	Entries int64 // keys, the meta record of window and session stores excluded
	// Offset is the committed changelog offset (the next to restore), -1 when none.
	Offset int64
}

// Stores lists the task's stores, ordered by name: those with keys and those with a
// committed offset only.
func (t *TaskDB) Stores() ([]StoreInfo, error) {
	byName := map[string]*StoreInfo{}
	get := func(name string) *StoreInfo {
		if s, ok := byName[name]; ok {
			return s
		}
		s := &StoreInfo{Name: name, Offset: -1}
		byName[name] = s
		return s
	}
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagOffset}, UpperBound: []byte{tagData + 1}})
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if k[0] == tagOffset {
			off, err := decodeOffset(it.Value())
			if err != nil {
				return nil, errors.Join(fmt.Errorf("the committed offset of store %q: %w", k[1:], err), it.Close())
			}
			get(string(k[1:])).Offset = off
			continue
		}
		name, _, err := splitDataKey(k)
		if err != nil {
			return nil, errors.Join(err, it.Close())
		}
		get(name).Entries++
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	out := make([]StoreInfo, 0, len(byName))
	for _, s := range byName {
		st, err := t.Store(s.Name)
		if err != nil {
			return nil, err
		}
		if s.Kind = st.kind; s.Kind != KeyValue {
			s.Entries-- // the meta record
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b StoreInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func decodeOffset(b []byte) (int64, error) {
	if len(b) < 2 || b[0] != offsetFormat1 {
		return 0, fmt.Errorf("unknown offset encoding %x", b)
	}
	v, n := binary.Uvarint(b[1:])
	if n != len(b)-1 {
		return 0, fmt.Errorf("bad offset encoding %x", b)
	}
	return int64(v), nil
}

// storePrefix is tagData | uvarint(len(name)) | name.
func storePrefix(name string) []byte {
	p := binary.AppendUvarint([]byte{tagData}, uint64(len(name)))
	return append(p, name...)
}

// splitDataKey splits a data key into its store name and the store's key.
func splitDataKey(k []byte) (name string, key []byte, err error) {
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)-1-w) < n {
		return "", nil, fmt.Errorf("corrupt data key %x", k)
	}
	start := 1 + w
	return string(k[start : start+int(n)]), k[start+int(n):], nil
}

// prefixEnd is the first key after every key that starts with p; nil when there is none.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
