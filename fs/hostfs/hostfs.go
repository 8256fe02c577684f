// Package hostfs provides a host directory as an fs.FileSystem that can
// never reach outside itself: the hosted platform's way to give a kernel a
// real directory (the OSKit's "unix mode" file system).
//
// # Confinement
//
// Every node is an O_PATH file descriptor on the host, and every host
// access is made relative to such a held descriptor with a single,
// validated path element (fs.ValidName: never "", ".", "..", nor a name
// with '/' or NUL):
//
//   - Nodes are opened with openat2(2) and RESOLVE_BENEATH |
//     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, plus O_NOFOLLOW, so a
//     lookup can neither climb out nor follow a symbolic link: a symlink is
//     returned as an fs.Symlink node whose Readlink gives the raw target,
//     for the namespace to interpret. Nothing in this package ever reads
//     through a symlink, whatever it points to (/etc, ../../x).
//   - Changes use the *at calls (mkdirat, unlinkat, renameat2, symlinkat,
//     linkat, mknodat) on held directory descriptors; none of them follows
//     a trailing symlink, and the name is one element, so none can resolve
//     above the directory it is given.
//   - Attributes are read and changed through the node's own descriptor
//     (fstatat, fchownat and fchmodat2 with AT_EMPTY_PATH), never by name.
//   - A regular file's read/write descriptor is made by reopening its O_PATH
//     descriptor through /proc/self/fd/N (and checked to be the same inode):
//     that magic link can only name the inode the package already holds, so
//     it cannot widen what is reachable. Extended attributes use the same
//     path, because the kernel refuses both f*xattr and the *xattrat calls
//     with AT_EMPTY_PATH on O_PATH descriptors (EBADF, measured on Linux
//     6.18). This needs /proc mounted, as it is on every hosted Linux.
//
// Because nodes are descriptors, not paths, a node keeps its identity when
// it is renamed (as an open file does in POSIX, and as a 9P fid must). The
// consequence: a directory held as a node and then moved outside the root
// by some other process on the host is still usable, and operations on it
// act inside that moved directory, and only there: nothing resolves above
// it (RESOLVE_BENEATH is relative to the held descriptor, and ".." is never
// accepted), so its new parent and siblings stay unreachable, and a fresh
// Lookup from the root no longer finds it. Only a host process that can
// already write outside the root can arrange this; a user of this file
// system cannot (every rename it makes stays beneath the root). The
// VerifyBeneath option makes such a directory fail with ESTALE instead, as
// far as a check before each call can (see there).
//
// # Descriptor cost
//
// Each live node holds one O_PATH descriptor; a regular file that has been
// read or written holds one more, and a directory that has been listed or
// synced holds one more. There is at most one live node per inode: Lookup
// first asks fstatat(2) (a single name, not followed, so no more able to
// leave the directory than openat2) for the inode, and returns the live
// node of that inode if there is one, so a name looked up again costs no
// descriptor and no open, and hard links share a node. The cache holds
// nodes weakly, and an inode number cannot be reused while a node holds a
// descriptor to it.
//
// A node's descriptors are closed when the node becomes unreachable (a
// runtime cleanup), or at once by its Release method (found by type
// assertion, interface{ Release() }: for a server that knows when it drops
// a node, as at a 9P clunk), or all at once by Close. Because the collector
// cannot see descriptors, the file system starts a collection itself when
// the count it holds doubles past 1024, and collects and retries when the
// process runs out (EMFILE). OpenFDs reports how many are held, so a
// server that keeps many nodes can watch its RLIMIT_NOFILE budget.
//
// # Execution environment
//
// Safe for concurrent use. Every call blocks in host system calls. Modes
// (set-uid, set-gid and sticky included) and owners are stored on the host
// as given, which for owners other than the process's own needs root
// (CAP_CHOWN); as with every fs implementation there are no credential
// checks here, only the host's own. Linux 5.6 or later (openat2); exact
// permission bits on directories and special nodes use fchmodat2 (6.6),
// or chmod through /proc/self/fd before it.
package hostfs

import (
	"fmt"
	iofs "io/fs"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"weak"

	"github.com/goskit/goskit/fs"
	"golang.org/x/sys/unix"
)

// FS is a host directory as a file system.
type FS struct {
	cfg     config
	resolve uint64 // openat2 resolve flags
	root    *dir

	mu     sync.Mutex
	fds    map[*handle]struct{}
	cache  map[inodeKey]func() fs.Node // live nodes by inode, held weakly
	gcAt   int                         // a collection is started when len(fds) reaches this
	closed bool
}

