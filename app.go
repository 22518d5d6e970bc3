package eddy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/statedir"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/pebblestore"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// App is one instance of a stream processing application. Start as many instances with
// the same ApplicationID as the work needs; they share it through their consumer group.
type App struct {
	topo *plan.Topology
	cfg  config
	// stats are the engine's last published totals; nil before the first.
	stats atomic.Pointer[Stats]
	life  lifecycle

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Stats are running totals of an App.
type Stats struct {
	// Processed counts the records processed from the application's input topics: those
	// its sources read, not its internal topics. A record processed again after a
	// rollback (exactly-once abort, crash) counts again.
	Processed int64
	// ProcessedInternal counts the records read back from the application's internal
	// topics: repartition topics, and a foreign-key join's subscription and response
	// topics. Kafka Streams' process-total metric counts both: Processed +
	// ProcessedInternal.
	ProcessedInternal int64
	// SkippedUndecodable counts the records of sources and global stores that the
	// deserialization handler continued past (SkipUndecodableRecords,
	// OnDeserializationError). Records the processing and production handlers continue
	// past are logged at WARN, not counted here.
	SkippedUndecodable int64
	// DroppedRecords counts records that operators dropped: late for their window, or
	// with a null key or value where the operator ignores them. A windowed aggregation
	// counts a record once for each closed window it missed, so a record of hopping or
	// sliding windows may count more than once. Undecodable records are not among them.
	// Kafka Streams: the dropped-records metric.
	DroppedRecords int64
}

// New checks the configuration and returns an App that Run starts. Every problem of
// the options is reported at once, each wrapping ErrInvalidConfig. New does not contact
// the cluster: topics are checked when Run starts.
func New(topo *topology.Topology, opts ...Opt) (*App, error) {
	cfg := defaultConfig()
	for i, opt := range opts {
		if opt == nil {
			// Reported by validate, with every other problem.
			cfg.nilOpts = append(cfg.nilOpts, i+1)
			continue
		}
		opt(&cfg)
	}
	if cfg.exactlyOnce && !cfg.commitIntervalSet {
		cfg.commitInterval = 100 * time.Millisecond
	}
	err := cfg.validate()
	built := plan.Of(topo)
	switch {
	case topo == nil:
		err = errors.Join(err, fmt.Errorf("%w: nil topology", ErrInvalidConfig))
	case built == nil:
		err = errors.Join(err, fmt.Errorf("%w: the topology was not made by Builder.Build", ErrInvalidConfig))
	case len(built.Subtopologies) == 0:
		err = errors.Join(err, fmt.Errorf("%w: the topology has no sources", ErrInvalidConfig))
	}
	if err != nil {
		return nil, err
	}
	a := &App{topo: built, cfg: cfg, done: make(chan struct{})}
	a.life.listener = cfg.stateListener
	return a, nil
}

// Run runs the instance until ctx ends, Close is called, or an error stops it: it checks
// and creates topics, joins the group, restores and processes its tasks, and commits
// every commit interval. It returns nil after a clean stop, in which every task was
// committed and closed and the instance left its group; it returns only when every
// goroutine it started has ended. An App runs once.
//
// A cluster that does not answer, at start or mid-run, is waited for (the state is then
// StateDisconnected) for OutageTimeout; then Run returns an error wrapping
// ErrClusterUnavailable. An error that stops the App is logged at ERROR and kept in
// Status.
func (a *App) Run(ctx context.Context) (err error) {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return ErrAlreadyRunning
	}
	a.started = true
	ctx, a.cancel = context.WithCancel(ctx)
	a.mu.Unlock()
	defer close(a.done)
	defer a.cancel()
	a.life.enter(StateRebalancing)
	stopWatch := context.AfterFunc(ctx, a.life.stopping)
	defer func() {
		stopWatch()
		if err != nil {
			a.cfg.logger.Error("the application stopped with an error", "application", a.cfg.applicationID, "error", err)
			a.life.fail(err)
			return
		}
		a.life.enter(StateNotRunning)
	}()

	dir := filepath.Join(a.cfg.stateDir, a.cfg.applicationID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eddy: state directory: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	instance, err := instanceID(dir)
	if err != nil {
		return err
	}
	var transactionalID string
	if a.cfg.exactlyOnce {
		transactionalID = a.cfg.applicationID + "-" + instance
	}
	stores, err := a.openStores()
	if err != nil {
		return err
	}
	runErr := engine.Run(ctx, engine.Config{
		ApplicationID:  a.cfg.applicationID,
		Topology:       a.topo,
		ClientID:       a.cfg.applicationID + "-" + instance,
		ClientOpts:     append([]kgo.Opt{kgo.SeedBrokers(a.cfg.seeds...)}, a.cfg.clientOpts...),
		StateDir:       dir,
		Stores:         stores,
		CommitInterval: a.cfg.commitInterval,
		MaxTaskIdle:    a.cfg.maxTaskIdle,
		Errors: task.ErrorPolicy{
			Deserialization: a.cfg.onDeserialization,
			Processing:      a.cfg.onProcessing,
			Production:      a.cfg.onProduction,
			DeadLetterTopic: a.cfg.deadLetterTopic,
			Context:         ctx,
		},
		PollRecords:                 a.cfg.pollRecords,
		BufferedRecordsPerPartition: a.cfg.bufferedPerPartition,
		Replication:                 a.cfg.replication,
		TransactionalID:             transactionalID,
		RestoreListener:             a.cfg.restoreListener,
		OutageTimeout:               a.cfg.outageTimeout,
		PublishStatus:               a.life.engineStatus,
		Logger:                      a.cfg.logger.With("application", a.cfg.applicationID),
		PublishStats: func(processed, internal, skipped, dropped int64) {
			a.stats.Store(&Stats{Processed: processed, ProcessedInternal: internal, SkippedUndecodable: skipped, DroppedRecords: dropped})
		},
	})
	if runErr != nil {
		a.life.enter(StatePendingError)
	}
	if err := stores.Close(); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("eddy: closing stores: %w", err))
	}
	if runErr != nil {
		return fmt.Errorf("eddy: %w", runErr)
	}
	return nil
}

