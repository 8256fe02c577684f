package boot

import "io"

// Multiboot v1 constants.
const (
	// MultibootMagic is the value a Multiboot v1 boot loader leaves in EAX.
	MultibootMagic = 0x2badb002
	// MultibootHeaderMagic starts the Multiboot v1 header in a kernel image.
	MultibootHeaderMagic = 0x1badb002
)

// Multiboot v1 info flags (which fields of the info block are valid).
const (
	mbFlagMem     = 1 << 0
	mbFlagCmdline = 1 << 2
	mbFlagMods    = 1 << 3
	mbFlagMmap    = 1 << 6
)

const (
	mbInfoSize     = 52 // through mmap_addr
	mbModEntrySize = 16 // mod_start, mod_end, string, reserved
)

// ParseMultiboot parses the Multiboot v1 information block at physical
// address addr of mem, an image of physical memory. The memory map comes
// from the full map (flag 6) when present, else from mem_lower/mem_upper
// (flag 0) by PCMemoryMap; the command line from flag 2; the modules from
// flag 3, each named by the first word of its string. A module's Data is a
// copy.
//
// Anything malformed (a table or string outside mem, a module ending before
// it starts, counts or map entries beyond the limits) is an error wrapping
// ErrBootInfo; ParseMultiboot never panics on any input.
func ParseMultiboot(mem io.ReaderAt, addr uint64) (*Info, error) {
	r := physReader{mem}
	hdr, err := r.bytes(addr, mbInfoSize, "Multiboot info")
	if err != nil {
		return nil, err
	}
	flags := le.Uint32(hdr)
	var memMap MemoryMap
	switch {
	case flags&mbFlagMmap != 0:
		length, base := uint64(le.Uint32(hdr[44:])), uint64(le.Uint32(hdr[48:]))
		tab, err := r.bytes(base, length, "Multiboot memory map")
		if err != nil {
			return nil, err
		}
		// Entries are size-prefixed: size counts the bytes after the
		// size field itself (20 for base, length, type).
		for off := uint64(0); off < length; {
			if len(memMap) >= MaxBootMemoryRanges {
				return nil, bootErr("Multiboot memory map longer than %d entries", MaxBootMemoryRanges)
			}
			if length-off < 4 {
				return nil, bootErr("Multiboot memory map entry at offset %d truncated", off)
			}
			size := uint64(le.Uint32(tab[off:]))
			if size < 20 || size > length-off-4 {
				return nil, bootErr("Multiboot memory map entry at offset %d has size %d", off, size)
			}
			e := tab[off+4:]
			memMap = append(memMap, MemoryRange{Start: le.Uint64(e), Size: le.Uint64(e[8:]), Type: MemoryType(le.Uint32(e[16:]))})
			off += size + 4
		}
	case flags&mbFlagMem != 0:
		memMap = PCMemoryMap(le.Uint32(hdr[4:]), le.Uint32(hdr[8:]))
	}
	var cmdline string
	if flags&mbFlagCmdline != 0 {
		if cmdline, err = r.cstring(uint64(le.Uint32(hdr[16:])), "Multiboot command line"); err != nil {
			return nil, err
		}
	}
	var mods []Module
	if flags&mbFlagMods != 0 {
		n := le.Uint32(hdr[20:])
		if n > MaxBootModules {
			return nil, bootErr("Multiboot info has %d modules, limit %d", n, MaxBootModules)
		}
		tab, err := r.bytes(uint64(le.Uint32(hdr[24:])), uint64(n)*mbModEntrySize, "Multiboot module list")
		if err != nil {
			return nil, err
		}
		for i := range int(n) {
			e := tab[i*mbModEntrySize:]
			start, end := uint64(le.Uint32(e)), uint64(le.Uint32(e[4:]))
			if end < start {
				return nil, bootErr("Multiboot module %d ends at %#x before its start %#x", i, end, start)
			}
			data, err := r.bytes(start, end-start, "Multiboot module")
			if err != nil {
				return nil, err
			}
			s, err := r.cstring(uint64(le.Uint32(e[8:])), "Multiboot module string")
			if err != nil {
				return nil, err
			}
			mods = append(mods, moduleFromString(s, i, data))
		}
	}
	return fromBootLoader(cmdline, memMap, mods), nil
}
