// Package ext2 provides a read-write ext2 (revision 1) file system on any
// blkdev.Device, as an fs.FileSystem: Mount an existing file system, or
// Format a device first. It is the kit's disk file system, as the OSKit's
// was NetBSD's FFS; it keeps the on-disk format exactly as Linux and
// e2fsprogs expect, so real tools can make, check and read its images.
//
// # Format support
//
// Block sizes 1, 2 and 4 KiB (and larger ones, untested); direct, indirect,
// double and triple indirect blocks; sparse files; files over 4 GiB
// (large_file); linear directories; fast and slow symlinks; hard links;
// device nodes, FIFOs and sockets (fs.Mknoder); timestamps with
// nanoseconds in inodes of more than 128 bytes; extended attributes in
// shared attribute blocks with reference counts (ext_attr; attributes that
// e2fsprogs put inside a large inode are read, and moved to a block when the
// inode's attributes change, as Linux's ext2 keeps them). The features
// mkfs.ext2 sets by default are read and written: filetype, sparse_super,
// large_file, ext_attr, resize_inode (its reserved blocks are left alone)
// and dir_index: an indexed directory is read linearly (an htree's blocks
// are valid linear directory blocks), and one the driver modifies has its
// index flag cleared, so it stays valid for e2fsck and Linux, which treat
// it as a linear directory from then on.
//
// Any other incompatible feature (extents, 64bit, meta_bg, flex_bg, ...)
// makes Mount fail with an error naming it. A read-only-compatible feature
// the driver does not know, or a journal (has_journal), makes the file
// system mount read-only: FS.ReadOnly says why, and writes fail with EROFS
// (Options.Writable turns that into a Mount error instead).
//
// # Limits
//
// A file's last unlink frees it at once: the fs interfaces have no open
// files, so there is no "unlinked but open" state (and no orphan list).
// POSIX ACL attributes (system.posix_acl_*) are stored and returned in
// ext2's on-disk ACL encoding, not converted. Backup superblocks and group
// descriptors are written by Format only, as Linux leaves them after
// mkfs. Format makes no resize inode.
//
// # Caching and durability
//
// File data is written straight to the device. Metadata (bitmaps, group
// descriptors, inodes, directories, indirect and attribute blocks) lives in
// a write-back block cache that Sync, a file's Sync, and Close write out, in
// block order, followed by a device Flush. After a crash, e2fsck repairs
// what changed since the last Sync; what was synced and not touched since
// is intact. Access times are not updated by reads (as Linux's noatime).
//
// # Execution environment
//
// Safe for concurrent use: one lock per file system serialises operations
// (the OSKit's answer for a non-reentrant component). Calls block on the
// device. The device is the caller's: Close does not close it.
package ext2

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/fs"
)

// Options configure Mount.
type Options struct {
	// ReadOnly mounts read-only: nothing is ever written to the device.
	ReadOnly bool
	// Writable makes Mount fail, rather than mount read-only, when the
	// file system has a feature the driver can only read.
	Writable bool
	// Now is the clock for timestamps; time.Now if nil.
	Now func() time.Time
}

// FS is a mounted ext2 file system.
type FS struct {
	mu   sync.Mutex
	dev  blkdev.Device
	g    *geometry
	sb   []byte
	now  func() time.Time
	ro   string // why the file system is read-only, or ""
	gdt  []*cblock
	gen  uint32
	done bool

	cache    map[uint32]*cblock
	dirty    int
	sbDirty  bool
	dirCache map[uint32]*dirIndex
	lastIno  uint32 // allocation hint
}

// cblock is a cached metadata block.
type cblock struct {
	data  []byte
	dirty bool
}

var (
	_ fs.FileSystem = (*FS)(nil)
)

// maxDirty is how many dirty metadata blocks the cache holds before it
// writes them out without being asked; maxCache how many blocks in all
// before clean ones are dropped.
const (
	maxDirty = 8192
	maxCache = 65536
)

