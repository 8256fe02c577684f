package lmm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// fragState is a fragmented free list, the same in the manager and in the
// reference: n fragments of seeded random sizes (256 B to 8 KiB) at seeded
// random addresses (gaps of 8 B to 8 KiB), then one 64 MiB tail block. By
// construction no fragment holds a whole 4 KiB-aligned page or any 2 MiB
// boundary, so the misfit cases below have no answer below the tail, while
// about half the fragments pass a size-only test.
type fragState struct {
	m         *LMM
	ref       *refLMM
	tailStart uint64
}

func buildFrag(n int) *fragState {
	r := rand.New(rand.NewPCG(uint64(n), 0x66726167))
	st := &fragState{m: New(), ref: &refLMM{}}
	const regionSize = 1 << 46
	if err := st.m.AddRegion(0, regionSize, 0, 0); err != nil {
		panic(err)
	}
	if err := st.ref.AddRegion(0, regionSize, 0, 0); err != nil {
		panic(err)
	}
	rr := st.ref.regs[0]
	var last *refNode
	add := func(s, e uint64) {
		if err := st.m.AddFree(s, e-s); err != nil {
			panic(err)
		}
		// Append directly: the reference's AddFree would make building
		// a million blocks quadratic.
		nd := &refNode{start: s, end: e}
		if last == nil {
			rr.head = nd
		} else {
			last.next = nd
		}
		last = nd
		rr.free += e - s
	}
	cur := uint64(1 << 20)
	for i := 0; i < n; {
		start := cur + 8 + 8*r.Uint64N(1024)
		end := start + 256 + 8*r.Uint64N((8192-256)/8)
		if usable(start, end, 12) >= PageSize {
			end = (start+PageSize-1)&^(PageSize-1) + PageSize - 8
		}
		if usable(start, end, 21) > 0 {
			cur = (start + 1<<21 - 1) &^ (1<<21 - 1)
			continue
		}
		add(start, end)
		cur = end
		i++
	}
	st.tailStart = (cur+PageSize+1<<21-1)&^(1<<21-1) + 8
	add(st.tailStart, st.tailStart+64<<20)
	if s := st.m.Stats(); s.FreeBlocks != n+1 {
		panic(fmt.Sprintf("built %d blocks, want %d", s.FreeBlocks, n+1))
	}
	return st
}

// benchCase is one allocation shape; fit says whether it must succeed.
type benchCase struct {
	name  string
	fit   bool
	alloc func(m model, st *fragState) (uint64, uint64, error) // addr, size
}

var benchCases = []benchCase{
	// The lowest block fits: first fit's best case.
	{"early", true, func(m model, _ *fragState) (uint64, uint64, error) {
		a, err := m.Alloc(64, 0)
		return a, 64, err
	}},
	// Only the tail fits: first fit walks every fragment.
	{"search", true, func(m model, _ *fragState) (uint64, uint64, error) {
		a, err := m.Alloc(16<<10, 0)
		return a, 16 << 10, err
	}},
	// 1 KiB at a page boundary: fits a few fragments up.
	{"aligned12", true, func(m model, _ *fragState) (uint64, uint64, error) {
		a, err := m.AllocAligned(1024, 0, 12, 0)
		return a, 1024, err
	}},
	// A page at a 2 MiB boundary: only the tail has one.
	{"aligned21", true, func(m model, _ *fragState) (uint64, uint64, error) {
		a, err := m.AllocAligned(PageSize, 0, 21, 0)
		return a, PageSize, err
	}},
	// Aligned requests no fragment can satisfy (the window stops below the
	// tail), though half the fragments are large enough.
	{"misfit12", false, func(m model, st *fragState) (uint64, uint64, error) {
		a, err := m.AllocGen(PageSize, 0, 12, 0, 0, st.tailStart)
		return a, PageSize, err
	}},
	{"misfit21", false, func(m model, st *fragState) (uint64, uint64, error) {
		a, err := m.AllocGen(1024, 0, 21, 0, 0, st.tailStart)
		return a, 1024, err
	}},
	// The same with a non-zero alignment offset: 6 KiB at 2 KiB past a page.
	{"misfit12off", false, func(m model, st *fragState) (uint64, uint64, error) {
		a, err := m.AllocGen(6<<10, 0, 12, 2<<10, 0, st.tailStart)
		return a, 6 << 10, err
	}},
}

// BenchmarkFragmented measures allocation+free pairs on fragmented states of
// 1,000, 100,000 and 1,000,000 free blocks, the manager ("tree") side by
// side with the reference first fit ("firstfit"). Each case gets a freshly
// built state (when a sub-benchmark first needs it), so a case never sees
// the tree shape an earlier case left: the blocks are the same after every
// pair, but the treap nodes holding them are not.
func BenchmarkFragmented(b *testing.B) {
	for _, n := range []int{1000, 100_000, 1_000_000} {
		for _, c := range benchCases {
			state := sync.OnceValue(func() *fragState { return buildFrag(n) })
			for _, impl := range []string{"tree", "firstfit"} {
				b.Run(fmt.Sprintf("n=%d/%s/%s", n, c.name, impl), func(b *testing.B) {
					st := state()
					var m model = st.m
					if impl == "firstfit" {
						m = st.ref
					}
					// Thread CPU time as well as wall time: on a shared
					// machine wall time also counts waiting for a core.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					cpu0 := threadCPU()
					for b.Loop() {
						a, size, err := c.alloc(m, st)
						if !c.fit {
							if !errors.Is(err, ErrNoMemory) {
								b.Fatalf("misfit got %#x, %v", a, err)
							}
							continue
						}
						if err != nil {
							b.Fatal(err)
						}
						if err := m.Free(a, size); err != nil {
							b.Fatal(err)
						}
					}
					if cpu := threadCPU() - cpu0; cpu > 0 {
						b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
					}
				})
			}
		}
	}
}

// TestBenchStates checks that the benchmark cases do what they claim, on
// both models, on a small state.
func TestBenchStates(t *testing.T) {
	st := buildFrag(2000)
	if err := st.m.Check(); err != nil {
		t.Fatal(err)
	}
	if err := sameState(st.m, st.ref); err != nil {
		t.Fatal(err)
	}
	for _, c := range benchCases {
		t.Run(c.name, func(t *testing.T) {
			a, size, err := c.alloc(st.m, st)
			ra, _, rerr := c.alloc(st.ref, st)
			if a != ra || errClass(err) != errClass(rerr) {
				t.Fatalf("got %#x %v, reference %#x %v", a, err, ra, rerr)
			}
			if !c.fit {
				if !errors.Is(err, ErrNoMemory) {
					t.Fatalf("misfit case fit at %#x (%v)", a, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "search" || c.name == "aligned21" {
				if a < st.tailStart {
					t.Errorf("%s fit at %#x below the tail %#x", c.name, a, st.tailStart)
				}
			} else if a >= st.tailStart {
				t.Errorf("%s fit only in the tail", c.name)
			}
			if err := st.m.Free(a, size); err != nil {
				t.Fatal(err)
			}
			if err := st.ref.Free(ra, size); err != nil {
				t.Fatal(err)
			}
			if err := sameState(st.m, st.ref); err != nil {
				t.Fatal(err)
			}
		})
	}
}
