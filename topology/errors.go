package topology

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalidTopology is matched by errors.Is on the error of Build when the topology has
// any problem. Kafka Streams: TopologyException.
var ErrInvalidTopology = errors.New("topology: invalid topology")

// BuildError is the error of Build: every problem the builder found, in a stable order
// (the problems of each Add call in the order of the calls, then those of the graph as a
// whole). Each problem names the node or store at fault, by its kind and name
// (processor "split", store "counts"); a node added without a name is named by its kind
// and its position among all the nodes added, from 1 (processor #3).
//
// Error renders the problems one per line under a header, as errors.Join does; Unwrap
// gives them to errors.Is and errors.As.
type BuildError struct {
	Problems []error
}

func (e *BuildError) Error() string {
	var sb strings.Builder
	sb.WriteString(ErrInvalidTopology.Error())
	sb.WriteString(": ")
	sb.WriteString(strconv.Itoa(len(e.Problems)))
	if len(e.Problems) == 1 {
		sb.WriteString(" problem")
	} else {
		sb.WriteString(" problems")
	}
	for _, p := range e.Problems {
		sb.WriteString("\n")
		sb.WriteString(p.Error())
	}
	return sb.String()
}

// Unwrap returns the problems.
func (e *BuildError) Unwrap() []error { return e.Problems }

// Is reports whether target is ErrInvalidTopology.
func (e *BuildError) Is(target error) bool { return target == ErrInvalidTopology }
