package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/store"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalDir is the subdirectory of the state directory that holds the global stores,
// all in one TaskDB. It cannot be taken for a task's directory: a task id has no letters.
const globalDir = "global"

// globalBatch is how many records the bootstrap applies between commits.
const globalBatch = 10_000

// globalCheckpoint is the key, among the committed offsets of the global stores'
// TaskDB, of the checkpoint of one partition of a global store's topic:
// "<store>/<partition>", whose value is the offset of the next record to apply.
func globalCheckpoint(store string, partition int32) string {
	return store + "/" + strconv.FormatInt(int64(partition), 10)
}

// globals are the global stores of an instance (Kafka Streams: GlobalStateManager and
// GlobalStreamThread, but without a thread of its own). All live in one TaskDB. They are
// filled from their topics before any task starts (bootstrap), then kept up to date by
// the engine's loop between steps (update), and their offsets are committed at each
// commit of the loop.
//
// Concurrency: the stores are written by update, which the loop calls with the current
// membership's mutex held, and read by tasks, which run with that mutex held too (in the
// loop, or in a group callback that commits revoked tasks). Reads and writes never overlap, so the
// stores need no locking of their own.
type globals struct {
	log  *slog.Logger
	dir  string
	open func(dir string) (store.TaskDB, error)
	db   store.TaskDB
	// stores are the stores by name, for the tasks; byTopic the global stores by topic.
	stores  map[string]store.KeyValueStore
	byTopic map[string]*globalStore
	// client reads every partition of every global topic; not a group member.
	client *kgo.Client
	// next is, per partition of a global topic, the offset after the last record applied
	// (control records included): the checkpoint to commit.
	next map[topicPartition]int64
	// listener hears the bootstrap's progress; nil for none.
	listener changelog.RestoreListener
	// errors holds the deserialization handler, for records Apply cannot read.
	errors task.ErrorPolicy
	// skipped counts the records the deserialization handler continued past.
	skipped int64
	// restoring counts, during the bootstrap only, the records applied per partition
	// that is being restored: since its last batch report, and in all.
	restoring map[topicPartition]*restoreCount
}

type restoreCount struct{ batch, total int64 }

type globalStore struct {
	plan.GlobalStore
	kv         store.KeyValueStore
	partitions int32
}

// globalsConfig is what openGlobals needs besides the engine's Config.
type globalsConfig struct {
	admin *kadm.Client
	// partitions holds the partition count of every global topic.
	partitions map[string]int32
	// readCommitted reads only committed records (pollToEnd says how far the bootstrap reads).
	readCommitted bool
	// newClient makes the global client with the engine's client options, then opts.
	newClient func(opts ...kgo.Opt) (*kgo.Client, error)
}

// openGlobals opens the topology's global stores and bootstraps them; nil when the
// topology has none. The caller closes what it returns.
func openGlobals(ctx context.Context, cfg Config, gc globalsConfig) (*globals, error) {
	defs := cfg.Topology.GlobalStores
	if len(defs) == 0 {
		return nil, nil
	}
	g := &globals{
		log:      cfg.Logger,
		dir:      filepath.Join(cfg.StateDir, globalDir),
		open:     cfg.Stores.Open,
		byTopic:  map[string]*globalStore{},
		next:     map[topicPartition]int64{},
		listener: cfg.RestoreListener,
		errors:   cfg.Errors,
	}
	for _, def := range defs {
		n, ok := gc.partitions[def.Topic]
		if !ok || n <= 0 {
			return nil, fmt.Errorf("global store %q: the partition count of topic %s is unknown", def.Def.Name(), def.Topic)
		}
		g.byTopic[def.Topic] = &globalStore{GlobalStore: def, partitions: n}
	}
	if err := g.openDB(); err != nil {
		return nil, err
	}
	if err := g.bootstrap(ctx, gc); err != nil {
		return nil, errors.Join(err, g.close())
	}
	return g, nil
}

