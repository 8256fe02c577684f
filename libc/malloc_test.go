package libc_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport/hosted"
	"github.com/goskit/goskit/libc"
)

func hostedSystem(t testing.TB, memory uint64) (*libc.System, *hosted.Platform) {
	t.Helper()
	info, err := boot.Hosted([]string{"kernel"}, boot.WithEnviron(nil), boot.WithMemory(0, memory))
	if err != nil {
		t.Fatal(err)
	}
	plat, err := hosted.New(info)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plat.Close() })
	return libc.New(plat), plat
}

func TestMallocFree(t *testing.T) {
	sys, plat := hostedSystem(t, 32<<20)
	free0 := plat.Memory().Avail(0)
	var blocks [][]byte
	for i, n := range []int{0, 1, 15, 16, 4096, 1 << 20} {
		b, err := sys.Malloc(n)
		if err != nil {
			t.Fatalf("Malloc(%d): %v", n, err)
		}
		if len(b) != n || cap(b) != n {
			t.Errorf("Malloc(%d) gave len %d cap %d", n, len(b), cap(b))
		}
		if addr, ok := plat.Arena().Addr(b[:cap(b)]); n > 0 && (!ok || addr%16 != 0) {
			t.Errorf("Malloc(%d) at %#x (in arena %v), want 16-byte aligned arena memory", n, addr, ok)
		}
		for j := range b {
			b[j] = byte(i)
		}
		blocks = append(blocks, b)
	}
	for i, b := range blocks {
		for _, c := range b {
			if c != byte(i) {
				t.Fatalf("block %d overwritten", i)
			}
		}
	}
	for _, b := range blocks {
		if err := sys.Free(b); err != nil {
			t.Fatalf("Free: %v", err)
		}
	}
	if got := plat.Memory().Avail(0); got != free0 {
		t.Errorf("free memory %d after freeing all, %d before", got, free0)
	}
}

func TestMemalign(t *testing.T) {
	sys, plat := hostedSystem(t, 32<<20)
	for _, align := range []int{1, 16, 4096, 1 << 21} {
		b, err := sys.Memalign(align, 100)
		if err != nil {
			t.Fatalf("Memalign(%d): %v", align, err)
		}
		addr, _ := plat.Arena().Addr(b)
		if addr%uint64(align) != 0 {
			t.Errorf("Memalign(%d) at %#x", align, addr)
		}
		if err := sys.Free(b); err != nil {
			t.Error(err)
		}
	}
}

func TestMallocErrors(t *testing.T) {
	sys, _ := hostedSystem(t, 1<<20)
	b, _ := sys.Malloc(64)
	for _, tc := range []struct {
		name string
		f    func() error
		want syscall.Errno
	}{
		{"negative size", func() error { _, err := sys.Malloc(-1); return err }, syscall.EINVAL},
		{"alignment not a power of two", func() error { _, err := sys.Memalign(24, 8); return err }, syscall.EINVAL},
		{"zero alignment", func() error { _, err := sys.Memalign(0, 8); return err }, syscall.EINVAL},
		{"out of memory", func() error { _, err := sys.Malloc(2 << 20); return err }, syscall.ENOMEM},
		{"calloc overflow", func() error { _, err := sys.Calloc(1<<62, 1<<62); return err }, syscall.ENOMEM},
		{"free Go memory", func() error { return sys.Free(make([]byte, 8)) }, syscall.EINVAL},
		{"free inside a block", func() error { return sys.Free(b[8:]) }, syscall.EINVAL},
		{"double free", func() error { sys.Free(b); return sys.Free(b) }, syscall.EINVAL},
		{"no platform memory", func() error { _, err := libc.New(nil).Malloc(8); return err }, syscall.ENOMEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); err != tc.want {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if err := sys.Free(nil); err != nil {
		t.Errorf("Free(nil) = %v", err)
	}
}

func TestCallocZeroes(t *testing.T) {
	sys, _ := hostedSystem(t, 1<<20)
	b, _ := sys.Malloc(4096)
	for i := range b {
		b[i] = 0xff
	}
	sys.Free(b)
	c, err := sys.Calloc(512, 8)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range c {
		if x != 0 {
			t.Fatalf("Calloc byte %d is %#x", i, x)
		}
	}
}

func ExampleSystem_Malloc() {
	info, _ := boot.Hosted([]string{"kernel"}, boot.WithEnviron(nil))
	plat, _ := hosted.New(info)
	defer plat.Close()
	sys := libc.New(plat)
	buf, err := sys.Malloc(64)
	if err != nil {
		panic(err)
	}
	n := copy(buf, "raw arena memory, not the Go heap")
	fmt.Println(string(buf[:n]))
	fmt.Println(sys.Free(buf), sys.Free(buf))
	// Output:
	// raw arena memory, not the Go heap
	// <nil> invalid argument
}
