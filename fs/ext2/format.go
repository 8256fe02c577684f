package ext2

import (
	"crypto/rand"
	"fmt"
	"syscall"
	"time"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/fs"
)

// FormatOptions configure Format. Zero values take mkfs.ext2's defaults.
type FormatOptions struct {
	// BlockSize is 1024, 2048 or 4096 (default: 1024 below 512 MiB, as
	// mke2fs's "small" type, else 4096).
	BlockSize int
	// InodeSize is 128 or 256 (default 256).
	InodeSize int
	// BytesPerInode sets the inode count (default 4096 below 512 MiB,
	// else 16384).
	BytesPerInode int
	// Label is the volume name (at most 16 bytes).
	Label string
	// UUID is the file system's UUID (default random).
	UUID [16]byte
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
}

// Format makes a new, empty ext2 file system on dev with the features
// mkfs.ext2 sets by default except resize_inode: filetype, sparse_super,
// large_file, ext_attr, dir_index. The root directory holds lost+found.
func Format(dev blkdev.Device, opts FormatOptions) error {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	size := dev.Size()
	bs := opts.BlockSize
	if bs == 0 {
		bs = 4096
		if size < 512<<20 {
			bs = 1024
		}
	}
	if bs != 1024 && bs != 2048 && bs != 4096 {
		return fmt.Errorf("ext2: block size %d: %w", bs, syscall.EINVAL)
	}
	isz := opts.InodeSize
	if isz == 0 {
		isz = 256
	}
	if isz != 128 && isz != 256 {
		return fmt.Errorf("ext2: inode size %d: %w", isz, syscall.EINVAL)
	}
	bpi := opts.BytesPerInode
	if bpi == 0 {
		bpi = 16384
		if size < 512<<20 {
			bpi = 4096
		}
	}
	if bpi < bs || bpi > 1<<26 {
		return fmt.Errorf("ext2: %d bytes per inode: %w", bpi, syscall.EINVAL)
	}
	if len(opts.Label) > 16 {
		return fmt.Errorf("ext2: label longer than 16 bytes: %w", syscall.EINVAL)
	}
	blocks64 := size / int64(bs)
	if blocks64 > 1<<32-1 {
		blocks64 = 1<<32 - 1
	}
	blocks := uint32(blocks64)
	firstData := uint32(0)
	if bs == 1024 {
		firstData = 1
	}
	bpg := uint32(8 * bs)
	if blocks < firstData+64 {
		return fmt.Errorf("ext2: device of %d bytes is too small: %w", size, syscall.ENOSPC)
	}
	var groups, ipg, gdtBlocks, itb uint32
	for {
		groups = (blocks - firstData + bpg - 1) / bpg
		inodes := uint64(blocks) * uint64(bs) / uint64(bpi)
		ipg = uint32((inodes + uint64(groups) - 1) / uint64(groups))
		perBlock := uint32(bs / isz)
		unit := max(perBlock, 8)
		ipg = max((ipg+unit-1)/unit*unit, unit)
		ipg = min(ipg, uint32(8*bs))
		itb = ipg * uint32(isz) / uint32(bs)
		gdtBlocks = (groups*descSize + uint32(bs) - 1) / uint32(bs)
		g := &geometry{sparseSuper: true}
		last := groups - 1
		lastBlocks := blocks - (firstData + last*bpg)
		over := 2 + itb
		if g.groupHasSuper(last) {
			over += 1 + gdtBlocks
		}
		if lastBlocks >= over+50 || groups == 1 {
			if lastBlocks < over+16 {
				return fmt.Errorf("ext2: device of %d bytes is too small: %w", size, syscall.ENOSPC)
			}
			break
		}
		// Drop a last group too small to be worth its metadata, as
		// mke2fs does.
		blocks = firstData + last*bpg
	}
	g := &geometry{bs: bs, blocks: blocks, firstData: firstData, bpg: bpg, ipg: ipg, groups: groups,
		inodes: groups * ipg, inodeSize: isz, firstIno: 11, gdtBlocks: gdtBlocks, itableBlocks: itb,
		ptrsPerBlock: uint64(bs / 4), sparseSuper: true, filetype: true}
	t := uint32(now().Unix())

	// Lay out the groups.
	type grp struct{ bb, ib, it, start, n, used uint32 }
	gs := make([]grp, groups)
	for n := uint32(0); n < groups; n++ {
		s := g.groupStart(n)
		x := grp{start: s, n: g.groupBlocks(n)}
		p := s
		if g.groupHasSuper(n) {
			p += 1 + gdtBlocks
		}
		x.bb, x.ib, x.it = p, p+1, p+2
		x.used = x.it + itb - s
		gs[n] = x
	}
	// Root and lost+found blocks follow group 0's inode table.
	lpfBlocks := uint32(min(16384/bs, nDirect))
	rootBlk := gs[0].start + gs[0].used
	lpfBlk := rootBlk + 1
	gs[0].used += 1 + lpfBlocks
	if gs[0].used > gs[0].n {
		return fmt.Errorf("ext2: device too small: %w", syscall.ENOSPC)
	}

	wr := func(b []byte, blk uint32) error {
		if _, err := dev.WriteAt(b, int64(blk)*int64(bs)); err != nil {
			return fmt.Errorf("ext2: format: writing block %d: %w", blk, err)
		}
		return nil
	}
	// Superblock and descriptors.
	var freeBlocks, freeInodes uint32
	gdt := make([]byte, int(gdtBlocks)*bs)
	for n, x := range gs {
		d := gdesc(gdt[n*descSize:][:descSize])
		le.PutUint32(d[0:], x.bb)
		le.PutUint32(d[4:], x.ib)
		le.PutUint32(d[8:], x.it)
		fb := x.n - x.used
		fi := ipg
		if n == 0 {
			fi = ipg - 11
			d.setUsedDirs(2)
		}
		d.setFreeBlocks(fb)
		d.setFreeInodes(fi)
		freeBlocks += fb
		freeInodes += fi
	}
	sb := make([]byte, superSize)
	le.PutUint32(sb[sbInodesCount:], g.inodes)
	le.PutUint32(sb[sbBlocksCount:], blocks)
	le.PutUint32(sb[sbRBlocksCount:], blocks/20)
	le.PutUint32(sb[sbFreeBlocks:], freeBlocks)
	le.PutUint32(sb[sbFreeInodes:], freeInodes)
	le.PutUint32(sb[sbFirstDataBlock:], firstData)
	lbs := uint32(0)
	for 1024<<lbs < bs {
		lbs++
	}
	le.PutUint32(sb[sbLogBlockSize:], lbs)
	le.PutUint32(sb[sbLogFragSize:], lbs)
	le.PutUint32(sb[sbBlocksPerGroup:], bpg)
	le.PutUint32(sb[sbFragsPerGroup:], bpg)
	le.PutUint32(sb[sbInodesPerGroup:], ipg)
	le.PutUint32(sb[sbWtime:], t)
	le.PutUint16(sb[sbMaxMntCount:], 0xffff)
	le.PutUint16(sb[sbMagic:], magic)
	le.PutUint16(sb[sbState:], stateValid)
	le.PutUint16(sb[sbErrors:], 1)
	le.PutUint32(sb[sbLastCheck:], t)
	le.PutUint32(sb[sbRevLevel:], 1)
	le.PutUint32(sb[sbFirstIno:], 11)
	le.PutUint16(sb[sbInodeSize:], uint16(isz))
	le.PutUint32(sb[sbFeatureCompat:], compatExtAttr|compatDirIndex)
	le.PutUint32(sb[sbFeatureIncompat:], incompatFiletype)
	le.PutUint32(sb[sbFeatureROCompat:], roCompatSparse|roCompatLargeFile)
	uuid := opts.UUID
	if uuid == ([16]byte{}) {
		rand.Read(uuid[:])
		uuid[6] = uuid[6]&0x0f | 0x40
		uuid[8] = uuid[8]&0x3f | 0x80
	}
	copy(sb[sbUUID:], uuid[:])
	copy(sb[sbVolumeName:], opts.Label)
	rand.Read(sb[sbHashSeed : sbHashSeed+16])
	sb[sbDefHashVersion] = 1 // half_md4
	le.PutUint32(sb[sbMkfsTime:], t)
	if isz > 128 {
		le.PutUint16(sb[sbMinExtraIsize:], 32)
		le.PutUint16(sb[sbWantExtraIsize:], 32)
	}
	le.PutUint32(sb[sbFlags:], 1) // signed directory hash, as on x86

	zero := make([]byte, 256*bs)
	for n, x := range gs {
		if g.groupHasSuper(uint32(n)) {
			le.PutUint16(sb[sbBlockGroupNr:], uint16(n))
			if n == 0 {
				if _, err := dev.WriteAt(sb, superOffset); err != nil {
					return fmt.Errorf("ext2: format: %w", err)
				}
			} else {
				// A backup superblock starts its group's first block
				// (only group 0's sits 1024 bytes in).
				blk := make([]byte, bs)
				copy(blk, sb)
				if err := wr(blk, x.start); err != nil {
					return err
				}
			}
			if err := wr(gdt, x.start+1); err != nil {
				return err
			}
		}
		// Bitmaps: used blocks, and the padding past the group's end.
		bb := make([]byte, bs)
		for i := uint32(0); i < x.used; i++ {
			bb[i/8] |= 1 << (i % 8)
		}
		for i := x.n; i < uint32(8*bs); i++ {
			bb[i/8] |= 1 << (i % 8)
		}
		if err := wr(bb, x.bb); err != nil {
			return err
		}
		ib := make([]byte, bs)
		for i := ipg; i < uint32(8*bs); i++ {
			ib[i/8] |= 1 << (i % 8)
		}
		if n == 0 {
			for i := 0; i < 11; i++ {
				ib[i/8] |= 1 << (i % 8)
			}
		}
		if err := wr(ib, x.ib); err != nil {
			return err
		}
		for i := uint32(0); i < itb; i += 256 {
			c := min(itb-i, 256)
			if err := wr(zero[:int(c)*bs], x.it+i); err != nil {
				return err
			}
		}
	}
	// Root and lost+found through the driver's own inode code.
	le.PutUint16(sb[sbBlockGroupNr:], 0)
	f := &FS{dev: dev, g: g, sb: sb, now: now, cache: map[uint32]*cblock{}, dirCache: map[uint32]*dirIndex{}}
	for i := uint32(0); i < gdtBlocks; i++ {
		b, err := f.bread(firstData + 1 + i)
		if err != nil {
			return err
		}
		f.gdt = append(f.gdt, b)
	}
	mkdirAt := func(ino, parent uint32, mode fs.Mode, blk uint32, nblk uint32, links uint32) (*inode, error) {
		in, err := f.getInode(ino)
		if err != nil {
			return nil, err
		}
		in.put16(iMode, uint16(mode))
		in.setLinks(links)
		if isz > 128 {
			in.put16(iExtraIsize, 32)
			in.setTime(iCrtime, iCrtimeExt, now())
		}
		tm := now()
		in.setAtime(tm)
		in.setMtime(tm)
		in.setCtime(tm)
		for i := uint32(0); i < nblk; i++ {
			in.setBlock(int(i), blk+i)
			cb := f.bnew(blk + i)
			if i == 0 {
				putDirent(cb.data, ino, 12, ".", ftDir)
				putDirent(cb.data[12:], parent, bs-12, "..", ftDir)
			} else {
				putDirent(cb.data, 0, bs, "", 0)
			}
		}
		in.addBlocks(int(nblk))
		in.setSize(int64(nblk) * int64(bs))
		return in, nil
	}
	root, err := mkdirAt(rootIno, rootIno, fs.ModeDir|0o755, rootBlk, 1, 3)
	if err != nil {
		return err
	}
	if _, err := mkdirAt(11, rootIno, fs.ModeDir|0o700, lpfBlk, lpfBlocks, 2); err != nil {
		return err
	}
	delete(f.dirCache, rootIno)
	if err := f.dirAdd(root, "lost+found", 11, ftDir); err != nil {
		return err
	}
	tm := now()
	root.setMtime(tm)
	root.setCtime(tm)
	// Inode 1 (bad blocks) gets its times, as mke2fs gives it.
	if bad, err := f.getInode(1); err == nil {
		bad.setAtime(tm)
		bad.setMtime(tm)
		bad.setCtime(tm)
	}
	if err := f.writeback(); err != nil {
		return err
	}
	if err := dev.Flush(); err != nil {
		return fmt.Errorf("ext2: format: %w", err)
	}
	return nil
}
