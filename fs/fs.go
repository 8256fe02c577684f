// Package fs defines goskit's file system component: node-based interfaces
// in the manner of the OSKit's COM file system (file system, directory,
// file), which every implementation satisfies — memfs, hostfs, bmodfs, ext2,
// the 9P client — and which adapters turn into an io/fs.FS or mount into a
// Namespace that libc resolves paths through.
//
// # Nodes
//
// A FileSystem has a root Dir. A Dir looks names up (Lookup never follows
// symbolic links: it returns the Symlink node itself, for the namespace to
// interpret) and creates, links, removes and renames entries. A File reads
// and writes at an offset: there is no open-file state in the component;
// a system layer (libc) keeps offsets and flags. Every node reports its
// attributes with Stat and changes them with SetAttr; modes (including the
// set-uid, set-gid and sticky bits) and owners are stored and reported as
// given. There are no credential checks in this component.
//
// # Errors
//
// Errors are syscall.Errno values, possibly wrapped with detail: compare
// with errors.Is(err, syscall.ENOENT). The values are Linux's, as libc
// passes them on: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EXDEV (a link
// or rename across file systems), EROFS, ENAMETOOLONG, EINVAL (a name that
// is empty, ".", "..", or contains '/' or NUL), ENOSPC, EIO (a corrupt
// medium), ENOSYS (an operation the file system cannot do).
//
// # Optional interfaces
//
// What not every file system can do is an optional interface, found by type
// assertion: Mknoder (device nodes, FIFOs, sockets), Xattrer (extended
// attributes), Allocater (preallocation and hole punching).
//
// # Execution environment
//
// Implementations are safe for concurrent use unless their package says
// otherwise; calls block on their medium (a disk, a host file system, a
// network connection).
package fs

import (
	"syscall"
	"time"
)

// FileSystem is a mounted file system.
type FileSystem interface {
	// Root returns the root directory.
	Root() (Dir, error)
	// StatFS reports the file system's size and usage.
	StatFS() (StatFS, error)
	// Sync writes everything dirty to the medium.
	Sync() error
	// Close syncs and releases the file system (unmount). Nodes obtained
	// from it must not be used afterwards.
	Close() error
}

// Node is any object in a file system: a Dir, a File, a Symlink, or a
// special node (device, FIFO, socket) that is only a Node.
type Node interface {
	// Stat returns the node's attributes.
	Stat() (Attr, error)
	// SetAttr changes the attributes named by a.Valid.
	SetAttr(a SetAttr) error
}

// File is a regular file.
type File interface {
	Node
	// ReadAt reads len(p) bytes at off, as io.ReaderAt: fewer only at end of
	// file, with io.EOF. A hole reads as zeros.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes p at off, extending the file (and leaving a hole) if
	// off is past its end.
	WriteAt(p []byte, off int64) (int, error)
	// Truncate sets the file's size; growing it adds a hole.
	Truncate(size int64) error
	// Sync writes the file's data and attributes to the medium (fsync).
	Sync() error
}

// Symlink is a symbolic link.
type Symlink interface {
	Node
	// Readlink returns the link's target, uninterpreted.
	Readlink() (string, error)
}

// Dir is a directory. Names are single path elements: not empty, not "."
// or "..", without '/' or NUL (EINVAL otherwise), at most MaxNameLen bytes
// (ENAMETOOLONG).
type Dir interface {
	Node
	// Lookup returns the entry called name. It never follows a symlink.
	// ".." and "." are not entries: the namespace handles them.
	Lookup(name string) (Node, error)
	// Create makes a regular file (EEXIST if name exists).
	Create(name string, perm Mode, owner Owner) (File, error)
	// Mkdir makes a directory.
	Mkdir(name string, perm Mode, owner Owner) (Dir, error)
	// Symlink makes a symbolic link to target.
	Symlink(name, target string, owner Owner) (Symlink, error)
	// Link makes name another link to node, which must be of this file
	// system (EXDEV) and not a directory (EPERM).
	Link(name string, node Node) error
	// Unlink removes a non-directory entry (EISDIR for a directory).
	Unlink(name string) error
	// Rmdir removes an empty directory (ENOTEMPTY, ENOTDIR).
	Rmdir(name string) error
	// Rename moves the entry oldName to newName in newDir, which must be of
	// this file system (EXDEV), replacing what is there as rename(2) does.
	Rename(oldName string, newDir Dir, newName string) error
	// ReadDir returns up to n entries (all if n <= 0) starting at cookie
	// (0 for the first). Each entry's Next is the cookie that continues
	// after it. Entries are never "." or "..". An empty result means the
	// end.
	ReadDir(cookie uint64, n int) ([]DirEntry, error)
}

