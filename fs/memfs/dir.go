package memfs

import (
	"sort"
	"strings"
	"syscall"

	"github.com/goskit/goskit/fs"
)

// dir is a directory.
type dir inode

func (d *dir) in() *inode { return (*inode)(d) }

// Stat returns the directory's attributes: Nlink is 2 plus its
// subdirectories, Size counts 20 bytes per entry as tmpfs does.
func (d *dir) Stat() (fs.Attr, error)               { return d.in().stat(), nil }
func (d *dir) SetAttr(a fs.SetAttr) error           { return d.in().setAttr(a) }
func (d *dir) GetXattr(name string) ([]byte, error) { return d.in().getXattr(name) }
func (d *dir) ListXattr() ([]string, error)         { return d.in().listXattr() }
func (d *dir) RemoveXattr(name string) error        { return d.in().removeXattr(name) }
func (d *dir) SetXattr(n string, v []byte, fl int) error {
	return d.in().setXattr(n, v, fl)
}

// insert adds an entry; the tree lock is held exclusively.
func (d *dir) insert(name string, n *inode) {
	d.serial++
	e := &dirent{name: name, node: n, cookie: d.serial}
	d.entries[name] = e
	d.order = append(d.order, e)
	d.mu.Lock()
	d.size = direntSize * int64(len(d.entries)+2)
	d.mu.Unlock()
}

// remove drops an entry; the tree lock is held exclusively. The order
// slice is compacted when half of it is dead, which keeps removal O(1)
// amortized and cookies valid (they are values, not positions).
func (d *dir) remove(e *dirent) {
	delete(d.entries, e.name)
	e.gone = true
	e.node = nil // the node's memory must not wait for compaction
	d.dead++
	if d.dead > 32 && d.dead*2 > len(d.order) {
		live := d.order[:0]
		for _, x := range d.order {
			if !x.gone {
				live = append(live, x)
			}
		}
		clear(d.order[len(live):])
		d.order = live
		d.dead = 0
	}
	d.mu.Lock()
	d.size = direntSize * int64(len(d.entries)+2)
	d.mu.Unlock()
}

// Lookup returns the named entry; a symlink is returned, not followed.
func (d *dir) Lookup(name string) (fs.Node, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	d.fs.tree.RLock()
	defer d.fs.tree.RUnlock()
	e, ok := d.entries[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return e.node.node(), nil
}

// prepare checks a new name with the tree lock held exclusively.
func (d *dir) prepare(name string) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	if d.removed {
		return syscall.ENOENT
	}
	if _, ok := d.entries[name]; ok {
		return syscall.EEXIST
	}
	return nil
}

// add makes a new inode and enters it under name.
func (d *dir) add(name string, mode fs.Mode, owner fs.Owner, init func(*inode)) (*inode, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	if err := d.prepare(name); err != nil {
		return nil, err
	}
	now := d.fs.now() // one reading: the new node's times and the directory's agree
	n, err := d.fs.newInodeAt(mode, owner, now)
	if err != nil {
		return nil, err
	}
	if init != nil {
		init(n)
	}
	d.insert(name, n)
	d.in().touchAt(now)
	return n, nil
}

// Create makes an empty regular file.
func (d *dir) Create(name string, perm fs.Mode, owner fs.Owner) (fs.File, error) {
	n, err := d.add(name, fs.ModeRegular|perm&fs.ModePerm, owner, nil)
	if err != nil {
		return nil, err
	}
	return (*file)(n), nil
}

