package boot

import (
	"fmt"
	"math"
	"slices"
)

// MemoryType says what a range of physical memory may be used for. The values
// are those of the PC's E820 map, which Multiboot v2 memory maps and PVH's
// memory map table use too, so a bare-metal parser converts an entry's type
// with MemoryType(t). Values goskit does not name are treated as Reserved.
type MemoryType uint32

// The memory types of the E820 map.
const (
	// Usable is RAM the kernel may allocate (E820 type 1).
	Usable MemoryType = 1
	// Reserved is memory the kernel must not touch: firmware, devices,
	// holes (E820 type 2).
	Reserved MemoryType = 2
	// ACPIReclaimable holds ACPI tables; usable once they are read
	// (E820 type 3).
	ACPIReclaimable MemoryType = 3
	// ACPINVS is ACPI non-volatile storage, preserved across sleep
	// (E820 type 4).
	ACPINVS MemoryType = 4
	// Bad is memory found defective (E820 type 5).
	Bad MemoryType = 5
	// Persistent is persistent (non-volatile) memory (E820 type 7).
	Persistent MemoryType = 7
)

// String returns a short lower-case name of t.
func (t MemoryType) String() string {
	switch t {
	case Usable:
		return "usable"
	case Reserved:
		return "reserved"
	case ACPIReclaimable:
		return "ACPI reclaimable"
	case ACPINVS:
		return "ACPI NVS"
	case Bad:
		return "bad"
	case Persistent:
		return "persistent"
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// restriction orders types by how little of a range the kernel may use, so
// that where ranges overlap the more restrictive type wins: usable memory
// inside a reserved range is reserved. Among types of equal restriction the
// larger value wins, so that the result does not depend on input order.
func (t MemoryType) restriction() int {
	switch t {
	case Usable:
		return 0
	case ACPIReclaimable:
		return 1
	case ACPINVS:
		return 2
	case Bad:
		return 4
	}
	return 3 // Reserved, Persistent and every unnamed type
}

func (t MemoryType) winsOver(u MemoryType) bool {
	if rt, ru := t.restriction(), u.restriction(); rt != ru {
		return rt > ru
	}
	return t > u
}

// MemoryRange is a range of physical addresses, [Start, Start+Size).
type MemoryRange struct {
	Start uint64
	Size  uint64
	Type  MemoryType
}

// End returns the first address after r. A range that runs past the top of
// the 64-bit address space ends at math.MaxUint64 (its last byte is dropped
// rather than wrapping around to zero).
func (r MemoryRange) End() uint64 {
	if r.Size > math.MaxUint64-r.Start {
		return math.MaxUint64
	}
	return r.Start + r.Size
}

// String formats r as "[0x100000-0x4000000) usable".
func (r MemoryRange) String() string {
	return fmt.Sprintf("[%#x-%#x) %v", r.Start, r.End(), r.Type)
}

// MemoryMap describes a machine's physical memory as a list of ranges. A map
// from firmware may be unsorted and overlapping; Normalize makes it the
// canonical form the rest of the kit expects.
type MemoryMap []MemoryRange

// Normalize returns the canonical form of m: sorted by address,
// non-overlapping, with no empty ranges and adjacent ranges of one type
// merged. Where ranges overlap, the overlap takes the more restrictive type
// (Usable < ACPIReclaimable < ACPINVS < Reserved and unnamed types < Bad),
// as Linux sanitizes an E820 map. This is also how a kernel carves its image,
// command line and boot modules out of usable memory: append Reserved ranges
// for them and normalize.
//
// m is not modified. The work is quadratic in len(m): firmware maps have tens
// of entries, and parsers of untrusted maps bound their length.
func (m MemoryMap) Normalize() MemoryMap {
	bounds := make([]uint64, 0, 2*len(m))
	for _, r := range m {
		if r.End() > r.Start {
			bounds = append(bounds, r.Start, r.End())
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)

	var out MemoryMap
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		var typ MemoryType
		covered := false
		for _, r := range m {
			if r.Start <= lo && hi <= r.End() && r.End() > r.Start {
				if !covered || r.Type.winsOver(typ) {
					typ = r.Type
				}
				covered = true
			}
		}
		if !covered {
			continue // a hole between ranges
		}
		if n := len(out); n > 0 && out[n-1].Type == typ && out[n-1].End() == lo {
			out[n-1].Size += hi - lo
			continue
		}
		out = append(out, MemoryRange{Start: lo, Size: hi - lo, Type: typ})
	}
	return out
}

// Total returns the number of bytes of type t in m, which should be
// normalized (overlaps are counted twice otherwise).
func (m MemoryMap) Total(t MemoryType) uint64 {
	var n uint64
	for _, r := range m {
		if r.Type == t {
			n += r.End() - r.Start
		}
	}
	return n
}

// Only returns the ranges of m of type t, in order: Only(Usable) is what a
// kernel hands its physical memory allocator.
func (m MemoryMap) Only(t MemoryType) MemoryMap {
	var out MemoryMap
	for _, r := range m {
		if r.Type == t {
			out = append(out, r)
		}
	}
	return out
}

// PC memory layout: conventional memory below 640 KiB at most, then the
// legacy hole (video memory, option and BIOS ROMs) up to 1 MiB, then
// extended memory.
const pcExtendedStart = 1 << 20

// PCMemoryMap builds the memory map of a PC from the two sizes a Multiboot v1
// boot loader reports when it has no full map (mem_lower and mem_upper):
// lowerKiB KiB of conventional memory from address 0, the legacy hole up to
// 1 MiB reserved, and upperKiB KiB of extended memory from 1 MiB. A
// conventional size past the hole is cut at the hole. The OSKit initialised
// its physical memory this way.
func PCMemoryMap(lowerKiB, upperKiB uint32) MemoryMap {
	lower := min(uint64(lowerKiB)*1024, pcExtendedStart)
	m := MemoryMap{
		{Start: 0, Size: lower, Type: Usable},
		{Start: lower, Size: pcExtendedStart - lower, Type: Reserved},
		{Start: pcExtendedStart, Size: uint64(upperKiB) * 1024, Type: Usable},
	}
	return m.Normalize()
}
