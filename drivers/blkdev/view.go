package blkdev

import (
	"fmt"
	"syscall"
)

// view is a read-only and/or sub-range window on a device.
type view struct {
	dev      Device
	off      int64
	size     int64
	readOnly bool
}

// The view types that add optional interfaces: a view offers exactly the
// optional interfaces of the device it wraps, so callers' type assertions
// see through it.
type (
	viewD  struct{ *view }
	viewV  struct{ *view }
	viewDV struct{ *view }
)

var (
	_ Device    = (*view)(nil)
	_ Discarder = viewD{}
	_ Vectored  = viewV{}
	_ Discarder = viewDV{}
	_ Vectored  = viewDV{}
)

// ReadOnly returns a view of dev that refuses writes and discards with
// EROFS. Closing the view does not close dev.
func ReadOnly(dev Device) Device {
	return wrap(&view{dev: dev, size: dev.Size(), readOnly: true})
}

// Sub returns the view of dev's bytes [off, off+size); accesses outside
// it are errors wrapping ErrRange. Closing the view does not close dev. A
// sub view of a read-only view is read-only.
func Sub(dev Device, off, size int64) (Device, error) {
	if off < 0 || size < 0 || off > dev.Size() || size > dev.Size()-off {
		return nil, fmt.Errorf("blkdev: sub-range [%d,+%d) of a %d-byte device: %w", off, size, dev.Size(), ErrRange)
	}
	ro := false
	if v, ok := unwrap(dev); ok {
		// Flatten views of views: one level of indirection.
		dev, off, ro = v.dev, off+v.off, v.readOnly
	}
	return wrap(&view{dev: dev, off: off, size: size, readOnly: ro}), nil
}

func unwrap(dev Device) (*view, bool) {
	switch v := dev.(type) {
	case *view:
		return v, true
	case viewD:
		return v.view, true
	case viewV:
		return v.view, true
	case viewDV:
		return v.view, true
	}
	return nil, false
}

func wrap(v *view) Device {
	_, d := v.dev.(Discarder)
	_, vec := v.dev.(Vectored)
	switch {
	case d && vec:
		return viewDV{v}
	case d:
		return viewD{v}
	case vec:
		return viewV{v}
	}
	return v
}

func (v *view) ReadAt(p []byte, off int64) (int, error) {
	n, err := CheckRead(v.size, off, len(p))
	if n == 0 {
		return 0, err
	}
	m, rerr := v.dev.ReadAt(p[:n], v.off+off)
	if rerr != nil {
		return m, rerr
	}
	return m, err
}

func (v *view) WriteAt(p []byte, off int64) (int, error) {
	if v.readOnly {
		return 0, fmt.Errorf("blkdev: write to a read-only view: %w", syscall.EROFS)
	}
	if err := CheckWrite(v.size, off, len(p)); err != nil {
		return 0, err
	}
	return v.dev.WriteAt(p, v.off+off)
}

func (v *view) Size() int64    { return v.size }
func (v *view) BlockSize() int { return v.dev.BlockSize() }
func (v *view) Flush() error {
	if v.readOnly {
		return nil
	}
	return v.dev.Flush()
}

// Close does nothing: the view does not own the device.
func (v *view) Close() error { return nil }

func (v *view) discard(off, length int64) error {
	if v.readOnly {
		return fmt.Errorf("blkdev: discard on a read-only view: %w", syscall.EROFS)
	}
	if length < 0 || length > int64(^uint(0)>>1) {
		return fmt.Errorf("blkdev: discard of %d bytes: %w", length, ErrRange)
	}
	if err := CheckWrite(v.size, off, int(length)); err != nil {
		return err
	}
	return v.dev.(Discarder).Discard(v.off+off, length)
}

func (v *view) readv(bufs [][]byte, off int64) (int, error) {
	total := TotalLen(bufs)
	n, err := CheckRead(v.size, off, total)
	if n == 0 {
		return 0, err
	}
	if n < total {
		bufs = trim(bufs, n)
	}
	m, rerr := v.dev.(Vectored).ReadvAt(bufs, v.off+off)
	if rerr != nil {
		return m, rerr
	}
	return m, err
}

func (v *view) writev(bufs [][]byte, off int64) (int, error) {
	if v.readOnly {
		return 0, fmt.Errorf("blkdev: write to a read-only view: %w", syscall.EROFS)
	}
	if err := CheckWrite(v.size, off, TotalLen(bufs)); err != nil {
		return 0, err
	}
	return v.dev.(Vectored).WritevAt(bufs, v.off+off)
}

// trim returns bufs cut to n bytes in total.
func trim(bufs [][]byte, n int) [][]byte {
	out := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		if n == 0 {
			break
		}
		if len(b) > n {
			b = b[:n]
		}
		out = append(out, b)
		n -= len(b)
	}
	return out
}

// Discard discards a range of the view.
func (v viewD) Discard(off, length int64) error { return v.discard(off, length) }

// ReadvAt reads into bufs at off.
func (v viewV) ReadvAt(bufs [][]byte, off int64) (int, error) { return v.readv(bufs, off) }

// WritevAt writes bufs at off.
func (v viewV) WritevAt(bufs [][]byte, off int64) (int, error) { return v.writev(bufs, off) }

// Discard discards a range of the view.
func (v viewDV) Discard(off, length int64) error { return v.discard(off, length) }

// ReadvAt reads into bufs at off.
func (v viewDV) ReadvAt(bufs [][]byte, off int64) (int, error) { return v.readv(bufs, off) }

// WritevAt writes bufs at off.
func (v viewDV) WritevAt(bufs [][]byte, off int64) (int, error) { return v.writev(bufs, off) }
