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
//
// Beyond Kafka Streams' format: a source or sink of an internal topic (a repartition
// topic of the DSL) ends with " (internal)", and shows the topic's bare name: the
// application id completes it (<application id>-<name>) when the topology runs. Global stores
// follow the subtopologies, each in a section numbered after them, as Kafka Streams
// shows them:
//
//	Sub-topology: 2 for global store (will not generate tasks)
//	 Source: rates-source (topics: [rates])
//	   --> none
//	 Global store: rates-store
//
// where Kafka Streams shows the processor that updates the store, which Eddy does not
// have. The examples show both as Describe prints them (gofmt strips the indentation
// that the global section shares with the subtopologies).
func (t *Topology) Describe() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n")
	next := 0
	for i, s := range t.plan.Subtopologies {
		if i > 0 {
			sb.WriteString("\n")
		}
		next = max(next, s.ID+1)
		fmt.Fprintf(&sb, "   Sub-topology: %d\n", s.ID)
		for _, n := range s.Sources {
			fmt.Fprintf(&sb, "    Source: %s (topics: [%s])%s\n", n.Name, strings.Join(n.Topics, ", "), internalNote(n.Internal))
			writeChildren(&sb, n.Children)
		}
		for _, n := range s.Processors {
			fmt.Fprintf(&sb, "    Processor: %s (stores: [%s])\n", n.Name, strings.Join(n.Stores, ", "))
			writeChildren(&sb, n.Children)
			fmt.Fprintf(&sb, "      <-- %s\n", strings.Join(n.Parents, ", "))
		}
		for _, n := range s.Sinks {
			fmt.Fprintf(&sb, "    Sink: %s (topic: %s)%s\n", n.Name, n.Topic, internalNote(n.Internal))
			fmt.Fprintf(&sb, "      <-- %s\n", strings.Join(n.Parents, ", "))
		}
	}
	for i, g := range t.plan.GlobalStores {
		if len(t.plan.Subtopologies) > 0 || i > 0 {
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "   Sub-topology: %d for global store (will not generate tasks)\n", next+i)
		fmt.Fprintf(&sb, "    Source: %s (topics: [%s])\n", g.Source, g.Topic)
		writeChildren(&sb, nil)
		fmt.Fprintf(&sb, "    Global store: %s\n", g.Def.Name())
	}
	return sb.String()
}

func internalNote(internal bool) string {
	if internal {
		return " (internal)"
	}
	return ""
}

func writeChildren(sb *strings.Builder, children []string) {
	if len(children) == 0 {
		sb.WriteString("      --> none\n")
		return
	}
	fmt.Fprintf(sb, "      --> %s\n", strings.Join(children, ", "))
}
