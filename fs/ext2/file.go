package ext2

import (
	"fmt"
	"io"
	"syscall"
)

// maxRun bounds one device access of file data.
const maxRun = 4 << 20

// ReadAt reads file data; holes read as zeros.
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	f := fl.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return 0, err
	}
	in, err := fl.get()
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if err := in.checkMapped(); err != nil {
		return 0, err
	}
	size := in.size()
	if off >= size {
		return 0, io.EOF
	}
	n := len(p)
	var eof error
	if int64(n) > size-off {
		n, eof = int(size-off), io.EOF
	}
	if err := f.readData(in, p[:n], off); err != nil {
		return 0, err
	}
	return n, eof
}

// readData reads [off, off+len(p)) of in, which is inside its size,
// coalescing physically consecutive blocks into one device read.
func (f *FS) readData(in *inode, p []byte, off int64) error {
	bs := int64(f.g.bs)
	var runDev int64 = -1 // device offset of the pending run
	runStart, runEnd := 0, 0
	flush := func() error {
		if runDev < 0 {
			return nil
		}
		_, err := f.dev.ReadAt(p[runStart:runEnd], runDev)
		runDev = -1
		if err != nil {
			return fmt.Errorf("ext2: reading file data: %w", err)
		}
		return nil
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		lblk := uint64(pos / bs)
		in0 := int(pos % bs)
		n := min(int(bs)-in0, len(p)-done)
		phys, _, err := f.bmap(in, lblk, false, 0)
		if err != nil {
			return err
		}
		if phys == 0 {
			if err := flush(); err != nil {
				return err
			}
			clear(p[done : done+n])
		} else {
			dev := int64(phys)*bs + int64(in0)
			if runDev >= 0 && runDev+int64(runEnd-runStart) == dev && runEnd-runStart < maxRun {
				runEnd += n
			} else {
				if err := flush(); err != nil {
					return err
				}
				runDev, runStart, runEnd = dev, done, done+n
			}
		}
		done += n
	}
	return flush()
}

// WriteAt writes file data, allocating blocks as it goes.
func (fl *file) WriteAt(p []byte, off int64) (int, error) {
	f := fl.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return 0, err
	}
	if err := f.checkWritable(); err != nil {
		return 0, err
	}
	in, err := fl.get()
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if err := in.checkMapped(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off > f.maxFileSize() || int64(len(p)) > f.maxFileSize()-off {
		return 0, fmt.Errorf("ext2: write past the largest file size: %w", syscall.EFBIG)
	}
	size := in.size()
	if off > size {
		if err := f.zeroTail(in, size); err != nil {
			return 0, err
		}
	}
	n, err := f.writeData(in, p, off)
	if end := off + int64(n); end > size {
		in.setSize(end)
	}
	if n > 0 {
		in.touch()
	}
	return n, err
}

// writeData writes p at off, coalescing whole blocks that are physically
// consecutive into one device write; partial blocks are read, modified and
// written.
func (f *FS) writeData(in *inode, p []byte, off int64) (int, error) {
	bs := int64(f.g.bs)
	var runDev int64 = -1
	runStart, runEnd := 0, 0
	written := 0
	flush := func() error {
		if runDev < 0 {
			return nil
		}
		_, err := f.dev.WriteAt(p[runStart:runEnd], runDev)
		runDev = -1
		if err != nil {
			return fmt.Errorf("ext2: writing file data: %w", err)
		}
		written = runEnd
		return nil
	}
	goal := uint32(0)
	if pos := off / bs; pos > 0 {
		if prev, _, err := f.bmap(in, uint64(pos-1), false, 0); err == nil && prev != 0 {
			goal = prev + 1
		}
	}
	if goal == 0 {
		goal = f.desc((in.ino-1)/f.g.ipg).inodeTable() + f.g.itableBlocks
	}
	var tmp []byte
	for done := 0; done < len(p); {
		pos := off + int64(done)
		lblk := uint64(pos / bs)
		in0 := int(pos % bs)
		n := min(int(bs)-in0, len(p)-done)
		phys, fresh, err := f.bmap(in, lblk, true, goal)
		if err != nil {
			if ferr := flush(); ferr != nil {
				return written, ferr
			}
			return written, err
		}
		goal = phys + 1
		dev := int64(phys) * bs
		if n == int(bs) {
			if runDev >= 0 && runDev+int64(runEnd-runStart) == dev && runEnd-runStart < maxRun {
				runEnd += n
			} else {
				if err := flush(); err != nil {
					return written, err
				}
				runDev, runStart, runEnd = dev, done, done+n
			}
		} else {
			if err := flush(); err != nil {
				return written, err
			}
			if tmp == nil {
				tmp = make([]byte, bs)
			}
			if fresh {
				clear(tmp)
			} else if _, err := f.dev.ReadAt(tmp, dev); err != nil {
				return written, fmt.Errorf("ext2: reading file data: %w", err)
			}
			copy(tmp[in0:], p[done:done+n])
			if _, err := f.dev.WriteAt(tmp, dev); err != nil {
				return written, fmt.Errorf("ext2: writing file data: %w", err)
			}
			written = done + n
		}
		done += n
	}
	if err := flush(); err != nil {
		return written, err
	}
	return len(p), nil
}

