// Package filedisk provides a block device over a host file or a host block
// device (hosted mode's disk): positional reads and writes (pread/pwrite,
// preadv/pwritev), Flush as fdatasync, Discard as hole punching (files) or
// BLKDISCARD (block devices), and optionally O_DIRECT, for which it keeps
// aligned bounce buffers so callers may use any offset and length.
//
// # Execution environment
//
// Linux hosts (golang.org/x/sys/unix). Safe for concurrent use; calls block
// in the host kernel. With Direct, unaligned writes are read-modify-write of
// the blocks they touch and are serialised by a lock so two of them do not
// lose each other's bytes in a shared block.
package filedisk

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/goskit/goskit/drivers/blkdev"
	"golang.org/x/sys/unix"
)

// Options configure Open.
type Options struct {
	// ReadOnly opens the file read-only; writes fail with EROFS.
	ReadOnly bool
	// Direct opens with O_DIRECT (no host page cache). Not every host file
	// system supports it (Open then fails with EINVAL).
	Direct bool
	// Create creates a regular file of Size bytes if path does not exist.
	Create bool
	// Size, with Create, is the new file's size; if a regular file is
	// shorter, it is extended (sparsely) to Size.
	Size int64
}

// Disk is a host file or block device.
type Disk struct {
	f        *os.File
	fd       int
	size     int64
	bs       int
	blockDev bool
	opts     Options
	rmw      sync.Mutex // serialises unaligned Direct writes
	closeMu  sync.RWMutex
	closed   bool
}

var (
	_ blkdev.Device    = (*Disk)(nil)
	_ blkdev.Discarder = (*Disk)(nil)
	_ blkdev.Vectored  = (*Disk)(nil)
)

// Open opens path as a disk.
func Open(path string, opts Options) (*Disk, error) {
	flags := unix.O_RDWR | unix.O_CLOEXEC
	if opts.ReadOnly {
		flags = unix.O_RDONLY | unix.O_CLOEXEC
	}
	if opts.Create && !opts.ReadOnly {
		flags |= unix.O_CREAT
	}
	if opts.Direct {
		flags |= unix.O_DIRECT
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filedisk: %w", err)
	}
	d := &Disk{f: f, fd: int(f.Fd()), bs: 512, opts: opts}
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("filedisk: fstat %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		d.blockDev = true
		var sz uint64
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&sz))); e != 0 {
			f.Close()
			return nil, fmt.Errorf("filedisk: BLKGETSIZE64 %s: %w", path, e)
		}
		d.size = int64(sz)
		if ss, err := unix.IoctlGetInt(d.fd, unix.BLKSSZGET); err == nil && ss > 0 {
			d.bs = ss
		}
	case unix.S_IFREG:
		d.size = st.Size
		if opts.Size > d.size && !opts.ReadOnly {
			if err := f.Truncate(opts.Size); err != nil {
				f.Close()
				return nil, fmt.Errorf("filedisk: %w", err)
			}
			d.size = opts.Size
		}
		if opts.Direct {
			// The alignment O_DIRECT needs on a file is its file system's
			// block size in the worst case.
			if int(st.Blksize) > d.bs {
				d.bs = int(st.Blksize)
			}
		}
		if opts.Direct && d.size%int64(d.bs) != 0 {
			f.Close()
			return nil, fmt.Errorf("filedisk: %s: O_DIRECT needs a size that is a multiple of %d bytes: %w", path, d.bs, unix.EINVAL)
		}
	default:
		f.Close()
		return nil, fmt.Errorf("filedisk: %s is neither a regular file nor a block device: %w", path, unix.EINVAL)
	}
	return d, nil
}

// Size returns the disk's size in bytes.
func (d *Disk) Size() int64 { return d.size }

// BlockSize returns the logical block size: the device's sector size, or
// with Direct on a file the file system's block size.
func (d *Disk) BlockSize() int { return d.bs }

func (d *Disk) enter() error {
	d.closeMu.RLock()
	if d.closed {
		d.closeMu.RUnlock()
		return blkdev.ErrClosed
	}
	return nil
}

func (d *Disk) leave() { d.closeMu.RUnlock() }

// ReadAt reads at off, as io.ReaderAt.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	n, err := blkdev.CheckRead(d.size, off, len(p))
	if n == 0 {
		return 0, err
	}
	var m int
	var rerr error
	if d.opts.Direct {
		m, rerr = d.readDirect(p[:n], off)
	} else {
		m, rerr = preadFull(d.fd, p[:n], off)
	}
	if rerr != nil {
		return m, fmt.Errorf("filedisk: read at %d: %w", off, rerr)
	}
	return m, err
}

// WriteAt writes p at off; a range past the end is refused whole.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	if d.opts.ReadOnly {
		return 0, fmt.Errorf("filedisk: read-only: %w", unix.EROFS)
	}
	if err := blkdev.CheckWrite(d.size, off, len(p)); err != nil {
		return 0, err
	}
	var n int
	var err error
	if d.opts.Direct {
		n, err = d.writeDirect(p, off)
	} else {
		n, err = pwriteFull(d.fd, p, off)
	}
	if err != nil {
		return n, fmt.Errorf("filedisk: write at %d: %w", off, err)
	}
	return n, nil
}

