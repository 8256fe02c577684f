//go:build linux && amd64

package x86

import (
	"unsafe"

	"github.com/goskit/goskit/kernsupport/x86/vmlist"
)

// This file is the kernel beneath the Go runtime. Everything here runs
// before the runtime starts or inside a trap (interrupt, exception or
// SYSCALL) with interrupts masked, on the kernel stack, with no Go g of its
// own. So every function is //go:nosplit (no stack-growth check, which
// would consult a g), allocates nothing, takes no locks, and writes no Go
// pointers (the machine state below holds addresses as uint64, so the
// garbage collector's write barrier never runs here). Physical memory is
// reached through the identity map with phys.

const (
	kstackSize  = 64 << 10
	istSize     = 16 << 10
	bootStackSz = 256 << 10
	maxThreads  = 64
	maxRanges   = 16
	maxWords    = 64
	hz          = 1000 // PIT interrupt rate
	pitHz       = 1193182
)

// trapFrame is the register image trapCommon builds on the kernel stack:
// the general registers it pushes, the vector and error code, and the
// hardware interrupt frame.
type trapFrame struct {
	R15, R14, R13, R12, R11, R10, R9, R8 uint64
	RBP, RDI, RSI, RDX, RCX, RBX, RAX    uint64
	Vector, Err                          uint64
	RIP, CS, RFLAGS, RSP, SS             uint64
}

// Thread states.
const (
	thFree = iota
	thRunnable
	thFutex // blocked in futex wait (deadline optional)
	thSleep // in nanosleep
)

type thread struct {
	state    uint32
	tid      int32
	tf       trapFrame
	fsbase   uint64
	fx       [512 + 16]byte
	waitAddr uint64
	deadline int64 // monotonic ns; 0 = none
	sigmask  uint64
	pending  uint64
	altSP    uint64
	altSize  uint64
	altFlags uint32
}

type sigaction struct {
	handler, flags, restorer, mask uint64
}

type physRange struct{ next, end uint64 }

// The machine. One CPU, one kernel: this is the one place the kit keeps
// global state (see DESIGN.md's note on the bare-metal layer).
var (
	bareMetal uint64
	startInfo uint64 // PVH start info or Multiboot info, physical
	bootMagic uint64 // EAX at entry: multibootMagic from a Multiboot loader
	scratchSP uint64
	userSP    uint64
	depth     uint64
	curFX     uint64

	kstack    [kstackSize]byte
	ist2      [istSize]byte
	ist3      [istSize]byte
	bootStack [bootStackSz]byte
	idleStack [4096]byte
	dummyTLS  [128]byte
	page0     [PageSize]byte // physical page 0 as the boot loader left it
	nestFX    [512 + 16]byte

	gdt     [5]uint64
	idt     [256][2]uint64
	tss     [104]byte
	dtr     [10]byte
	threads [maxThreads]thread
	cur     uint64
	idle    uint64 // index of the idle thread
	nextTID int32

	words      [maxWords]uint64 // buildStack's argument list
	sigactions [128]sigaction   // indexed by signal number & 127
	mappings   vmlist.List      // what mmap handed out
	mmapNext   uint64           // where hint-less mmaps go

	ranges    [maxRanges]physRange
	reserved  [maxReserved]physRange // (next, end) = (start, end) of a reserved range
	nreserved int
	nranges   int
	freeList  uint64 // a stack of free frames linked through their first word
	freePages uint64
	usedPages uint64

	ticks      uint64
	wallBase   int64 // CLOCK_REALTIME minus the monotonic clock, ns
	tscPerSec  uint64
	tsc0       uint64
	unknownSys [16]uint64 // bitmap of unknown system calls already logged
	unknownBig uint64     // calls logged with numbers past the bitmap
	rng        uint64
	stats      Stats
)

// ---- serial console (16550 at COM1) ----

const com1 = 0x3F8

//go:nosplit
func serialInit() {
	outb(com1+1, 0)    // no interrupts
	outb(com1+3, 0x80) // DLAB
	outb(com1+0, 1)    // 115200 baud
	outb(com1+1, 0)
	outb(com1+3, 3)    // 8N1
	outb(com1+2, 0xC7) // FIFO on, cleared
	outb(com1+4, 0x0B) // DTR, RTS, OUT2 (routes the interrupt)
	outb(com1+1, 1)    // interrupt on received data
}

