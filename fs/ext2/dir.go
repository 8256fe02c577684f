package ext2

import (
	"fmt"
	"syscall"

	"github.com/goskit/goskit/fs"
)

// dirOp runs fn on the directory under the lock, for an operation that
// changes it.
func (d *dir) op(write bool, fn func(in *inode) error) error {
	f := d.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(); err != nil {
		return err
	}
	if write {
		if err := f.checkWritable(); err != nil {
			return err
		}
	}
	in, err := d.get()
	if err != nil {
		return err
	}
	return fn(in)
}

// Lookup returns the entry called name.
func (d *dir) Lookup(name string) (fs.Node, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	var out fs.Node
	err := d.op(false, func(in *inode) error {
		e, ok, err := d.f.dirLookup(in, name)
		if err != nil {
			return err
		}
		if !ok {
			return syscall.ENOENT
		}
		out, err = d.f.makeNode(e.ino)
		return err
	})
	return out, err
}

// create makes a new inode of the given mode and links it as name.
func (f *FS) create(d *inode, name string, mode fs.Mode, owner fs.Owner, init func(in *inode) error) (*inode, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	if _, ok, err := f.dirLookup(d, name); err != nil {
		return nil, err
	} else if ok {
		return nil, syscall.EEXIST
	}
	if mode.IsDir() && d.links() >= linkMax {
		return nil, syscall.EMLINK
	}
	in, err := f.newInode(d.ino, mode, owner)
	if err != nil {
		return nil, err
	}
	undo := func(err error) (*inode, error) {
		// Give back what was taken; the directory is unchanged.
		in.setLinks(1)
		f.releaseInode(in)
		return nil, err
	}
	if init != nil {
		if err := init(in); err != nil {
			return undo(err)
		}
	}
	if err := f.dirAdd(d, name, in.ino, modeToFT(mode)); err != nil {
		return undo(err)
	}
	return in, nil
}

// Create makes a regular file.
func (d *dir) Create(name string, perm fs.Mode, owner fs.Owner) (fs.File, error) {
	var out fs.File
	err := d.op(true, func(din *inode) error {
		in, err := d.f.create(din, name, fs.ModeRegular|perm&fs.ModePerm, owner, func(in *inode) error {
			in.setLinks(1)
			return nil
		})
		if err != nil {
			return err
		}
		out = &file{node{d.f, in.ino, in.generation()}}
		return nil
	})
	return out, err
}

// Mkdir makes a directory.
func (d *dir) Mkdir(name string, perm fs.Mode, owner fs.Owner) (fs.Dir, error) {
	var out fs.Dir
	err := d.op(true, func(din *inode) error {
		in, err := d.f.create(din, name, fs.ModeDir|perm&fs.ModePerm, owner, func(in *inode) error {
			in.setLinks(2)
			return d.f.initDir(in, din.ino)
		})
		if err != nil {
			return err
		}
		din.setLinks(din.links() + 1)
		out = &dir{node{d.f, in.ino, in.generation()}}
		return nil
	})
	return out, err
}

// Symlink makes a symbolic link: fast (in the inode) when the target is
// shorter than 60 bytes, else in a block.
func (d *dir) Symlink(name, target string, owner fs.Owner) (fs.Symlink, error) {
	var out fs.Symlink
	err := d.op(true, func(din *inode) error {
		f := d.f
		if len(target) >= f.g.bs || len(target) >= 4096 {
			return syscall.ENAMETOOLONG
		}
		if len(target) == 0 {
			return syscall.ENOENT
		}
		in, err := f.create(din, name, fs.ModeSymlink|0o777, owner, func(in *inode) error {
			in.setLinks(1)
			if len(target) < fastLinkSize {
				copy(in.b[iBlock:], target)
				in.setSize(int64(len(target)))
				return nil
			}
			goal := f.desc((in.ino-1)/f.g.ipg).inodeTable() + f.g.itableBlocks
			phys, _, err := f.bmap(in, 0, true, goal)
			if err != nil {
				return err
			}
			copy(f.bnew(phys).data, target)
			in.setSize(int64(len(target)))
			return nil
		})
		if err != nil {
			return err
		}
		out = &symlink{node{f, in.ino, in.generation()}}
		return nil
	})
	return out, err
}

