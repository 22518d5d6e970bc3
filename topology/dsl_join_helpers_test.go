package topology_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/topology"
)

// The join tests reproduce the "Join semantics" tables of Kafka Streams' documentation
// (docs/streams/developer-guide/dsl-api.html, section "Joining"): every record has the
// key "k", records are processed in timestamp order, and each output is written as the
// joiner's arguments [left, right], "null" standing for a missing side; a null output
// (a table tombstone) is written "null".

// joinInput is one record of a semantics table: its timestamp and value on the left or the
// right input; "null" is a record with a null value (a tombstone for a table), "" is no
// record.
type joinInput struct {
	ts          int64
	left, right string
}

// joinArgs formats the arguments a joiner was given as the documentation does.
func joinArgs(left string, hasLeft bool, right string, hasRight bool) string {
	if !hasLeft {
		left = "null"
	}
	if !hasRight {
		right = "null"
	}
	return fmt.Sprintf("[%s, %s]", left, right)
}

// pipeJoin writes key and value as string bytes; "null" becomes a null value, and a nil
// key a null key.
func pipeJoin(t *testing.T, d *eddytest.Driver, topic string, key *string, value string, ts time.Time) {
	t.Helper()
	r := eddytest.Record{Timestamp: ts}
	if key != nil {
		r.Key = []byte(*key)
	}
	if value != "null" {
		r.Value = []byte(value)
	}
	if err := d.PipeRaw(topic, r); err != nil {
		t.Fatalf("piping %q at %v to %s: %v", value, ts, topic, err)
	}
}

func keyOf[T any](v T) *T { return &v }

// pipeJoinInput pipes a semantics table's record, keyed "k", at at to the topic "left" or
// "right", the side it is on, and returns it as "<topic>=<value>".
func pipeJoinInput(t *testing.T, d *eddytest.Driver, in joinInput, at time.Time) string {
	t.Helper()
	topic, value := "left", in.left
	if value == "" {
		topic, value = "right", in.right
	}
	pipeJoin(t, d, topic, keyOf("k"), value, at)
	return topic + "=" + value
}

// joinOut is a record written to an output topic, as strings; a null value is "null"
// and a null key has nullKey set.
type joinOut struct {
	key     string
	nullKey bool
	value   string
	ts      int64
}

func (r joinOut) String() string {
	key := r.key
	if r.nullKey {
		key = "<null>"
	}
	return fmt.Sprintf("%s:%s@%d", key, r.value, r.ts)
}

// joinReader reads the records written to a topic since its last read.
type joinReader struct {
	d     *eddytest.Driver
	topic string
	seen  int
}

func (r *joinReader) read() []joinOut {
	var out []joinOut
	for _, w := range unread(r.d, r.topic, &r.seen) {
		o := joinOut{key: string(w.Key), nullKey: w.Key == nil, value: string(w.Value), ts: w.Timestamp.UnixMilli()}
		if w.Value == nil {
			o.value = "null"
		}
		out = append(out, o)
	}
	return out
}

// joinValues returns the joinValues of records.
func joinValues(records []joinOut) []string {
	var out []string
	for _, r := range records {
		out = append(out, r.value)
	}
	return out
}

// joinInternalTopic returns the records written to an internal topic, whether or not the
// driver completed its name with the application id.
func joinInternalTopic(d *eddytest.Driver, name string) []eddytest.Record {
	return append(d.Written(name), d.Written("eddytest-"+name)...)
}

// joinObserved is a record as a Processor API node under a join sees it: a null key is nil.
type joinObserved struct {
	key     string
	nullKey bool
	value   string
}

// observeJoin adds a processor under s that records what s forwards, nulls included: it
// takes its keys as any, which keeps a null key nil.
func observeJoin(b *topology.Builder, s topology.Stream[string, string]) *[]joinObserved {
	var seen []joinObserved
	name := s.Node() + "-observer"
	topology.AddProcessor(b, name, func() processor.Processor[any, string, any, string] {
		return processor.ProcessFunc[any, string, any, string](func(_ processor.Context[any, string], r processor.Record[any, string]) error {
			k, _ := r.Key.(string)
			seen = append(seen, joinObserved{key: k, nullKey: r.Key == nil, value: r.Value})
			return nil
		})
	}, s.Node())
	return &seen
}
