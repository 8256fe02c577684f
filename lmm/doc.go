// Package lmm provides the list memory manager of the Flux OSKit: it manages
// ranges of an address space (physical memory, an arena's offsets), never
// its own heap, and never dereferences an address. Addresses are uint64.
//
// # Model
//
// A manager holds regions, disjoint address ranges with attribute Flags and
// a priority (AddRegion). Free memory is added to and removed from regions
// (AddFree, RemoveFree: only the parts inside regions count). An allocation
// (AllocGen and its short forms Alloc, AllocAligned, AllocPage) asks for a
// size, flags the region must have (every requested flag), an alignment
// (the low alignBits bits of the result equal those of alignOffset) and a
// window (result >= min, result+size <= min+windowSize; a window equal to
// the size asks for an exact address). Regions are tried in descending
// priority (then larger first, then lower first) and, within a region, the
// lowest address that fits is taken: first fit by address, as in the
// original, so results are predictable and equal those of the original's
// list walk (the tests check this against such a list). Free takes the size
// back from the caller, as the original did; freeing memory that is already
// free or lies outside the regions is an error, detected without a table
// of allocations. Free blocks in adjacent regions are never merged. The
// last address of the space, 2^64-1, cannot be in a region, so every range
// end fits in a uint64.
//
// NewPC builds the PC layout of the original's phys_lmm: below 1 MiB
// (Below1MB|Below16MB, Pri1MB), below 16 MiB (Below16MB, Pri16MB) and the
// rest (PriHigh).
//
// # Data structure
//
// The original kept a singly linked list of free blocks per region, so
// every allocation and free cost O(free blocks). Here each region keeps its
// free blocks in a treap (a binary search tree keyed by start address,
// balanced by random priorities) whose nodes are also threaded on an
// address-ordered doubly linked list. Each node carries bounds on its
// subtree: the largest block size and, for alignments 2^12 and 2^21, the
// largest run starting at a multiple of that alignment. An allocation walks
// in address order and skips every subtree whose bounds rule out a fit:
//
//   - a plain request of size s enters only subtrees holding a block >= s,
//     so it reaches the first fitting block in O(log n);
//   - a request aligned to 2^b is bounded by the largest indexed alignment
//     2^k <= 2^b: with alignOffset 0 no fitting block can have a run at
//     2^k shorter than s, so requests no block can satisfy are rejected at
//     the root and fitting ones found in O(log n), where keeping only block
//     sizes visits every block large enough but misaligned. With a non-zero
//     offset o (low k bits), the bound is s-(2^k-o): tight for s well above
//     2^k, loose below it, where the cost grows with the number of blocks
//     that pass the size test (the benchmarks measure one such case);
//   - a window prunes subtrees by address as well.
//
// The search starts at the lowest block and climbs the tree's left spine
// (a finger search), so a fit k blocks from the bottom costs O(log k) and a
// fit in the lowest block costs what the list's first step costs; frees
// find their neighbours the same way, or at the highest block directly.
//
// The bounds are upper bounds, kept lazily: allocation only shrinks
// blocks, and a shrinking block leaves its ancestors' bounds as they were,
// so the common paths write nothing above the block they change. Growth
// (free, merging) raises bounds up the tree until one already covers the
// new value. A search that enters a subtree on a stale bound and finds
// nothing recomputes the bounds it walked, so a stale bound costs one
// wasted visit, paid for by the allocation that made it stale: the costs
// above are amortized. Check verifies every invariant, the bounds included.
//
// # Execution environment
//
// The package is pure in the OSKit's sense: an LMM holds no global state
// and calls nothing outside itself, so a kernel may own several, and it
// needs nothing from the platform; it allocates Go memory for its nodes
// (recycling them). An LMM is not safe for concurrent use; Locked wraps one
// with a mutex and is. No call blocks, other than on Locked's mutex. Bad
// input (a zero size, a range wrapping the address space, alignBits >= 64,
// overlapping regions, a double or stray free) returns an error wrapping
// one of the Err values, never panics, and changes nothing.
package lmm
