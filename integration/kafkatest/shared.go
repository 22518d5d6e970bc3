package kafkatest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Shared is one cluster for all the tests of a package: started by the first test that
// asks for it, stopped by Run once every test has ended. A package that never asks starts
// nothing.
type Shared struct {
	opts []Option

	once    sync.Once
	cluster *Cluster
	err     error
}

// NewShared returns a Shared whose cluster is started with opts.
func NewShared(opts ...Option) *Shared { return &Shared{opts: opts} }

// Cluster returns the package's cluster, starting it on first use. When it cannot start,
// the test fails with the reason, and so does every later test that asks: a missing
// Docker engine or image is a failure, never a skip.
func (s *Shared) Cluster(tb testing.TB) *Cluster {
	tb.Helper()
	s.once.Do(func() {
		s.cluster, s.err = Start(context.Background(), s.opts...)
		if s.err == nil {
			// Printed, not logged through tb, so that it stands once in the package's
			// output whichever test came first.
			fmt.Fprintf(os.Stderr, "kafkatest: %s\n", s.cluster)
		}
	})
	if s.err != nil {
		tb.Fatalf("kafkatest: no Kafka cluster: %v", s.err)
	}
	return s.cluster
}

// Run runs the package's tests and then stops the cluster if one was started. It returns
// the exit code for os.Exit, and fails it when the cluster cannot be stopped.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	if s.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.cluster.Close(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
