package x86

// Descriptor and page-table encodings: pure computations, used by the
// bare-metal kernel and tested on any host.

// Segment selectors of the kit's GDT.
const (
	KernelCS = 0x08 // 64-bit code, ring 0
	KernelDS = 0x10 // data, ring 0
	TSSSel   = 0x18 // the TSS (a 16-byte system descriptor)
)

// CodeDescriptor64 is a flat 64-bit ring-0 code segment: present, DPL 0,
// execute/read, L set, D clear, 4 KiB granularity.
const CodeDescriptor64 uint64 = 0x00AF9A000000FFFF

// DataDescriptor is a flat ring-0 read/write data segment.
const DataDescriptor uint64 = 0x00CF92000000FFFF

// TSSDescriptor encodes the 16-byte descriptor of an available 64-bit TSS
// at base with the given limit (size-1).
//
//go:nosplit
func TSSDescriptor(base uint64, limit uint32) (lo, hi uint64) {
	lo = uint64(limit&0xFFFF) |
		(base&0xFFFFFF)<<16 |
		uint64(0x89)<<40 | // present, DPL 0, type 9 (available 64-bit TSS)
		uint64(limit>>16&0xF)<<48 |
		(base>>24&0xFF)<<56
	hi = base >> 32
	return lo, hi
}

// InterruptGate encodes a 64-bit interrupt gate (interrupts masked on
// entry) to handler in code segment sel, on interrupt stack ist (0: the
// current stack), callable by software from privilege dpl.
//
//go:nosplit
func InterruptGate(handler uint64, sel uint16, ist, dpl uint8) (lo, hi uint64) {
	lo = handler&0xFFFF |
		uint64(sel)<<16 |
		uint64(ist&7)<<32 |
		uint64(0x8E|(dpl&3)<<5)<<40 | // present, type 0xE
		(handler>>16&0xFFFF)<<48
	hi = handler >> 32
	return lo, hi
}

// GateHandler decodes the handler address of a gate InterruptGate made.
func GateHandler(lo, hi uint64) uint64 {
	return lo&0xFFFF | (lo>>48)<<16 | hi<<32
}

// Page-table entry bits.
const (
	PTEPresent  uint64 = 1 << 0
	PTEWritable uint64 = 1 << 1
	PTEUser     uint64 = 1 << 2
	PTEHuge     uint64 = 1 << 7  // a 2 MiB (PD) or 1 GiB (PDPT) page
	PTENoExec   uint64 = 1 << 63 // honoured only with EFER.NXE
	// PTEAddrMask selects the physical address bits of an entry.
	PTEAddrMask uint64 = 0x000FFFFFFFFFF000
)

// PageSize is the size of a small page.
const PageSize = 4096

// PTE encodes an entry mapping physical address pa (page-aligned; the low
// bits are dropped) with flags.
//
//go:nosplit
func PTE(pa, flags uint64) uint64 { return pa&PTEAddrMask | flags }

// PTEAddr is the physical address an entry points to.
//
//go:nosplit
func PTEAddr(e uint64) uint64 { return e & PTEAddrMask }

// PTIndex is the index of virtual address va in the table of the given
// level: 4 for the PML4, 3 the PDPT, 2 the page directory, 1 the page
// table.
//
//go:nosplit
func PTIndex(va uint64, level int) uint64 {
	return va >> (12 + 9*uint(level-1)) & 511
}

// Canonical reports whether va is a canonical 48-bit address.
//
//go:nosplit
func Canonical(va uint64) bool {
	top := va >> 47
	return top == 0 || top == 1<<17-1
}

// ExitCode decodes the exit status of QEMU's isa-debug-exit device: a
// kernel writing v to the port makes QEMU exit with (v<<1)|1. It returns
// v and whether code has that form.
func ExitCode(code int) (int, bool) {
	if code&1 == 0 {
		return 0, false
	}
	return code >> 1, true
}

// daysFromCivil counts the days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar (Howard Hinnant's algorithm), for years
// from 1970.
//
//go:nosplit
func daysFromCivil(y, m, d uint64) uint64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
