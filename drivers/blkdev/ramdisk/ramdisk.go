// Package ramdisk provides a block device in memory: a blkdev.Device over
// a byte slice, with Discard (the range becomes zeros) and vectored I/O.
//
// # Execution environment
//
// Safe for concurrent use (a read-write lock); calls never block on
// anything but that lock. Flush does nothing: memory is the medium.
package ramdisk

import (
	"fmt"
	"io"
	"sync"

	"github.com/goskit/goskit/drivers/blkdev"
)

// BlockSize is a ramdisk's logical block size.
const BlockSize = 512

// Disk is a block device in memory.
type Disk struct {
	mu     sync.RWMutex
	data   []byte
	closed bool
}

var (
	_ blkdev.Device    = (*Disk)(nil)
	_ blkdev.Discarder = (*Disk)(nil)
	_ blkdev.Vectored  = (*Disk)(nil)
)

// New returns a zeroed disk of size bytes.
func New(size int64) (*Disk, error) {
	if size < 0 || size > 1<<40 {
		return nil, fmt.Errorf("ramdisk: size %d: %w", size, blkdev.ErrRange)
	}
	return &Disk{data: make([]byte, size)}, nil
}

// FromBytes returns a disk holding b (not copied: the disk owns it now).
func FromBytes(b []byte) *Disk { return &Disk{data: b} }

// Bytes returns the disk's contents (shared, not copied), for tests and
// for saving an image.
func (d *Disk) Bytes() []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.data
}

// ReadAt reads at off, as io.ReaderAt.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return 0, blkdev.ErrClosed
	}
	n, err := blkdev.CheckRead(int64(len(d.data)), off, len(p))
	if n > 0 {
		copy(p[:n], d.data[off:])
	}
	return n, err
}

// WriteAt writes p at off; a range past the end is refused whole.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, blkdev.ErrClosed
	}
	if err := blkdev.CheckWrite(int64(len(d.data)), off, len(p)); err != nil {
		return 0, err
	}
	return copy(d.data[off:], p), nil
}

// ReadvAt reads into bufs at off.
func (d *Disk) ReadvAt(bufs [][]byte, off int64) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return 0, blkdev.ErrClosed
	}
	n, err := blkdev.CheckRead(int64(len(d.data)), off, blkdev.TotalLen(bufs))
	total := 0
	for _, b := range bufs {
		if total == n {
			break
		}
		c := copy(b[:min(len(b), n-total)], d.data[off+int64(total):])
		total += c
	}
	return total, err
}

// WritevAt writes bufs at off.
func (d *Disk) WritevAt(bufs [][]byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, blkdev.ErrClosed
	}
	if err := blkdev.CheckWrite(int64(len(d.data)), off, blkdev.TotalLen(bufs)); err != nil {
		return 0, err
	}
	total := 0
	for _, b := range bufs {
		total += copy(d.data[off+int64(total):], b)
	}
	return total, nil
}

// Discard zeroes [off, off+length).
func (d *Disk) Discard(off, length int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return blkdev.ErrClosed
	}
	if length < 0 || off < 0 || off > int64(len(d.data)) || length > int64(len(d.data))-off {
		return fmt.Errorf("ramdisk: discard [%d,+%d): %w", off, length, blkdev.ErrRange)
	}
	clear(d.data[off : off+length])
	return nil
}

// Size returns the disk's size.
func (d *Disk) Size() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return int64(len(d.data))
}

// BlockSize returns 512.
func (d *Disk) BlockSize() int { return BlockSize }

// Flush does nothing.
func (d *Disk) Flush() error { return nil }

// Close makes further accesses fail; the contents stay readable by Bytes.
func (d *Disk) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

var _ io.ReaderAt = (*Disk)(nil)
