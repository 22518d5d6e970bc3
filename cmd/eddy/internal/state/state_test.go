package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/statedir"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/pebblestore"
)

// t0 is the time of the entries written, in milliseconds.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// writeTask writes, through store/pebblestore and the store package, the stores of task
// 0_1 of application app under root: a key-value store with binary keys (one of them
// 0x00, the window stores' meta key), a window store that retains duplicates and has a
// key with a 0x00 byte, and a session store; then commits them with changelog offsets.
func writeTask(t *testing.T, root string) {
	t.Helper()
	engine, err := pebblestore.New(pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(filepath.Join(root, "app", "0_1"))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := db.KeyValue("kv")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct{ k, v []byte }{
		{[]byte{0x00}, []byte("zero")},
		{[]byte("a"), binary.BigEndian.AppendUint64(nil, 1)},
		{[]byte("b"), binary.BigEndian.AppendUint64(nil, 2)},
		{[]byte("c"), binary.BigEndian.AppendUint64(nil, 3)},
	} {
		if err := kv.Put(e.k, e.v); err != nil {
			t.Fatal(err)
		}
	}
	wkv, err := db.KeyValue("win")
	if err != nil {
		t.Fatal(err)
	}
	win, err := store.NewWindowStore(wkv, store.WindowConfig{Retention: time.Hour, RetainDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		k     string
		start int64
		v     string
	}{{"x\x00y", t0, "first"}, {"x\x00y", t0, "second"}, {"x", t0 + 60_000, "third"}} {
		if err := win.Put([]byte(e.k), e.start, []byte(e.v)); err != nil {
			t.Fatal(err)
		}
	}
	skv, err := db.KeyValue("sess")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := store.NewSessionStore(skv, store.SessionConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Timestamped values, as the DSL keeps them: 8 bytes of milliseconds, then the value.
	if err := sess.Put([]byte("s"), t0, t0+2000, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(t0+2000)), 2)); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(map[string]int64{"kv": 4, "win": 3, "sess": 1, "empty": 7}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
}

// tree returns a digest of every file under dir but the state directory's lock file:
// names, contents and modification times. Pebble's LOCK file counts by its contents
// only: a read-only open locks it too, which sets its modification time.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == statedir.LockFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mtime := fi.ModTime().String()
		if d.Name() == "LOCK" {
			mtime = ""
		}
		out[path] = fmt.Sprintf("%s %x", mtime, sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// show returns a function that shows the entries of s that a Get or Scan returned.
func show(t *testing.T, f Format, s *Store) func([]Entry, error) []string {
	return func(entries []Entry, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, f.Show(s.Kind(), e))
		}
		return out
	}
}

func serdeOf(t *testing.T, name string) Serde {
	t.Helper()
	s, err := SerdeNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadsWhatTheStoresWrote: every store kind reads back as written, with its kind,
// entries and committed offset; get and scan bound by key and limit; reading changes no
// file.
func TestReadsWhatTheStoresWrote(t *testing.T) {
	root := t.TempDir()
	writeTask(t, root)
	if err := os.MkdirAll(filepath.Join(root, "app", "not-a-task"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)

	dir, err := Open(root, "app")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := dir.Tasks()
	if err != nil || !slices.Equal(tasks, []string{"0_1"}) {
		t.Fatalf("Tasks() = %q, %v, want [0_1]", tasks, err)
	}
	db, err := dir.OpenTask("0_1")
	if err != nil {
		t.Fatal(err)
	}
	stores, err := db.Stores()
	if err != nil {
		t.Fatal(err)
	}
	want := []StoreInfo{
		{Name: "empty", Kind: KeyValue, Entries: 0, Offset: 7},
		{Name: "kv", Kind: KeyValue, Entries: 4, Offset: 4},
		{Name: "sess", Kind: Session, Entries: 1, Offset: 1},
		{Name: "win", Kind: Window, Entries: 3, Offset: 3},
	}
	if !slices.Equal(stores, want) {
		t.Errorf("Stores() =\n%+v\nwant\n%+v", stores, want)
	}

	raw := Format{Key: serdeOf(t, "raw"), Value: serdeOf(t, "raw")}
	ints := Format{Key: serdeOf(t, "string"), Value: serdeOf(t, "int64")}
	kv, err := db.Store("kv")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  []string
		want []string
	}{
		{"kv all raw", show(t, raw, kv)(kv.Scan(nil, nil, 0)), []string{
			`key=0x00 value="zero"`, `key="a" value=0x0000000000000001`, `key="b" value=0x0000000000000002`, `key="c" value=0x0000000000000003`}},
		{"kv b..c int64", show(t, ints, kv)(kv.Scan([]byte("b"), []byte("c"), 0)), []string{`key="b" value=2`, `key="c" value=3`}},
		{"kv from a limit 2", show(t, ints, kv)(kv.Scan([]byte("a"), nil, 2)), []string{`key="a" value=1`, `key="b" value=2`}},
		{"kv to a", show(t, raw, kv)(kv.Scan(nil, []byte("a"), 0)), []string{`key=0x00 value="zero"`, `key="a" value=0x0000000000000001`}},
		{"kv get b", show(t, ints, kv)(kv.Get([]byte("b"))), []string{`key="b" value=2`}},
		{"kv get 0x00", show(t, raw, kv)(kv.Get([]byte{0})), []string{`key=0x00 value="zero"`}},
		{"kv get absent", show(t, ints, kv)(kv.Get([]byte("bb"))), nil},
		{"kv value not int64", show(t, ints, kv)(kv.Get([]byte{0})), []string{`key="\x00" value=!int64("zero")`}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, c.got, c.want)
		}
	}

	win, err := db.Store("win")
	if err != nil {
		t.Fatal(err)
	}
	str := Format{Key: serdeOf(t, "string"), Value: serdeOf(t, "string")}
	if got, want := show(t, str, win)(win.Scan(nil, nil, 0)), []string{
		// One segment (30 minutes, half the retention): by key, "x" (escaped x 00 01)
		// before "x\x00y" (x 00 FF y 00 01), then by start.
		`key="x" window_start=2024-01-01T00:01:00.000Z seq=2 value="third"`,
		`key="x\x00y" window_start=2024-01-01T00:00:00.000Z seq=0 value="first"`,
		`key="x\x00y" window_start=2024-01-01T00:00:00.000Z seq=1 value="second"`,
	}; !slices.Equal(got, want) {
		t.Errorf("window scan:\n got %q\nwant %q", got, want)
	}
	if got, want := show(t, str, win)(win.Get([]byte("x"))), []string{
		`key="x" window_start=2024-01-01T00:01:00.000Z seq=2 value="third"`,
	}; !slices.Equal(got, want) {
		t.Errorf("window get x:\n got %q\nwant %q", got, want)
	}
	if got, err := win.Scan(nil, nil, 1); err != nil || len(got) != 1 {
		t.Errorf("window scan with limit 1: %d entries", len(got))
	}

	sess, err := db.Store("sess")
	if err != nil {
		t.Fatal(err)
	}
	tsInts := Format{Key: serdeOf(t, "string"), Value: serdeOf(t, "int64"), Timestamped: true}
	if got, want := show(t, tsInts, sess)(sess.Get([]byte("s"))), []string{
		`key="s" session_start=2024-01-01T00:00:00.000Z session_end=2024-01-01T00:00:02.000Z timestamp=2024-01-01T00:00:02.000Z value=2`,
	}; !slices.Equal(got, want) {
		t.Errorf("session get:\n got %q\nwant %q", got, want)
	}

	// The directory is locked while it is read.
	if _, err := Open(root, "app"); !errors.Is(err, statedir.ErrLocked) {
		t.Errorf("a second Open while the first holds the lock: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dir.Close()
	if after := tree(t, root); !mapsEqual(after, before) {
		t.Errorf("reading changed the files:\nbefore %v\nafter  %v", before, after)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestOpenRefusesARunningInstancesDirectory: a directory whose lock is held (by a
// running instance) is not read; a missing one is an error.
func TestOpenRefusesARunningInstancesDirectory(t *testing.T) {
	root := t.TempDir()
	writeTask(t, root)
	unlock, err := statedir.Lock(filepath.Join(root, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Open(root, "app"); !errors.Is(err, statedir.ErrLocked) {
		t.Errorf("Open of a locked directory: %v, want ErrLocked", err)
	}
	if _, err := Open(root, "other"); err == nil || !strings.Contains(err.Error(), "no state directory") {
		t.Errorf("Open of a missing directory: %v", err)
	}
}

// TestSerdes: every serde encodes what an operator types as the built-in serde does,
// and shows it back.
func TestSerdes(t *testing.T) {
	for _, c := range []struct {
		serde, text string
		bytes       []byte
		shown       string
	}{
		{"raw", "abc", []byte("abc"), `"abc"`},
		{"raw", "0x00ff", []byte{0, 0xff}, "0x00ff"},
		{"string", "a b", []byte("a b"), `"a b"`},
		{"bytes", "0x0102", []byte{1, 2}, "0x0102"},
		{"bytes", "0102", []byte{1, 2}, "0x0102"},
		{"int64", "-2", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, "-2"},
		{"int32", "258", []byte{0, 0, 1, 2}, "258"},
		{"float64", "1.5", []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, "1.5"},
		{"json", `{"b":1,"a":[2]}`, []byte(`{"b":1,"a":[2]}`), `{"b":1,"a":[2]}`},
	} {
		s := serdeOf(t, c.serde)
		b, err := s.Encode(c.text)
		if err != nil || string(b) != string(c.bytes) {
			t.Errorf("%s.Encode(%q) = %x, %v, want %x", c.serde, c.text, b, err, c.bytes)
		}
		if got := s.Show(c.bytes); got != c.shown {
			t.Errorf("%s.Show(%x) = %s, want %s", c.serde, c.bytes, got, c.shown)
		}
	}
	for _, c := range []struct{ serde, text string }{{"int64", "x"}, {"int32", "1e10"}, {"json", "{"}, {"bytes", "0xz"}} {
		if _, err := serdeOf(t, c.serde).Encode(c.text); err == nil {
			t.Errorf("%s.Encode(%q) succeeded", c.serde, c.text)
		}
	}
	if _, err := SerdeNamed("avro"); err == nil {
		t.Error("SerdeNamed(avro) succeeded")
	}
}
