package ext2

import (
	"fmt"
	"syscall"
	"time"

	"github.com/goskit/goskit/fs"
)

// node is a handle on an inode: its number and generation, so a handle on
// an inode that was freed (and perhaps reused) fails with ENOENT rather
// than reaching the new file.
type node struct {
	f   *FS
	ino uint32
	gen uint32
}

type (
	dir     struct{ node }
	file    struct{ node }
	symlink struct{ node }
	special struct{ node }
)

var (
	_ fs.Dir       = (*dir)(nil)
	_ fs.File      = (*file)(nil)
	_ fs.Symlink   = (*symlink)(nil)
	_ fs.Node      = (*special)(nil)
	_ fs.Mknoder   = (*dir)(nil)
	_ fs.Xattrer   = (*dir)(nil)
	_ fs.Xattrer   = (*file)(nil)
	_ fs.Xattrer   = (*symlink)(nil)
	_ fs.Allocater = (*file)(nil)
)

// begin starts an operation: the file system is open, and the cache is
// trimmed while nothing references a cached block.
func (f *FS) begin() error {
	if f.done {
		return fmt.Errorf("ext2: file system closed: %w", syscall.EBADF)
	}
	return f.trim()
}

// get returns the node's inode, checking that it still is the node's.
func (n node) get() (*inode, error) {
	if n.f.done {
		return nil, fmt.Errorf("ext2: file system closed: %w", syscall.EBADF)
	}
	in, err := n.f.getInode(n.ino)
	if err != nil {
		return nil, err
	}
	if in.links() == 0 || in.generation() != n.gen || in.mode() == 0 {
		return nil, fmt.Errorf("ext2: inode %d was removed: %w", n.ino, syscall.ENOENT)
	}
	return in, nil
}

// makeNode returns the fs.Node for inode ino.
func (f *FS) makeNode(ino uint32) (fs.Node, error) {
	in, err := f.getInode(ino)
	if err != nil {
		return nil, err
	}
	if in.mode() == 0 || in.links() == 0 {
		return nil, corrupt("directory entry for free inode %d", ino)
	}
	n := node{f, ino, in.generation()}
	switch in.mode().Type() {
	case fs.ModeDir:
		return &dir{n}, nil
	case fs.ModeRegular:
		return &file{n}, nil
	case fs.ModeSymlink:
		return &symlink{n}, nil
	}
	return &special{n}, nil
}

func (n node) Stat() (fs.Attr, error) {
	f := n.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return fs.Attr{}, err
	}
	in, err := n.get()
	if isErrno(err, syscall.ENOENT) {
		// A removed node still stats, with no links, as fstat(2) of an
		// open file does, until its inode is reused.
		if in, gerr := f.getInode(n.ino); gerr == nil && in.generation() == n.gen && in.links() == 0 && in.mode() != 0 {
			return f.attr(in), nil
		}
	}
	if err != nil {
		return fs.Attr{}, err
	}
	return f.attr(in), nil
}

func (f *FS) attr(in *inode) fs.Attr {
	a := fs.Attr{
		Ino:     uint64(in.ino),
		Mode:    in.mode(),
		Nlink:   in.links(),
		Owner:   fs.Owner{UID: in.uid(), GID: in.gid()},
		Size:    in.size(),
		Blocks:  int64(in.iblocks()),
		BlkSize: int32(f.g.bs),
		Atime:   in.atime(),
		Mtime:   in.mtime(),
		Ctime:   in.ctime(),
	}
	switch a.Mode.Type() {
	case fs.ModeChar, fs.ModeBlock:
		a.Rdev = in.rdev()
	}
	return a
}

// rdev decodes a device number as Linux's ext2 stores it: the old 16-bit
// form in i_block[0], or the new 32-bit form in i_block[1].
func (in *inode) rdev() uint64 {
	if old := in.block(0); old != 0 {
		return mkdev(old>>8&0xff, old&0xff)
	}
	nw := in.block(1)
	return mkdev(nw&0xfff00>>8, nw&0xff|nw>>12&0xfff00)
}

func (in *inode) setRdev(dev uint64) {
	major, minor := devMajor(dev), devMinor(dev)
	if major < 256 && minor < 256 {
		in.setBlock(0, major<<8|minor)
		in.setBlock(1, 0)
		return
	}
	in.setBlock(0, 0)
	in.setBlock(1, minor&0xff|major<<8|(minor&^0xff)<<12)
}

// Linux's dev_t encoding, as unix.Mkdev.
func mkdev(major, minor uint32) uint64 {
	return uint64(major&0xfff)<<8 | uint64(major&^0xfff)<<32 | uint64(minor&0xff) | uint64(minor&^0xff)<<12
}
func devMajor(d uint64) uint32 { return uint32(d>>8&0xfff | d>>32&^0xfff) }
func devMinor(d uint64) uint32 { return uint32(d&0xff | d>>12&^0xff) }

func (n node) SetAttr(a fs.SetAttr) error {
	f := n.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return err
	}
	if err := f.checkWritable(); err != nil {
		return err
	}
	in, err := n.get()
	if err != nil {
		return err
	}
	if a.Valid&fs.SetSize != 0 {
		if in.isDir() {
			return syscall.EISDIR
		}
		if !in.isReg() {
			return syscall.EINVAL
		}
		if err := f.truncate(in, a.Size); err != nil {
			return err
		}
	}
	if a.Valid&fs.SetMode != 0 {
		in.put16(iMode, uint16(in.mode().Type()|a.Mode&fs.ModePerm))
	}
	if a.Valid&(fs.SetUID|fs.SetGID) != 0 {
		o := fs.Owner{UID: in.uid(), GID: in.gid()}
		if a.Valid&fs.SetUID != 0 {
			o.UID = a.Owner.UID
		}
		if a.Valid&fs.SetGID != 0 {
			o.GID = a.Owner.GID
		}
		in.setOwner(o)
	}
	if a.Valid&fs.SetAtime != 0 {
		in.setAtime(a.Atime)
	}
	if a.Valid&fs.SetMtime != 0 {
		in.setMtime(a.Mtime)
	}
	in.setCtime(f.now())
	return nil
}

// Readlink returns the symlink's target.
func (s *symlink) Readlink() (string, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return "", err
	}
	in, err := s.get()
	if err != nil {
		return "", err
	}
	size := in.size()
	if in.isFastSymlink() {
		if size >= fastLinkSize {
			return "", corrupt("fast symlink %d of %d bytes", in.ino, size)
		}
		return string(in.b[iBlock : iBlock+size]), nil
	}
	if size >= int64(f.g.bs) || size < 0 {
		return "", corrupt("symlink %d of %d bytes", in.ino, size)
	}
	if err := in.checkMapped(); err != nil {
		return "", err
	}
	phys, _, err := f.bmap(in, 0, false, 0)
	if err != nil {
		return "", err
	}
	if phys == 0 {
		return "", corrupt("symlink %d has no block", in.ino)
	}
	cb, err := f.bread(phys)
	if err != nil {
		return "", err
	}
	return string(cb.data[:size]), nil
}

func (n node) now() time.Time { return n.f.now() }
