// Package qemu provides the host side of the bare-metal platform: it builds
// a Go program into a bootable image for QEMU's -kernel (a GOOS=linux
// GOARCH=amd64 static binary whose Go build-id note is rewritten into a Xen
// PVH entry note naming kernsupport/x86's entry), and boots an image under
// qemu-system-x86_64 with the serial port captured, returning the kernel's
// own exit status decoded from QEMU's isa-debug-exit.
//
// # Execution environment
//
// Everything here runs on the host. Build and Run block until done; Run
// bounds every boot by a total time cap and a serial-silence limit and
// kills QEMU on either. Nothing here holds global state; boots may run in
// parallel.
package qemu

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EntrySymbol is the ELF symbol of the bare-metal entry.
const EntrySymbol = "github.com/goskit/goskit/kernsupport/x86.pvhEntry"

// xenElfnotePhys32Entry is the PVH note type QEMU looks for.
const xenElfnotePhys32Entry = 18

// ErrNoEntry is returned by MakeImage for a binary without the kit's entry
// (a program that does not import kernsupport/x86, or a stripped binary).
var ErrNoEntry = errors.New("qemu: binary has no " + EntrySymbol + " symbol (import kernsupport/x86; do not strip)")

// ErrNoNote is returned by MakeImage for a binary with no note to rewrite.
var ErrNoNote = errors.New("qemu: binary has no Go build-id note to rewrite into a PVH note")

// MakeImage returns a copy of bin, a linux/amd64 ELF executable linking
// kernsupport/x86, with its Go build-id note rewritten into a Xen PVH note
// (XEN_ELFNOTE_PHYS32_ENTRY) whose value is the entry's address. Nothing
// else changes: the binary still runs as a Linux process.
func MakeImage(bin []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("qemu: not an x86-64 ELF64 binary")
	}
	entry, err := entryAddr(f)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(bin)
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Off+p.Filesz > uint64(len(out)) {
			continue
		}
		notes := out[p.Off : p.Off+p.Filesz]
		for off := uint64(0); off+12 <= uint64(len(notes)); {
			namesz := uint64(binary.LittleEndian.Uint32(notes[off:]))
			descsz := uint64(binary.LittleEndian.Uint32(notes[off+4:]))
			typ := binary.LittleEndian.Uint32(notes[off+8:])
			name := off + 12
			desc := name + (namesz+3)&^3
			next := desc + (descsz+3)&^3
			if next > uint64(len(notes)) {
				break
			}
			if namesz == 4 && string(notes[name:name+3]) == "Go\x00" && typ == 4 && descsz >= 8 {
				binary.LittleEndian.PutUint32(notes[off+8:], xenElfnotePhys32Entry)
				copy(notes[name:], "Xen\x00")
				clear(notes[desc : desc+descsz])
				// QEMU reads the value as a native word; the rest
				// of the old descriptor stays zero.
				binary.LittleEndian.PutUint64(notes[desc:], entry)
				return out, nil
			}
			off = next
		}
	}
	return nil, ErrNoNote
}

// Multiboot v1 header values: the a.out-kludge form, because QEMU loads
// only 32-bit ELF files by their program headers.
const (
	multibootHeaderMagic = 0x1BADB002
	// Page-aligned modules, memory information, and the address fields.
	multibootFlags      = 1<<0 | 1<<1 | 1<<16
	multibootHeaderSize = 32
	multibootSearch     = 8192 // the header must lie in the file's first 8 KiB
)

// ErrLayout is returned by AddMultiboot for a binary whose segments are
// not laid out as a flat image (file offset and address apart by one
// constant, the first segment at offset 0, all below 4 GiB).
var ErrLayout = errors.New("qemu: binary cannot be loaded as a flat Multiboot image")

