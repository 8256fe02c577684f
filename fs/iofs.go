package fs

import (
	"io"
	iofs "io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// IOFS returns fsys as an io/fs.FS, so that fs.WalkDir, http.FileServer,
// template.ParseFS and testing/fstest work on any goskit file system.
//
// The result also implements fs.ReadDirFS, fs.StatFS, fs.ReadFileFS and
// fs.ReadLinkFS. Names follow io/fs rules (fs.ValidPath: unrooted,
// slash-separated, no "." or ".." elements, no empty elements). Open, Stat,
// ReadDir and ReadFile follow symbolic links; Lstat and ReadLink do not
// follow the last element. Link targets are interpreted with the file
// system's root as "/" — an absolute target starts at the root, and ".."
// at the root stays there, as in a chroot — so resolution never leaves
// fsys; more than MaxSymlinks links in one resolution fail with ELOOP.
//
// Opened regular files implement io.ReaderAt and io.Seeker (so
// http.FileServer serves byte ranges); opened directories implement
// fs.ReadDirFile, returning entries in the file system's order (the
// FS-level ReadDir sorts them by name, as fs.ReadDirFS requires).
// Errors are *fs.PathError values wrapping syscall.Errno values, so both
// errors.Is(err, fs.ErrNotExist) and errors.Is(err, syscall.ENOENT) hold.
// It is safe for concurrent use if fsys is; an opened file serializes its
// own calls.
func IOFS(fsys FileSystem) iofs.FS { return &ioFS{fsys: fsys} }

type ioFS struct{ fsys FileSystem }

var (
	_ iofs.ReadDirFS   = (*ioFS)(nil)
	_ iofs.StatFS      = (*ioFS)(nil)
	_ iofs.ReadFileFS  = (*ioFS)(nil)
	_ iofs.ReadLinkFS  = (*ioFS)(nil)
	_ iofs.ReadDirFile = (*ioDir)(nil)
	_ io.ReaderAt      = (*ioFile)(nil)
	_ io.Seeker        = (*ioFile)(nil)
	_ iofs.FileInfo    = (*fileInfo)(nil)
	_ iofs.DirEntry    = (*dirEntry)(nil)
	_ iofs.File        = (*ioNode)(nil)
)

// resolve checks name by io/fs rules and walks it from the root; with
// follow, a symlink as the last element is followed too. Errors are
// *fs.PathError values naming op and name.
func (f *ioFS) resolve(op, name string, follow bool) (Node, error) {
	if !iofs.ValidPath(name) {
		return nil, &iofs.PathError{Op: op, Path: name, Err: iofs.ErrInvalid}
	}
	n, err := f.walk(name, follow)
	if err != nil {
		return nil, &iofs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

func (f *ioFS) walk(name string, follow bool) (Node, error) {
	root, err := f.fsys.Root()
	if err != nil {
		return nil, err
	}
	stack := []Dir{root} // the directories from the root to the current one
	var todo []string    // elements still to resolve, in order
	if name != "." {
		todo = strings.Split(name, "/")
	}
	links := 0
	var cur Node = root
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		last := len(todo) == 0
		switch elem {
		case "", ".":
			cur = stack[len(stack)-1]
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			cur = stack[len(stack)-1]
			continue
		}
		n, err := stack[len(stack)-1].Lookup(elem)
		if err != nil {
			return nil, err
		}
		switch n := n.(type) {
		case Dir:
			cur = n
			stack = append(stack, n)
		case Symlink:
			if last && !follow {
				return n, nil
			}
			links++
			if links > MaxSymlinks {
				return nil, syscall.ELOOP
			}
			target, err := n.Readlink()
			if err != nil {
				return nil, err
			}
			if target == "" {
				return nil, syscall.ENOENT
			}
			if strings.HasPrefix(target, "/") {
				stack = stack[:1]
			}
			more := strings.Split(target, "/")
			todo = append(more, todo...)
			// The link's own name is no longer the current node; "." keeps
			// the directory we are in should the target end in "/".
			cur = stack[len(stack)-1]
		default:
			if !last {
				return nil, syscall.ENOTDIR
			}
			cur = n
		}
	}
	return cur, nil
}

// Open opens name, following symbolic links.
func (f *ioFS) Open(name string) (iofs.File, error) {
	n, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	base := path.Base(name)
	switch n := n.(type) {
	case Dir:
		return &ioDir{name: name, base: base, d: n}, nil
	case File:
		return &ioFile{name: name, base: base, f: n}, nil
	default:
		return &ioNode{name: name, base: base, n: n}, nil
	}
}

// Stat returns name's information, following symbolic links.
func (f *ioFS) Stat(name string) (iofs.FileInfo, error) {
	n, err := f.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return statInfo("stat", name, n)
}

// Lstat returns name's information without following a last symlink.
func (f *ioFS) Lstat(name string) (iofs.FileInfo, error) {
	n, err := f.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return statInfo("lstat", name, n)
}

// ReadLink returns the target of the symbolic link name.
func (f *ioFS) ReadLink(name string) (string, error) {
	n, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	l, ok := n.(Symlink)
	if !ok {
		return "", &iofs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	t, err := l.Readlink()
	if err != nil {
		return "", &iofs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

// ReadDir returns name's entries sorted by name.
func (f *ioFS) ReadDir(name string) ([]iofs.DirEntry, error) {
	n, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	d, ok := n.(Dir)
	if !ok {
		return nil, &iofs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	var out []iofs.DirEntry
	var cookie uint64
	for {
		ents, err := d.ReadDir(cookie, 256)
		if err != nil {
			return nil, &iofs.PathError{Op: "readdir", Path: name, Err: err}
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			out = append(out, &dirEntry{dir: d, e: e})
		}
		cookie = ents[len(ents)-1].Next
	}
	slices.SortFunc(out, func(a, b iofs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ReadFile returns name's whole content.
func (f *ioFS) ReadFile(name string) ([]byte, error) {
	n, err := f.resolve("readfile", name, true)
	if err != nil {
		return nil, err
	}
	file, ok := n.(File)
	if !ok {
		if _, isDir := n.(Dir); isDir {
			return nil, &iofs.PathError{Op: "readfile", Path: name, Err: syscall.EISDIR}
		}
		return nil, &iofs.PathError{Op: "readfile", Path: name, Err: syscall.EINVAL}
	}
	a, err := file.Stat()
	if err != nil {
		return nil, &iofs.PathError{Op: "readfile", Path: name, Err: err}
	}
	// The size is a hint: read until EOF, as the file may change.
	buf := make([]byte, 0, max(a.Size, 0)+1)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		n, err := file.ReadAt(buf[len(buf):cap(buf)], int64(len(buf)))
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, &iofs.PathError{Op: "readfile", Path: name, Err: err}
		}
	}
}

func statInfo(op, name string, n Node) (iofs.FileInfo, error) {
	a, err := n.Stat()
	if err != nil {
		return nil, &iofs.PathError{Op: op, Path: name, Err: err}
	}
	return &fileInfo{name: path.Base(name), a: a}, nil
}

// FileMode converts a Linux mode to an io/fs FileMode.
func (m Mode) FileMode() iofs.FileMode {
	fm := iofs.FileMode(m & 0o777)
	if m&syscall.S_ISUID != 0 {
		fm |= iofs.ModeSetuid
	}
	if m&syscall.S_ISGID != 0 {
		fm |= iofs.ModeSetgid
	}
	if m&syscall.S_ISVTX != 0 {
		fm |= iofs.ModeSticky
	}
	switch m.Type() {
	case ModeDir:
		fm |= iofs.ModeDir
	case ModeSymlink:
		fm |= iofs.ModeSymlink
	case ModeChar:
		fm |= iofs.ModeDevice | iofs.ModeCharDevice
	case ModeBlock:
		fm |= iofs.ModeDevice
	case ModeFIFO:
		fm |= iofs.ModeNamedPipe
	case ModeSocket:
		fm |= iofs.ModeSocket
	case ModeRegular:
	default:
		fm |= iofs.ModeIrregular
	}
	return fm
}

// fileInfo is an Attr as an fs.FileInfo; Sys returns the Attr.
type fileInfo struct {
	name string
	a    Attr
}

func (i *fileInfo) Name() string        { return i.name }
func (i *fileInfo) Size() int64         { return i.a.Size }
func (i *fileInfo) Mode() iofs.FileMode { return i.a.Mode.FileMode() }
func (i *fileInfo) ModTime() time.Time  { return i.a.Mtime }
func (i *fileInfo) IsDir() bool         { return i.a.Mode.IsDir() }
func (i *fileInfo) Sys() any            { return i.a }
func (i *fileInfo) String() string      { return iofs.FormatFileInfo(i) }
func (e *dirEntry) String() string      { return iofs.FormatDirEntry(e) }
func (e *dirEntry) Name() string        { return e.e.Name }
func (e *dirEntry) IsDir() bool         { return e.e.Type == ModeDir }
func (e *dirEntry) Type() iofs.FileMode { return e.e.Type.FileMode().Type() }
func (e *dirEntry) Info() (iofs.FileInfo, error) {
	n, err := e.dir.Lookup(e.e.Name)
	if err != nil {
		return nil, &iofs.PathError{Op: "lstat", Path: e.e.Name, Err: err}
	}
	return statInfo("lstat", e.e.Name, n)
}

// dirEntry is a DirEntry of a directory; Info describes the entry itself
// (a symlink, not its target), as io/fs requires.
type dirEntry struct {
	dir Dir
	e   DirEntry
}

// ioFile is an opened regular file with an offset.
type ioFile struct {
	name, base string
	f          File

	mu     sync.Mutex
	off    int64
	closed bool
}

func (f *ioFile) err(op string, err error) error {
	return &iofs.PathError{Op: op, Path: f.name, Err: err}
}

func (f *ioFile) Stat() (iofs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, f.err("stat", iofs.ErrClosed)
	}
	a, err := f.f.Stat()
	if err != nil {
		return nil, f.err("stat", err)
	}
	return &fileInfo{name: f.base, a: a}, nil
}

func (f *ioFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("read", iofs.ErrClosed)
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil // Read reports EOF on the next call
	}
	if err != nil && err != io.EOF {
		err = f.err("read", err)
	}
	return n, err
}

func (f *ioFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("read", iofs.ErrClosed)
	}
	if off < 0 {
		return 0, f.err("read", syscall.EINVAL)
	}
	n, err := f.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = f.err("read", err)
	}
	return n, err
}

func (f *ioFile) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("seek", iofs.ErrClosed)
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		a, err := f.f.Stat()
		if err != nil {
			return 0, f.err("seek", err)
		}
		base = a.Size
	default:
		return 0, f.err("seek", syscall.EINVAL)
	}
	if base+offset < 0 {
		return 0, f.err("seek", syscall.EINVAL)
	}
	f.off = base + offset
	return f.off, nil
}

func (f *ioFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.err("close", iofs.ErrClosed)
	}
	f.closed = true
	return nil
}

