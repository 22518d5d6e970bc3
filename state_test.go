package eddy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stateLog records the changes an App's state listener is told.
type stateLog struct {
	mu      sync.Mutex
	changes []string // "OLD>NEW"
}

func (l *stateLog) listen(newState, oldState State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, oldState.String()+">"+newState.String())
}

func (l *stateLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.changes)
}

// copyTopology copies "in" to "out".
func copyTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.To(topology.StreamFrom(b, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// probe calls a health handler and returns its status code and decoded body.
func probe(t *testing.T, h http.Handler) (int, statusJSON) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	var body statusJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("probe body %q: %v", rec.Body, err)
	}
	return rec.Code, body
}

// awaitState polls the App's status until it is want, failing the test after timeout.
func awaitState(t *testing.T, app *App, want State, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for app.Status().State != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %s after %s, want %s", app.Status().State, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyOne produces one record to "in" and reads it back from "out".
func copyOne(ctx context.Context, t *testing.T, seeds []string, value string) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("out"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.ProduceSync(ctx, &kgo.Record{Topic: "in", Key: []byte("k"), Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("waiting for %q in out: %v", value, err)
		}
		for _, r := range fetches.Records() {
			if string(r.Value) == value {
				return
			}
		}
	}
}

func TestStateFollowsTheLifecycleAndTheProbesFollowTheState(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var log stateLog
	app, err := New(copyTopology(t), ApplicationID("lifecycle"), SeedBrokers(cluster.ListenAddrs()...), StateDir(t.TempDir()),
		CommitInterval(50*time.Millisecond), Logger(slog.New(slog.DiscardHandler)), OnStateChange(log.listen))
	if err != nil {
		t.Fatal(err)
	}
	live, ready := app.LivenessHandler(), app.ReadinessHandler()
	if code, body := probe(t, live); code != http.StatusOK || body.State != "CREATED" {
		t.Errorf("before Run, liveness %d %+v, want 200 CREATED", code, body)
	}
	if code, _ := probe(t, ready); code != http.StatusServiceUnavailable {
		t.Errorf("before Run, readiness %d, want 503", code)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx) }()
	awaitState(t, app, StateRunning, 30*time.Second)
	if code, body := probe(t, ready); code != http.StatusOK || body.State != "RUNNING" || body.Tasks != 2 || body.RestoringTasks != 0 {
		t.Errorf("running, readiness %d %+v, want 200 RUNNING with 2 tasks, none restoring", code, body)
	}
	copyOne(ctx, t, cluster.ListenAddrs(), "v1")

	app.Close()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := app.Status(); s.State != StateNotRunning || s.Err != nil || s.Tasks != 0 {
		t.Errorf("after Close, status %+v, want NOT_RUNNING, no error, no tasks", s)
	}
	if code, _ := probe(t, live); code != http.StatusServiceUnavailable {
		t.Errorf("after Close, liveness %d, want 503", code)
	}
	changes := log.get()
	// A group of one member may rebalance more than once while it forms: several
	// REBALANCING>RUNNING moves are fine, the start and the end are not negotiable.
	if len(changes) < 4 || changes[0] != "CREATED>REBALANCING" || !slices.Contains(changes, "REBALANCING>RUNNING") ||
		!slices.Equal(changes[len(changes)-2:], []string{"RUNNING>PENDING_SHUTDOWN", "PENDING_SHUTDOWN>NOT_RUNNING"}) {
		t.Errorf("the listener was told %q", changes)
	}
}

// freeAddr returns a loopback address that nothing listens on.
func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port
}

// TestRunWaitsForAClusterThatIsNotThereYet: Run started before any broker listens
// keeps trying instead of failing, and runs once the cluster is up (Kafka Streams
// waits the same way).
func TestRunWaitsForAClusterThatIsNotThereYet(t *testing.T) {
	addr, port := freeAddr(t)
	app, err := New(copyTopology(t), ApplicationID("late-cluster"), SeedBrokers(addr), StateDir(t.TempDir()),
		CommitInterval(50*time.Millisecond), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx) }()
	select {
	case err := <-ran:
		t.Fatalf("Run returned %v before the cluster was up", err)
	case <-time.After(3 * time.Second):
	}
	if s := app.Status(); s.State != StateRebalancing || s.Ready() {
		t.Errorf("waiting for the cluster, status %+v, want REBALANCING and not ready", s)
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(2, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	awaitState(t, app, StateRunning, 30*time.Second)
	copyOne(ctx, t, cluster.ListenAddrs(), "after the wait")
	app.Close()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunGivesUpOnAClusterThatNeverAnswers: past OutageTimeout at start, Run returns
// ErrClusterUnavailable, the App's state is ERROR with that error, and liveness fails.
func TestRunGivesUpOnAClusterThatNeverAnswers(t *testing.T) {
	addr, _ := freeAddr(t)
	var log stateLog
	app, err := New(copyTopology(t), ApplicationID("no-cluster"), SeedBrokers(addr), StateDir(t.TempDir()),
		OutageTimeout(2*time.Second), Logger(slog.New(slog.DiscardHandler)), OnStateChange(log.listen))
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = app.Run(t.Context())
	if !errors.Is(err, ErrClusterUnavailable) {
		t.Fatalf("Run returned %v, want ErrClusterUnavailable", err)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("Run gave up after %s with an OutageTimeout of 2s", took)
	}
	if s := app.Status(); s.State != StateError || !errors.Is(s.Err, ErrClusterUnavailable) {
		t.Errorf("status %+v, want ERROR with ErrClusterUnavailable", s)
	}
	if code, body := probe(t, app.LivenessHandler()); code != http.StatusServiceUnavailable || body.Error == "" {
		t.Errorf("liveness %d %+v, want 503 with the error", code, body)
	}
	if changes := log.get(); !slices.Equal(changes, []string{"CREATED>REBALANCING", "REBALANCING>PENDING_ERROR", "PENDING_ERROR>ERROR"}) {
		t.Errorf("the listener was told %q", changes)
	}
}

// TestRunGivesUpOnAClusterThatGoesAwayForLongerThanOutageTimeout: a running App whose
// cluster disappears stops with ErrClusterUnavailable once OutageTimeout has passed,
// not before and not never.
func TestRunGivesUpOnAClusterThatGoesAwayForLongerThanOutageTimeout(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(copyTopology(t), ApplicationID("gone-cluster"), SeedBrokers(cluster.ListenAddrs()...), StateDir(t.TempDir()),
		CommitInterval(50*time.Millisecond), OutageTimeout(3*time.Second), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- app.Run(t.Context()) }()
	awaitState(t, app, StateRunning, 30*time.Second)
	copyOne(t.Context(), t, cluster.ListenAddrs(), "before")
	cluster.Close()
	gone := time.Now()
	select {
	case err := <-ran:
		if !errors.Is(err, ErrClusterUnavailable) {
			t.Fatalf("Run returned %v, want ErrClusterUnavailable", err)
		}
		if took := time.Since(gone); took < 3*time.Second {
			t.Errorf("Run gave up %s after the cluster went, before OutageTimeout (3s)", took)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("Run still runs 45s after its cluster went away, with an OutageTimeout of 3s")
	}
}