// openDB opens the TaskDB of the global stores and their stores.
func (g *globals) openDB() error {
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return fmt.Errorf("global stores: state directory: %w", err)
	}
	db, err := g.open(g.dir)
	if err != nil {
		return fmt.Errorf("global stores: opening %s: %w", g.dir, err)
	}
	stores := map[string]store.KeyValueStore{}
	for _, s := range g.byTopic {
		kv, err := db.KeyValue(s.Def.Name())
		if err != nil {
			return errors.Join(fmt.Errorf("global store %q: %w", s.Def.Name(), err), db.Close())
		}
		s.kv = kv
		stores[s.Def.Name()] = kv
	}
	g.db, g.stores = db, stores
	return nil
}

// bootstrap reads every partition of every global topic, from its checkpoint (or the
// start of the log), up to the end offsets it lists first, and leaves the client
// reading on for update. A checkpoint outside the log (compacted or deleted away, or a
// recreated topic) wipes the store, which then reads all of its topic from the start,
// as the changelog restorer does; an unreadable checkpoint deletes the global stores'
// directory first.
func (g *globals) bootstrap(ctx context.Context, gc globalsConfig) error {
	began := time.Now()
	topics := slices.Sorted(maps.Keys(g.byTopic))
	starts, err := changelog.ListOffsets(ctx, gc.admin.ListStartOffsets, topics)
	if err != nil {
		return fmt.Errorf("global stores: listing start offsets: %w", err)
	}
	// Reading ends at the high watermark, under read_committed too (see pollToEnd).
	highs, err := changelog.ListOffsets(ctx, gc.admin.ListEndOffsets, topics)
	if err != nil {
		return fmt.Errorf("global stores: listing end offsets: %w", err)
	}

	committed, err := g.db.CommittedOffsets()
	if errors.Is(err, store.ErrCorruptCheckpoint) {
		g.log.Warn("discarding global stores with an unreadable checkpoint; reading them from scratch", "error", err)
		if err := g.db.Close(); err != nil {
			g.log.Warn("closing damaged global stores", "error", err)
		}
		g.db = nil
		if err := os.RemoveAll(g.dir); err != nil {
			return fmt.Errorf("global stores: deleting damaged state: %w", err)
		}
		if err := g.openDB(); err != nil {
			return err
		}
		committed, err = map[string]int64{}, nil
	}
	if err != nil {
		return fmt.Errorf("global stores: %w", err)
	}

	offsets := map[string]map[int32]kgo.Offset{}
	end := map[topicPartition]int64{}
	var behind int64
	for _, topic := range topics {
		s := g.byTopic[topic]
		from := map[int32]int64{}
		logStart := map[int32]int64{}
		wipe := false
		for p := range s.partitions {
			start, ok1 := starts.Lookup(topic, p)
			high, ok2 := highs.Lookup(topic, p)
			if !ok1 || !ok2 {
				return fmt.Errorf("global stores: %s partition %d is not in the cluster's metadata", topic, p)
			}
			logStart[p], end[topicPartition{topic, p}] = start.Offset, high.Offset
			off, ok := committed[globalCheckpoint(s.Def.Name(), p)]
			if !ok {
				off = start.Offset
			}
			if off < start.Offset || off > high.Offset {
				g.log.Warn("wiping a global store and reading its topic from scratch: its checkpoint is outside the log",
					"store", s.Def.Name(), "topic", topic, "partition", p, "checkpoint", off, "log_start", start.Offset, "log_end", high.Offset)
				wipe = true
			}
			from[p] = off
		}
		if wipe {
			from = logStart
			if err := g.wipe(s, from); err != nil {
				return err
			}
		}
		offsets[topic] = map[int32]kgo.Offset{}
		for p, off := range from {
			tp := topicPartition{topic, p}
			offsets[topic][p] = kgo.NewOffset().At(off)
			g.next[tp] = off
			behind += max(end[tp]-off, 0)
		}
	}
	g.startRestoring(end)

	// Control records (transaction markers) come back too, so that reading reaches end
	// offsets that follow a marker.
	opts := []kgo.Opt{kgo.ConsumePartitions(offsets), kgo.KeepControlRecords()}
	if gc.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if g.client, err = gc.newClient(opts...); err != nil {
		return fmt.Errorf("global stores: client: %w", err)
	}

	applied, err := g.pollToEnd(ctx, end, gc)
	if err != nil {
		return err
	}
	if err := g.commit(); err != nil {
		return err
	}
	g.endRestoring(time.Since(began))
	g.log.Info("global stores bootstrapped", "stores", len(g.byTopic), "records", applied, "behind_at_start", behind, "took", time.Since(began))
	return nil
}

