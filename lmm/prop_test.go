package lmm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// model is what the property test drives: *LMM and *refLMM.
type model interface {
	AddRegion(min, size uint64, flags Flags, pri int) error
	AddFree(addr, size uint64) error
	RemoveFree(addr, size uint64) error
	AllocGen(size uint64, flags Flags, alignBits uint, alignOffset, min, windowSize uint64) (uint64, error)
	Alloc(size uint64, flags Flags) (uint64, error)
	AllocAligned(size uint64, flags Flags, alignBits uint, alignOffset uint64) (uint64, error)
	AllocPage(flags Flags) (uint64, error)
	Free(addr, size uint64) error
	Avail(flags Flags) uint64
	FindFree(addr uint64) (Block, bool)
	Stats() Stats
}

// chooser supplies the choices that make up an operation sequence: from a
// seeded generator in the property test, from the fuzzer's bytes in FuzzOps.
type chooser interface {
	intn(n uint64) uint64 // in [0, n), n > 0
	done() bool
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n uint64) uint64 { return c.r.Uint64N(n) }
func (c randChooser) done() bool           { return false }

// byteChooser decodes choices from bytes: one byte for small ranges, eight
// for large ones; zeros once the input runs out, which ends the sequence.
type byteChooser struct{ b []byte }

func (c *byteChooser) intn(n uint64) uint64 {
	var v uint64
	if n <= 256 {
		if len(c.b) > 0 {
			v = uint64(c.b[0])
			c.b = c.b[1:]
		}
	} else {
		var buf [8]byte
		k := copy(buf[:], c.b)
		c.b = c.b[k:]
		v = binary.LittleEndian.Uint64(buf[:])
	}
	return v % n
}

func (c *byteChooser) done() bool { return len(c.b) == 0 }

// The generated addresses fall in two areas, at the bottom and at the top of
// the address space, small enough that ranges collide often.
const area = 1 << 17

type gen struct {
	c    chooser
	live [][2]uint64 // ranges the sequence allocated and has not freed
}

func (g *gen) addr() uint64 {
	a := g.c.intn(area)
	if g.c.intn(4) == 0 {
		a = math.MaxUint64 - area + a
	}
	if g.c.intn(3) == 0 {
		a &^= PageSize - 1
	}
	return a
}

func (g *gen) size() uint64 {
	switch g.c.intn(10) {
	case 0:
		return 1 + g.c.intn(16)
	case 1, 2:
		return 1 + g.c.intn(512)
	case 3:
		return 1 + g.c.intn(PageSize)
	case 4:
		return PageSize * (1 + g.c.intn(8))
	case 5:
		return 1 + g.c.intn(area)
	case 6:
		return 1 << g.c.intn(18)
	case 7:
		return 0
	case 8:
		return math.MaxUint64 - g.c.intn(3)
	}
	return 1 + g.c.intn(64)
}

// asize is an allocation size: mostly small, so the free memory fragments
// into many blocks and the trees get depth.
func (g *gen) asize() uint64 {
	switch g.c.intn(4) {
	case 0:
		return g.size()
	case 1:
		return 1 + g.c.intn(512)
	}
	return 1 + g.c.intn(48)
}

func (g *gen) bits() uint {
	switch g.c.intn(7) {
	case 0:
		return 0
	case 1:
		return uint(g.c.intn(8))
	case 2:
		return 12
	case 3:
		return uint(g.c.intn(24))
	case 4:
		return []uint{16, 21, 30}[g.c.intn(3)]
	case 5:
		return uint(58 + g.c.intn(8)) // up to 65: 64 and 65 are invalid
	}
	return uint(g.c.intn(14))
}

func (g *gen) flags() Flags { return Flags(g.c.intn(4)) }

// op is one generated operation; run applies it to a model and returns what
// came back, in a comparable form.
type op struct {
	kind         int
	a, b, c, d   uint64
	bits         uint
	flags        Flags
	pri          int
	liveIdx      int
	subLo, subHi uint64
}

var opNames = []string{"AddRegion", "AddFree", "RemoveFree", "Alloc", "AllocAligned", "AllocGen",
	"AllocPage", "Free(live)", "Free(part)", "Free(any)", "FindFree", "Avail"}

