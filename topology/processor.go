package topology

import (
	"errors"
	"reflect"
	"slices"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
)

// AddProcessor adds a processor node that runs the processors supplier makes, one per
// task, on the records of its parents: sources and other processors, named in parents.
// The key and value types the processor takes must be assignable from those its parents
// forward; Build reports any that are not. Kafka Streams: Topology#addProcessor.
//
// The InitContext that Init is given is also the processor's
// processor.Context[KOut, VOut], so a processor may keep it to forward records from a
// punctuator, as Kafka Streams processors keep their ProcessorContext.
//
// Errors that the processor returns from Init, Process and Close reach the engine as
// they are (the engine names the task, node and record); the errors the adapter makes
// itself, such as for a record of the wrong type, name the node.
//
// A processor that holds records back between commits, as a record cache does,
// implements processor.Flusher (Flush() error and Discard()): the engine calls Flush before every
// commit, parents before children, and what Flush forwards is part of that commit; it
// calls Discard when it rolls the task's stores back to their last commit (an aborted
// transaction), so that what was held is dropped with the writes that made it. Flush may
// forward through the context the processor was given at Init.
func AddProcessor[KIn, VIn, KOut, VOut any](b *Builder, name string, supplier processor.Supplier[KIn, VIn, KOut, VOut], parents ...string) {
	if b == nil {
		return
	}
	n := addProcessorNode[KIn, VIn, KOut, VOut](b, name, parents)
	if supplier == nil {
		b.problemf("%s: supplier is nil", n)
		return
	}
	n.newProcessor = func() plan.NodeProcessor {
		p := supplier()
		e := &erasedProcessor[KIn, VIn, KOut, VOut]{p: p}
		if f, ok := p.(processor.Flusher); ok {
			// Only processors that hold records back are flushed: the engine skips the
			// others.
			return &flushingProcessor[KIn, VIn, KOut, VOut]{erasedProcessor: e, f: f}
		}
		return e
	}
}

// flushingProcessor is the adapter of a user processor that implements Flusher.
type flushingProcessor[KIn, VIn, KOut, VOut any] struct {
	*erasedProcessor[KIn, VIn, KOut, VOut]
	f processor.Flusher
}

var _ processor.Flusher = (*flushingProcessor[int, int, int, int])(nil)

func (p *flushingProcessor[KIn, VIn, KOut, VOut]) Flush() error {
	if p.ctx == nil {
		return nil // never initialized: it holds nothing
	}
	return p.f.Flush()
}

func (p *flushingProcessor[KIn, VIn, KOut, VOut]) Discard() { p.f.Discard() }

// addProcessorNode adds a processor node that takes records of KIn and VIn and forwards
// records of KOut and VOut, without its processor: AddProcessor and the DSL set that.
func addProcessorNode[KIn, VIn, KOut, VOut any](b *Builder, name string, parents []string) *node {
	n := &node{
		kind:     processorKind,
		name:     name,
		parents:  slices.Clone(parents),
		inKey:    reflect.TypeFor[KIn](),
		inValue:  reflect.TypeFor[VIn](),
		outKey:   reflect.TypeFor[KOut](),
		outValue: reflect.TypeFor[VOut](),
	}
	b.add(n)
	return n
}

// erasedProcessor runs a typed user processor as a plan.NodeProcessor.
type erasedProcessor[KIn, VIn, KOut, VOut any] struct {
	p processor.Processor[KIn, VIn, KOut, VOut]
	// ctx is nil until Init.
	ctx *typedContext[KOut, VOut]
}

func (e *erasedProcessor[KIn, VIn, KOut, VOut]) Init(nc plan.NodeContext) error {
	if e.p == nil {
		return errors.New("the supplier returned nil")
	}
	if nc == nil {
		return errors.New("init with a nil context")
	}
	e.ctx = &typedContext[KOut, VOut]{InitContext: nc, node: nc}
	if i, ok := e.p.(processor.Initializer); ok {
		return i.Init(e.ctx)
	}
	return nil
}

func (e *erasedProcessor[KIn, VIn, KOut, VOut]) Process(r plan.Record) error {
	if e.ctx == nil {
		return errors.New("process before a successful init")
	}
	in, err := typedRecord[KIn, VIn](r)
	if err != nil {
		return err
	}
	return e.p.Process(e.ctx, in)
}

func (e *erasedProcessor[KIn, VIn, KOut, VOut]) Close() error {
	if c, ok := e.p.(processor.Closer); ok {
		return c.Close()
	}
	return nil
}
