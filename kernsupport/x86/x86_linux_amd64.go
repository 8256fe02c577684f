//go:build linux && amd64

package x86

import (
	"io"
	"unsafe"

	"github.com/goskit/goskit/boot"
)

// BareMetal reports whether the program was started by the kit's PVH
// entry (true) or as an ordinary Linux process (false).
func BareMetal() bool { return bareMetal != 0 }

// BootInfo parses the boot information the boot loader passed (the PVH
// start info or the Multiboot information) into the boot.Info a hosted
// kernel gets from boot.Hosted. It fails with ErrNotBareMetal in a hosted
// process.
func BootInfo() (*boot.Info, error) {
	switch BootProtocol() {
	case "pvh":
		p, err := boot.ParsePVH(PhysMemory(), startInfo)
		if err != nil {
			return nil, err
		}
		return p.Info, nil
	case "multiboot":
		return boot.ParseMultiboot(PhysMemory(), startInfo)
	}
	return nil, ErrNotBareMetal
}

// BootProtocol names the protocol that started the kernel: "pvh",
// "multiboot", or "" in a hosted process.
func BootProtocol() string {
	switch {
	case !BareMetal():
		return ""
	case pvhBoot():
		return "pvh"
	case multibootBoot():
		return "multiboot"
	}
	return "unknown"
}

// PhysMemory returns a reader of physical memory through the kernel's
// identity map of the low 4 GiB. It is only meaningful on bare metal.
func PhysMemory() io.ReaderAt { return physMem{} }

type physMem struct{}

func (physMem) ReadAt(p []byte, off int64) (int, error) {
	const limit = 4 << 30
	if off < 0 || off >= limit || !BareMetal() {
		return 0, io.EOF
	}
	n := len(p)
	var err error
	if uint64(off)+uint64(n) > limit {
		n = int(limit - off)
		err = io.EOF
	}
	done := 0
	if off < PageSize {
		// Page 0 is unmapped (nil pointers must fault); kinit kept a
		// copy.
		done = copy(p[:n], page0[off:])
		off += int64(done)
	}
	if done < n {
		copy(p[done:n], unsafe.Slice((*byte)(phys(uint64(off))), n-done))
	}
	return n, err
}

// ReadStats returns the bare-metal kernel's counters (zero when hosted).
func ReadStats() Stats {
	s := stats
	return s
}

// Nanotime returns the kernel's monotonic clock (the TSC calibrated
// against the PIT at boot) in nanoseconds since boot; 0 when hosted.
func Nanotime() int64 {
	if !BareMetal() {
		return 0
	}
	return nanotime()
}

// EntryAddress is the address of the PVH entry, the value cmd/mkimage
// writes into the image's PVH note.
func EntryAddress() uintptr { return pvhEntryAddr() }

// entry keeps the PVH entry (and, through it, the whole kernel) in every
// program that imports the package: the linker drops unreferenced code.
var entry uintptr

func init() { entry = pvhEntryAddr() }