// minGCAt is the descriptor count below which no collection is started
// for descriptors' sake.
const minGCAt = 1024

var _ fs.FileSystem = (*FS)(nil)

// Option configures New.
type Option func(*config)

type config struct {
	readOnly bool
	noXDev   bool
	verify   bool
}

// ReadOnly makes every change fail with EROFS; files are opened read-only.
func ReadOnly() Option { return func(c *config) { c.readOnly = true } }

// VerifyBeneath makes every operation through a directory node other than
// the root first check that the directory is still beneath the root (by
// the kernel's current path names for both, read from /proc/self/fd): a
// directory that a host process has moved outside the root then gives
// ESTALE instead of acting inside the moved directory. It costs two
// readlink calls per directory operation, and it narrows rather than
// closes the window: a move that lands between the check and the call
// still wins, and the call then acts inside the moved directory (never
// above it), as without the option. File nodes are not checked: like open
// files, they keep their identity wherever they are moved.
func VerifyBeneath() Option { return func(c *config) { c.verify = true } }

// NoCrossMounts keeps lookups on the root's host file system
// (RESOLVE_NO_XDEV): a mount point below the root gives EXDEV.
func NoCrossMounts() Option { return func(c *config) { c.noXDev = true } }

// New returns the host directory path as a file system. The path itself
// is resolved normally (it is the caller's choice); everything below it is
// confined.
func New(path string, opts ...Option) (*FS, error) {
	f := &FS{fds: make(map[*handle]struct{}), cache: make(map[inodeKey]func() fs.Node), gcAt: minGCAt}
	for _, o := range opts {
		o(&f.cfg)
	}
	f.resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
	if f.cfg.noXDev {
		f.resolve |= unix.RESOLVE_NO_XDEV
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &iofs.PathError{Op: "hostfs: open root", Path: path, Err: err}
	}
	// Check openat2 works here before handing out a file system that
	// could not confine anything.
	probe, err := unix.Openat2(fd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: f.resolve})
	if err != nil {
		unix.Close(fd)
		return nil, &iofs.PathError{Op: "hostfs: openat2", Path: path, Err: err}
	}
	unix.Close(probe)
	h, err := f.track(fd)
	if err != nil {
		return nil, err
	}
	f.root = &dir{node: node{fs: f, h: h}}
	return f, nil
}

// Root returns the root directory.
func (f *FS) Root() (fs.Dir, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, syscall.EBADF
	}
	return f.root, nil
}

// StatFS reports the host file system's figures (fstatfs on the root).
func (f *FS) StatFS() (fs.StatFS, error) {
	var st unix.Statfs_t
	err := f.root.h.do(func(fd int) error { return unix.Fstatfs(fd, &st) })
	if err != nil {
		return fs.StatFS{}, fmt.Errorf("hostfs: statfs: %w", err)
	}
	return fs.StatFS{
		Type:        uint64(st.Type),
		BlockSize:   st.Bsize,
		Blocks:      st.Blocks,
		BlocksFree:  st.Bfree,
		BlocksAvail: st.Bavail,
		Files:       st.Files,
		FilesFree:   st.Ffree,
		NameLen:     int(st.Namelen),
	}, nil
}

// Sync writes the host file system holding the root (syncfs).
func (f *FS) Sync() error {
	if f.cfg.readOnly {
		return nil
	}
	return f.root.withReadFD(func(fd int) error {
		if err := unix.Syncfs(fd); err != nil {
			return fmt.Errorf("hostfs: syncfs: %w", err)
		}
		return nil
	})
}

// Close syncs and closes every descriptor the file system holds; nodes
// used afterwards give EBADF.
func (f *FS) Close() error {
	err := f.Sync()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	hs := make([]*handle, 0, len(f.fds))
	for h := range f.fds {
		hs = append(hs, h)
	}
	clear(f.fds)
	clear(f.cache)
	f.mu.Unlock()
	for _, h := range hs {
		h.close()
	}
	return err
}

// OpenFDs reports how many host descriptors the file system holds now.
func (f *FS) OpenFDs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.fds)
}

// handle is one host descriptor. The lock lets a cleanup or Close wait for
// system calls in progress, so a descriptor number is never closed (and
// reused by someone else) while a call is using it.
type handle struct {
	mu     sync.RWMutex
	fd     int
	closed bool
}

