package memstore

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// The B-tree below follows the classic algorithm (CLRS, and github.com/google/btree,
// which the import rules keep out of package store): insertion splits full nodes on the
// way down and deletion grows minimal nodes on the way down, by stealing from a sibling
// or merging with one, so that neither ever walks back up.

// degree is the minimum degree of the tree: every node but the root holds between
// minItems and maxItems entries, and an interior node holds one child more than entries.
const (
	degree   = 32
	maxItems = 2*degree - 1
	minItems = degree - 1
)

// entry is a key and its value. In a staged overlay, deleted marks a delete of the key;
// in committed data it is always false.
type entry struct {
	// abbr is the first 8 bytes of key, zero-padded, big-endian: see probe.
	abbr    uint64
	key     []byte
	value   []byte
	deleted bool
}

// newEntry returns an entry holding copies of key and value, in one allocation.
func newEntry(key, value []byte, deleted bool) entry {
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	return entry{
		abbr:    abbreviate(key),
		key:     buf[:len(key):len(key)],
		value:   buf[len(key):],
		deleted: deleted,
	}
}

// probe is a key looked for in a tree, with its abbreviation. Keys are compared by their
// abbreviations first, which live in the entries, so that most comparisons of a search
// do not touch the memory of a key (a cache miss each). Different abbreviations order
// their keys as bytes.Compare does: at the first byte where they differ, either both
// keys have a byte, or the shorter key is a prefix of the other. Equal ones say nothing.
type probe struct {
	abbr uint64
	key  []byte
}

func newProbe(key []byte) probe { return probe{abbr: abbreviate(key), key: key} }

func abbreviate(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// compare compares the key of e with that of p, like bytes.Compare.
func (e *entry) compare(p probe) int {
	switch {
	case e.abbr < p.abbr:
		return -1
	case e.abbr > p.abbr:
		return 1
	}
	return bytes.Compare(e.key, p.key)
}

// compareEntries compares the keys of a and b, like bytes.Compare.
func compareEntries(a, b *entry) int { return a.compare(probe{abbr: b.abbr, key: b.key}) }

type node struct {
	items    []entry
	children []*node // nil for a leaf
}

// tree is a B-tree of entries ordered by bytes.Compare of their keys, at most one entry
// per key. The zero value is an empty tree. Entries are stored as given: callers pass
// slices that nobody else modifies.
type tree struct {
	root   *node
	length int
}

func (n *node) leaf() bool { return len(n.children) == 0 }

// find returns the index of the first entry of n whose key is not less than p's, and
// whether that entry's key equals p's.
func (n *node) find(p probe) (int, bool) {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := n.items[m].compare(p); {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			return m, true
		}
	}
	return lo, false
}

func (t *tree) len() int { return t.length }

func (t *tree) clear() { *t = tree{} }

// get returns the entry with p's key.
func (t *tree) get(p probe) (entry, bool) {
	n := t.root
	for n != nil {
		i, found := n.find(p)
		if found {
			return n.items[i], true
		}
		if n.leaf() {
			break
		}
		n = n.children[i]
	}
	return entry{}, false
}

// set inserts e, or replaces the entry with e's key, and reports whether it replaced one.
// REQUIRES: e.abbr is abbreviate(e.key).
func (t *tree) set(e entry) (replaced bool) {
	if t.root == nil {
		t.root = &node{items: append(make([]entry, 0, 1), e)}
		t.length++
		return false
	}
	if len(t.root.items) >= maxItems {
		mid, right := t.root.split(maxItems / 2)
		t.root = &node{items: []entry{mid}, children: []*node{t.root, right}}
	}
	if replaced = t.root.insert(e); !replaced {
		t.length++
	}
	return replaced
}

// split moves the entries after i (and the children after i) of n to a new node, removes
// entry i from n and returns it with the new node.
func (n *node) split(i int) (entry, *node) {
	mid := n.items[i]
	right := &node{items: append(make([]entry, 0, maxItems), n.items[i+1:]...)}
	clear(n.items[i:])
	n.items = n.items[:i]
	if !n.leaf() {
		right.children = append(make([]*node, 0, maxItems+1), n.children[i+1:]...)
		clear(n.children[i+1:])
		n.children = n.children[:i+1]
	}
	return mid, right
}

// insert adds e to the subtree of n. REQUIRES: n is not full.
func (n *node) insert(e entry) (replaced bool) {
	p := probe{abbr: e.abbr, key: e.key}
	for {
		i, found := n.find(p)
		if found {
			n.items[i] = e
			return true
		}
		if n.leaf() {
			n.items = slices.Insert(n.items, i, e)
			return false
		}
		if len(n.children[i].items) >= maxItems {
			mid, right := n.children[i].split(maxItems / 2)
			n.items = slices.Insert(n.items, i, mid)
			n.children = slices.Insert(n.children, i+1, right)
			switch c := mid.compare(p); {
			case c == 0:
				n.items[i] = e
				return true
			case c < 0:
				i++
			}
		}
		n = n.children[i]
	}
}

