package lmm_test

import (
	"fmt"
	"math"

	"github.com/goskit/goskit/lmm"
)

// The PC preset: three regions with the original's flags and priorities,
// then the machine's memory map as free memory, minus what the kernel
// occupies. Ordinary requests come from high memory; ones that need low
// memory say so with flags.
func ExampleNewPC() {
	m := lmm.NewPC()
	// A 128 MiB machine: 640 KiB of conventional memory, the rest above 1 MiB.
	m.AddFree(0, 640<<10)
	m.AddFree(1<<20, 127<<20)
	m.RemoveFree(0, 4<<10)                                                // the real-mode IDT and BIOS data
	m.RemoveFree(1<<20, 2<<20)                                            // the kernel image
	page, _ := m.AllocPage(0)                                             // high memory first
	dma, _ := m.AllocGen(64<<10, lmm.Below16MB, 16, 0, 0, math.MaxUint64) // ISA DMA: below 16 MiB, not crossing 64 KiB
	low, _ := m.Alloc(4<<10, lmm.Below1MB)                                // a real-mode trampoline
	fixed, err := m.AllocGen(4<<10, 0, 0, 0, 0xb8000, 4<<10)              // an exact address outside memory
	fmt.Printf("page %#x\ndma %#x\nlow %#x\n", page, dma, low)
	fmt.Println("fixed:", fixed, err)
	fmt.Printf("free below 16 MiB: %d KiB\n", m.Avail(lmm.Below16MB)>>10)
	// Output:
	// page 0x1000000
	// dma 0x300000
	// low 0x1000
	// fixed: 0 lmm: no free block fits
	// free below 16 MiB: 13880 KiB
}

// Managing the offsets of a memory arena (for instance a memfd mapping):
// one region covering the arena, all of it free, and malloc-style requests
// that keep their size to free with.
func ExampleLMM_arena() {
	const arenaSize = 64 << 20
	m := lmm.New()
	m.AddRegion(0, arenaSize, 0, 0)
	m.AddFree(0, arenaSize)
	a, _ := m.AllocAligned(100, 0, 4, 0)   // malloc(100): 16-byte aligned
	b, _ := m.AllocAligned(8192, 0, 12, 0) // memalign(4096, 8192)
	fmt.Println(a, b)
	fmt.Println(m.Free(a, 100), m.Free(a, 100))
	fmt.Printf("%v %+v\n", m.Free(b, 8192), m.Stats())
	// Output:
	// 0 4096
	// <nil> lmm: range overlaps free memory: [0x0,0x64)
	// <nil> {Regions:1 RegionBytes:67108864 FreeBytes:67108864 FreeBlocks:1}
}
