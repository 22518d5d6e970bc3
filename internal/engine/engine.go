// Package engine runs an application's tasks against Kafka: one consumer group member
// per instance, the poll, process and commit loop, task creation on assignment and
// commit on revocation, restoration before processing, and start-up checks of the
// topics. Kafka Streams: StreamThread and TaskManager.
//
// Two lifetimes, two types. The Engine is the instance: it lives for a whole Run and
// holds what outlives a group membership (the admin client, the global stores, the
// totals of closed tasks, what the balancer is told about local state). A membership
// (membership.go) lives from joining the group to leaving it or failing: its client,
// transaction, collector, fetch gate, restorer and tasks are made for it and dropped
// with it, so nothing of a failed membership reaches the next one. Files by concern:
// loop.go (poll, process), commit.go (at-least-once and exactly-once commits),
// assignment.go (the group callbacks, opening, restoring and closing tasks), rejoin.go
// (getting out of the way when put out of the group), topics.go and internaltopics.go
// (start-up checks and creation of topics), global.go (global stores).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is what the engine needs; the root package fills it from the App's options and
// has validated it.
type Config struct {
	ApplicationID string
	// Topology is the plan of the topology as built: Run completes the names of its
	// internal topics and changelogs with ApplicationID (plan.Topology.Complete) before
	// anything else.
	Topology *plan.Topology
	// ClientID names the instance's clients in Kafka's tools and logs: each client's id
	// is ClientID-<role> (stream: the group member, which consumes and produces;
	// restore-consumer, global-consumer, admin), unless ClientOpts sets one. The App
	// passes <application id>-<instance id>. Kafka Streams: client.id, whose default is
	// <application.id>-<process id>, with the same kind of suffixes. Empty: franz-go's
	// default, "kgo".
	ClientID string
	// ClientOpts configure every client the engine makes, after the engine's own
	// options: the seed brokers, then the user's pass-through options.
	ClientOpts []kgo.Opt
	// StateDir is this application's state directory; each task keeps its stores in a
	// subdirectory named after its id.
	StateDir       string
	Stores         store.Engine
	CommitInterval time.Duration
	// MaxTaskIdle is how long a task waits for a caught-up empty input partition before
	// its other inputs run ahead; negative never waits, not even for records on their
	// way (Kafka Streams' max.task.idle.ms, -1 included). See idle.go.
	MaxTaskIdle time.Duration
	// FetchStallTimeout is how long a task waits for the records of an empty input
	// partition below its end, when listing the end again shows nothing new, before it
	// takes the partition as caught up (idle.go). 0 is DefaultFetchStallTimeout.
	FetchStallTimeout time.Duration
	// Errors are the error handlers and the dead-letter topic (see task.ErrorPolicy and
	// collector).
	Errors task.ErrorPolicy
	// PollRecords bounds the records taken per poll, so that a rebalance held back while
	// a batch is processed waits at most one batch.
	PollRecords int
	// BufferedRecordsPerPartition is how many records of an input partition a task may
	// hold unprocessed before the partition's fetching pauses (fetchGate).
	BufferedRecordsPerPartition int
	// TransactionalID turns exactly-once processing on (Kafka Streams' EOS v2) when not
	// empty: the instance's one transactional producer has this id, input is read
	// read_committed, and a commit is a transaction holding the output records, the
	// changelog records and the input offsets. See DESIGN.md for the protocol.
	TransactionalID string
	// Replication is the replication factor of the internal topics it creates; -1 is
	// the broker's default.
	Replication     int16
	RestoreListener changelog.RestoreListener
	Logger          *slog.Logger
	// PublishStats, when set, receives the instance's running totals after every
	// processed batch and when a membership stops: the input records processed, those
	// skipped as undecodable, and the records operators dropped (task.Task.Dropped). It is
	// called from the loop's goroutine with the membership's mutex held, and must return
	// quickly. The App keeps them for App.Stats.
	PublishStats func(processed, skippedUndecodable, dropped int64)
}

// Engine is one running instance: what lives for a whole Run.
//
// Concurrency: the fields below are set before the first membership starts, except
// those noted. One membership runs at a time, and its mutex (membership.mu) guards what
// it shares with its group callbacks, the global stores and the closed tasks' totals
// among them.
type Engine struct {
	cfg Config
	log *slog.Logger

	subtopologies map[int][]string // source topics by subtopology id
	admin         *kadm.Client
	// global holds the global stores; nil when the topology has none.
	global *globals
	// internal names the internal (repartition) topics; purged holds, per partition of
	// one, the offset up to which its records were deleted, last at lastPurge. Guarded by
	// membership.mu.
	internal  map[string]bool
	purged    map[topicPartition]int64
	lastPurge time.Time

	// stateOffsets holds, per task this instance runs, the sum of the changelog offsets
	// its stores have committed, for the balancer. Written under membership.mu, read by
	// the group goroutine without it.
	stateOffsets sync.Map
	// processed, skipped and dropped total the tasks closed so far; aborted counts the
	// transactions that ended in an abort. Guarded by membership.mu.
	processed, skipped, dropped, aborted int64
}

