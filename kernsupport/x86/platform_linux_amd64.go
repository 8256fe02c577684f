//go:build linux && amd64

package x86

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/goskit/goskit/kernsupport"
	"github.com/goskit/goskit/lmm"
)

// DefaultArenaSize is the physical-memory arena NewPlatform takes when
// asked for 0 bytes.
const DefaultArenaSize = 16 << 20

// Platform is the bare-metal kernsupport.Platform: the serial console,
// the TSC clock with the runtime's timers, and a physical-memory arena
// carved from the boot memory map and managed by lmm.
type Platform struct {
	mu         sync.Mutex
	mem        *lmm.LMM
	base, size uint64
	clock      clock
}

var (
	_ kernsupport.Platform = (*Platform)(nil)
	_ kernsupport.Memory   = (*Platform)(nil)
	_ kernsupport.Halter   = (*Platform)(nil)
)

// NewPlatform returns the platform of the bare machine, with an arena of
// arenaSize bytes (DefaultArenaSize for 0) of contiguous physical memory
// taken from the kernel's frame allocator for good: closing the platform
// does not give it back. It fails with ErrNotBareMetal in a hosted
// process (use kernsupport/hosted there).
func NewPlatform(arenaSize uint64) (*Platform, error) {
	if !BareMetal() {
		return nil, ErrNotBareMetal
	}
	if arenaSize == 0 {
		arenaSize = DefaultArenaSize
	}
	arenaSize = (arenaSize + PageSize - 1) &^ (PageSize - 1)
	r, _, e := syscall.Syscall(nrPhysAlloc, uintptr(arenaSize), 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("x86: physical arena of %d bytes: %w", arenaSize, e)
	}
	m := lmm.NewPC()
	if err := m.AddFree(uint64(r), arenaSize); err != nil {
		return nil, fmt.Errorf("x86: physical arena: %w", err)
	}
	return &Platform{mem: m, base: uint64(r), size: arenaSize}, nil
}

// Console implements kernsupport.Platform: the 16550 serial port.
func (p *Platform) Console() kernsupport.Console { return serialConsole{} }

// Clock implements kernsupport.Platform.
func (p *Platform) Clock() kernsupport.Clock { return p.clock }

// Logf implements kernsupport.Platform: a line on the serial console.
func (p *Platform) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "goskit: "+format+"\n", args...)
}

// Memory implements kernsupport.Platform.
func (p *Platform) Memory() kernsupport.Memory { return p }

// Close implements kernsupport.Platform. The arena stays carved out.
func (p *Platform) Close() error { return nil }

// Halt implements kernsupport.Halter: the machine stops with status
// (QEMU's isa-debug-exit reports it).
func (p *Platform) Halt(status int) { os.Exit(status) }

// Alloc implements kernsupport.Memory.
func (p *Platform) Alloc(size uint64, flags lmm.Flags, alignBits uint) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	addr, err := p.mem.AllocAligned(size, flags, alignBits, 0)
	if err != nil {
		return 0, fmt.Errorf("x86: arena: %w", err)
	}
	return addr, nil
}

// Free implements kernsupport.Memory.
func (p *Platform) Free(addr, size uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.mem.Free(addr, size); err != nil {
		return fmt.Errorf("x86: arena: %w", err)
	}
	return nil
}

// Avail implements kernsupport.Memory.
func (p *Platform) Avail(flags lmm.Flags) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mem.Avail(flags)
}

// Bytes implements kernsupport.Memory: the identity-mapped view of
// [addr, addr+size), which must lie inside the arena.
func (p *Platform) Bytes(addr, size uint64) ([]byte, error) {
	if addr < p.base || size > p.size || addr-p.base > p.size-size {
		return nil, fmt.Errorf("x86: arena: %#x+%#x outside [%#x, %#x): %w", addr, size, p.base, p.base+p.size, syscall.EFAULT)
	}
	if size == 0 {
		return []byte{}, nil
	}
	return unsafe.Slice((*byte)(phys(addr)), size), nil
}

// serialConsole is the kernel's console, fds 0 and 1: the serial port,
// whose input the kernel buffers from its receive interrupt.
type serialConsole struct{}

func (serialConsole) Write(b []byte) (int, error) { return os.Stdout.Write(b) }
func (serialConsole) Read(b []byte) (int, error)  { return os.Stdin.Read(b) }

type clock struct{}

func (clock) Now() time.Duration { return time.Duration(Nanotime()) }
func (clock) Wall() time.Time    { return time.Now() }
func (clock) Sleep(d time.Duration) {
	time.Sleep(d)
}

func (clock) AfterFunc(d time.Duration, f func()) kernsupport.Timer {
	return time.AfterFunc(d, f)
}
