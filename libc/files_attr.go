package libc

import (
	"syscall"
	"time"

	"github.com/goskit/goskit/fs"
)

// Attribute changes: chmod, chown and utimes in their path, fd and
// no-follow forms. There are no credentials, so none is refused EPERM.

// Chmod sets the permission bits (with set-uid, set-gid, sticky) of what
// path names, following symlinks.
func (s *System) Chmod(path string, mode uint32) error {
	return s.setAttrPath(path, fs.Follow, fs.SetAttr{Valid: fs.SetMode, Mode: fs.Mode(mode) & fs.ModePerm})
}

// Fchmod is Chmod of fd's file: EBADF on the console or a socket (Linux
// would change the inode behind them; here there is none).
func (s *System) Fchmod(fd int, mode uint32) error {
	return s.setAttrFD(fd, fs.SetAttr{Valid: fs.SetMode, Mode: fs.Mode(mode) & fs.ModePerm})
}

// Chown sets the owner and group of what path names, following symlinks;
// -1 leaves one unchanged.
func (s *System) Chown(path string, uid, gid int) error {
	return s.setAttrPath(path, fs.Follow, ownerAttr(uid, gid))
}

// Lchown is Chown of a symlink itself.
func (s *System) Lchown(path string, uid, gid int) error {
	return s.setAttrPath(path, 0, ownerAttr(uid, gid))
}

// Fchown is Chown of fd's file.
func (s *System) Fchown(fd int, uid, gid int) error {
	return s.setAttrFD(fd, ownerAttr(uid, gid))
}

// UtimesNano sets the access and modification times of what path names,
// following symlinks.
func (s *System) UtimesNano(path string, atime, mtime time.Time) error {
	return s.setAttrPath(path, fs.Follow, fs.SetAttr{Valid: fs.SetAtime | fs.SetMtime, Atime: atime, Mtime: mtime})
}

// Futimes sets the access and modification times of fd's file.
func (s *System) Futimes(fd int, atime, mtime time.Time) error {
	return s.setAttrFD(fd, fs.SetAttr{Valid: fs.SetAtime | fs.SetMtime, Atime: atime, Mtime: mtime})
}

func ownerAttr(uid, gid int) fs.SetAttr {
	var a fs.SetAttr
	if uid != -1 {
		a.Valid |= fs.SetUID
		a.Owner.UID = uint32(uid)
	}
	if gid != -1 {
		a.Valid |= fs.SetGID
		a.Owner.GID = uint32(gid)
	}
	return a
}

func (s *System) setAttrPath(path string, rf fs.ResolveFlags, a fs.SetAttr) error {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	l, err := ns.Resolve(path, rf)
	if err != nil {
		return errno(err)
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	if a.Valid == 0 {
		return nil
	}
	return errno(l.Node.SetAttr(a))
}

func (s *System) setAttrFD(fd int, a fs.SetAttr) error {
	f, err := s.get(fd)
	if err != nil {
		return err
	}
	if f.of == nil {
		return syscall.EBADF
	}
	if a.Valid == 0 {
		return nil
	}
	return errno(f.of.node.SetAttr(a))
}