//go:nosplit
func putc(c byte) {
	for i := 0; i < 100000 && inb(com1+5)&0x20 == 0; i++ {
	}
	outb(com1, c)
}

//go:nosplit
func puts(s string) {
	for i := 0; i < len(s); i++ {
		putc(s[i])
	}
}

//go:nosplit
//go:noinline
func putHex(v uint64) {
	puts("0x")
	for i := 60; i >= 0; i -= 4 {
		putc("0123456789abcdef"[v>>uint(i)&15])
	}
}

//go:nosplit
//go:noinline
func putDec(v uint64) {
	var buf [20]byte
	i := uint(len(buf))
	for {
		i--
		buf[i%20] = byte('0' + v%10)
		v /= 10
		if v == 0 || i == 0 {
			break
		}
	}
	for ; i < uint(len(buf)); i++ {
		putc(buf[i%20])
	}
}

// exit stops the machine through isa-debug-exit (QEMU exits with
// status<<1|1); without the device, it halts.
//
//go:nosplit
func exit(status uint64) {
	outl(0xF4, uint32(status))
	haltForever()
}

// ---- physical memory ----

//go:nosplit
func u64(pa uint64) uint64 { return *(*uint64)(phys(pa)) }

//go:nosplit
func u32(pa uint64) uint32 { return *(*uint32)(phys(pa)) }

//go:nosplit
func setU64(pa, v uint64) { *(*uint64)(phys(pa)) = v }

//go:nosplit
func copyWords(dst, src, n uint64) {
	for i := uint64(0); i < n; i += 8 {
		setU64(dst+i, u64(src+i))
	}
}

//go:nosplit
func zeroPage(pa uint64) {
	p := (*[512]uint64)(phys(pa))
	for i := range p {
		p[i] = 0
	}
}

// allocFrame returns a zeroed 4 KiB frame, or 0 when memory is exhausted.
//
//go:nosplit
func allocFrame() uint64 {
	pa := freeList
	if pa != 0 {
		freeList = u64(pa)
		freePages--
	} else {
		for i := 0; i < nranges && i < maxRanges; i++ {
			r := &ranges[i&(maxRanges-1)]
			if r.next+PageSize <= r.end {
				pa = r.next
				r.next += PageSize
				break
			}
		}
		if pa == 0 {
			return 0
		}
	}
	usedPages++
	zeroPage(pa)
	return pa
}

//go:nosplit
func freeFrame(pa uint64) {
	setU64(pa, freeList)
	freeList = pa
	freePages++
	usedPages--
}

// imageEnd is the end of the kernel image in memory (the linker's end
// symbol, past bss), wherever the image was linked.
//
//go:nosplit
func imageEnd() uint64 { return linkerEnd() }

// Boot protocol magic numbers.
const (
	pvhMagic       = 0x336ec578 // at the start of hvm_start_info
	multibootMagic = 0x2BADB002 // in EAX from a Multiboot loader
	maxReserved    = 32
)

// pvhBoot and multibootBoot report which protocol started the kernel.
//
//go:nosplit
func pvhBoot() bool { return startInfo != 0 && u32(startInfo) == pvhMagic }

//go:nosplit
func multibootBoot() bool { return !pvhBoot() && bootMagic == multibootMagic }

// reserve keeps [start, start+size) from the frame allocator: boot
// modules and the boot loader's tables, which the program reads later.
//
//go:nosplit
func reserve(start, size uint64) {
	if size == 0 || nreserved >= maxReserved {
		return
	}
	reserved[nreserved&(maxReserved-1)] = physRange{start &^ (PageSize - 1), (start + size + PageSize - 1) &^ (PageSize - 1)}
	nreserved++
}

//go:nosplit
func cstrlen(pa uint64) uint64 {
	n := uint64(0)
	for n < 4096 && *(*byte)(phys(pa + n)) != 0 {
		n++
	}
	return n + 1
}

