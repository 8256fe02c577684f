package libc

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goskit/goskit/fs"
)

// File calls. A System given a namespace (FS) opens files and directories
// in the same fd table as the console and sockets; without one they fail
// with ENOSYS. An open file is the file system's node plus what open(2)'s
// file description holds (offset, access mode, O_APPEND), shared by the
// fds Dup makes, as Linux's. Paths are resolved by the namespace (symlinks,
// mounts, "..", the working directory); arguments, flags and errno are
// Linux's, checked against Linux itself by the tests. There are no
// credentials: permission bits are stored and reported, never enforced,
// and new nodes belong to uid 0, gid 0.

// filesys is a System's file state.
type filesys struct {
	ns    *fs.Namespace
	umask atomic.Uint32
	// wlocks serialize writes to one inode (hashed by inode number), so an
	// O_APPEND write finds the end and writes there atomically with respect
	// to every other write through this System, as Linux's inode lock does.
	wlocks [64]sync.Mutex
}

func (fsy *filesys) wlock(ino uint64) *sync.Mutex {
	return &fsy.wlocks[(ino*0x9e3779b97f4a7c15)>>58]
}

// FS gives the System a namespace to resolve paths in: its root is "/",
// and the System's working directory is the namespace's.
func FS(ns *fs.Namespace) Option { return func(s *System) { s.files.ns = ns } }

// Namespace returns the namespace given by FS, or nil.
func (s *System) Namespace() *fs.Namespace { return s.files.ns }

// openFile is an open file description of a file or directory.
type openFile struct {
	node fs.Node
	file fs.File // for a regular file
	dir  fs.Dir  // for a directory
	fsys fs.FileSystem
	acc  int // O_RDONLY, O_WRONLY or O_RDWR
	dev  uint64
	ino  uint64
	loc  *fs.Location // a directory's place, for Fchdir

	mu      sync.Mutex // held across each read and write: offsets are atomic
	off     int64      // a directory's: 0 ".", 1 "..", then 2 + the fs's cookie
	append  bool
	lastOff int64 // where the last write ended
}

// getfl is F_GETFL's access mode and O_APPEND.
func (o *openFile) getfl() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	fl := o.acc
	if o.append {
		fl |= syscall.O_APPEND
	}
	return fl
}

// setfl is F_SETFL's O_APPEND (O_NONBLOCK is the file's).
func (o *openFile) setfl(arg int) {
	o.mu.Lock()
	o.append = arg&syscall.O_APPEND != 0
	o.mu.Unlock()
}

func (s *System) namespace() (*fs.Namespace, error) {
	if s.files.ns == nil {
		return nil, syscall.ENOSYS
	}
	return s.files.ns, nil
}

