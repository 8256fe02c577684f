package fs

import (
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// PathMax is Linux's PATH_MAX: a path of PathMax bytes or more (there is
// no room left for C's terminating NUL) is ENAMETOOLONG.
const PathMax = 4096

// MaxSymlinks is how many symbolic links one resolution follows before it
// fails with ELOOP, Linux's MAXSYMLINKS.
const MaxSymlinks = 40

// Namespace is a tree of file systems a system layer (libc) resolves paths
// through: a root file system, file systems mounted on its directories and
// theirs, and a working directory.
//
// Resolution follows Linux's path walk: symbolic links are followed in
// every component but the last (which the caller chooses), an absolute
// link target starts again at the namespace's root, at most MaxSymlinks
// links are followed in one resolution (ELOOP past that), ".." at a mount's
// root goes to the parent of the directory it is mounted on, and ".." at
// the namespace's root stays there, so no path, link or ".." chain reaches
// above the root. ".." is taken physically, from the directories walked
// (or those walked to the working directory), as Linux does; file systems
// need not know their parents.
//
// A mount point is known by the mount holding the directory and the
// directory's inode number, so a file system mounted on may hand out a new
// node object on every Lookup; its inode numbers must be stable and unique
// while it is mounted on. Directories are asked their Stat to find mounts
// only in file systems that have something mounted on them.
//
// A Namespace is safe for concurrent use. Resolution takes no lock: it
// reads an immutable snapshot of the mounts and working directory that
// Mount, Unmount and Chdir replace (copy on write). The working directory
// belongs to the namespace: every user of the namespace shares it, as the
// threads of one process share theirs.
type Namespace struct {
	mu    sync.Mutex // serializes Mount, Unmount, Chdir
	state atomic.Pointer[nsState]
	devs  uint64 // last device number handed out, under mu
}

// mount is one mounted file system.
type mount struct {
	fsys FileSystem
	root Dir
	dev  uint64   // device number Stat reports for its nodes
	on   mountKey // where it is mounted; on.m is nil for the namespace's root
}

// mountKey names a directory that something may be mounted on: the mount
// it is in and its inode number.
type mountKey struct {
	m   *mount
	ino uint64
}

// elem is one directory of a walk: the steps from the root to the current
// directory make a stack, and ".." pops it.
type elem struct {
	dir    Dir
	mnt    *mount
	name   string // the name it was reached by, for Getwd
	isRoot bool   // dir is mnt's root (a mount was crossed to reach it)
}

// nsState is one immutable snapshot of a Namespace.
type nsState struct {
	base    elem   // the root file system's root, before crossing mounts on it
	root    []elem // the namespace root, mounts on "/" crossed; len 1
	cwd     []elem // the working directory's stack, cwd[0] the root
	mounts  map[mountKey]*mount
	covered map[*mount]int // how many mounts sit on each mount's directories
}

// NewNamespace makes a namespace whose root and working directory are
// root's root directory.
func NewNamespace(root FileSystem) (*Namespace, error) {
	if root == nil {
		return nil, syscall.EINVAL
	}
	d, err := root.Root()
	if err != nil {
		return nil, err
	}
	ns := &Namespace{devs: 1}
	m := &mount{fsys: root, root: d, dev: ns.devs}
	e := elem{dir: d, mnt: m}
	st := &nsState{base: e, root: []elem{e}, cwd: []elem{e}}
	ns.state.Store(st)
	return ns, nil
}

// ResolveFlags choose how Resolve treats the last component.
type ResolveFlags uint8

const (
	// Follow follows a symbolic link named by the last component, as
	// stat(2) and open(2) without O_NOFOLLOW do.
	Follow ResolveFlags = 1 << iota
	// Entry resolves for a call that works on the directory entry itself
	// (unlink, rmdir, rename, mkdir, symlink, link): a trailing slash does
	// not make a final symlink followed, and does not make a final
	// non-directory ENOTDIR; the caller applies its own rule. Without
	// Entry a trailing slash follows a final symlink and a final
	// non-directory is ENOTDIR, as Linux's full lookups.
	Entry
)

// Lookup is what a path names.
type Lookup struct {
	// Parent is the directory holding the entry Name; nil when the path
	// ends in "/", "." or ".." (Name says which), which name no entry.
	Parent Dir
	// Name is the last component: an entry name of Parent, or "/", "."
	// or "..".
	Name string
	// Node is what the path names, nil when Name does not exist in Parent
	// (Resolve then returns no error, so a caller can create it). A final
	// symbolic link followed (Follow) gives its target's node, Parent and
	// Name; a dangling one gives the target's Parent and Name with a nil
	// Node.
	Node Node
	// Slash reports a trailing slash: the caller asked for a directory.
	Slash bool
	// MountRoot reports that Node is the root of a mounted file system
	// (the entry Name of Parent is covered by it): it cannot be removed or
	// renamed (EBUSY).
	MountRoot bool

	pmnt, mnt *mount
}

// FileSystem returns the file system Node is in (Parent's when Node is
// nil).
func (l *Lookup) FileSystem() FileSystem {
	if l.mnt != nil {
		return l.mnt.fsys
	}
	if l.pmnt != nil {
		return l.pmnt.fsys
	}
	return nil
}

// Dev returns the device number of Node's mount (Parent's when Node is
// nil): each mount gets its own, as st_dev tells Linux's mounts apart.
func (l *Lookup) Dev() uint64 {
	if l.mnt != nil {
		return l.mnt.dev
	}
	if l.pmnt != nil {
		return l.pmnt.dev
	}
	return 0
}

// SameMount reports whether l's and o's Parent directories are in one
// mount: rename(2) and link(2) between mounts fail with EXDEV even where
// the file system is the same.
func (l *Lookup) SameMount(o *Lookup) bool { return l.pmnt != nil && l.pmnt == o.pmnt }

// walker is the state of one resolution: the stack it started from (the
// working directory's, or the root's) and the directories walked since.
// It lives on the caller's stack, the first len(arr) directories walked
// in an array inside it (no self-referencing slice, which would move it
// to the heap): resolution allocates nothing for ordinary paths.
type walker struct {
	st    *nsState
	at    []elem // where relative paths start, if not the working directory
	base  []elem
	nbase int
	n     int // directories walked: arr[:min(n, len(arr))], then more
	arr   [6]elem
	more  []elem
}

func (w *walker) start(abs bool) {
	for w.n > 0 {
		w.pop()
	}
	switch {
	case abs:
		w.base = w.st.root
	case w.at != nil:
		w.base = w.at
	default:
		w.base = w.st.cwd
	}
	w.nbase = len(w.base)
}

func (w *walker) top() elem {
	switch {
	case w.n > len(w.arr):
		return w.more[w.n-len(w.arr)-1]
	case w.n > 0:
		return w.arr[w.n-1]
	}
	return w.base[w.nbase-1]
}

func (w *walker) push(e elem) {
	if w.n < len(w.arr) {
		w.arr[w.n] = e
	} else {
		w.more = append(w.more[:w.n-len(w.arr)], e)
	}
	w.n++
}

func (w *walker) pop() {
	w.n--
	if w.n < len(w.arr) {
		w.arr[w.n] = elem{}
	}
}

// dotdot goes to the parent; at the root it stays.
func (w *walker) dotdot() {
	if w.n > 0 {
		w.pop()
	} else if w.nbase > 1 {
		w.nbase--
	}
}

// stack returns the full stack, base and walked.
func (w *walker) stack() []elem {
	s := make([]elem, 0, w.nbase+w.n)
	s = append(s, w.base[:w.nbase]...)
	s = append(s, w.arr[:min(w.n, len(w.arr))]...)
	if w.n > len(w.arr) {
		s = append(s, w.more[:w.n-len(w.arr)]...)
	}
	return s
}

// cross replaces e by the root of what is mounted on it, repeatedly (a
// mount on a mount's root).
func (st *nsState) cross(e *elem) error {
	for st.covered[e.mnt] > 0 {
		a, err := e.dir.Stat()
		if err != nil {
			return err
		}
		m := st.mounts[mountKey{e.mnt, a.Ino}]
		if m == nil {
			return nil
		}
		*e = elem{dir: m.root, mnt: m, name: e.name, isRoot: true}
	}
	return nil
}

// Resolve resolves path against the namespace's root (absolute paths) or
// working directory (relative ones). Errors are ENOENT (an empty path, or
// a missing directory on the way), ENOTDIR (a non-directory on the way, or
// at the end before a trailing slash without Entry), ELOOP (more than
// MaxSymlinks links), ENAMETOOLONG (a path of PathMax bytes or more, or a
// component longer than MaxNameLen), and what the file systems return. A
// missing last component is not an error: Lookup.Node is nil.
func (ns *Namespace) Resolve(path string, flags ResolveFlags) (Lookup, error) {
	if len(path) >= PathMax {
		return Lookup{}, syscall.ENAMETOOLONG
	}
	var w walker
	return ns.resolve(&w, path, flags)
}

// ResolveAt is Resolve with relative paths starting at the directory at
// (the *at(2) calls' dirfd) instead of the working directory; a nil at is
// the working directory.
func (ns *Namespace) ResolveAt(at *Location, path string, flags ResolveFlags) (Lookup, error) {
	if len(path) >= PathMax {
		return Lookup{}, syscall.ENAMETOOLONG
	}
	var w walker
	if at != nil {
		w.at = at.stack
	}
	return ns.resolve(&w, path, flags)
}

func (ns *Namespace) resolve(w *walker, path string, flags ResolveFlags) (Lookup, error) {
	if path == "" {
		return Lookup{}, syscall.ENOENT
	}
	w.st = ns.state.Load()
	w.start(path[0] == '/')
	rest := path
	links := 0
	for {
		i := 0
		for i < len(rest) && rest[i] == '/' {
			i++
		}
		rest = rest[i:]
		if rest == "" {
			// Only slashes: the path (or a link's target) is "/".
			t := w.top()
			return Lookup{Name: "/", Node: t.dir, Slash: true, MountRoot: t.isRoot, mnt: t.mnt}, nil
		}
		var name string
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			name, rest = rest[:j], rest[j:]
		} else {
			name, rest = rest, ""
		}
		last := onlySlashes(rest)
		slash := last && rest != ""
		switch name {
		case ".", "..":
			if name == ".." {
				w.dotdot()
			}
			if last {
				t := w.top()
				return Lookup{Name: name, Node: t.dir, Slash: slash, MountRoot: t.isRoot, mnt: t.mnt}, nil
			}
			continue
		}
		if len(name) > MaxNameLen {
			return Lookup{}, syscall.ENAMETOOLONG
		}
		t := w.top()
		n, err := t.dir.Lookup(name)
		if err != nil {
			if last && isErrno(err, syscall.ENOENT) {
				return Lookup{Parent: t.dir, Name: name, Slash: slash, pmnt: t.mnt}, nil
			}
			return Lookup{}, err
		}
		if sl, ok := n.(Symlink); ok && (!last || flags&Follow != 0 || (slash && flags&Entry == 0)) {
			links++
			if links > MaxSymlinks {
				return Lookup{}, syscall.ELOOP
			}
			target, err := sl.Readlink()
			if err != nil {
				return Lookup{}, err
			}
			if target == "" {
				return Lookup{}, syscall.ENOENT
			}
			if len(target) >= PathMax {
				return Lookup{}, syscall.ENAMETOOLONG
			}
			if target[0] == '/' {
				w.start(true)
			}
			// rest is empty or starts with '/': the target takes the
			// link's place in the path.
			rest = target + rest
			continue
		}
		d, isDir := n.(Dir)
		if last {
			l := Lookup{Parent: t.dir, Name: name, Node: n, Slash: slash, pmnt: t.mnt, mnt: t.mnt}
			if isDir {
				e := elem{dir: d, mnt: t.mnt, name: name}
				if err := w.st.cross(&e); err != nil {
					return Lookup{}, err
				}
				l.Node, l.mnt, l.MountRoot = e.dir, e.mnt, e.isRoot
			} else if slash && flags&Entry == 0 {
				return Lookup{}, syscall.ENOTDIR
			}
			return l, nil
		}
		if !isDir {
			return Lookup{}, syscall.ENOTDIR
		}
		e := elem{dir: d, mnt: t.mnt, name: name}
		if err := w.st.cross(&e); err != nil {
			return Lookup{}, err
		}
		w.push(e)
	}
}