// delete removes the entry with p's key and reports whether there was one.
func (t *tree) delete(p probe) bool {
	if t.root == nil {
		return false
	}
	removed := t.root.remove(p)
	if len(t.root.items) == 0 {
		if t.root.leaf() {
			t.root = nil
		} else {
			t.root = t.root.children[0]
		}
	}
	if removed {
		t.length--
	}
	return removed
}

// remove removes p's key from the subtree of n. REQUIRES: n is the root or holds more
// than minItems entries, so that it can lose one.
func (n *node) remove(p probe) bool {
	for {
		i, found := n.find(p)
		if n.leaf() {
			if found {
				n.items = slices.Delete(n.items, i, i+1)
			}
			return found
		}
		if len(n.children[i].items) <= minItems {
			n.grow(i) // moves entries around n: look again
			continue
		}
		if found {
			n.items[i] = n.children[i].removeMax()
			return true
		}
		n = n.children[i]
	}
}

// removeMax removes and returns the greatest entry of the subtree of n. REQUIRES: as for
// remove, and n is not empty.
func (n *node) removeMax() entry {
	for {
		if n.leaf() {
			last := n.items[len(n.items)-1]
			n.items = slices.Delete(n.items, len(n.items)-1, len(n.items))
			return last
		}
		i := len(n.children) - 1
		if len(n.children[i].items) <= minItems {
			n.grow(i)
			continue
		}
		n = n.children[i]
	}
}

// grow gives child i of n more than minItems entries: it steals one from a sibling that
// has entries to spare, through n, or else merges the child with a sibling and the entry
// of n between them.
func (n *node) grow(i int) {
	child := n.children[i]
	switch {
	case i > 0 && len(n.children[i-1].items) > minItems:
		left := n.children[i-1]
		child.items = slices.Insert(child.items, 0, n.items[i-1])
		n.items[i-1] = left.items[len(left.items)-1]
		left.items = slices.Delete(left.items, len(left.items)-1, len(left.items))
		if !left.leaf() {
			child.children = slices.Insert(child.children, 0, left.children[len(left.children)-1])
			left.children = slices.Delete(left.children, len(left.children)-1, len(left.children))
		}
	case i < len(n.items) && len(n.children[i+1].items) > minItems:
		right := n.children[i+1]
		child.items = append(child.items, n.items[i])
		n.items[i] = right.items[0]
		right.items = slices.Delete(right.items, 0, 1)
		if !right.leaf() {
			child.children = append(child.children, right.children[0])
			right.children = slices.Delete(right.children, 0, 1)
		}
	default:
		if i == len(n.items) {
			i--
			child = n.children[i]
		}
		right := n.children[i+1]
		child.items = append(child.items, n.items[i])
		child.items = append(child.items, right.items...)
		child.children = append(child.children, right.children...)
		n.items = slices.Delete(n.items, i, i+1)
		n.children = slices.Delete(n.children, i+1, i+2)
	}
}

// frame is a position in one node: in the cursor's top frame, items[i] is the current
// entry; in a frame below it, the cursor is inside children[i] and items[i] comes next.
type frame struct {
	n *node
	i int
}

// cursor walks a tree in key order. Any change to the tree invalidates it: seek again.
type cursor struct {
	stack []frame
}

// seekGE positions c at the first entry of t whose key is not less than p's.
func (c *cursor) seekGE(t *tree, p probe) {
	c.stack = c.stack[:0]
	for n := t.root; n != nil; {
		i, found := n.find(p)
		c.stack = append(c.stack, frame{n: n, i: i})
		if found || n.leaf() {
			break
		}
		n = n.children[i]
	}
	c.settle()
}

// settle pops the frames that have no entry left, so that the top frame, if any, is at
// the current entry.
func (c *cursor) settle() {
	for len(c.stack) > 0 {
		top := c.stack[len(c.stack)-1]
		if top.i < len(top.n.items) {
			return
		}
		c.stack = c.stack[:len(c.stack)-1]
	}
}

// current returns the entry c is at; false when c is past the last entry.
func (c *cursor) current() (entry, bool) {
	if len(c.stack) == 0 {
		return entry{}, false
	}
	top := c.stack[len(c.stack)-1]
	return top.n.items[top.i], true
}

// next moves c to the following entry. REQUIRES: c is at an entry.
func (c *cursor) next() {
	top := &c.stack[len(c.stack)-1]
	top.i++
	if !top.n.leaf() {
		for n := top.n.children[top.i]; n != nil; {
			c.stack = append(c.stack, frame{n: n})
			if n.leaf() {
				break
			}
			n = n.children[0]
		}
	}
	c.settle()
}
