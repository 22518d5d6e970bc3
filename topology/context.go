package topology

import (
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
)

// typedContext is the processor.Context of a processor whose output types are K and V,
// over the engine's untyped plan.NodeContext. Like the plan.NodeContext, it is used from its
// task's goroutine only.
type typedContext[K, V any] struct {
	processor.InitContext
	node plan.NodeContext
}

var _ processor.Context[string, int] = (*typedContext[string, int])(nil)

func (c *typedContext[K, V]) Forward(r processor.Record[K, V]) { c.node.Forward("", erased(r)) }

// ForwardTo passes r to the named child. The engine's plan.NodeContext treats "" as all the
// children, so ForwardTo("", r) is Forward(r).
func (c *typedContext[K, V]) ForwardTo(child string, r processor.Record[K, V]) {
	c.node.Forward(child, erased(r))
}

func (c *typedContext[K, V]) RecordMetadata() (processor.RecordMetadata, bool) {
	return c.node.RecordMetadata()
}