func onlySlashes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '/' {
			return false
		}
	}
	return true
}

// isErrno is errors.Is for an Errno, without its allocation-free but
// reflective walk on the common unwrapped case.
func isErrno(err error, e syscall.Errno) bool {
	for err != nil {
		if x, ok := err.(syscall.Errno); ok {
			return x == e
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// Location is a directory's place in a namespace: the directories walked
// from the root to it. It is what a working directory is, and what an
// open directory (an *at(2) call's dirfd) needs: ".." from it goes back
// the way it was reached, and it keeps naming the same directory when
// that is renamed. It is immutable.
type Location struct{ stack []elem }

// Dir returns the directory.
func (l *Location) Dir() Dir { return l.stack[len(l.stack)-1].dir }

// Path returns the names the directory was reached by from the root, as
// Getwd.
func (l *Location) Path() string {
	if len(l.stack) == 1 {
		return "/"
	}
	var b strings.Builder
	for _, e := range l.stack[1:] {
		b.WriteByte('/')
		b.WriteString(e.name)
	}
	return b.String()
}

// Locate resolves path (relative to at, or the working directory if at is
// nil) to a directory, following a final symlink: ENOENT, ENOTDIR if it
// is not a directory.
func (ns *Namespace) Locate(at *Location, path string) (*Location, error) {
	var w walker
	if at != nil {
		w.at = at.stack
	}
	s, err := ns.resolveDir(&w, path)
	if err != nil {
		return nil, err
	}
	return &Location{s}, nil
}

// Cwd returns the working directory.
func (ns *Namespace) Cwd() *Location { return &Location{ns.state.Load().cwd} }

// ChdirTo makes loc the working directory (fchdir(2)).
func (ns *Namespace) ChdirTo(loc *Location) error {
	if loc == nil || len(loc.stack) == 0 {
		return syscall.EINVAL
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	st := *ns.state.Load()
	st.cwd = loc.stack
	ns.state.Store(&st)
	return nil
}

// resolveDir resolves path to a directory and returns its full stack.
func (ns *Namespace) resolveDir(w *walker, path string) ([]elem, error) {
	if len(path) >= PathMax {
		return nil, syscall.ENAMETOOLONG
	}
	// path + "/." walks into the final directory (following a final link,
	// failing with ENOTDIR on a file) and names it by ".", so the walker's
	// stack ends with it.
	if path == "" {
		return nil, syscall.ENOENT
	}
	if _, err := ns.resolve(w, path+"/.", Follow); err != nil {
		return nil, err
	}
	return w.stack(), nil
}

// Chdir makes path the working directory: ENOENT if it does not exist,
// ENOTDIR if it is not a directory.
func (ns *Namespace) Chdir(path string) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var w walker
	s, err := ns.resolveDir(&w, path)
	if err != nil {
		return err
	}
	st := *ns.state.Load()
	st.cwd = s
	ns.state.Store(&st)
	return nil
}

// Getwd returns the working directory's path, made of the names it was
// reached by: a directory renamed since Chdir keeps its old name here
// (the working directory itself still follows the directory).
func (ns *Namespace) Getwd() string { return ns.Cwd().Path() }

// Mount mounts fsys on the directory path (following a final symlink):
// lookups that reach the directory continue in fsys's root, and ".." at
// that root returns to the directory's parent. A directory may be mounted
// on more than once; the last mount hides the others until it is
// unmounted. Mounting on "/" hides the root file system. Errors: ENOENT,
// ENOTDIR, and fsys's own from Root or Stat.
func (ns *Namespace) Mount(path string, fsys FileSystem) error {
	if fsys == nil {
		return syscall.EINVAL
	}
	root, err := fsys.Root()
	if err != nil {
		return err
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	l, err := ns.Resolve(path, Follow)
	if err != nil {
		return err
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	d, ok := l.Node.(Dir)
	if !ok {
		return syscall.ENOTDIR
	}
	a, err := d.Stat()
	if err != nil {
		return err
	}
	old := ns.state.Load()
	ns.devs++
	m := &mount{fsys: fsys, root: root, dev: ns.devs, on: mountKey{l.mnt, a.Ino}}
	st := old.clone()
	st.mounts[m.on] = m
	st.covered[l.mnt]++
	if err := st.setRoot(); err != nil {
		return err
	}
	ns.state.Store(st)
	return nil
}

// Unmount detaches the file system mounted on path (the last mounted
// there). Nodes of it already in use (open files, a working directory
// inside it) keep working, as with Linux's MNT_DETACH; Unmount does not
// Close the file system, whose owner does. Errors: EINVAL if path is not
// a mount's root (the namespace's own root included), EBUSY if something
// is mounted inside it.
func (ns *Namespace) Unmount(path string) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	l, err := ns.Resolve(path, Follow)
	if err != nil {
		return err
	}
	if l.Node == nil {
		return syscall.ENOENT
	}
	if !l.MountRoot || l.mnt == nil || l.mnt.on.m == nil {
		return syscall.EINVAL
	}
	old := ns.state.Load()
	m := l.mnt
	if old.covered[m] > 0 {
		return syscall.EBUSY
	}
	st := old.clone()
	delete(st.mounts, m.on)
	if st.covered[m.on.m]--; st.covered[m.on.m] == 0 {
		delete(st.covered, m.on.m)
	}
	if err := st.setRoot(); err != nil {
		return err
	}
	ns.state.Store(st)
	return nil
}

func (st *nsState) clone() *nsState {
	n := *st
	n.mounts = make(map[mountKey]*mount, len(st.mounts)+1)
	for k, v := range st.mounts {
		n.mounts[k] = v
	}
	n.covered = make(map[*mount]int, len(st.covered)+1)
	for k, v := range st.covered {
		n.covered[k] = v
	}
	return &n
}

// setRoot recomputes the namespace root after the mounts changed.
func (st *nsState) setRoot() error {
	e := st.base
	if err := st.cross(&e); err != nil {
		return err
	}
	st.root = []elem{e}
	return nil
}

// StatFS reports the file system path is in (following a final symlink),
// as statfs(2).
func (ns *Namespace) StatFS(path string) (StatFS, error) {
	l, err := ns.Resolve(path, Follow)
	if err != nil {
		return StatFS{}, err
	}
	if l.Node == nil {
		return StatFS{}, syscall.ENOENT
	}
	return l.FileSystem().StatFS()
}
