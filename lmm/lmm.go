package lmm

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// Flags are attributes of a region. An allocation asking for flags f may use
// a region with flags r only if it has every requested flag: f&^r == 0.
type Flags uint32

// The PC flags of the original's phys_lmm.
const (
	Below1MB  Flags = 1 << 0 // the region lies below 1 MiB (real-mode reachable)
	Below16MB Flags = 1 << 1 // the region lies below 16 MiB (ISA DMA reachable)
)

// The PC priorities of the original: allocation prefers high memory and
// leaves the scarce low regions for requests that need them.
const (
	Pri1MB  = -2
	Pri16MB = -1
	PriHigh = 0
)

// PageShift and PageSize describe the page AllocPage and FreePage use.
const (
	PageShift = 12
	PageSize  = 1 << PageShift
)

// Errors, comparable with errors.Is; the returned errors wrap them with
// the offending range.
var (
	ErrInvalid     = errors.New("lmm: invalid argument")              // zero size, alignBits >= 64
	ErrOverflow    = errors.New("lmm: range wraps the address space") // addr+size > 2^64-1
	ErrOverlap     = errors.New("lmm: region overlaps a region")
	ErrNotInRegion = errors.New("lmm: range not inside regions")
	ErrDoubleFree  = errors.New("lmm: range overlaps free memory")
	ErrNoMemory    = errors.New("lmm: no free block fits")
)

// Region describes a region: the addresses [Min, Max), its flags and its
// priority.
type Region struct {
	Min, Max uint64
	Flags    Flags
	Pri      int
}

// Block is a free block, as FindFree returns it.
type Block struct {
	Addr, Size uint64
	Flags      Flags // of the region holding the block
}

// Stats summarises a manager.
type Stats struct {
	Regions     int    // number of regions
	RegionBytes uint64 // total size of the regions
	FreeBytes   uint64 // bytes free
	FreeBlocks  int    // maximal free runs (per region: runs never merge across regions)
}

// Allocator is the allocation interface shared by *LMM and *Locked, for code
// that takes either (an arena, malloc).
type Allocator interface {
	AllocGen(size uint64, flags Flags, alignBits uint, alignOffset, min, windowSize uint64) (uint64, error)
	Alloc(size uint64, flags Flags) (uint64, error)
	AllocAligned(size uint64, flags Flags, alignBits uint, alignOffset uint64) (uint64, error)
	Free(addr, size uint64) error
	Avail(flags Flags) uint64
}

var (
	_ Allocator = (*LMM)(nil)
	_ Allocator = (*Locked)(nil)
)

type region struct {
	Region
	free uint64
	t    tree
}

// LMM is a memory manager over an address space. The zero value is an empty
// manager, ready to use. It is not safe for concurrent use; see Locked.
type LMM struct {
	byPri  []*region // allocation order: Pri desc, size desc, Min asc
	byAddr []*region // by Min
	seq    uint64    // treap priority generator state
	spare  *node     // recycled nodes, linked through next
	hint   *region   // the region of the last allocation: frees usually go there
}

// New returns an empty manager.
func New() *LMM { return &LMM{} }

// NewPC returns a manager with the PC regions of the original's phys_lmm:
// [0, 1 MiB) with Below1MB|Below16MB at Pri1MB, [1 MiB, 16 MiB) with
// Below16MB at Pri16MB, and [16 MiB, 2^64-1) with no flags at PriHigh. The
// regions hold no free memory yet: add the machine's memory map with AddFree.
func NewPC() *LMM {
	m := New()
	// The regions are disjoint and valid, so these cannot fail.
	_ = m.AddRegion(0, 1<<20, Below1MB|Below16MB, Pri1MB)
	_ = m.AddRegion(1<<20, 15<<20, Below16MB, Pri16MB)
	_ = m.AddRegion(16<<20, math.MaxUint64-16<<20, 0, PriHigh)
	return m
}

func (m *LMM) newNode(start, end uint64) *node {
	n := m.spare
	if n != nil {
		m.spare = n.next
		// insertAfter sets the links and bounds; clear the rest.
		n.left, n.right, n.parent = nil, nil, nil
	} else {
		n = new(node)
	}
	n.start, n.end = start, end
	// splitmix64 of a counter: cheap, well mixed treap priorities that are
	// the same in every run (results never depend on them, only speed).
	m.seq += 0x9e3779b97f4a7c15
	z := m.seq
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	n.prio = z ^ z>>31
	return n
}

func (m *LMM) dropNode(t *tree, n *node) {
	t.remove(n)
	n.next = m.spare // newNode clears the rest
	m.spare = n
}

