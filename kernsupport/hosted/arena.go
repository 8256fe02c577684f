package hosted

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport"
	"github.com/goskit/goskit/lmm"
	"golang.org/x/sys/unix"
)

// Arena is a hosted kernel's physical memory: a memfd mapped into the
// process, with physical address p at offset p of the file, so the boot
// memory map's addresses are the arena's. A list memory manager with the
// PC's regions (lmm.NewPC: below 1 MiB, below 16 MiB, above) manages the
// usable ranges, so flag-constrained requests behave as on a PC. Host
// memory is used only for pages a kernel touches: the file is sparse.
//
// An Arena is safe for concurrent use.
type Arena struct {
	mem    []byte // the mapping; nil after Close
	fd     int
	size   uint64         // highest usable end: the file and mapping size
	usable boot.MemoryMap // what Free may give back: the PC regions span more

	mu     sync.Mutex // guards mem against Close; the manager has its own lock
	manage *lmm.Locked
}

var _ kernsupport.Memory = (*Arena)(nil)

// ErrArenaClosed is returned (wrapped) by an Arena after Close.
var ErrArenaClosed = errors.New("hosted: arena closed")

// maxArena bounds the mapping: a memory map asking for more is refused
// rather than mapped (the host's address space is large, but a corrupt or
// hostile map could claim 2^64 bytes).
const maxArena = 1 << 40

// NewArena makes the physical memory the memory map's usable ranges
// describe. An empty map gives an arena with no free memory.
func NewArena(m boot.MemoryMap) (*Arena, error) {
	usable := m.Normalize().Only(boot.Usable)
	a := &Arena{fd: -1, manage: lmm.NewLocked(lmm.NewPC()), usable: usable}
	for _, r := range usable {
		if r.End() > maxArena || r.End() < r.Start {
			return nil, fmt.Errorf("hosted: arena: usable range %v beyond %d GiB", r, maxArena>>30)
		}
		a.size = max(a.size, r.End())
	}
	if a.size == 0 {
		return a, nil
	}
	fd, err := unix.MemfdCreate("goskit-arena", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("hosted: arena: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(a.size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hosted: arena: ftruncate to %d bytes: %w", a.size, err)
	}
	mem, err := unix.Mmap(fd, 0, int(a.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hosted: arena: mmap %d bytes: %w", a.size, err)
	}
	a.fd, a.mem = fd, mem
	for _, r := range usable {
		if err := a.manage.AddFree(r.Start, r.Size); err != nil {
			a.Close()
			return nil, fmt.Errorf("hosted: arena: %w", err)
		}
	}
	return a, nil
}

// Alloc implements kernsupport.Memory.
func (a *Arena) Alloc(size uint64, flags lmm.Flags, alignBits uint) (uint64, error) {
	if a.closed() {
		return 0, ErrArenaClosed
	}
	addr, err := a.manage.AllocAligned(size, flags, alignBits, 0)
	if err != nil {
		return 0, fmt.Errorf("hosted: arena: %w", err)
	}
	return addr, nil
}

// Free implements kernsupport.Memory.
func (a *Arena) Free(addr, size uint64) error {
	if a.closed() {
		return ErrArenaClosed
	}
	if !a.isUsable(addr, size) {
		return fmt.Errorf("hosted: arena: %w: %#x+%#x is not usable memory", lmm.ErrNotInRegion, addr, size)
	}
	if err := a.manage.Free(addr, size); err != nil {
		return fmt.Errorf("hosted: arena: %w", err)
	}
	return nil
}

// isUsable reports whether [addr, addr+size) lies in one usable range
// (Normalize merged adjacent ones).
func (a *Arena) isUsable(addr, size uint64) bool {
	for _, r := range a.usable {
		if addr >= r.Start && size <= r.End()-addr && addr < r.End() {
			return true
		}
	}
	return false
}

// Bytes implements kernsupport.Memory.
func (a *Arena) Bytes(addr, size uint64) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		return nil, ErrArenaClosed
	}
	if addr > a.size || size > a.size-addr {
		return nil, fmt.Errorf("hosted: arena: %#x+%#x outside physical memory [0, %#x)", addr, size, a.size)
	}
	return a.mem[addr : addr+size : addr+size], nil
}

// Addr returns the physical address of the first byte of b, which must be
// a view Bytes returned (or a part of one).
func (a *Arena) Addr(b []byte) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil || len(b) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p-base >= uintptr(len(a.mem)) {
		return 0, false
	}
	return uint64(p - base), true
}

// Avail implements kernsupport.Memory.
func (a *Arena) Avail(flags lmm.Flags) uint64 { return a.manage.Avail(flags) }

// Manager returns the arena's memory manager: the implementation-specific
// interface for what Memory does not cover (regions, FindFree, Stats).
func (a *Arena) Manager() *lmm.Locked { return a.manage }

func (a *Arena) closed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mem == nil && a.size > 0
}

// Close unmaps the arena and closes its memfd. Views from Bytes must not be
// used afterwards.
func (a *Arena) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		return nil
	}
	err := unix.Munmap(a.mem)
	a.mem = nil
	if cerr := unix.Close(a.fd); err == nil {
		err = cerr
	}
	return err
}
