//go:build !(linux && amd64)

package x86

import (
	"io"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport"
	"github.com/goskit/goskit/lmm"
)

// On other platforms the program is always hosted: these are the inert
// forms of the linux/amd64 functions, so that a kernel's source builds
// everywhere.

// BareMetal reports whether the program was started by the kit's PVH
// entry; never on this platform.
func BareMetal() bool { return false }

// BootInfo fails with ErrNotBareMetal.
func BootInfo() (*boot.Info, error) { return nil, ErrNotBareMetal }

// BootProtocol is "".
func BootProtocol() string { return "" }

// PhysMemory reads nothing.
func PhysMemory() io.ReaderAt { return nothing{} }

type nothing struct{}

func (nothing) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// ReadStats returns zero counters.
func ReadStats() Stats { return Stats{} }

// Nanotime is 0.
func Nanotime() int64 { return 0 }

// Platform is the bare-metal platform; it cannot be made here.
type Platform struct{}

// NewPlatform fails with ErrNotBareMetal.
func NewPlatform(arenaSize uint64) (*Platform, error) { return nil, ErrNotBareMetal }

func (*Platform) Console() kernsupport.Console                  { return nil }
func (*Platform) Clock() kernsupport.Clock                      { return nil }
func (*Platform) Logf(string, ...any)                           {}
func (*Platform) Memory() kernsupport.Memory                    { return nil }
func (*Platform) Close() error                                  { return nil }
func (*Platform) Halt(int)                                      {}
func (*Platform) Alloc(uint64, lmm.Flags, uint) (uint64, error) { return 0, ErrNotBareMetal }
func (*Platform) Free(uint64, uint64) error                     { return ErrNotBareMetal }
func (*Platform) Bytes(uint64, uint64) ([]byte, error)          { return nil, ErrNotBareMetal }
func (*Platform) Avail(lmm.Flags) uint64                        { return 0 }

var _ kernsupport.Platform = (*Platform)(nil)