func (m *LMM) insert(r *region, pred *node, start, end uint64) {
	r.t.insertAfter(pred, m.newNode(start, end))
}

// rangeEnd validates [addr, addr+size) and returns its end. Small enough
// to inline: the error is built out of line.
func rangeEnd(addr, size uint64) (uint64, error) {
	if size == 0 || size > math.MaxUint64-addr {
		return 0, badRange(addr, size)
	}
	return addr + size, nil
}

func badRange(addr, size uint64) error {
	if size == 0 {
		return fmt.Errorf("%w: zero size at %#x", ErrInvalid, addr)
	}
	return fmt.Errorf("%w: %#x+%#x", ErrOverflow, addr, size)
}

// AddRegion adds the region [min, min+size) with flags and priority pri.
// It holds no free memory until AddFree or Free puts some there. Regions
// must not overlap one another; the last address, 2^64-1, cannot be in one.
func (m *LMM) AddRegion(min, size uint64, flags Flags, pri int) error {
	end, err := rangeEnd(min, size)
	if err != nil {
		return err
	}
	i := m.regionAfter(min)
	if i < len(m.byAddr) && m.byAddr[i].Min < end {
		o := m.byAddr[i]
		return fmt.Errorf("%w: [%#x,%#x) and [%#x,%#x)", ErrOverlap, min, end, o.Min, o.Max)
	}
	r := &region{Region: Region{Min: min, Max: end, Flags: flags, Pri: pri}}
	m.byAddr = append(m.byAddr, nil)
	copy(m.byAddr[i+1:], m.byAddr[i:])
	m.byAddr[i] = r
	j := 0
	for j < len(m.byPri) && before(m.byPri[j], r) {
		j++
	}
	m.byPri = append(m.byPri, nil)
	copy(m.byPri[j+1:], m.byPri[j:])
	m.byPri[j] = r
	return nil
}

// before orders regions for allocation as the original does: higher
// priority first, then larger; equal ones by address, so the order is total.
func before(a, b *region) bool {
	if a.Pri != b.Pri {
		return a.Pri > b.Pri
	}
	if sa, sb := a.Max-a.Min, b.Max-b.Min; sa != sb {
		return sa > sb
	}
	return a.Min < b.Min
}

