package hosted_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport/hosted"
	"github.com/goskit/goskit/lmm"
)

func newArena(t *testing.T, m boot.MemoryMap) *hosted.Arena {
	t.Helper()
	a, err := hosted.NewArena(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestArenaAllocFree(t *testing.T) {
	a := newArena(t, boot.MemoryMap{{Start: 0, Size: 64 << 20, Type: boot.Usable}})
	if got := a.Avail(0); got != 64<<20 {
		t.Fatalf("Avail = %d, want 64 MiB", got)
	}
	// High memory first, as the PC preset prefers.
	p, err := a.Alloc(8192, 0, 12)
	if err != nil {
		t.Fatal(err)
	}
	if p < 16<<20 || p%4096 != 0 {
		t.Errorf("Alloc = %#x, want page-aligned above 16 MiB", p)
	}
	dma, err := a.Alloc(4096, lmm.Below16MB, 0)
	if err != nil || dma+4096 > 16<<20 {
		t.Errorf("Below16MB Alloc = %#x, %v", dma, err)
	}
	b, err := a.Bytes(p, 8192)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "physical")
	again, _ := a.Bytes(p, 8)
	if string(again) != "physical" {
		t.Errorf("second view reads %q", again)
	}
	if addr, ok := a.Addr(b[100:]); !ok || addr != p+100 {
		t.Errorf("Addr = %#x, %v, want %#x", addr, ok, p+100)
	}
	if _, ok := a.Addr(make([]byte, 4)); ok {
		t.Error("Addr of Go memory succeeded")
	}
	if err := a.Free(p, 8192); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(p, 8192); !errors.Is(err, lmm.ErrDoubleFree) {
		t.Errorf("double free: %v, want ErrDoubleFree", err)
	}
	if err := a.Free(dma, 4096); err != nil {
		t.Fatal(err)
	}
	if got := a.Avail(0); got != 64<<20 {
		t.Errorf("Avail after frees = %d", got)
	}
}

func TestArenaBadInput(t *testing.T) {
	a := newArena(t, boot.MemoryMap{{Start: 1 << 20, Size: 1 << 20, Type: boot.Usable}})
	for _, tc := range []struct {
		name string
		f    func() error
	}{
		{"zero size", func() error { _, err := a.Alloc(0, 0, 0); return err }},
		{"too big", func() error { _, err := a.Alloc(2<<20, 0, 0); return err }},
		{"flags no region has", func() error { _, err := a.Alloc(4096, lmm.Below1MB, 0); return err }},
		{"view past the end", func() error { _, err := a.Bytes(2<<20-4, 8); return err }},
		{"view wrapping", func() error { _, err := a.Bytes(1<<63, 1<<63); return err }},
		{"free outside memory", func() error { return a.Free(8<<20, 4096) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := hosted.NewArena(boot.MemoryMap{{Start: 1 << 50, Size: 1 << 20, Type: boot.Usable}}); err == nil {
		t.Error("NewArena accepted memory beyond 1 TiB")
	}
}

func TestArenaClosed(t *testing.T) {
	a, err := hosted.NewArena(boot.MemoryMap{{Size: 1 << 20, Type: boot.Usable}})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := a.Alloc(4096, 0, 0); !errors.Is(err, hosted.ErrArenaClosed) {
		t.Errorf("Alloc after Close: %v", err)
	}
	if _, err := a.Bytes(0, 1); !errors.Is(err, hosted.ErrArenaClosed) {
		t.Errorf("Bytes after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func ExampleArena() {
	info, _ := boot.Hosted([]string{"kernel"}, boot.WithEnviron(nil))
	plat, _ := hosted.New(info)
	defer plat.Close()
	mem := plat.Memory()
	// A page for ISA DMA: below 16 MiB, page-aligned.
	addr, err := mem.Alloc(4096, lmm.Below16MB, 12)
	if err != nil {
		panic(err)
	}
	page, _ := mem.Bytes(addr, 4096)
	fmt.Println(len(page), addr < 16<<20, addr%4096 == 0)
	fmt.Println(mem.Free(addr, 4096))
	// Output:
	// 4096 true true
	// <nil>
}