// errno turns a file system's error into its Errno (EIO for anything that
// carries none).
func errno(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func (s *System) owner() fs.Owner { return fs.Owner{} }

func (s *System) perm(mode uint32) fs.Mode {
	return fs.Mode(mode&^s.files.umask.Load()) & fs.ModePerm
}

// Umask sets the mask applied to the permissions of nodes created by
// Open, Mkdir (and Mknod-like calls) and returns the previous one; the
// initial mask is 0, so modes are taken as given.
func (s *System) Umask(mask uint32) uint32 { return s.files.umask.Swap(mask & 0o777) }

// Open opens path and returns the lowest free fd. flags are open(2)'s:
// the access mode O_RDONLY, O_WRONLY or O_RDWR, and O_CREAT (mode gives
// the permissions, less the umask), O_EXCL, O_TRUNC, O_APPEND,
// O_DIRECTORY, O_NOFOLLOW (ELOOP on a final symlink); O_NONBLOCK and
// O_CLOEXEC are kept as flags; others are ignored, as Linux ignores
// unknown flags. Errors are Linux's: EISDIR when writing (or truncating)
// a directory or creating with a trailing slash, ENOTDIR for O_DIRECTORY
// on a non-directory, EEXIST for O_CREAT|O_EXCL on anything that exists
// (a dangling symlink included), EINVAL for O_CREAT|O_DIRECTORY (Linux
// 6.4 on), ENXIO for a device, FIFO or socket node (there are no drivers
// behind them).
func (s *System) Open(path string, flags int, mode uint32) (int, error) {
	return s.openat(nil, path, flags, mode)
}

func (s *System) openat(at *fs.Location, path string, flags int, mode uint32) (int, error) {
	ns, err := s.namespace()
	if err != nil {
		return -1, err
	}
	acc := flags & syscall.O_ACCMODE
	if acc == syscall.O_ACCMODE {
		return -1, syscall.EINVAL
	}
	creat := flags&syscall.O_CREAT != 0
	if creat && flags&syscall.O_DIRECTORY != 0 {
		return -1, syscall.EINVAL
	}
	rf := fs.Follow
	if flags&syscall.O_NOFOLLOW != 0 || (creat && flags&syscall.O_EXCL != 0) {
		rf = 0
	}
	if creat {
		rf |= fs.Entry // a trailing slash is EISDIR below, not ENOTDIR
	}
	var l fs.Lookup
	var node fs.Node
	created := false
	// A file another caller creates between the lookup and Create is
	// opened (without O_EXCL) by looking again, a bounded number of times.
	for try := 0; ; try++ {
		l, err = ns.ResolveAt(at, path, rf)
		if err != nil {
			return -1, errno(err)
		}
		node = l.Node
		if !creat || node != nil {
			break
		}
		if l.Slash && l.Parent != nil {
			return -1, syscall.EISDIR
		}
		f, err := l.Parent.Create(l.Name, s.perm(mode), s.owner())
		if err == nil {
			node, created = f, true
			break
		}
		if errno(err) != syscall.EEXIST || flags&syscall.O_EXCL != 0 || try == 3 {
			return -1, errno(err)
		}
	}
	if creat && !created {
		if l.Slash && l.Parent != nil {
			return -1, syscall.EISDIR
		}
		if flags&syscall.O_EXCL != 0 {
			return -1, syscall.EEXIST
		}
	}
	if node == nil {
		return -1, syscall.ENOENT
	}
	writes := acc != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0
	// The fd's file and its description in one allocation.
	fo := &fileDesc{}
	o := &fo.o
	o.node, o.fsys, o.acc, o.dev, o.append = node, l.FileSystem(), acc, l.Dev(), flags&syscall.O_APPEND != 0
	switch n := node.(type) {
	case fs.Dir:
		if creat || writes {
			return -1, syscall.EISDIR
		}
		// The directory's place in the namespace, for Fchdir; resolved
		// again, and its directory is what is opened, so the two agree.
		loc, err := ns.Locate(at, path)
		if err != nil {
			return -1, errno(err)
		}
		o.loc, o.dir, o.node = loc, loc.Dir(), loc.Dir()
	case fs.File:
		if flags&syscall.O_DIRECTORY != 0 {
			return -1, syscall.ENOTDIR
		}
		o.file = n
	default:
		if flags&syscall.O_DIRECTORY != 0 {
			return -1, syscall.ENOTDIR
		}
		if _, ok := node.(fs.Symlink); ok {
			return -1, syscall.ELOOP
		}
		return -1, syscall.ENXIO
	}
	if !writes && o.dir == nil {
		// The inode number only keys the write lock: a file open for
		// reading needs none.
		return s.install(fileFor(fo, flags)), nil
	}
	a, err := node.Stat()
	if err != nil {
		return -1, errno(err)
	}
	o.ino = a.Ino
	if o.file != nil && flags&syscall.O_TRUNC != 0 && !created && a.Size != 0 {
		mu := s.files.wlock(o.ino)
		mu.Lock()
		err := o.file.Truncate(0)
		mu.Unlock()
		if err != nil {
			return -1, errno(err)
		}
	}
	return s.install(fileFor(fo, flags)), nil
}

// fileDesc is an fd's file and its open file description, allocated
// together.
type fileDesc struct {
	f file
	o openFile
}

// fileFor fills in the file of an open file description.
func fileFor(fo *fileDesc, flags int) *file {
	f := &fo.f
	f.of = &fo.o
	f.nonblk = flags&syscall.O_NONBLOCK != 0
	f.cloexec = flags&syscall.O_CLOEXEC != 0
	return f
}

// Creat is Open(path, O_CREAT|O_WRONLY|O_TRUNC, mode).
func (s *System) Creat(path string, mode uint32) (int, error) {
	return s.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, mode)
}