// addUsable gives the usable range [start, end) to the frame allocator,
// less what lies below lo (the kernel image and low memory), above the
// identity map, or in a reserved range.
//
//go:nosplit
func addUsable(start, end, lo uint64) {
	start = max(start, lo)
	end = min(end, 4<<30)
	start = (start + PageSize - 1) &^ (PageSize - 1)
	end &^= PageSize - 1
	for i := 0; start < end && i <= maxReserved; i++ {
		// The first reserved range reaching into [start, end) cuts it.
		cut, skip := end, end
		for j := 0; j < nreserved && j < maxReserved; j++ {
			r := reserved[j&(maxReserved-1)]
			if r.end > start && r.next < end && max(r.next, start) < cut {
				cut, skip = max(r.next, start), r.end
			}
		}
		if cut > start && nranges < maxRanges {
			ranges[nranges&(maxRanges-1)] = physRange{start, cut}
			nranges++
		}
		start = skip
	}
}

// memInit takes the usable memory of the boot memory map (PVH or
// Multiboot) above the kernel image, below the 4 GiB the boot page tables
// map and outside the boot modules and tables, for the frame allocator.
//
//go:nosplit
func memInit() {
	lo := (imageEnd() + PageSize - 1) &^ (PageSize - 1)
	si := startInfo
	switch {
	case pvhBoot():
		reserve(si, 56)
		if c := u64(si + 24); c != 0 {
			reserve(c, cstrlen(c))
		}
		mods, nmods := u64(si+16), uint64(u32(si+12))
		reserve(mods, nmods*32)
		for i := uint64(0); i < nmods && i < 64; i++ {
			e := mods + i*32
			reserve(u64(e), u64(e+8))
			if c := u64(e + 16); c != 0 {
				reserve(c, cstrlen(c))
			}
		}
		if u32(si+4) < 1 {
			break // no memory map in version 0
		}
		mm, n := u64(si+40), uint64(u32(si+48))
		reserve(mm, n*24)
		for i := uint64(0); i < n && i < 128; i++ {
			e := mm + i*24
			if u32(e+16) == 1 {
				addUsable(u64(e), u64(e)+u64(e+8), lo)
			}
		}
	case multibootBoot():
		flags := u32(si)
		reserve(si, 88)
		if flags&4 != 0 {
			c := uint64(u32(si + 16))
			reserve(c, cstrlen(c))
		}
		if flags&8 != 0 {
			mods, nmods := uint64(u32(si+24)), uint64(u32(si+20))
			reserve(mods, nmods*16)
			for i := uint64(0); i < nmods && i < 64; i++ {
				e := mods + i*16
				start, end := uint64(u32(e)), uint64(u32(e+4))
				if end > start {
					reserve(start, end-start)
				}
				if c := uint64(u32(e + 8)); c != 0 {
					reserve(c, cstrlen(c))
				}
			}
		}
		if flags&64 != 0 {
			length, mm := uint64(u32(si+44)), uint64(u32(si+48))
			reserve(mm, length)
			off := uint64(0)
			for i := 0; i < 128 && off+24 <= length; i++ {
				e := mm + off
				if u32(e+20) == 1 {
					addUsable(u64(e+4), u64(e+4)+u64(e+12), lo)
				}
				off += uint64(u32(e)) + 4
			}
		} else if flags&1 != 0 {
			addUsable(1<<20, 1<<20+uint64(u32(si+8))*1024, lo)
		}
	}
	if nranges == 0 {
		// No memory map: assume 128 MiB.
		addUsable(lo, 128<<20, lo)
	}
}

// bootCmdline is the physical address of the boot command line, or 0.
//
//go:nosplit
func bootCmdline() uint64 {
	switch {
	case pvhBoot():
		return u64(startInfo + 24)
	case multibootBoot() && u32(startInfo)&4 != 0:
		return uint64(u32(startInfo + 16))
	}
	return 0
}

// ---- page tables and the virtual-memory manager ----

// walk returns the physical address of the page-table entry for va,
// creating intermediate tables when create is set (0 if absent or out of
// memory).
//
//go:nosplit
func walk(va uint64, create bool) uint64 {
	table := readCR3() & PTEAddrMask
	for level := 4; level > 1; level-- {
		ep := table + PTIndex(va, level)*8
		e := u64(ep)
		if e&PTEPresent == 0 {
			if !create {
				return 0
			}
			f := allocFrame()
			if f == 0 {
				return 0
			}
			e = PTE(f, PTEPresent|PTEWritable)
			setU64(ep, e)
		} else if e&PTEHuge != 0 {
			return 0 // inside the identity map: not the VM manager's
		}
		table = PTEAddr(e)
	}
	return table + PTIndex(va, 1)*8
}

