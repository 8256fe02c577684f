package boot

import (
	"math"
	"reflect"
	"testing"
)

func TestNormalize(t *testing.T) {
	const M = 1 << 20
	tests := []struct {
		name string
		in   MemoryMap
		want MemoryMap
	}{
		{name: "empty", in: nil, want: nil},
		{name: "zero size dropped", in: MemoryMap{{Start: 5, Size: 0, Type: Usable}}, want: nil},
		{
			name: "sorted",
			in:   MemoryMap{{Start: 2 * M, Size: M, Type: Reserved}, {Start: 0, Size: M, Type: Usable}},
			want: MemoryMap{{Start: 0, Size: M, Type: Usable}, {Start: 2 * M, Size: M, Type: Reserved}},
		},
		{
			name: "adjacent same type merged",
			in:   MemoryMap{{Start: 0, Size: M, Type: Usable}, {Start: M, Size: M, Type: Usable}},
			want: MemoryMap{{Start: 0, Size: 2 * M, Type: Usable}},
		},
		{
			name: "overlapping same type merged",
			in:   MemoryMap{{Start: 0, Size: 2 * M, Type: Usable}, {Start: M, Size: 2 * M, Type: Usable}},
			want: MemoryMap{{Start: 0, Size: 3 * M, Type: Usable}},
		},
		{
			name: "reserved carved out of usable",
			in:   MemoryMap{{Start: 0, Size: 4 * M, Type: Usable}, {Start: M, Size: M, Type: Reserved}},
			want: MemoryMap{
				{Start: 0, Size: M, Type: Usable},
				{Start: M, Size: M, Type: Reserved},
				{Start: 2 * M, Size: 2 * M, Type: Usable},
			},
		},
		{
			name: "precedence does not depend on order",
			in: MemoryMap{
				{Start: 0, Size: 10, Type: Bad},
				{Start: 0, Size: 10, Type: ACPINVS},
				{Start: 0, Size: 10, Type: Reserved},
				{Start: 0, Size: 10, Type: Usable},
			},
			want: MemoryMap{{Start: 0, Size: 10, Type: Bad}},
		},
		{
			name: "ACPI reclaimable beats usable",
			in:   MemoryMap{{Start: 0, Size: 10, Type: Usable}, {Start: 5, Size: 10, Type: ACPIReclaimable}},
			want: MemoryMap{{Start: 0, Size: 5, Type: Usable}, {Start: 5, Size: 10, Type: ACPIReclaimable}},
		},
		{
			name: "unnamed type is as restrictive as reserved; larger value wins a tie",
			in:   MemoryMap{{Start: 0, Size: 10, Type: 12}, {Start: 0, Size: 10, Type: Reserved}},
			want: MemoryMap{{Start: 0, Size: 10, Type: 12}},
		},
		{
			name: "hole kept",
			in:   MemoryMap{{Start: 0, Size: 1, Type: Usable}, {Start: 2, Size: 1, Type: Usable}},
			want: MemoryMap{{Start: 0, Size: 1, Type: Usable}, {Start: 2, Size: 1, Type: Usable}},
		},
		{
			name: "overflowing range clamped to the top",
			in:   MemoryMap{{Start: math.MaxUint64 - 9, Size: 100, Type: Usable}},
			want: MemoryMap{{Start: math.MaxUint64 - 9, Size: 9, Type: Usable}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Normalize()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Normalize(%v)\n got %v\nwant %v", tt.in, got, tt.want)
			}
			if again := got.Normalize(); !reflect.DeepEqual(again, got) {
				t.Fatalf("Normalize is not idempotent: %v -> %v", got, again)
			}
		})
	}
}

// FuzzNormalize checks Normalize against a reference model: the type of
// every address in a small address space, computed one address at a time.
func FuzzNormalize(f *testing.F) {
	f.Add([]byte{0, 10, 1, 5, 10, 2})
	f.Add([]byte{3, 3, 5, 0, 255, 1, 250, 10, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m MemoryMap
		for ; len(b) >= 3; b = b[3:] {
			m = append(m, MemoryRange{Start: uint64(b[0]), Size: uint64(b[1]), Type: MemoryType(b[2] % 9)})
		}
		got := m.Normalize()
		for i, r := range got {
			if r.Size == 0 {
				t.Fatalf("empty range in %v", got)
			}
			if i > 0 {
				prev := got[i-1]
				if prev.End() > r.Start {
					t.Fatalf("unsorted or overlapping: %v", got)
				}
				if prev.End() == r.Start && prev.Type == r.Type {
					t.Fatalf("adjacent ranges of one type not merged: %v", got)
				}
			}
		}
		for addr := uint64(0); addr < 512; addr++ {
			var want MemoryType
			covered := false
			for _, r := range m {
				if r.Start <= addr && addr < r.End() && (!covered || r.Type.winsOver(want)) {
					want, covered = r.Type, true
				}
			}
			var have MemoryType
			found := false
			for _, r := range got {
				if r.Start <= addr && addr < r.End() {
					have, found = r.Type, true
				}
			}
			if found != covered || have != want {
				t.Fatalf("address %d: got %v (%v), want %v (%v); map %v -> %v", addr, have, found, want, covered, m, got)
			}
		}
	})
}

func TestPCMemoryMap(t *testing.T) {
	got := PCMemoryMap(639, 130048) // 640 KiB less the EBDA, 127 MiB extended
	want := MemoryMap{
		{Start: 0, Size: 639 * 1024, Type: Usable},
		{Start: 639 * 1024, Size: 1<<20 - 639*1024, Type: Reserved},
		{Start: 1 << 20, Size: 127 << 20, Type: Usable},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PCMemoryMap = %v, want %v", got, want)
	}
	if n := got.Total(Usable); n != 639*1024+127<<20 {
		t.Fatalf("Total(Usable) = %d", n)
	}
	if u := got.Only(Usable); len(u) != 2 || u[1].Start != 1<<20 {
		t.Fatalf("Only(Usable) = %v", u)
	}
	// A lower size reaching into the hole is cut at 1 MiB.
	if got := PCMemoryMap(4096, 0); !reflect.DeepEqual(got, MemoryMap{{Start: 0, Size: 1 << 20, Type: Usable}}) {
		t.Fatalf("PCMemoryMap(4096, 0) = %v", got)
	}
}

func TestMemoryStrings(t *testing.T) {
	r := MemoryRange{Start: 0x100000, Size: 0x100000, Type: Usable}
	if s := r.String(); s != "[0x100000-0x200000) usable" {
		t.Errorf("String = %q", s)
	}
	if s := MemoryType(42).String(); s != "type 42" {
		t.Errorf("String = %q", s)
	}
}
