package lmm

import (
	"errors"
	"fmt"
)

var errCorrupt = errors.New("lmm: invariant violated")

// Check verifies every invariant of the manager and returns the first
// violation found (wrapping an unexported sentinel), or nil. It walks every
// block: O(n). Tests call it after each step.
func (m *LMM) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, a...))
	}
	if len(m.byAddr) != len(m.byPri) {
		return bad("%d regions by address, %d by priority", len(m.byAddr), len(m.byPri))
	}
	for i, r := range m.byAddr {
		if r.Min >= r.Max {
			return bad("region %d empty or inverted [%#x,%#x)", i, r.Min, r.Max)
		}
		if i > 0 && m.byAddr[i-1].Max > r.Min {
			return bad("regions %d and %d overlap or are out of order", i-1, i)
		}
	}
	seen := make(map[*region]bool, len(m.byPri))
	for i, r := range m.byPri {
		if i > 0 && !before(m.byPri[i-1], r) {
			return bad("regions out of priority order at %d", i)
		}
		seen[r] = true
	}
	for _, r := range m.byAddr {
		if !seen[r] {
			return bad("region [%#x,%#x) missing from priority order", r.Min, r.Max)
		}
		if err := r.check(); err != nil {
			return bad("region [%#x,%#x): %v", r.Min, r.Max, err)
		}
	}
	return nil
}

func (r *region) check() error {
	t := &r.t
	// The list: ordered, disjoint, not touching (touching runs merge), inside.
	var free uint64
	count := 0
	var prev *node
	for n := t.head; n != nil; n = n.next {
		if n.prev != prev {
			return fmt.Errorf("block %#x: bad prev link", n.start)
		}
		if n.start >= n.end {
			return fmt.Errorf("empty block [%#x,%#x)", n.start, n.end)
		}
		if n.start < r.Min || n.end > r.Max {
			return fmt.Errorf("block [%#x,%#x) outside region", n.start, n.end)
		}
		if prev != nil && prev.end >= n.start {
			return fmt.Errorf("blocks [%#x,%#x) and [%#x,%#x) overlap or touch", prev.start, prev.end, n.start, n.end)
		}
		free += n.end - n.start
		count++
		prev = n
	}
	if t.tail != prev {
		return fmt.Errorf("tail is not the last block")
	}
	if free != r.free || count != t.count {
		return fmt.Errorf("counted %d bytes in %d blocks, recorded %d in %d", free, count, r.free, t.count)
	}
	// The tree: the same blocks in order, heap-ordered, exact aggregates.
	if t.root != nil && t.root.parent != nil {
		return fmt.Errorf("root has a parent")
	}
	next := t.head
	var walk func(n *node) error
	walk = func(n *node) error {
		if n == nil {
			return nil
		}
		for _, c := range []*node{n.left, n.right} {
			if c != nil && (c.parent != n || c.prio > n.prio) {
				return fmt.Errorf("block %#x: bad parent link or heap order", c.start)
			}
		}
		if err := walk(n.left); err != nil {
			return err
		}
		if n != next {
			return fmt.Errorf("block %#x: tree order differs from list order", n.start)
		}
		next = n.next
		if err := walk(n.right); err != nil {
			return err
		}
		// The bounds must cover the block and the children's bounds.
		self := n.self()
		for i := range self {
			if n.own[i] < self[i] {
				return fmt.Errorf("block %#x: own bound %v below %v", n.start, n.own, self)
			}
		}
		least := n.own
		for _, c := range []*node{n.left, n.right} {
			if c != nil {
				for i := range least {
					least[i] = max(least[i], c.agg[i])
				}
			}
		}
		for i := range least {
			if n.agg[i] < least[i] {
				return fmt.Errorf("block %#x: bound %v below %v", n.start, n.agg, least)
			}
		}
		return nil
	}
	if err := walk(t.root); err != nil {
		return err
	}
	if next != nil {
		return fmt.Errorf("list has blocks the tree lacks")
	}
	return nil
}