// unmapPages frees the frames mapped in [start, end), skipping absent
// tables a level at a time so that releasing a huge reservation is cheap.
//
//go:nosplit
//go:noinline
func unmapPages(start, end uint64) {
	va := start
	for va < end {
		table := readCR3() & PTEAddrMask
		level := 4
		for ; level > 1; level-- {
			e := u64(table + PTIndex(va, level)*8)
			if e&PTEPresent == 0 || e&PTEHuge != 0 {
				break
			}
			table = PTEAddr(e)
		}
		if level > 1 {
			// Absent at this level: skip what it would map.
			span := uint64(1) << (12 + 9*uint(level-1))
			next := (va + span) &^ (span - 1)
			if next <= va {
				return
			}
			va = next
			continue
		}
		ep := table + PTIndex(va, 1)*8
		if e := u64(ep); e&PTEPresent != 0 {
			setU64(ep, 0)
			invlpg(va)
			freeFrame(PTEAddr(e))
		}
		va += PageSize
	}
}

// Linux errno values the system calls return (negated).
const (
	ePERM     = 1
	eNOENT    = 2
	eSRCH     = 3
	eINTR     = 4
	eBADF     = 9
	eAGAIN    = 11
	eNOMEM    = 12
	eFAULT    = 14
	eINVAL    = 22
	eNOSYS    = 38
	eTIMEDOUT = 110
)

const (
	mapFixed     = 0x10
	mapAnon      = 0x20
	mapNoReplace = 0x100000
	userTop      = 1 << 47
	userBottom   = 4 << 30 // below: the kernel's identity map
)

//go:nosplit
//go:noinline
func sysMmap(addr, length, prot, flags, fd uint64) uint64 {
	if length == 0 || flags&mapAnon == 0 {
		return neg(eINVAL)
	}
	length = (length + PageSize - 1) &^ (PageSize - 1)
	if length == 0 || length > userTop {
		return neg(eNOMEM)
	}
	if flags&mapFixed != 0 {
		if addr&(PageSize-1) != 0 || addr < userBottom || addr+length > userTop || addr+length < addr {
			return neg(eINVAL)
		}
		unmapPages(addr, addr+length)
		if !mappings.Remove(addr, addr+length) || !mappings.Add(addr, addr+length, prot) {
			return neg(eNOMEM)
		}
		return addr
	}
	addr &^= PageSize - 1
	if addr < userBottom || addr+length > userTop || addr+length < addr || mappings.Overlaps(addr, addr+length) {
		// No usable hint: take fresh address space.
		if mmapNext == 0 {
			mmapNext = 0x100000000000
		}
		// Fresh space may have been taken by a hinted mapping: step
		// over those (a bounded number: the list is bounded).
		for i := 0; i <= vmlist.MaxMappings && mappings.Overlaps(mmapNext, mmapNext+length); i++ {
			mmapNext += length + PageSize
		}
		addr = mmapNext
		mmapNext += length + PageSize // a guard page between mappings
		if mmapNext > userTop || mappings.Overlaps(addr, addr+length) {
			return neg(eNOMEM)
		}
	}
	if !mappings.Add(addr, addr+length, prot) {
		return neg(eNOMEM)
	}
	return addr
}

//go:nosplit
//go:noinline
func sysMunmap(addr, length uint64) uint64 {
	length = (length + PageSize - 1) &^ (PageSize - 1)
	if addr&(PageSize-1) != 0 || addr+length < addr {
		return neg(eINVAL)
	}
	if addr < userBottom {
		return 0
	}
	unmapPages(addr, addr+length)
	if !mappings.Remove(addr, addr+length) {
		return neg(eNOMEM)
	}
	return 0
}

