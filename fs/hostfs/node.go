package hostfs

import (
	"encoding/binary"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goskit/goskit/fs"
	"golang.org/x/sys/unix"
)

// node is what every kind of node shares: its file system and its O_PATH
// descriptor (for a file made by Create, its read/write descriptor).
type node struct {
	fs *FS
	h  *handle

	// Guarded by fs.mu: references handed out and not released, and
	// whether the last was released (see Release).
	refs     int
	released bool
}

// dir is a directory. rd is a lazily opened O_RDONLY descriptor for
// getdents64 and syncfs; mu keeps its seek and read together.
type dir struct {
	node
	mu sync.Mutex
	rd *handle
}

// file is a regular file. io is its read/write (or read-only, when the
// host refuses writing) descriptor, opened on first use.
type file struct {
	node
	mu       sync.Mutex
	io       *handle
	writable bool
}

type symlink struct{ node }

// special is a device, FIFO or socket: only a Node. It is never opened for
// I/O, so opening it has no side effect on the host.
type special struct{ node }

var (
	_ fs.Dir       = (*dir)(nil)
	_ fs.Mknoder   = (*dir)(nil)
	_ fs.Xattrer   = (*dir)(nil)
	_ fs.File      = (*file)(nil)
	_ fs.Allocater = (*file)(nil)
	_ fs.Xattrer   = (*file)(nil)
	_ fs.Symlink   = (*symlink)(nil)
	_ fs.Xattrer   = (*symlink)(nil)
	_ fs.Node      = (*special)(nil)
	_ fs.Xattrer   = (*special)(nil)
)

// Release gives back the caller's reference to the node. Each node
// returned by Lookup, Create, Mkdir, Symlink or Mknod counts one reference
// (a lookup of an inode whose node is live returns that node again and
// counts another). When every counted reference has been released, the
// node's descriptors are closed at once, and the node must not be used
// again (it gives EBADF); a later lookup makes a fresh node. References
// never released are left to the garbage collector, which closes the
// descriptors when the node becomes unreachable. The root is released only
// by the file system's Close.
func (n *node) Release() {
	if n.drop() {
		n.fs.release(n.h)
	}
}

// drop counts one reference given back, and reports whether it was the
// last, so the caller closes the node's descriptors.
func (n *node) drop() bool {
	f := n.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == &f.root.node || n.released {
		return false
	}
	n.refs--
	if n.refs > 0 {
		return false
	}
	n.released = true
	return true
}

// Release gives back a reference to the directory; see node.Release.
func (d *dir) Release() {
	if !d.drop() {
		return
	}
	d.mu.Lock()
	rd := d.rd
	d.mu.Unlock()
	if rd != nil {
		d.fs.release(rd)
	}
	d.fs.release(d.h)
}

// Release gives back a reference to the file; see node.Release.
func (fl *file) Release() {
	if !fl.drop() {
		return
	}
	fl.mu.Lock()
	io := fl.io
	fl.mu.Unlock()
	if io != nil {
		fl.fs.release(io)
	}
	fl.fs.release(fl.h)
}

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &iofs.PathError{Op: "hostfs: " + op, Path: name, Err: err}
}

func opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return fmt.Errorf("hostfs: %s: %w", op, err)
}

// newNode wraps the descriptor fd (which it takes over) in the node its
// type calls for. rw says fd is a read/write descriptor from Create.
func (f *FS) newNode(fd int, rw bool) (fs.Node, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	h, err := f.track(fd)
	if err != nil {
		return nil, err
	}
	n := node{fs: f, h: h, refs: 1}
	key := inodeKey{st.Dev, st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		d := &dir{node: n}
		keep(f, key, d, h)
		return d, nil
	case unix.S_IFREG:
		fl := &file{node: n}
		if rw {
			fl.io, fl.writable = h, true
		}
		keep(f, key, fl, h)
		return fl, nil
	case unix.S_IFLNK:
		s := &symlink{node: n}
		keep(f, key, s, h)
		return s, nil
	default:
		s := &special{node: n}
		keep(f, key, s, h)
		return s, nil
	}
}

