package topology

import (
	"fmt"
	"strings"
)

// Describe renders the topology as text in the format of Kafka Streams'
// TopologyDescription, for logs and for reviewing a topology:
//
//	Topologies:
//	   Sub-topology: 0
//	    Source: lines (topics: [text-lines])
//	      --> split
//	    Processor: split (stores: [])
//	      --> counter
//	      <-- lines
//	    Processor: counter (stores: [counts])
//	      --> sink
//	      <-- split
//	    Sink: sink (topic: word-counts)
//	      <-- counter
//
// Each subtopology lists its sources in order of addition, its processors parents before
// children, then its sinks; "-->" lists a node's children ("none" when it has none), in
// order of addition, and "<--" its parents, in the order they were named. A blank line
// separates subtopologies; every line ends with a newline. Unlike Kafka Streams, every
// subtopology header is indented alike.
func (t *Topology) Describe() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n")
	for i, s := range t.subtopologies {
		if i > 0 {
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "   Sub-topology: %d\n", s.ID)
		for _, n := range s.Sources {
			fmt.Fprintf(&sb, "    Source: %s (topics: [%s])\n", n.Name, strings.Join(n.Topics, ", "))
			writeChildren(&sb, n.Children)
		}
		for _, n := range s.Processors {
			fmt.Fprintf(&sb, "    Processor: %s (stores: [%s])\n", n.Name, strings.Join(n.Stores, ", "))
			writeChildren(&sb, n.Children)
			fmt.Fprintf(&sb, "      <-- %s\n", strings.Join(n.Parents, ", "))
		}
		for _, n := range s.Sinks {
			fmt.Fprintf(&sb, "    Sink: %s (topic: %s)\n", n.Name, n.Topic)
			fmt.Fprintf(&sb, "      <-- %s\n", strings.Join(n.Parents, ", "))
		}
	}
	return sb.String()
}

func writeChildren(sb *strings.Builder, children []string) {
	if len(children) == 0 {
		sb.WriteString("      --> none\n")
		return
	}
	fmt.Fprintf(sb, "      --> %s\n", strings.Join(children, ", "))
}
