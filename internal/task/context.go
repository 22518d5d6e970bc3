package task

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
)

// nodeContext is the plan.NodeContext of one processor node in one task.
type nodeContext struct {
	task *Task
	node *node
}

var _ plan.NodeContext = (*nodeContext)(nil)

func (c *nodeContext) ApplicationID() string               { return c.task.applicationID }
func (c *nodeContext) TaskID() processor.TaskID            { return c.task.id }
func (c *nodeContext) StreamTime() time.Time               { return c.task.streamTime }
func (c *nodeContext) Forward(child string, r plan.Record) { c.task.forward(c.node, child, r) }

// StateStore returns the store name. Its errors name neither the task nor the node: the
// ProcessingError they become does.
func (c *nodeContext) StateStore(name string) (any, error) {
	if c.node.globals[name] {
		s, ok := c.task.globals[name]
		if !ok {
			return nil, fmt.Errorf("global store %q is not open", name)
		}
		return s, nil
	}
	if !c.node.stores[name] {
		return nil, fmt.Errorf("store %q is not connected to the node", name)
	}
	if l, ok := c.task.layers[name]; ok {
		return l, nil
	}
	s, ok := c.task.stores[name]
	if !ok {
		return nil, fmt.Errorf("store %q is not open", name)
	}
	return s, nil
}

func (c *nodeContext) Schedule(interval time.Duration, kind processor.PunctuationType, fn processor.Punctuator) (processor.Cancellable, error) {
	return c.task.schedule(c.node, interval, kind, fn)
}

func (c *nodeContext) RecordMetadata() (processor.RecordMetadata, bool) {
	if c.task.current == nil {
		return processor.RecordMetadata{}, false
	}
	return c.task.current.meta, true
}