//go:nosplit
//go:noinline
func sysMprotect(addr, length, prot uint64) uint64 {
	length = (length + PageSize - 1) &^ (PageSize - 1)
	if addr < userBottom || addr+length < addr {
		return neg(eINVAL)
	}
	if prot == 0 {
		unmapPages(addr, addr+length)
	}
	if !mappings.Remove(addr, addr+length) || !mappings.Add(addr, addr+length, prot) {
		return neg(eNOMEM)
	}
	return 0
}

// demandPage maps a zeroed frame at the page of va if va lies in an
// accessible VMA, and reports whether it did.
//
//go:nosplit
//go:noinline
func demandPage(va uint64) bool {
	if m, ok := mappings.Find(va); !ok || m.Prot == 0 {
		return false
	}
	ep := walk(va, true)
	if ep == 0 {
		return false
	}
	if u64(ep)&PTEPresent != 0 {
		return false // present already: a protection fault
	}
	f := allocFrame()
	if f == 0 {
		// Linux would call its OOM killer; this kernel has one process:
		// trap stops the machine on its way out.
		fatal = fatalOOM
		return false
	}
	setU64(ep, PTE(f, PTEPresent|PTEWritable))
	return true
}

//go:nosplit
func neg(e uint64) uint64 { return -e }

// guardPageZero remaps the first 2 MiB of the identity map with 4 KiB
// pages, leaving page 0 unmapped: the Go runtime counts on a fault for
// every access through a nil pointer (plus a small offset).
//
//go:nosplit
func guardPageZero() {
	// The boot loader may have left tables there (QEMU's PVH ROM puts
	// its memory map at 0x5a8): keep a copy for PhysMemory.
	copyWords(uint64(uintptr(unsafe.Pointer(&page0))), 0, PageSize)
	pd := PTEAddr(u64(PTEAddr(u64(readCR3() & PTEAddrMask)))) // PML4[0] -> PDPT[0] -> PD
	pt := allocFrame()
	if pt == 0 {
		return
	}
	for i := uint64(1); i < 512; i++ {
		setU64(pt+i*8, PTE(i*PageSize, PTEPresent|PTEWritable))
	}
	setU64(pd, PTE(pt, PTEPresent|PTEWritable))
	writeCR3(readCR3())
}

// ---- time ----

// calibrateTSC measures the TSC against the PIT's channel 2 over 10 ms.
//
//go:nosplit
func calibrateTSC() {
	const count = pitHz / 100
	outb(0x61, inb(0x61)&^2|1) // gate on, speaker off
	outb(0x43, 0xB0)           // channel 2, lo/hi, mode 0
	outb(0x42, count&0xFF)
	outb(0x42, count>>8)
	t0 := rdtsc()
	for i := 0; i < 100000000 && inb(0x61)&0x20 == 0; i++ {
	}
	t1 := rdtsc()
	tscPerSec = (t1 - t0) * 100
	if tscPerSec == 0 {
		tscPerSec = 1e9
	}
}

// nanotime is the monotonic time since boot in nanoseconds.
//
//go:nosplit
func nanotime() int64 {
	d := rdtsc() - tsc0
	sec := d / tscPerSec
	rem := d % tscPerSec
	return int64(sec*1e9 + rem*1e9/tscPerSec)
}

//go:nosplit
func cmos(reg uint8) uint64 {
	outb(0x70, reg)
	return uint64(inb(0x71))
}

// readRTC sets the wall clock from the CMOS real-time clock (UTC, as QEMU
// keeps it by default), waiting out an update in progress.
//
//go:nosplit
func readRTC() {
	for i := 0; i < 1000000 && cmos(0x0A)&0x80 != 0; i++ {
	}
	sec, min, hour := cmos(0x00), cmos(0x02), cmos(0x04)
	day, mon, year := cmos(0x07), cmos(0x08), cmos(0x09)
	if cmos(0x0B)&4 == 0 { // BCD
		bcd := func(v uint64) uint64 { return v&15 + (v>>4)*10 }
		sec, min, hour = bcd(sec), bcd(min), bcd(hour&0x7F)|hour&0x80
		day, mon, year = bcd(day), bcd(mon), bcd(year)
	}
	if hour&0x80 != 0 && cmos(0x0B)&2 == 0 { // 12-hour clock, PM
		hour = (hour&0x7F + 12) % 24
	}
	year += 2000
	if mon < 1 || mon > 12 || day < 1 || day > 31 {
		return
	}
	wallBase = int64(daysFromCivil(year, mon, day)*86400+hour*3600+min*60+sec)*1e9 - nanotime()
}

