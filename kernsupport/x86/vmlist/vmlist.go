// Package vmlist provides the mapping list of the bare-metal kernel's
// virtual-memory manager: the address ranges mmap has handed out, each
// with its protection, kept disjoint as ranges are mapped over, unmapped
// and reprotected.
//
// # Execution environment
//
// A List is plain data in a fixed array (no pointers, no allocation), so
// the kernel keeps one in a global and uses it from trap handlers with
// interrupts masked: every method is //go:nosplit and allocates nothing.
// A List is not safe for concurrent use; the kernel's single CPU with
// interrupts off is its lock.
package vmlist

// MaxMappings is how many disjoint mappings a List holds.
const MaxMappings = 512

// Mapping is a mapped range [Start, End) with its PROT_* bits (0: reserved,
// no access).
type Mapping struct {
	Start, End, Prot uint64
}

// List is a set of disjoint mappings. The zero List is empty.
type List struct {
	m [MaxMappings]Mapping
	n int
}

// Len is the number of mappings.
//
//go:nosplit
func (l *List) Len() int { return l.n }

// At is the i'th mapping, in no particular order, 0 <= i < Len().
//
//go:nosplit
func (l *List) At(i int) Mapping { return l.m[uint(i)%MaxMappings] }

// Reset empties the list.
//
//go:nosplit
func (l *List) Reset() { l.n = 0 }

// Find returns the mapping containing va.
//
//go:nosplit
func (l *List) Find(va uint64) (Mapping, bool) {
	for i := 0; i < l.n && i < MaxMappings; i++ {
		if v := &l.m[uint(i)%MaxMappings]; v.Start <= va && va < v.End {
			return *v, true
		}
	}
	return Mapping{}, false
}

// Overlaps reports whether any mapping overlaps [start, end).
//
//go:nosplit
func (l *List) Overlaps(start, end uint64) bool {
	for i := 0; i < l.n && i < MaxMappings; i++ {
		if v := &l.m[uint(i)%MaxMappings]; v.Start < end && start < v.End {
			return true
		}
	}
	return false
}

// Remove cuts [start, end) out of the list, shortening or splitting the
// mappings it overlaps. It reports false, having changed nothing it
// cannot finish, when a split needs a slot and the list is full.
//
//go:nosplit
func (l *List) Remove(start, end uint64) bool {
	for i := 0; i < l.n && i < MaxMappings; i++ {
		p := &l.m[uint(i)%MaxMappings]
		v := *p
		if v.End <= start || end <= v.Start {
			continue
		}
		switch {
		case start <= v.Start && v.End <= end:
			*p = l.m[uint(l.n-1)%MaxMappings]
			l.n--
			i--
		case v.Start < start && end < v.End:
			if l.n >= MaxMappings {
				return false
			}
			p.End = start
			l.m[uint(l.n)%MaxMappings] = Mapping{end, v.End, v.Prot}
			l.n++
		case v.Start < start:
			p.End = start
		default:
			p.Start = end
		}
	}
	return true
}

// Add records [start, end) with prot, which must not overlap a mapping
// (Remove first), merging it with an adjacent mapping of the same
// protection. It reports false when the list is full.
//
//go:nosplit
func (l *List) Add(start, end, prot uint64) bool {
	for i := 0; i < l.n && i < MaxMappings; i++ {
		v := &l.m[uint(i)%MaxMappings]
		if v.Prot == prot && v.End == start {
			v.End = end
			return true
		}
		if v.Prot == prot && v.Start == end {
			v.Start = start
			return true
		}
	}
	if l.n >= MaxMappings {
		return false
	}
	l.m[uint(l.n)%MaxMappings] = Mapping{start, end, prot}
	l.n++
	return true
}