func (a *App) openStores() (store.Engine, error) {
	if a.cfg.stores != nil {
		return a.cfg.stores, nil
	}
	e, err := pebblestore.New(pebblestore.Options{Logger: a.cfg.logger.With("application", a.cfg.applicationID)})
	if err != nil {
		return nil, fmt.Errorf("eddy: opening the Pebble engine: %w", err)
	}
	return e, nil
}

// instanceID returns the id of the instance that uses the state directory dir, made and
// kept there at its first run. The exactly-once producer's transactional id ends with
// it, so that an instance restarted on the same directory fences the transaction its
// previous life left open at once, instead of readers waiting for its timeout.
func instanceID(dir string) (string, error) {
	path := filepath.Join(dir, statedir.InstanceIDFile)
	b, err := os.ReadFile(path)
	if err == nil && len(b) > 0 {
		return string(b), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("eddy: reading the instance id: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("eddy: making an instance id: %w", err)
	}
	s := hex.EncodeToString(id[:])
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return "", fmt.Errorf("eddy: keeping the instance id: %w", err)
	}
	return s, nil
}

// Close stops a running App as if its context had ended and waits until Run returns.
// It does nothing for an App that never ran.
func (a *App) Close() {
	a.mu.Lock()
	started, cancel := a.started, a.cancel
	a.mu.Unlock()
	if !started {
		return
	}
	cancel()
	<-a.done
}

// Status returns the App's state and what goes with it; safe to call at any time, from
// any goroutine.
func (a *App) Status() Status { return a.life.status() }

// CleanUp deletes this instance's local state: the stores of every task and the global
// stores under <StateDir>/<ApplicationID>. The instance id kept there survives: it names
// the instance, not its state, so an exactly-once instance still fences the transaction a
// crashed previous life left open, and Kafka's tools still see the same client ids.
// Kafka Streams: KafkaStreams#cleanUp.
//
// Call it before Run or after Run returned: after `eddy reset`, so that the next Run
// restores nothing stale; or to rebuild the stores from their changelogs (the next Run
// restores every task from the start of its changelogs). It returns an error while Run
// runs, and ErrStateDirLocked (wrapped) while another instance, or cmd/eddy, uses the
// directory. A Run called during CleanUp waits for it to finish.
func (a *App) CleanUp() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		select {
		case <-a.done:
		default:
			return errors.New("eddy: CleanUp: the app is running (call it before Run, or after Run returned)")
		}
	}
	dir := filepath.Join(a.cfg.stateDir, a.cfg.applicationID)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	return statedir.Wipe(dir)
}

// Stats returns the App's running totals; safe to call while it runs.
func (a *App) Stats() Stats {
	if s := a.stats.Load(); s != nil {
		return *s
	}
	return Stats{}
}
