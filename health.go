package eddy

import (
	"encoding/json"
	"net/http"
	"time"
)

// LivenessHandler returns a handler for a liveness probe: 200 while the App is alive
// (Status.Alive), 503 once Run has returned. The body is the App's status as JSON:
//
//	{"state":"RUNNING","tasks":4,"restoring_tasks":0}
//
// with "unreachable_since" while disconnected and "error" in StateError. It answers
// every method and path: mount it where the probe looks, e.g.
// mux.Handle("GET /livez", app.LivenessHandler()).
func (a *App) LivenessHandler() http.Handler {
	return a.probe(Status.Alive)
}

// ReadinessHandler returns a handler for a readiness probe: 200 while the App is
// running with every assigned task restored and its global stores bootstrapped
// (Status.Ready), 503 otherwise (starting, rebalancing, restoring, disconnected,
// stopping). The body is as LivenessHandler's.
func (a *App) ReadinessHandler() http.Handler {
	return a.probe(Status.Ready)
}

// statusJSON is the body of the probes.
type statusJSON struct {
	State            string     `json:"state"`
	Tasks            int        `json:"tasks"`
	RestoringTasks   int        `json:"restoring_tasks"`
	UnreachableSince *time.Time `json:"unreachable_since,omitempty"`
	Error            string     `json:"error,omitempty"`
}

func (a *App) probe(ok func(Status) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := a.Status()
		body := statusJSON{State: s.State.String(), Tasks: s.Tasks, RestoringTasks: s.RestoringTasks}
		if !s.UnreachableSince.IsZero() {
			body.UnreachableSince = &s.UnreachableSince
		}
		if s.Err != nil {
			body.Error = s.Err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !ok(s) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body) // the prober went away: nothing to do
	})
}