func (o op) String() string {
	return fmt.Sprintf("%s(a=%#x b=%#x c=%#x d=%#x bits=%d flags=%d pri=%d)",
		opNames[o.kind], o.a, o.b, o.c, o.d, o.bits, o.flags, o.pri)
}

func (g *gen) next() op {
	var o op
	switch w := g.c.intn(100); {
	case w < 3:
		o.kind = 0
	case w < 10:
		o.kind = 1
	case w < 15:
		o.kind = 2
	case w < 30:
		o.kind = 3
	case w < 42:
		o.kind = 4
	case w < 54:
		o.kind = 5
	case w < 58:
		o.kind = 6
	case w < 78:
		o.kind = 7
	case w < 86:
		o.kind = 8
	case w < 92:
		o.kind = 9
	case w < 96:
		o.kind = 10
	default:
		o.kind = 11
	}
	switch o.kind {
	case 0:
		o.a, o.b = g.addr(), g.size()
		if g.c.intn(4) != 0 {
			o.b = 1 + g.c.intn(area/2)
		}
		o.flags, o.pri = g.flags(), int(g.c.intn(4))-2
	case 1, 2, 9:
		o.a, o.b = g.addr(), g.size()
		if g.c.intn(3) != 0 {
			o.b = 1 + g.c.intn(area/64)
		}
	case 3:
		o.a, o.flags = g.asize(), g.flags()
	case 4:
		o.a, o.flags, o.bits, o.b = g.asize(), g.flags(), g.bits(), g.c.intn(math.MaxUint64)
	case 5:
		o.a, o.flags, o.bits, o.b = g.asize(), g.flags(), g.bits(), g.c.intn(math.MaxUint64)
		o.c = g.addr()
		switch g.c.intn(4) {
		case 0:
			o.d = o.a // exact address
		case 1:
			o.d = math.MaxUint64
		default:
			o.d = g.c.intn(4 * area)
		}
	case 6, 11:
		o.flags = g.flags()
	case 7, 8:
		if len(g.live) == 0 {
			o.kind = 9
			o.a, o.b = g.addr(), g.size()
			break
		}
		o.liveIdx = int(g.c.intn(uint64(len(g.live))))
		r := g.live[o.liveIdx]
		o.a, o.b = r[0], r[1]-r[0]
		if o.kind == 8 {
			x := r[0] + g.c.intn(o.b)
			y := x + 1 + g.c.intn(r[1]-x)
			o.a, o.b, o.subLo, o.subHi = x, y-x, x, y
		}
	case 10:
		o.a = g.addr()
	}
	return o
}

// result is what an operation returned.
type result struct {
	addr  uint64
	err   error
	block Block
	ok    bool
}