// MaxNameLen is the longest name a Dir accepts, as Linux's NAME_MAX.
const MaxNameLen = 255

// Mode is a Linux file mode: the file type (S_IFMT bits) and permission
// bits, set-uid, set-gid and sticky included.
type Mode uint32

// File type bits of Mode, Linux's values.
const (
	ModeType    Mode = syscall.S_IFMT
	ModeDir     Mode = syscall.S_IFDIR
	ModeRegular Mode = syscall.S_IFREG
	ModeSymlink Mode = syscall.S_IFLNK
	ModeChar    Mode = syscall.S_IFCHR
	ModeBlock   Mode = syscall.S_IFBLK
	ModeFIFO    Mode = syscall.S_IFIFO
	ModeSocket  Mode = syscall.S_IFSOCK
	ModePerm    Mode = 0o7777 // permissions with set-uid, set-gid, sticky
)

// Type returns the file type bits.
func (m Mode) Type() Mode { return m & ModeType }

// IsDir reports whether m is a directory's mode.
func (m Mode) IsDir() bool { return m.Type() == ModeDir }

// IsRegular reports whether m is a regular file's mode.
func (m Mode) IsRegular() bool { return m.Type() == ModeRegular }

// Owner is a node's owner.
type Owner struct{ UID, GID uint32 }

// Attr is a node's attributes, as stat(2)'s.
type Attr struct {
	Ino     uint64
	Mode    Mode
	Nlink   uint32
	Owner   Owner
	Size    int64
	Blocks  int64 // 512-byte blocks allocated
	BlkSize int32 // preferred I/O size
	Rdev    uint64
	Atime   time.Time
	Mtime   time.Time
	Ctime   time.Time
}

// SetAttr names the attributes to change; Valid says which fields count.
type SetAttr struct {
	Valid SetAttrMask
	Mode  Mode // permission bits only; the type cannot change
	Owner Owner
	Size  int64
	Atime time.Time
	Mtime time.Time
}

// SetAttrMask is a set of SetAttr fields.
type SetAttrMask uint32

// Fields of SetAttr.
const (
	SetMode SetAttrMask = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime
	SetMtime
)

// DirEntry is one directory entry.
type DirEntry struct {
	Name string
	Ino  uint64
	Type Mode   // file type bits only
	Next uint64 // cookie to continue after this entry
}

// StatFS is statfs(2)'s information.
type StatFS struct {
	Type        uint64 // magic number, as Linux's f_type
	BlockSize   int64
	Blocks      uint64
	BlocksFree  uint64
	BlocksAvail uint64
	Files       uint64
	FilesFree   uint64
	NameLen     int
}

// Mknoder is implemented by directories that can make special nodes:
// character and block devices, FIFOs and sockets (mode's type says which).
type Mknoder interface {
	Mknod(name string, mode Mode, rdev uint64, owner Owner) (Node, error)
}

// Xattrer is implemented by nodes with extended attributes.
type Xattrer interface {
	GetXattr(name string) ([]byte, error) // ENODATA if absent
	SetXattr(name string, value []byte, flags int) error
	ListXattr() ([]string, error)
	RemoveXattr(name string) error
}

// Allocater is implemented by files that can reserve space or punch holes
// (fallocate(2) with mode 0 or FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE).
type Allocater interface {
	Allocate(off, length int64, punchHole bool) error
}

// ValidName checks a directory entry name: EINVAL for "", ".", "..", or a
// name with '/' or NUL; ENAMETOOLONG past MaxNameLen.
func ValidName(name string) error {
	switch name {
	case "", ".", "..":
		return syscall.EINVAL
	}
	if len(name) > MaxNameLen {
		return syscall.ENAMETOOLONG
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return syscall.EINVAL
		}
	}
	return nil
}
