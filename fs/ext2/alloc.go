package ext2

import (
	"math/bits"
)

// allocBlock allocates a free block, the first at or after goal (wrapping
// around the file system), and returns its number.
func (f *FS) allocBlock(goal uint32) (uint32, error) {
	g := f.g
	if goal < g.firstData || goal >= g.blocks {
		goal = g.firstData
	}
	start := (goal - g.firstData) / g.bpg
	for i := uint32(0); i <= g.groups; i++ {
		n := (start + i) % g.groups
		d := f.desc(n)
		if d.freeBlocks() == 0 {
			continue
		}
		bm, err := f.bread(d.blockBitmap())
		if err != nil {
			return 0, err
		}
		from := uint32(0)
		if i == 0 {
			from = goal - g.groupStart(n)
		}
		bit, ok := findZero(bm.data, from, g.groupBlocks(n))
		if !ok && from > 0 {
			bit, ok = findZero(bm.data, 0, from)
		}
		if !ok {
			// The descriptor's count said otherwise: believe the bitmap.
			continue
		}
		blk := g.groupStart(n) + bit
		if blk == d.blockBitmap() || blk == d.inodeBitmap() || (blk >= d.inodeTable() && blk < d.inodeTable()+g.itableBlocks) {
			return 0, corrupt("block bitmap of group %d marks its own metadata block %d free", n, blk)
		}
		bm.data[bit/8] |= 1 << (bit % 8)
		f.markDirty(bm)
		d.setFreeBlocks(d.freeBlocks() - 1)
		f.descDirty(n)
		f.addFreeBlocks(-1)
		return blk, nil
	}
	return 0, errNoSpace
}

// findZero returns the first clear bit in [from, limit).
func findZero(bm []byte, from, limit uint32) (uint32, bool) {
	for i := from; i < limit; {
		if i%64 == 0 && i+64 <= limit {
			w := uint64(bm[i/8]) | uint64(bm[i/8+1])<<8 | uint64(bm[i/8+2])<<16 | uint64(bm[i/8+3])<<24 |
				uint64(bm[i/8+4])<<32 | uint64(bm[i/8+5])<<40 | uint64(bm[i/8+6])<<48 | uint64(bm[i/8+7])<<56
			if w == ^uint64(0) {
				i += 64
				continue
			}
			return i + uint32(bits.TrailingZeros64(^w)), true
		}
		if bm[i/8]&(1<<(i%8)) == 0 {
			return i, true
		}
		i++
	}
	return 0, false
}

// freeBlock returns block n to its group.
func (f *FS) freeBlock(n uint32) error {
	g := f.g
	if err := f.checkBlock(n); err != nil {
		return err
	}
	grp := (n - g.firstData) / g.bpg
	bit := (n - g.firstData) % g.bpg
	d := f.desc(grp)
	bm, err := f.bread(d.blockBitmap())
	if err != nil {
		return err
	}
	f.bforget(n)
	if bm.data[bit/8]&(1<<(bit%8)) == 0 {
		return corrupt("freeing block %d, which is already free", n)
	}
	bm.data[bit/8] &^= 1 << (bit % 8)
	f.markDirty(bm)
	d.setFreeBlocks(d.freeBlocks() + 1)
	f.descDirty(grp)
	f.addFreeBlocks(1)
	return nil
}

// allocInode allocates an inode near parent (a directory goes to a group
// with more free inodes than average and some free blocks, spreading the
// tree as Linux's Orlov allocator does; anything else to its parent's
// group) and returns its number.
func (f *FS) allocInode(parent uint32, isDir bool) (uint32, error) {
	g := f.g
	start := (parent - 1) / g.ipg
	if isDir && g.groups > 1 {
		avgI := uint64(le.Uint32(f.sb[sbFreeInodes:])) / uint64(g.groups)
		avgB := uint64(le.Uint32(f.sb[sbFreeBlocks:])) / uint64(g.groups)
		best, bestFree := start, uint32(0)
		// Start after the last choice so directories spread out.
		for i := uint32(0); i < g.groups; i++ {
			n := (f.lastIno + i) % g.groups
			d := f.desc(n)
			if uint64(d.freeInodes()) >= avgI && uint64(d.freeBlocks()) >= avgB && d.freeInodes() > 0 {
				best = n
				break
			}
			if d.freeInodes() > bestFree {
				best, bestFree = n, d.freeInodes()
			}
		}
		start = best
		f.lastIno = best + 1
	}
	for i := uint32(0); i < g.groups; i++ {
		n := (start + i) % g.groups
		d := f.desc(n)
		if d.freeInodes() == 0 {
			continue
		}
		bm, err := f.bread(d.inodeBitmap())
		if err != nil {
			return 0, err
		}
		from := uint32(0)
		if n == 0 {
			from = g.firstIno - 1
		}
		bit, ok := findZero(bm.data, from, g.ipg)
		if !ok {
			continue
		}
		bm.data[bit/8] |= 1 << (bit % 8)
		f.markDirty(bm)
		d.setFreeInodes(d.freeInodes() - 1)
		if isDir {
			d.setUsedDirs(d.usedDirs() + 1)
		}
		f.descDirty(n)
		f.addFreeInodes(-1)
		return n*g.ipg + bit + 1, nil
	}
	return 0, errNoSpace
}

// freeInodeBit returns inode ino to its group.
func (f *FS) freeInodeBit(ino uint32, isDir bool) error {
	g := f.g
	n := (ino - 1) / g.ipg
	bit := (ino - 1) % g.ipg
	d := f.desc(n)
	bm, err := f.bread(d.inodeBitmap())
	if err != nil {
		return err
	}
	if bm.data[bit/8]&(1<<(bit%8)) == 0 {
		return corrupt("freeing inode %d, which is already free", ino)
	}
	bm.data[bit/8] &^= 1 << (bit % 8)
	f.markDirty(bm)
	d.setFreeInodes(d.freeInodes() + 1)
	if isDir && d.usedDirs() > 0 {
		d.setUsedDirs(d.usedDirs() - 1)
	}
	f.descDirty(n)
	f.addFreeInodes(1)
	return nil
}
