package pebblestore_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/pebblestore"
)

// BenchmarkWindowedAggregateStep measures one step of a windowed aggregation (Fetch of
// the window, Put of the new value) over 10,000 keys whose windows of one second move
// on every 10,000 steps, with a Commit every 100 steps, on Pebble on vfs.NewMem: through
// a window store, then as a Get and Put of a plain key made of the key and the window
// start, the baseline of the x-kv figure.
func BenchmarkWindowedAggregateStep(b *testing.B) {
	const keys = 10_000
	cfg := store.WindowConfig{Retention: time.Minute}
	var baseline float64
	for _, c := range []struct {
		name string
		step func(b *testing.B, kv store.KeyValueStore, ws store.WindowStore, key []byte, start int64)
	}{
		{"plain key-value", func(b *testing.B, kv store.KeyValueStore, _ store.WindowStore, key []byte, start int64) {
			k := binary.BigEndian.AppendUint64(key, uint64(start))
			if _, _, err := kv.Get(k); err != nil {
				b.Fatal(err)
			}
			if err := kv.Put(k, benchValue); err != nil {
				b.Fatal(err)
			}
		}},
		{"window store", func(b *testing.B, _ store.KeyValueStore, ws store.WindowStore, key []byte, start int64) {
			if _, _, err := ws.Fetch(key, start); err != nil {
				b.Fatal(err)
			}
			if err := ws.Put(key, start, benchValue); err != nil {
				b.Fatal(err)
			}
		}},
		{"window store with duplicates (Put only)", func(b *testing.B, _ store.KeyValueStore, ws store.WindowStore, key []byte, start int64) {
			if err := ws.Put(key, start, benchValue); err != nil {
				b.Fatal(err)
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := openBench(b, newBenchPebble(b, pebblestore.Options{FS: vfs.NewMem()}))
			defer d.close()
			cfg.RetainDuplicates = c.name == "window store with duplicates (Put only)"
			ws, err := store.NewWindowStore(d.kv, cfg)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				c.step(b, d.kv, ws, benchKey(i%keys), int64(i/keys)*1000)
				i++
				if i%100 == 0 {
					if err := d.db.Commit(map[string]int64{"s": int64(i)}); err != nil {
						b.Fatal(err)
					}
				}
			}
			nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if baseline == 0 {
				baseline = nsPerOp
			} else {
				b.ReportMetric(nsPerOp/baseline, "x-kv")
			}
		})
	}
}