//go:nosplit
func pitInit() {
	// PICs: IRQs 0-15 at vectors 32-47, all masked but the timer.
	outb(0x20, 0x11)
	outb(0xA0, 0x11)
	outb(0x21, 32)
	outb(0xA1, 40)
	outb(0x21, 4)
	outb(0xA1, 2)
	outb(0x21, 1)
	outb(0xA1, 1)
	outb(0x21, 0xEE) // the timer (IRQ 0) and COM1 (IRQ 4)
	outb(0xA1, 0xFF)
	const div = pitHz / hz
	outb(0x43, 0x34) // channel 0, lo/hi, rate generator
	outb(0x40, div&0xFF)
	outb(0x40, div>>8)
}

// ---- descriptors ----

//go:nosplit
func descInit() {
	gdt[1] = CodeDescriptor64
	gdt[2] = DataDescriptor
	tssBase := uint64(uintptr(unsafe.Pointer(&tss)))
	gdt[3], gdt[4] = TSSDescriptor(tssBase, uint32(len(tss)-1))
	// IST1: the kernel stack (interrupts); IST2: double fault; IST3: page
	// faults, so that a fault inside a trap handler gets a fresh stack.
	setTSSU64(36, uint64(uintptr(unsafe.Pointer(&kstack)))+kstackSize)
	setTSSU64(44, uint64(uintptr(unsafe.Pointer(&ist2)))+istSize)
	setTSSU64(52, uint64(uintptr(unsafe.Pointer(&ist3)))+istSize)
	tss[102], tss[103] = 104, 0 // no I/O bitmap
	loadDTR(uintptr(unsafe.Pointer(&gdt)), uint16(len(gdt)*8-1))
	lgdt(uintptr(unsafe.Pointer(&dtr)))
	ltr(TSSSel)

	for v := 0; v < len(vecTable); v++ {
		ist := uint8(1)
		switch v {
		case 8:
			ist = 2
		case 14:
			ist = 3
		}
		idt[v][0], idt[v][1] = InterruptGate(uint64(vecTable[v]), KernelCS, ist, 0)
	}
	loadDTR(uintptr(unsafe.Pointer(&idt)), uint16(len(idt)*16-1))
	lidt(uintptr(unsafe.Pointer(&dtr)))

	wrmsr(0xC0000081, uint64(KernelCS)<<32|uint64(KernelCS)<<48) // STAR
	wrmsr(0xC0000082, uint64(syscallEntryAddr()))                // LSTAR
	wrmsr(0xC0000084, 0x47700)                                   // FMASK: IF, TF, DF, AC, NT
}

//go:nosplit
func setTSSU64(off int, v uint64) {
	for i := 0; i < 8; i++ {
		tss[uint(off+i)%104] = byte(v >> (8 * uint(i)))
	}
}

//go:nosplit
func loadDTR(base uintptr, limit uint16) {
	dtr[0], dtr[1] = byte(limit), byte(limit>>8)
	for i := 0; i < 8; i++ {
		dtr[2+i] = byte(uint64(base) >> (8 * uint(i)))
	}
}

// ---- the initial process stack ----

