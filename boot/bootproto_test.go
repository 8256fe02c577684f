package boot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// image is a physical-memory image a test builds boot information in.
type image []byte

func newImage(size int) image { return make(image, size) }

func (m image) u32(off int, v uint32) { binary.LittleEndian.PutUint32(m[off:], v) }
func (m image) u64(off int, v uint64) { binary.LittleEndian.PutUint64(m[off:], v) }
func (m image) str(off int, s string) { copy(m[off:], s+"\x00") }
func (m image) reader() *bytes.Reader { return bytes.NewReader(m) }

// pvhImage lays out a PVH start info at 0x100 with a command line, a memory
// map and two modules.
func pvhImage() image {
	m := newImage(0x1000)
	m.u32(0x100, PVHMagic)
	m.u32(0x104, 1)
	m.u32(0x10c, 2)       // nr_modules
	m.u64(0x110, 0x300)   // modlist
	m.u64(0x118, 0x200)   // cmdline
	m.u64(0x120, 0xf0000) // rsdp
	m.u64(0x128, 0x400)   // memmap
	m.u32(0x130, 3)       // entries
	m.str(0x200, "hello -v A=1 -- x y")
	// modules: "etc/hosts" at 0x800 (5 bytes), unnamed at 0x900 (3 bytes)
	m.u64(0x300, 0x800)
	m.u64(0x308, 5)
	m.u64(0x310, 0x280)
	m.u64(0x320, 0x900)
	m.u64(0x328, 3)
	m.str(0x280, "etc/hosts  extra words")
	copy(m[0x800:], "hosts")
	copy(m[0x900:], "abc")
	for i, r := range []MemoryRange{{0, 0x9fc00, Usable}, {0x100000, 0x1ff00000, Usable}, {0x9fc00, 0x400, Reserved}} {
		m.u64(0x400+24*i, r.Start)
		m.u64(0x408+24*i, r.Size)
		m.u32(0x410+24*i, uint32(r.Type))
	}
	return m
}

func TestParsePVH(t *testing.T) {
	p, err := ParsePVH(pvhImage().reader(), 0x100)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.RSDP != 0xf0000 {
		t.Errorf("version %d rsdp %#x", p.Version, p.RSDP)
	}
	if p.Program != "hello" || !slices.Equal(p.Options, []string{"-v"}) || !slices.Equal(p.Args, []string{"x", "y"}) {
		t.Errorf("command line %+v", p.CommandLine)
	}
	if !slices.Equal(p.Environ, []string{"A=1"}) {
		t.Errorf("environ %q", p.Environ)
	}
	want := MemoryMap{{0, 0x9fc00, Usable}, {0x9fc00, 0x400, Reserved}, {0x100000, 0x1ff00000, Usable}}
	if !slices.Equal(p.Memory, want) {
		t.Errorf("memory %v, want %v", p.Memory, want)
	}
	if len(p.Modules) != 2 {
		t.Fatalf("modules %+v", p.Modules)
	}
	if m := p.Modules[0]; m.Name != "etc/hosts" || string(m.Data) != "hosts" || m.String != "extra words" {
		t.Errorf("module 0 %+v", m)
	}
	if m := p.Modules[1]; m.Name != "module1" || string(m.Data) != "abc" || m.String != "" {
		t.Errorf("module 1 %+v", m)
	}
}

func TestParsePVHErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(image)
	}{
		{"magic", func(m image) { m.u32(0x100, 1) }},
		{"memmap outside", func(m image) { m.u64(0x128, 0xfff0) }},
		{"memmap too long", func(m image) { m.u32(0x130, MaxBootMemoryRanges+1) }},
		{"cmdline outside", func(m image) { m.u64(0x118, 1<<40) }},
		{"cmdline unterminated", func(m image) { m.u64(0x118, 0xffe); m[0xffe], m[0xfff] = 'a', 'b' }},
		{"modules too many", func(m image) { m.u32(0x10c, 1<<30) }},
		{"module data outside", func(m image) { m.u64(0x308, 1<<62) }},
		{"module wraps", func(m image) { m.u64(0x300, ^uint64(0)); m.u64(0x308, 2) }},
		{"module string outside", func(m image) { m.u64(0x310, 0x2000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := pvhImage()
			tc.edit(m)
			if _, err := ParsePVH(m.reader(), 0x100); !errors.Is(err, ErrBootInfo) {
				t.Errorf("err = %v, want ErrBootInfo", err)
			}
		})
	}
	if _, err := ParsePVH(pvhImage().reader(), 0xff0); !errors.Is(err, ErrBootInfo) {
		t.Errorf("block past the end: err = %v", err)
	}
}

func TestParsePVHVersion0(t *testing.T) {
	m := pvhImage()
	m.u32(0x104, 0)
	p, err := ParsePVH(m.reader(), 0x100)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Memory) != 0 || p.Program != "hello" {
		t.Errorf("version 0: memory %v program %q", p.Memory, p.Program)
	}
}