// regionAfter returns the index in byAddr of the first region ending above
// addr (the one holding addr, if any).
func (m *LMM) regionAfter(addr uint64) int {
	lo, hi := 0, len(m.byAddr)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if m.byAddr[h].Max <= addr {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// AddFree makes the parts of [addr, addr+size) that lie inside regions free,
// merging them with adjacent free memory. Parts outside every region are
// ignored and parts already free stay free, as in the original's
// lmm_add_free: it describes memory, it does not return an allocation (use
// Free for that).
func (m *LMM) AddFree(addr, size uint64) error {
	end, err := rangeEnd(addr, size)
	if err != nil {
		return err
	}
	for i := m.regionAfter(addr); i < len(m.byAddr) && m.byAddr[i].Min < end; i++ {
		r := m.byAddr[i]
		m.addRange(r, max(addr, r.Min), min(end, r.Max))
	}
	return nil
}

// addRange makes [a, b) free in r, absorbing the blocks it overlaps or
// touches.
func (m *LMM) addRange(r *region, a, b uint64) {
	p := r.t.lastAtMost(b)
	s, e := a, b
	for p != nil && p.end >= a {
		s, e = min(s, p.start), max(e, p.end)
		r.free -= p.end - p.start
		prev := p.prev
		m.dropNode(&r.t, p)
		p = prev
	}
	m.insert(r, p, s, e)
	r.free += e - s
}

// RemoveFree allocates away whatever is free in [addr, addr+size), as the
// original's lmm_remove_free: parts not free, or outside regions, are left
// as they are. Use it to reserve memory the kernel already occupies.
func (m *LMM) RemoveFree(addr, size uint64) error {
	end, err := rangeEnd(addr, size)
	if err != nil {
		return err
	}
	for i := m.regionAfter(addr); i < len(m.byAddr) && m.byAddr[i].Min < end; i++ {
		r := m.byAddr[i]
		m.removeRange(r, max(addr, r.Min), min(end, r.Max))
	}
	return nil
}

func (m *LMM) removeRange(r *region, a, b uint64) {
	n := r.t.lastBelow(b)
	for n != nil && n.end > a {
		prev := n.prev
		s, e := n.start, n.end
		switch {
		case s < a && e > b:
			n.end = a
			m.insert(r, n, b, e)
			r.free -= b - a
		case s < a:
			n.end = a
			r.free -= e - a
		case e > b:
			n.start = b
			r.free -= b - s
		default:
			m.dropNode(&r.t, n)
			r.free -= e - s
		}
		n = prev
	}
}

// Alloc allocates size bytes from a region that has flags, at the lowest
// address of the first region (in priority order) where it fits.
func (m *LMM) Alloc(size uint64, flags Flags) (uint64, error) {
	return m.AllocGen(size, flags, 0, 0, 0, math.MaxUint64)
}

// AllocAligned is Alloc with the low alignBits bits of the result equal to
// those of alignOffset.
func (m *LMM) AllocAligned(size uint64, flags Flags, alignBits uint, alignOffset uint64) (uint64, error) {
	return m.AllocGen(size, flags, alignBits, alignOffset, 0, math.MaxUint64)
}

// AllocPage allocates one PageSize-aligned page.
func (m *LMM) AllocPage(flags Flags) (uint64, error) {
	return m.AllocGen(PageSize, flags, PageShift, 0, 0, math.MaxUint64)
}

// AllocGen allocates size bytes at an address r such that the low alignBits
// bits of r equal those of alignOffset, r >= min and r+size <= min+windowSize
// (a window running past the top of the address space ends there; a window
// equal to size asks for exactly r == min). Regions are tried in priority
// order, and the first fit by address is taken within a region, as in the
// original's lmm_alloc_gen, so results are predictable. The cost is
// amortized O(log n) in the free blocks for plain, aligned and windowed
// requests; see the package doc for the exceptions. It returns ErrNoMemory when nothing
// fits and ErrInvalid for a zero size or alignBits >= 64.
func (m *LMM) AllocGen(size uint64, flags Flags, alignBits uint, alignOffset, min, windowSize uint64) (uint64, error) {
	if size == 0 || alignBits >= 64 {
		return 0, fmt.Errorf("%w: size %#x, alignBits %d", ErrInvalid, size, alignBits)
	}
	if windowSize < size {
		return 0, ErrNoMemory
	}
	hi := min + windowSize
	if hi < min {
		hi = math.MaxUint64
	}
	var q query
	q.init(size, alignBits, alignOffset, min, hi)
	for _, r := range m.byPri {
		if flags&^r.Flags != 0 || r.free < size || r.Max <= min || r.Min >= hi {
			continue
		}
		// Fast path: the lowest block, which first fit tries first.
		if h := r.t.head; h != nil && min <= h.start {
			if a, ok := q.fit(h); ok {
				if a == h.start && a+size < h.end {
					h.start += size // shrinking leaves the bounds above valid
					r.free -= size
				} else {
					m.carve(r, h, a, size)
				}
				m.hint = r
				return a, nil
			}
		}
		if n, a := r.t.first(&q); n != nil {
			m.carve(r, n, a, size)
			m.hint = r
			return a, nil
		}
	}
	return 0, ErrNoMemory
}

// carve allocates [a, a+size) out of n's block.
func (m *LMM) carve(r *region, n *node, a, size uint64) {
	r.free -= size
	s, e, ae := n.start, n.end, a+size
	switch {
	case a == s && ae == e:
		m.dropNode(&r.t, n)
	case a == s: // shrinking leaves the bounds above valid
		n.start = ae
	case ae == e:
		n.end = a
	default:
		n.end = a
		m.insert(r, n, ae, e)
	}
}

// Free returns [addr, addr+size) to the free memory. The range must lie
// inside regions (adjacent regions may share it) and must not overlap free
// memory: a double free or a stray free is reported, never merged, and
// leaves the manager unchanged.
func (m *LMM) Free(addr, size uint64) error {
	end, err := rangeEnd(addr, size)
	if err != nil {
		return err
	}
	// Fast path: the range lies in one region, most often the last one
	// allocated from.
	r := m.hint
	if r == nil || addr < r.Min || end > r.Max {
		if i := m.regionAfter(addr); i < len(m.byAddr) {
			r = m.byAddr[i]
		}
	}
	if r != nil && r.Min <= addr && end <= r.Max {
		// Fastest path, the mirror of allocation's: the range ends where
		// the lowest block starts and the block grows back within its
		// bounds (as it does when it was just shrunk by an allocation).
		if h := r.t.head; h != nil && h.start == end {
			h.start = addr
			r.free += size
			if h.end-addr > h.own[0] || usable(addr, h.end, shift1) > h.own[1] || usable(addr, h.end, shift2) > h.own[2] {
				grew(h)
			}
			return nil
		}
		p := r.t.lastBelow(end)
		if p != nil && p.end > addr {
			return fmt.Errorf("%w: [%#x,%#x)", ErrDoubleFree, addr, end)
		}
		m.freeRange(r, p, addr, end)
		return nil
	}
	i := m.regionAfter(addr)
	// Validate every region's part before changing any: coverage first,
	// then overlap with free memory.
	cur := addr
	for j := i; cur < end; j++ {
		if j >= len(m.byAddr) || m.byAddr[j].Min > cur {
			return fmt.Errorf("%w: [%#x,%#x)", ErrNotInRegion, addr, end)
		}
		cur = min(end, m.byAddr[j].Max)
	}
	for j := i; j < len(m.byAddr) && m.byAddr[j].Min < end; j++ {
		r := m.byAddr[j]
		if p := r.t.lastBelow(min(end, r.Max)); p != nil && p.end > max(addr, r.Min) {
			return fmt.Errorf("%w: [%#x,%#x)", ErrDoubleFree, addr, end)
		}
	}
	for j := i; j < len(m.byAddr) && m.byAddr[j].Min < end; j++ {
		r := m.byAddr[j]
		a, b := max(addr, r.Min), min(end, r.Max)
		m.freeRange(r, r.t.lastBelow(b), a, b)
	}
	return nil
}

// FreePage frees one page allocated by AllocPage.
func (m *LMM) FreePage(addr uint64) error { return m.Free(addr, PageSize) }

// freeRange frees [a, b) in r, where p is the highest block below b and
// ends at or below a.
func (m *LMM) freeRange(r *region, p *node, a, b uint64) {
	r.free += b - a
	s := r.t.head
	if p != nil {
		s = p.next
	}
	joinL := p != nil && p.end == a
	joinR := s != nil && s.start == b
	switch {
	case joinL && joinR:
		// Either node can hold the merged block; drop the one with at
		// most one child, which unlinks without rotations. One of two
		// neighbours always qualifies: if p has a right child, s is the
		// leftmost node under it and has no left child.
		if p.left == nil || p.right == nil {
			s.start = p.start
			m.dropNode(&r.t, p)
			grew(s)
		} else {
			e := s.end
			m.dropNode(&r.t, s)
			p.end = e
			grew(p)
		}
	case joinL:
		p.end = b
		grew(p)
	case joinR:
		s.start = a
		grew(s)
	default:
		m.insert(r, p, a, b)
	}
}

// Avail returns the free bytes in regions that have flags.
func (m *LMM) Avail(flags Flags) uint64 {
	var n uint64
	for _, r := range m.byPri {
		if flags&^r.Flags == 0 {
			n += r.free
		}
	}
	return n
}

// FindFree returns the lowest free memory at or above addr: the free block
// holding addr, from addr on, or else the next free block. It reports false
// when there is none.
func (m *LMM) FindFree(addr uint64) (Block, bool) {
	for i := m.regionAfter(addr); i < len(m.byAddr); i++ {
		r := m.byAddr[i]
		n := r.t.lastAtMost(addr)
		if n == nil {
			n = r.t.head
		} else if n.end <= addr {
			n = n.next
		}
		if n != nil {
			s := max(n.start, addr)
			return Block{Addr: s, Size: n.end - s, Flags: r.Flags}, true
		}
	}
	return Block{}, false
}

// Regions returns the regions in allocation order.
func (m *LMM) Regions() []Region {
	rs := make([]Region, len(m.byPri))
	for i, r := range m.byPri {
		rs[i] = r.Region
	}
	return rs
}

// Stats returns a summary of the manager.
func (m *LMM) Stats() Stats {
	s := Stats{Regions: len(m.byAddr)}
	for _, r := range m.byAddr {
		s.RegionBytes += r.Max - r.Min
		s.FreeBytes += r.free
		s.FreeBlocks += r.t.count
	}
	return s
}

// Dump writes the regions and their free blocks to w, by address.
func (m *LMM) Dump(w io.Writer) error {
	for _, r := range m.byAddr {
		if _, err := fmt.Fprintf(w, "region [%#x,%#x) flags %#x pri %d: %d bytes free in %d blocks\n",
			r.Min, r.Max, r.Flags, r.Pri, r.free, r.t.count); err != nil {
			return err
		}
		for n := r.t.head; n != nil; n = n.next {
			if _, err := fmt.Fprintf(w, "\tfree [%#x,%#x) %d\n", n.start, n.end, n.end-n.start); err != nil {
				return err
			}
		}
	}
	return nil
}
