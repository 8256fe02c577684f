package ext2

import (
	"github.com/goskit/goskit/fs"
)

// Directory entry file types (filetype feature).
const (
	ftUnknown = 0
	ftReg     = 1
	ftDir     = 2
	ftChr     = 3
	ftBlk     = 4
	ftFIFO    = 5
	ftSock    = 6
	ftSymlink = 7
)

func modeToFT(m fs.Mode) uint8 {
	switch m.Type() {
	case fs.ModeRegular:
		return ftReg
	case fs.ModeDir:
		return ftDir
	case fs.ModeChar:
		return ftChr
	case fs.ModeBlock:
		return ftBlk
	case fs.ModeFIFO:
		return ftFIFO
	case fs.ModeSocket:
		return ftSock
	case fs.ModeSymlink:
		return ftSymlink
	}
	return ftUnknown
}

func ftToMode(t uint8) fs.Mode {
	switch t {
	case ftReg:
		return fs.ModeRegular
	case ftDir:
		return fs.ModeDir
	case ftChr:
		return fs.ModeChar
	case ftBlk:
		return fs.ModeBlock
	case ftFIFO:
		return fs.ModeFIFO
	case ftSock:
		return fs.ModeSocket
	case ftSymlink:
		return fs.ModeSymlink
	}
	return 0
}

// dent is where a directory entry is.
type dent struct {
	ino  uint32
	typ  uint8
	lblk uint32
	off  int
}

// dirIndex is a directory's entries in memory, so lookups and inserts do
// not scan the directory. It is built on first use and kept in step by
// every change (all under the file system's lock).
type dirIndex struct {
	names map[string]dent
	gaps  []int // per block: the largest entry that fits
}

func align4(n int) int { return (n + 3) &^ 3 }

func recNeed(nameLen int) int { return align4(8 + nameLen) }

// scanBlock walks the entries of a directory block, validating them.
func (f *FS) scanBlock(data []byte, fn func(off, recLen int, ino uint32, name []byte, typ uint8) bool) error {
	bs := len(data)
	for off := 0; off < bs; {
		if off+8 > bs {
			return corrupt("directory entry at %d runs past its block", off)
		}
		ino := le.Uint32(data[off:])
		rl := int(le.Uint16(data[off+4:]))
		if bs == 65536 && rl == 0 {
			rl = 65536
		}
		nl := int(data[off+6])
		typ := data[off+7]
		if !f.g.filetype {
			nl |= int(typ) << 8
			typ = 0
		}
		if rl < 8 || rl%4 != 0 || off+rl > bs || (ino != 0 && 8+nl > rl) {
			return corrupt("directory entry at %d: record length %d, name length %d", off, rl, nl)
		}
		if ino > f.g.inodes {
			return corrupt("directory entry at %d: inode %d", off, ino)
		}
		if fn != nil && !fn(off, rl, ino, data[off+8:off+8+min(nl, rl-8)], typ) {
			return nil
		}
		off += rl
	}
	return nil
}

// blockGap returns the largest name record that fits in the block.
func (f *FS) blockGap(data []byte) int {
	gap := 0
	f.scanBlock(data, func(off, rl int, ino uint32, name []byte, _ uint8) bool {
		free := rl
		if ino != 0 {
			free = rl - recNeed(len(name))
		}
		gap = max(gap, free)
		return true
	})
	return gap
}

// dirBlock returns directory block lblk.
func (f *FS) dirBlock(d *inode, lblk uint32) (*cblock, error) {
	phys, _, err := f.bmap(d, uint64(lblk), false, 0)
	if err != nil {
		return nil, err
	}
	if phys == 0 {
		return nil, corrupt("directory %d has a hole at block %d", d.ino, lblk)
	}
	return f.bread(phys)
}

func (f *FS) dirBlocks(d *inode) (uint32, error) {
	sz := d.size()
	if sz%int64(f.g.bs) != 0 || sz > 1<<31 || sz/int64(f.g.bs) > int64(f.g.blocks) {
		return 0, corrupt("directory %d has size %d", d.ino, sz)
	}
	return uint32(sz / int64(f.g.bs)), nil
}

