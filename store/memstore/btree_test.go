package memstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTreeMatchesAMap runs random sets and deletes on a tree and on a map, and checks
// after each round that the tree holds what the map holds, in order, and that its nodes
// keep the B-tree invariants.
func TestTreeMatchesAMap(t *testing.T) {
	cases := []struct {
		name     string
		keySpace int // keys are drawn from this many values, so sets overwrite and deletes hit
		ops      int
		delShare float64
	}{
		{name: "a few keys, mostly sets", keySpace: 50, ops: 2_000, delShare: 0.3},
		{name: "many keys, mostly sets", keySpace: 20_000, ops: 40_000, delShare: 0.2},
		{name: "many keys, as many deletes as sets", keySpace: 5_000, ops: 40_000, delShare: 0.5},
		{name: "many keys, mostly deletes", keySpace: 5_000, ops: 40_000, delShare: 0.8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(c.keySpace)))
			var tr tree
			want := map[string]string{}
			for op := range c.ops {
				k := fmt.Sprintf("%08d", rng.IntN(c.keySpace))
				if rng.Float64() < c.delShare {
					_, had := want[k]
					delete(want, k)
					if got := tr.delete(newProbe([]byte(k))); got != had {
						t.Fatalf("op %d: delete(%s) = %v, want %v", op, k, got, had)
					}
				} else {
					_, had := want[k]
					v := fmt.Sprint(op)
					want[k] = v
					if got := tr.set(newEntry([]byte(k), []byte(v), false)); got != had {
						t.Fatalf("op %d: set(%s) replaced = %v, want %v", op, k, got, had)
					}
				}
				if op%(c.ops/10) == 0 || op == c.ops-1 {
					checkTree(t, &tr, want)
				}
			}
			// Empty it completely: the root must go away.
			for k := range want {
				tr.delete(newProbe([]byte(k)))
			}
			if tr.root != nil || tr.len() != 0 {
				t.Errorf("after deleting every key: root %v, len %d", tr.root, tr.len())
			}
		})
	}
}

func checkTree(t *testing.T, tr *tree, want map[string]string) {
	t.Helper()
	if tr.len() != len(want) {
		t.Fatalf("len = %d, want %d", tr.len(), len(want))
	}
	if tr.root != nil {
		checkNode(t, tr.root, true)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	var c cursor
	i := 0
	for c.seekGE(tr, probe{}); ; c.next() {
		e, ok := c.current()
		if !ok {
			break
		}
		if i >= len(keys) || string(e.key) != keys[i] || string(e.value) != want[keys[i]] {
			t.Fatalf("entry %d of a full scan is %s=%s, want key %q", i, e.key, e.value, keys[min(i, len(keys)-1)])
		}
		i++
	}
	if i != len(keys) {
		t.Fatalf("full scan saw %d entries, want %d", i, len(keys))
	}
	for _, k := range keys {
		if e, ok := tr.get(newProbe([]byte(k))); !ok || string(e.value) != want[k] {
			t.Fatalf("get(%s) = %s, %v; want %s", k, e.value, ok, want[k])
		}
	}
	// seekGE lands on the first key not less than the target, for targets present or not.
	for _, target := range []string{"", "0", "00000000", "00000001x", "00002500", "5", "99999999", "a"} {
		c.seekGE(tr, newProbe([]byte(target)))
		got, ok := c.current()
		j, _ := slices.BinarySearch(keys, target)
		if wantOK := j < len(keys); ok != wantOK || (ok && string(got.key) != keys[j]) {
			t.Fatalf("seekGE(%q) = %q, %v; want index %d of %d", target, got.key, ok, j, len(keys))
		}
	}
}

// checkNode checks the sizes and the order of the entries of the subtree of n, and that
// its leaves are all at the same depth, which it returns.
func checkNode(t *testing.T, n *node, root bool) int {
	t.Helper()
	if len(n.items) > maxItems || (!root && len(n.items) < minItems) {
		t.Fatalf("node with %d entries (root %v), want %d to %d", len(n.items), root, minItems, maxItems)
	}
	for i := 1; i < len(n.items); i++ {
		if bytes.Compare(n.items[i-1].key, n.items[i].key) >= 0 {
			t.Fatalf("entries out of order: %q before %q", n.items[i-1].key, n.items[i].key)
		}
	}
	if n.leaf() {
		return 1
	}
	if len(n.children) != len(n.items)+1 {
		t.Fatalf("interior node with %d entries and %d children", len(n.items), len(n.children))
	}
	depth := -1
	for i, c := range n.children {
		if i > 0 && bytes.Compare(c.items[0].key, n.items[i-1].key) <= 0 {
			t.Fatalf("child %d starts at %q, not after %q", i, c.items[0].key, n.items[i-1].key)
		}
		if i < len(n.items) && bytes.Compare(c.items[len(c.items)-1].key, n.items[i].key) >= 0 {
			t.Fatalf("child %d ends at %q, not before %q", i, c.items[len(c.items)-1].key, n.items[i].key)
		}
		d := checkNode(t, c, false)
		if depth >= 0 && d != depth {
			t.Fatalf("leaves at depths %d and %d", depth, d)
		}
		depth = d
	}
	return depth + 1
}
