//go:build linux && amd64

package x86

import "unsafe"

// Linux amd64 system-call numbers the runtime uses.
const (
	nrRead          = 0
	nrWrite         = 1
	nrClose         = 3
	nrMmap          = 9
	nrMprotect      = 10
	nrMunmap        = 11
	nrRtSigaction   = 13
	nrRtSigprocmask = 14
	nrRtSigreturn   = 15
	nrSchedYield    = 24
	nrMadvise       = 28
	nrNanosleep     = 35
	nrGetpid        = 39
	nrClone         = 56
	nrExit          = 60
	nrFcntl         = 72
	nrSigaltstack   = 131
	nrPrctl         = 157
	nrArchPrctl     = 158
	nrGettid        = 186
	nrTkill         = 200
	nrFutex         = 202
	nrSchedGetaff   = 204
	nrClockGettime  = 228
	nrExitGroup     = 231
	nrTgkill        = 234
	nrOpenat        = 257
	nrGetrandom     = 318
	// nrPhysAlloc is the kit's own system call: carve a0 bytes of
	// contiguous physical memory out of the frame allocator for the
	// platform's lmm arena (NewPlatform).
	nrPhysAlloc = 0x6b00
	// nrFaultTest makes the kernel read a0 in its own code without the
	// checks system calls make: a test of the kernel-fault dump.
	nrFaultTest = 0x6b01
	nrUname     = 63
	nrPrlimit64 = 302
)

const (
	vecPF      = 14
	vecTimer   = 32
	vecSyscall = 0x100
)

// trap is called by trapCommon for every kernel entry with the frame of the
// interrupted context; whatever context is in the frame when it returns is
// resumed.
//
//go:nosplit
func trap(tf *trapFrame) {
	if depth > 1 {
		nestedTrap(tf)
		return
	}
	t := &threads[cur&(maxThreads-1)]
	t.tf = *tf
	switch v := tf.Vector; {
	case v == vecSyscall && tf.RAX == nrRtSigreturn:
		stats.Syscalls++
		sigreturn(t) // here, not in doSyscall: its chain of frames is deep
	case v == vecSyscall:
		stats.Syscalls++
		doSyscall(t)
	case v == vecTimer:
		stats.Interrupts++
		ticks++
		outb(0x20, 0x20)
		wakeExpired()
		schedule()
	case v == vecPF:
		stats.PageFaults++
		addr := readCR2()
		if !demandPage(addr) && fatal == 0 {
			fault(t, addr)
		}
	case v == vecSerial:
		stats.Interrupts++
		serialInterrupt()
		outb(0x20, 0x20)
		schedule()
	case v >= 32 && v < 48:
		stats.Interrupts++
		if v >= 40 {
			outb(0xA0, 0x20)
		}
		outb(0x20, 0x20)
	default:
		fault(t, readCR2())
	}
	if fatal != 0 {
		dump(fatalText(fatal), &t.tf)
		exit(3)
	}
	deliverSignals()
	nt := &threads[cur&(maxThreads-1)]
	*tf = nt.tf
}

// Fatal conditions found deep in a handler, reported by trap.
const (
	fatalSigreturn = 1 + iota
	fatalOOM
)

// fatal is set by a handler that found the program beyond help.
var fatal uint64

//go:nosplit
func fatalText(code uint64) string {
	switch code {
	case fatalSigreturn:
		return "rt_sigreturn without a valid signal frame"
	case fatalOOM:
		return "out of physical memory"
	}
	return "fatal condition"
}

// nestedTrap handles a trap taken inside the kernel: a page fault on user
// memory a system call touches is paged in; anything else is fatal.
//
//go:nosplit
func nestedTrap(tf *trapFrame) {
	if tf.Vector == vecPF {
		stats.PageFaults++
		if demandPage(readCR2()) {
			return
		}
	}
	if fatal != 0 {
		puts("\ngoskit: ")
		puts(fatalText(fatal))
	}
	dump("kernel fault in trap path", tf)
	exit(3)
}