// index returns directory d's index, building it.
func (f *FS) index(d *inode) (*dirIndex, error) {
	if x, ok := f.dirCache[d.ino]; ok {
		return x, nil
	}
	if err := d.checkMapped(); err != nil {
		return nil, err
	}
	nb, err := f.dirBlocks(d)
	if err != nil {
		return nil, err
	}
	x := &dirIndex{names: map[string]dent{}, gaps: make([]int, nb)}
	for l := uint32(0); l < nb; l++ {
		cb, err := f.dirBlock(d, l)
		if err != nil {
			return nil, err
		}
		gap := 0
		err = f.scanBlock(cb.data, func(off, rl int, ino uint32, name []byte, typ uint8) bool {
			free := rl
			if ino != 0 {
				free = rl - recNeed(len(name))
				if n := string(name); n != "." && n != ".." {
					x.names[n] = dent{ino: ino, typ: typ, lblk: l, off: off}
				}
			}
			gap = max(gap, free)
			return true
		})
		if err != nil {
			return nil, err
		}
		x.gaps[l] = gap
	}
	f.dirCache[d.ino] = x
	return x, nil
}

// dirLookup finds name in directory d.
func (f *FS) dirLookup(d *inode, name string) (dent, bool, error) {
	x, err := f.index(d)
	if err != nil {
		return dent{}, false, err
	}
	e, ok := x.names[name]
	return e, ok, nil
}

// modified notes a change to directory d: its times, and the end of any
// htree index, which the driver does not maintain.
func (f *FS) modified(d *inode) {
	if d.flags()&flagIndex != 0 {
		d.put32(iFlags, d.flags()&^flagIndex)
	}
	d.touch()
}

// dirAdd adds the entry name -> ino to directory d.
func (f *FS) dirAdd(d *inode, name string, ino uint32, typ uint8) error {
	x, err := f.index(d)
	if err != nil {
		return err
	}
	if !f.g.filetype {
		typ = 0
	}
	need := recNeed(len(name))
	for l, gap := range x.gaps {
		if gap < need {
			continue
		}
		cb, err := f.dirBlock(d, uint32(l))
		if err != nil {
			return err
		}
		at, rl := -1, 0
		f.scanBlock(cb.data, func(off, r int, eino uint32, ename []byte, _ uint8) bool {
			if eino == 0 && r >= need {
				at, rl = off, r
				return false
			}
			if eino != 0 {
				used := recNeed(len(ename))
				if r-used >= need {
					le.PutUint16(cb.data[off+4:], uint16(used))
					at, rl = off+used, r-used
					return false
				}
			}
			return true
		})
		if at < 0 {
			x.gaps[l] = f.blockGap(cb.data)
			continue
		}
		putDirent(cb.data[at:], ino, rl, name, typ)
		f.markDirty(cb)
		x.names[name] = dent{ino: ino, typ: typ, lblk: uint32(l), off: at}
		x.gaps[l] = f.blockGap(cb.data)
		f.modified(d)
		return nil
	}
	// A new block at the end.
	l := uint32(len(x.gaps))
	if int64(l+1)*int64(f.g.bs) > 1<<31 {
		return errNoSpace
	}
	goal := f.desc((d.ino-1)/f.g.ipg).inodeTable() + f.g.itableBlocks
	if l > 0 {
		if p, _, err := f.bmap(d, uint64(l-1), false, 0); err == nil && p != 0 {
			goal = p + 1
		}
	}
	phys, _, err := f.bmap(d, uint64(l), true, goal)
	if err != nil {
		return err
	}
	cb := f.bnew(phys)
	putDirent(cb.data, ino, f.g.bs, name, typ)
	d.setSize(int64(l+1) * int64(f.g.bs))
	x.names[name] = dent{ino: ino, typ: typ, lblk: l, off: 0}
	x.gaps = append(x.gaps, f.blockGap(cb.data))
	f.modified(d)
	return nil
}

