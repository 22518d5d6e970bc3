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
// (start-up checks and creation of topics), global.go (global stores), contact.go
// (whether the cluster answers, and outages), status.go (what the instance reports of
// itself).
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
	// OutageTimeout bounds how long the instance waits for a cluster that does not
	// answer, at start and mid-run, before Run returns ErrClusterUnavailable; it also
	// bounds a commit. 0 is DefaultOutageTimeout. Kafka Streams: task.timeout.ms.
	OutageTimeout time.Duration
	// PublishStatus, when set, receives every change of the instance's Status, in order,
	// from any of the instance's goroutines (statusBoard); it must return quickly and
	// must not wait for Run.
	PublishStatus func(Status)
	// PublishStats, when set, receives the instance's running totals after every
	// processed batch and when a membership stops: the records processed from input
	// topics and from internal topics (task.Task.Processed, ProcessedInternal), those
	// skipped as undecodable, and the records operators dropped (task.Task.Dropped). It is
	// called from the loop's goroutine with the membership's mutex held, and must return
	// quickly. The App keeps them for App.Stats.
	PublishStats func(processed, processedInternal, skippedUndecodable, dropped int64)
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
	// contact records when the cluster last answered; status is what Run reports of
	// the instance (contact.go, status.go). Both are safe for concurrent use.
	contact *clusterContact
	status  statusBoard
	// abandon ends when the cluster has been silent for OutageTimeout: commits, which a
	// stop does not cut short, are cut short by it (commitContext).
	abandon context.Context
	admin   *kadm.Client
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
	// processed, processedInternal, skipped and dropped total the tasks closed so far;
	// aborted counts the transactions that ended in an abort. Guarded by membership.mu.
	processed, processedInternal, skipped, dropped, aborted int64
}

// Run starts the instance and processes until ctx ends or an error stops it. Before it
// returns, every task is committed (unless an error makes that unsafe) and closed, and
// the instance has left its group.
//
// A cluster that does not answer is waited for, at start and mid-run, for
// OutageTimeout; then Run returns an error wrapping ErrClusterUnavailable (contact.go).
// Run returns nil when ctx ends, whatever it was doing.
func Run(ctx context.Context, cfg Config) (err error) {
	// Every topic name the engine sees from here on is complete.
	cfg.Topology = cfg.Topology.Complete(cfg.ApplicationID)
	if cfg.OutageTimeout <= 0 {
		cfg.OutageTimeout = DefaultOutageTimeout
	}
	e := &Engine{
		cfg:           cfg,
		log:           cfg.Logger,
		subtopologies: map[int][]string{},
		internal:      map[string]bool{},
		purged:        map[topicPartition]int64{},
		contact:       newClusterContact(time.Now),
	}
	e.status.publish = cfg.PublishStatus
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

	abandon, abandonCommits := context.WithCancelCause(context.Background())
	defer abandonCommits(nil)
	e.abandon = abandon
	parent := ctx
	ctx, giveUp := context.WithCancelCause(parent)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		e.watchContact(ctx, adminClient, func(err error) {
			abandonCommits(err)
			giveUp(err)
		})
	}()
	defer func() {
		cause := context.Cause(ctx) // the watchdog's, if it gave up; read before ours
		giveUp(nil)
		<-watched
		err = stopped(parent, cause, err)
	}()
	began := time.Now()
	var partitions map[string]int32
	err = e.untilReachable(ctx, "checking topics", func(ctx context.Context) (err error) {
		partitions, err = prepareTopics(ctx, e.admin, cfg.Topology, cfg.Replication, cfg.Errors.DeadLetterTopic)
		return err
	})
	if err != nil {
		return err
	}
	e.log.Debug("topics checked", "took", time.Since(began))

	// Global stores are filled before any task starts, and closed after every task. A
	// bootstrap cut short by a stop keeps what it read: it is committed.
	err = e.untilReachable(ctx, "bootstrapping global stores", func(ctx context.Context) (err error) {
		e.global, err = openGlobals(ctx, cfg, globalsConfig{
			admin:         e.admin,
			partitions:    partitions,
			readCommitted: cfg.TransactionalID != "",
			newClient: func(opts ...kgo.Opt) (*kgo.Client, error) {
				return kgo.NewClient(append(e.clientOpts("global-consumer"), opts...)...)
			},
		})
		return err
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := e.global.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	var backoff rejoinBackoff
	// failingSince is when the memberships began to fail with transient errors, zero
	// after one that committed.
	var failingSince time.Time
	for {
		committed, err := e.member(ctx, partitions)
		if ctx.Err() != nil {
			return err // stopping anyway: the dropped work is redone by the tasks' next owner
		}
		transient := isTransient(err)
		if !errors.Is(err, errTasksMigrated) && !transient {
			return err
		}
		// Kafka Streams: TaskMigratedException. The tasks were closed without a commit
		// and their work since the last one is redone by whoever owns them now. A
		// transient error (the cluster does not answer) is handled alike, for
		// OutageTimeout at most.
		if committed {
			backoff.reset()
			failingSince = time.Time{}
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		if transient && time.Since(failingSince) >= cfg.OutageTimeout {
			return fmt.Errorf("%w: the group membership kept failing for %s (OutageTimeout): %w", ErrClusterUnavailable, cfg.OutageTimeout, err)
		}
		wait := backoff.next()
		e.log.Warn("this instance lost its tasks, its producer was fenced, or the cluster does not answer; rejoining the group", "error", err, "after", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// stopped returns what Run returns for err: the watchdog's ErrClusterUnavailable if it
// gave up (cause, the cause of the run's context), nil if the caller stopped the run
// (parent ended) and err is only a consequence of that, err otherwise.
func stopped(parent context.Context, cause, err error) error {
	switch {
	case errors.Is(cause, ErrClusterUnavailable) && !errors.Is(err, ErrClusterUnavailable):
		return errors.Join(cause, err)
	case errors.Is(err, ErrClusterUnavailable):
		return err
	case parent.Err() != nil && (err == nil || errors.Is(err, context.Canceled)):
		return nil
	}
	return err
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

// clientOpts returns the options of one of the instance's clients, named role: its own
// (ownOpts), then Config.ClientOpts, which may override them. The slice is the caller's.
func (e *Engine) clientOpts(role string) []kgo.Opt {
	return append(e.ownOpts(role), e.cfg.ClientOpts...)
}

// ownOpts returns what every client of the instance has: the hook that hears the
// cluster's answers (contact.go) and the client id of role (Config.ClientID), if the
// instance has one. The slice is the caller's.
func (e *Engine) ownOpts(role string) []kgo.Opt {
	opts := []kgo.Opt{kgo.WithHooks(e.contact)}
	if e.cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(e.cfg.ClientID+"-"+role))
	}
	return opts
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