// Mount mounts the ext2 file system on dev.
func Mount(dev blkdev.Device, opts Options) (*FS, error) {
	sb := make([]byte, superSize)
	if dev.Size() < superOffset+superSize {
		return nil, fmt.Errorf("ext2: device of %d bytes is too small: %w", dev.Size(), syscall.EINVAL)
	}
	if _, err := dev.ReadAt(sb, superOffset); err != nil {
		return nil, fmt.Errorf("ext2: reading the superblock: %w", err)
	}
	g, err := parseSuper(sb, dev.Size())
	if err != nil {
		return nil, err
	}
	if bad := g.incompat &^ supportedIncompat; bad != 0 {
		return nil, fmt.Errorf("ext2: unsupported incompatible feature %s: %w", featureNames(bad, incompatNames), syscall.EINVAL)
	}
	f := &FS{dev: dev, g: g, sb: sb, now: opts.Now, cache: map[uint32]*cblock{}, dirCache: map[uint32]*dirIndex{}}
	if f.now == nil {
		f.now = time.Now
	}
	switch {
	case opts.ReadOnly:
		f.ro = "mounted read-only"
	case g.roCompat&^supportedROCompat != 0:
		f.ro = "read-only-compatible feature " + featureNames(g.roCompat&^supportedROCompat, roCompatNames) + " is not supported for writing"
	case g.compat&compatHasJournal != 0:
		f.ro = "has_journal: the journal is not supported for writing"
	}
	if f.ro != "" && opts.Writable && !opts.ReadOnly {
		return nil, fmt.Errorf("ext2: cannot mount writable: %s: %w", f.ro, syscall.EROFS)
	}
	// Group descriptors.
	gdtStart := g.firstData + 1
	for i := uint32(0); i < g.gdtBlocks; i++ {
		b, err := f.bread(gdtStart + i)
		if err != nil {
			return nil, err
		}
		f.gdt = append(f.gdt, b)
	}
	var freeB, freeI uint64
	for n := uint32(0); n < g.groups; n++ {
		d := f.desc(n)
		bb, ib, it := d.blockBitmap(), d.inodeBitmap(), d.inodeTable()
		s, e := g.groupStart(0), g.blocks
		if bb < s || bb >= e || ib < s || ib >= e || it < s || uint64(it)+uint64(g.itableBlocks) > uint64(e) {
			return nil, corrupt("group %d: bitmaps at %d, %d, inode table at %d", n, bb, ib, it)
		}
		if d.freeBlocks() > g.groupBlocks(n) || d.freeInodes() > g.ipg {
			return nil, corrupt("group %d: %d free blocks, %d free inodes", n, d.freeBlocks(), d.freeInodes())
		}
		freeB += uint64(d.freeBlocks())
		freeI += uint64(d.freeInodes())
	}
	// The superblock's totals are only hints (Linux recomputes them too).
	le.PutUint32(f.sb[sbFreeBlocks:], uint32(freeB))
	le.PutUint32(f.sb[sbFreeInodes:], uint32(freeI))
	if _, err := f.getInode(rootIno); err != nil {
		return nil, err
	}
	if f.ro == "" {
		// Mark the file system in use, as Linux does: a crash leaves it
		// "not cleanly unmounted" for e2fsck.
		le.PutUint16(f.sb[sbState:], le.Uint16(f.sb[sbState:])&^stateValid)
		le.PutUint16(f.sb[sbMntCount:], le.Uint16(f.sb[sbMntCount:])+1)
		le.PutUint32(f.sb[sbMtime:], uint32(f.now().Unix()))
		if err := f.writeSuper(); err != nil {
			return nil, err
		}
		if err := dev.Flush(); err != nil {
			return nil, fmt.Errorf("ext2: %w", err)
		}
	}
	f.gen = uint32(f.now().UnixNano())
	return f, nil
}

// ReadOnly reports whether the file system is read-only, and why.
func (f *FS) ReadOnly() (bool, string) { return f.ro != "", f.ro }