func errClass(err error) error {
	for _, e := range []error{ErrInvalid, ErrOverflow, ErrOverlap, ErrNotInRegion, ErrDoubleFree, ErrNoMemory} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

func (o op) run(m model) result {
	var r result
	switch o.kind {
	case 0:
		r.err = m.AddRegion(o.a, o.b, o.flags, o.pri)
	case 1:
		r.err = m.AddFree(o.a, o.b)
	case 2:
		r.err = m.RemoveFree(o.a, o.b)
	case 3:
		r.addr, r.err = m.Alloc(o.a, o.flags)
	case 4:
		r.addr, r.err = m.AllocAligned(o.a, o.flags, o.bits, o.b)
	case 5:
		r.addr, r.err = m.AllocGen(o.a, o.flags, o.bits, o.b, o.c, o.d)
	case 6:
		r.addr, r.err = m.AllocPage(o.flags)
	case 7, 8, 9:
		r.err = m.Free(o.a, o.b)
	case 10:
		r.block, r.ok = m.FindFree(o.a)
	case 11:
		r.addr = m.Avail(o.flags)
	}
	r.err = errClass(r.err)
	return r
}

// allocSize returns the size an allocation op asked for.
func (o op) allocSize() uint64 {
	if o.kind == 6 {
		return PageSize
	}
	return o.a
}

// record updates the live ranges after o succeeded or failed.
func (g *gen) record(o op, r result) {
	switch o.kind {
	case 3, 4, 5, 6:
		if r.err == nil {
			g.live = append(g.live, [2]uint64{r.addr, r.addr + o.allocSize()})
		}
	case 7:
		g.live[o.liveIdx] = g.live[len(g.live)-1]
		g.live = g.live[:len(g.live)-1]
	case 8:
		old := g.live[o.liveIdx]
		g.live[o.liveIdx] = g.live[len(g.live)-1]
		g.live = g.live[:len(g.live)-1]
		if old[0] < o.subLo {
			g.live = append(g.live, [2]uint64{old[0], o.subLo})
		}
		if o.subHi < old[1] {
			g.live = append(g.live, [2]uint64{o.subHi, old[1]})
		}
	}
}

// sameState compares the manager with the reference block by block.
func sameState(m *LMM, ref *refLMM) error {
	if len(m.byPri) != len(ref.regs) {
		return fmt.Errorf("%d regions, reference %d", len(m.byPri), len(ref.regs))
	}
	for i, r := range m.byPri {
		rr := ref.regs[i]
		if r.Region != rr.Region {
			return fmt.Errorf("region %d is %+v, reference %+v", i, r.Region, rr.Region)
		}
		if r.free != rr.free {
			return fmt.Errorf("region %d: %d free, reference %d", i, r.free, rr.free)
		}
		n, rn := r.t.head, rr.head
		for ; n != nil && rn != nil; n, rn = n.next, rn.next {
			if n.start != rn.start || n.end != rn.end {
				return fmt.Errorf("region %d: block [%#x,%#x), reference [%#x,%#x)", i, n.start, n.end, rn.start, rn.end)
			}
		}
		if n != nil || rn != nil {
			return fmt.Errorf("region %d: block lists differ in length", i)
		}
	}
	return nil
}

// runOps runs up to nops generated operations on a manager and the
// reference, failing at the first difference or broken invariant.
func runOps(t *testing.T, c chooser, nops int) {
	t.Helper()
	m, ref := New(), &refLMM{}
	g := &gen{c: c}
	var hist []op
	for i := 0; i < nops && !c.done(); i++ {
		o := g.next()
		if i < 2 {
			o.kind = 0 // start with regions, so there is something to manage
		} else if i < 4 {
			o.kind, o.a, o.b = 1, g.addr(), 1+g.c.intn(area)
		}
		hist = append(hist, o)
		got, want := o.run(m), o.run(ref)
		if got != want {
			t.Fatalf("step %d %v: got %+v, reference %+v\nhistory (last 10): %v", i, o, got, want, tail(hist, 10))
		}
		if err := m.Check(); err != nil {
			t.Fatalf("step %d %v: %v", i, o, err)
		}
		if err := sameState(m, ref); err != nil {
			t.Fatalf("step %d %v: %v\nhistory (last 10): %v", i, o, err, tail(hist, 10))
		}
		if s, rs := m.Stats(), ref.Stats(); s != rs {
			t.Fatalf("step %d %v: stats %+v, reference %+v", i, o, s, rs)
		}
		g.record(o, got)
	}
}

func tail(h []op, n int) []op { return h[max(0, len(h)-n):] }

// TestAgainstReference is the property test: 1,000 seeded sequences of
// 1,000 operations of every kind, each step compared with the reference
// model and followed by Check.
func TestAgainstReference(t *testing.T) {
	const seeds, ops = 1000, 1000
	for _, half := range []uint64{0, 1} {
		t.Run(fmt.Sprintf("half%d", half), func(t *testing.T) {
			t.Parallel()
			for seed := half; seed < seeds; seed += 2 {
				runOps(t, randChooser{rand.New(rand.NewPCG(seed, 0x6c6d6d))}, ops)
				if t.Failed() {
					t.Fatalf("seed %d", seed)
				}
			}
		})
	}
}

// FuzzOps decodes an operation sequence from bytes and checks it against
// the reference model step by step.
func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x02\x01\x40\x00\x00\x00\x00\x00\x00\x00"))
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 8; i++ {
		b := make([]byte, 64<<i%1024)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runOps(t, &byteChooser{b: data}, min(len(data), 4000))
	})
}