// buildStack lays out argc, argv, envp and auxv on bootStack as Linux does
// for a new process: argv is the boot command line split at white space,
// envp its NAME=value words before "--".
//
//go:nosplit
func buildStack() {
	base := uint64(uintptr(unsafe.Pointer(&bootStack)))
	top := base + bootStackSz
	// Strings area: the top 8 KiB.
	str := top - 8192
	p := str
	cmd := bootCmdline()
	nw := 0
	inWord := false
	sep := -1
	if cmd != 0 {
		for i := uint64(0); i < 4000 && p < top-64; i++ {
			c := *(*byte)(phys(cmd + i))
			if c == 0 {
				break
			}
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				if inWord {
					*(*byte)(phys(p)) = 0
					p++
					inWord = false
				}
				continue
			}
			if !inWord {
				if nw == maxWords {
					break
				}
				words[nw&(maxWords-1)] = p
				nw++
				inWord = true
			}
			*(*byte)(phys(p)) = c
			p++
		}
		if inWord {
			*(*byte)(phys(p)) = 0
			p++
		}
	}
	if nw == 0 {
		words[0] = p
		const name = "kernel\x00"
		for i := 0; i < len(name); i++ {
			*(*byte)(phys(p)) = name[i]
			p++
		}
		nw = 1
	}
	for i := 1; i < nw && i < maxWords; i++ {
		w := words[i]
		if *(*byte)(phys(w)) == '-' && *(*byte)(phys(w + 1)) == '-' && *(*byte)(phys(w + 2)) == 0 {
			sep = i
			break
		}
	}
	// AT_RANDOM: 16 bytes.
	rnd := (p + 15) &^ 15
	for i := uint64(0); i < 16; i++ {
		*(*byte)(phys(rnd + i)) = byte(random())
	}
	// The vector, below the strings, 16-byte aligned.
	sp := (str - 1024) &^ 15
	v := sp
	setU64(v, uint64(nw))
	v += 8
	for i := 0; i < nw && i < maxWords; i++ {
		setU64(v, words[i])
		v += 8
	}
	setU64(v, 0)
	v += 8
	for i := 1; i < sep && i < maxWords; i++ {
		if isVar(words[i]) {
			setU64(v, words[i])
			v += 8
		}
	}
	setU64(v, 0)
	v += 8
	aux := [...]uint64{
		6, PageSize, // AT_PAGESZ
		25, rnd, // AT_RANDOM
		16, 0, // AT_HWCAP
		17, 100, // AT_CLKTCK
		23, 0, // AT_SECURE
		0, 0, // AT_NULL
	}
	for _, x := range aux {
		setU64(v, x)
		v += 8
	}
	userSP = sp
}

// isVar reports whether the NUL-terminated word at p is NAME=value with a
// NAME not starting with '-' (boot.IsVar's rule).
//
//go:nosplit
func isVar(p uint64) bool {
	c := *(*byte)(phys(p))
	if c == '-' || c == '=' || c == 0 {
		return false
	}
	for i := uint64(0); i < 4096; i++ {
		switch *(*byte)(phys(p + i)) {
		case '=':
			return true
		case 0:
			return false
		}
	}
	return false
}

//go:nosplit
func random() uint64 {
	// xorshift seeded from the TSC: good enough for AT_RANDOM and hash
	// seeds in a test kernel, not for cryptography.
	if rng == 0 {
		rng = rdtsc() | 1
	}
	rng ^= rng << 13
	rng ^= rng >> 7
	rng ^= rng << 17
	return rng
}

// ---- boot ----

//go:nosplit
func fxArea(i uint64) uint64 {
	return (uint64(uintptr(unsafe.Pointer(&threads[i&(maxThreads-1)].fx))) + 15) &^ 15
}

// kinit runs once, from the entry, before the Go runtime: console, memory,
// descriptors, time, the first two threads and the process stack.
//
//go:nosplit
func kinit() {
	tsc0 = rdtsc()
	serialInit()
	memInit()
	guardPageZero()
	descInit()
	calibrateTSC()
	readRTC()
	pitInit()
	stats.BootTSC, stats.TSCPerSecond = tsc0, tscPerSec
	// Thread 0 is the runtime's first thread (its context is saved at its
	// first trap); the last slot is the idle thread.
	nextTID = 1
	threads[0].state, threads[0].tid = thRunnable, nextTID
	threads[0].fsbase = uint64(uintptr(unsafe.Pointer(&dummyTLS))) + 64
	idle = maxThreads - 1
	it := &threads[idle]
	it.state = thRunnable
	it.tid = 0
	it.fsbase = threads[0].fsbase
	it.tf = trapFrame{RIP: uint64(idleLoopAddr()), CS: KernelCS, SS: KernelDS, RFLAGS: 0x202,
		RSP: uint64(uintptr(unsafe.Pointer(&idleStack))) + uint64(len(idleStack)) - 16}
	// A valid SSE state for the idle thread: MXCSR default in its area.
	*(*uint32)(phys(fxArea(idle) + 24)) = 0x1F80
	*(*uint32)(phys(fxArea(idle) + 28)) = 0xFFFF
	cur = 0
	curFX = fxArea(0)
	buildStack()
}