func (s *System) getFile(fd int) (*openFile, error) {
	f, err := s.get(fd)
	if err != nil {
		return nil, err
	}
	if f.of == nil {
		return nil, syscall.ESPIPE
	}
	return f.of, nil
}

// readFile is Read on a file or directory fd.
func (o *openFile) read(p []byte) (int, error) {
	if o.dir != nil {
		return 0, syscall.EISDIR
	}
	if o.acc == syscall.O_WRONLY {
		return 0, syscall.EBADF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.pread(p, o.off)
	o.off += int64(n)
	return n, err
}

func (o *openFile) pread(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := o.file.ReadAt(p, off)
	if err == io.EOF || (err != nil && n > 0) {
		err = nil
	}
	return n, errno(err)
}

// write is Write on a file or directory fd.
func (s *System) writeFile(o *openFile, p []byte) (int, error) {
	if o.acc == syscall.O_RDONLY {
		return 0, syscall.EBADF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := s.pwrite(o, p, o.off)
	if n > 0 {
		o.off = o.lastOff
	}
	return n, err
}

// pwrite writes p at off, or at the end with O_APPEND (pwrite(2) on an
// O_APPEND fd appends on Linux too), and records in o.lastOff where the
// write ended.
func (s *System) pwrite(o *openFile, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	mu := s.files.wlock(o.ino)
	mu.Lock()
	defer mu.Unlock()
	if o.append {
		a, err := o.file.Stat()
		if err != nil {
			return 0, errno(err)
		}
		off = a.Size
	}
	if off > math.MaxInt64-int64(len(p)) {
		return 0, syscall.EFBIG
	}
	n, err := o.file.WriteAt(p, off)
	o.lastOff = off + int64(n)
	if n > 0 {
		err = nil // a short write reports what got out, as write(2)
	}
	return n, errno(err)
}

// Pread reads from fd at off without moving its offset: ESPIPE on a
// socket or the console, EISDIR on a directory, EINVAL for a negative
// off.
func (s *System) Pread(fd int, p []byte, off int64) (int, error) {
	o, err := s.getFile(fd)
	if err != nil {
		return 0, err
	}
	if o.dir != nil {
		return 0, syscall.EISDIR
	}
	if o.acc == syscall.O_WRONLY {
		return 0, syscall.EBADF
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	return o.pread(p, off)
}

// Pwrite writes p to fd at off without moving its offset (at the end on
// an O_APPEND fd, as Linux's pwrite).
func (s *System) Pwrite(fd int, p []byte, off int64) (int, error) {
	o, err := s.getFile(fd)
	if err != nil {
		return 0, err
	}
	if o.acc == syscall.O_RDONLY {
		return 0, syscall.EBADF
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	o.mu.Lock() // for lastOff
	defer o.mu.Unlock()
	return s.pwrite(o, p, off)
}

// Lseek sets fd's offset from whence: SEEK_SET, SEEK_CUR, SEEK_END, and
// Linux's SEEK_DATA and SEEK_HOLE (a file is one extent of data here: a
// hole reads as zeros but is not reported). EINVAL for a negative result
// or an unknown whence, ESPIPE on a socket or the console, EOVERFLOW past
// the largest offset. On a directory, only positions Lseek or Getdents64
// returned (0 rewinds) may be set.
func (s *System) Lseek(fd int, off int64, whence int) (int64, error) {
	o, err := s.getFile(fd)
	if err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = o.off
	case io.SeekEnd, seekData, seekHole:
		if o.dir != nil {
			return 0, syscall.EINVAL
		}
		a, err := o.file.Stat()
		if err != nil {
			return 0, errno(err)
		}
		switch whence {
		case io.SeekEnd:
			base = a.Size
		case seekData:
			if off < 0 || off >= a.Size {
				return 0, syscall.ENXIO
			}
			o.off = off
			return off, nil
		case seekHole:
			if off < 0 || off >= a.Size {
				return 0, syscall.ENXIO
			}
			o.off = a.Size
			return a.Size, nil
		}
	default:
		return 0, syscall.EINVAL
	}
	if off > 0 && base > math.MaxInt64-off {
		return 0, syscall.EOVERFLOW
	}
	n := base + off
	if n < 0 {
		return 0, syscall.EINVAL
	}
	o.off = n
	return n, nil
}

// Linux's lseek whence values beyond io's.
const (
	seekData = 3
	seekHole = 4
)

// Stat fills st with the attributes of what path names, following a final
// symlink, as stat(2). st is syscall.Stat_t, Linux's own struct stat for
// the architecture, so a system-call personality copies it out as it is:
// st_dev tells mounts apart (each mount has its own number), the times
// have nanoseconds.
func (s *System) Stat(path string, st *syscall.Stat_t) error {
	return s.stat(nil, path, fs.Follow, st)
}

// Lstat is Stat that does not follow a final symlink (but follows one
// with a trailing slash, as Linux).
func (s *System) Lstat(path string, st *syscall.Stat_t) error {
	return s.stat(nil, path, 0, st)
}

func (s *System) stat(at *fs.Location, path string, rf fs.ResolveFlags, st *syscall.Stat_t) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.ResolveAt(at, path, rf)
	if err != nil {
		return errno(err)
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	a, err := l.Node.Stat()
	if err != nil {
		return errno(err)
	}
	fillStat(st, &a, l.Dev())
	return nil
}

// Fstat fills st with fd's attributes. The console and sockets report
// what Linux reports for a terminal and a socket: their type only.
func (s *System) Fstat(fd int, st *syscall.Stat_t) error {
	f, err := s.get(fd)
	if err != nil {
		return err
	}
	if f.of == nil {
		*st = syscall.Stat_t{}
		if f.console {
			st.Mode = syscall.S_IFCHR | 0o620
		} else {
			st.Mode = syscall.S_IFSOCK | 0o777
		}
		st.Blksize = 4096
		return nil
	}
	a, err := f.of.node.Stat()
	if err != nil {
		return errno(err)
	}
	fillStat(st, &a, f.of.dev)
	return nil
}

// setInt stores v in an integer field whose width differs between
// architectures (st_nlink, st_blksize).
func setInt[T ~int32 | ~int64 | ~uint32 | ~uint64](p *T, v int64) { *p = T(v) }

func fillStat(st *syscall.Stat_t, a *fs.Attr, dev uint64) {
	*st = syscall.Stat_t{
		Dev:    dev,
		Ino:    a.Ino,
		Mode:   uint32(a.Mode),
		Uid:    a.Owner.UID,
		Gid:    a.Owner.GID,
		Rdev:   a.Rdev,
		Size:   a.Size,
		Blocks: a.Blocks,
		Atim:   timespec(a.Atime),
		Mtim:   timespec(a.Mtime),
		Ctim:   timespec(a.Ctime),
	}
	setInt(&st.Nlink, int64(a.Nlink))
	bs := int64(a.BlkSize)
	if bs <= 0 {
		bs = 4096
	}
	setInt(&st.Blksize, bs)
}

func timespec(t time.Time) syscall.Timespec {
	if t.IsZero() {
		return syscall.Timespec{}
	}
	return syscall.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// Mkdir makes the directory path with permissions mode (less the umask):
// EEXIST if anything is there (a dangling symlink included), ENOENT if its
// parent is missing.
func (s *System) Mkdir(path string, mode uint32) error { return s.mkdirat(nil, path, mode) }

func (s *System) mkdirat(at *fs.Location, path string, mode uint32) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.ResolveAt(at, path, fs.Entry)
	if err != nil {
		return errno(err)
	}
	if l.Node != nil {
		return syscall.EEXIST
	}
	_, err = l.Parent.Mkdir(l.Name, s.perm(mode), s.owner())
	return errno(err)
}

// Rmdir removes the empty directory path: EINVAL for a final ".",
// ENOTEMPTY for "..", EBUSY for a mount point or "/", ENOTDIR for a
// non-directory, ENOTEMPTY for a directory with entries.
func (s *System) Rmdir(path string) error { return s.rmdirat(nil, path) }

func (s *System) rmdirat(at *fs.Location, path string) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.ResolveAt(at, path, fs.Entry)
	if err != nil {
		return errno(err)
	}
	switch l.Name {
	case ".":
		return syscall.EINVAL
	case "..":
		return syscall.ENOTEMPTY
	case "/":
		return syscall.EBUSY
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	if _, ok := l.Node.(fs.Dir); !ok {
		return syscall.ENOTDIR
	}
	if l.MountRoot {
		return syscall.EBUSY
	}
	return errno(l.Parent.Rmdir(l.Name))
}

// Unlink removes the non-directory entry path: EISDIR for a directory,
// ENOTDIR for a non-directory named with a trailing slash.
func (s *System) Unlink(path string) error { return s.unlinkat(nil, path) }

func (s *System) unlinkat(at *fs.Location, path string) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.ResolveAt(at, path, fs.Entry)
	if err != nil {
		return errno(err)
	}
	if l.Parent == nil {
		return syscall.EISDIR // "/", ".", ".."
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	if _, ok := l.Node.(fs.Dir); ok {
		return syscall.EISDIR
	}
	if l.Slash {
		return syscall.ENOTDIR
	}
	return errno(l.Parent.Unlink(l.Name))
}

// Rename renames oldpath to newpath, replacing what is there as
// rename(2): EBUSY for "/", ".", ".." or a mount point, EXDEV between
// mounts, EINVAL for moving a directory below itself, ENOTDIR for a
// non-directory named with a trailing slash, EISDIR, ENOTDIR and
// ENOTEMPTY for what cannot be replaced.
func (s *System) Rename(oldpath, newpath string) error { return s.renameat(nil, oldpath, nil, newpath) }

func (s *System) renameat(ato *fs.Location, oldpath string, atn *fs.Location, newpath string) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	lo, err := ns.ResolveAt(ato, oldpath, fs.Entry)
	if err != nil {
		return errno(err)
	}
	ln, err := ns.ResolveAt(atn, newpath, fs.Entry)
	if err != nil {
		return errno(err)
	}
	if lo.Parent == nil || ln.Parent == nil {
		return syscall.EBUSY
	}
	if !lo.SameMount(&ln) {
		return syscall.EXDEV
	}
	if lo.Node == nil {
		return syscall.ENOENT
	}
	if _, ok := lo.Node.(fs.Dir); !ok && (lo.Slash || ln.Slash) {
		return syscall.ENOTDIR
	}
	if lo.MountRoot || ln.MountRoot {
		return syscall.EBUSY
	}
	return errno(lo.Parent.Rename(lo.Name, ln.Parent, ln.Name))
}

// Link makes newpath another name for oldpath (a final symlink is not
// followed, as Linux's link(2)): EEXIST if newpath exists, EPERM for a
// directory, EXDEV between mounts.
func (s *System) Link(oldpath, newpath string) error {
	return s.linkat(nil, oldpath, nil, newpath, 0)
}

func (s *System) linkat(ato *fs.Location, oldpath string, atn *fs.Location, newpath string, rf fs.ResolveFlags) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	lo, err := ns.ResolveAt(ato, oldpath, rf)
	if err != nil {
		return errno(err)
	}
	ln, err := ns.ResolveAt(atn, newpath, fs.Entry)
	if err != nil {
		return errno(err)
	}
	if lo.Node == nil {
		return syscall.ENOENT
	}
	if ln.Node != nil {
		return syscall.EEXIST
	}
	if ln.Slash {
		return syscall.ENOENT
	}
	if _, ok := lo.Node.(fs.Dir); ok {
		return syscall.EPERM
	}
	if lo.Dev() != ln.Dev() {
		return syscall.EXDEV
	}
	return errno(ln.Parent.Link(ln.Name, lo.Node))
}

// Symlink makes linkpath a symbolic link to target (stored as given, not
// checked): EEXIST if linkpath exists, ENOENT for an empty target.
func (s *System) Symlink(target, linkpath string) error { return s.symlinkat(target, nil, linkpath) }

func (s *System) symlinkat(target string, at *fs.Location, linkpath string) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	if target == "" {
		return syscall.ENOENT
	}
	if len(target) >= fs.PathMax {
		return syscall.ENAMETOOLONG
	}
	l, err := ns.ResolveAt(at, linkpath, fs.Entry)
	if err != nil {
		return errno(err)
	}
	if l.Node != nil {
		return syscall.EEXIST
	}
	if l.Slash {
		return syscall.ENOENT
	}
	_, err = l.Parent.Symlink(l.Name, target, s.owner())
	return errno(err)
}

