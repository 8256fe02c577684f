// Package memfs provides an in-memory POSIX-like file system, the OSKit's
// memfs: directories, regular files, symbolic links, hard links, device
// nodes and FIFOs, extended attributes, modes and owners stored as given,
// timestamps maintained as Linux's tmpfs does, and sparse files whose data
// lives in 4 KiB pages allocated on first write, so a file with a 1 TiB
// hole costs only its written pages.
//
// # Execution environment
//
// Safe for concurrent use; no call blocks except on the file system's own
// locks, and nothing needs the platform beyond a clock ([WithClock]).
// Locking: one read-write lock per file system guards the directory tree
// (every directory's entries, parent pointers and link counts); each inode
// has its own mutex for its attributes and data. Namespace operations take
// the tree lock (shared for Lookup and ReadDir, exclusive for changes) and
// then one inode lock at a time; reads and writes of file data take only
// the file's inode lock, so writers to different files never contend. The
// lock order is always tree, then inode.
//
// # Memory
//
// A file's pages are indexed by a slice up to 64 MiB and by a map beyond,
// so a hole costs at most a pointer per 4 KiB below 64 MiB and nothing
// above. Pages freed by truncation or hole punching, and those of a file
// of 64 KiB or more once it is unlinked and no longer referenced (found by
// runtime.AddCleanup), go to a pool of the file system's own, emptied by
// the garbage collector as sync.Pool is; a new write takes them from there
// and zeroes only what it does not overwrite. A removed file stays alive
// exactly as long as a node of it is held, as an open file does on Linux.
//
// # Differences from Linux
//
// There are no credential checks (as the fs package says). Reads do not
// update atime (as with noatime); chown and writes do not clear the
// set-uid and set-gid bits: modes are stored exactly as given.
package memfs

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goskit/goskit/fs"
)

const (
	pageSize  = 4096
	pageShift = 12
	// tmpfsMagic is Linux's TMPFS_MAGIC, reported as StatFS.Type.
	tmpfsMagic = 0x01021994
	// maxFileSize is Linux's MAX_LFS_FILESIZE on 64-bit.
	maxFileSize = 1<<63 - 1
	// maxSymlinkLen is Linux's PATH_MAX less the NUL.
	maxSymlinkLen = 4095
	// Extended attribute limits, Linux's XATTR_NAME_MAX and XATTR_SIZE_MAX.
	xattrNameMax = 255
	xattrSizeMax = 65536
	// Linux's XATTR_CREATE and XATTR_REPLACE flags.
	xattrCreate  = 1
	xattrReplace = 2
	// direntSize is what tmpfs counts per entry in a directory's size.
	direntSize = 20
)

// Option configures a file system made by New.
type Option func(*FS)

// WithClock makes the file system take timestamps from now rather than
// time.Now (tests use a fake clock).
func WithClock(now func() time.Time) Option { return func(f *FS) { f.now = now } }

// WithSizeLimit bounds the bytes of file data the file system holds
// (rounded up to pages); past it writes fail with ENOSPC. 0 means no limit.
func WithSizeLimit(bytes int64) Option {
	return func(f *FS) { f.maxPages = (bytes + pageSize - 1) / pageSize }
}

// WithInodeLimit bounds the number of nodes; past it creation fails with
// ENOSPC. 0 means no limit.
func WithInodeLimit(n int64) Option { return func(f *FS) { f.maxInodes = n } }

// WithRootOwner sets the root directory's owner and permissions (default
// root:root 0755).
func WithRootOwner(o fs.Owner, perm fs.Mode) Option {
	return func(f *FS) { f.rootOwner, f.rootPerm = o, perm&fs.ModePerm }
}

// FS is an in-memory file system. Its zero value is not usable: call New.
type FS struct {
	now       func() time.Time
	maxPages  int64
	maxInodes int64
	rootOwner fs.Owner
	rootPerm  fs.Mode

	// tree guards every directory's entries, order, parent and removed
	// fields, and all link counts' consistency with entries.
	tree sync.RWMutex
	root *inode

	nextIno atomic.Uint64
	inodes  atomic.Int64 // live inodes (with a name or not yet freed)
	pages   atomic.Int64 // allocated data pages
	// free holds pages dropped by truncation and hole punching for reuse
	// (a file rewritten after O_TRUNC takes them back without the garbage
	// collector in between); the GC empties it as sync.Pool does.
	free   sync.Pool
	closed atomic.Bool
}