// BlockSize returns the file system's block size.
func (f *FS) BlockSize() int { return f.g.bs }

func (f *FS) checkWritable() error {
	if f.ro != "" {
		return fmt.Errorf("ext2: %s: %w", f.ro, syscall.EROFS)
	}
	return nil
}

// Root returns the root directory.
func (f *FS) Root() (fs.Dir, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return nil, syscall.EBADF
	}
	in, err := f.getInode(rootIno)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, corrupt("the root inode is not a directory")
	}
	return &dir{node{f, rootIno, in.generation()}}, nil
}

// StatFS reports the file system's size and usage.
func (f *FS) StatFS() (fs.StatFS, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	free := uint64(le.Uint32(f.sb[sbFreeBlocks:]))
	avail := uint64(0)
	if r := uint64(f.g.reservedBlocks); free > r {
		avail = free - r
	}
	return fs.StatFS{
		Type:        magic,
		BlockSize:   int64(f.g.bs),
		Blocks:      uint64(f.g.blocks),
		BlocksFree:  free,
		BlocksAvail: avail,
		Files:       uint64(f.g.inodes),
		FilesFree:   uint64(le.Uint32(f.sb[sbFreeInodes:])),
		NameLen:     fs.MaxNameLen,
	}, nil
}

// Sync writes all dirty metadata and flushes the device.
func (f *FS) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return syscall.EBADF
	}
	return f.syncLocked()
}

func (f *FS) syncLocked() error {
	if f.ro != "" {
		return nil
	}
	if err := f.writeback(); err != nil {
		return err
	}
	if err := f.writeSuper(); err != nil {
		return err
	}
	if err := f.dev.Flush(); err != nil {
		return fmt.Errorf("ext2: flush: %w", err)
	}
	return nil
}

// Close syncs, marks the file system clean and releases it.
func (f *FS) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return syscall.EBADF
	}
	f.done = true
	if f.ro != "" {
		return nil
	}
	if err := f.writeback(); err != nil {
		return err
	}
	le.PutUint16(f.sb[sbState:], le.Uint16(f.sb[sbState:])|stateValid)
	if err := f.writeSuper(); err != nil {
		return err
	}
	if err := f.dev.Flush(); err != nil {
		return fmt.Errorf("ext2: flush: %w", err)
	}
	return nil
}

func (f *FS) writeSuper() error {
	le.PutUint32(f.sb[sbWtime:], uint32(f.now().Unix()))
	if _, err := f.dev.WriteAt(f.sb, superOffset); err != nil {
		return fmt.Errorf("ext2: writing the superblock: %w", err)
	}
	return nil
}