// Readlink copies the target of the symbolic link path into buf, cut to
// its length as readlink(2) (no NUL added), and returns the bytes copied:
// EINVAL if path is not a symlink or buf is empty.
func (s *System) Readlink(path string, buf []byte) (int, error) { return s.readlinkat(nil, path, buf) }

func (s *System) readlinkat(at *fs.Location, path string, buf []byte) (int, error) {
	ns, err := s.namespace()
	if err != nil {
		return 0, err
	}
	l, err := ns.ResolveAt(at, path, 0)
	if err != nil {
		return 0, errno(err)
	}
	if l.Node == nil {
		return 0, syscall.ENOENT
	}
	sl, ok := l.Node.(fs.Symlink)
	if !ok || len(buf) == 0 {
		return 0, syscall.EINVAL
	}
	t, err := sl.Readlink()
	if err != nil {
		return 0, errno(err)
	}
	return copy(buf, t), nil
}

// Truncate sets the size of the file path names (following symlinks):
// EISDIR for a directory, EINVAL for a negative size or a special node.
func (s *System) Truncate(path string, size int64) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.Resolve(path, fs.Follow)
	if err != nil {
		return errno(err)
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	if size < 0 {
		return syscall.EINVAL
	}
	switch n := l.Node.(type) {
	case fs.Dir:
		return syscall.EISDIR
	case fs.File:
		a, err := n.Stat()
		if err != nil {
			return errno(err)
		}
		return s.truncate(n, a.Ino, size)
	}
	return syscall.EINVAL
}