// Run starts the instance and processes until ctx ends or an error stops it. Before it
// returns, every task is committed (unless an error makes that unsafe) and closed, and
// the instance has left its group.
func Run(ctx context.Context, cfg Config) (err error) {
	// Every topic name the engine sees from here on is complete.
	cfg.Topology = cfg.Topology.Complete(cfg.ApplicationID)
	e := &Engine{
		cfg:           cfg,
		log:           cfg.Logger,
		subtopologies: map[int][]string{},
		internal:      map[string]bool{},
		purged:        map[topicPartition]int64{},
	}
	for _, sub := range cfg.Topology.Subtopologies {
		e.subtopologies[sub.ID] = sub.SourceTopics()
	}
	for _, it := range cfg.Topology.InternalTopics {
		e.internal[it.Name] = true
	}

	adminClient, err := kgo.NewClient(e.clientOpts("admin")...)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer adminClient.Close()
	e.admin = kadm.NewClient(adminClient)
	began := time.Now()
	partitions, err := prepareTopics(ctx, e.admin, cfg.Topology, cfg.Replication, cfg.Errors.DeadLetterTopic)
	if err != nil {
		return err
	}
	e.log.Debug("topics checked", "took", time.Since(began))

	// Global stores are filled before any task starts, and closed after every task.
	e.global, err = openGlobals(ctx, cfg, globalsConfig{
		admin:         e.admin,
		partitions:    partitions,
		readCommitted: cfg.TransactionalID != "",
		newClient: func(opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append(e.clientOpts("global-consumer"), opts...)...)
		},
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // stopped while bootstrapping: what was read is committed
		}
		return err
	}
	defer func() {
		if cerr := e.global.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	var backoff rejoinBackoff
	for {
		committed, err := e.member(ctx, partitions)
		if !errors.Is(err, errTasksMigrated) {
			return err
		}
		if ctx.Err() != nil {
			return nil // stopping anyway: the dropped work is redone by the tasks' next owner
		}
		// Kafka Streams: TaskMigratedException. The tasks were closed without a commit
		// and their work since the last one is redone by whoever owns them now.
		if committed {
			backoff.reset()
		}
		wait := backoff.next()
		e.log.Warn("this instance lost its tasks or its producer was fenced; rejoining the group", "error", err, "after", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// errTasksMigrated marks an error after which the instance cannot commit its tasks'
// work (its producer was fenced, its transaction timed out, or it is no longer the
// group member it was): the instance drops that work and joins the group again.
var errTasksMigrated = errors.New("tasks migrated")

// taskOf returns the task that reads a topic partition.
func (e *Engine) taskOf(topic string, partition int32) (processor.TaskID, bool) {
	for id, topics := range e.subtopologies {
		if slices.Contains(topics, topic) {
			return processor.TaskID{Subtopology: id, Partition: partition}, true
		}
	}
	return processor.TaskID{}, false
}

// clientOpts returns the options of one of the instance's clients, named role: its client
// id (Config.ClientID), then Config.ClientOpts, which may set another. The slice is the
// caller's.
func (e *Engine) clientOpts(role string) []kgo.Opt {
	return append(e.clientID(role), e.cfg.ClientOpts...)
}

// clientID returns the option that names the client role (Config.ClientID), or none
// when the instance has no client id. The slice is the caller's.
func (e *Engine) clientID(role string) []kgo.Opt {
	if e.cfg.ClientID == "" {
		return nil
	}
	return []kgo.Opt{kgo.ClientID(e.cfg.ClientID + "-" + role)}
}

func (e *Engine) taskDir(id processor.TaskID) string {
	return filepath.Join(e.cfg.StateDir, id.String())
}

func compareTaskIDs(a, b processor.TaskID) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

// stateOffsetsFile, in a closed task's directory, holds the sum of the changelog offsets
// its stores had committed when it closed, in decimal.
const stateOffsetsFile = "state-offsets"

// localTaskOffsets reports the tasks this instance has local state for, with how much,
// for the balancer (Kafka Streams: task offset sums): for a running task, the sum of the
// changelog offsets its stores committed; for a closed one that left its state on disk,
// the sum it recorded when it closed, or 1 when it recorded none (it crashed). It runs
// on the group goroutine at every join, so it reads no store.
func (e *Engine) localTaskOffsets() map[processor.TaskID]int64 {
	out := map[processor.TaskID]int64{}
	e.stateOffsets.Range(func(k, v any) bool {
		out[k.(processor.TaskID)] = v.(int64)
		return true
	})
	if !e.cfg.Stores.Persistent() {
		return out
	}
	entries, err := os.ReadDir(e.cfg.StateDir)
	if err != nil {
		return out
	}
	for _, entry := range entries {
		id, err := processor.ParseTaskID(entry.Name())
		if err != nil || !entry.IsDir() {
			continue
		}
		if _, running := out[id]; running {
			continue
		}
		out[id] = 1
		if b, err := os.ReadFile(filepath.Join(e.cfg.StateDir, entry.Name(), stateOffsetsFile)); err == nil {
			if sum, err := strconv.ParseInt(string(b), 10, 64); err == nil && sum > 0 {
				out[id] = sum
			}
		}
	}
	return out
}
