package eddy

import (
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// State is where an App is in its life. Kafka Streams: KafkaStreams.State, whose
// states these are, plus StateDisconnected. The moves:
//
//   - Created to Rebalancing when Run starts;
//   - Rebalancing to Running once every assigned task is restored, and back at every
//     rebalance or restoration;
//   - Rebalancing or Running to Disconnected while the cluster does not answer, and
//     back when it does;
//   - any of those three to PendingShutdown when Run's context ends or Close is
//     called, then NotRunning when Run returns;
//   - any state of a running App to PendingError when an error stops it, then Error
//     when Run returns it.
type State int32

const (
	// StateCreated: made by New, Run not called yet.
	StateCreated State = iota
	// StateRebalancing: starting (checking topics, bootstrapping global stores),
	// joining the group, or restoring the stores of assigned tasks. Restoration is
	// visible in Status.RestoringTasks.
	StateRebalancing
	// StateRunning: every assigned task restored and processing, the global stores
	// bootstrapped. An instance with no task assigned (more instances than partitions)
	// is running too.
	StateRunning
	// StateDisconnected: no broker of the cluster has answered any client of the
	// instance for 10 s, at start or mid-run (Status.UnreachableSince says since when).
	// The instance waits, and goes back to rebalancing or running when the cluster
	// answers; after OutageTimeout Run returns ErrClusterUnavailable. Not in Kafka
	// Streams, where an outage shows only once task.timeout.ms fails the application.
	StateDisconnected
	// StatePendingShutdown: Run's context ended or Close was called; the instance
	// commits, closes its tasks and leaves its group.
	StatePendingShutdown
	// StateNotRunning: Run returned after a clean stop.
	StateNotRunning
	// StatePendingError: an error stopped the instance; it closes what it holds.
	StatePendingError
	// StateError: Run returned an error, which Status.Err holds.
	StateError
)

var stateNames = [...]string{"CREATED", "REBALANCING", "RUNNING", "DISCONNECTED", "PENDING_SHUTDOWN", "NOT_RUNNING", "PENDING_ERROR", "ERROR"}

// String returns the state's name as Kafka Streams writes it: RUNNING, PENDING_SHUTDOWN.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "UNKNOWN"
	}
	return stateNames[s]
}

// MarshalText returns the state's name, so that logs and JSON show RUNNING, not 2.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is what an App reports of itself (App.Status, the health handlers).
type Status struct {
	State State
	// Tasks counts the tasks assigned to this instance; RestoringTasks those of them
	// still restoring their stores from their changelogs.
	Tasks, RestoringTasks int
	// UnreachableSince is when the cluster last answered, in StateDisconnected; zero
	// otherwise.
	UnreachableSince time.Time
	// Err is the error Run returned, in StateError.
	Err error
}

// Ready reports whether the instance serves its share of the work: running, with every
// assigned task restored and the global stores bootstrapped. A readiness probe.
func (s Status) Ready() bool { return s.State == StateRunning }

// Alive reports whether the instance is alive: made or running, in any state but
// StateNotRunning and StateError. An instance waiting for its cluster is alive. A
// liveness probe: a process whose App is not alive should be restarted.
func (s Status) Alive() bool { return s.State != StateNotRunning && s.State != StateError }

// StateListener is told every change of an App's state, in order (OnStateChange).
type StateListener func(newState, oldState State)

// lifecycle holds an App's status and tells the listener of its changes.
//
// Concurrency: changes come from Run's goroutine, the engine's goroutines and the
// goroutine that ends Run's context; mu serializes them, and the listener is called
// with mu held, so it sees the changes in order and must not wait for Run or call
// Close.
type lifecycle struct {
	mu sync.Mutex
	// stage is the App's own part of the state: StateRebalancing while the engine runs
	// (which then decides between rebalancing, running and disconnected), or one of
	// the states only the App knows.
	stage    State
	engine   engine.Status
	err      error
	reported State
	listener StateListener
}

// status returns the current Status.
func (l *lifecycle) status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current()
}

// current returns the Status. REQUIRES: mu.
func (l *lifecycle) current() Status {
	s := Status{State: l.stage, Err: l.err}
	if l.stage == StateRebalancing || l.stage == StatePendingShutdown {
		s.Tasks, s.RestoringTasks = l.engine.Tasks, l.engine.Restoring
	}
	if l.stage != StateRebalancing {
		return s
	}
	switch {
	case !l.engine.UnreachableSince.IsZero():
		s.State, s.UnreachableSince = StateDisconnected, l.engine.UnreachableSince
	case l.engine.Phase == engine.PhaseRunning:
		s.State = StateRunning
	}
	return s
}

// change applies fn to the lifecycle and tells the listener if the state changed.
func (l *lifecycle) change(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn()
	now := l.current().State
	if now == l.reported {
		return
	}
	old := l.reported
	l.reported = now
	if l.listener != nil {
		l.listener(now, old)
	}
}

// enter moves the App's own part of the state to stage.
func (l *lifecycle) enter(stage State) { l.change(func() { l.stage = stage }) }

// stopping marks a stop asked for while the engine runs.
func (l *lifecycle) stopping() {
	l.change(func() {
		if l.stage == StateRebalancing {
			l.stage = StatePendingShutdown
		}
	})
}

// fail records the error that stopped the App.
func (l *lifecycle) fail(err error) {
	l.change(func() { l.stage, l.err = StateError, err })
}

// engineStatus records what the engine reports (engine.Config.PublishStatus).
func (l *lifecycle) engineStatus(s engine.Status) { l.change(func() { l.engine = s }) }
