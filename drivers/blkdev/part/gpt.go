package part

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"unicode/utf16"

	"github.com/goskit/goskit/drivers/blkdev"
)

// maxEntryBytes bounds the entry array read (the usual is 128 x 128 bytes).
const maxEntryBytes = 1 << 20

type gptHeader struct {
	myLBA, altLBA         int64
	firstUsable, lastUsbl int64
	diskGUID              [16]byte
	entriesLBA            int64
	numEntries, entrySize uint32
	entriesCRC            uint32
}

func readGPT(dev blkdev.Device, ss int) (*Table, error) {
	last := dev.Size()/int64(ss) - 1
	t, perr := readGPTAt(dev, ss, 1)
	if perr == nil {
		return t, nil
	}
	// The primary is damaged: the backup header lives in the last sector.
	t, berr := readGPTAt(dev, ss, last)
	if berr == nil {
		return t, nil
	}
	return nil, fmt.Errorf("part: primary GPT: %v; backup GPT: %w", perr, berr)
}

func readGPTAt(dev blkdev.Device, ss int, lba int64) (*Table, error) {
	sec, err := readSector(dev, ss, lba)
	if err != nil {
		return nil, err
	}
	if string(sec[:8]) != "EFI PART" {
		return nil, fmt.Errorf("GPT header at sector %d: no signature: %w", lba, ErrMalformed)
	}
	le := binary.LittleEndian
	hsize := le.Uint32(sec[12:])
	if hsize < 92 || int(hsize) > ss {
		return nil, fmt.Errorf("GPT header at sector %d: size %d: %w", lba, hsize, ErrMalformed)
	}
	h := append([]byte(nil), sec[:hsize]...)
	want := le.Uint32(h[16:])
	clear(h[16:20])
	if crc32.ChecksumIEEE(h) != want {
		return nil, fmt.Errorf("GPT header at sector %d: CRC mismatch: %w", lba, ErrMalformed)
	}
	g := gptHeader{
		myLBA:       int64(le.Uint64(sec[24:])),
		altLBA:      int64(le.Uint64(sec[32:])),
		firstUsable: int64(le.Uint64(sec[40:])),
		lastUsbl:    int64(le.Uint64(sec[48:])),
		entriesLBA:  int64(le.Uint64(sec[72:])),
		numEntries:  le.Uint32(sec[80:]),
		entrySize:   le.Uint32(sec[84:]),
		entriesCRC:  le.Uint32(sec[88:]),
	}
	copy(g.diskGUID[:], sec[56:72])
	sectors := dev.Size() / int64(ss)
	switch {
	case g.myLBA != lba:
		return nil, fmt.Errorf("GPT header at sector %d says it is at %d: %w", lba, g.myLBA, ErrMalformed)
	case g.entrySize < 128 || g.entrySize%8 != 0 || g.entrySize > 4096:
		return nil, fmt.Errorf("GPT entry size %d: %w", g.entrySize, ErrMalformed)
	case uint64(g.numEntries)*uint64(g.entrySize) > maxEntryBytes:
		return nil, fmt.Errorf("GPT entry array of %d x %d bytes: %w", g.numEntries, g.entrySize, ErrMalformed)
	case g.firstUsable < 0 || g.lastUsbl >= sectors || g.firstUsable > g.lastUsbl+1:
		return nil, fmt.Errorf("GPT usable range [%d,%d] on %d sectors: %w", g.firstUsable, g.lastUsbl, sectors, ErrMalformed)
	}
	arrBytes := int64(g.numEntries) * int64(g.entrySize)
	if g.entriesLBA < 0 || g.entriesLBA >= sectors || arrBytes > (sectors-g.entriesLBA)*int64(ss) {
		return nil, fmt.Errorf("GPT entry array at sector %d outside the device: %w", g.entriesLBA, ErrMalformed)
	}
	arr := make([]byte, arrBytes)
	if _, err := dev.ReadAt(arr, g.entriesLBA*int64(ss)); err != nil {
		return nil, fmt.Errorf("GPT entry array: %w", err)
	}
	if crc32.ChecksumIEEE(arr) != g.entriesCRC {
		return nil, fmt.Errorf("GPT entry array at sector %d: CRC mismatch: %w", g.entriesLBA, ErrMalformed)
	}
	t := &Table{Kind: GPT, SectorSize: ss, ID: guidString(g.diskGUID[:])}
	var zero [16]byte
	for i := 0; i < int(g.numEntries); i++ {
		e := arr[i*int(g.entrySize):][:128]
		if bytes.Equal(e[:16], zero[:]) {
			continue
		}
		first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
		if first < g.firstUsable || last > g.lastUsbl || first > last {
			return nil, fmt.Errorf("GPT partition %d [%d,%d] outside the usable range [%d,%d]: %w", i+1, first, last, g.firstUsable, g.lastUsbl, ErrMalformed)
		}
		u16 := make([]uint16, 36)
		for j := range u16 {
			u16[j] = le.Uint16(e[56+2*j:])
		}
		name := string(utf16.Decode(u16))
		if k := strings.IndexByte(name, 0); k >= 0 {
			name = name[:k]
		}
		t.Partitions = append(t.Partitions, Partition{
			Number: i + 1, Start: first, Size: last - first + 1,
			Type: guidString(e[:16]), UUID: guidString(e[16:32]), Name: name,
			Attrs: le.Uint64(e[48:]),
		})
	}
	return t, nil
}

// guidString formats a GUID as stored on disk: the first three fields are
// little-endian.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(b[0:]), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}