func (s *System) truncate(f fs.File, ino uint64, size int64) error {
	mu := s.files.wlock(ino)
	mu.Lock()
	defer mu.Unlock()
	return errno(f.Truncate(size))
}

// Ftruncate sets the size of fd's file: EINVAL unless fd is a regular file
// open for writing, or for a negative size.
func (s *System) Ftruncate(fd int, size int64) error {
	f, err := s.get(fd)
	if err != nil {
		return err
	}
	o := f.of
	if o == nil || o.file == nil || o.acc == syscall.O_RDONLY || size < 0 {
		return syscall.EINVAL
	}
	return s.truncate(o.file, o.ino, size)
}

// Fsync writes fd's file to its medium (its file system's Sync for a
// directory): EINVAL on the console or a socket.
func (s *System) Fsync(fd int) error {
	f, err := s.get(fd)
	if err != nil {
		return err
	}
	switch {
	case f.of == nil:
		return syscall.EINVAL
	case f.of.file != nil:
		return errno(f.of.file.Sync())
	}
	return errno(f.of.fsys.Sync())
}

// Fdatasync is Fsync: the file systems have no cheaper data-only sync.
func (s *System) Fdatasync(fd int) error { return s.Fsync(fd) }

// Statfs fills st with statfs(2)'s information about the file system path
// is in.
func (s *System) Statfs(path string, st *syscall.Statfs_t) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.Resolve(path, fs.Follow)
	if err != nil {
		return errno(err)
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	return fillStatfs(st, l.FileSystem())
}

