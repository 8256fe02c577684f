package lmm

import "math"

// nIdx is the number of per-subtree bounds a node keeps: index 0 bounds the
// plain block size, index 1 and 2 the largest run starting at a multiple of
// 2^shift1 and 2^shift2 (see usable).
const nIdx = 3

// The indexed alignments: a page and a 2 MiB large page, the alignments
// kernels ask for most. A request aligned to 2^b is bounded by the largest
// indexed shift <= b, so every alignment is pruned somewhat and these two
// exactly. Each index costs every bound update a little, so there are few.
const (
	shift1 = 12
	shift2 = 21
)

// usable returns how many bytes of [start, end) lie at or above the first
// multiple of 2^shift in it: the largest allocation aligned to 2^shift (with
// offset 0) that the block can hold.
func usable(start, end uint64, shift uint) uint64 {
	mask := uint64(1)<<shift - 1
	a := (start + mask) &^ mask
	if a < start || a >= end { // a < start: rounding up wrapped past the top
		return 0
	}
	return end - a
}

// node is one free block [start, end) of a region, a node of the region's
// treap (keyed by start, heap-ordered by prio) and of its address-ordered
// doubly linked list (prev, next).
type node struct {
	start, end          uint64
	left, right, parent *node
	prev, next          *node
	prio                uint64
	// agg[i] bounds from above, over the subtree, the block size (i = 0) or
	// usable at the i-th indexed alignment. The bounds are lazy: every agg
	// is at least the node's own value and its children's aggs (Check
	// verifies this), but a block that shrinks leaves its ancestors' bounds
	// as they were. Shrinking is what allocation does, so the common path
	// touches no ancestor; a search that enters a subtree on a stale bound
	// and finds nothing recomputes the bounds it walked (pull), so each
	// stale bound costs one wasted visit.
	agg [nIdx]uint64
	// own bounds the node's own values the same lazy way (own >= self(),
	// agg >= own), so a rotation recomputes agg from stored values.
	own [nIdx]uint64
}

func (n *node) self() [nIdx]uint64 {
	return [nIdx]uint64{
		n.end - n.start,
		usable(n.start, n.end, shift1),
		usable(n.start, n.end, shift2),
	}
}

// pull recomputes n.agg from the stored bounds of n and its children: the
// subtree's set of blocks changed (a rotation), not the blocks. It works on
// scalars: copying whole arrays here measured several times slower (the
// word stores and the vector loads of the copy defeat store forwarding).
func (n *node) pull() {
	a0, a1, a2 := n.own[0], n.own[1], n.own[2]
	if l := n.left; l != nil {
		a0, a1, a2 = max(a0, l.agg[0]), max(a1, l.agg[1]), max(a2, l.agg[2])
	}
	if r := n.right; r != nil {
		a0, a1, a2 = max(a0, r.agg[0]), max(a1, r.agg[1]), max(a2, r.agg[2])
	}
	n.agg[0], n.agg[1], n.agg[2] = a0, a1, a2
}

// setOwn sets n.own to the block's exact values.
func (n *node) setOwn() {
	n.own[0] = n.end - n.start
	n.own[1] = usable(n.start, n.end, shift1)
	n.own[2] = usable(n.start, n.end, shift2)
}

// repair makes n's bounds as tight as its block and its children's bounds
// allow, after a search found nothing in n's subtree.
func (n *node) repair() {
	n.setOwn()
	n.pull()
}

// tree holds the free blocks of one region.
type tree struct {
	root, head, tail *node
	count            int
}

// raise lifts the bounds from x up to cover v0, v1, v2, stopping at the
// first node that already covers them: its ancestors' bounds are at least
// its own.
func raise(x *node, v0, v1, v2 uint64) {
	for ; x != nil; x = x.parent {
		if v0 <= x.agg[0] && v1 <= x.agg[1] && v2 <= x.agg[2] {
			return
		}
		x.agg[0], x.agg[1], x.agg[2] = max(v0, x.agg[0]), max(v1, x.agg[1]), max(v2, x.agg[2])
	}
}