// fault handles an exception in a thread: one the runtime can turn into a
// panic becomes a signal; the rest are fatal.
//
//go:nosplit
func fault(t *thread, addr uint64) {
	sig := uint64(0)
	switch t.tf.Vector {
	case 0:
		sig = 8 // SIGFPE
	case 6:
		sig = 4 // SIGILL
	case 13, 14:
		sig = 11 // SIGSEGV
	case 17:
		sig = 7 // SIGBUS
	}
	if sig != 0 && t.tf.RIP >= 0x400000 && sigactions[sig&127].handler > 1 && int64(cur) != int64(idle) {
		if postFault(t, sig, addr) {
			return
		}
	}
	dump("unhandled exception", &t.tf)
	exit(3)
}

// dump prints a fault over the serial console.
//
//go:nosplit
//go:noinline
func dump(why string, tf *trapFrame) {
	puts("\ngoskit: ")
	puts(why)
	puts(": vector ")
	putDec(tf.Vector)
	puts(" error ")
	putHex(tf.Err)
	puts(" cr2 ")
	putHex(readCR2())
	puts("\n rip ")
	putHex(tf.RIP)
	puts(" rsp ")
	putHex(tf.RSP)
	puts(" rflags ")
	putHex(tf.RFLAGS)
	puts(" tid ")
	putDec(uint64(threads[cur&(maxThreads-1)].tid))
	puts("\n rax ")
	putHex(tf.RAX)
	puts(" rbx ")
	putHex(tf.RBX)
	puts(" rcx ")
	putHex(tf.RCX)
	puts(" rdx ")
	putHex(tf.RDX)
	puts("\n rsi ")
	putHex(tf.RSI)
	puts(" rdi ")
	putHex(tf.RDI)
	puts(" rbp ")
	putHex(tf.RBP)
	puts(" r8  ")
	putHex(tf.R8)
	puts("\n r9  ")
	putHex(tf.R9)
	puts(" r10 ")
	putHex(tf.R10)
	puts(" r11 ")
	putHex(tf.R11)
	puts(" r12 ")
	putHex(tf.R12)
	puts("\n r13 ")
	putHex(tf.R13)
	puts(" r14 ")
	putHex(tf.R14)
	puts(" r15 ")
	putHex(tf.R15)
	puts("\n")
}

// ---- scheduler ----

// schedule makes the next runnable thread after the current one current
// (round robin), or the idle thread when none is.
//
//go:nosplit
//go:noinline
func schedule() {
	next := idle
	for i := uint64(1); i <= maxThreads; i++ {
		j := (cur + i) & (maxThreads - 1)
		if j != idle && threads[j].state == thRunnable {
			next = j
			break
		}
	}
	switchTo(next)
}

//go:nosplit
func switchTo(next uint64) {
	next &= maxThreads - 1
	if next != cur {
		stats.ContextSwitches++
	}
	cur = next
	curFX = fxArea(next)
	wrmsr(0xC0000100, threads[next].fsbase)
}

// wakeExpired wakes the threads whose sleep or futex wait has timed out.
//
//go:nosplit
//go:noinline
func wakeExpired() {
	now := nanotime()
	for i := range threads {
		t := &threads[i]
		if (t.state == thFutex || t.state == thSleep || t.state == thEpoll) && t.deadline != 0 && now >= t.deadline {
			if t.state == thFutex {
				t.tf.RAX = neg(eTIMEDOUT)
			} else {
				t.tf.RAX = 0
			}
			t.state = thRunnable
			t.deadline = 0
		}
	}
}

// block takes the current thread off the CPU until woken.
//
//go:nosplit
func block(t *thread, state uint32, deadline int64) {
	t.state = state
	t.deadline = deadline
	schedule()
}

// ---- system calls ----