var (
	_ fs.FileSystem = (*FS)(nil)
	_ fs.Dir        = (*dir)(nil)
	_ fs.Mknoder    = (*dir)(nil)
	_ fs.Xattrer    = (*dir)(nil)
	_ fs.File       = (*file)(nil)
	_ fs.Allocater  = (*file)(nil)
	_ fs.Xattrer    = (*file)(nil)
	_ fs.Symlink    = (*symlink)(nil)
	_ fs.Xattrer    = (*symlink)(nil)
	_ fs.Node       = (*special)(nil)
	_ fs.Xattrer    = (*special)(nil)
)

// New returns an empty file system whose root directory is owned by
// root:root with mode 0755 unless WithRootOwner says otherwise.
func New(opts ...Option) *FS {
	f := &FS{now: time.Now, rootPerm: 0o755}
	for _, o := range opts {
		o(f)
	}
	root, _ := f.newInode(fs.ModeDir|f.rootPerm, f.rootOwner)
	root.nlink = 2
	root.entries = map[string]*dirent{}
	root.parent = root
	f.root = root
	return f
}

// Root returns the root directory.
func (f *FS) Root() (fs.Dir, error) {
	if f.closed.Load() {
		return nil, fmt.Errorf("memfs: closed: %w", syscall.EIO)
	}
	return (*dir)(f.root), nil
}

// StatFS reports usage: 4 KiB blocks, and the limits set by WithSizeLimit
// and WithInodeLimit (without limits, free space is reported as 1 PiB
// beyond what is used, as tmpfs reports its size).
func (f *FS) StatFS() (fs.StatFS, error) {
	used := uint64(f.pages.Load())
	total := uint64(f.maxPages)
	if total == 0 {
		total = used + (1<<50)/pageSize
	}
	files := uint64(f.maxInodes)
	inodes := uint64(f.inodes.Load())
	if files == 0 {
		files = inodes + 1<<32
	}
	return fs.StatFS{
		Type:        tmpfsMagic,
		BlockSize:   pageSize,
		Blocks:      total,
		BlocksFree:  total - min(used, total),
		BlocksAvail: total - min(used, total),
		Files:       files,
		FilesFree:   files - min(inodes, files),
		NameLen:     fs.MaxNameLen,
	}, nil
}

// Sync does nothing: memory is the medium.
func (f *FS) Sync() error { return nil }

// Close marks the file system closed: Root fails afterwards. Nodes already
// obtained keep working (the contract forbids using them), and the memory
// is freed when they are dropped.
func (f *FS) Close() error {
	f.closed.Store(true)
	return nil
}

// inode is every node. Fields after mu are guarded by mu, except entries,
// order, parent, removed and nlink which change only with the tree lock
// held exclusively (nlink also under mu, so Stat can read it).
type inode struct {
	fs  *FS
	ino uint64
	typ fs.Mode // the file type bits, immutable: read without locks

	mu     sync.RWMutex // readers: Stat, ReadAt, GetXattr, ListXattr
	mode   fs.Mode
	nlink  uint32
	owner  fs.Owner
	rdev   uint64
	atime  time.Time
	mtime  time.Time
	ctime  time.Time
	xattrs map[string][]byte

	// Regular files.
	size      int64
	pages     *pageStore // nil until the first write
	recycling bool       // a cleanup returns the pages to the pool once the inode is collected
	orphan    bool       // no name reaches it: its pages no longer count against the limit

	// Directories (guarded by fs.tree).
	entries map[string]*dirent
	order   []*dirent // by increasing cookie; removed entries nil'd out lazily
	dead    int       // removed entries still in order
	serial  uint64    // last cookie given
	parent  *inode
	removed bool

	// Symlinks (immutable).
	target string
}

