// Package wordcount is the word count of Eddy's first demo, written with the typed DSL:
// lines of text in, the running count of every word out. The demo command is
// examples/cmd/wordcount; the integration tests run the same topology on real Kafka.
package wordcount

import (
	"strings"
	"unicode"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Topics of the word count; both must exist. The words travel between the two
// subtopologies through the internal topic <application id>-words-repartition, which
// the application creates.
type Topics struct {
	Lines, Counts string
}

// Words splits a line into its words: lower case, split at anything that is neither a
// letter nor an apostrophe.
func Words(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(c rune) bool { return !unicode.IsLetter(c) && c != '\'' })
}

// Topology builds the word count. Every store and internal topic is named, so that a
// later change to the topology cannot rename them.
func Topology(t Topics) (*topology.Topology, error) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	lines := topology.StreamFrom(b, t.Lines, serde.String(), serde.String())
	words := topology.FlatMapValues(lines, func(_, line string) []string { return Words(line) })
	byWord := topology.GroupBy(words, "words", func(_, word string) string { return word }, serde.String())
	counts := topology.Count(byWord, "word-counts-store")
	topology.To(topology.ToStream(counts), t.Counts, serde.String(), serde.Int64())
	return b.Build()
}
