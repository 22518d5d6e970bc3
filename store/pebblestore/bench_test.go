package pebblestore_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/store/pebblestore"
)

// benchEngines are the engines the benchmarks compare; memstore, first, is the baseline
// of the x-memstore figure of the others.
var benchEngines = []struct {
	name string
	new  func(b *testing.B) store.Engine
}{
	{"memstore", func(*testing.B) store.Engine { return memstore.New() }},
	{"pebblestore on vfs.NewMem", func(b *testing.B) store.Engine {
		return newBenchPebble(b, pebblestore.Options{FS: vfs.NewMem()})
	}},
	{"pebblestore on disk", func(b *testing.B) store.Engine { return newBenchPebble(b, pebblestore.Options{}) }},
}

func newBenchPebble(b *testing.B, opts pebblestore.Options) store.Engine {
	e, err := pebblestore.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// benchKey returns key i of 16 bytes, in an order unrelated to i, as a stream of
// distinct keys of a hashed key space would be.
func benchKey(i int) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(i)*0x9E3779B97F4A7C15)
	binary.BigEndian.PutUint64(k[8:], uint64(i))
	return k
}

var benchValue = bytes.Repeat([]byte("v"), 100)

// BenchmarkPutCommit measures a Put of a new 16-byte key and a 100-byte value, with a
// Commit every 100 Puts.
func BenchmarkPutCommit(b *testing.B) {
	var baseline float64
	for _, eng := range benchEngines {
		b.Run(eng.name, func(b *testing.B) {
			d := openBench(b, eng.new(b))
			defer d.close()
			i := 0
			for b.Loop() {
				if err := d.kv.Put(benchKey(i), benchValue); err != nil {
					b.Fatal(err)
				}
				i++
				if i%100 == 0 {
					if err := d.db.Commit(map[string]int64{"s": int64(i)}); err != nil {
						b.Fatal(err)
					}
				}
			}
			baseline = reportRatio(b, eng.name, baseline)
		})
	}
}

// BenchmarkGet measures a Get of a present key among 100,000 committed ones. For Pebble
// the task DB is reopened first, so reads go to sstables through the block cache.
func BenchmarkGet(b *testing.B) {
	const keys = 100_000
	var baseline float64
	for _, eng := range benchEngines {
		b.Run(eng.name, func(b *testing.B) {
			d := openBench(b, eng.new(b))
			defer d.close()
			for i := range keys {
				if err := d.kv.Put(benchKey(i), benchValue); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.db.Commit(nil); err != nil {
				b.Fatal(err)
			}
			if d.e.Persistent() {
				d.reopen() // reads then come from an sstable, through the block cache
			}
			i := 0
			for b.Loop() {
				if _, ok, err := d.kv.Get(benchKey(i * 7919 % keys)); err != nil || !ok {
					b.Fatalf("Get: %v, %v", ok, err)
				}
				i++
			}
			baseline = reportRatio(b, eng.name, baseline)
		})
	}
}

// benchDB is the task DB of a benchmark, and its store "s".
type benchDB struct {
	b   *testing.B
	e   store.Engine
	dir string
	db  store.TaskDB
	kv  store.KeyValueStore
}

func openBench(b *testing.B, e store.Engine) *benchDB {
	d := &benchDB{b: b, e: e, dir: filepath.Join(b.TempDir(), "task")}
	d.open()
	return d
}

func (d *benchDB) open() {
	var err error
	if d.db, err = d.e.Open(d.dir); err != nil {
		d.b.Fatal(err)
	}
	if d.kv, err = d.db.KeyValue("s"); err != nil {
		d.b.Fatal(err)
	}
}

// reopen closes the task DB, which for Pebble flushes its memtable, and opens it again.
func (d *benchDB) reopen() {
	if err := d.db.Close(); err != nil {
		d.b.Fatal(err)
	}
	d.open()
}

// close closes the task DB and the engine.
func (d *benchDB) close() {
	if err := d.db.Close(); err != nil {
		d.b.Error(err)
	}
	if err := d.e.Close(); err != nil {
		d.b.Error(err)
	}
}

// reportRatio reports ns/op over that of memstore in the same run, when memstore ran, and
// returns the baseline: memstore's ns/op once it ran.
func reportRatio(b *testing.B, name string, baseline float64) float64 {
	nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	if name == benchEngines[0].name {
		return nsPerOp
	}
	if baseline > 0 {
		b.ReportMetric(nsPerOp/baseline, "x-memstore")
	}
	return baseline
}

func Example() {
	e, err := pebblestore.New(pebblestore.Options{FS: vfs.NewMem()})
	if err != nil {
		fmt.Println(err)
		return
	}
	db, err := e.Open("/state/wordcount/0_1")
	if err != nil {
		fmt.Println(err)
		return
	}
	counts, _ := db.KeyValue("counts")
	_ = counts.Put([]byte("eddy"), []byte{1})
	_ = db.Commit(map[string]int64{"counts": 42}) // data and offset in one batch
	offsets, _ := db.CommittedOffsets()
	fmt.Println(offsets["counts"])
	fmt.Println(db.Close(), e.Close())
	// Output:
	// 42
	// <nil> <nil>
}
