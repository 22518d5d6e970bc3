package topology_test

import (
	"errors"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
)

// pass supplies processors that forward every record unchanged.
func pass[K, V any]() processor.Supplier[K, V, K, V] {
	return func() processor.Processor[K, V, K, V] {
		return processor.ProcessFunc[K, V, K, V](func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
			ctx.Forward(r)
			return nil
		})
	}
}

// forwarded is one call of fakeNodeContext.Forward.
type forwarded struct {
	child string
	r     plan.Record
}

// fakeNodeContext is the engine's side of a processor node, recording what the node
// forwards.
type fakeNodeContext struct {
	forwards []forwarded
	meta     processor.RecordMetadata
}

var _ plan.NodeContext = (*fakeNodeContext)(nil)

func (f *fakeNodeContext) ApplicationID() string { return "app" }
func (f *fakeNodeContext) TaskID() processor.TaskID {
	return processor.TaskID{Subtopology: 1, Partition: 2}
}
func (f *fakeNodeContext) StreamTime() time.Time { return time.UnixMilli(42) }

func (f *fakeNodeContext) StateStore(name string) (any, error) {
	return nil, errors.New("fake: no store " + name)
}

func (f *fakeNodeContext) Schedule(time.Duration, processor.PunctuationType, processor.Punctuator) (processor.Cancellable, error) {
	return nil, errors.New("fake: no punctuation")
}

func (f *fakeNodeContext) Forward(child string, r plan.Record) {
	f.forwards = append(f.forwards, forwarded{child: child, r: r})
}

func (f *fakeNodeContext) RecordMetadata() (processor.RecordMetadata, bool) { return f.meta, true }

// counter counts records per key in memory and forwards the running counts.
type counter struct{ counts map[string]int64 }

func (c *counter) Process(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
	if c.counts == nil {
		c.counts = make(map[string]int64)
	}
	c.counts[r.Key]++
	ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: c.counts[r.Key], Timestamp: r.Timestamp})
	return nil
}