// Mknod makes a device node, FIFO or socket.
func (d *dir) Mknod(name string, mode fs.Mode, rdev uint64, owner fs.Owner) (fs.Node, error) {
	switch mode.Type() {
	case fs.ModeChar, fs.ModeBlock, fs.ModeFIFO, fs.ModeSocket:
	default:
		return nil, syscall.EINVAL
	}
	var out fs.Node
	err := d.op(true, func(din *inode) error {
		in, err := d.f.create(din, name, mode.Type()|mode&fs.ModePerm, owner, func(in *inode) error {
			in.setLinks(1)
			if t := mode.Type(); t == fs.ModeChar || t == fs.ModeBlock {
				in.setRdev(rdev)
			}
			return nil
		})
		if err != nil {
			return err
		}
		out = &special{node{d.f, in.ino, in.generation()}}
		return nil
	})
	return out, err
}

// nodeOf returns the ext2 node behind n, or EXDEV.
func (f *FS) nodeOf(n fs.Node) (node, error) {
	var nd node
	switch v := n.(type) {
	case *file:
		nd = v.node
	case *dir:
		nd = v.node
	case *symlink:
		nd = v.node
	case *special:
		nd = v.node
	default:
		return node{}, syscall.EXDEV
	}
	if nd.f != f {
		return node{}, syscall.EXDEV
	}
	return nd, nil
}

// Link makes name another link to n.
func (d *dir) Link(name string, n fs.Node) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	nd, err := d.f.nodeOf(n)
	if err != nil {
		return err
	}
	return d.op(true, func(din *inode) error {
		f := d.f
		in, err := nd.get()
		if err != nil {
			return err
		}
		if in.isDir() {
			return syscall.EPERM
		}
		if in.links() >= linkMax {
			return syscall.EMLINK
		}
		if _, ok, err := f.dirLookup(din, name); err != nil {
			return err
		} else if ok {
			return syscall.EEXIST
		}
		if err := f.dirAdd(din, name, in.ino, modeToFT(in.mode())); err != nil {
			return err
		}
		in.setLinks(in.links() + 1)
		in.setCtime(f.now())
		return nil
	})
}

// dropLink removes one link of in, freeing it with its last.
func (f *FS) dropLink(in *inode) error {
	if in.isDir() {
		in.setLinks(0)
		return f.releaseInode(in)
	}
	if in.links() <= 1 {
		return f.releaseInode(in)
	}
	in.setLinks(in.links() - 1)
	in.setCtime(f.now())
	return nil
}

// Unlink removes a non-directory entry.
func (d *dir) Unlink(name string) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	return d.op(true, func(din *inode) error {
		f := d.f
		e, ok, err := f.dirLookup(din, name)
		if err != nil {
			return err
		}
		if !ok {
			return syscall.ENOENT
		}
		in, err := f.getInode(e.ino)
		if err != nil {
			return err
		}
		if in.isDir() {
			return syscall.EISDIR
		}
		if err := f.dirRemove(din, name); err != nil {
			return err
		}
		return f.dropLink(in)
	})
}

// isEmpty reports whether directory in has no entries but "." and "..".
func (f *FS) isEmpty(in *inode) (bool, error) {
	x, err := f.index(in)
	if err != nil {
		return false, err
	}
	return len(x.names) == 0, nil
}

// Rmdir removes an empty directory.
func (d *dir) Rmdir(name string) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	return d.op(true, func(din *inode) error {
		f := d.f
		e, ok, err := f.dirLookup(din, name)
		if err != nil {
			return err
		}
		if !ok {
			return syscall.ENOENT
		}
		in, err := f.getInode(e.ino)
		if err != nil {
			return err
		}
		if !in.isDir() {
			return syscall.ENOTDIR
		}
		if empty, err := f.isEmpty(in); err != nil {
			return err
		} else if !empty {
			return syscall.ENOTEMPTY
		}
		if err := f.dirRemove(din, name); err != nil {
			return err
		}
		if din.links() > 2 {
			din.setLinks(din.links() - 1)
		}
		return f.dropLink(in)
	})
}

// isAncestor reports whether directory anc is dir d or one of its
// ancestors.
func (f *FS) isAncestor(anc uint32, d *inode) (bool, error) {
	cur := d
	for i := 0; i < 100000; i++ {
		if cur.ino == anc {
			return true, nil
		}
		if cur.ino == rootIno {
			return false, nil
		}
		p, err := f.dotDot(cur)
		if err != nil {
			return false, err
		}
		if cur, err = f.getInode(p); err != nil {
			return false, err
		}
	}
	return false, corrupt("directory tree loops above inode %d", d.ino)
}