// dirent is a directory entry. Its cookie is assigned at insertion and
// never reused in the directory, so a ReadDir continuing at a cookie skips
// exactly the entries before it, whatever changed meanwhile.
type dirent struct {
	name   string
	node   *inode
	cookie uint64
	gone   bool
}

func (f *FS) newInode(mode fs.Mode, owner fs.Owner) (*inode, error) {
	return f.newInodeAt(mode, owner, f.now())
}

// newInodeAt makes an inode with all three times set to now.
func (f *FS) newInodeAt(mode fs.Mode, owner fs.Owner, now time.Time) (*inode, error) {
	if f.maxInodes > 0 {
		if f.inodes.Add(1) > f.maxInodes {
			f.inodes.Add(-1)
			return nil, fmt.Errorf("memfs: inode limit %d: %w", f.maxInodes, syscall.ENOSPC)
		}
	} else {
		f.inodes.Add(1)
	}
	return &inode{
		fs: f, ino: f.nextIno.Add(1), typ: mode.Type(), mode: mode, nlink: 1, owner: owner,
		atime: now, mtime: now, ctime: now,
	}, nil
}

// release accounts for an inode whose last link went away. Its pages stay
// readable through nodes still held (an unlinked open file) and are
// returned to the limit now, as no name can reach them.
func (n *inode) release() {
	n.fs.inodes.Add(-1)
	if n.typ == fs.ModeRegular {
		n.mu.Lock()
		n.orphan = true
		n.fs.pages.Add(-n.pages.count())
		n.mu.Unlock()
	}
}

// node wraps an inode as the interface type its mode calls for.
func (n *inode) node() fs.Node {
	switch n.typ {
	case fs.ModeDir:
		return (*dir)(n)
	case fs.ModeRegular:
		return (*file)(n)
	case fs.ModeSymlink:
		return (*symlink)(n)
	}
	return (*special)(n)
}

func (n *inode) stat() fs.Attr {
	n.mu.RLock()
	defer n.mu.RUnlock()
	a := fs.Attr{
		Ino: n.ino, Mode: n.mode, Nlink: n.nlink, Owner: n.owner, Rdev: n.rdev,
		BlkSize: pageSize, Atime: n.atime, Mtime: n.mtime, Ctime: n.ctime,
	}
	switch n.typ {
	case fs.ModeRegular:
		a.Size = n.size
		a.Blocks = n.pages.count() * (pageSize / 512)
	case fs.ModeSymlink:
		a.Size = int64(len(n.target))
	case fs.ModeDir:
		// tmpfs's convention, kept in size under mu as entries change
		// (entries itself belongs to the tree lock).
		a.Size = n.size
	}
	return a
}