func attrOf(st *unix.Stat_t) fs.Attr {
	return fs.Attr{
		Ino:     st.Ino,
		Mode:    fs.Mode(st.Mode),
		Nlink:   uint32(st.Nlink),
		Owner:   fs.Owner{UID: st.Uid, GID: st.Gid},
		Size:    st.Size,
		Blocks:  st.Blocks,
		BlkSize: int32(st.Blksize),
		Rdev:    st.Rdev,
		Atime:   time.Unix(st.Atim.Sec, st.Atim.Nsec),
		Mtime:   time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		Ctime:   time.Unix(st.Ctim.Sec, st.Ctim.Nsec),
	}
}

func fstat(fd int) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// Stat returns the node's attributes as the host reports them.
func (n *node) Stat() (fs.Attr, error) {
	var st unix.Stat_t
	err := n.h.do(func(fd int) (err error) {
		st, err = fstat(fd)
		return err
	})
	if err != nil {
		return fs.Attr{}, opErr("stat", err)
	}
	return attrOf(&st), nil
}

// chmod sets the permission bits of the node behind fd: fchmodat2 with
// AT_EMPTY_PATH (Linux 6.6), or chmod through our own /proc/self/fd entry.
func chmod(fd int, perm fs.Mode) error {
	m := uint32(perm & fs.ModePerm)
	err := unix.Fchmodat(fd, "", m, unix.AT_EMPTY_PATH)
	if err == unix.ENOSYS || err == unix.EOPNOTSUPP || err == unix.EINVAL {
		// Older kernels; a symlink gives EOPNOTSUPP again here, as lchmod.
		if st, serr := fstat(fd); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return unix.EOPNOTSUPP
		}
		err = unix.Chmod(procPath(fd), m)
	}
	return err
}

