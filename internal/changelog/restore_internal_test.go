package changelog

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestListOffsetsRetriesRetriableErrorsOnly(t *testing.T) {
	listed := kadm.ListedOffsets{"log": {0: {Topic: "log", Partition: 0, Offset: 7}}}
	cases := []struct {
		name string
		errs []error // returned by the first calls, in order
		// wantCalls is how many times list is called; wantErr, what listOffsets returns.
		wantCalls int
		wantErr   error
	}{
		{"a partition without a leader after an outage is retried", []error{kerr.LeaderNotAvailable, kerr.NotLeaderForPartition}, 3, nil},
		{"an error that is not retriable is returned at once", []error{kerr.TopicAuthorizationFailed}, 1, kerr.TopicAuthorizationFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			list := func(context.Context, ...string) (kadm.ListedOffsets, error) {
				calls++
				if calls <= len(c.errs) {
					return nil, c.errs[calls-1]
				}
				return listed, nil
			}
			got, err := ListOffsets(context.Background(), list, []string{"log"})
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if calls != c.wantCalls {
				t.Errorf("%d calls, want %d", calls, c.wantCalls)
			}
			if err == nil {
				if o, ok := got.Lookup("log", 0); !ok || o.Offset != 7 {
					t.Errorf("offsets %v, want offset 7 of log/0", got)
				}
			}
		})
	}
}

func TestListOffsetsStopsRetryingWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	list := func(context.Context, ...string) (kadm.ListedOffsets, error) {
		cancel()
		return nil, kerr.LeaderNotAvailable
	}
	if _, err := ListOffsets(ctx, list, []string{"log"}); !errors.Is(err, context.Canceled) || !errors.Is(err, kerr.LeaderNotAvailable) {
		t.Fatalf("error %v, want the last error and context.Canceled", err)
	}
}
