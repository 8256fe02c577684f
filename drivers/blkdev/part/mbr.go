package part

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/goskit/goskit/drivers/blkdev"
)

var errProtective = errors.New("protective MBR")

// maxLogical bounds the EBR chain: Linux stops at a few hundred too.
const maxLogical = 256

type mbrEntry struct {
	status byte
	typ    byte
	start  uint32
	count  uint32
}

func mbrEntries(sec []byte) ([4]mbrEntry, bool) {
	var e [4]mbrEntry
	if sec[510] != 0x55 || sec[511] != 0xAA {
		return e, false
	}
	for i := range e {
		b := sec[446+16*i:]
		e[i] = mbrEntry{status: b[0], typ: b[4], start: binary.LittleEndian.Uint32(b[8:]), count: binary.LittleEndian.Uint32(b[12:])}
	}
	return e, true
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

func readMBR(dev blkdev.Device, ss int) (*Table, error) {
	sec, err := readSector(dev, ss, 0)
	if err != nil {
		return nil, err
	}
	ents, ok := mbrEntries(sec)
	if !ok {
		return nil, fmt.Errorf("part: no MBR signature: %w", ErrNoTable)
	}
	for _, e := range ents {
		if e.typ == 0xee {
			return nil, errProtective
		}
	}
	sectors := dev.Size() / int64(ss)
	t := &Table{Kind: MBR, SectorSize: ss, ID: fmt.Sprintf("0x%08x", binary.LittleEndian.Uint32(sec[440:]))}
	var ext *mbrEntry
	for i, e := range ents {
		if e.typ == 0 || e.count == 0 {
			continue
		}
		if e.status != 0 && e.status != 0x80 {
			return nil, fmt.Errorf("part: MBR entry %d has status 0x%02x: %w", i+1, e.status, ErrMalformed)
		}
		if int64(e.start)+int64(e.count) > sectors {
			return nil, fmt.Errorf("part: MBR partition %d [%d,+%d) past the device's %d sectors: %w", i+1, e.start, e.count, sectors, ErrMalformed)
		}
		p := Partition{Number: i + 1, Start: int64(e.start), Size: int64(e.count), Type: fmt.Sprintf("%x", e.typ), Bootable: e.status == 0x80}
		if isExtended(e.typ) {
			if ext != nil {
				return nil, fmt.Errorf("part: two extended partitions: %w", ErrMalformed)
			}
			p.Extended = true
			e := e
			ext = &e
		}
		t.Partitions = append(t.Partitions, p)
	}
	if ext != nil {
		logical, err := readEBRChain(dev, ss, *ext)
		if err != nil {
			return nil, err
		}
		t.Partitions = append(t.Partitions, logical...)
	}
	return t, nil
}

// readEBRChain follows the extended partition's EBRs. Each EBR's first
// entry is a logical partition relative to the EBR; its second points to
// the next EBR relative to the extended partition's start.
func readEBRChain(dev blkdev.Device, ss int, ext mbrEntry) ([]Partition, error) {
	extStart, extEnd := int64(ext.start), int64(ext.start)+int64(ext.count)
	seen := map[int64]bool{}
	var out []Partition
	ebr := extStart
	for n := 5; ; n++ {
		if seen[ebr] {
			return nil, fmt.Errorf("part: EBR chain loops at sector %d: %w", ebr, ErrMalformed)
		}
		if len(seen) >= maxLogical {
			return nil, fmt.Errorf("part: more than %d logical partitions: %w", maxLogical, ErrMalformed)
		}
		seen[ebr] = true
		sec, err := readSector(dev, ss, ebr)
		if err != nil {
			return nil, err
		}
		ents, ok := mbrEntries(sec)
		if !ok {
			if ebr == extStart {
				// An empty extended partition.
				return out, nil
			}
			return nil, fmt.Errorf("part: EBR at sector %d has no signature: %w", ebr, ErrMalformed)
		}
		l := ents[0]
		if l.typ != 0 && l.count != 0 {
			start := ebr + int64(l.start)
			if start+int64(l.count) > extEnd || start <= ebr {
				return nil, fmt.Errorf("part: logical partition %d [%d,+%d) outside its extended partition [%d,%d): %w", n, start, l.count, extStart, extEnd, ErrMalformed)
			}
			out = append(out, Partition{Number: n, Start: start, Size: int64(l.count), Type: fmt.Sprintf("%x", l.typ), Bootable: l.status == 0x80})
		} else {
			n--
		}
		next := ents[1]
		if next.typ == 0 || next.start == 0 {
			return out, nil
		}
		if !isExtended(next.typ) {
			return nil, fmt.Errorf("part: EBR at sector %d links with type 0x%02x: %w", ebr, next.typ, ErrMalformed)
		}
		ebr = extStart + int64(next.start)
		if ebr >= extEnd {
			return nil, fmt.Errorf("part: EBR link to sector %d outside the extended partition: %w", ebr, ErrMalformed)
		}
	}
}