// grew restores the bounds after n's block grew. Most often the block only
// grew back to what its stale bounds still cover, and nothing is written.
func grew(n *node) {
	s0 := n.end - n.start
	s1 := usable(n.start, n.end, shift1)
	s2 := usable(n.start, n.end, shift2)
	if s0 <= n.own[0] && s1 <= n.own[1] && s2 <= n.own[2] {
		return
	}
	n.own[0], n.own[1], n.own[2] = max(s0, n.own[0]), max(s1, n.own[1]), max(s2, n.own[2])
	raise(n, n.own[0], n.own[1], n.own[2])
}

func (t *tree) replaceChild(p, old, nw *node) {
	switch {
	case p == nil:
		t.root = nw
	case p.left == old:
		p.left = nw
	default:
		p.right = nw
	}
	if nw != nil {
		nw.parent = p
	}
}

// rotateUp lifts x above its parent p. Neither bound is recomputed: p's
// new subtree is part of its old one, so p's bound still covers it, and x
// takes the larger of both bounds. Callers rotate only where p's bound
// covers the subtrees that move (insertion, before raising the new node's
// values; removal, where x is a child of p).
func (t *tree) rotateUp(x *node) {
	p := x.parent
	g := p.parent
	if p.left == x {
		p.left = x.right
		if x.right != nil {
			x.right.parent = p
		}
		x.right = p
	} else {
		p.right = x.left
		if x.left != nil {
			x.left.parent = p
		}
		x.left = p
	}
	p.parent = x
	t.replaceChild(g, p, x)
	x.agg[0], x.agg[1], x.agg[2] = max(x.agg[0], p.agg[0]), max(x.agg[1], p.agg[1]), max(x.agg[2], p.agg[2])
}

// insertAfter links n (fresh from newNode) as the in-order successor
// of pred, or as the lowest block when pred is nil. The caller guarantees the
// order. It attaches n where the successor relation puts it (no search from
// the root) and rotates it up by priority: expected O(1) rotations and an
// aggregate walk that stops early.
func (t *tree) insertAfter(pred, n *node) {
	switch {
	case t.root == nil:
		t.root = n
	case pred == nil:
		h := t.head // the lowest block has no left child
		h.left = n
		n.parent = h
	case pred.right == nil:
		pred.right = n
		n.parent = pred
	default:
		s := pred.next // leftmost of pred.right: no left child
		s.left = n
		n.parent = s
	}
	n.prev = pred
	if pred == nil {
		n.next = t.head
		t.head = n
	} else {
		n.next = pred.next
		pred.next = n
	}
	if n.next != nil {
		n.next.prev = n
	} else {
		t.tail = n
	}
	n.setOwn()
	n.agg[0], n.agg[1], n.agg[2] = n.own[0], n.own[1], n.own[2]
	for n.parent != nil && n.parent.prio < n.prio {
		t.rotateUp(n)
	}
	raise(n.parent, n.agg[0], n.agg[1], n.agg[2])
	t.count++
}

// remove unlinks n from the tree and the list.
func (t *tree) remove(n *node) {
	for n.left != nil && n.right != nil {
		c := n.left
		if n.right.prio > c.prio {
			c = n.right
		}
		t.rotateUp(c)
	}
	c := n.left
	if c == nil {
		c = n.right
	}
	p := n.parent
	t.replaceChild(p, n, c)
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		t.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		t.tail = n.prev
	}
	// The ancestors' bounds may now be stale, which is allowed.
	t.count--
}

// lastBelow returns the highest block starting below e, or nil. It searches
// from the nearer end: the highest block directly, and otherwise up the left
// spine from the lowest block (a finger search), so a block near the bottom
// of memory is found in O(log distance) rather than O(log n).
func (t *tree) lastBelow(e uint64) *node {
	h := t.head
	if h == nil || h.start >= e {
		return nil
	}
	if t.tail.start < e {
		return t.tail
	}
	// Every ancestor of the lowest block is on the left spine; climbing it
	// visits increasing starts. The answer is x or in x's right subtree.
	x := h
	for x.parent != nil && x.parent.start < e {
		x = x.parent
	}
	best := x
	for y := x.right; y != nil; {
		if y.start < e {
			best = y
			y = y.right
		} else {
			y = y.left
		}
	}
	return best
}

// lastAtMost returns the highest block starting at or below a, or nil.
func (t *tree) lastAtMost(a uint64) *node {
	if a == math.MaxUint64 {
		return t.tail
	}
	return t.lastBelow(a + 1)
}

