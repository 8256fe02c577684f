package memfs

import (
	"fmt"
	"io"
	"runtime"
	"syscall"

	"github.com/goskit/goskit/fs"
)

// file is a regular file. Its data is a map from page index to 4 KiB
// page; a missing page is a hole and reads as zeros.
type file inode

func (f *file) in() *inode { return (*inode)(f) }

func (f *file) Stat() (fs.Attr, error)               { return f.in().stat(), nil }
func (f *file) SetAttr(a fs.SetAttr) error           { return f.in().setAttr(a) }
func (f *file) GetXattr(name string) ([]byte, error) { return f.in().getXattr(name) }
func (f *file) ListXattr() ([]string, error)         { return f.in().listXattr() }
func (f *file) RemoveXattr(name string) error        { return f.in().removeXattr(name) }
func (f *file) SetXattr(n string, v []byte, fl int) error {
	return f.in().setXattr(n, v, fl)
}

// Sync does nothing: memory is the medium.
func (f *file) Sync() error { return nil }

// ReadAt reads at off; holes read as zeros, and a read reaching the end of
// the file returns io.EOF with what it got.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if off >= f.size {
		return 0, io.EOF
	}
	want := p
	if rest := f.size - off; int64(len(p)) > rest {
		want = p[:rest]
	}
	n := 0
	for n < len(want) {
		pos := off + int64(n)
		idx, in := pos>>pageShift, int(pos&(pageSize-1))
		chunk := want[n:min(len(want), n+pageSize-in)]
		if pg := f.pages.get(idx); pg != nil {
			copy(chunk, pg[in:])
		} else {
			clear(chunk)
		}
		n += len(chunk)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes at off, allocating pages as needed; past the end it
// leaves a hole. With a size limit a write may stop part way with ENOSPC,
// reporting what it wrote, as write(2).
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off > maxFileSize-int64(len(p)) {
		return 0, syscall.EFBIG
	}
	if len(p) == 0 {
		return 0, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pages == nil {
		f.pages = newPageStore()
	}
	n := 0
	var err error
	for n < len(p) {
		pos := off + int64(n)
		idx, in := pos>>pageShift, int(pos&(pageSize-1))
		pg := f.pages.get(idx)
		if pg == nil {
			if pg, err = f.newPage(in != 0 || len(p)-n < pageSize); err != nil {
				break
			}
			f.pages.put(idx, pg)
		}
		n += copy(pg[in:], p[n:])
	}
	if !f.recycling && f.pages.n >= recycleAt {
		// Once per inode. The cleanup holds the store, which does not
		// reach the inode, and the file system, which reaches it only
		// through a name (and then the inode is never collected).
		f.recycling = true
		fsys := f.fs
		runtime.AddCleanup(f.in(), func(s *pageStore) { s.recycle(fsys.free.Put) }, f.pages)
	}
	if n > 0 {
		if end := off + int64(n); end > f.size {
			f.size = end
		}
		f.mtime = f.fs.now()
		f.ctime = f.mtime
	}
	return n, err
}

// newPage allocates a page within the size limit; f.mu is held. A page
// reused from the free pool is zeroed only if partial says the write will
// not cover all of it.
func (f *file) newPage(partial bool) (*page, error) {
	if !f.orphan {
		if c := f.fs.pages.Add(1); f.fs.maxPages > 0 && c > f.fs.maxPages {
			f.fs.pages.Add(-1)
			return nil, fmt.Errorf("memfs: size limit %d bytes: %w", f.fs.maxPages*pageSize, syscall.ENOSPC)
		}
	}
	if pg, ok := f.fs.free.Get().(*page); ok {
		if partial {
			clear(pg[:])
		}
		return pg, nil
	}
	return new(page), nil
}

// dropPages frees the pages in [lo, hi) to the pool; f.mu is held.
func (f *file) dropPages(lo, hi int64) {
	var dropped int64
	f.pages.drop(lo, hi, func(p *page) {
		dropped++
		f.fs.free.Put(p)
	})
	if !f.orphan {
		f.fs.pages.Add(-dropped)
	}
}

// zeroRange zeroes [from, to) within page idx, if present; f.mu is held.
func (f *file) zeroRange(idx int64, from, to int) {
	if pg := f.pages.get(idx); pg != nil {
		clear(pg[from:to])
	}
}

// punch makes [off, end) a hole; f.mu is held and end <= f.size. Whole
// pages are freed, partial ones zeroed; a page whose rest lies past the
// end of the file is whole (bytes past the size are always zero). It visits
// either the page range or the map, whichever is smaller, so punching a
// huge range of a small file is cheap.
func (f *file) punch(off, end int64) {
	if off >= end {
		return
	}
	lo := (off + pageSize - 1) >> pageShift // first whole page
	hi := end >> pageShift                  // first page after the whole ones
	if end >= f.size {
		hi = (end + pageSize - 1) >> pageShift
	}
	if off&(pageSize-1) != 0 {
		idx := off >> pageShift
		f.zeroRange(idx, int(off&(pageSize-1)), int(min(pageSize, end-idx<<pageShift)))
	}
	if end&(pageSize-1) != 0 && end < f.size {
		if idx := end >> pageShift; idx<<pageShift >= off {
			f.zeroRange(idx, 0, int(end&(pageSize-1)))
		}
	}
	f.dropPages(lo, hi)
}

// Truncate sets the size; shrinking frees the pages past it and zeroes the
// rest of the last page, so growing again reads zeros.
func (f *file) Truncate(size int64) error {
	if size < 0 {
		return syscall.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if size < f.size {
		f.punch(size, f.size)
	}
	f.size = size
	f.mtime = f.fs.now()
	f.ctime = f.mtime
	return nil
}

// Allocate punches a hole (punchHole: the size is kept) or extends the
// file to cover [off, off+length). Space is not reserved ahead of writes:
// pages are taken when written, so a later write can still meet ENOSPC
// under WithSizeLimit.
func (f *file) Allocate(off, length int64, punchHole bool) error {
	if off < 0 || length <= 0 {
		return syscall.EINVAL
	}
	if off > maxFileSize-length {
		return syscall.EFBIG
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	end := off + length
	if punchHole {
		f.punch(off, min(end, f.size))
		f.mtime = f.fs.now()
		f.ctime = f.mtime
		return nil
	}
	if f.fs.maxPages > 0 {
		need := (end - f.size + pageSize - 1) / pageSize
		if need > 0 && f.fs.pages.Load()+need > f.fs.maxPages {
			return syscall.ENOSPC
		}
	}
	if end > f.size {
		f.size = end
		f.ctime = f.fs.now()
	}
	return nil
}
