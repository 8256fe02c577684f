package boot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on what a boot-protocol parser accepts, so that a corrupt or
// hostile boot-information block cannot make it allocate without bound or
// loop for long. Real boot loaders pass tens of map entries and a handful of
// modules.
const (
	// MaxBootStrings is the longest command line or module string read,
	// in bytes, NUL excluded.
	MaxBootStrings = 64 << 10
	// MaxBootMemoryRanges is the largest memory map accepted.
	MaxBootMemoryRanges = 1024
	// MaxBootModules is the largest module count accepted.
	MaxBootModules = 256
)

// ErrBootInfo is the error a boot-protocol parser returns, wrapped with the
// reason, for a boot-information block it cannot use: a bad magic number, an
// address outside the memory image, a count past the limits, an
// unterminated string.
var ErrBootInfo = errors.New("boot: malformed boot information")

func bootErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBootInfo, fmt.Sprintf(format, args...))
}

// physReader reads the boot-information block through an io.ReaderAt over
// physical memory: every read is bounds-checked by the reader, so a parser
// never touches memory it was not given.
type physReader struct{ mem io.ReaderAt }

func (r physReader) bytes(addr, n uint64, what string) ([]byte, error) {
	if n > 1<<40 || addr+n < addr || addr > 1<<63 || addr+n > 1<<63 {
		return nil, bootErr("%s at %#x size %#x out of range", what, addr, n)
	}
	if n == 0 {
		return nil, nil
	}
	// Probe the last byte before allocating, so that a huge size from a
	// corrupt block costs nothing when the memory is not there.
	var probe [1]byte
	if _, err := r.mem.ReadAt(probe[:], int64(addr+n-1)); err != nil {
		return nil, bootErr("%s at %#x size %#x: %v", what, addr, n, err)
	}
	b := make([]byte, n)
	if _, err := r.mem.ReadAt(b, int64(addr)); err != nil {
		return nil, bootErr("%s at %#x size %#x: %v", what, addr, n, err)
	}
	return b, nil
}

// cstring reads a NUL-terminated string at addr, at most MaxBootStrings
// bytes long. Address 0 is the empty string (no string given).
func (r physReader) cstring(addr uint64, what string) (string, error) {
	if addr == 0 {
		return "", nil
	}
	var sb strings.Builder
	var buf [256]byte
	for sb.Len() <= MaxBootStrings {
		if addr > 1<<63 {
			return "", bootErr("%s runs past the address space", what)
		}
		n, err := r.mem.ReadAt(buf[:], int64(addr))
		if i := indexByte(buf[:n], 0); i >= 0 {
			sb.Write(buf[:i])
			if sb.Len() > MaxBootStrings {
				break
			}
			return sb.String(), nil
		}
		if n == 0 || (err != nil && err != io.EOF) || (err == io.EOF && n < len(buf)) {
			return "", bootErr("%s at %#x is not terminated", what, addr)
		}
		sb.Write(buf[:n])
		addr += uint64(n)
	}
	return "", bootErr("%s longer than %d bytes", what, MaxBootStrings)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// fromBootLoader builds an Info from what a boot loader passed: the command
// line as one string, the raw memory map and the modules. A bare-metal
// kernel's environment is its command line's settings alone.
func fromBootLoader(cmdline string, mem MemoryMap, mods []Module) *Info {
	info := &Info{CommandLine: ParseCommandLine(SplitCommandLine(cmdline))}
	info.Environ = MergeEnviron(nil, info.Vars)
	info.Memory = mem.Normalize()
	info.Modules = mods
	return info
}

// moduleFromString names a module by its string as the OSKit did: the first
// word is the name, the rest is the module's String. A module without a
// string is called "module<i>".
func moduleFromString(s string, i int, data []byte) Module {
	s = strings.TrimSpace(s)
	name, rest, _ := strings.Cut(s, " ")
	if name == "" {
		name = fmt.Sprintf("module%d", i)
	}
	return Module{Name: name, Data: data, String: strings.TrimSpace(rest)}
}

var le = binary.LittleEndian