// query is one allocation request, precomputed for the search.
type query struct {
	size   uint64
	mask   uint64 // 2^alignBits - 1
	off    uint64 // alignOffset & mask
	lo, hi uint64 // window [lo, hi)
	k      int    // aggregate index bounding this alignment
	needK  uint64 // agg[k] below this: no block in the subtree fits
}

// init fills q in place (returning a query by value measured 15 ns: the
// field stores and the block copy defeat store forwarding). It is small
// enough to inline; aligned requests add their bound out of line.
func (q *query) init(size uint64, alignBits uint, alignOffset, lo, hi uint64) {
	q.size, q.lo, q.hi, q.needK, q.k = size, lo, hi, size, 0
	q.mask = uint64(1)<<alignBits - 1
	q.off = alignOffset & q.mask
	if alignBits >= shift1 {
		q.alignBound(alignBits, alignOffset)
	}
}

// alignBound sets the bound index and value for a request aligned to at
// least 2^shift1.
func (q *query) alignBound(alignBits uint, alignOffset uint64) {
	s := uint(shift1)
	q.k = 1
	if alignBits >= shift2 {
		s, q.k = shift2, 2
	}
	// A result r with the requested low bits has, modulo 2^s, the low s
	// bits o of the offset. If o == 0, r is 2^s-aligned, so the block's
	// usable run at 2^s is at least size. Otherwise r+(2^s-o) is
	// 2^s-aligned and at least size-(2^s-o) bytes follow it in the block.
	// Both are upper bounds, so pruning on them is safe; the first is the
	// exact test when alignBits is an indexed shift and there is no window.
	if o := alignOffset & (uint64(1)<<s - 1); o != 0 {
		gap := uint64(1)<<s - o
		q.needK = 0
		if q.size > gap {
			q.needK = q.size - gap
		}
	}
}

// may reports whether n's subtree might hold a fit.
func (q *query) may(n *node) bool {
	return n.agg[0] >= q.size && n.agg[q.k] >= q.needK
}

// fit returns the lowest address in n's block satisfying q: the first fit
// rule of the original, applied to one block.
func (q *query) fit(n *node) (uint64, bool) {
	a := max(n.start, q.lo)
	b := a + (q.off-a)&q.mask
	if b < a {
		return 0, false
	}
	e := min(n.end, q.hi)
	if b >= e || e-b < q.size {
		return 0, false
	}
	return b, true
}

// descend returns the lowest-addressed fit in x's subtree. Subtrees whose
// bounds rule out a fit, or whose addresses lie outside the window, are
// skipped. When the bounds are tight and the test is exact (no window, an
// indexed alignment, offset 0), a subtree that is entered holds a fit, so
// the walk is one path; a subtree entered in vain has its bounds repaired.
func (q *query) descend(x *node) (*node, uint64) {
	for x != nil {
		if !q.may(x) {
			return nil, 0
		}
		if x.start >= q.hi {
			x = x.left
			continue
		}
		if x.end <= q.lo {
			x = x.right
			continue
		}
		if x.left != nil {
			if n, a := q.descend(x.left); n != nil {
				return n, a
			}
		}
		if a, ok := q.fit(x); ok {
			return x, a
		}
		if x.right == nil || !q.may(x.right) {
			x.repair() // nothing here: tighten the bound that sent us in
			return nil, 0
		}
		x = x.right
	}
	return nil, 0
}

// first returns the lowest-addressed block that satisfies q and the address
// to allocate in it. The caller has tried the lowest block (the fast path
// that keeps early fits as cheap as a list's) when q.lo <= its start; first
// climbs the left spine from it, so a fit k blocks up costs O(log k).
func (t *tree) first(q *query) (*node, uint64) {
	r := t.root
	if r == nil || !q.may(r) {
		return nil, 0
	}
	n := t.head
	if q.lo > n.start {
		return q.descend(r)
	}
	if q.may(n) {
		if x, a := q.descend(n.right); x != nil {
			return x, a
		}
		n.repair()
	}
	for p := n.parent; p != nil; p = p.parent {
		if p.start >= q.hi {
			return nil, 0
		}
		if !q.may(p) {
			continue
		}
		if a, ok := q.fit(p); ok {
			return p, a
		}
		if x, a := q.descend(p.right); x != nil {
			return x, a
		}
		p.repair()
	}
	return nil, 0
}
