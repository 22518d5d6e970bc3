package topology

import (
	"slices"

	"github.com/eddy-streams/eddy/internal/plan"
)

// subtopologies splits a checked, acyclic graph into its subtopologies: the connected
// components of the graph in which the processors sharing a store are connected too
// (Kafka Streams: InternalTopologyBuilder#makeNodeGroups). A component's ID is its rank
// by its earliest-added node.
func (g *graph) subtopologies(stores []*storeEntry) []*plan.Subtopology {
	uf := newUnionFind(g.nodes)
	for _, n := range g.nodes {
		for _, p := range g.parents[n] {
			uf.union(n, p)
		}
	}
	for _, e := range stores {
		for _, p := range g.storeNodes[e] {
			uf.union(p, g.storeNodes[e][0])
		}
	}

	// g.nodes is in order of addition, so components are met in the order of their
	// earliest node.
	ids := make(map[*node]int)
	var subs []*plan.Subtopology
	for _, n := range g.nodes {
		root := uf.find(n)
		id, ok := ids[root]
		if !ok {
			id = len(subs)
			ids[root] = id
			subs = append(subs, &plan.Subtopology{ID: id})
		}
		switch s := subs[id]; n.kind {
		case sourceKind:
			s.Sources = append(s.Sources, g.sourceNode(n))
		case sinkKind:
			s.Sinks = append(s.Sinks, g.sinkNode(n))
		}
	}
	for _, n := range g.processorOrder() {
		s := subs[ids[uf.find(n)]]
		s.Processors = append(s.Processors, g.processorNode(n))
	}
	for _, e := range stores {
		if len(g.storeNodes[e]) == 0 {
			continue // reported by the checks; no subtopology has it
		}
		s := subs[ids[uf.find(g.storeNodes[e][0])]]
		s.Stores = append(s.Stores, plan.Store{Def: e.def})
	}
	return subs
}

// processorOrder returns the processors parents before children (Kahn's algorithm),
// taking the earliest-added of the ready processors first.
func (g *graph) processorOrder() []*node {
	waiting := make(map[*node]int)
	var ready []*node
	for _, n := range g.nodes {
		if n.kind != processorKind {
			continue
		}
		for _, p := range g.parents[n] {
			if p.kind == processorKind {
				waiting[n]++
			}
		}
		if waiting[n] == 0 {
			ready = append(ready, n)
		}
	}
	var order []*node
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, child := range g.children[n] {
			if child.kind != processorKind {
				continue
			}
			if waiting[child]--; waiting[child] == 0 {
				i, _ := slices.BinarySearchFunc(ready, child, bySeq)
				ready = slices.Insert(ready, i, child)
			}
		}
	}
	return order
}

func (g *graph) sourceNode(n *node) *plan.Source {
	return &plan.Source{
		Name:          n.name,
		Topics:        slices.Clone(n.topics),
		Children:      names(g.children[n]),
		ResetToLatest: n.offsetReset == Latest,
		Internal:      n.internal,
		Decode:        n.decode,
	}
}

func (g *graph) processorNode(n *node) *plan.Processor {
	return &plan.Processor{
		Name:         n.name,
		Parents:      names(g.parents[n]),
		Children:     names(g.children[n]),
		Stores:       slices.Clone(g.storeNames[n]),
		GlobalStores: slices.Clone(n.globalStores),
		New:          n.newProcessor,
	}
}

func (g *graph) sinkNode(n *node) *plan.Sink {
	return &plan.Sink{
		Name:      n.name,
		Parents:   names(g.parents[n]),
		Topic:     n.topic,
		Internal:  n.internal,
		Encode:    n.encode,
		Partition: n.partition,
	}
}

func names(nodes []*node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.name
	}
	return out
}

// unionFind is a disjoint-set forest over nodes, with path halving.
type unionFind struct {
	parent map[*node]*node
}

func newUnionFind(nodes []*node) *unionFind {
	uf := &unionFind{parent: make(map[*node]*node, len(nodes))}
	for _, n := range nodes {
		uf.parent[n] = n
	}
	return uf
}

func (uf *unionFind) find(n *node) *node {
	for uf.parent[n] != n {
		uf.parent[n] = uf.parent[uf.parent[n]]
		n = uf.parent[n]
	}
	return n
}

// union joins the sets of a and b, keeping the earlier-added root as the root.
func (uf *unionFind) union(a, b *node) {
	ra, rb := uf.find(a), uf.find(b)
	if ra == rb {
		return
	}
	if rb.seq < ra.seq {
		ra, rb = rb, ra
	}
	uf.parent[rb] = ra
}
