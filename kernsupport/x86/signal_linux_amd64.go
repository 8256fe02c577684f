//go:build linux && amd64

package x86

// Linux-style signal delivery: a frame holding the return address
// (sa_restorer), a ucontext with the interrupted registers in Linux's
// sigcontext order, a siginfo and the FXSAVE image, built on the thread's
// alternate signal stack when it has one and the handler asked for it, as
// the Go runtime does (SA_ONSTACK, with a per-M gsignal stack). The
// handler may edit the ucontext (the runtime does, to inject asyncPreempt
// or sigpanic); rt_sigreturn resumes whatever the ucontext then holds.

const (
	saOnStack  = 0x08000000
	saNoDefer  = 0x40000000
	ssOnStack  = 1
	ssDisable  = 2
	ucSize     = 304 // flags, link, stack_t, sigcontext, sigmask
	infoSize   = 128
	fpSize     = 512
	mcontextAt = 40 // offset of the sigcontext in the ucontext
	sigmaskAt  = 296
)

// deliverSignals starts the handler of one pending, unblocked signal of
// the current thread, if any.
//
//go:nosplit
func deliverSignals() {
	if cur == idle {
		return
	}
	t := &threads[cur&(maxThreads-1)]
	p := t.pending &^ t.sigmask
	if p == 0 {
		return
	}
	sig := uint64(1)
	for p&1 == 0 {
		p >>= 1
		sig++
	}
	t.pending &^= 1 << (sig - 1)
	if sigactions[sig&127].handler <= 1 {
		return // default or ignored: the runtime installs handlers for what it sends
	}
	pushSignalFrame(t, sig, -6, 0) // SI_TKILL
}

// postFault delivers a synchronous fault signal.
//
//go:nosplit
func postFault(t *thread, sig, addr uint64) bool {
	if t.sigmask&(1<<(sig-1)) != 0 {
		return false
	}
	return pushSignalFrame(t, sig, 1, addr) // SEGV_MAPERR / FPE_INTDIV / BUS_ADRALN
}

//go:nosplit
//go:noinline
func pushSignalFrame(t *thread, sig uint64, code int32, addr uint64) bool {
	a := &sigactions[sig&127]
	tf := &t.tf
	sp := tf.RSP - 128 // below the red zone
	onAlt := t.altSize != 0 && tf.RSP > t.altSP && tf.RSP <= t.altSP+t.altSize
	if a.flags&saOnStack != 0 && t.altFlags&ssDisable == 0 && t.altSize != 0 && !onAlt {
		sp = t.altSP + t.altSize
	}
	fp := (sp - fpSize) &^ 63
	frame := ((fp - 8 - ucSize - infoSize) &^ 15) - 8
	uc := frame + 8
	info := uc + ucSize
	// Page the frame in before writing it: a page fault taken here, in
	// the page-fault handler, would reuse its interrupt stack.
	if frame > sp || !userRange(frame, sp-frame) || !prefault(frame, sp-frame) {
		return false
	}
	stats.Signals++
	// FPU state.
	copyWords(fp, fxArea(cur), fpSize)
	// siginfo
	for i := uint64(0); i < infoSize; i += 8 {
		setU64(info+i, 0)
	}
	*(*int32)(phys(info)) = int32(sig)
	*(*int32)(phys(info + 8)) = code
	if code == -6 {
		*(*int32)(phys(info + 16)) = 1 // si_pid
	} else {
		setU64(info+16, addr)
	}
	// ucontext
	setU64(uc, 0)
	setU64(uc+8, 0)
	setU64(uc+16, t.altSP)
	flags := uint64(t.altFlags)
	if onAlt {
		flags |= ssOnStack
	}
	setU64(uc+24, flags)
	setU64(uc+32, t.altSize)
	mc := uc + mcontextAt
	g := (*[32]uint64)(phys(mc))
	g[0] = tf.R8
	g[1] = tf.R9
	g[2] = tf.R10
	g[3] = tf.R11
	g[4] = tf.R12
	g[5] = tf.R13
	g[6] = tf.R14
	g[7] = tf.R15
	g[8] = tf.RDI
	g[9] = tf.RSI
	g[10] = tf.RBP
	g[11] = tf.RBX
	g[12] = tf.RDX
	g[13] = tf.RAX
	g[14] = tf.RCX
	g[15] = tf.RSP
	g[16] = tf.RIP
	g[17] = tf.RFLAGS
	g[18] = tf.CS
	g[19] = tf.Err
	g[20] = tf.Vector
	g[21] = t.sigmask
	g[22] = addr
	g[23] = fp
	for i := 24; i < 32; i++ {
		g[i&31] = 0
	}
	setU64(uc+sigmaskAt, t.sigmask)
	setU64(frame, a.restorer)

	if a.flags&saNoDefer == 0 {
		t.sigmask |= 1 << (sig - 1)
	}
	t.sigmask |= a.mask
	tf.RIP = a.handler
	tf.RDI = sig
	tf.RSI = info
	tf.RDX = uc
	tf.RAX = 0
	tf.RSP = frame
	tf.RFLAGS = tf.RFLAGS&^0x400 | 0x200 // DF clear, IF set
	return true
}

// sigreturn resumes the context in the ucontext the handler returned
// with (its restorer's stack pointer points at it).
//
//go:nosplit
//go:noinline
func sigreturn(t *thread) {
	uc := t.tf.RSP
	if !userRange(uc, ucSize) || !prefault(uc, ucSize) {
		badSigreturn(t)
		return
	}
	g := (*[32]uint64)(phys(uc + mcontextAt))
	tf := &t.tf
	tf.R8, tf.R9, tf.R10, tf.R11 = g[0], g[1], g[2], g[3]
	tf.R12, tf.R13, tf.R14, tf.R15 = g[4], g[5], g[6], g[7]
	tf.RDI, tf.RSI, tf.RBP, tf.RBX = g[8], g[9], g[10], g[11]
	tf.RDX, tf.RAX, tf.RCX, tf.RSP = g[12], g[13], g[14], g[15]
	tf.RIP = g[16]
	// Only the arithmetic flags are the handler's to change.
	tf.RFLAGS = g[17]&0xDD5 | 0x202
	tf.CS, tf.SS = KernelCS, KernelDS
	t.sigmask = u64(uc + sigmaskAt)
	if fp := g[23]; fp != 0 {
		if !userRange(fp, fpSize) || !prefault(fp, fpSize) {
			badSigreturn(t)
			return
		}
		copyWords(fxArea(cur), fp, fpSize)
	}
}

// badSigreturn ends the program whose rt_sigreturn found no signal frame
// at its stack pointer (Linux kills it with SIGSEGV): trap stops the
// machine on its way out.
//
//go:nosplit
func badSigreturn(t *thread) {
	fatal = fatalSigreturn
}