func chown(fd int, uid, gid int) error {
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

// settle gives a node just made the owner and exact permission bits asked
// for (the process umask and the creating call's limits stripped them).
// Nothing is changed that is already right. An owner the process may not
// give away (EPERM: it is not root and lacks CAP_CHOWN) is left as the
// host made it, the process's own: a hosted kernel run as an ordinary
// user can still create files, as the user's own programs do; SetAttr of
// an owner still reports EPERM, as chown(2) does.
func settle(fd int, perm fs.Mode, owner fs.Owner, isLink bool) error {
	st, err := fstat(fd)
	if err != nil {
		return err
	}
	if st.Uid != owner.UID || st.Gid != owner.GID {
		if err := chown(fd, int(owner.UID), int(owner.GID)); err != nil && err != unix.EPERM {
			return err
		}
	}
	// chown may have cleared set-uid and set-gid: set the mode after it.
	if !isLink {
		if err := chmod(fd, perm); err != nil {
			return err
		}
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// setAttr changes what a.Valid names, in the order that keeps the result
// as asked: owner (which may clear set-id bits), mode, size (which sets
// mtime), times. truncate is the node kind's size change.
func (n *node) setAttr(a fs.SetAttr, truncate func(int64) error) error {
	if a.Valid == 0 {
		return nil
	}
	if n.fs.cfg.readOnly {
		return opErr("setattr", syscall.EROFS)
	}
	err := n.h.do(func(fd int) error {
		if a.Valid&(fs.SetUID|fs.SetGID) != 0 {
			uid, gid := -1, -1
			if a.Valid&fs.SetUID != 0 {
				uid = int(a.Owner.UID)
			}
			if a.Valid&fs.SetGID != 0 {
				gid = int(a.Owner.GID)
			}
			if err := chown(fd, uid, gid); err != nil {
				return err
			}
		}
		if a.Valid&fs.SetMode != 0 {
			if err := chmod(fd, a.Mode); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && a.Valid&fs.SetSize != 0 {
		err = truncate(a.Size)
	}
	if err == nil && a.Valid&(fs.SetAtime|fs.SetMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if a.Valid&fs.SetAtime != 0 {
			ts[0] = timespec(a.Atime)
		}
		if a.Valid&fs.SetMtime != 0 {
			ts[1] = timespec(a.Mtime)
		}
		err = n.h.do(func(fd int) error {
			return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
		})
	}
	return opErr("setattr", err)
}

// SetAttr changes the directory's attributes; a size gives EISDIR.
func (d *dir) SetAttr(a fs.SetAttr) error {
	return d.setAttr(a, func(int64) error { return syscall.EISDIR })
}

// SetAttr changes the symlink's attributes; a size gives EINVAL, a mode
// the host's EOPNOTSUPP (Linux symlinks have no mode of their own).
func (s *symlink) SetAttr(a fs.SetAttr) error {
	return s.setAttr(a, func(int64) error { return syscall.EINVAL })
}

// SetAttr changes the special node's attributes; a size gives EINVAL.
func (s *special) SetAttr(a fs.SetAttr) error {
	return s.setAttr(a, func(int64) error { return syscall.EINVAL })
}

// SetAttr changes the file's attributes.
func (fl *file) SetAttr(a fs.SetAttr) error {
	return fl.setAttr(a, fl.truncate)
}

// Readlink returns the raw target; nothing here ever follows it.
func (s *symlink) Readlink() (string, error) {
	var target string
	err := s.h.do(func(fd int) error {
		for size := 256; size <= 1<<20; size *= 4 {
			buf := make([]byte, size)
			n, err := unix.Readlinkat(fd, "", buf)
			if err != nil {
				return err
			}
			if n < size {
				target = string(buf[:n])
				return nil
			}
		}
		return syscall.ENAMETOOLONG
	})
	return target, opErr("readlink", err)
}

// ioHandle returns the file's I/O descriptor, opening it through
// /proc/self/fd from the O_PATH descriptor on first use. A descriptor that
// the host will not open for writing (mode, read-only mount, a running
// executable) is opened read-only for reading; writing then gives the
// host's error.
func (fl *file) ioHandle(write bool) (*handle, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.io != nil && (fl.writable || !write) {
		return fl.io, nil
	}
	if write && fl.fs.cfg.readOnly {
		return nil, syscall.EROFS
	}
	var fd int
	writable := false
	err := fl.h.do(func(pfd int) error {
		open := func(flags int) (int, error) {
			for j := 1; ; j++ {
				fd, err := unix.Open(procPath(pfd), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
				if (err == unix.EMFILE || err == unix.ENFILE) && j <= 4 {
					relieve(j)
					continue
				}
				return fd, err
			}
		}
		var err error
		if !fl.fs.cfg.readOnly {
			fd, err = open(unix.O_RDWR)
			writable = err == nil
		}
		if fl.fs.cfg.readOnly || (err != nil && !write && err != unix.ENOENT) {
			fd, err = open(unix.O_RDONLY)
		}
		if err != nil {
			if err == unix.ENOENT {
				err = fmt.Errorf("reopening through /proc/self/fd (is /proc mounted?): %w", err)
			}
			return err
		}
		// The magic link names exactly our inode; check it anyway.
		a, err1 := fstat(pfd)
		b, err2 := fstat(fd)
		if err1 != nil || err2 != nil || a.Dev != b.Dev || a.Ino != b.Ino {
			unix.Close(fd)
			return syscall.EIO
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h, err := fl.fs.track(fd)
	if err != nil {
		return nil, err
	}
	own(fl.fs, fl, h)
	if old := fl.io; old != nil && old != fl.h {
		// A read-only descriptor replaced by a writable one. Calls in
		// progress on it finish first (release waits for them; they do
		// not need fl.mu).
		fl.fs.release(old)
	}
	fl.io, fl.writable = h, writable
	return h, nil
}

// ReadAt reads with pread(2).
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, opErr("read", syscall.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	h, err := fl.ioHandle(false)
	if err != nil {
		return 0, opErr("read", err)
	}
	n := 0
	err = h.do(func(fd int) error {
		for n < len(p) {
			k, err := unix.Pread(fd, p[n:], off+int64(n))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if k == 0 {
				return io.EOF
			}
			n += k
		}
		return nil
	})
	return n, opErr("read", err)
}

// WriteAt writes with pwrite(2).
func (fl *file) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, opErr("write", syscall.EINVAL)
	}
	h, err := fl.ioHandle(true)
	if err != nil {
		return 0, opErr("write", err)
	}
	n := 0
	err = h.do(func(fd int) error {
		for n < len(p) {
			k, err := unix.Pwrite(fd, p[n:], off+int64(n))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if k == 0 {
				return io.ErrShortWrite
			}
			n += k
		}
		return nil
	})
	return n, opErr("write", err)
}

func (fl *file) truncate(size int64) error {
	if size < 0 {
		return syscall.EINVAL
	}
	h, err := fl.ioHandle(true)
	if err != nil {
		return err
	}
	return h.do(func(fd int) error { return unix.Ftruncate(fd, size) })
}

// Truncate sets the size with ftruncate(2).
func (fl *file) Truncate(size int64) error { return opErr("truncate", fl.truncate(size)) }

// Sync is fsync(2).
func (fl *file) Sync() error {
	h, err := fl.ioHandle(false)
	if err != nil {
		return opErr("sync", err)
	}
	return opErr("sync", h.do(unix.Fsync))
}

// Allocate is fallocate(2): mode 0, or a hole punched keeping the size.
func (fl *file) Allocate(off, length int64, punchHole bool) error {
	if off < 0 || length <= 0 {
		return opErr("allocate", syscall.EINVAL)
	}
	h, err := fl.ioHandle(true)
	if err != nil {
		return opErr("allocate", err)
	}
	var mode uint32
	if punchHole {
		mode = unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE
	}
	return opErr("allocate", h.do(func(fd int) error { return unix.Fallocate(fd, mode, off, length) }))
}

// withReadFD runs op on the directory's O_RDONLY descriptor, under the
// directory's lock.
func (d *dir) withReadFD(op func(fd int) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rd == nil {
		var fd int
		err := d.h.do(func(dfd int) (err error) {
			fd, err = d.fs.openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
			return err
		})
		if err != nil {
			return err
		}
		h, err := d.fs.track(fd)
		if err != nil {
			return err
		}
		if d != d.fs.root {
			own(d.fs, d, h)
		}
		d.rd = h
	}
	return d.rd.do(op)
}

// at runs op with the directory's descriptor after checking name, and
// wraps its error with the operation and name.
func (d *dir) at(op, name string, change bool, f func(dfd int) error) error {
	if err := fs.ValidName(name); err != nil {
		return pathErr(op, name, err)
	}
	if change && d.fs.cfg.readOnly {
		return pathErr(op, name, syscall.EROFS)
	}
	return pathErr(op, name, d.h.do(func(dfd int) error {
		if err := d.beneath(dfd); err != nil {
			return err
		}
		return f(dfd)
	}))
}

// procReadlink returns the kernel's current path name for our fd.
func procReadlink(fd int) (string, error) {
	buf := make([]byte, unix.PathMax+64)
	n, err := unix.Readlink(procPath(fd), buf)
	if err != nil {
		return "", err
	}
	if n == len(buf) {
		return "", syscall.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

// beneath checks, under VerifyBeneath, that the directory behind dfd is
// still the root or below it, by the kernel's own name for each
// (/proc/self/fd/N). A directory moved out gives ESTALE. This narrows, and
// cannot close, the window in which a host process moves it: there is no
// atomic "beneath the root" for a call made relative to a held directory.
func (d *dir) beneath(dfd int) error {
	if !d.fs.cfg.verify || d == d.fs.root {
		return nil
	}
	p, err := procReadlink(dfd)
	if err != nil {
		return err
	}
	var rp string
	err = d.fs.root.h.do(func(rfd int) (err error) {
		rp, err = procReadlink(rfd)
		return err
	})
	if err != nil {
		return err
	}
	if rp != "/" {
		rp += "/"
	}
	if !strings.HasPrefix(p, rp) {
		return syscall.ESTALE
	}
	return nil
}

// Lookup opens name without following it (RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS, O_PATH | O_NOFOLLOW): a symlink comes back as a
// Symlink node.
func (d *dir) Lookup(name string) (fs.Node, error) {
	var n fs.Node
	err := d.at("lookup", name, false, func(dfd int) error {
		// The inode the name holds now: if a live node has it, that is
		// the answer. (A single name, not followed: this cannot leave
		// the directory either.)
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT); err != nil {
			return err
		}
		if n = d.fs.cached(inodeKey{st.Dev, st.Ino}); n != nil {
			return nil
		}
		fd, err := d.fs.openat(dfd, name, unix.O_PATH, 0)
		if err != nil {
			return err
		}
		n, err = d.fs.newNode(fd, false)
		return err
	})
	return n, err
}

// Create makes a regular file with O_CREAT|O_EXCL|O_NOFOLLOW.
func (d *dir) Create(name string, perm fs.Mode, owner fs.Owner) (fs.File, error) {
	var n fs.Node
	err := d.at("create", name, true, func(dfd int) error {
		fd, err := d.fs.openat(dfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR, uint32(perm&0o777))
		if err != nil {
			return err
		}
		if err := settle(fd, perm, owner, false); err != nil {
			// Remove what we made, if the name is still ours.
			st, serr := fstat(fd)
			var now unix.Stat_t
			if serr == nil && unix.Fstatat(dfd, name, &now, unix.AT_SYMLINK_NOFOLLOW) == nil &&
				now.Dev == st.Dev && now.Ino == st.Ino {
				unix.Unlinkat(dfd, name, 0)
			}
			unix.Close(fd)
			return err
		}
		n, err = d.fs.newNode(fd, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n.(*file), nil
}

// made opens the node just made as name and settles its owner and mode.
func (d *dir) made(dfd int, name string, flags int, perm fs.Mode, owner fs.Owner, isLink bool) (fs.Node, error) {
	fd, err := d.fs.openat(dfd, name, unix.O_PATH|flags, 0)
	if err != nil {
		return nil, err
	}
	if err := settle(fd, perm, owner, isLink); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return d.fs.newNode(fd, false)
}

// Mkdir makes a directory with mkdirat(2).
func (d *dir) Mkdir(name string, perm fs.Mode, owner fs.Owner) (fs.Dir, error) {
	var n fs.Node
	err := d.at("mkdir", name, true, func(dfd int) error {
		if err := unix.Mkdirat(dfd, name, uint32(perm&0o777)); err != nil {
			return err
		}
		var err error
		n, err = d.made(dfd, name, unix.O_DIRECTORY, perm, owner, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	nd, ok := n.(*dir)
	if !ok {
		return nil, pathErr("mkdir", name, syscall.EAGAIN) // replaced meanwhile
	}
	return nd, nil
}

// Symlink makes a symbolic link with symlinkat(2). The target is stored
// as given: it is data, never followed here.
func (d *dir) Symlink(name, target string, owner fs.Owner) (fs.Symlink, error) {
	switch {
	case target == "":
		return nil, pathErr("symlink", name, syscall.ENOENT)
	case strings.IndexByte(target, 0) >= 0:
		return nil, pathErr("symlink", name, syscall.EINVAL)
	}
	var n fs.Node
	err := d.at("symlink", name, true, func(dfd int) error {
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return err
		}
		var err error
		n, err = d.made(dfd, name, 0, 0, owner, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	s, ok := n.(*symlink)
	if !ok {
		return nil, pathErr("symlink", name, syscall.EAGAIN)
	}
	return s, nil
}

// Mknod makes a device node, FIFO or socket with mknodat(2).
func (d *dir) Mknod(name string, mode fs.Mode, rdev uint64, owner fs.Owner) (fs.Node, error) {
	switch mode.Type() {
	case fs.ModeChar, fs.ModeBlock, fs.ModeFIFO, fs.ModeSocket:
	default:
		return nil, pathErr("mknod", name, syscall.EINVAL)
	}
	var n fs.Node
	err := d.at("mknod", name, true, func(dfd int) error {
		if err := unix.Mknodat(dfd, name, uint32(mode.Type()|mode&0o777), int(rdev)); err != nil {
			return err
		}
		var err error
		n, err = d.made(dfd, name, 0, mode, owner, false)
		return err
	})
	return n, err
}

// hostNode returns the node behind n if it belongs to f.
func (f *FS) hostNode(n fs.Node) (*node, bool) {
	var hn *node
	switch n := n.(type) {
	case *dir:
		hn = &n.node
	case *file:
		hn = &n.node
	case *symlink:
		hn = &n.node
	case *special:
		hn = &n.node
	default:
		return nil, false
	}
	return hn, hn.fs == f
}

// Link makes name a hard link to n with linkat(2) on n's own descriptor
// (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; without it, through
// /proc/self/fd, which names the same inode).
func (d *dir) Link(name string, n fs.Node) error {
	src, ok := d.fs.hostNode(n)
	if !ok {
		return pathErr("link", name, syscall.EXDEV)
	}
	if _, isDir := n.(*dir); isDir {
		return pathErr("link", name, syscall.EPERM)
	}
	return d.at("link", name, true, func(dfd int) error {
		return src.h.do(func(sfd int) error {
			err := unix.Linkat(sfd, "", dfd, name, unix.AT_EMPTY_PATH)
			if err == unix.ENOENT || err == unix.EPERM {
				err = unix.Linkat(unix.AT_FDCWD, procPath(sfd), dfd, name, unix.AT_SYMLINK_FOLLOW)
			}
			return err
		})
	})
}

// Unlink removes a non-directory (EISDIR for a directory, as Linux).
func (d *dir) Unlink(name string) error {
	return d.at("unlink", name, true, func(dfd int) error { return unix.Unlinkat(dfd, name, 0) })
}

// Rmdir removes an empty directory.
func (d *dir) Rmdir(name string) error {
	return d.at("rmdir", name, true, func(dfd int) error { return unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR) })
}

// Rename is renameat2(2) between two directories of this file system.
func (d *dir) Rename(oldName string, newDir fs.Dir, newName string) error {
	nd, ok := newDir.(*dir)
	if !ok || nd.fs != d.fs {
		return pathErr("rename", oldName, syscall.EXDEV)
	}
	if err := fs.ValidName(newName); err != nil {
		return pathErr("rename", newName, err)
	}
	return d.at("rename", oldName, true, func(dfd int) error {
		if nd == d {
			return unix.Renameat2(dfd, oldName, dfd, newName, 0)
		}
		return nd.h.do(func(ndfd int) error {
			if err := nd.beneath(ndfd); err != nil {
				return err
			}
			return unix.Renameat2(dfd, oldName, ndfd, newName, 0)
		})
	})
}

// dtype maps getdents64's d_type to a file type.
var dtype = [...]fs.Mode{
	unix.DT_FIFO: fs.ModeFIFO,
	unix.DT_CHR:  fs.ModeChar,
	unix.DT_DIR:  fs.ModeDir,
	unix.DT_BLK:  fs.ModeBlock,
	unix.DT_REG:  fs.ModeRegular,
	unix.DT_LNK:  fs.ModeSymlink,
	unix.DT_SOCK: fs.ModeSocket,
}

// ReadDir reads with getdents64(2) after seeking to cookie; an entry's
// Next is the host's d_off.
func (d *dir) ReadDir(cookie uint64, n int) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	err := d.withReadFD(func(fd int) error {
		if err := d.beneath(fd); err != nil {
			return err
		}
		if _, err := unix.Seek(fd, int64(cookie), io.SeekStart); err != nil {
			return err
		}
		buf := make([]byte, 8192)
		for n <= 0 || len(out) < n {
			k, err := unix.Getdents(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if k == 0 {
				return nil
			}
			for off := 0; off+19 <= k && (n <= 0 || len(out) < n); {
				reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
				if reclen < 19 || off+reclen > k {
					return syscall.EIO
				}
				rec := buf[off : off+reclen]
				off += reclen
				name := rec[19:]
				if i := strings.IndexByte(string(name), 0); i >= 0 {
					name = name[:i]
				}
				if string(name) == "." || string(name) == ".." {
					continue
				}
				e := fs.DirEntry{
					Name: string(name),
					Ino:  binary.NativeEndian.Uint64(rec[0:]),
					Next: binary.NativeEndian.Uint64(rec[8:]),
				}
				if t := int(rec[18]); t < len(dtype) && dtype[t] != 0 {
					e.Type = dtype[t]
				} else {
					// DT_UNKNOWN: ask, without following.
					var st unix.Stat_t
					if err := unix.Fstatat(fd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
						continue // gone meanwhile
					}
					e.Type = fs.Mode(st.Mode) & fs.ModeType
				}
				out = append(out, e)
			}
		}
		return nil
	})
	return out, opErr("readdir", err)
}

// Extended attributes go through /proc/self/fd/N of the node's own
// descriptor: the kernel refuses f*xattr on O_PATH descriptors, and the
// magic link names only the inode already held (a symlink's own inode for
// a Symlink node: it is not followed further).

// GetXattr returns the attribute's value (ENODATA if absent).
func (n *node) GetXattr(name string) ([]byte, error) {
	var val []byte
	err := n.h.do(func(fd int) error {
		p := procPath(fd)
		for range 8 {
			sz, err := unix.Getxattr(p, name, nil)
			if err != nil {
				return err
			}
			buf := make([]byte, sz)
			k, err := unix.Getxattr(p, name, buf)
			if err == unix.ERANGE {
				continue // grew meanwhile
			}
			if err != nil {
				return err
			}
			val = buf[:k]
			return nil
		}
		return syscall.ERANGE
	})
	return val, pathErr("getxattr", name, err)
}

// SetXattr sets the attribute (flags as setxattr(2): XATTR_CREATE,
// XATTR_REPLACE).
func (n *node) SetXattr(name string, value []byte, flags int) error {
	if n.fs.cfg.readOnly {
		return pathErr("setxattr", name, syscall.EROFS)
	}
	return pathErr("setxattr", name, n.h.do(func(fd int) error {
		return unix.Setxattr(procPath(fd), name, value, flags)
	}))
}

// ListXattr lists the attribute names.
func (n *node) ListXattr() ([]string, error) {
	var names []string
	err := n.h.do(func(fd int) error {
		p := procPath(fd)
		for range 8 {
			sz, err := unix.Listxattr(p, nil)
			if err != nil {
				return err
			}
			buf := make([]byte, sz)
			k, err := unix.Listxattr(p, buf)
			if err == unix.ERANGE {
				continue
			}
			if err != nil {
				return err
			}
			for _, s := range strings.Split(string(buf[:k]), "\x00") {
				if s != "" {
					names = append(names, s)
				}
			}
			return nil
		}
		return syscall.ERANGE
	})
	return names, opErr("listxattr", err)
}

// RemoveXattr removes the attribute.
func (n *node) RemoveXattr(name string) error {
	if n.fs.cfg.readOnly {
		return pathErr("removexattr", name, syscall.EROFS)
	}
	return pathErr("removexattr", name, n.h.do(func(fd int) error {
		return unix.Removexattr(procPath(fd), name)
	}))
}