// Rename moves oldName to newName in newDir, as rename(2).
func (d *dir) Rename(oldName string, newDir fs.Dir, newName string) error {
	if err := fs.ValidName(oldName); err != nil {
		return err
	}
	if err := fs.ValidName(newName); err != nil {
		return err
	}
	nd, ok := newDir.(*dir)
	if !ok || nd.f != d.f {
		return syscall.EXDEV
	}
	return d.op(true, func(odir *inode) error {
		f := d.f
		ndir, err := nd.get()
		if err != nil {
			return err
		}
		se, ok, err := f.dirLookup(odir, oldName)
		if err != nil {
			return err
		}
		if !ok {
			return syscall.ENOENT
		}
		src, err := f.getInode(se.ino)
		if err != nil {
			return err
		}
		if odir.ino == ndir.ino && oldName == newName {
			return nil
		}
		srcDir := src.isDir()
		if srcDir {
			if anc, err := f.isAncestor(src.ino, ndir); err != nil {
				return err
			} else if anc {
				return syscall.EINVAL
			}
		}
		te, exists, err := f.dirLookup(ndir, newName)
		if err != nil {
			return err
		}
		var target *inode
		if exists {
			if te.ino == se.ino {
				return nil
			}
			if target, err = f.getInode(te.ino); err != nil {
				return err
			}
			// Linux checks this before the types: a target that is the
			// old parent or one of its ancestors is never empty.
			if target.isDir() {
				if anc, err := f.isAncestor(target.ino, odir); err != nil {
					return err
				} else if anc {
					return syscall.ENOTEMPTY
				}
			}
			if srcDir && !target.isDir() {
				return syscall.ENOTDIR
			}
			if !srcDir && target.isDir() {
				return syscall.EISDIR
			}
			if target.isDir() {
				if empty, err := f.isEmpty(target); err != nil {
					return err
				} else if !empty {
					return syscall.ENOTEMPTY
				}
			}
		} else if srcDir && odir.ino != ndir.ino && ndir.links() >= linkMax {
			return syscall.EMLINK
		}
		ft := modeToFT(src.mode())
		if exists {
			if err := f.dirSet(ndir, newName, src.ino, ft); err != nil {
				return err
			}
		} else if err := f.dirAdd(ndir, newName, src.ino, ft); err != nil {
			return err
		}
		if err := f.dirRemove(odir, oldName); err != nil {
			return err
		}
		if srcDir && odir.ino != ndir.ino {
			if err := f.setDotDot(src, ndir.ino); err != nil {
				return err
			}
			odir.setLinks(odir.links() - 1)
			ndir.setLinks(ndir.links() + 1)
		}
		src.setCtime(f.now())
		if target != nil {
			if target.isDir() {
				ndir.setLinks(ndir.links() - 1)
			}
			if err := f.dropLink(target); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadDir returns up to n entries from cookie, a byte offset in the
// directory (resuming at the first entry at or after it, so a cookie stays
// good when entries before it are removed).
func (d *dir) ReadDir(cookie uint64, n int) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	err := d.op(false, func(in *inode) error {
		f := d.f
		if err := in.checkMapped(); err != nil {
			return err
		}
		nb, err := f.dirBlocks(in)
		if err != nil {
			return err
		}
		bs := uint64(f.g.bs)
		for l := uint32(cookie / bs); l < nb; l++ {
			cb, err := f.dirBlock(in, l)
			if err != nil {
				return err
			}
			var ierr error
			err = f.scanBlock(cb.data, func(off, rl int, ino uint32, name []byte, typ uint8) bool {
				pos := uint64(l)*bs + uint64(off)
				if pos < cookie || ino == 0 {
					return true
				}
				if s := string(name); s == "." || s == ".." {
					return true
				}
				t := ftToMode(typ)
				if t == 0 {
					ci, err := f.getInode(ino)
					if err != nil {
						ierr = err
						return false
					}
					t = ci.mode().Type()
				}
				out = append(out, fs.DirEntry{Name: string(name), Ino: uint64(ino), Type: t, Next: pos + uint64(rl)})
				return n <= 0 || len(out) < n
			})
			if err == nil {
				err = ierr
			}
			if err != nil {
				return err
			}
			if n > 0 && len(out) >= n {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ext2: readdir: %w", err)
	}
	return out, nil
}
