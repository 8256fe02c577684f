package libc

import (
	"syscall"

	"github.com/goskit/goskit/fs"
)

// The *at calls: a relative path starts at the directory open as dirfd
// (AT_FDCWD: the working directory) rather than the working directory;
// an absolute path ignores dirfd, as Linux. They are what Go's os package
// calls, so a system-call personality passes them straight here.

// Flags and the dirfd of the *at calls, Linux's values.
const (
	AT_FDCWD            = -100
	AT_SYMLINK_NOFOLLOW = 0x100
	AT_REMOVEDIR        = 0x200
	AT_SYMLINK_FOLLOW   = 0x400
	AT_NO_AUTOMOUNT     = 0x800
	AT_EMPTY_PATH       = 0x1000
)

// at returns where a relative path given with dirfd starts: nil for the
// working directory (AT_FDCWD) or an absolute path; EBADF for a bad dirfd,
// ENOTDIR for one that is not a directory.
func (s *System) at(dirfd int, path string) (*fs.Location, error) {
	if dirfd == AT_FDCWD || (path != "" && path[0] == '/') {
		return nil, nil
	}
	f, err := s.get(dirfd)
	if err != nil {
		return nil, err
	}
	if f.of == nil || f.of.dir == nil {
		return nil, syscall.ENOTDIR
	}
	return f.of.loc, nil
}

// Openat is Open relative to dirfd.
func (s *System) Openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	at, err := s.at(dirfd, path)
	if err != nil {
		return -1, err
	}
	return s.openat(at, path, flags, mode)
}

// Fstatat is Stat relative to dirfd; AT_SYMLINK_NOFOLLOW makes it Lstat,
// AT_EMPTY_PATH with an empty path makes it Fstat of dirfd (or Stat of
// the working directory for AT_FDCWD). Other flags but AT_NO_AUTOMOUNT
// are EINVAL.
func (s *System) Fstatat(dirfd int, path string, st *syscall.Stat_t, flags int) error {
	if flags&^(AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH|AT_NO_AUTOMOUNT) != 0 {
		return syscall.EINVAL
	}
	if path == "" && flags&AT_EMPTY_PATH != 0 {
		if dirfd == AT_FDCWD {
			return s.stat(nil, ".", 0, st)
		}
		return s.Fstat(dirfd, st)
	}
	at, err := s.at(dirfd, path)
	if err != nil {
		return err
	}
	rf := fs.Follow
	if flags&AT_SYMLINK_NOFOLLOW != 0 {
		rf = 0
	}
	return s.stat(at, path, rf, st)
}

// Mkdirat is Mkdir relative to dirfd.
func (s *System) Mkdirat(dirfd int, path string, mode uint32) error {
	at, err := s.at(dirfd, path)
	if err != nil {
		return err
	}
	return s.mkdirat(at, path, mode)
}

// Unlinkat is Unlink relative to dirfd, or Rmdir with AT_REMOVEDIR;
// other flags are EINVAL.
func (s *System) Unlinkat(dirfd int, path string, flags int) error {
	if flags&^AT_REMOVEDIR != 0 {
		return syscall.EINVAL
	}
	at, err := s.at(dirfd, path)
	if err != nil {
		return err
	}
	if flags&AT_REMOVEDIR != 0 {
		return s.rmdirat(at, path)
	}
	return s.unlinkat(at, path)
}

// Renameat is Rename with each path relative to its dirfd.
func (s *System) Renameat(olddirfd int, oldpath string, newdirfd int, newpath string) error {
	ato, err := s.at(olddirfd, oldpath)
	if err != nil {
		return err
	}
	atn, err := s.at(newdirfd, newpath)
	if err != nil {
		return err
	}
	return s.renameat(ato, oldpath, atn, newpath)
}

// Linkat is Link with each path relative to its dirfd; AT_SYMLINK_FOLLOW
// links what a final symlink of oldpath points to. Other flags (among
// them AT_EMPTY_PATH, which needs a privilege there is no notion of here)
// are EINVAL.
func (s *System) Linkat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) error {
	if flags&^AT_SYMLINK_FOLLOW != 0 {
		return syscall.EINVAL
	}
	ato, err := s.at(olddirfd, oldpath)
	if err != nil {
		return err
	}
	atn, err := s.at(newdirfd, newpath)
	if err != nil {
		return err
	}
	var rf fs.ResolveFlags
	if flags&AT_SYMLINK_FOLLOW != 0 {
		rf = fs.Follow
	}
	return s.linkat(ato, oldpath, atn, newpath, rf)
}

// Symlinkat is Symlink with linkpath relative to newdirfd.
func (s *System) Symlinkat(target string, newdirfd int, linkpath string) error {
	at, err := s.at(newdirfd, linkpath)
	if err != nil {
		return err
	}
	return s.symlinkat(target, at, linkpath)
}

// Readlinkat is Readlink relative to dirfd.
func (s *System) Readlinkat(dirfd int, path string, buf []byte) (int, error) {
	at, err := s.at(dirfd, path)
	if err != nil {
		return 0, err
	}
	return s.readlinkat(at, path, buf)
}
