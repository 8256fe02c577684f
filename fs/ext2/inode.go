package ext2

import (
	"fmt"
	"syscall"
	"time"

	"github.com/goskit/goskit/fs"
)

// Inode field offsets.
const (
	iMode       = 0
	iUID        = 2
	iSizeLo     = 4
	iAtime      = 8
	iCtime      = 12
	iMtime      = 16
	iDtime      = 20
	iGID        = 24
	iLinks      = 26
	iBlocks     = 28
	iFlags      = 32
	iBlock      = 40
	iGeneration = 100
	iFileACL    = 104
	iSizeHi     = 108
	iUIDHi      = 120
	iGIDHi      = 122
	iExtraIsize = 128
	iCtimeExtra = 132
	iMtimeExtra = 136
	iAtimeExtra = 140
	iCrtime     = 144
	iCrtimeExt  = 148

	flagIndex    = 0x1000
	flagExtents  = 0x80000
	flagInline   = 0x10000000
	nDirect      = 12
	fastLinkSize = 60
)

// inode is an inode in its cached inode-table block.
type inode struct {
	f   *FS
	ino uint32
	b   []byte
	blk *cblock
}

// getInode returns inode ino.
func (f *FS) getInode(ino uint32) (*inode, error) {
	g := f.g
	if ino == 0 || ino > g.inodes {
		return nil, corrupt("inode number %d", ino)
	}
	n := (ino - 1) / g.ipg
	idx := (ino - 1) % g.ipg
	off := uint64(idx) * uint64(g.inodeSize)
	blk := f.desc(n).inodeTable() + uint32(off/uint64(g.bs))
	cb, err := f.bread(blk)
	if err != nil {
		return nil, err
	}
	o := int(off % uint64(g.bs))
	return &inode{f: f, ino: ino, b: cb.data[o : o+g.inodeSize], blk: cb}, nil
}

func (in *inode) dirty() { in.f.markDirty(in.blk) }

func (in *inode) u16(o int) uint16 { return le.Uint16(in.b[o:]) }
func (in *inode) u32(o int) uint32 { return le.Uint32(in.b[o:]) }
func (in *inode) put16(o int, v uint16) {
	le.PutUint16(in.b[o:], v)
	in.dirty()
}
func (in *inode) put32(o int, v uint32) {
	le.PutUint32(in.b[o:], v)
	in.dirty()
}

func (in *inode) mode() fs.Mode     { return fs.Mode(in.u16(iMode)) }
func (in *inode) isDir() bool       { return in.mode().IsDir() }
func (in *inode) isReg() bool       { return in.mode().IsRegular() }
func (in *inode) links() uint32     { return uint32(in.u16(iLinks)) }
func (in *inode) setLinks(n uint32) { in.put16(iLinks, uint16(n)) }
func (in *inode) generation() uint32 {
	return in.u32(iGeneration)
}
func (in *inode) flags() uint32      { return in.u32(iFlags) }
func (in *inode) block(i int) uint32 { return in.u32(iBlock + 4*i) }
func (in *inode) setBlock(i int, v uint32) {
	in.put32(iBlock+4*i, v)
}
func (in *inode) fileACL() uint32 { return in.u32(iFileACL) }

func (in *inode) size() int64 {
	s := int64(in.u32(iSizeLo))
	if in.isReg() {
		s |= int64(in.u32(iSizeHi)) << 32
	}
	return s
}

func (in *inode) setSize(s int64) {
	in.put32(iSizeLo, uint32(s))
	if in.isReg() {
		in.put32(iSizeHi, uint32(s>>32))
		if s > 1<<31-1 && in.f.g.roCompat&roCompatLargeFile == 0 {
			in.f.g.roCompat |= roCompatLargeFile
			le.PutUint32(in.f.sb[sbFeatureROCompat:], in.f.g.roCompat)
		}
	}
}

// iblocks is i_blocks, in 512-byte units.
func (in *inode) iblocks() uint32 { return in.u32(iBlocks) }
func (in *inode) addBlocks(n int) {
	in.put32(iBlocks, uint32(int64(in.iblocks())+int64(n)*int64(in.f.g.bs/512)))
}

func (in *inode) uid() uint32 { return uint32(in.u16(iUID)) | uint32(in.u16(iUIDHi))<<16 }
func (in *inode) gid() uint32 { return uint32(in.u16(iGID)) | uint32(in.u16(iGIDHi))<<16 }
func (in *inode) setOwner(o fs.Owner) {
	in.put16(iUID, uint16(o.UID))
	in.put16(iUIDHi, uint16(o.UID>>16))
	in.put16(iGID, uint16(o.GID))
	in.put16(iGIDHi, uint16(o.GID>>16))
}

// extra reports whether the inode's extra part holds field offset o (4 bytes).
func (in *inode) extra(o int) bool {
	if len(in.b) <= 128 {
		return false
	}
	return 128+int(in.u16(iExtraIsize)) >= o+4
}