// Fstatfs is Statfs for the file system of fd's file: EINVAL on the
// console or a socket (Linux reports its pseudo file systems there).
func (s *System) Fstatfs(fd int, st *syscall.Statfs_t) error {
	f, err := s.get(fd)
	if err != nil {
		return err
	}
	if f.of == nil {
		return syscall.EINVAL
	}
	return fillStatfs(st, f.of.fsys)
}

func fillStatfs(st *syscall.Statfs_t, fsys fs.FileSystem) error {
	if fsys == nil {
		return syscall.ENOSYS
	}
	sf, err := fsys.StatFS()
	if err != nil {
		return errno(err)
	}
	*st = syscall.Statfs_t{}
	setInt(&st.Type, int64(sf.Type))
	setInt(&st.Bsize, sf.BlockSize)
	setInt(&st.Frsize, sf.BlockSize)
	st.Blocks = sf.Blocks
	st.Bfree = sf.BlocksFree
	st.Bavail = sf.BlocksAvail
	st.Files = sf.Files
	st.Ffree = sf.FilesFree
	setInt(&st.Namelen, int64(sf.NameLen))
	return nil
}

// Chdir makes path the working directory (of the namespace, which every
// System sharing it sees).
func (s *System) Chdir(path string) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	return errno(ns.Chdir(path))
}

