package pebblestore

import (
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Options{CacheSize: 64 << 20, MemTableSize: 16 << 20, BloomBitsPerKey: 10,
		L0CompactionThreshold: 4, L0StopWritesThreshold: 36, MaxOpenFiles: 1000}
	got := o
	got.FS, got.Logger = nil, nil
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if o.FS != vfs.Default || o.Logger == nil {
		t.Errorf("default FS %v and Logger %v; want vfs.Default and slog.Default()", o.FS, o.Logger)
	}
	po := o.pebbleOptions(nil, nil)
	if !po.DisableWAL || po.Levels[0].FilterPolicy == nil || po.Levels[6].FilterPolicy == nil {
		t.Errorf("Pebble options: DisableWAL %v, filter policies %v and %v; want the WAL off and filters at every level",
			po.DisableWAL, po.Levels[0].FilterPolicy, po.Levels[6].FilterPolicy)
	}
	o.BloomBitsPerKey = -1
	if po := o.pebbleOptions(nil, nil); po.Levels[0].FilterPolicy != nil {
		t.Errorf("BloomBitsPerKey -1 gives filter policy %v, want none", po.Levels[0].FilterPolicy)
	}
}

func TestInvalidOptions(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"a negative cache size", Options{CacheSize: -1}, "CacheSize"},
		{"a memtable above 4 GiB", Options{MemTableSize: 5 << 30}, "MemTableSize"},
		{"a stop threshold below the compaction threshold", Options{L0CompactionThreshold: 8, L0StopWritesThreshold: 4}, "L0StopWritesThreshold 4 below"},
		{"a stop threshold below the default compaction threshold", Options{L0StopWritesThreshold: 2}, "L0StopWritesThreshold 2 below"},
		{"a negative number of open files", Options{MaxOpenFiles: -5}, "MaxOpenFiles"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(c.opts)
			if err == nil {
				e.Close()
				t.Fatal("New succeeded")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "pebblestore: ") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want one starting with pebblestore: and naming %q", msg, c.want)
			}
		})
	}
}