func (in *inode) time(o, ext int) time.Time {
	sec := int64(int32(in.u32(o)))
	if in.extra(ext) {
		x := in.u32(ext)
		sec += int64(x&3) << 32
		return time.Unix(sec, int64(x>>2))
	}
	return time.Unix(sec, 0)
}

func (in *inode) setTime(o, ext int, t time.Time) {
	sec := t.Unix()
	in.put32(o, uint32(sec))
	if in.extra(ext) {
		epoch := uint32((uint64(sec)-uint64(int64(int32(sec))))>>32) & 3
		in.put32(ext, uint32(t.Nanosecond())<<2|epoch)
	}
}

func (in *inode) atime() time.Time     { return in.time(iAtime, iAtimeExtra) }
func (in *inode) mtime() time.Time     { return in.time(iMtime, iMtimeExtra) }
func (in *inode) ctime() time.Time     { return in.time(iCtime, iCtimeExtra) }
func (in *inode) setAtime(t time.Time) { in.setTime(iAtime, iAtimeExtra, t) }
func (in *inode) setMtime(t time.Time) { in.setTime(iMtime, iMtimeExtra, t) }
func (in *inode) setCtime(t time.Time) { in.setTime(iCtime, iCtimeExtra, t) }

// touch sets mtime and ctime to now.
func (in *inode) touch() {
	t := in.f.now()
	in.setMtime(t)
	in.setCtime(t)
}

// hasBlockMap reports whether i_block holds block pointers (not a fast
// symlink's target or a device number).
func (in *inode) hasBlockMap() bool {
	switch in.mode().Type() {
	case fs.ModeRegular, fs.ModeDir:
		return true
	case fs.ModeSymlink:
		return !in.isFastSymlink()
	}
	return false
}

func (in *inode) isFastSymlink() bool {
	if in.mode().Type() != fs.ModeSymlink {
		return false
	}
	b := int64(in.iblocks())
	if in.fileACL() != 0 {
		b -= int64(in.f.g.bs / 512)
	}
	return b == 0
}

// checkMapped refuses inodes whose blocks the driver cannot interpret.
func (in *inode) checkMapped() error {
	if fl := in.flags(); fl&(flagExtents|flagInline) != 0 {
		return fmt.Errorf("ext2: inode %d uses extents or inline data: %w", in.ino, syscall.EIO)
	}
	return nil
}

// maxFileBlocks returns the number of logical blocks the map can address.
func (f *FS) maxFileBlocks() uint64 {
	p := f.g.ptrsPerBlock
	return nDirect + p + p*p + p*p*p
}

// maxFileSize is the largest size a file may have: what the map
// addresses, and what i_blocks (512-byte units, 32 bits) can count.
func (f *FS) maxFileSize() int64 {
	m := int64(f.maxFileBlocks()) * int64(f.g.bs)
	lim := int64(1)<<32*512 - int64(f.g.bs)*(1+int64(f.g.ptrsPerBlock)) // leave room for indirect blocks
	return min(m, lim)
}

// bmap maps logical block lblk of in to a physical block. With create, a
// missing block (and any missing indirect block on the way) is allocated
// near goal; fresh reports that the data block is new (its contents are
// undefined until written).
func (f *FS) bmap(in *inode, lblk uint64, create bool, goal uint32) (phys uint32, fresh bool, err error) {
	p := f.g.ptrsPerBlock
	var path [4]uint64
	depth := 0
	root := 0
	switch {
	case lblk < nDirect:
		root = int(lblk)
	case lblk < nDirect+p:
		root, depth = nDirect, 1
		path[1] = lblk - nDirect
	case lblk < nDirect+p+p*p:
		root, depth = nDirect+1, 2
		l := lblk - nDirect - p
		path[1], path[2] = l/p, l%p
	case lblk < f.maxFileBlocks():
		root, depth = nDirect+2, 3
		l := lblk - nDirect - p - p*p
		path[1], path[2], path[3] = l/(p*p), (l/p)%p, l%p
	default:
		return 0, false, fmt.Errorf("ext2: block %d past the largest file: %w", lblk, syscall.EFBIG)
	}
	alloc := func(meta bool) (uint32, error) {
		b, err := f.allocBlock(goal)
		if err != nil {
			return 0, err
		}
		if meta {
			f.bnew(b)
		}
		in.addBlocks(1)
		goal = b + 1
		return b, nil
	}
	ptr := in.block(root)
	if ptr == 0 {
		if !create {
			return 0, false, nil
		}
		if ptr, err = alloc(depth > 0); err != nil {
			return 0, false, err
		}
		in.setBlock(root, ptr)
		fresh = depth == 0
	} else if err := f.checkBlock(ptr); err != nil {
		return 0, false, err
	}
	for l := 1; l <= depth; l++ {
		cb, err := f.bread(ptr)
		if err != nil {
			return 0, false, err
		}
		o := int(path[l]) * 4
		next := le.Uint32(cb.data[o:])
		if next == 0 {
			if !create {
				return 0, false, nil
			}
			if next, err = alloc(l < depth); err != nil {
				return 0, false, err
			}
			le.PutUint32(cb.data[o:], next)
			f.markDirty(cb)
			fresh = l == depth
		} else if err := f.checkBlock(next); err != nil {
			return 0, false, err
		}
		ptr = next
	}
	return ptr, fresh, nil
}

