package boot

import "io"

// PVHMagic is the magic number of a PVH start-info block
// (XEN_HVM_START_MAGIC_VALUE).
const PVHMagic = 0x336ec578

// Layout of struct hvm_start_info and its tables (Xen's
// arch-x86/hvm/start_info.h), all little-endian.
const (
	pvhInfoSizeV0    = 40 // up to rsdp_paddr
	pvhInfoSizeV1    = 56 // with memmap_paddr, memmap_entries
	pvhModEntrySize  = 32 // paddr, size, cmdline_paddr, reserved
	pvhMemEntrySize  = 24 // addr, size, type, reserved
	pvhOffModules    = 12 // nr_modules
	pvhOffModlist    = 16 // modlist_paddr
	pvhOffCmdline    = 24 // cmdline_paddr
	pvhOffRSDP       = 32 // rsdp_paddr
	pvhOffMemmap     = 40 // memmap_paddr
	pvhOffMemEntries = 48 // memmap_entries
)

// PVHInfo is a parsed PVH start-info block: the Info it describes and the
// fields of the block a kernel may need beyond it.
type PVHInfo struct {
	*Info
	// Version is the block's version (0 has no memory map).
	Version uint32
	// Flags are the block's SIF_* flags.
	Flags uint32
	// RSDP is the physical address of the ACPI RSDP, or 0.
	RSDP uint64
}

// ParsePVH parses the PVH start-info block (struct hvm_start_info) at
// physical address addr of mem, an image of physical memory (a bare-metal
// kernel passes a reader over its identity-mapped memory; a test passes a
// byte slice). The command line, the memory map (version 1 and later) and
// the modules are read through mem, which bounds every access; a module's
// Data is a copy. A block of version 0 has no memory map: the Info's Memory
// is then empty and the kernel must find memory another way.
//
// Anything malformed (bad magic, a table or string outside mem, counts
// beyond MaxBootMemoryRanges or MaxBootModules) is an error wrapping
// ErrBootInfo; ParsePVH never panics on any input.
func ParsePVH(mem io.ReaderAt, addr uint64) (*PVHInfo, error) {
	r := physReader{mem}
	hdr, err := r.bytes(addr, pvhInfoSizeV0, "PVH start info")
	if err != nil {
		return nil, err
	}
	if m := le.Uint32(hdr); m != PVHMagic {
		return nil, bootErr("PVH start info magic %#x, want %#x", m, PVHMagic)
	}
	p := &PVHInfo{Version: le.Uint32(hdr[4:]), Flags: le.Uint32(hdr[8:]), RSDP: le.Uint64(hdr[pvhOffRSDP:])}
	var memMap MemoryMap
	if p.Version >= 1 {
		hdr, err = r.bytes(addr, pvhInfoSizeV1, "PVH start info")
		if err != nil {
			return nil, err
		}
		n := le.Uint32(hdr[pvhOffMemEntries:])
		if n > MaxBootMemoryRanges {
			return nil, bootErr("PVH memory map has %d entries, limit %d", n, MaxBootMemoryRanges)
		}
		tab, err := r.bytes(le.Uint64(hdr[pvhOffMemmap:]), uint64(n)*pvhMemEntrySize, "PVH memory map")
		if err != nil {
			return nil, err
		}
		for i := range int(n) {
			e := tab[i*pvhMemEntrySize:]
			memMap = append(memMap, MemoryRange{Start: le.Uint64(e), Size: le.Uint64(e[8:]), Type: MemoryType(le.Uint32(e[16:]))})
		}
	}
	cmdline, err := r.cstring(le.Uint64(hdr[pvhOffCmdline:]), "PVH command line")
	if err != nil {
		return nil, err
	}
	nmod := le.Uint32(hdr[pvhOffModules:])
	if nmod > MaxBootModules {
		return nil, bootErr("PVH start info has %d modules, limit %d", nmod, MaxBootModules)
	}
	var mods []Module
	if nmod > 0 {
		tab, err := r.bytes(le.Uint64(hdr[pvhOffModlist:]), uint64(nmod)*pvhModEntrySize, "PVH module list")
		if err != nil {
			return nil, err
		}
		for i := range int(nmod) {
			e := tab[i*pvhModEntrySize:]
			data, err := r.bytes(le.Uint64(e), le.Uint64(e[8:]), "PVH module")
			if err != nil {
				return nil, err
			}
			s, err := r.cstring(le.Uint64(e[16:]), "PVH module string")
			if err != nil {
				return nil, err
			}
			mods = append(mods, moduleFromString(s, i, data))
		}
	}
	p.Info = fromBootLoader(cmdline, memMap, mods)
	return p, nil
}