// Fchdir makes the directory open as fd the working directory: ENOTDIR if
// fd is not a directory. It is the directory opened, wherever it has been
// renamed to since.
func (s *System) Fchdir(fd int) error {
	f, err := s.get(fd)
	if err != nil {
		return err
	}
	if f.of == nil || f.of.dir == nil {
		return syscall.ENOTDIR
	}
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	return errno(ns.ChdirTo(f.of.loc))
}

// Getwd returns the working directory's path.
func (s *System) Getwd() (string, error) {
	ns, err := s.namespace()
	if err != nil {
		return "", err
	}
	return ns.Getwd(), nil
}

// Getcwd copies the working directory's path and a NUL into buf and
// returns the length with the NUL, as Linux's getcwd system call: ERANGE
// if buf is too small.
func (s *System) Getcwd(buf []byte) (int, error) {
	wd, err := s.Getwd()
	if err != nil {
		return 0, err
	}
	if len(buf) < len(wd)+1 {
		return 0, syscall.ERANGE
	}
	copy(buf, wd)
	buf[len(wd)] = 0
	return len(wd) + 1, nil
}

// Mount mounts fsys on the directory path of the namespace (see
// fs.Namespace.Mount).
func (s *System) Mount(path string, fsys fs.FileSystem) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	return errno(ns.Mount(path, fsys))
}

// Unmount detaches what is mounted on path (see fs.Namespace.Unmount):
// fds open on it keep working.
func (s *System) Unmount(path string) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	return errno(ns.Unmount(path))
}

