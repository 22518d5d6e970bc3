package topology

import (
	"slices"
	"strings"
)

// checkCycles reports each cycle among the processors, once per strongly connected
// component, naming its earliest-added processor and one cycle through it.
func (c *checker) checkCycles() {
	for _, scc := range c.stronglyConnected() {
		start := scc[0]
		if len(scc) == 1 && !slices.Contains(c.g.children[start], start) {
			continue
		}
		c.problemf("%s: in a cycle: %s", start, c.cycleThrough(start, scc))
	}
}

// stronglyConnected returns the strongly connected components of the processors (Tarjan's
// algorithm), each sorted in order of addition, in order of their first node.
func (c *checker) stronglyConnected() [][]*node {
	var (
		index   = make(map[*node]int)
		low     = make(map[*node]int)
		onStack = make(map[*node]bool)
		stack   []*node
		sccs    [][]*node
		visit   func(n *node)
	)
	visit = func(n *node) {
		index[n] = len(index)
		low[n] = index[n]
		stack = append(stack, n)
		onStack[n] = true
		for _, child := range c.g.children[n] {
			if child.kind != processorKind {
				continue
			}
			if _, seen := index[child]; !seen {
				visit(child)
				low[n] = min(low[n], low[child])
			} else if onStack[child] {
				low[n] = min(low[n], index[child])
			}
		}
		if low[n] != index[n] {
			return
		}
		var scc []*node
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			scc = append(scc, top)
			if top == n {
				break
			}
		}
		slices.SortFunc(scc, bySeq)
		sccs = append(sccs, scc)
	}
	for _, n := range c.g.nodes {
		if _, seen := index[n]; !seen && n.kind == processorKind {
			visit(n)
		}
	}
	slices.SortFunc(sccs, func(a, b []*node) int { return bySeq(a[0], b[0]) })
	return sccs
}

// cycleThrough returns a shortest cycle from start back to start within scc, written
// "a -> b -> a".
func (c *checker) cycleThrough(start *node, scc []*node) string {
	via := map[*node]*node{}
	queue := []*node{start}
	var last *node
	for len(queue) > 0 && last == nil {
		n := queue[0]
		queue = queue[1:]
		for _, child := range c.g.children[n] {
			if child == start {
				last = n
				break
			}
			if _, seen := via[child]; !seen && slices.Contains(scc, child) {
				via[child] = n
				queue = append(queue, child)
			}
		}
	}
	path := []string{start.name}
	for n := last; n != start && n != nil; n = via[n] {
		path = append(path, n.name)
	}
	path = append(path, start.name)
	slices.Reverse(path)
	return strings.Join(path, " -> ")
}

func bySeq(a, b *node) int { return a.seq - b.seq }
