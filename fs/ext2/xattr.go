package ext2

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
)

const (
	xattrMagic    = 0xEA020000
	xattrHdrSize  = 32
	xattrEntSize  = 16
	xattrCreate   = 1 // XATTR_CREATE
	xattrReplace  = 2 // XATTR_REPLACE
	maxXattrValue = 65536
)

// Attribute name indexes, Linux's.
var xattrPrefixes = []struct {
	index  uint8
	prefix string
	full   bool // the name is the prefix itself
}{
	{2, "system.posix_acl_access", true},
	{3, "system.posix_acl_default", true},
	{1, "user.", false},
	{4, "trusted.", false},
	{6, "security.", false},
	{7, "system.", false},
}

type xattr struct {
	index uint8
	name  string // without the prefix
	value []byte
}

func (x xattr) fullName() string {
	for _, p := range xattrPrefixes {
		if p.index == x.index {
			if p.full {
				return p.prefix
			}
			return p.prefix + x.name
		}
	}
	return fmt.Sprintf("unknown%d.%s", x.index, x.name)
}

func splitXattrName(name string) (uint8, string, error) {
	for _, p := range xattrPrefixes {
		if p.full {
			if name == p.prefix {
				return p.index, "", nil
			}
			continue
		}
		if strings.HasPrefix(name, p.prefix) {
			n := name[len(p.prefix):]
			if n == "" {
				return 0, "", syscall.EINVAL
			}
			if len(n) > 255 {
				return 0, "", syscall.ERANGE
			}
			return p.index, n, nil
		}
	}
	return 0, "", fmt.Errorf("ext2: attribute namespace of %q: %w", name, syscall.EOPNOTSUPP)
}

// parseXattrEntries parses entries starting at ents, with values at
// valueBase+offset, within region.
func parseXattrEntries(region []byte, ents, valueBase int) ([]xattr, error) {
	var out []xattr
	for off := ents; ; {
		if off+4 > len(region) {
			return nil, corrupt("attribute entries run past their region")
		}
		if le.Uint32(region[off:]) == 0 {
			return out, nil
		}
		if off+xattrEntSize > len(region) {
			return nil, corrupt("attribute entry past its region")
		}
		nl := int(region[off])
		idx := region[off+1]
		voff := int(le.Uint16(region[off+2:]))
		vino := le.Uint32(region[off+4:])
		vsize := int(le.Uint32(region[off+8:]))
		if off+xattrEntSize+nl > len(region) {
			return nil, corrupt("attribute name past its region")
		}
		if vino != 0 {
			return nil, fmt.Errorf("ext2: attribute value in an inode (ea_inode): %w", syscall.EIO)
		}
		if vsize > len(region) || valueBase+voff+vsize > len(region) || valueBase+voff < 0 {
			return nil, corrupt("attribute value [%d,+%d) past its region", voff, vsize)
		}
		name := string(region[off+xattrEntSize : off+xattrEntSize+nl])
		val := append([]byte{}, region[valueBase+voff:valueBase+voff+vsize]...)
		out = append(out, xattr{index: idx, name: name, value: val})
		off += align4(xattrEntSize + nl)
		if len(out) > len(region)/xattrEntSize {
			return nil, corrupt("too many attributes")
		}
	}
}

// readXattrs returns the inode's attributes: those inside a large inode,
// then those in its attribute block.
func (f *FS) readXattrs(in *inode) ([]xattr, error) {
	var out []xattr
	if len(in.b) > 128 {
		start := 128 + int(in.u16(iExtraIsize))
		if start+4 <= len(in.b) && le.Uint32(in.b[start:]) == xattrMagic {
			region := in.b[start+4:]
			xs, err := parseXattrEntries(region, 0, 0)
			if err != nil {
				return nil, err
			}
			out = append(out, xs...)
		}
	}
	if b := in.fileACL(); b != 0 {
		cb, err := f.bread(b)
		if err != nil {
			return nil, err
		}
		if le.Uint32(cb.data) != xattrMagic || le.Uint32(cb.data[8:]) != 1 {
			return nil, corrupt("attribute block %d of inode %d has a bad header", b, in.ino)
		}
		xs, err := parseXattrEntries(cb.data, xattrHdrSize, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, xs...)
	}
	return out, nil
}

// Hashes as e2fsprogs and Linux compute them.
func xattrEntryHash(name string, value []byte) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<5 ^ h>>27 ^ uint32(name[i])
	}
	v := make([]byte, align4(len(value)))
	copy(v, value)
	for i := 0; i < len(v); i += 4 {
		h = h<<16 ^ h>>16 ^ le.Uint32(v[i:])
	}
	return h
}

