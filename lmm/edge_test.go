package lmm

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

const top = math.MaxUint64

// TestEdges covers the edges of every operation; each case runs on a fresh
// manager with regions [0x10000, 0x20000) (Below16MB, pri 0), [0x20000,
// 0x30000) (no flags, pri 1) and [top-0x10000, top) (no flags, pri -1), all
// free, and checks the result, then that a failure changed nothing.
func TestEdges(t *testing.T) {
	type result struct {
		addr uint64
		err  error
	}
	cases := []struct {
		name string
		op   func(m *LMM) (uint64, error)
		want result
	}{
		{"alloc zero size", func(m *LMM) (uint64, error) { return m.Alloc(0, 0) }, result{0, ErrInvalid}},
		{"free zero size", func(m *LMM) (uint64, error) { return 0, m.Free(0x10000, 0) }, result{0, ErrInvalid}},
		{"addfree zero size", func(m *LMM) (uint64, error) { return 0, m.AddFree(0x10000, 0) }, result{0, ErrInvalid}},
		{"removefree zero size", func(m *LMM) (uint64, error) { return 0, m.RemoveFree(0x10000, 0) }, result{0, ErrInvalid}},
		{"region zero size", func(m *LMM) (uint64, error) { return 0, m.AddRegion(0x40000, 0, 0, 0) }, result{0, ErrInvalid}},
		{"alloc size overflowing the address space", func(m *LMM) (uint64, error) { return m.Alloc(top, 0) }, result{0, ErrNoMemory}},
		{"aligned alloc size near 2^64", func(m *LMM) (uint64, error) { return m.AllocAligned(top-5, 0, 12, 3) }, result{0, ErrNoMemory}},
		{"free wrapping past the top", func(m *LMM) (uint64, error) { return 0, m.Free(top-0x10, 0x20) }, result{0, ErrOverflow}},
		{"free ending at 2^64", func(m *LMM) (uint64, error) { return 0, m.Free(top-0x10, 0x11) }, result{0, ErrOverflow}},
		{"addfree wrapping", func(m *LMM) (uint64, error) { return 0, m.AddFree(1, top) }, result{0, ErrOverflow}},
		{"removefree wrapping", func(m *LMM) (uint64, error) { return 0, m.RemoveFree(top, 1) }, result{0, ErrOverflow}},
		{"region wrapping", func(m *LMM) (uint64, error) { return 0, m.AddRegion(top-1, 2, 0, 0) }, result{0, ErrOverflow}},
		{"region overlapping", func(m *LMM) (uint64, error) { return 0, m.AddRegion(0x1ffff, 2, 0, 0) }, result{0, ErrOverlap}},
		{"region containing another", func(m *LMM) (uint64, error) { return 0, m.AddRegion(0, 0x100000, 0, 0) }, result{0, ErrOverlap}},
		{"region touching is fine", func(m *LMM) (uint64, error) { return 0, m.AddRegion(0x30000, 0x10, 0, 0) }, result{0, nil}},
		{"alignBits 64", func(m *LMM) (uint64, error) { return m.AllocAligned(1, 0, 64, 0) }, result{0, ErrInvalid}},
		{"alignment larger than the region", func(m *LMM) (uint64, error) { return m.AllocAligned(1, Below16MB, 17, 0) }, result{0, ErrNoMemory}},
		{"alignment 2^63 with offset in the region", func(m *LMM) (uint64, error) { return m.AllocAligned(1, 0, 63, 0x20000) }, result{0x20000, nil}},
		{"alignment offset wider than alignBits", func(m *LMM) (uint64, error) { return m.AllocAligned(1, 0, 4, 0xfff3) }, result{0x20003, nil}},
		{"flags no region has", func(m *LMM) (uint64, error) { return m.Alloc(16, Below1MB) }, result{0, ErrNoMemory}},
		{"flags one region has", func(m *LMM) (uint64, error) { return m.Alloc(16, Below16MB) }, result{0x10000, nil}},
		{"priority order", func(m *LMM) (uint64, error) { return m.Alloc(16, 0) }, result{0x20000, nil}},
		{"larger than any region", func(m *LMM) (uint64, error) { return m.Alloc(0x10001, 0) }, result{0, ErrNoMemory}},
		{"whole region", func(m *LMM) (uint64, error) { return m.Alloc(0x10000, 0) }, result{0x20000, nil}},
		{"exact address", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 0, 0, 0x12345, 0x100) }, result{0x12345, nil}},
		{"exact address, misaligned", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 4, 0, 0x12345, 0x100) }, result{0, ErrNoMemory}},
		{"exact address outside regions", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 0, 0, 0x5000, 0x100) }, result{0, ErrNoMemory}},
		{"window smaller than size", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 0, 0, 0x12345, 0xff) }, result{0, ErrNoMemory}},
		{"window at the very top", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 0, 0, top-0x100, 0x100) }, result{top - 0x100, nil}},
		{"window running past the top", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 8, 0, top-0x1000, top) }, result{top - 0xfff, nil}},
		{"window past the top, too high", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 0, 0, top-0xff, top) }, result{0, ErrNoMemory}},
		{"aligned near the top", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 12, 0xf00, top-0x1100, 0x1100) }, result{top - 0x10ff, nil}},
		{"aligned, no room below the top", func(m *LMM) (uint64, error) { return m.AllocGen(0x100, 0, 12, 0xf00, top-0x1000, 0x1000) }, result{0, ErrNoMemory}},
		{"alignment rounding past the top", func(m *LMM) (uint64, error) { return m.AllocGen(1, 0, 13, 0, top-0xff, 0x100) }, result{0, ErrNoMemory}},
		{"double free", func(m *LMM) (uint64, error) { return 0, m.Free(0x10100, 0x10) }, result{0, ErrDoubleFree}},
		{"free outside regions", func(m *LMM) (uint64, error) { return 0, m.Free(0x5000, 0x10) }, result{0, ErrNotInRegion}},
		{"free straddling a region's end", func(m *LMM) (uint64, error) { return 0, m.Free(0x2fff0, 0x20) }, result{0, ErrNotInRegion}},
		{"free straddling a region's start", func(m *LMM) (uint64, error) { return 0, m.Free(0xfff0, 0x20) }, result{0, ErrNotInRegion}},
		{"page", func(m *LMM) (uint64, error) { return m.AllocPage(0) }, result{0x20000, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := edgeLMM(t)
			var before bytes.Buffer
			m.Dump(&before)
			addr, err := c.op(m)
			if addr != c.want.addr || !errors.Is(err, c.want.err) || (err == nil) != (c.want.err == nil) {
				t.Fatalf("got %#x, %v; want %#x, %v", addr, err, c.want.addr, c.want.err)
			}
			if err := m.Check(); err != nil {
				t.Fatal(err)
			}
			if err != nil {
				var after bytes.Buffer
				m.Dump(&after)
				if before.String() != after.String() {
					t.Errorf("a failed call changed the state:\n%s\nto\n%s", before.String(), after.String())
				}
			}
		})
	}
}