// Mkdir makes an empty directory.
func (d *dir) Mkdir(name string, perm fs.Mode, owner fs.Owner) (fs.Dir, error) {
	n, err := d.add(name, fs.ModeDir|perm&fs.ModePerm, owner, func(n *inode) {
		n.nlink = 2
		n.entries = map[string]*dirent{}
		n.parent = d.in()
		n.size = 2 * direntSize
		d.mu.Lock()
		d.nlink++
		d.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	return (*dir)(n), nil
}

// Symlink makes a symbolic link. The target is stored as given; it may
// not be empty (ENOENT, as symlink(2)), contain NUL (EINVAL) or exceed
// 4095 bytes (ENAMETOOLONG).
func (d *dir) Symlink(name, target string, owner fs.Owner) (fs.Symlink, error) {
	switch {
	case target == "":
		if err := fs.ValidName(name); err != nil {
			return nil, err
		}
		return nil, syscall.ENOENT
	case strings.IndexByte(target, 0) >= 0:
		return nil, syscall.EINVAL
	case len(target) > maxSymlinkLen:
		return nil, syscall.ENAMETOOLONG
	}
	n, err := d.add(name, fs.ModeSymlink|0o777, owner, func(n *inode) { n.target = target })
	if err != nil {
		return nil, err
	}
	return (*symlink)(n), nil
}

// Mknod makes a device node, FIFO or socket; a regular mode makes an
// empty file, as mknod(2). A directory mode is EPERM, anything else EINVAL.
func (d *dir) Mknod(name string, mode fs.Mode, rdev uint64, owner fs.Owner) (fs.Node, error) {
	switch mode.Type() {
	case fs.ModeChar, fs.ModeBlock, fs.ModeFIFO, fs.ModeSocket:
	case fs.ModeRegular, 0:
		return d.Create(name, mode, owner)
	case fs.ModeDir:
		if err := fs.ValidName(name); err != nil {
			return nil, err
		}
		return nil, syscall.EPERM
	default:
		return nil, syscall.EINVAL
	}
	n, err := d.add(name, mode&(fs.ModeType|fs.ModePerm), owner, func(n *inode) {
		if mode.Type() == fs.ModeChar || mode.Type() == fs.ModeBlock {
			n.rdev = rdev
		}
	})
	if err != nil {
		return nil, err
	}
	return n.node(), nil
}

// Link enters node under name. Directories cannot be linked (EPERM), nor
// can a node whose last link is gone (ENOENT, as linkat(2)).
func (d *dir) Link(name string, node fs.Node) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	n, err := d.fs.ourInode(node)
	if err != nil {
		return err
	}
	if n.typ == fs.ModeDir {
		return syscall.EPERM
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	if err := d.prepare(name); err != nil {
		return err
	}
	n.mu.Lock()
	dead := n.nlink == 0
	n.mu.Unlock()
	if dead {
		return syscall.ENOENT
	}
	n.addLinks(1)
	d.insert(name, n)
	d.in().touch()
	return nil
}

// entry finds name for a removal, with the tree lock held exclusively.
func (d *dir) entry(name string) (*dirent, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	e, ok := d.entries[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return e, nil
}

// Unlink removes a non-directory entry.
func (d *dir) Unlink(name string) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	e, err := d.entry(name)
	if err != nil {
		return err
	}
	if e.node.typ == fs.ModeDir {
		return syscall.EISDIR
	}
	n := e.node
	d.remove(e)
	n.addLinks(-1)
	d.in().touch()
	return nil
}

// Rmdir removes an empty directory.
func (d *dir) Rmdir(name string) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	e, err := d.entry(name)
	if err != nil {
		return err
	}
	if e.node.typ != fs.ModeDir {
		return syscall.ENOTDIR
	}
	if len(e.node.entries) != 0 {
		return syscall.ENOTEMPTY
	}
	n := e.node
	d.remove(e)
	d.unlinkDir(n)
	d.in().touch()
	return nil
}

// unlinkDir marks a removed subdirectory, tree lock held: it loses both
// its links (its name and its "."), and the parent loses the child's "..".
func (d *dir) unlinkDir(c *inode) {
	c.removed = true
	c.entries = map[string]*dirent{}
	c.order = nil
	c.addLinks(-2)
	d.mu.Lock()
	d.nlink--
	d.mu.Unlock()
}

// Rename moves oldName to newName in newDir with rename(2)'s rules:
// replacing a file or an empty directory, ENOTEMPTY for a non-empty one,
// EISDIR and ENOTDIR for a type mismatch, EINVAL for moving a directory
// below itself, ENOTEMPTY for a target that is an ancestor of the source
// (whatever the source's type, as Linux), and nothing at all when both names are links to the same
// node.
func (d *dir) Rename(oldName string, newDir fs.Dir, newName string) error {
	if err := fs.ValidName(oldName); err != nil {
		return err
	}
	if err := fs.ValidName(newName); err != nil {
		return err
	}
	ndIn, err := d.fs.ourInode(newDir)
	if err != nil {
		return err
	}
	nd := (*dir)(ndIn)
	if ndIn.typ != fs.ModeDir {
		return syscall.ENOTDIR
	}
	d.fs.tree.Lock()
	defer d.fs.tree.Unlock()
	src, err := d.entry(oldName)
	if err != nil {
		return err
	}
	if nd.removed {
		return syscall.ENOENT
	}
	dst := nd.entries[newName]
	if dst != nil && dst.node == src.node {
		return nil // the same node (or the same entry): rename(2) does nothing
	}
	moving := src.node
	if moving.typ == fs.ModeDir {
		// newDir may not be the moved directory or below it.
		for p := ndIn; ; p = p.parent {
			if p == moving {
				return syscall.EINVAL
			}
			if p == p.parent {
				break
			}
		}
	}
	if dst != nil && dst.node.typ == fs.ModeDir {
		// Linux checks this before the types: a target that is the old
		// parent or one of its ancestors is never empty.
		for p := d.in(); ; p = p.parent {
			if p == dst.node {
				return syscall.ENOTEMPTY
			}
			if p == p.parent {
				break
			}
		}
	}
	if dst != nil {
		switch {
		case moving.typ == fs.ModeDir && dst.node.typ != fs.ModeDir:
			return syscall.ENOTDIR
		case moving.typ != fs.ModeDir && dst.node.typ == fs.ModeDir:
			return syscall.EISDIR
		case dst.node.typ == fs.ModeDir && len(dst.node.entries) != 0:
			return syscall.ENOTEMPTY
		}
	}
	if dst != nil {
		old := dst.node
		nd.remove(dst)
		if old.typ == fs.ModeDir {
			nd.unlinkDir(old)
		} else {
			old.addLinks(-1)
		}
	}
	d.remove(src)
	nd.insert(newName, moving)
	if moving.typ == fs.ModeDir && nd != d {
		moving.parent = ndIn
		d.mu.Lock()
		d.nlink--
		d.mu.Unlock()
		nd.mu.Lock()
		nd.nlink++
		nd.mu.Unlock()
	}
	moving.changed()
	d.in().touch()
	if nd != d {
		nd.in().touch()
	}
	return nil
}

// ReadDir returns entries in creation order, continuing after cookie. A
// cookie is the serial number of an entry in its directory, so paging is
// unaffected by other entries being added or removed: each entry present
// throughout is returned exactly once.
func (d *dir) ReadDir(cookie uint64, n int) ([]fs.DirEntry, error) {
	d.fs.tree.RLock()
	defer d.fs.tree.RUnlock()
	i := sort.Search(len(d.order), func(i int) bool { return d.order[i].cookie > cookie })
	var out []fs.DirEntry
	for ; i < len(d.order) && (n <= 0 || len(out) < n); i++ {
		e := d.order[i]
		if e.gone {
			continue
		}
		out = append(out, fs.DirEntry{Name: e.name, Ino: e.node.ino, Type: e.node.typ, Next: e.cookie})
	}
	return out, nil
}