// AddMultiboot returns a copy of img, MakeImage's output, with a Multiboot
// v1 header (a.out-kludge form: load the file flat at its first segment's
// address, clear the rest up to the end of bss, enter at the kit's entry)
// written inside the PVH note's descriptor, after the entry address, where
// it lies in the first 8 KiB as Multiboot requires. QEMU's -kernel looks
// for a Multiboot header before the PVH note, so the image then boots as a
// Multiboot kernel: boot modules come from -initrd "file arg,file arg".
func AddMultiboot(img []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	defer f.Close()
	entry, err := entryAddr(f)
	if err != nil {
		return nil, err
	}
	var base, loadEnd, bssEnd uint64
	first := true
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if first {
			if p.Off != 0 {
				return nil, ErrLayout
			}
			base, first = p.Vaddr, false
		}
		if p.Vaddr-p.Off != base || p.Vaddr+p.Memsz > 1<<32 {
			return nil, ErrLayout
		}
		loadEnd = max(loadEnd, p.Vaddr+p.Filesz)
		bssEnd = max(bssEnd, p.Vaddr+p.Memsz)
	}
	if first || loadEnd-base > uint64(len(img)) {
		return nil, ErrLayout
	}
	out := bytes.Clone(img)
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		desc, descsz, ok := findNote(out[p.Off:p.Off+p.Filesz], "Xen\x00", xenElfnotePhys32Entry)
		hdr := p.Off + desc + 8
		if !ok || descsz < 8+multibootHeaderSize || hdr%4 != 0 || hdr+multibootHeaderSize > multibootSearch {
			continue
		}
		h := out[hdr : hdr+multibootHeaderSize]
		le := binary.LittleEndian
		le.PutUint32(h[0:], multibootHeaderMagic)
		le.PutUint32(h[4:], multibootFlags)
		sum := uint32(multibootHeaderMagic + multibootFlags)
		le.PutUint32(h[8:], -sum)
		le.PutUint32(h[12:], uint32(base+hdr)) // header_addr
		le.PutUint32(h[16:], uint32(base))     // load_addr
		le.PutUint32(h[20:], uint32(loadEnd))  // load_end_addr
		le.PutUint32(h[24:], uint32(bssEnd))   // bss_end_addr
		le.PutUint32(h[28:], uint32(entry))    // entry_addr
		return out, nil
	}
	return nil, ErrNoNote
}

// findNote returns the offset and size of the descriptor of the first note
// in notes with the given name and type.
func findNote(notes []byte, name string, typ uint32) (desc, descsz uint64, ok bool) {
	for off := uint64(0); off+12 <= uint64(len(notes)); {
		namesz := uint64(binary.LittleEndian.Uint32(notes[off:]))
		descsz = uint64(binary.LittleEndian.Uint32(notes[off+4:]))
		t := binary.LittleEndian.Uint32(notes[off+8:])
		n := off + 12
		desc = n + (namesz+3)&^3
		next := desc + (descsz+3)&^3
		if next > uint64(len(notes)) || desc > next {
			return 0, 0, false
		}
		if t == typ && namesz == uint64(len(name)) && string(notes[n:n+namesz]) == name {
			return desc, descsz, true
		}
		off = next
	}
	return 0, 0, false
}

// entryAddr finds the kit's entry symbol.
func entryAddr(f *elf.File) (uint64, error) {
	syms, err := f.Symbols()
	if err != nil {
		return 0, ErrNoEntry
	}
	for _, s := range syms {
		if (s.Name == EntrySymbol || s.Name == EntrySymbol+".abi0") && s.Value != 0 && s.Value < 1<<32 {
			return s.Value, nil
		}
	}
	return 0, ErrNoEntry
}

// Option changes how Build makes an image.
type Option func(*buildConfig)

type buildConfig struct{ multiboot bool }

// WithMultiboot makes Build add a Multiboot header (AddMultiboot).
func WithMultiboot() Option { return func(c *buildConfig) { c.multiboot = true } }

// Build builds the Go package pkg (a path or pattern go build accepts, run
// in dir) for bare metal into the image file out: GOOS=linux GOARCH=amd64,
// CGO_ENABLED=0, a static binary, then MakeImage (and AddMultiboot with
// WithMultiboot).
func Build(dir, pkg, out string, opts ...Option) error {
	var cfg buildConfig
	for _, o := range opts {
		o(&cfg)
	}
	tmp, err := os.MkdirTemp("", "mkimage")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "kernel")
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0", "GOAMD64=v1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("qemu: go build %s: %v\n%s", pkg, err, strings.TrimSpace(string(msg)))
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	img, err := MakeImage(data)
	if err != nil {
		return err
	}
	if cfg.multiboot {
		if img, err = AddMultiboot(img); err != nil {
			return err
		}
	}
	return os.WriteFile(out, img, 0o755)
}