// pollToEnd applies records until every partition is read up to its offset in end, and
// returns how many it applied. Under read_committed a partition's reading waits at its
// last stable offset until the transactions open below its end have ended, as a
// changelog restore does (changelog.Restorer.Restore), but a wait past
// changelog.DefaultTransactionWait ends the bootstrap instead of failing it: the global
// topics are the application's input, whose producers may keep transactions open far
// longer than Eddy's own, and nothing is lost, since update reads on from where the
// bootstrap stopped.
func (g *globals) pollToEnd(ctx context.Context, end map[topicPartition]int64, gc globalsConfig) (applied int, err error) {
	wait := changelog.NewTransactionWait(gc.admin, changelog.DefaultTransactionWait, g.log.With("global_stores", true))
	var pending int
	for {
		behind := kadm.Offsets{}
		for tp, off := range end {
			if g.next[tp] < off {
				behind.Add(kadm.Offset{Topic: tp.topic, Partition: tp.partition, At: g.next[tp]})
			}
		}
		if len(behind) == 0 {
			return applied, nil
		}
		pollCtx, cancel := context.WithTimeout(ctx, changelog.StallCheckInterval)
		fetches := g.client.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return applied, fmt.Errorf("global stores: bootstrapping: %w", err)
		}
		n, err := g.apply(fetches)
		if err != nil {
			return applied, err
		}
		applied += n
		if pending += n; pending >= globalBatch {
			if err := g.commit(); err != nil {
				return applied, err
			}
			g.reportBatches()
			pending = 0
		}
		if fetches.NumRecords() > 0 { // control records included
			wait.Progressed()
			continue
		}
		if gc.readCommitted {
			err := wait.Stalled(ctx, behind)
			if errors.Is(err, changelog.ErrTransactionOpen) {
				g.log.Warn("global stores: starting before a transaction open on a global topic has ended; its records are applied once it commits", "error", err)
				return applied, nil
			}
			if err != nil {
				return applied, fmt.Errorf("global stores: bootstrapping: %w", err)
			}
		}
		wait.Silent("global_topics", slices.Sorted(maps.Keys(behind)))
	}
}

// startRestoring tells the listener which partitions the bootstrap restores: those whose
// checkpoint is below end.
func (g *globals) startRestoring(end map[topicPartition]int64) {
	if g.listener == nil {
		return
	}
	g.restoring = map[topicPartition]*restoreCount{}
	for _, tp := range slices.SortedFunc(maps.Keys(end), compareTopicPartitions) {
		if g.next[tp] < end[tp] {
			g.restoring[tp] = &restoreCount{}
			g.listener.OnRestoreStart(tp.topic, tp.partition, g.byTopic[tp.topic].Def.Name(), g.next[tp], end[tp])
		}
	}
}

// reportBatches tells the listener what the bootstrap applied, and committed, since the
// last report.
func (g *globals) reportBatches() {
	for _, tp := range slices.SortedFunc(maps.Keys(g.restoring), compareTopicPartitions) {
		c := g.restoring[tp]
		if c.batch == 0 {
			continue
		}
		g.listener.OnBatchRestored(tp.topic, tp.partition, g.byTopic[tp.topic].Def.Name(), g.next[tp], int(c.batch))
		c.total += c.batch
		c.batch = 0
	}
}

// endRestoring reports the last batches and the end of the bootstrap, after its commit.
func (g *globals) endRestoring(took time.Duration) {
	g.reportBatches()
	for _, tp := range slices.SortedFunc(maps.Keys(g.restoring), compareTopicPartitions) {
		g.listener.OnRestoreEnd(tp.topic, tp.partition, g.byTopic[tp.topic].Def.Name(), g.restoring[tp].total, took)
	}
	g.restoring = nil
}

