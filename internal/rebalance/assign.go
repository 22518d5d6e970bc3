package rebalance

import (
	"cmp"
	"slices"

	"github.com/eddy-streams/eddy/processor"
)

// candidate is one group member as the placement sees it.
type candidate struct {
	id         string
	generation int32                      // the generation the member last knew of
	subs       map[int]bool               // subtopologies whose every topic it subscribes to
	claims     map[processor.TaskID]bool  // tasks it owned (any partition, or its user data)
	offsets    map[processor.TaskID]int64 // local state it reports
	load       int                        // tasks placed on it so far
	placed     []processor.TaskID         // in placement order
}

// placement places tasks on members by the rules of the package documentation, before the
// cooperative adjustment: it says where each task should end up, not what a member gets
// in this generation.
type placement struct {
	members   []*candidate // sorted by id; only members that can take some task
	owner     map[processor.TaskID]*candidate
	base      int // every member gets at least base tasks
	extraLeft int // how many more members may get base+1
}

// place returns, for each member that can take a task, the tasks it should own, and the
// tasks no member subscribes to. members must be sorted by id.
func place(tasks []processor.TaskID, members []*candidate) (map[string][]processor.TaskID, []processor.TaskID) {
	p := &placement{owner: make(map[processor.TaskID]*candidate, len(tasks))}
	for _, m := range members {
		if len(m.subs) > 0 {
			p.members = append(p.members, m)
		}
	}
	var orphans []processor.TaskID
	placeable := make([]processor.TaskID, 0, len(tasks))
	for _, id := range tasks {
		if slices.ContainsFunc(p.members, func(m *candidate) bool { return m.subs[id.Subtopology] }) {
			placeable = append(placeable, id)
		} else {
			orphans = append(orphans, id)
		}
	}
	if len(p.members) > 0 {
		p.base, p.extraLeft = len(placeable)/len(p.members), len(placeable)%len(p.members)
		p.sticky(placeable)
		p.byState(placeable)
		p.byLoad(placeable)
	}
	out := make(map[string][]processor.TaskID, len(p.members))
	for _, m := range p.members {
		slices.SortFunc(m.placed, compareTasks)
		out[m.id] = m.placed
	}
	return out, orphans
}

// hasRoom reports whether m may take one more task without leaving the balance of
// floor(T/M) or ceil(T/M) tasks per member.
func (p *placement) hasRoom(m *candidate) bool {
	return m.load < p.base || m.load == p.base && p.extraLeft > 0
}

func (p *placement) put(id processor.TaskID, m *candidate) {
	if m.load == p.base && p.extraLeft > 0 {
		p.extraLeft--
	}
	m.load++
	m.placed = append(m.placed, id)
	p.owner[id] = m
}

// sticky leaves each task with its previous owner, up to base tasks per member, then one
// more for each member that owned more, in member ID order, while members at base+1 are
// allowed. Which members get the extra task does not change how many tasks move.
// When several members claim a task (a member that missed a generation), the claim of
// the highest generation wins, then the smallest member id.
func (p *placement) sticky(tasks []processor.TaskID) {
	kept := make(map[*candidate][]processor.TaskID)
	for _, id := range tasks {
		var prev *candidate
		for _, m := range p.members {
			if m.claims[id] && m.subs[id.Subtopology] && (prev == nil || m.generation > prev.generation) {
				prev = m
			}
		}
		if prev != nil {
			kept[prev] = append(kept[prev], id)
		}
	}
	for _, m := range p.members {
		for _, id := range kept[m] {
			if m.load >= p.base {
				break
			}
			p.put(id, m)
		}
	}
	for _, m := range p.members {
		if len(kept[m]) > m.load && p.hasRoom(m) {
			p.put(kept[m][m.load], m)
		}
	}
}

// byState places each free task on the member reporting the most local state for it,
// among the members with room; the largest states are placed first.
func (p *placement) byState(tasks []processor.TaskID) {
	type offer struct {
		id     processor.TaskID
		m      *candidate
		offset int64
	}
	var offers []offer
	for _, id := range tasks {
		if p.owner[id] != nil {
			continue
		}
		for _, m := range p.members {
			if offset, ok := m.offsets[id]; ok && m.subs[id.Subtopology] {
				offers = append(offers, offer{id, m, offset})
			}
		}
	}
	slices.SortFunc(offers, func(a, b offer) int {
		if c := cmp.Compare(b.offset, a.offset); c != 0 {
			return c
		}
		if c := compareTasks(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.m.id, b.m.id)
	})
	for _, o := range offers {
		if p.owner[o.id] == nil && p.hasRoom(o.m) {
			p.put(o.id, o.m)
		}
	}
}

// byLoad places each remaining task on the least-loaded member with room, the smallest id
// on a tie. When members subscribe to different topics the member that may take a task
// can be full; the task then goes to the least-loaded member that may take it, past the
// balance.
func (p *placement) byLoad(tasks []processor.TaskID) {
	for _, id := range tasks {
		if p.owner[id] != nil {
			continue
		}
		var best, fallback *candidate
		for _, m := range p.members {
			if !m.subs[id.Subtopology] {
				continue
			}
			if fallback == nil || m.load < fallback.load {
				fallback = m
			}
			if p.hasRoom(m) && (best == nil || m.load < best.load) {
				best = m
			}
		}
		if best == nil {
			best = fallback
		}
		p.put(id, best)
	}
}
