package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTransientErrorsAreTheClustersNotTheRecords: what a cluster that does not answer
// causes is retried within OutageTimeout; an error of a record that its handler let fail
// the application is not, even when user code wrapped a timeout in it.
func TestTransientErrorsAreTheClustersNotTheRecords(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"a refused dial", fmt.Errorf("listing topics: %w", dial), true},
		{"a request that timed out", fmt.Errorf("committing offsets: %w", context.DeadlineExceeded), true},
		{"a retriable Kafka error", fmt.Errorf("initializing: %w", kerr.CoordinatorNotAvailable), true},
		{"missing topics", fmt.Errorf("%w: in", ErrMissingTopics), false},
		{"an authorization error", kerr.TopicAuthorizationFailed, false},
		{"a processing error wrapping a timeout", &processor.ProcessingError{Node: "enrich", Err: context.DeadlineExceeded}, false},
		{"a processing error wrapping a network error", fmt.Errorf("task: %w", &processor.ProcessingError{Node: "enrich", Err: dial}), false},
		{"a deserialization error", &processor.DeserializationError{Source: "in", Err: context.DeadlineExceeded}, false},
		{"a production error", &processor.ProductionError{Err: kerr.RequestTimedOut}, false},
	} {
		if got := isTransient(c.err); got != c.transient {
			t.Errorf("%s (%v): transient %v, want %v", c.name, c.err, got, c.transient)
		}
	}
}

// TestASilentButHealthyClusterIsNotReportedUnreachable: an instance whose clients send
// nothing (as while its member waits in a long JoinGroup) probes the cluster, and one
// that answers is never reported unreachable; a cluster that is gone is, after
// unreachableAfter.
func TestASilentButHealthyClusterIsNotReportedUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("watches for longer than unreachableAfter (10 s); skipped with -short")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var reports []Status
	var mu sync.Mutex
	e := &Engine{cfg: Config{OutageTimeout: time.Minute}, log: slog.New(slog.DiscardHandler), contact: newClusterContact(time.Now)}
	e.status.publish = func(s Status) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, s)
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.WithHooks(e.contact))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithCancel(t.Context())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		e.watchContact(ctx, client, func(err error) { t.Errorf("the watchdog gave up: %v", err) })
	}()
	time.Sleep(unreachableAfter + 2*time.Second)
	mu.Lock()
	if len(reports) != 0 {
		t.Errorf("a cluster that answers every probe was reported: %+v", reports)
	}
	mu.Unlock()

	cluster.Close()
	deadline := time.Now().Add(unreachableAfter + 5*time.Second)
	for {
		mu.Lock()
		n := len(reports)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a cluster that is gone was never reported unreachable")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-watched
	if s := reports[0]; s.UnreachableSince.IsZero() {
		t.Errorf("the first report %+v does not say since when the cluster is silent", s)
	}
}
