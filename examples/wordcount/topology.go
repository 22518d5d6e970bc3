// Package wordcount is the word count of Eddy's first demo, written with the Processor
// API: lines of text in, the running count of every word out. The demo command is
// examples/cmd/wordcount; the integration tests run the same topology on real Kafka.
package wordcount

import (
	"strings"
	"unicode"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// Topics of the word count. Words re-keys the words so that every occurrence of a word
// reaches the task that counts it, whatever partition its line came from; all three
// topics must exist, Words with the partition count of Counts' store changelog.
type Topics struct {
	Lines, Words, Counts string
}

// Counts is the store of the running count of every word.
var Counts = store.KeyValue("word-counts-store", serde.String(), serde.Int64())

// Words splits a line into its words: lower case, split at anything that is neither a
// letter nor an apostrophe.
func Words(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(c rune) bool { return !unicode.IsLetter(c) && c != '\'' })
}

// splitter turns a line into its words, each keyed by itself.
type splitter struct{}

func (splitter) Process(ctx processor.Context[string, string], r processor.Record[string, string]) error {
	for _, w := range Words(r.Value) {
		ctx.Forward(processor.Record[string, string]{Key: w, Value: w, Timestamp: r.Timestamp})
	}
	return nil
}

// counter counts each word and forwards the new count.
type counter struct{ kv store.KV[string, int64] }

func (c *counter) Init(ctx processor.InitContext) error {
	c.kv = Counts.From(ctx)
	return nil
}

func (c *counter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	n, _, err := c.kv.Get(r.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.kv.Put(r.Key, n); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n, Timestamp: r.Timestamp})
	return nil
}

// Topology builds the word count: two subtopologies joined by the words topic.
func Topology(t Topics) (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "lines", serde.String(), serde.String(), []string{t.Lines})
	topology.AddProcessor(b, "split", func() processor.Processor[string, string, string, string] { return splitter{} }, "lines")
	topology.AddSink(b, "to-words", t.Words, serde.String(), serde.String(), []string{"split"})

	topology.AddSource(b, "words", serde.String(), serde.String(), []string{t.Words})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "words")
	topology.AddStore(b, Counts, "count")
	topology.AddSink(b, "to-counts", t.Counts, serde.String(), serde.Int64(), []string{"count"})
	return b.Build()
}