//go:nosplit
func doSyscall(t *thread) {
	tf := &t.tf
	a0, a1, a2, a3, a4 := tf.RDI, tf.RSI, tf.RDX, tf.R10, tf.R8
	var r uint64
	if !argsValid(tf.RAX, a0, a1, a2, a3) {
		tf.RAX = neg(eFAULT)
		return
	}
	switch tf.RAX {
	case nrFaultTest:
		r = u64(a0)
	case nrUname:
		uname(a0)
	case nrPrlimit64:
		if a3 != 0 {
			lim := uint64(1<<64 - 1) // RLIM_INFINITY
			cur := lim
			if a1 == 7 { // RLIMIT_NOFILE: the descriptor table's size
				cur, lim = maxFDs, maxFDs
			}
			setU64(a3, cur)
			setU64(a3+8, lim)
		}
	case nrWrite:
		if a0 < maxFDs && fdKind[a0] == fdEvent {
			r = eventWrite(a0, a1, a2)
		} else if a0 == 1 || a0 == 2 {
			for i := uint64(0); i < a2; i++ {
				putc(*(*byte)(phys(a1 + i)))
			}
			r = a2
		} else {
			r = neg(eBADF)
		}
	case nrRead:
		if a0 < maxFDs && fdKind[a0] == fdEvent {
			r = eventRead(a0, a1, a2)
		} else if a0 <= 2 {
			consoleRead(t, a1, a2)
			return
		} else {
			r = neg(eBADF)
		}
	case nrClose:
		r = closeFD(a0)
	case nrEventfd2:
		r = newFD(fdEvent)
		if int64(r) >= 0 {
			fdCount[r&(maxFDs-1)] = a0 & 0xFFFFFFFF
		}
	case nrEpollCr1:
		r = newFD(fdEpoll)
	case nrEpollCtl:
		r = epollCtl(a0, a1, a2, a3)
	case nrEpollWait, nrEpollPwait:
		epollWait(t, a0, a1, a2, a3)
		return
	case nrMmap:
		r = sysMmap(a0, a1, a2, tf.R10, a4)
	case nrMunmap:
		r = sysMunmap(a0, a1)
	case nrMprotect:
		r = sysMprotect(a0, a1, a2)
	case nrMadvise:
		const madvDontneed, madvFree = 4, 8
		if (a2 == madvDontneed || a2 == madvFree) && a0 >= userBottom && a0&(PageSize-1) == 0 {
			unmapPages(a0, a0+((a1+PageSize-1)&^(PageSize-1)))
		}
		r = 0
	case nrRtSigaction:
		r = sysSigaction(a0, a1, a2)
	case nrRtSigprocmask:
		r = sysSigprocmask(t, a0, a1, a2)
	case nrSigaltstack:
		if a1 != 0 {
			setU64(a1, t.altSP)
			*(*uint32)(phys(a1 + 8)) = t.altFlags
			setU64(a1+16, t.altSize)
		}
		if a0 != 0 {
			t.altSP, t.altFlags, t.altSize = u64(a0), u32(a0+8), u64(a0+16)
		}
		r = 0
	case nrArchPrctl:
		const setFS, getFS = 0x1002, 0x1003
		switch a0 {
		case setFS:
			// The kernel's own Go code reads the g slot at -8(FS) on
			// every entry: refuse a base without one.
			if a1 < 8 || !userRange(a1-8, 8) || !prefault(a1-8, 8) {
				r = neg(eFAULT)
				break
			}
			t.fsbase = a1
			wrmsr(0xC0000100, a1)
		case getFS:
			setU64(a1, t.fsbase)
		default:
			r = neg(eINVAL)
		}
	case nrGettid:
		r = uint64(t.tid)
	case nrGetpid:
		r = 1
	case nrSchedGetaff:
		if a1 < 8 {
			r = neg(eINVAL)
		} else {
			setU64(a2, 1)
			r = 8
		}
	case nrOpenat:
		r = neg(eNOENT)
	case nrFcntl:
		const getFL = 3
		switch {
		case !fdValid(a0):
			r = neg(eBADF)
		case a1 == getFL:
			r = 2 // O_RDWR
		default:
			r = 0
		}
	case nrPrctl:
		r = 0
	case nrClockGettime:
		now := uint64(nanotime())
		if a0 == 0 || a0 == 5 { // CLOCK_REALTIME, CLOCK_REALTIME_COARSE
			now += uint64(wallBase)
		}
		setU64(a1, now/1e9)
		setU64(a1+8, now%1e9)
		r = 0
	case nrNanosleep:
		d := int64(u64(a0))*1e9 + int64(u64(a0+8))
		block(t, thSleep, nanotime()+d+1)
		return
	case nrSchedYield:
		tf.RAX = 0
		schedule()
		return
	case nrFutex:
		futex(t, a0, a1, a2, a3)
		return
	case nrClone:
		r = clone(t, a0, a1, a4)
	case nrExit:
		t.state = thFree
		schedule()
		return
	case nrExitGroup:
		exit(a0 & 0xFF)
	case nrTkill:
		r = kill(a0, a1)
	case nrTgkill:
		r = kill(a1, a2)
	case nrPhysAlloc:
		r = physAlloc(a0)
	case nrGetrandom:
		for i := uint64(0); i < a1; i++ {
			*(*byte)(phys(a0 + i)) = byte(random())
		}
		r = a1
	default:
		n := tf.RAX
		logged := true
		if n < 64*uint64(len(unknownSys)) {
			logged = unknownSys[n/64&15]&(1<<(n%64)) != 0
			unknownSys[n/64&15] |= 1 << (n % 64)
		} else if unknownBig < 16 {
			// Numbers past the bitmap: log the first few calls only.
			unknownBig++
			logged = false
		}
		if !logged {
			puts("goskit: unknown system call ")
			putDec(n)
			puts(", returning ENOSYS\n")
		}
		r = neg(eNOSYS)
	}
	tf.RAX = r
}