// writeback writes every dirty cached block, in block order, coalescing
// runs of consecutive blocks into one write.
func (f *FS) writeback() error {
	if f.dirty == 0 {
		return nil
	}
	nums := make([]uint32, 0, f.dirty)
	for n, b := range f.cache {
		if b.dirty {
			nums = append(nums, n)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	bs := f.g.bs
	for i := 0; i < len(nums); {
		j := i + 1
		for j < len(nums) && nums[j] == nums[j-1]+1 && j-i < 256 {
			j++
		}
		var err error
		if j-i == 1 {
			_, err = f.dev.WriteAt(f.cache[nums[i]].data, int64(nums[i])*int64(bs))
		} else {
			bufs := make([][]byte, 0, j-i)
			for _, n := range nums[i:j] {
				bufs = append(bufs, f.cache[n].data)
			}
			_, err = blkdev.WritevAt(f.dev, bufs, int64(nums[i])*int64(bs))
		}
		if err != nil {
			return fmt.Errorf("ext2: writing metadata block %d: %w", nums[i], err)
		}
		for _, n := range nums[i:j] {
			f.cache[n].dirty = false
		}
		f.dirty -= j - i
		i = j
	}
	return nil
}

// trim keeps the cache bounded; it runs between operations, when no block
// is referenced.
func (f *FS) trim() error {
	if f.dirty >= maxDirty {
		if err := f.writeback(); err != nil {
			return err
		}
	}
	if len(f.cache) >= maxCache {
		gdt := map[*cblock]bool{}
		for _, b := range f.gdt {
			gdt[b] = true
		}
		for n, b := range f.cache {
			if !b.dirty && !gdt[b] {
				delete(f.cache, n)
			}
		}
		f.dirCache = map[uint32]*dirIndex{}
	}
	return nil
}

// checkBlock validates a block number read from the medium.
func (f *FS) checkBlock(n uint32) error {
	if n < f.g.firstData || n >= f.g.blocks {
		return corrupt("block number %d outside [%d,%d)", n, f.g.firstData, f.g.blocks)
	}
	return nil
}

// bread returns cached block n, reading it if need be.
func (f *FS) bread(n uint32) (*cblock, error) {
	if b, ok := f.cache[n]; ok {
		return b, nil
	}
	if err := f.checkBlock(n); err != nil {
		return nil, err
	}
	b := &cblock{data: make([]byte, f.g.bs)}
	if _, err := f.dev.ReadAt(b.data, int64(n)*int64(f.g.bs)); err != nil {
		return nil, fmt.Errorf("ext2: reading block %d: %w", n, err)
	}
	f.cache[n] = b
	return b, nil
}

// bnew returns block n in the cache, zeroed and dirty, without reading it.
func (f *FS) bnew(n uint32) *cblock {
	b, ok := f.cache[n]
	if !ok {
		b = &cblock{data: make([]byte, f.g.bs)}
		f.cache[n] = b
	} else {
		clear(b.data)
	}
	f.markDirty(b)
	return b
}

func (f *FS) markDirty(b *cblock) {
	if !b.dirty {
		b.dirty = true
		f.dirty++
	}
}

// bforget drops block n from the cache (it was freed: a later user of the
// block must not see, or have written over it, the old contents).
func (f *FS) bforget(n uint32) {
	if b, ok := f.cache[n]; ok {
		if b.dirty {
			f.dirty--
		}
		delete(f.cache, n)
	}
}

// Group descriptors.
type gdesc []byte

func (f *FS) desc(n uint32) gdesc {
	off := int(n) * descSize
	b := f.gdt[off/f.g.bs]
	return gdesc(b.data[off%f.g.bs:][:descSize])
}

func (f *FS) descDirty(n uint32) { f.markDirty(f.gdt[int(n)*descSize/f.g.bs]) }

func (d gdesc) blockBitmap() uint32 { return le.Uint32(d[0:]) }
func (d gdesc) inodeBitmap() uint32 { return le.Uint32(d[4:]) }
func (d gdesc) inodeTable() uint32  { return le.Uint32(d[8:]) }
func (d gdesc) freeBlocks() uint32  { return uint32(le.Uint16(d[12:])) }
func (d gdesc) freeInodes() uint32  { return uint32(le.Uint16(d[14:])) }
func (d gdesc) usedDirs() uint32    { return uint32(le.Uint16(d[16:])) }
func (d gdesc) setFreeBlocks(v uint32) {
	le.PutUint16(d[12:], uint16(v))
}
func (d gdesc) setFreeInodes(v uint32) { le.PutUint16(d[14:], uint16(v)) }
func (d gdesc) setUsedDirs(v uint32)   { le.PutUint16(d[16:], uint16(v)) }

func (f *FS) addFreeBlocks(delta int64) {
	le.PutUint32(f.sb[sbFreeBlocks:], uint32(int64(le.Uint32(f.sb[sbFreeBlocks:]))+delta))
}

func (f *FS) addFreeInodes(delta int64) {
	le.PutUint32(f.sb[sbFreeInodes:], uint32(int64(le.Uint32(f.sb[sbFreeInodes:]))+delta))
}

var errNoSpace = fmt.Errorf("ext2: no space left: %w", syscall.ENOSPC)

// isErrno reports whether err is (wraps) the errno e.
func isErrno(err error, e syscall.Errno) bool { return errors.Is(err, e) }
