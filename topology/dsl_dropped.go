package topology

import "github.com/eddy-streams/eddy/internal/plan"

// dropCounter counts the records a DSL processor drops by design (see plan.DropCounter).
// Embedded in a processor, it gives it the dropped method, through which the adapter
// reports the count.
type dropCounter struct{ n int64 }

func (c *dropCounter) drop()          { c.n++ }
func (c *dropCounter) dropped() int64 { return c.n }

// countsDrops is a dslProcessor that counts the records it drops.
type countsDrops interface{ dropped() int64 }

var _ plan.DropCounter = (*dslAdapter[int, int, int, int])(nil)

// The processors that count what they drop. A compile error here means that a field or
// another embedded type hides dropCounter's methods, which would silently count nothing.
var (
	_ countsDrops = (*aggregator[int, int, int])(nil)
	_ countsDrops = (*timeWindowAggregator[int, int, int])(nil)
	_ countsDrops = (*slidingWindowAggregator[int, int, int])(nil)
	_ countsDrops = (*sessionAggregator[int, int, int])(nil)
	_ countsDrops = (*tableAggregator[int, int, int])(nil)
	_ countsDrops = (*materializer[int, int])(nil)
	_ countsDrops = (*streamJoinSide[int, int, int, int])(nil)
	_ countsDrops = (*streamTableJoiner[int, int, int, int])(nil)
	_ countsDrops = (*tableJoinSide[int, int, int, int])(nil)
	_ countsDrops = (*globalJoiner[int, int, int, int, int])(nil)
)

// DroppedRecords makes the adapter a plan.DropCounter: the count of its processor, or 0 for
// the processors that drop nothing.
func (a *dslAdapter[KIn, VIn, KOut, VOut]) DroppedRecords() int64 {
	if c, ok := a.p.(countsDrops); ok {
		return c.dropped()
	}
	return 0
}
