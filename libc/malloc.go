package libc

import (
	"math/bits"
	"sync"
	"syscall"
	"unsafe"
)

// heap records Malloc's allocations: the OSKit's malloc kept each block's
// size in a header before it; here a table keyed by the block's first byte
// does, so a block is exactly what was asked for and Free can refuse what
// Malloc never returned.
type heap struct {
	mu     sync.Mutex
	blocks map[uintptr]block
}

type block struct{ addr, size uint64 }

// mallocAlign is what Malloc aligns to: the largest alignment a C
// malloc guarantees on 64-bit Linux (alignof(max_align_t)).
const mallocAlign = 16

// Malloc returns n bytes of the platform's physical memory (raw arena
// memory, managed by the platform's lmm; not Go heap memory), aligned to
// 16 bytes. Their contents are undefined, as C's. It fails with ENOMEM when
// memory runs out or the platform has none, EINVAL for a negative n.
// Malloc(0) returns a distinct one-byte block, which Free accepts.
func (s *System) Malloc(n int) ([]byte, error) { return s.Memalign(mallocAlign, n) }

// Calloc is Malloc of count*size zeroed bytes; EINVAL if the product
// overflows.
func (s *System) Calloc(count, size int) ([]byte, error) {
	if count < 0 || size < 0 {
		return nil, syscall.EINVAL
	}
	hi, n := bits.Mul64(uint64(count), uint64(size))
	if hi != 0 || n > uint64(maxInt) {
		return nil, syscall.ENOMEM
	}
	b, err := s.Malloc(int(n))
	if err == nil {
		clear(b)
	}
	return b, err
}

const maxInt = int(^uint(0) >> 1)

// Memalign returns n bytes aligned to align, which must be a power of two
// (EINVAL otherwise), as memalign(3).
func (s *System) Memalign(align, n int) ([]byte, error) {
	if align <= 0 || align&(align-1) != 0 || n < 0 {
		return nil, syscall.EINVAL
	}
	if s.plat == nil || s.plat.Memory() == nil {
		return nil, syscall.ENOMEM
	}
	size := uint64(max(n, 1))
	mem := s.plat.Memory()
	addr, err := mem.Alloc(size, 0, uint(bits.TrailingZeros(uint(align))))
	if err != nil {
		return nil, syscall.ENOMEM
	}
	b, err := mem.Bytes(addr, size)
	if err != nil {
		mem.Free(addr, size)
		return nil, syscall.ENOMEM
	}
	s.heap.mu.Lock()
	if s.heap.blocks == nil {
		s.heap.blocks = make(map[uintptr]block)
	}
	s.heap.blocks[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = block{addr, size}
	s.heap.mu.Unlock()
	return b[:n:n], nil
}

// Free returns a block from Malloc, Calloc or Memalign. Free(nil) does
// nothing, as free(NULL); anything else Malloc did not return (a part of a
// block, Go memory, a block freed already) is EINVAL rather than C's
// undefined behaviour.
func (s *System) Free(b []byte) error {
	if b == nil {
		return nil
	}
	key := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	s.heap.mu.Lock()
	blk, ok := s.heap.blocks[key]
	if ok {
		delete(s.heap.blocks, key)
	}
	s.heap.mu.Unlock()
	if !ok {
		return syscall.EINVAL
	}
	if err := s.plat.Memory().Free(blk.addr, blk.size); err != nil {
		return syscall.EINVAL
	}
	return nil
}
