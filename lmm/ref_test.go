package lmm

import (
	"math"
)

// refLMM is the reference model: the original's algorithm, a singly linked
// list of free blocks per region sorted by address, first fit, O(n) for
// everything. It shares only the exported types and errors with the
// package, so agreement is evidence, not tautology.
type refLMM struct {
	regs []*refRegion // allocation order
}

type refRegion struct {
	Region
	free uint64
	head *refNode
}

type refNode struct {
	start, end uint64
	next       *refNode
}

func refEnd(addr, size uint64) (uint64, error) {
	if size == 0 {
		return 0, ErrInvalid
	}
	if size > math.MaxUint64-addr {
		return 0, ErrOverflow
	}
	return addr + size, nil
}

func (m *refLMM) AddRegion(min, size uint64, flags Flags, pri int) error {
	end, err := refEnd(min, size)
	if err != nil {
		return err
	}
	for _, r := range m.regs {
		if r.Min < end && min < r.Max {
			return ErrOverlap
		}
	}
	r := &refRegion{Region: Region{Min: min, Max: end, Flags: flags, Pri: pri}}
	i := 0
	for i < len(m.regs) {
		o := m.regs[i]
		if o.Pri > pri || o.Pri == pri && (o.Max-o.Min > size || o.Max-o.Min == size && o.Min < min) {
			i++
			continue
		}
		break
	}
	m.regs = append(m.regs, nil)
	copy(m.regs[i+1:], m.regs[i:])
	m.regs[i] = r
	return nil
}

// each calls f with every region's part of [a, b).
func (m *refLMM) each(a, b uint64, f func(r *refRegion, a, b uint64)) {
	for _, r := range m.regs {
		if r.Min < b && a < r.Max {
			f(r, max(a, r.Min), min(b, r.Max))
		}
	}
}

func (m *refLMM) AddFree(addr, size uint64) error {
	end, err := refEnd(addr, size)
	if err != nil {
		return err
	}
	m.each(addr, end, func(r *refRegion, a, b uint64) {
		// Absorb every block overlapping or touching [a, b), then insert.
		pp := &r.head
		for *pp != nil {
			n := *pp
			if n.end >= a && n.start <= b {
				a, b = min(a, n.start), max(b, n.end)
				r.free -= n.end - n.start
				*pp = n.next
				continue
			}
			pp = &n.next
		}
		r.insert(a, b)
	})
	return nil
}

// insert puts [a, b), which touches no block, in order.
func (r *refRegion) insert(a, b uint64) {
	pp := &r.head
	for *pp != nil && (*pp).start < a {
		pp = &(*pp).next
	}
	*pp = &refNode{start: a, end: b, next: *pp}
	r.free += b - a
}

func (m *refLMM) RemoveFree(addr, size uint64) error {
	end, err := refEnd(addr, size)
	if err != nil {
		return err
	}
	m.each(addr, end, func(r *refRegion, a, b uint64) {
		pp := &r.head
		for *pp != nil {
			n := *pp
			if n.end <= a || n.start >= b {
				pp = &n.next
				continue
			}
			lo, hi := max(a, n.start), min(b, n.end)
			r.free -= hi - lo
			switch {
			case n.start < a && n.end > b:
				n.next = &refNode{start: b, end: n.end, next: n.next}
				n.end = a
				pp = &n.next.next
			case n.start < a:
				n.end = a
				pp = &n.next
			case n.end > b:
				n.start = b
				pp = &n.next
			default:
				*pp = n.next
			}
		}
	})
	return nil
}

func (m *refLMM) AllocGen(size uint64, flags Flags, alignBits uint, alignOffset, lo, windowSize uint64) (uint64, error) {
	if size == 0 || alignBits >= 64 {
		return 0, ErrInvalid
	}
	if windowSize < size {
		return 0, ErrNoMemory
	}
	hi := lo + windowSize
	if hi < lo {
		hi = math.MaxUint64
	}
	mask := uint64(1)<<alignBits - 1
	for _, r := range m.regs {
		if flags&^r.Flags != 0 {
			continue
		}
		for pp := &r.head; *pp != nil; pp = &(*pp).next {
			n := *pp
			a := max(n.start, lo)
			b := a + (alignOffset-a)&mask
			if b < a {
				continue
			}
			e := min(n.end, hi)
			if b >= e || e-b < size {
				continue
			}
			r.free -= size
			switch {
			case b == n.start && b+size == n.end:
				*pp = n.next
			case b == n.start:
				n.start += size
			case b+size == n.end:
				n.end = b
			default:
				n.next = &refNode{start: b + size, end: n.end, next: n.next}
				n.end = b
			}
			return b, nil
		}
	}
	return 0, ErrNoMemory
}

func (m *refLMM) Alloc(size uint64, flags Flags) (uint64, error) {
	return m.AllocGen(size, flags, 0, 0, 0, math.MaxUint64)
}

func (m *refLMM) AllocAligned(size uint64, flags Flags, alignBits uint, alignOffset uint64) (uint64, error) {
	return m.AllocGen(size, flags, alignBits, alignOffset, 0, math.MaxUint64)
}

func (m *refLMM) AllocPage(flags Flags) (uint64, error) {
	return m.AllocGen(PageSize, flags, PageShift, 0, 0, math.MaxUint64)
}

func (m *refLMM) Free(addr, size uint64) error {
	end, err := refEnd(addr, size)
	if err != nil {
		return err
	}
	// Covered by regions, without gaps?
	covered := uint64(0)
	m.each(addr, end, func(r *refRegion, a, b uint64) { covered += b - a })
	if covered != size {
		return ErrNotInRegion
	}
	overlap := false
	m.each(addr, end, func(r *refRegion, a, b uint64) {
		for n := r.head; n != nil && n.start < b; n = n.next {
			if a < n.end {
				overlap = true
			}
		}
	})
	if overlap {
		return ErrDoubleFree
	}
	m.each(addr, end, func(r *refRegion, a, b uint64) {
		// Walk to the blocks before and after, merging as the original's
		// lmm_free does.
		var prev *refNode
		n := r.head
		for n != nil && n.start < a {
			prev, n = n, n.next
		}
		r.free += b - a
		switch {
		case prev != nil && prev.end == a && n != nil && n.start == b:
			prev.end = n.end
			prev.next = n.next
		case prev != nil && prev.end == a:
			prev.end = b
		case n != nil && n.start == b:
			n.start = a
		case prev != nil:
			prev.next = &refNode{start: a, end: b, next: n}
		default:
			r.head = &refNode{start: a, end: b, next: n}
		}
	})
	return nil
}

func (m *refLMM) Avail(flags Flags) uint64 {
	var n uint64
	for _, r := range m.regs {
		if flags&^r.Flags == 0 {
			n += r.free
		}
	}
	return n
}

func (m *refLMM) FindFree(addr uint64) (Block, bool) {
	best, found := Block{}, false
	for _, r := range m.regs {
		for n := r.head; n != nil; n = n.next {
			if n.end <= addr {
				continue
			}
			s := max(n.start, addr)
			if !found || s < best.Addr {
				best, found = Block{Addr: s, Size: n.end - s, Flags: r.Flags}, true
			}
			break
		}
	}
	return best, found
}

func (m *refLMM) Stats() Stats {
	s := Stats{Regions: len(m.regs)}
	for _, r := range m.regs {
		s.RegionBytes += r.Max - r.Min
		s.FreeBytes += r.free
		for n := r.head; n != nil; n = n.next {
			s.FreeBlocks++
		}
	}
	return s
}
