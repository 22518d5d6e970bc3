package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kerr"
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
