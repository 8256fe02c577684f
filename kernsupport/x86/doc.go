// Package x86 provides the bare-metal x86-64 platform layer: the PVH entry
// a boot loader (QEMU's -kernel) jumps to, the descriptors (GDT, TSS with
// interrupt stacks, IDT), paging and a virtual-memory manager, the PIT
// timer and a TSC clock calibrated against it, the 16550 serial console,
// exit through QEMU's isa-debug-exit, and beneath them a Linux system-call
// personality so that an ordinary GOOS=linux GOARCH=amd64 Go program runs
// on the bare machine: the runtime's SYSCALL instructions land in this
// package's handler.
//
// # How a kernel boots
//
// cmd/mkimage rewrites the Go build-id note of a statically linked
// linux/amd64 binary into a Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY) naming
// pvhEntry, the package's assembly entry. QEMU loads the ELF and starts
// pvhEntry in 32-bit protected mode with EBX pointing at the hvm_start_info
// block. With a Multiboot header added (qemu.AddMultiboot, mkimage
// -multiboot: the OSKit's way, and QEMU's -initrd then passes any number
// of boot modules) the same entry is started by a Multiboot loader, and
// the kernel reads the Multiboot information instead. The entry builds page tables identity-mapping the low 4 GiB,
// enters long mode, sets the FS base to a dummy TLS block (so that no Go
// code ever runs with an invalid g slot), loads the descriptors and the
// SYSCALL MSRs (STAR, LSTAR, FMASK), starts the timer, lays out a Linux
// process stack (argc, argv from the boot command line, envp from its
// NAME=value words, auxv with AT_PAGESZ and AT_RANDOM) and jumps to the
// runtime's own _rt0_amd64_linux. The program's main then sees os.Args as
// a hosted kernel does, and BootInfo parses the start info into boot.Info.
//
// # The system-call layer
//
// Everything runs in ring 0 on one CPU. A system call or interrupt saves
// the interrupted thread's registers (and SSE state, with FXSAVE) into its
// thread slot; the kernel decides, with interrupts masked, and resumes a
// thread with IRETQ. Threads from clone are real: a preemptive round-robin
// scheduler runs them on the 1 kHz PIT tick, futex waits block with
// optional timeouts, nanosleep sleeps, and an idle thread halts the CPU.
// mmap, munmap, mprotect and madvise keep a list of mappings and map
// zeroed frames on first touch (demand paging); frames come from the usable
// ranges of the boot memory map above the kernel image. Signals the
// runtime relies on are delivered with a Linux signal frame and
// rt_sigreturn: SIGURG from tgkill (asynchronous preemption), and SIGSEGV,
// SIGBUS, SIGFPE, SIGILL from CPU exceptions in Go code, so a nil
// dereference is the recoverable panic it is hosted. An unknown system
// call is logged once and returns ENOSYS. Pointer arguments are checked
// against the mappings: a bad one gets EFAULT, as on Linux. A fault the
// kernel cannot hand to Go (in its own trap or system-call path, a double
// fault, an exception with no handler installed) prints a register dump on
// the serial console and exits with status 3; so does running out of
// physical memory.
//
// The runtime's network poller gets an epoll instance and an eventfd (for
// its timers and wake-ups); other descriptors do not exist yet: openat
// answers ENOENT. NewPlatform gives a kernel the kit's
// kernsupport.Platform on the bare machine (serial console, TSC clock,
// an lmm-managed arena of physical memory); the wall clock comes from the
// CMOS real-time clock.
//
// Limits of this first version: one CPU; 64 threads; 512 mappings
// (package vmlist); physical memory below 4 GiB (the identity map); no
// device interrupts but the timer and the serial port's receiver (console
// input: read on fds 0-2 blocks until a byte arrives); user memory is not protected from the
// kernel nor read-only pages from writes (everything runs in ring 0).
//
// # Discipline beneath the runtime
//
// The code that runs before the runtime starts or inside a trap runs on
// the kernel's own stack with interrupts masked and no goroutine of its
// own, so it is written under rules the compiler cannot check: every
// function is //go:nosplit (a stack-growth check would consult a g), it
// allocates nothing, takes no locks, calls only other nosplit functions
// and assembly, and never stores a Go pointer (the machine state holds
// addresses as uint64 in global arrays without pointers, so no write
// barrier can run). Physical memory is reached through the identity map
// with phys. Indexes are masked so that the compiler emits no bounds
// checks (a failing one would call into the runtime's panic path); the
// linker's nosplit check bounds the stack every chain of these functions
// uses, which is why deep work (register dumps for fatal conditions) is
// done at the top of the trap handler rather than where the condition is
// found. The kernel never takes a page fault inside its page-fault
// handler (which runs on its own interrupt stack and would overwrite
// itself): memory a handler writes for the program, such as a signal
// frame, is paged in first. The exported functions (BareMetal, BootInfo, ReadStats...)
// are ordinary Go, called by the program once the runtime is up.
//
// # Execution environment
//
// This is the one place the kit keeps global state: one machine has one
// IDT, one SYSCALL entry and one scheduler. In a hosted process (the same
// binary run by Linux) the entry never runs, BareMetal reports false and
// the functions are inert. The machine layer exists only for linux/amd64;
// on other platforms the package offers the same API in inert form (the
// program is always hosted there) and the pure encodings.
package x86

import "errors"

// ErrNotBareMetal is returned by functions that need the bare machine when
// the program runs hosted.
var ErrNotBareMetal = errors.New("x86: not running on bare metal")

// Stats are counters of the bare-metal kernel.
type Stats struct {
	Syscalls, Interrupts, PageFaults, ContextSwitches, Signals uint64
	// BootTSC is the TSC when the kernel started, TSCPerSecond its rate.
	BootTSC, TSCPerSecond uint64
}
