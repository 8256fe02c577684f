// Package blkdev provides goskit's block device component: the Device
// interface (read and write at byte offsets, size, block size, flush), its
// optional interfaces (Discarder, Vectored), and views over a device: a
// read-only view (ReadOnly) and a sub-range view (Sub), which forward the
// optional interfaces of the device they wrap.
//
// Implementations live in subpackages: filedisk (a host file or block
// device), ramdisk (memory); drivers/blkdev/part reads MBR and GPT
// partition tables into Sub views.
//
// # Range rule
//
// An access that starts before 0 or ends past Size is an error wrapping
// ErrRange (and syscall.EINVAL): a write is refused whole, never written in
// part past the end; a read of a range that starts inside the device and
// ends past its end returns what exists with io.EOF, as io.ReaderAt.
//
// # Execution environment
//
// Devices and views are safe for concurrent use; calls block on the medium.
// Concurrent writes to overlapping ranges land in an unspecified order, as
// on a disk.
package blkdev

import (
	"fmt"
	"io"
	"syscall"
)

// Device is a block device addressed in bytes.
type Device interface {
	// ReadAt reads len(p) bytes at off, as io.ReaderAt.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes p at off, as io.WriterAt; a range reaching past Size
	// is refused whole (ErrRange).
	WriteAt(p []byte, off int64) (int, error)
	// Size returns the device's size in bytes.
	Size() int64
	// BlockSize returns the device's logical block size in bytes: the unit
	// in which accesses are efficient (and, with O_DIRECT, required by the
	// medium: implementations hide that requirement from callers).
	BlockSize() int
	// Flush makes completed writes durable (a cache flush / fdatasync).
	Flush() error
	// Close releases the device.
	Close() error
}

// Discarder is implemented by devices that can discard a range (TRIM,
// hole punching): afterwards the range reads as zeros.
type Discarder interface {
	Discard(off, length int64) error
}

// Vectored is implemented by devices that read and write several buffers
// at one offset in one call (preadv/pwritev). The same range rule applies
// to the buffers' total length.
type Vectored interface {
	ReadvAt(bufs [][]byte, off int64) (int, error)
	WritevAt(bufs [][]byte, off int64) (int, error)
}

// ErrRange is wrapped by errors for accesses outside a device.
var ErrRange = fmt.Errorf("access outside the device: %w", syscall.EINVAL)

// ErrClosed is wrapped by errors for accesses to a closed device.
var ErrClosed = fmt.Errorf("device closed: %w", syscall.EBADF)

// CheckRead checks a read of n bytes at off on a device of the given size
// and returns how many bytes can be read: n, or fewer with io.EOF when the
// range ends past the end.
func CheckRead(size, off int64, n int) (int, error) {
	if off < 0 || off > size || (off == size && n > 0) {
		if off == size {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("blkdev: read at %d of %d bytes on a %d-byte device: %w", off, n, size, ErrRange)
	}
	if int64(n) > size-off {
		return int(size - off), io.EOF
	}
	return n, nil
}

// CheckWrite checks a write of n bytes at off on a device of the given
// size: nil, or an error wrapping ErrRange.
func CheckWrite(size, off int64, n int) error {
	if off < 0 || off > size || int64(n) > size-off {
		return fmt.Errorf("blkdev: write at %d of %d bytes on a %d-byte device: %w", off, n, size, ErrRange)
	}
	return nil
}

// TotalLen returns the total length of bufs.
func TotalLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// ReadvAt reads into bufs at off from dev, in one call if dev is Vectored
// and one ReadAt per buffer otherwise.
func ReadvAt(dev Device, bufs [][]byte, off int64) (int, error) {
	if v, ok := dev.(Vectored); ok {
		return v.ReadvAt(bufs, off)
	}
	total := 0
	for _, b := range bufs {
		n, err := dev.ReadAt(b, off)
		total += n
		off += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// WritevAt writes bufs at off to dev, in one call if dev is Vectored and
// one WriteAt per buffer otherwise (after checking the whole range).
func WritevAt(dev Device, bufs [][]byte, off int64) (int, error) {
	if v, ok := dev.(Vectored); ok {
		return v.WritevAt(bufs, off)
	}
	if err := CheckWrite(dev.Size(), off, TotalLen(bufs)); err != nil {
		return 0, err
	}
	total := 0
	for _, b := range bufs {
		n, err := dev.WriteAt(b, off)
		total += n
		off += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
