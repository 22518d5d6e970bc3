package topology

import (
	"fmt"
	"slices"
)

// graph is the checked form of a Builder: the nodes that take part in the topology and
// the edges between them.
type graph struct {
	// nodes are the registered nodes (the first of each name), in order of addition.
	nodes []*node
	// parents are the parents of each node, in the order they were named; children the
	// children of each node, in order of addition.
	parents  map[*node][]*node
	children map[*node][]*node
	// storeNodes are the processors connected to each store; storeNames the stores of
	// each processor, in order of addition of the stores.
	storeNodes map[*storeEntry][]*node
	storeNames map[*node][]string
}

// checker finds the problems of a Builder's graph as a whole, beyond those found while
// adding, and builds the graph as it goes.
type checker struct {
	b        *Builder
	g        *graph
	problems []error
}

// check returns the graph of b and all of its problems.
func (b *Builder) check() (*graph, []error) {
	c := &checker{
		b: b,
		g: &graph{
			parents:    make(map[*node][]*node),
			children:   make(map[*node][]*node),
			storeNodes: make(map[*storeEntry][]*node),
			storeNames: make(map[*node][]string),
		},
		problems: slices.Clone(b.problems),
	}
	for _, n := range b.nodes {
		if b.registered(n) {
			c.g.nodes = append(c.g.nodes, n)
		}
	}
	c.checkParents()
	c.checkTopics()
	c.checkStores()
	c.checkGlobals()
	c.checkCycles()
	return c.g, c.problems
}

func (c *checker) problemf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

// checkParents resolves the parents of every processor and sink, and checks that each
// exists, can have children, and forwards types the child takes. Nodes that are not
// registered are checked too, but their edges are not added.
func (c *checker) checkParents() {
	for _, n := range c.b.nodes {
		if n.kind == sourceKind {
			continue
		}
		if len(n.parents) == 0 {
			c.problemf("%s: no parents", n)
			continue
		}
		for i, name := range n.parents {
			p := c.b.byName[name]
			switch {
			case slices.Index(n.parents, name) < i:
				c.problemf("%s: parent %q listed twice", n, name)
				continue
			case p == nil:
				c.problemf("%s: unknown parent %q", n, name)
				continue
			case p.kind == sinkKind:
				c.problemf("%s: parent %s cannot have children", n, p)
				continue
			}
			if !p.outKey.AssignableTo(n.inKey) || !p.outValue.AssignableTo(n.inValue) {
				c.problemf("%s: takes keys %s and values %s, but parent %s forwards keys %s and values %s",
					n, n.inKey, n.inValue, p, p.outKey, p.outValue)
			}
			if c.b.registered(n) {
				c.g.parents[n] = append(c.g.parents[n], p)
				c.g.children[p] = append(c.g.children[p], n)
			}
		}
	}
}

// checkTopics checks that there is a source and that no topic is read by two.
func (c *checker) checkTopics() {
	readers := make(map[string]*node)
	sources := 0
	for _, n := range c.b.nodes {
		if n.kind != sourceKind {
			continue
		}
		sources++
		for i, topic := range n.topics {
			if topic == "" || slices.Index(n.topics, topic) < i {
				continue // reported by AddSource
			}
			if first, ok := readers[topic]; ok {
				c.problemf("%s: topic %q is already read by %s", n, topic, first)
				continue
			}
			readers[topic] = n
		}
	}
	if sources == 0 {
		c.problemf("no source: a topology reads at least one topic")
	}
}

// checkStores resolves the processors connected to each store.
func (c *checker) checkStores() {
	for _, e := range c.b.stores {
		name := e.def.Name()
		if len(e.processors) == 0 {
			c.problemf("store %q: connected to no processor", name)
		}
		for _, pname := range e.processors {
			p := c.b.byName[pname]
			switch {
			case p == nil:
				c.problemf("store %q: connected to unknown processor %q", name, pname)
			case p.kind != processorKind:
				c.problemf("store %q: connected to %s, but only processors have stores", name, p)
			default:
				c.g.storeNodes[e] = append(c.g.storeNodes[e], p)
				c.g.storeNames[p] = append(c.g.storeNames[p], name)
			}
		}
	}
}
