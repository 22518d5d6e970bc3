package topology

import (
	"strconv"

	"github.com/eddy-streams/eddy/internal/plan"
)

// BranchedStream splits a stream into branches: each record goes to the first branch,
// in the order they were added, whose predicate it matches, and only to it; a record
// that matches none goes to the default branch, or is dropped when there is none. Make
// one with Split. Kafka Streams: BranchedKStream<K, V>.
//
// Branches are named <prefix><name>, the prefix being the split's name: Kafka Streams
// names them alike, and its map of branches (from defaultBranch or noDefaultBranch) is
// what Branches returns. Each branch is a processor node of that name under the split's
// node, which sends each record to its branch alone.
//
// Add every branch before building: a Topology already built keeps the branches it was
// built with. Branch and Default of a nil BranchedStream, or of one split from a Stream
// that belongs to no Builder, return the zero Stream.
type BranchedStream[K, V any] struct {
	s Stream[K, V]
	// prefix is the name of the split's node and the prefix of its branches' names.
	prefix string
	// split is the split's node, whose processor is remade as branches are added.
	split *node
	plan  splitPlan[K, V]
	// branches are the streams of the branches, by name, for Branches.
	branches   map[string]Stream[K, V]
	hasDefault bool
}

// splitPlan is what a split's processor routes by: branches[i] takes the records that
// match preds[i] and none before; fallback, when not "", those that match none. A plan
// is never changed once a processor uses it: adding a branch makes a new one.
type splitPlan[K, V any] struct {
	preds    []func(K, V) bool
	branches []string
	fallback string
}

// Split starts splitting s into branches, added with Branch and Default. Named sets the
// name of the split's node, which is also the prefix of its branches' names; by default
// it is generated (KSTREAM-BRANCH-0000000003). Kafka Streams: KStream#split.
func Split[K, V any](s Stream[K, V], opts ...Option) *BranchedStream[K, V] {
	if s.b == nil {
		return &BranchedStream[K, V]{}
	}
	br := &BranchedStream[K, V]{s: s, branches: make(map[string]Stream[K, V])}
	br.prefix = s.b.nodeName(applyOptions(opts).name, "KSTREAM-BRANCH")
	addDSLNode(s.b, br.prefix, br.newSplitter(), s.node)
	br.split = s.b.nodes[len(s.b.nodes)-1]
	return br
}

// newSplitter returns the maker of the split's processors for the current plan.
func (br *BranchedStream[K, V]) newSplitter() func() dslProcessor[K, V, K, V] {
	plan := br.plan
	return func() dslProcessor[K, V, K, V] {
		return &funcProcessor[K, V, K, V]{fn: func(ctx *dslContext[K, V], r dslRecord[K, V]) error {
			for i, pred := range plan.preds {
				if pred(r.Key, r.Value) {
					ctx.forwardTo(plan.branches[i], r)
					return nil
				}
			}
			if plan.fallback != "" {
				ctx.forwardTo(plan.fallback, r)
			}
			return nil
		}}
	}
}

// Branch adds a branch named <prefix><name> that takes the records matching pred that
// no branch added before took, and returns its stream. An empty name numbers the branch
// by its position among the branches that have a predicate, from 1 (<prefix>1,
// <prefix>2…), as Kafka Streams does. Kafka Streams: BranchedKStream#branch with
// Branched.as(name).
func (br *BranchedStream[K, V]) Branch(name string, pred func(key K, value V) bool) Stream[K, V] {
	if br == nil || br.s.b == nil {
		return Stream[K, V]{}
	}
	b := br.s.b
	if name == "" {
		name = strconv.Itoa(len(br.plan.preds) + 1)
	}
	child := br.prefix + name
	if br.hasDefault {
		b.problemf("split %q: branch %q added after the default branch, which must come last", br.prefix, child)
		return Stream[K, V]{}
	}
	if pred == nil {
		b.problemf("split %q: branch %q: predicate is nil", br.prefix, child)
		return Stream[K, V]{}
	}
	br.plan = splitPlan[K, V]{
		preds:    append(br.plan.preds[:len(br.plan.preds):len(br.plan.preds)], pred),
		branches: append(br.plan.branches[:len(br.plan.branches):len(br.plan.branches)], child),
	}
	return br.addBranch(child)
}

// Default adds the branch named <prefix><name> that takes the records no other branch
// took, and returns its stream; without it they are dropped. An empty name names it
// <prefix>0, as Kafka Streams does. It comes last: a Branch after it is a problem that
// Build reports. Kafka Streams: BranchedKStream#defaultBranch with Branched.as(name).
func (br *BranchedStream[K, V]) Default(name string) Stream[K, V] {
	if br == nil || br.s.b == nil {
		return Stream[K, V]{}
	}
	if name == "" {
		name = "0"
	}
	child := br.prefix + name
	if br.hasDefault {
		br.s.b.problemf("split %q: default branch %q added after the default branch %q", br.prefix, child, br.plan.fallback)
		return Stream[K, V]{}
	}
	br.hasDefault = true
	br.plan.fallback = child
	return br.addBranch(child)
}

// addBranch adds the node of the branch child and makes the split route by the new plan.
func (br *BranchedStream[K, V]) addBranch(child string) Stream[K, V] {
	b := br.s.b
	name := b.nodeName(child, "")
	addFuncNode(b, name, func(ctx *dslContext[K, V], r dslRecord[K, V]) error {
		ctx.forward(r)
		return nil
	}, br.prefix)
	newProc := br.newSplitter()
	br.split.newProcessor = func() plan.NodeProcessor {
		return &dslAdapter[K, V, K, V]{p: newProc()}
	}
	s := br.s.next(name)
	br.branches[name] = s
	return s
}

// Branches returns the streams of the branches added so far, by their full names
// (<prefix><name>). Kafka Streams: the map that BranchedKStream#defaultBranch and
// #noDefaultBranch return.
func (br *BranchedStream[K, V]) Branches() map[string]Stream[K, V] {
	out := make(map[string]Stream[K, V])
	if br == nil {
		return out
	}
	for name, s := range br.branches {
		out[name] = s
	}
	return out
}