// physAlloc takes size bytes (rounded up to pages) from the top of the
// first usable range with room for them, below what the frame allocator
// has handed out.
//
//go:nosplit
//go:noinline
func physAlloc(size uint64) uint64 {
	size = (size + PageSize - 1) &^ (PageSize - 1)
	if size == 0 || size > 1<<40 {
		return neg(eINVAL)
	}
	for i := 0; i < nranges && i < maxRanges; i++ {
		r := &ranges[i&(maxRanges-1)]
		if r.end-r.next >= size {
			r.end -= size
			return r.end
		}
	}
	return neg(eNOMEM)
}

// userRange reports whether the kernel may touch [addr, addr+n) for a
// system call: memory of the identity map above page 0 (the program's
// image, static data and first stack), or pages of accessible mappings
// (paged in on touch). Anything else gets EFAULT, as on Linux, instead of
// a fault inside the kernel.
//
//go:nosplit
//go:noinline
func userRange(addr, n uint64) bool {
	if n == 0 {
		return true
	}
	end := addr + n
	if end < addr {
		return false
	}
	for addr < end {
		if addr < userBottom {
			if addr < PageSize {
				return false
			}
			addr = userBottom
			continue
		}
		m, ok := mappings.Find(addr)
		if !ok || m.Prot == 0 {
			return false
		}
		addr = m.End
	}
	return true
}

// argsValid checks the pointer arguments of the system calls that have
// them.
//
//go:nosplit
//go:noinline
func argsValid(nr, a0, a1, a2, a3 uint64) bool {
	switch nr {
	case nrWrite, nrRead:
		return userRange(a1, a2)
	case nrEpollCtl:
		return userRange(a3, 12)
	case nrEpollWait, nrEpollPwait:
		return a2 <= 1<<20 && userRange(a1, a2*12)
	case nrRtSigaction:
		return optRange(a1, 32) && optRange(a2, 32)
	case nrRtSigprocmask:
		return optRange(a1, 8) && optRange(a2, 8)
	case nrSigaltstack:
		return optRange(a0, 24) && optRange(a1, 24)
	case nrArchPrctl:
		return a0 != 0x1003 || userRange(a1, 8)
	case nrSchedGetaff:
		return userRange(a2, 8)
	case nrClockGettime:
		return userRange(a1, 16)
	case nrNanosleep:
		return userRange(a0, 16)
	case nrFutex:
		return userRange(a0, 4) && (a1&127 != 0 || optRange(a3, 16))
	case nrGetrandom:
		return userRange(a0, a1)
	case nrPrlimit64:
		return optRange(a2, 16) && optRange(a3, 16)
	case nrUname:
		return userRange(a0, 6*65)
	}
	return true
}

// prefault maps the pages of [addr, addr+n) that are mapped but not yet
// present, so that the kernel can then touch them without a page fault.
// userRange must have accepted the range.
//
//go:nosplit
//go:noinline
func prefault(addr, n uint64) bool {
	for va := addr &^ (PageSize - 1); va < addr+n; va += PageSize {
		if va < userBottom {
			continue
		}
		if ep := walk(va, false); ep != 0 && u64(ep)&PTEPresent != 0 {
			continue
		}
		if !demandPage(va) {
			return false
		}
	}
	return true
}

// optRange is userRange for an optional pointer (0: none).
//
//go:nosplit
func optRange(p, n uint64) bool { return p == 0 || userRange(p, n) }

