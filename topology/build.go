package topology

import (
	"errors"
	"slices"

	"github.com/eddy-streams/eddy/internal/plan"
)

// Build checks the topology and returns it, or returns a *BuildError listing every
// problem found (errors.Is(err, ErrInvalidTopology) holds). A topology is valid when:
//
//   - it has a source, and every node has a name that no other node has;
//   - every processor and sink has parents, each named once, each a source or processor;
//   - the processors form no cycle;
//   - every child takes key and value types assignable from those its parents forward;
//   - sources, sinks and stores have both serdes, processors a supplier;
//   - each source reads at least one topic, and no topic is read by two sources;
//   - each store has a name, one definition, and is connected to processors only, at
//     least one.
//
// The subtopologies are the connected components of the graph, in which the processors
// that share a store are connected too, numbered from 0 in the order in which the first
// node of each was added to the builder.
func (b *Builder) Build() (*Topology, error) {
	if b == nil {
		return nil, &BuildError{Problems: []error{errors.New("nil builder")}}
	}
	g, problems := b.check()
	if len(problems) > 0 {
		return nil, &BuildError{Problems: problems}
	}
	var internal []plan.InternalTopic
	for _, it := range b.internal {
		internal = append(internal, plan.InternalTopic{Name: it.name, Partitions: it.partitions})
	}
	return &Topology{plan: plan.New(g.subtopologies(b.stores), internal, slices.Clone(b.globals))}, nil
}