// do runs op with the descriptor, or gives EBADF once it is closed.
func (h *handle) do(op func(fd int) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return syscall.EBADF
	}
	return op(h.fd)
}

func (h *handle) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		unix.Close(h.fd)
	}
	h.mu.Unlock()
}

// track records fd as held by the file system.
func (f *FS) track(fd int) (*handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		unix.Close(fd)
		return nil, syscall.EBADF
	}
	h := &handle{fd: fd}
	f.fds[h] = struct{}{}
	if n := len(f.fds); n >= f.gcAt {
		// Descriptors are a resource the collector cannot see: nodes are
		// small, so many dropped nodes may hold thousands of descriptors
		// before the heap grows enough for a collection. Start one now;
		// the threshold doubles so nodes that are really live do not
		// cause a collection per lookup.
		f.gcAt = 2 * n
		go runtime.GC()
	}
	return h, nil
}

// release closes h and forgets it.
func (f *FS) release(h *handle) {
	h.close()
	f.mu.Lock()
	delete(f.fds, h)
	if n := len(f.fds); f.gcAt > minGCAt && n < f.gcAt/4 {
		f.gcAt = max(minGCAt, f.gcAt/2)
	}
	f.mu.Unlock()
}

// own attaches h to the node object obj: h is released when obj becomes
// unreachable. obj must not be the handle itself.
func own[T any](f *FS, obj *T, h *handle) {
	runtime.AddCleanup(obj, f.release, h)
}

// inodeKey names an inode. While a node holds a descriptor to the inode,
// the kernel cannot reuse its number, so the key cannot name another file.
type inodeKey struct{ dev, ino uint64 }

// keep makes obj (a node of kind T, holding h for the inode key) the one
// Lookup returns for that inode while it lives, and releases h when obj
// becomes unreachable. The cache holds obj weakly: it does not keep a
// node, or its descriptor, alive.
func keep[T any](f *FS, key inodeKey, obj *T, h *handle) {
	w := weak.Make(obj)
	get := func() fs.Node {
		if p := w.Value(); p != nil {
			return any(p).(fs.Node)
		}
		return nil
	}
	runtime.AddCleanup(obj, f.forget, forgetArg{h, key})
	f.mu.Lock()
	if !f.closed {
		f.cache[key] = get
	}
	f.mu.Unlock()
}

type forgetArg struct {
	h   *handle
	key inodeKey
}

// forget is the cleanup of a node that became unreachable.
func (f *FS) forget(a forgetArg) {
	f.release(a.h)
	f.mu.Lock()
	if get, ok := f.cache[a.key]; ok && get() == nil {
		delete(f.cache, a.key)
	}
	f.mu.Unlock()
}

// cached returns the live, unreleased node of the inode key, or nil; the
// node counts one more reference.
func (f *FS) cached(key inodeKey) fs.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	get := f.cache[key]
	if get == nil {
		return nil
	}
	n := get()
	if n == nil {
		return nil
	}
	hn, _ := f.hostNode(n)
	if hn.released {
		return nil
	}
	hn.refs++
	return n
}

// openat opens name beneath the directory descriptor dfd without following
// any symlink. openat2 gives EAGAIN when a rename raced with the lookup;
// it is retried a bounded number of times.
func (f *FS) openat(dfd int, name string, flags int, mode uint32) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if flags&unix.O_PATH == 0 {
		flags |= unix.O_NOCTTY // openat2 refuses it beside O_PATH
	}
	how := &unix.OpenHow{
		Flags:   uint64(flags),
		Mode:    uint64(mode),
		Resolve: f.resolve,
	}
	for i, j := 0, 0; ; i++ {
		fd, err := unix.Openat2(dfd, name, how)
		if err == unix.EAGAIN && i < 64 {
			continue
		}
		if (err == unix.EMFILE || err == unix.ENFILE) && j < 4 {
			j++
			relieve(j)
			continue
		}
		return fd, err
	}
}

// relieve is called when the process is out of descriptors: a collection
// lets the cleanups of dropped nodes close theirs. Cleanups run on their
// own goroutine after the collection, so the caller retries a few times,
// waiting a little longer each time (attempt 1 to 4: at most 10 ms in
// all).
func relieve(attempt int) {
	runtime.GC()
	runtime.Gosched()
	time.Sleep(time.Duration(attempt) * time.Millisecond)
}

// procPath names the inode behind our own descriptor fd.
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