// mbImage lays out a Multiboot v1 info block at 0x100.
func mbImage() image {
	m := newImage(0x1000)
	m.u32(0x100, mbFlagMem|mbFlagCmdline|mbFlagMods|mbFlagMmap)
	m.u32(0x104, 639)
	m.u32(0x108, 130048)
	m.u32(0x110, 0x200)
	m.u32(0x114, 1)
	m.u32(0x118, 0x300)
	m.u32(0x12c, 2*24) // mmap_length
	m.u32(0x130, 0x400)
	m.str(0x200, "kern -- a")
	m.u32(0x300, 0x800)
	m.u32(0x304, 0x804)
	m.u32(0x308, 0x280)
	m.str(0x280, "disk.img")
	copy(m[0x800:], "data")
	for i, r := range []MemoryRange{{0, 0x9fc00, Usable}, {0x100000, 0x7f00000, Usable}} {
		m.u32(0x400+24*i, 20)
		m.u64(0x404+24*i, r.Start)
		m.u64(0x40c+24*i, r.Size)
		m.u32(0x414+24*i, uint32(r.Type))
	}
	return m
}

func TestParseMultiboot(t *testing.T) {
	info, err := ParseMultiboot(mbImage().reader(), 0x100)
	if err != nil {
		t.Fatal(err)
	}
	if info.Program != "kern" || !slices.Equal(info.Args, []string{"a"}) {
		t.Errorf("command line %+v", info.CommandLine)
	}
	want := MemoryMap{{0, 0x9fc00, Usable}, {0x100000, 0x7f00000, Usable}}
	if !slices.Equal(info.Memory, want) {
		t.Errorf("memory %v, want %v", info.Memory, want)
	}
	if len(info.Modules) != 1 || info.Modules[0].Name != "disk.img" || string(info.Modules[0].Data) != "data" {
		t.Errorf("modules %+v", info.Modules)
	}
	// Without the full map, mem_lower and mem_upper describe memory.
	m := mbImage()
	m.u32(0x100, mbFlagMem)
	info, err = ParseMultiboot(m.reader(), 0x100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Memory, PCMemoryMap(639, 130048)) {
		t.Errorf("mem_lower/upper map %v", info.Memory)
	}
}

func TestParseMultibootErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(image)
	}{
		{"mmap entry size small", func(m image) { m.u32(0x400, 4) }},
		{"mmap entry size past end", func(m image) { m.u32(0x418, 100) }},
		{"mmap truncated", func(m image) { m.u32(0x12c, 26) }},
		{"mmap outside", func(m image) { m.u32(0x130, 0xfff0) }},
		{"module backwards", func(m image) { m.u32(0x304, 0x7ff) }},
		{"module outside", func(m image) { m.u32(0x304, 0xffffffff) }},
		{"modules too many", func(m image) { m.u32(0x114, MaxBootModules+1) }},
		{"cmdline outside", func(m image) { m.u32(0x110, 0x10000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mbImage()
			tc.edit(m)
			if _, err := ParseMultiboot(m.reader(), 0x100); !errors.Is(err, ErrBootInfo) {
				t.Errorf("err = %v, want ErrBootInfo", err)
			}
		})
	}
}

// FuzzParsePVH parses arbitrary memory images, with the start info at an
// arbitrary address: never a panic, and a success describes only memory
// inside the image.
func FuzzParsePVH(f *testing.F) {
	f.Add([]byte(pvhImage()), uint64(0x100))
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, mem []byte, addr uint64) {
		p, err := ParsePVH(bytes.NewReader(mem), addr)
		if err != nil {
			if !errors.Is(err, ErrBootInfo) {
				t.Fatalf("error %v does not wrap ErrBootInfo", err)
			}
			return
		}
		checkParsed(t, p.Info, len(mem))
	})
}

// FuzzParseMultiboot is FuzzParsePVH for Multiboot v1.
func FuzzParseMultiboot(f *testing.F) {
	f.Add([]byte(mbImage()), uint64(0x100))
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, mem []byte, addr uint64) {
		info, err := ParseMultiboot(bytes.NewReader(mem), addr)
		if err != nil {
			if !errors.Is(err, ErrBootInfo) {
				t.Fatalf("error %v does not wrap ErrBootInfo", err)
			}
			return
		}
		checkParsed(t, info, len(mem))
	})
}

func checkParsed(t *testing.T, info *Info, memLen int) {
	t.Helper()
	total := 0
	for _, m := range info.Modules {
		total += len(m.Data)
		if m.Name == "" {
			t.Errorf("module without a name: %+v", m)
		}
	}
	if total > memLen*MaxBootModules {
		t.Errorf("modules hold %d bytes from a %d-byte image", total, memLen)
	}
	if len(info.Memory) > 2*MaxBootMemoryRanges+2 {
		t.Errorf("memory map of %d ranges", len(info.Memory))
	}
}