func edgeLMM(t *testing.T) *LMM {
	t.Helper()
	m := New()
	for _, r := range []struct {
		min, size uint64
		flags     Flags
		pri       int
	}{{0x10000, 0x10000, Below16MB, 0}, {0x20000, 0x10000, 0, 1}, {top - 0x10000, 0x10000, 0, -1}} {
		if err := m.AddRegion(r.min, r.size, r.flags, r.pri); err != nil {
			t.Fatal(err)
		}
		if err := m.AddFree(r.min, r.size); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestAcrossRegions checks that free memory in adjacent regions stays in
// separate blocks, and that a free may span adjacent regions.
func TestAcrossRegions(t *testing.T) {
	m := edgeLMM(t)
	if err := m.RemoveFree(0x1f000, 0x2000); err != nil {
		t.Fatal(err)
	}
	if b, ok := m.FindFree(0x1e000); !ok || b != (Block{0x1e000, 0x1000, Below16MB}) {
		t.Fatalf("FindFree = %+v, %v", b, ok)
	}
	if err := m.Free(0x1f000, 0x2000); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.FreeBlocks != 3 || s.FreeBytes != 0x30000 || s.Regions != 3 {
		t.Fatalf("stats %+v", s)
	}
	if b, ok := m.FindFree(0x1ffff); !ok || b != (Block{0x1ffff, 1, Below16MB}) {
		t.Fatalf("FindFree = %+v, %v", b, ok)
	}
	if b, ok := m.FindFree(0x30000); !ok || b.Addr != top-0x10000 {
		t.Fatalf("FindFree = %+v, %v", b, ok)
	}
	if _, ok := m.FindFree(top); ok {
		t.Fatal("FindFree found memory at 2^64-1")
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestAddFreeOutsideRegions checks that only the parts inside regions count.
func TestAddFreeOutsideRegions(t *testing.T) {
	m := New()
	if err := m.AddRegion(0x1000, 0x1000, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.AddFree(0, 0x10000); err != nil {
		t.Fatal(err)
	}
	if got := m.Avail(0); got != 0x1000 {
		t.Fatalf("Avail = %#x, want 0x1000", got)
	}
	if err := m.AddFree(0x1800, 0x100); err != nil { // already free: no change
		t.Fatal(err)
	}
	if s := m.Stats(); s.FreeBlocks != 1 || s.FreeBytes != 0x1000 {
		t.Fatalf("stats %+v", s)
	}
}

// TestDeepAgainstReference drives a large fragmented state (thousands of
// blocks, so the trees are deep and bounds go stale) with random requests,
// against the reference.
func TestDeepAgainstReference(t *testing.T) {
	st := buildFrag(5000)
	r := rand.New(rand.NewPCG(7, 7))
	var live [][2]uint64
	models := []model{st.m, st.ref}
	for i := 0; i < 20000; i++ {
		var res [2]result
		var size uint64
		if len(live) > 0 && r.IntN(2) == 0 {
			k := r.IntN(len(live))
			for j, m := range models {
				res[j].err = errClass(m.Free(live[k][0], live[k][1]))
			}
			live[k] = live[len(live)-1]
			live = live[:len(live)-1]
		} else {
			size = 1 + r.Uint64N(1<<uint(4+r.IntN(12)))
			bits := uint(r.IntN(23))
			off := r.Uint64N(1 << 22)
			lo, win := uint64(0), uint64(top)
			if r.IntN(3) == 0 {
				lo, win = r.Uint64N(st.tailStart), r.Uint64N(st.tailStart)
			}
			for j, m := range models {
				res[j].addr, res[j].err = m.AllocGen(size, 0, bits, off, lo, win)
				res[j].err = errClass(res[j].err)
			}
			if res[0].err == nil {
				live = append(live, [2]uint64{res[0].addr, size})
			}
		}
		if res[0] != res[1] {
			t.Fatalf("step %d: got %+v, reference %+v", i, res[0], res[1])
		}
		if i%500 == 0 {
			if err := st.m.Check(); err != nil {
				t.Fatal(err)
			}
			if err := sameState(st.m, st.ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sameState(st.m, st.ref); err != nil {
		t.Fatal(err)
	}
}

// TestLocked exercises the wrapper from several goroutines (run with -race).
func TestLocked(t *testing.T) {
	l := NewLocked(New())
	if err := l.AddRegion(0, 1<<20, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.AddFree(0, 1<<20); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for i := 0; i < 1000; i++ {
				a, err := l.AllocAligned(64, 0, 6, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.Free(a, 64); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := l.Avail(0); got != 1<<20 {
		t.Fatalf("Avail = %#x after balanced allocs and frees", got)
	}
	l.Do(func(m *LMM) {
		if err := m.Check(); err != nil {
			t.Error(err)
		}
	})
}