// buildXattrBlock lays attributes out in a block (entries sorted as Linux
// sorts them, values from the end), or fails with ENOSPC.
func (f *FS) buildXattrBlock(xs []xattr, refcount uint32) ([]byte, error) {
	bs := f.g.bs
	sort.Slice(xs, func(i, j int) bool {
		a, b := xs[i], xs[j]
		if a.index != b.index {
			return a.index < b.index
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	blk := make([]byte, bs)
	le.PutUint32(blk, xattrMagic)
	le.PutUint32(blk[4:], refcount)
	le.PutUint32(blk[8:], 1)
	eoff, vend := xattrHdrSize, bs
	var bh uint32
	for _, x := range xs {
		esz := align4(xattrEntSize + len(x.name))
		vsz := align4(len(x.value))
		if eoff+esz+4 > vend-vsz {
			return nil, fmt.Errorf("ext2: attributes do not fit in a block: %w", syscall.ENOSPC)
		}
		vend -= vsz
		copy(blk[vend:], x.value)
		e := blk[eoff:]
		e[0] = uint8(len(x.name))
		e[1] = x.index
		le.PutUint16(e[2:], uint16(vend))
		le.PutUint32(e[8:], uint32(len(x.value)))
		h := xattrEntryHash(x.name, x.value)
		le.PutUint32(e[12:], h)
		copy(e[xattrEntSize:], x.name)
		eoff += esz
		bh = bh<<16 ^ bh>>16 ^ h
	}
	le.PutUint32(blk[12:], bh)
	return blk, nil
}

// writeXattrs stores the inode's complete attribute list: all in its
// attribute block (as Linux's ext2 keeps them), none inside the inode.
func (f *FS) writeXattrs(in *inode, xs []xattr) error {
	old := in.fileACL()
	if len(xs) == 0 {
		if err := f.releaseXattrBlock(in); err != nil {
			return err
		}
	} else {
		refs := uint32(1)
		data, err := f.buildXattrBlock(xs, refs)
		if err != nil {
			return err
		}
		if old != 0 {
			cb, err := f.bread(old)
			if err != nil {
				return err
			}
			if le.Uint32(cb.data[4:]) == 1 {
				copy(cb.data, data)
				f.markDirty(cb)
				goto inodeArea
			}
		}
		goal := f.desc((in.ino-1)/f.g.ipg).inodeTable() + f.g.itableBlocks
		nb, err := f.allocBlock(goal)
		if err != nil {
			return err
		}
		copy(f.bnew(nb).data, data)
		if old != 0 {
			if err := f.releaseXattrBlock(in); err != nil {
				return err
			}
		}
		in.put32(iFileACL, nb)
		in.addBlocks(1)
	}
inodeArea:
	if len(in.b) > 128 {
		start := 128 + int(in.u16(iExtraIsize))
		if start+4 <= len(in.b) && le.Uint32(in.b[start:]) == xattrMagic {
			clear(in.b[start:])
			in.dirty()
		}
	}
	in.setCtime(f.now())
	return nil
}

// releaseXattrBlock drops the inode's reference to its attribute block,
// freeing the block with its last reference.
func (f *FS) releaseXattrBlock(in *inode) error {
	b := in.fileACL()
	if b == 0 {
		return nil
	}
	in.put32(iFileACL, 0)
	in.addBlocks(-1)
	cb, err := f.bread(b)
	if err != nil {
		return err
	}
	if le.Uint32(cb.data) != xattrMagic {
		return corrupt("attribute block %d has a bad header", b)
	}
	refs := le.Uint32(cb.data[4:])
	if refs > 1 {
		le.PutUint32(cb.data[4:], refs-1)
		f.markDirty(cb)
		return nil
	}
	return f.freeBlock(b)
}

func (n node) GetXattr(name string) ([]byte, error) {
	f := n.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return nil, err
	}
	in, err := n.get()
	if err != nil {
		return nil, err
	}
	idx, nm, err := splitXattrName(name)
	if err != nil {
		return nil, err
	}
	xs, err := f.readXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.index == idx && x.name == nm {
			return x.value, nil
		}
	}
	return nil, syscall.ENODATA
}

func (n node) ListXattr() ([]string, error) {
	f := n.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return nil, err
	}
	in, err := n.get()
	if err != nil {
		return nil, err
	}
	xs, err := f.readXattrs(in)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.fullName())
	}
	return out, nil
}

func (n node) SetXattr(name string, value []byte, flags int) error {
	return n.changeXattr(name, value, flags, false)
}

func (n node) RemoveXattr(name string) error {
	return n.changeXattr(name, nil, xattrReplace, true)
}

func (n node) changeXattr(name string, value []byte, flags int, remove bool) error {
	f := n.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return err
	}
	if err := f.checkWritable(); err != nil {
		return err
	}
	if f.g.compat&compatExtAttr == 0 {
		return fmt.Errorf("ext2: no ext_attr feature: %w", syscall.EOPNOTSUPP)
	}
	in, err := n.get()
	if err != nil {
		return err
	}
	idx, nm, err := splitXattrName(name)
	if err != nil {
		return err
	}
	if len(value) > maxXattrValue {
		return syscall.E2BIG
	}
	xs, err := f.readXattrs(in)
	if err != nil {
		return err
	}
	found := -1
	for i, x := range xs {
		if x.index == idx && x.name == nm {
			found = i
		}
	}
	switch {
	case found >= 0 && flags&xattrCreate != 0:
		return syscall.EEXIST
	case found < 0 && flags&xattrReplace != 0:
		return syscall.ENODATA
	}
	if remove {
		xs = append(xs[:found], xs[found+1:]...)
	} else if found >= 0 {
		xs[found].value = append([]byte{}, value...)
	} else {
		xs = append(xs, xattr{index: idx, name: nm, value: append([]byte{}, value...)})
	}
	return f.writeXattrs(in, xs)
}
