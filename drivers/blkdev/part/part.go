// Package part provides partition tables: it reads an MBR (primary
// partitions, and logical partitions through the extended partition's
// chain of EBRs) or a GPT (header and entry-array CRCs checked, the backup
// header used when the primary is damaged), and opens each partition as a
// blkdev.Device (a Sub view of the disk).
//
// Malformed tables give errors wrapping ErrMalformed: a partition that
// reaches outside the device, an EBR chain that loops or runs too long, a
// GPT whose CRCs do not match. Nothing here ever reads or lets a partition
// reach outside the device.
//
// # Execution environment
//
// Reading a table is a few reads of the device; the functions are safe to
// call concurrently and keep no state.
package part

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/goskit/goskit/drivers/blkdev"
)

// ErrMalformed is wrapped by errors for tables that are not valid.
var ErrMalformed = fmt.Errorf("malformed partition table: %w", syscall.EINVAL)

// ErrNoTable is wrapped when the device has no partition table at all.
var ErrNoTable = fmt.Errorf("no partition table: %w", syscall.ENOENT)

// Kind is a partition table's format.
type Kind string

// Table formats, named as sfdisk names them.
const (
	MBR Kind = "dos"
	GPT Kind = "gpt"
)

// Table is a partition table.
type Table struct {
	Kind       Kind
	SectorSize int
	// ID is the disk's identifier: sfdisk's "0x%08x" disk signature for
	// an MBR, the disk GUID for a GPT.
	ID         string
	Partitions []Partition
}

// Partition is one entry. Start and Size are in sectors, as sfdisk reports.
type Partition struct {
	// Number is the partition's number as Linux numbers it: 1-4 for an
	// MBR's primary slots, 5 on for its logical partitions (in chain
	// order), the 1-based entry index for a GPT.
	Number int
	Start  int64
	Size   int64
	// Type is the MBR type byte in hex without leading zeros ("83", "5"),
	// or the GPT type GUID in upper case.
	Type string
	// Bootable is the MBR active flag.
	Bootable bool
	// Extended is set for an MBR extended partition (its logical
	// partitions are listed separately).
	Extended bool
	// UUID and Name are the GPT entry's unique GUID and name.
	UUID string
	Name string
	// Attrs are the GPT entry's attribute bits.
	Attrs uint64
}

// Read reads the device's partition table with 512-byte sectors: a GPT if
// the MBR is a protective one (type 0xEE), the MBR otherwise.
func Read(dev blkdev.Device) (*Table, error) { return ReadSectorSize(dev, 512) }

// ReadSectorSize is Read with the given logical sector size (512 or 4096).
func ReadSectorSize(dev blkdev.Device, sectorSize int) (*Table, error) {
	if sectorSize != 512 && sectorSize != 4096 {
		return nil, fmt.Errorf("part: sector size %d: %w", sectorSize, syscall.EINVAL)
	}
	t, err := readMBR(dev, sectorSize)
	if errors.Is(err, errProtective) {
		return readGPT(dev, sectorSize)
	}
	return t, err
}

// Open returns the partition as a device: a Sub view of dev.
func (t *Table) Open(dev blkdev.Device, p Partition) (blkdev.Device, error) {
	ss := int64(t.SectorSize)
	if p.Start < 0 || p.Size < 0 || p.Start > dev.Size()/ss || p.Size > dev.Size()/ss-p.Start {
		return nil, fmt.Errorf("part: partition %d outside the device: %w", p.Number, ErrMalformed)
	}
	return blkdev.Sub(dev, p.Start*ss, p.Size*ss)
}

// Find returns the partition with the given number.
func (t *Table) Find(number int) (Partition, bool) {
	for _, p := range t.Partitions {
		if p.Number == number {
			return p, true
		}
	}
	return Partition{}, false
}

func readSector(dev blkdev.Device, ss int, lba int64) ([]byte, error) {
	if lba < 0 || lba >= dev.Size()/int64(ss) {
		return nil, fmt.Errorf("part: sector %d outside the device: %w", lba, ErrMalformed)
	}
	b := make([]byte, ss)
	if _, err := dev.ReadAt(b, lba*int64(ss)); err != nil {
		return nil, fmt.Errorf("part: reading sector %d: %w", lba, err)
	}
	return b, nil
}
