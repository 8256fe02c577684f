//go:build linux && amd64

package x86

import "unsafe"

// Assembly helpers (entry_amd64.s). All are leaf functions safe beneath the
// runtime.

func pvhEntry()
func syscallEntry()
func trapCommon()
func idleLoop()
func outb(port uint16, v uint8)
func outl(port uint16, v uint32)
func inb(port uint16) uint8
func rdtsc() uint64
func wrmsr(msr uint32, v uint64)
func readCR2() uint64
func readCR3() uint64
func writeCR3(v uint64)
func invlpg(addr uint64)
func lgdt(p uintptr)
func lidt(p uintptr)
func ltr(sel uint16)
func haltForever()
func syscallEntryAddr() uintptr
func idleLoopAddr() uintptr
func pvhEntryAddr() uintptr
func phys(pa uint64) unsafe.Pointer
func linkerEnd() uint64

// vecTable holds the addresses of the 48 exception and IRQ stubs.
var vecTable [48]uintptr