// zeroTail zeroes the bytes of the block holding offset size that lie past
// size, so growing the file shows zeros there whatever was written before.
func (f *FS) zeroTail(in *inode, size int64) error {
	bs := int64(f.g.bs)
	if size%bs == 0 {
		return nil
	}
	phys, _, err := f.bmap(in, uint64(size/bs), false, 0)
	if err != nil || phys == 0 {
		return err
	}
	z := make([]byte, bs-size%bs)
	if _, err := f.dev.WriteAt(z, int64(phys)*bs+size%bs); err != nil {
		return fmt.Errorf("ext2: writing file data: %w", err)
	}
	return nil
}

// truncate sets a regular file's size.
func (f *FS) truncate(in *inode, size int64) error {
	if size < 0 {
		return syscall.EINVAL
	}
	if size > f.maxFileSize() {
		return syscall.EFBIG
	}
	if err := in.checkMapped(); err != nil {
		return err
	}
	old := in.size()
	if size == old {
		in.touch()
		return nil
	}
	if size > old {
		if err := f.zeroTail(in, old); err != nil {
			return err
		}
		in.setSize(size)
		in.touch()
		return nil
	}
	bs := int64(f.g.bs)
	keep := uint64((size + bs - 1) / bs)
	err := f.truncBlocks(in, keep)
	in.setSize(size)
	in.touch()
	return err
}

// Truncate sets the file's size.
func (fl *file) Truncate(size int64) error {
	f := fl.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return err
	}
	if err := f.checkWritable(); err != nil {
		return err
	}
	in, err := fl.get()
	if err != nil {
		return err
	}
	return f.truncate(in, size)
}

// Sync writes the file system's dirty metadata and flushes the device
// (the file's data went to the device when written).
func (fl *file) Sync() error {
	f := fl.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return syscall.EBADF
	}
	if _, err := fl.get(); err != nil {
		return err
	}
	return f.syncLocked()
}

// Allocate reserves blocks for [off, off+length) (mode 0: extending the
// size if need be, zero-filled), or punches a hole there (the size stays).
func (fl *file) Allocate(off, length int64, punchHole bool) error {
	f := fl.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return err
	}
	if err := f.checkWritable(); err != nil {
		return err
	}
	in, err := fl.get()
	if err != nil {
		return err
	}
	if off < 0 || length <= 0 {
		return syscall.EINVAL
	}
	if off > f.maxFileSize() || length > f.maxFileSize()-off {
		return syscall.EFBIG
	}
	if err := in.checkMapped(); err != nil {
		return err
	}
	bs := int64(f.g.bs)
	end := off + length
	size := in.size()
	if punchHole {
		end = min(end, size)
		if off >= end {
			return nil
		}
		// Zero the partial blocks at the edges, free the whole ones.
		first, last := (off+bs-1)/bs, end/bs
		zero := func(a, b int64) error {
			if a >= b {
				return nil
			}
			phys, _, err := f.bmap(in, uint64(a/bs), false, 0)
			if err != nil || phys == 0 {
				return err
			}
			_, err = f.dev.WriteAt(make([]byte, b-a), int64(phys)*bs+a%bs)
			return err
		}
		if first > last {
			if err := zero(off, end); err != nil {
				return err
			}
		} else {
			if err := zero(off, first*bs); err != nil {
				return err
			}
			if err := zero(last*bs, end); err != nil {
				return err
			}
			for l := first; l < last; l++ {
				if err := f.freeOne(in, uint64(l)); err != nil {
					return err
				}
			}
		}
		in.touch()
		return nil
	}
	if off > size {
		if err := f.zeroTail(in, size); err != nil {
			return err
		}
	}
	zeros := make([]byte, bs)
	goal := uint32(0)
	for l := off / bs; l*bs < end; l++ {
		phys, fresh, err := f.bmap(in, uint64(l), true, goal)
		if err != nil {
			return err
		}
		goal = phys + 1
		if fresh {
			if _, err := f.dev.WriteAt(zeros, int64(phys)*bs); err != nil {
				return err
			}
		}
	}
	if end > size {
		in.setSize(end)
	}
	in.touch()
	return nil
}

// freeOne frees the data block at lblk, leaving a hole (indirect blocks
// stay even if they map nothing now, as Linux leaves them).
func (f *FS) freeOne(in *inode, lblk uint64) error {
	phys, _, err := f.bmap(in, lblk, false, 0)
	if err != nil || phys == 0 {
		return err
	}
	p := f.g.ptrsPerBlock
	if lblk < nDirect {
		in.setBlock(int(lblk), 0)
	} else {
		// Find the pointer in the last indirect block: map lblk's parent.
		l := lblk - nDirect
		var root int
		var path []uint64
		switch {
		case l < p:
			root, path = nDirect, []uint64{l}
		case l < p+p*p:
			l -= p
			root, path = nDirect+1, []uint64{l / p, l % p}
		default:
			l -= p + p*p
			root, path = nDirect+2, []uint64{l / (p * p), l / p % p, l % p}
		}
		blk := in.block(root)
		for i, idx := range path {
			cb, err := f.bread(blk)
			if err != nil {
				return err
			}
			if i == len(path)-1 {
				le.PutUint32(cb.data[4*idx:], 0)
				f.markDirty(cb)
				break
			}
			blk = le.Uint32(cb.data[4*idx:])
		}
	}
	in.addBlocks(-1)
	return f.freeBlock(phys)
}