// truncBlocks frees every block of in at logical index keep and beyond.
func (f *FS) truncBlocks(in *inode, keep uint64) error {
	p := f.g.ptrsPerBlock
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for i := keep; i < nDirect; i++ {
		if b := in.block(int(i)); b != 0 {
			note(f.freeBlock(b))
			in.addBlocks(-1)
			in.setBlock(int(i), 0)
		}
	}
	base := uint64(nDirect)
	span := p
	for level := 1; level <= 3; level++ {
		k := nDirect + level - 1
		if b := in.block(k); b != 0 {
			if keep <= base {
				note(f.freeTree(in, b, level))
				in.setBlock(k, 0)
			} else if keep < base+span {
				note(f.truncTree(in, b, level, keep-base))
			}
		}
		base += span
		span *= p
	}
	return firstErr
}

// truncTree frees the entries of indirect block blk (at level) that map
// logical blocks at keep and beyond (relative to the tree's first).
func (f *FS) truncTree(in *inode, blk uint32, level int, keep uint64) error {
	cb, err := f.bread(blk)
	if err != nil {
		return err
	}
	p := f.g.ptrsPerBlock
	span := uint64(1)
	for i := 1; i < level; i++ {
		span *= p
	}
	for i := uint64(0); i < p; i++ {
		child := le.Uint32(cb.data[4*i:])
		if child == 0 {
			continue
		}
		start := i * span
		var err error
		switch {
		case start >= keep:
			err = f.freeTree(in, child, level-1)
			le.PutUint32(cb.data[4*i:], 0)
			f.markDirty(cb)
		case start+span > keep && level > 1:
			err = f.truncTree(in, child, level-1, keep-start)
		}
		if err != nil {
			// A corrupt tree: stop at the first sign rather than walk
			// millions of bogus pointers.
			return err
		}
	}
	return nil
}

// freeTree frees blk and, for level > 0, everything it points to. It
// stops at the first error: a corrupt tree is not walked further.
func (f *FS) freeTree(in *inode, blk uint32, level int) error {
	if level > 0 {
		cb, err := f.bread(blk)
		if err != nil {
			return err
		}
		// Copy: freeing blk below drops it from the cache.
		ptrs := append([]byte(nil), cb.data...)
		for i := 0; i < len(ptrs); i += 4 {
			if c := le.Uint32(ptrs[i:]); c != 0 {
				if err := f.freeTree(in, c, level-1); err != nil {
					return err
				}
			}
		}
	}
	if err := f.freeBlock(blk); err != nil {
		return err
	}
	in.addBlocks(-1)
	return nil
}

// newInode allocates and initialises an inode.
func (f *FS) newInode(parent uint32, mode fs.Mode, owner fs.Owner) (*inode, error) {
	ino, err := f.allocInode(parent, mode.IsDir())
	if err != nil {
		return nil, err
	}
	in, err := f.getInode(ino)
	if err != nil {
		return nil, err
	}
	clear(in.b)
	in.put16(iMode, uint16(mode))
	in.setOwner(owner)
	f.gen++
	in.put32(iGeneration, f.gen)
	if len(in.b) > 128 {
		// As e2fsprogs and Linux's ext4 do: room for nanosecond times
		// and the creation time.
		extra := uint16(32)
		if f.g.minExtraIsize > extra && int(f.g.minExtraIsize) <= len(in.b)-128 {
			extra = f.g.minExtraIsize
		}
		in.put16(iExtraIsize, extra)
		in.setTime(iCrtime, iCrtimeExt, f.now())
	}
	t := f.now()
	in.setAtime(t)
	in.setMtime(t)
	in.setCtime(t)
	return in, nil
}

// releaseInode frees an inode whose link count reached zero: its blocks,
// its attribute block reference, and the inode itself.
func (f *FS) releaseInode(in *inode) error {
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	isDir := in.isDir()
	if in.hasBlockMap() {
		note(f.truncBlocks(in, 0))
	}
	note(f.releaseXattrBlock(in))
	in.setSize(0)
	for i := 0; i < 15; i++ {
		in.setBlock(i, 0)
	}
	in.setLinks(0)
	in.put32(iDtime, uint32(f.now().Unix()))
	note(f.freeInodeBit(in.ino, isDir))
	delete(f.dirCache, in.ino)
	return firstErr
}
