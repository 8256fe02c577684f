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
	syms, err := f.Symbols()
	if err != nil {
		return nil, ErrNoEntry
	}
	var entry uint64
	for _, s := range syms {
		if s.Name == EntrySymbol || s.Name == EntrySymbol+".abi0" {
			entry = s.Value
		}
	}
	if entry == 0 || entry >= 1<<32 {
		return nil, ErrNoEntry
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

// Build builds the Go package pkg (a path or pattern go build accepts, run
// in dir) for bare metal into the image file out: GOOS=linux GOARCH=amd64,
// CGO_ENABLED=0, a static binary, then MakeImage.
func Build(dir, pkg, out string) error {
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
	return os.WriteFile(out, img, 0o755)
}