func (n *inode) setAttr(a fs.SetAttr) error {
	if a.Valid&fs.SetSize != 0 {
		switch n.typ {
		case fs.ModeRegular:
			if err := (*file)(n).Truncate(a.Size); err != nil {
				return err
			}
		case fs.ModeDir:
			return syscall.EISDIR
		default:
			return syscall.EINVAL
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.Valid&fs.SetMode != 0 {
		n.mode = n.mode.Type() | a.Mode&fs.ModePerm
	}
	if a.Valid&fs.SetUID != 0 {
		n.owner.UID = a.Owner.UID
	}
	if a.Valid&fs.SetGID != 0 {
		n.owner.GID = a.Owner.GID
	}
	if a.Valid&fs.SetAtime != 0 {
		n.atime = a.Atime
	}
	if a.Valid&fs.SetMtime != 0 {
		n.mtime = a.Mtime
	}
	if a.Valid&^fs.SetSize != 0 {
		n.ctime = n.fs.now()
	}
	return nil
}

// touch sets mtime and ctime to now (a directory's entries changed, a
// file's data changed).
func (n *inode) touch() { n.touchAt(n.fs.now()) }

func (n *inode) touchAt(now time.Time) {
	n.mu.Lock()
	n.mtime, n.ctime = now, now
	n.mu.Unlock()
}

// changed sets ctime to now (link count or attributes changed).
func (n *inode) changed() {
	n.mu.Lock()
	n.ctime = n.fs.now()
	n.mu.Unlock()
}

// addLinks changes the link count, under the tree lock.
func (n *inode) addLinks(d int) {
	n.mu.Lock()
	n.nlink = uint32(int(n.nlink) + d)
	n.ctime = n.fs.now()
	last := n.nlink == 0
	n.mu.Unlock()
	if last {
		n.release()
	}
}

// Extended attributes, for every node type.

func checkXattrName(name string) error {
	if name == "" || len(name) > xattrNameMax {
		return syscall.ERANGE
	}
	for _, ns := range []string{"user.", "trusted.", "security.", "system."} {
		if strings.HasPrefix(name, ns) && len(name) > len(ns) {
			return nil
		}
	}
	return syscall.EOPNOTSUPP
}

func (n *inode) getXattr(name string) ([]byte, error) {
	if err := checkXattrName(name); err != nil {
		return nil, err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	v, ok := n.xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return slices.Clone(v), nil
}

func (n *inode) setXattr(name string, value []byte, flags int) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	if len(value) > xattrSizeMax {
		return syscall.E2BIG
	}
	if flags&^(xattrCreate|xattrReplace) != 0 {
		return syscall.EINVAL
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.xattrs[name]
	if ok && flags&xattrCreate != 0 {
		return syscall.EEXIST
	}
	if !ok && flags&xattrReplace != 0 {
		return syscall.ENODATA
	}
	if n.xattrs == nil {
		n.xattrs = map[string][]byte{}
	}
	n.xattrs[name] = append([]byte{}, value...)
	n.ctime = n.fs.now()
	return nil
}

func (n *inode) listXattr() ([]string, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	list := make([]string, 0, len(n.xattrs))
	for k := range n.xattrs {
		list = append(list, k)
	}
	sort.Strings(list)
	return list, nil
}

func (n *inode) removeXattr(name string) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(n.xattrs, name)
	n.ctime = n.fs.now()
	return nil
}

// special is a device node, FIFO or socket.
type special inode

func (s *special) Stat() (fs.Attr, error)               { return (*inode)(s).stat(), nil }
func (s *special) SetAttr(a fs.SetAttr) error           { return (*inode)(s).setAttr(a) }
func (s *special) GetXattr(name string) ([]byte, error) { return (*inode)(s).getXattr(name) }
func (s *special) ListXattr() ([]string, error)         { return (*inode)(s).listXattr() }
func (s *special) RemoveXattr(name string) error        { return (*inode)(s).removeXattr(name) }
func (s *special) SetXattr(n string, v []byte, fl int) error {
	return (*inode)(s).setXattr(n, v, fl)
}

// symlink is a symbolic link.
type symlink inode

func (s *symlink) Stat() (fs.Attr, error)               { return (*inode)(s).stat(), nil }
func (s *symlink) SetAttr(a fs.SetAttr) error           { return (*inode)(s).setAttr(a) }
func (s *symlink) Readlink() (string, error)            { return s.target, nil }
func (s *symlink) GetXattr(name string) ([]byte, error) { return (*inode)(s).getXattr(name) }
func (s *symlink) ListXattr() ([]string, error)         { return (*inode)(s).listXattr() }
func (s *symlink) RemoveXattr(name string) error        { return (*inode)(s).removeXattr(name) }
func (s *symlink) SetXattr(n string, v []byte, fl int) error {
	return (*inode)(s).setXattr(n, v, fl)
}

// errNotOurs explains an EXDEV.
var errNotOurs = errors.New("memfs: node of another file system")

// ourInode returns the inode behind a node of this file system.
func (f *FS) ourInode(n fs.Node) (*inode, error) {
	var in *inode
	switch v := n.(type) {
	case *dir:
		in = (*inode)(v)
	case *file:
		in = (*inode)(v)
	case *symlink:
		in = (*inode)(v)
	case *special:
		in = (*inode)(v)
	}
	if in == nil || in.fs != f {
		return nil, fmt.Errorf("%w: %w", errNotOurs, syscall.EXDEV)
	}
	return in, nil
}
