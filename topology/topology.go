package topology

import "github.com/eddy-streams/eddy/internal/plan"

// Topology is a checked topology, as Build returns it, ready for eddy.New or the test
// driver (eddytest.New). It is immutable and safe for concurrent use, and one topology
// may run in several applications. Describe shows its subtopologies, nodes and stores.
type Topology struct {
	plan *plan.Topology
}

func init() {
	// The engine and the test driver run the plan; this is their only way to it.
	plan.Of = func(topology any) *plan.Topology {
		if t, ok := topology.(*Topology); ok && t != nil {
			return t.plan
		}
		return nil
	}
}