// uname fills a struct utsname: a Linux system-call personality, so
// "Linux", with the kit named in the release.
//
//go:nosplit
//go:noinline
func uname(p uint64) {
	for i := uint64(0); i < 6; i++ {
		f := unameField(i)
		dst := p + i*65
		for j := uint64(0); j < 65; j++ {
			c := byte(0)
			if j < uint64(len(f)) {
				c = f[j]
			}
			*(*byte)(phys(dst + j)) = c
		}
	}
}

//go:nosplit
func unameField(i uint64) string {
	switch i {
	case 0:
		return "Linux"
	case 1:
		return "goskit"
	case 2:
		return "6.1.0-goskit"
	case 3:
		return "#1"
	case 4:
		return "x86_64"
	}
	return "(none)"
}

//go:nosplit
//go:noinline
func futex(t *thread, addr, op, val, timeout uint64) {
	const wait, wake, private = 0, 1, 128
	switch op &^ private {
	case wait:
		if uint64(u32(addr)) != val&0xFFFFFFFF {
			t.tf.RAX = neg(eAGAIN)
			return
		}
		var deadline int64
		if timeout != 0 {
			deadline = nanotime() + int64(u64(timeout))*1e9 + int64(u64(timeout+8))
			if deadline == 0 {
				deadline = 1
			}
		}
		t.waitAddr = addr
		t.tf.RAX = 0
		block(t, thFutex, deadline)
	case wake:
		n := uint64(0)
		for i := range threads {
			w := &threads[i]
			if n < val && w.state == thFutex && w.waitAddr == addr {
				w.state = thRunnable
				w.deadline = 0
				w.tf.RAX = 0
				n++
			}
		}
		t.tf.RAX = n
	default:
		t.tf.RAX = neg(eNOSYS)
	}
}

//go:nosplit
//go:noinline
func clone(t *thread, flags, stack, tls uint64) uint64 {
	const cloneSettls = 0x80000
	for i := uint64(0); i < maxThreads; i++ {
		if i == idle || threads[i].state != thFree {
			continue
		}
		c := &threads[i]
		nextTID++
		c.state, c.tid, c.fsbase, c.sigmask = thRunnable, nextTID, t.fsbase, t.sigmask
		copyWords(uint64(uintptr(unsafe.Pointer(&c.tf))), uint64(uintptr(unsafe.Pointer(&t.tf))), uint64(unsafe.Sizeof(c.tf)))
		c.waitAddr, c.deadline, c.pending = 0, 0, 0
		c.altSP, c.altSize, c.altFlags = 0, 0, ssDisable
		c.tf.RAX = 0
		c.tf.RSP = stack
		if flags&cloneSettls != 0 {
			c.fsbase = tls
		}
		// The parent's SSE state was saved on entry; the child starts
		// with a copy.
		copyWords(fxArea(i), curFX, 512)
		return uint64(c.tid)
	}
	return neg(eAGAIN)
}

//go:nosplit
//go:noinline
func sysSigaction(sig, act, oact uint64) uint64 {
	if sig == 0 || sig >= 65 || sig == 9 || sig == 19 {
		return neg(eINVAL)
	}
	a := &sigactions[sig&127]
	if oact != 0 {
		setU64(oact, a.handler)
		setU64(oact+8, a.flags)
		setU64(oact+16, a.restorer)
		setU64(oact+24, a.mask)
	}
	if act != 0 {
		a.handler, a.flags, a.restorer, a.mask = u64(act), u64(act+8), u64(act+16), u64(act+24)
	}
	return 0
}

//go:nosplit
//go:noinline
func sysSigprocmask(t *thread, how, set, oset uint64) uint64 {
	if oset != 0 {
		setU64(oset, t.sigmask)
	}
	if set != 0 {
		m := u64(set)
		switch how {
		case 0: // SIG_BLOCK
			t.sigmask |= m
		case 1: // SIG_UNBLOCK
			t.sigmask &^= m
		case 2: // SIG_SETMASK
			t.sigmask = m
		default:
			return neg(eINVAL)
		}
	}
	return 0
}

// kill marks signal sig pending on the thread with id tid.
//
//go:nosplit
//go:noinline
func kill(tid, sig uint64) uint64 {
	if sig == 0 || sig >= 65 {
		return neg(eINVAL)
	}
	for i := range threads {
		t := &threads[i]
		if t.state != thFree && uint64(t.tid) == tid && uint64(i) != idle {
			t.pending |= 1 << (sig - 1)
			return 0
		}
	}
	return neg(eSRCH)
}
