package lmm

import "math"

// nIdx is the number of per-subtree maxima a node keeps: index 0 is the
// plain block size, index i > 0 is the largest run that starts at a multiple
// of 2^idxShift(i) (see usable).
const nIdx = 5

// The indexed alignments. 12 is a page, 16 the ISA DMA boundary, 21 a 2 MiB
// large page, 30 a 1 GiB page. A request aligned to 2^b uses the largest
// indexed shift <= b as its bound, so every alignment is pruned somewhat and
// these four exactly.
const (
	shift1 = 12
	shift2 = 16
	shift3 = 21
	shift4 = 30
)

// idxFor returns the index whose alignment bounds a request aligned to
// 2^bits, and that alignment's shift.
func idxFor(bits uint) (int, uint) {
	switch {
	case bits >= shift4:
		return 4, shift4
	case bits >= shift3:
		return 3, shift3
	case bits >= shift2:
		return 2, shift2
	case bits >= shift1:
		return 1, shift1
	}
	return 0, 0
}

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
	// agg[i] is the maximum over the subtree of the block's size (i = 0) or
	// of usable at the i-th indexed alignment. Kept exact (Check verifies).
	agg [nIdx]uint64
}

func (n *node) self() [nIdx]uint64 {
	return [nIdx]uint64{
		n.end - n.start,
		usable(n.start, n.end, shift1),
		usable(n.start, n.end, shift2),
		usable(n.start, n.end, shift3),
		usable(n.start, n.end, shift4),
	}
}

// pull recomputes n.agg from n and its children and reports whether it
// changed; when it did not, no ancestor's aggregate changes either.
func (n *node) pull() bool {
	v := n.self()
	if l := n.left; l != nil {
		for i := range v {
			v[i] = max(v[i], l.agg[i])
		}
	}
	if r := n.right; r != nil {
		for i := range v {
			v[i] = max(v[i], r.agg[i])
		}
	}
	if v == n.agg {
		return false
	}
	n.agg = v
	return true
}

// tree holds the free blocks of one region.
type tree struct {
	root, head, tail *node
	count            int
}

// fix restores the aggregates from x up to the root after x's block or
// children changed, stopping at the first node whose aggregate is unchanged.
func (t *tree) fix(x *node) {
	for x != nil && x.pull() {
		x = x.parent
	}
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

// rotateUp lifts x above its parent. The subtree keeps its set of blocks, so
// the aggregates above it stay valid.
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
	p.pull()
	x.pull()
}

// insertAfter links n ([start, end) and prio set) as the in-order successor
// of pred, or as the lowest block when pred is nil. The caller guarantees the
// order. It attaches n where the successor relation puts it (no search from
// the root) and rotates it up by priority: expected O(1) rotations and an
// aggregate walk that stops early.
func (t *tree) insertAfter(pred, n *node) {
	n.left, n.right, n.parent = nil, nil, nil
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
	n.agg = n.self()
	for n.parent != nil && n.parent.prio < n.prio {
		t.rotateUp(n)
	}
	t.fix(n.parent)
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
	t.fix(p)
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

func newQuery(size uint64, alignBits uint, alignOffset, lo, hi uint64) query {
	q := query{size: size, lo: lo, hi: hi}
	q.mask = uint64(1)<<alignBits - 1
	q.off = alignOffset & q.mask
	q.needK = size
	k, s := idxFor(alignBits)
	q.k = k
	if k > 0 {
		// A result r with the requested low bits has, modulo 2^s, the low s
		// bits o of the offset. If o == 0, r is 2^s-aligned, so the block's
		// usable run at 2^s is at least size. Otherwise r+(2^s-o) is
		// 2^s-aligned and at least size-(2^s-o) bytes follow it in the
		// block. Both are upper bounds, so pruning on them is safe; the
		// first is exact when alignBits is an indexed shift and there is no
		// window.
		if o := alignOffset & (uint64(1)<<s - 1); o != 0 {
			gap := uint64(1)<<s - o
			if size > gap {
				q.needK = size - gap
			} else {
				q.needK = 0
			}
		}
	}
	return q
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
// aggregates rule out a fit, or whose addresses lie outside the window, are
// skipped; with exact bounds (no window, indexed alignment, offset 0) a
// subtree that is entered always holds a fit, so the walk is one path.
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
		x = x.right
	}
	return nil, 0
}

// first returns the lowest-addressed block that satisfies q and the address
// to allocate in it. It tries the lowest block first (the fast path that
// keeps early fits as cheap as a list's), then climbs the left spine, so a
// fit k blocks from the bottom costs O(log k).
func (t *tree) first(q *query) (*node, uint64) {
	r := t.root
	if r == nil || !q.may(r) {
		return nil, 0
	}
	n := t.head
	if q.lo > n.start {
		return q.descend(r)
	}
	if a, ok := q.fit(n); ok {
		return n, a
	}
	if x, a := q.descend(n.right); x != nil {
		return x, a
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
	}
	return nil, 0
}