func putDirent(b []byte, ino uint32, recLen int, name string, typ uint8) {
	le.PutUint32(b, ino)
	le.PutUint16(b[4:], uint16(recLen))
	b[6] = uint8(len(name))
	b[7] = typ
	copy(b[8:], name)
	// Zero the padding so images are deterministic.
	clear(b[8+len(name) : recNeed(len(name))])
}

// dirRemove removes the entry name from directory d.
func (f *FS) dirRemove(d *inode, name string) error {
	x, err := f.index(d)
	if err != nil {
		return err
	}
	e, ok := x.names[name]
	if !ok {
		return nil
	}
	cb, err := f.dirBlock(d, e.lblk)
	if err != nil {
		return err
	}
	prev := -1
	f.scanBlock(cb.data, func(off, _ int, _ uint32, _ []byte, _ uint8) bool {
		if off == e.off {
			return false
		}
		prev = off
		return true
	})
	if prev >= 0 {
		rl := int(le.Uint16(cb.data[prev+4:])) + int(le.Uint16(cb.data[e.off+4:]))
		le.PutUint16(cb.data[prev+4:], uint16(rl))
	} else {
		le.PutUint32(cb.data[e.off:], 0)
	}
	f.markDirty(cb)
	delete(x.names, name)
	x.gaps[e.lblk] = f.blockGap(cb.data)
	f.modified(d)
	return nil
}

// dirSet points the existing entry name in d at ino.
func (f *FS) dirSet(d *inode, name string, ino uint32, typ uint8) error {
	x, err := f.index(d)
	if err != nil {
		return err
	}
	e, ok := x.names[name]
	if !ok {
		return corrupt("directory %d lost entry %q", d.ino, name)
	}
	cb, err := f.dirBlock(d, e.lblk)
	if err != nil {
		return err
	}
	if !f.g.filetype {
		typ = 0
	}
	le.PutUint32(cb.data[e.off:], ino)
	if f.g.filetype {
		cb.data[e.off+7] = typ
	}
	f.markDirty(cb)
	e.ino, e.typ = ino, typ
	x.names[name] = e
	f.modified(d)
	return nil
}

// setDotDot points directory d's ".." at parent.
func (f *FS) setDotDot(d *inode, parent uint32) error {
	cb, err := f.dirBlock(d, 0)
	if err != nil {
		return err
	}
	found := false
	err = f.scanBlock(cb.data, func(off, _ int, ino uint32, name []byte, _ uint8) bool {
		if ino != 0 && string(name) == ".." {
			le.PutUint32(cb.data[off:], parent)
			found = true
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if !found {
		return corrupt("directory %d has no '..' entry", d.ino)
	}
	f.markDirty(cb)
	return nil
}

// dotDot returns directory d's parent.
func (f *FS) dotDot(d *inode) (uint32, error) {
	cb, err := f.dirBlock(d, 0)
	if err != nil {
		return 0, err
	}
	parent := uint32(0)
	err = f.scanBlock(cb.data, func(off, _ int, ino uint32, name []byte, _ uint8) bool {
		if ino != 0 && string(name) == ".." {
			parent = ino
			return false
		}
		return true
	})
	if err == nil && parent == 0 {
		err = corrupt("directory %d has no '..' entry", d.ino)
	}
	return parent, err
}

// initDir writes a new directory's first block.
func (f *FS) initDir(d *inode, parent uint32) error {
	goal := f.desc((d.ino-1)/f.g.ipg).inodeTable() + f.g.itableBlocks
	phys, _, err := f.bmap(d, 0, true, goal)
	if err != nil {
		return err
	}
	cb := f.bnew(phys)
	typ := uint8(0)
	if f.g.filetype {
		typ = ftDir
	}
	putDirent(cb.data, d.ino, 12, ".", typ)
	putDirent(cb.data[12:], parent, f.g.bs-12, "..", typ)
	d.setSize(int64(f.g.bs))
	f.dirCache[d.ino] = &dirIndex{names: map[string]dent{}, gaps: []int{f.g.bs - 24}}
	return nil
}