// ioDir is an opened directory reading entries by cookie.
type ioDir struct {
	name, base string
	d          Dir

	mu     sync.Mutex
	cookie uint64
	eof    bool
	closed bool
}

func (d *ioDir) err(op string, err error) error {
	return &iofs.PathError{Op: op, Path: d.name, Err: err}
}

func (d *ioDir) Stat() (iofs.FileInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, d.err("stat", iofs.ErrClosed)
	}
	a, err := d.d.Stat()
	if err != nil {
		return nil, d.err("stat", err)
	}
	return &fileInfo{name: d.base, a: a}, nil
}

func (d *ioDir) Read([]byte) (int, error) {
	return 0, d.err("read", syscall.EISDIR)
}

func (d *ioDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.err("close", iofs.ErrClosed)
	}
	d.closed = true
	return nil
}

// ReadDir follows fs.ReadDirFile: with n > 0 at most n entries and io.EOF
// at the end; with n <= 0 all remaining entries and a nil error.
func (d *ioDir) ReadDir(n int) ([]iofs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, d.err("readdir", iofs.ErrClosed)
	}
	var out []iofs.DirEntry
	for !d.eof && (n <= 0 || len(out) < n) {
		want := 256
		if n > 0 {
			want = n - len(out)
		}
		ents, err := d.d.ReadDir(d.cookie, want)
		if err != nil {
			return out, d.err("readdir", err)
		}
		if len(ents) == 0 {
			d.eof = true
			break
		}
		for _, e := range ents {
			out = append(out, &dirEntry{dir: d.d, e: e})
		}
		d.cookie = ents[len(ents)-1].Next
	}
	if n > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

// ioNode is an opened special node (device, FIFO, socket): it can be
// stat'ed but not read through io/fs.
type ioNode struct {
	name, base string
	n          Node
}

func (n *ioNode) Stat() (iofs.FileInfo, error) { return statInfo("stat", n.name, n.n) }
func (n *ioNode) Read([]byte) (int, error) {
	return 0, &iofs.PathError{Op: "read", Path: n.name, Err: syscall.EINVAL}
}
func (n *ioNode) Close() error { return nil }
