package engine

import (
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/store/pebblestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// checkRestored checks what the listener heard of the restoration of one changelog
// partition: a start at from, ending at the high watermark end; batches whose ends
// increase up to end; and an end whose total is the batches' sum, which is the number of
// data records of the partition from from on. No events at all when from == end.
func checkRestored(t *testing.T, events []runEvent, topic string, partition int32, from, end int64, records []*kgo.Record) {
	t.Helper()
	var want int64
	for _, r := range records {
		if r.Partition == partition && r.Offset >= from {
			want++
		}
	}
	what := fmt.Sprintf("restoring %s/%d from %d", topic, partition, from)
	if from >= end {
		if len(events) != 0 {
			t.Errorf("%s: the listener heard %+v, want nothing: there is nothing to restore", what, events)
		}
		return
	}
	if len(events) < 3 {
		t.Fatalf("%s: the listener heard %+v, want a start, batches and an end", what, events)
	}
	if s := events[0]; s.kind != "start" || s.store != runCounts.Name() || s.start != from || s.end != end {
		t.Errorf("%s: first event %+v, want the start of store %s from %d to %d", what, s, runCounts.Name(), from, end)
	}
	var sum, last int64
	for _, e := range events[1 : len(events)-1] {
		if e.kind != "batch" || e.end <= last || e.end > end || e.records <= 0 {
			t.Errorf("%s: %+v, want a batch ending after %d, at most at %d, with records", what, e, last, end)
		}
		sum, last = sum+e.records, e.end
	}
	if e := events[len(events)-1]; e.kind != "end" || e.records != sum || sum != want {
		t.Errorf("%s: last event %+v after batches of %d records in all, want the end of a restore of the %d records", what, e, sum, want)
	}
}

// TestRunRestoresStateFromTheChangelog: the in-memory store engine keeps nothing, so an
// instance started again on a new state directory restores its counts from the
// changelog before it processes: the RestoreListener hears, for each changelog
// partition, a start from offset 0 to its end, batches and an end with the number of
// records restored; and the counts of the next records continue from the restored ones
// (2, 3 after 1), not from zero. At least once and exactly once (a changelog with
// transaction markers, read read_committed).
func TestRunRestoresStateFromTheChangelog(t *testing.T) {
	for _, eos := range []bool{false, true} {
		name := "at least once"
		if eos {
			name = "exactly once"
		}
		t.Run(name, func(t *testing.T) {
			const app, in, out, parts = "restore", "in", "out", 2
			rc := newRunCluster(t)
			rc.createTopics(parts, in, out)
			topo := countTopology(t, in, out, nil)
			outputs := rc.consume(out, eos)
			keys := runKeys("k", 8)
			want := map[string]int{}

			first := rc.start(runSpec{app: app, topo: topo, eos: eos})
			rc.sendRound(in, parts, 0, want, keys...)
			outputs.waitCount(len(keys))
			first.mustStop()

			cl := changelogOf(app)
			ends := rc.endOffsets(cl)
			changes := rc.readTopic(cl, eos)
			events := &runEvents{}
			second := rc.start(runSpec{app: app, topo: topo, eos: eos, restore: events})
			rc.sendRound(in, parts, 1, want, keys...)
			rc.sendRound(in, parts, 2, want, keys...)
			outputs.waitCount(3 * len(keys))
			second.mustStop()

			for p := range int32(parts) {
				checkRestored(t, events.of(cl, p), cl, p, 0, ends[p], changes)
			}
			if n := len(events.all()); n == 0 {
				t.Error("the listener heard nothing")
			}
			checkExactCounts(t, "counts", rc.readTopic(out, eos), want)
			if got := second.stats.Processed.Load(); got != int64(2*len(keys)) {
				t.Errorf("the second run processed %d records, want the %d new ones", got, 2*len(keys))
			}
		})
	}
}

// taskDirs returns the directories under root named name.
func taskDirs(t *testing.T, root, name string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == name {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// corruptCheckpoint overwrites, in the Pebble database of a task, the committed
// changelog offset of store name with bytes no offset is written as (pebblestore's
// layout: key 0x01 | name, value 0x01 | uvarint).
func corruptCheckpoint(t *testing.T, dir, name string) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatalf("opening %s: %v", dir, err)
	}
	key := append([]byte{0x01}, name...)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatalf("no checkpoint of %s in %s: %v", name, dir, err)
	}
	if len(v) < 2 || v[0] != 0x01 {
		t.Fatalf("the checkpoint of %s is %x: not the layout this test knows", name, v)
	}
	closer.Close()
	if err := db.Set(key, []byte{0x7f}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func newPebble(t *testing.T) store.Engine {
	t.Helper()
	e, err := pebblestore.New(pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// runCorrupted runs the count topology with Pebble stores on 2 partitions for two
// rounds of keys, stops, and damages the checkpoint of task 0_0. It returns the state
// directory, the changelog's end offsets and records, and the counts so far.
func runCorrupted(t *testing.T, rc *runCluster, app, in, out string, keys []string, want map[string]int) (stateDir string, ends map[int32]int64, changes []*kgo.Record) {
	t.Helper()
	const parts = 2
	topo := countTopology(t, in, out, nil)
	stateDir = t.TempDir()
	stores := newPebble(t)
	first := rc.start(runSpec{app: app, topo: topo, stateDir: stateDir, stores: stores})
	rc.sendRound(in, parts, 0, want, keys...)
	rc.sendRound(in, parts, 1, want, keys...)
	rc.consume(out, false).waitCount(2 * len(keys))
	first.mustStop()
	if err := stores.Close(); err != nil {
		t.Fatal(err)
	}
	cl := changelogOf(app)
	ends = rc.endOffsets(cl)
	changes = rc.readTopic(cl, false)
	dirs := taskDirs(t, stateDir, "0_0")
	if len(dirs) != 1 {
		t.Fatalf("found the task directories %v of task 0_0 in %s, want one", dirs, stateDir)
	}
	corruptCheckpoint(t, dirs[0], runCounts.Name())
	return stateDir, ends, changes
}

// TestRunRestoresFromScratchWhenACheckpointIsUnreadable: with persistent (Pebble)
// stores, an instance started again on its state directory has nothing to restore for
// a task whose checkpoint is at the end of its changelog. A task whose checkpoint was
// damaged has its local state discarded and restored from the start of its changelog;
// the counts continue from the restored state either way.
func TestRunRestoresFromScratchWhenACheckpointIsUnreadable(t *testing.T) {
	const app, in, out, parts = "corrupt", "in", "out", 2
	rc := newRunCluster(t)
	rc.createTopics(parts, in, out)
	keys := runKeys("k", 8)
	want := map[string]int{}
	stateDir, ends, changes := runCorrupted(t, rc, app, in, out, keys, want)
	cl := changelogOf(app)

	stores := newPebble(t)
	defer stores.Close()
	events := &runEvents{}
	second := rc.start(runSpec{app: app, topo: countTopology(t, in, out, nil), stateDir: stateDir, stores: stores, restore: events})
	rc.waitUntil("task 0_0 is restored", func() bool {
		e := events.of(cl, 0)
		return len(e) > 0 && e[len(e)-1].kind == "end"
	})
	rc.sendRound(in, parts, 2, want, keys...)
	rc.consume(out, false).waitCount(3 * len(keys))
	second.mustStop()

	checkRestored(t, events.of(cl, 0), cl, 0, 0, ends[0], changes)
	checkRestored(t, events.of(cl, 1), cl, 1, ends[1], ends[1], changes)
	checkExactCounts(t, "counts", rc.readTopic(out, false), want)
	if got := lastCounts(t, rc.readTopic(cl, false)); !maps.Equal(got, want) {
		t.Errorf("the changelog ends with %v, want %v", got, want)
	}
}

// unreadableCheckpoints is a store engine whose first task database opened in the
// directory named task reports its checkpoint unreadable (store.ErrCorruptCheckpoint),
// as a damaged checkpoint does; the database the engine opens after deleting the
// directory reads as new.
type unreadableCheckpoints struct {
	store.Engine
	task   string
	opened *atomic.Int32
}

func (e unreadableCheckpoints) Open(dir string) (store.TaskDB, error) {
	db, err := e.Engine.Open(dir)
	if err != nil || filepath.Base(dir) != e.task || e.opened.Add(1) > 1 {
		return db, err
	}
	return unreadableCheckpoint{TaskDB: db}, nil
}

type unreadableCheckpoint struct{ store.TaskDB }

func (unreadableCheckpoint) CommittedOffsets() (map[string]int64, error) {
	return nil, fmt.Errorf("%w: damaged (test)", store.ErrCorruptCheckpoint)
}

// TestRunKeepsRecordsFetchedForATaskNotYetRestored: a task whose checkpoint is found
// unreadable has its state discarded and is restored from scratch, and the records of
// its partition fetched in the same poll are still processed: the consumer's position is
// past them, so a step that dropped them lost them for good, at least once and exactly
// once alike (the transaction commits every polled offset). The records of both
// partitions are there before the instance starts, so they come in its first polls.
func TestRunKeepsRecordsFetchedForATaskNotYetRestored(t *testing.T) {
	const app, in, out, parts = "not-restored", "in", "out", 2
	rc := newRunCluster(t)
	rc.createTopics(parts, in, out)
	topo := countTopology(t, in, out, nil)
	keys := runKeys("k", 8)
	want := map[string]int{}
	first := rc.start(runSpec{app: app, topo: topo})
	rc.sendRound(in, parts, 0, want, keys...)
	rc.consume(out, false).waitCount(len(keys))
	first.mustStop()

	rc.sendRound(in, parts, 1, want, keys...) // there before the instance starts
	stores := unreadableCheckpoints{Engine: memstore.New(), task: "0_0", opened: &atomic.Int32{}}
	second := rc.start(runSpec{app: app, topo: topo, stores: stores})
	rc.waitUntil("the first rounds are committed", func() bool {
		return maps.Equal(rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)))
	})
	rc.sendRound(in, parts, 2, want, keys...)
	rc.waitUntil("every round is committed", func() bool {
		return maps.Equal(rc.groupOffsets(app, in), nonEmpty(rc.endOffsets(in)))
	})
	second.mustStop()
	checkExactCounts(t, "counts", rc.readTopic(out, false), want)
	if got := second.stats.Processed.Load(); got != int64(2*len(keys)) {
		t.Errorf("the second run processed %d records, want the %d of its two rounds", got, 2*len(keys))
	}
}