// ReadDir returns up to n entries (all the rest if n <= 0) of the
// directory open as fd, from its position on, and moves the position past
// them: the friendly form of Getdents64, without "." and "..". An empty
// result is the end. ENOTDIR if fd is not a directory.
func (s *System) ReadDir(fd int, n int) ([]fs.DirEntry, error) {
	f, err := s.get(fd)
	if err != nil {
		return nil, err
	}
	o := f.of
	if o == nil || o.dir == nil {
		return nil, syscall.ENOTDIR
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cookie := uint64(0)
	if o.off > 2 {
		cookie = uint64(o.off - 2)
	}
	ents, err := o.dir.ReadDir(cookie, n)
	if err != nil {
		return nil, errno(err)
	}
	if len(ents) > 0 {
		o.off = dirPos(ents[len(ents)-1].Next)
	} else if o.off < 2 {
		o.off = 2
	}
	return ents, nil
}

func dirPos(cookie uint64) int64 {
	if cookie > math.MaxInt64-2 {
		return math.MaxInt64
	}
	return int64(cookie) + 2
}

// dirent64's fixed part: d_ino (8), d_off (8), d_reclen (2), d_type (1).
const direntHeader = 19

// Getdents64 fills buf with the directory's entries in Linux's struct
// linux_dirent64 layout (d_ino, d_off, d_reclen, d_type, NUL-terminated
// d_name, padded to 8 bytes; native byte order), "." and ".." first, and
// returns the bytes used: 0 at the end, EINVAL if buf cannot hold the
// next entry, ENOTDIR if fd is not a directory. d_off is the position
// after the entry, for Lseek. ".." carries the directory's own inode
// number, as the root's does on Linux (file systems do not know parents).
func (s *System) Getdents64(fd int, buf []byte) (int, error) {
	f, err := s.get(fd)
	if err != nil {
		return 0, err
	}
	o := f.of
	if o == nil || o.dir == nil {
		return 0, syscall.ENOTDIR
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	used := 0
	put := func(ino uint64, next int64, typ fs.Mode, name string) bool {
		reclen := (direntHeader + len(name) + 1 + 7) &^ 7
		if used+reclen > len(buf) {
			return false
		}
		b := buf[used : used+reclen]
		binary.NativeEndian.PutUint64(b[0:], ino)
		binary.NativeEndian.PutUint64(b[8:], uint64(next))
		binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
		b[18] = dtype(typ)
		copy(b[19:], name)
		clear(b[19+len(name):])
		used += reclen
		return true
	}
	for o.off < 2 {
		name := "."
		if o.off == 1 {
			name = ".."
		}
		if !put(o.ino, o.off+1, fs.ModeDir, name) {
			return s.direntEnd(used)
		}
		o.off++
	}
	for {
		// Ask for about what fits; what does not is asked again next time.
		want := (len(buf)-used)/24 + 1
		ents, err := o.dir.ReadDir(uint64(o.off-2), want)
		if err != nil {
			if used > 0 {
				return used, nil
			}
			return 0, errno(err)
		}
		if len(ents) == 0 {
			return used, nil
		}
		for _, e := range ents {
			if !put(e.Ino, dirPos(e.Next), e.Type, e.Name) {
				return s.direntEnd(used)
			}
			o.off = dirPos(e.Next)
		}
	}
}

func (s *System) direntEnd(used int) (int, error) {
	if used == 0 {
		return 0, syscall.EINVAL
	}
	return used, nil
}

// dtype is d_type for a file type: DT_* is the S_IF* value shifted down.
func dtype(t fs.Mode) uint8 { return uint8(t.Type() >> 12) }

// Dup returns the lowest free fd, referring to what fd refers to: the same
// open file description (offset, status flags, a socket's connection).
// The description is closed when the last of its fds is. FD_CLOEXEC, per
// fd on Linux, is per description here (there is no exec).
func (s *System) Dup(fd int) (int, error) { return s.dupMin(fd, 0, false) }

// dupMin is Dup to the lowest free fd >= lo (fcntl's F_DUPFD; cloexec for
// F_DUPFD_CLOEXEC sets FD_CLOEXEC, of the description here): EINVAL for a
// lo out of range.
func (s *System) dupMin(fd, lo int, cloexec bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd < 0 || fd >= len(s.fds) || s.fds[fd] == nil {
		return -1, syscall.EBADF
	}
	if lo < 0 || lo >= maxFD {
		return -1, syscall.EINVAL
	}
	f := s.fds[fd]
	f.refs++
	if cloexec {
		f.mu.Lock()
		f.cloexec = true
		f.mu.Unlock()
	}
	for len(s.fds) < lo {
		s.fds = append(s.fds, nil)
	}
	for i := lo; i < len(s.fds); i++ {
		if s.fds[i] == nil {
			s.fds[i] = f
			return i, nil
		}
	}
	s.fds = append(s.fds, f)
	return len(s.fds) - 1, nil
}

// maxFD bounds the fd numbers Dup2 takes, as RLIMIT_NOFILE does (EBADF
// past it).
const maxFD = 1 << 20

// Dup2 makes newfd refer to what oldfd refers to, closing what newfd
// referred to first (atomically: no other call sees newfd free); if they
// are equal it only checks oldfd. EBADF for a bad oldfd or a newfd out of
// range.
func (s *System) Dup2(oldfd, newfd int) (int, error) {
	s.mu.Lock()
	if oldfd < 0 || oldfd >= len(s.fds) || s.fds[oldfd] == nil || newfd < 0 || newfd >= maxFD {
		s.mu.Unlock()
		return -1, syscall.EBADF
	}
	f := s.fds[oldfd]
	if oldfd == newfd {
		s.mu.Unlock()
		return newfd, nil
	}
	for len(s.fds) <= newfd {
		s.fds = append(s.fds, nil)
	}
	old := s.fds[newfd]
	f.refs++
	s.fds[newfd] = f
	last := old != nil && s.unref(old)
	s.mu.Unlock()
	if last {
		old.close() // dup2 ignores errors closing newfd, as Linux
	}
	return newfd, nil
}
