package vmlist

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// model runs a sequence of map (replace) and unmap operations on a List
// and on a page-by-page model, and checks that they agree on every page
// and that the list stays disjoint.
func model(t *testing.T, ops []byte) {
	t.Helper()
	var l List
	const base, pages, size = 1 << 32, 64, 4096
	var want [pages]uint64 // 0: unmapped; else prot+1
	for i := 0; i+2 < len(ops) && i < 3*400; i += 3 {
		start := uint64(ops[i] % pages)
		n := min(uint64(ops[i+1]%8)+1, pages-start)
		a, b := base+start*size, base+(start+n)*size
		op := ops[i+2] % 4
		if !l.Remove(a, b) {
			t.Fatalf("Remove failed with %d mappings", l.Len())
		}
		if op != 0 && !l.Add(a, b, uint64(op-1)) {
			t.Fatalf("Add failed with %d mappings", l.Len())
		}
		for p := start; p < start+n; p++ {
			want[p] = uint64(op) // op-1+1, or 0 for unmap
		}
	}
	for p := uint64(0); p < pages; p++ {
		m, ok := l.Find(base + p*size + 123)
		got := uint64(0)
		if ok {
			got = m.Prot + 1
		}
		if got != want[p] {
			t.Fatalf("page %d: list says %d, model %d (list %v)", p, got, want[p], dump(&l))
		}
		if l.Overlaps(base+p*size, base+p*size+1) != (want[p] != 0) {
			t.Fatalf("page %d: Overlaps disagrees", p)
		}
	}
	for i := range l.Len() {
		a := l.At(i)
		if a.Start >= a.End {
			t.Fatalf("empty mapping %v", a)
		}
		for j := i + 1; j < l.Len(); j++ {
			if b := l.At(j); a.Start < b.End && b.Start < a.End {
				t.Fatalf("mappings %v and %v overlap", a, b)
			}
		}
	}
}

func dump(l *List) string {
	s := ""
	for i := range l.Len() {
		s += fmt.Sprintf("%v ", l.At(i))
	}
	return s
}

func TestModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		ops := make([]byte, 3*r.IntN(100))
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		model(t, ops)
	}
}

func TestOperations(t *testing.T) {
	var l List
	for _, tc := range []struct {
		name string
		do   func() bool
		want string
	}{
		{"add", func() bool { return l.Add(0x1000, 0x5000, 3) }, "{4096 20480 3} "},
		{"merge after", func() bool { return l.Add(0x5000, 0x6000, 3) }, "{4096 24576 3} "},
		{"split", func() bool { return l.Remove(0x2000, 0x3000) }, "{4096 8192 3} {12288 24576 3} "},
		{"trim end", func() bool { return l.Remove(0x5000, 0x7000) }, "{4096 8192 3} {12288 20480 3} "},
		{"trim start", func() bool { return l.Remove(0, 0x1800) }, "{6144 8192 3} {12288 20480 3} "},
		{"other prot", func() bool { return l.Add(0x2000, 0x3000, 1) }, "{6144 8192 3} {12288 20480 3} {8192 12288 1} "},
		{"remove all", func() bool { return l.Remove(0, 1<<40) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.do() {
				t.Fatal("failed")
			}
			if got := dump(&l); got != tc.want {
				t.Errorf("list %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFull(t *testing.T) {
	var l List
	for i := range uint64(MaxMappings) {
		if !l.Add(i*0x2000, i*0x2000+0x1000, 3) {
			t.Fatalf("Add %d failed", i)
		}
	}
	if l.Add(1<<40, 1<<40+0x1000, 3) {
		t.Error("Add into a full list succeeded")
	}
	if l.Remove(0x400, 0x800) {
		t.Error("a split in a full list succeeded")
	}
	if !l.Remove(0, 0x1000) || l.Len() != MaxMappings-1 {
		t.Errorf("whole removal: %d mappings", l.Len())
	}
}

// FuzzList checks the list against the page model for arbitrary operation
// sequences.
func FuzzList(f *testing.F) {
	f.Add([]byte{0, 7, 1, 3, 2, 0, 1, 1, 2})
	f.Fuzz(model)
}