// apply writes the records of fetches to their stores and returns how many it applied.
// Retriable fetch errors are logged (the client retries); others fail.
func (g *globals) apply(fetches kgo.Fetches) (int, error) {
	var fetchErr error
	fetches.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if fetchErr == nil && !kerr.IsRetriable(err) {
			fetchErr = fmt.Errorf("global stores: fetching %s partition %d: %w", topic, partition, err)
		}
		g.log.Warn("global stores: fetch error", "topic", topic, "partition", partition, "error", err)
	})
	if fetchErr != nil {
		return 0, fetchErr
	}
	var n int
	var err error
	fetches.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		tp := topicPartition{r.Topic, r.Partition}
		if !r.Attrs.IsControl() {
			s := g.byTopic[r.Topic]
			in := task.Input{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: headers(r.Headers)}
			applied, e := task.ApplyGlobal(s.GlobalStore, s.kv, in, g.errors, g.log)
			if e != nil {
				err = e
				return
			}
			if applied {
				n++
				if c := g.restoring[tp]; c != nil {
					c.batch++
				}
			} else {
				g.skipped++
			}
		}
		g.next[tp] = r.Offset + 1
	})
	return n, err
}

// bufferedOnly is the context of PollFetches in update: none. franz-go's PollFetches
// with a nil context returns what the client has buffered without waiting (kgo v1.22:
// "If we have no context, we guarantee that we just drain anything available and
// return"); with a context that is already cancelled it returns nothing but the error.
var bufferedOnly context.Context

// update applies what the client has fetched since the last call, without waiting, and
// writes it through (without offsets: commit records them). REQUIRES: membership.mu.
func (g *globals) update() error {
	n, err := g.apply(g.client.PollFetches(bufferedOnly))
	if err != nil || n == 0 {
		return err
	}
	if err := g.db.Commit(nil); err != nil {
		return fmt.Errorf("global stores: %w", err)
	}
	return nil
}

// commit makes the stores durable with the offsets they reflect. A crash between two
// commits leaves the stores ahead of their checkpoints: the records read again rewrite
// the same values.
func (g *globals) commit() error {
	offsets := make(map[string]int64, len(g.next))
	for tp, off := range g.next {
		offsets[globalCheckpoint(g.byTopic[tp.topic].Def.Name(), tp.partition)] = off
	}
	if err := g.db.Commit(offsets); err != nil {
		return fmt.Errorf("global stores: committing: %w", err)
	}
	return nil
}

// wipe deletes every key of a store and commits, with from as its checkpoints, so that a
// crash in the bootstrap that follows cannot leave stale keys behind valid offsets.
func (g *globals) wipe(s *globalStore, from map[int32]int64) error {
	it, err := s.kv.All()
	if err != nil {
		return fmt.Errorf("global store %q: wiping: %w", s.Def.Name(), err)
	}
	var keys [][]byte
	for it.Next() {
		keys = append(keys, slices.Clone(it.Key()))
	}
	err = errors.Join(it.Err(), it.Close())
	for _, k := range keys {
		if err != nil {
			break
		}
		err = s.kv.Delete(k)
	}
	if err == nil {
		offsets := map[string]int64{}
		for p, off := range from {
			offsets[globalCheckpoint(s.Def.Name(), p)] = off
		}
		err = g.db.Commit(offsets)
	}
	if err != nil {
		return fmt.Errorf("global store %q: wiping: %w", s.Def.Name(), err)
	}
	return nil
}

// kvs returns the global stores by name, for the tasks; nil for no globals.
func (g *globals) kvs() map[string]store.KeyValueStore {
	if g == nil {
		return nil
	}
	return g.stores
}

// close commits what was applied, and closes the client and the stores.
func (g *globals) close() error {
	if g == nil {
		return nil
	}
	var errs []error
	if g.client != nil {
		g.client.Close()
	}
	if g.db != nil {
		errs = append(errs, g.commit(), g.db.Close())
	}
	return errors.Join(errs...)
}
