// Package kernsupport defines the platform that goskit components run on: the
// execution environment (the OSKit's osenv) a kernel hands its drivers and
// components. A platform provides a console, a clock with timers, interrupt
// lines, a physical-memory arena, logging and halt.
//
// Implementations: kernsupport/hosted runs a kernel as a Linux process (an
// interrupt line is a host file descriptor becoming ready, the console is
// stdio, physical memory is a memfd). A bare-metal platform provides the same
// interfaces over descriptors, vectors and the boot memory map.
//
// kernsupport builds on lmm (physical memory is managed by a list memory
// manager) and nothing else of the kit.
//
// # Execution environment
//
// Every interface here is safe for concurrent use. IRQ waits block the
// calling goroutine only; nothing in a platform holds global state, so two
// kernels can run in one process with two platforms.
package kernsupport

import (
	"errors"
	"io"
	"time"

	"github.com/goskit/goskit/lmm"
)

// Platform is what a kernel gets from the machine it runs on.
type Platform interface {
	// Console is the kernel's console: stdin, stdout and stderr of a hosted
	// kernel, the serial port of a bare-metal one.
	Console() Console
	// Clock is the kernel's time source.
	Clock() Clock
	// Logf writes a diagnostic line to the platform's log.
	Logf(format string, args ...any)
	// Memory is the kernel's physical memory.
	Memory() Memory
	// Close releases everything the platform holds (memory arena, interrupt
	// lines it opened). It does not exit the process; see Halter.
	Close() error
}

// Memory is a platform's physical memory, managed by a list memory manager
// (the OSKit's osenv mem_alloc over phys_lmm): addresses are physical, and
// Bytes gives the kernel's view of them. Allocation constraints are lmm's:
// flags a region must have (lmm.Below16MB for ISA DMA, say) and alignment.
type Memory interface {
	// Alloc returns the address of size bytes whose low alignBits bits are
	// zero, from regions with every flag in flags. The memory's contents
	// are whatever was there.
	Alloc(size uint64, flags lmm.Flags, alignBits uint) (uint64, error)
	// Free returns [addr, addr+size) to the free memory. Freeing memory that
	// is free already, or outside physical memory, is an error.
	Free(addr, size uint64) error
	// Bytes returns the kernel's view of [addr, addr+size), which must lie
	// inside physical memory. The slice stays valid until the platform is
	// closed.
	Bytes(addr, size uint64) ([]byte, error)
	// Avail returns how many bytes are free in regions with every flag in
	// flags.
	Avail(flags lmm.Flags) uint64
}

// Console is a character device: writes appear immediately (unbuffered, as
// the OSKit's console printf), reads block for input.
type Console interface {
	io.Reader
	io.Writer
}

// Clock tells time and runs timers.
type Clock interface {
	// Now is the time since the platform started, monotonic.
	Now() time.Duration
	// Wall is the wall-clock time.
	Wall() time.Time
	// AfterFunc calls f in its own goroutine after d and returns a timer that
	// can stop it.
	AfterFunc(d time.Duration, f func()) Timer
	// Sleep blocks for d.
	Sleep(d time.Duration)
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started and reports whether it
	// did so.
	Stop() bool
}

// IRQ is an interrupt line a driver waits on. The interface is built so that
// no interrupt is ever lost between a driver's look at its device and its
// wait: the platform calls the driver's poll function, and only when poll
// finds nothing to do does it wait for the line, then polls again.
type IRQ interface {
	// WaitRead calls poll until it returns true, waiting for the line's
	// "input ready" signal between calls. It returns ErrIRQClosed once the
	// line is closed.
	WaitRead(poll func() bool) error
	// WaitWrite is WaitRead for "output space ready".
	WaitWrite(poll func() bool) error
	// Close releases the line and makes pending and future waits return
	// ErrIRQClosed.
	Close() error
}

// ErrIRQClosed is returned by waits on a closed interrupt line.
var ErrIRQClosed = errors.New("kernsupport: interrupt line closed")

// Halter is implemented by platforms that can stop the machine with an exit
// status (a hosted process exits; a bare-metal kernel powers off or signals
// its emulator).
type Halter interface {
	Halt(status int)
}

// FDIRQer is an optional Platform interface, implemented by hosted platforms:
// it gives a driver an interrupt line that fires when a host file descriptor
// is ready, so that hosted drivers wait the way bare-metal ones do and the
// platform can close lines its drivers leave open. Find it by type assertion:
//
//	if p, ok := plat.(kernsupport.FDIRQer); ok { irq, err := p.FDIRQ(fd, "tap0") }
type FDIRQer interface {
	// FDIRQ makes an interrupt line of fd, which it takes ownership of:
	// closing the line, or the platform, closes fd. On error fd is left
	// open and stays the caller's. name labels the line in errors and logs.
	FDIRQ(fd int, name string) (IRQ, error)
}