// ReadvAt reads into bufs at off with preadv.
func (d *Disk) ReadvAt(bufs [][]byte, off int64) (int, error) {
	if d.opts.Direct {
		return d.loopRead(bufs, off)
	}
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	total := blkdev.TotalLen(bufs)
	n, err := blkdev.CheckRead(d.size, off, total)
	if n == 0 {
		return 0, err
	}
	if n < total {
		bufs = trimBufs(bufs, n)
	}
	got := 0
	for got < n {
		m, rerr := unix.Preadv(d.fd, skipBufs(bufs, got), off+int64(got))
		if rerr == unix.EINTR {
			continue
		}
		if rerr != nil {
			return got, fmt.Errorf("filedisk: preadv at %d: %w", off, rerr)
		}
		if m == 0 {
			// A file shrunk under us: the rest reads as zeros would be a
			// lie; report it.
			return got, fmt.Errorf("filedisk: short read at %d: %w", off+int64(got), unix.EIO)
		}
		got += m
	}
	return got, err
}

// WritevAt writes bufs at off with pwritev.
func (d *Disk) WritevAt(bufs [][]byte, off int64) (int, error) {
	if d.opts.Direct {
		return d.loopWrite(bufs, off)
	}
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	if d.opts.ReadOnly {
		return 0, fmt.Errorf("filedisk: read-only: %w", unix.EROFS)
	}
	total := blkdev.TotalLen(bufs)
	if err := blkdev.CheckWrite(d.size, off, total); err != nil {
		return 0, err
	}
	put := 0
	for put < total {
		m, err := unix.Pwritev(d.fd, skipBufs(bufs, put), off+int64(put))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return put, fmt.Errorf("filedisk: pwritev at %d: %w", off, err)
		}
		put += m
	}
	return put, nil
}

func (d *Disk) loopRead(bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := d.ReadAt(b, off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (d *Disk) loopWrite(bufs [][]byte, off int64) (int, error) {
	if err := blkdev.CheckWrite(d.size, off, blkdev.TotalLen(bufs)); err != nil {
		return 0, err
	}
	total := 0
	for _, b := range bufs {
		n, err := d.WriteAt(b, off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Discard punches a hole (files) or issues BLKDISCARD (block devices); the
// range reads as zeros afterwards.
func (d *Disk) Discard(off, length int64) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if d.opts.ReadOnly {
		return fmt.Errorf("filedisk: read-only: %w", unix.EROFS)
	}
	if off < 0 || length < 0 || off > d.size || length > d.size-off {
		return fmt.Errorf("filedisk: discard [%d,+%d): %w", off, length, blkdev.ErrRange)
	}
	if length == 0 {
		return nil
	}
	if d.blockDev {
		// BLKDISCARD needs sector alignment; it may also leave the range
		// unspecified rather than zero, so BLKZEROOUT is what keeps the
		// promise: try it first.
		r := [2]uint64{uint64(off), uint64(length)}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), unix.BLKZEROOUT, uintptr(unsafe.Pointer(&r))); e != 0 {
			return fmt.Errorf("filedisk: BLKZEROOUT [%d,+%d): %w", off, length, e)
		}
		return nil
	}
	if err := unix.Fallocate(d.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length); err != nil {
		return fmt.Errorf("filedisk: punch hole [%d,+%d): %w", off, length, err)
	}
	return nil
}

// Flush makes written data durable (fdatasync).
func (d *Disk) Flush() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if d.opts.ReadOnly {
		return nil
	}
	if err := unix.Fdatasync(d.fd); err != nil {
		return fmt.Errorf("filedisk: fdatasync: %w", err)
	}
	return nil
}

// Close closes the host file; further calls fail with ErrClosed.
func (d *Disk) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return blkdev.ErrClosed
	}
	d.closed = true
	return d.f.Close()
}

func preadFull(fd int, p []byte, off int64) (int, error) {
	got := 0
	for got < len(p) {
		n, err := unix.Pread(fd, p[got:], off+int64(got))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return got, err
		}
		if n == 0 {
			return got, fmt.Errorf("short read at %d: %w", off+int64(got), unix.EIO)
		}
		got += n
	}
	return got, nil
}

func pwriteFull(fd int, p []byte, off int64) (int, error) {
	put := 0
	for put < len(p) {
		n, err := unix.Pwrite(fd, p[put:], off+int64(put))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return put, err
		}
		put += n
	}
	return put, nil
}

func trimBufs(bufs [][]byte, n int) [][]byte {
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

// skipBufs returns bufs without their first n bytes.
func skipBufs(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if n > 0 {
		b := append([][]byte(nil), bufs...)
		b[0] = b[0][n:]
		return b
	}
	return bufs
}
