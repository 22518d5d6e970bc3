package engine

import (
	"sync"
	"time"
)

// Phase is where an instance is in its life, as the engine sees it. The App turns it
// into its public State, adding the phases only it knows (created, shutting down,
// stopped, failed).
type Phase int8

const (
	// PhaseStarting: checking and creating topics, bootstrapping the global stores.
	PhaseStarting Phase = iota
	// PhaseRebalancing: joining the group, waiting for an assignment, or restoring the
	// stores of assigned tasks.
	PhaseRebalancing
	// PhaseRunning: a member of the group whose assigned tasks are all restored and
	// processing (none may be assigned).
	PhaseRunning
)

// Status is what the engine reports of an instance.
type Status struct {
	Phase Phase
	// Tasks counts the tasks assigned to the instance; Restoring those of them still
	// restoring their stores.
	Tasks, Restoring int
	// UnreachableSince is when the cluster last answered, while it has not answered
	// for unreachableAfter; zero otherwise (contact.go).
	UnreachableSince time.Time
}

// statusBoard holds an instance's Status and publishes every change of it.
//
// Concurrency: update serializes changes and publishes each with mu held, so that the
// receiver sees them in order; a change may be made from any goroutine.
type statusBoard struct {
	mu      sync.Mutex
	current Status
	// publish receives every new Status; nil publishes nothing.
	publish func(Status)
}

// update changes the status with fn, under the board's lock, and publishes the result
// if it differs. fn may read state that its callers order by this lock (the
// membership's rebalancing flag).
func (b *statusBoard) update(fn func(*Status)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.current
	fn(&b.current)
	if b.current != old && b.publish != nil {
		b.publish(b.current)
	}
}

// publishTasks publishes the membership's phase and its task counts: rebalancing while
// the member joins or restores, running otherwise. REQUIRES: mu.
func (m *membership) publishTasks() {
	m.status.update(func(s *Status) {
		s.Phase = PhaseRunning
		if m.rebalancing.Load() || len(m.pending) > 0 {
			s.Phase = PhaseRebalancing
		}
		s.Tasks, s.Restoring = len(m.tasks)+len(m.pending), len(m.pending)
	})
}

// startRebalancing marks the member as joining its group, from any goroutine: the
// balancer's join hook runs on the group goroutine, which must not wait for mu.
func (m *membership) startRebalancing() {
	m.status.update(func(s *Status) {
		m.rebalancing.Store(true)
		s.Phase = PhaseRebalancing
	})
}
