// Package bmodfs provides a kernel's boot modules as a read-only
// fs.FileSystem: each module is a file whose path is the module's name
// ("etc/hosts"), and the directories are made from those names (the
// OSKit's bmod file system, minus writing).
//
// # Names
//
// A module name is a relative, slash-separated path whose elements are
// valid directory entry names (fs.ValidName). New refuses, with a
// *NameError naming the module and an errno: an empty name, an absolute
// name, an element that is empty ("a//b", "a/"), "." or "..", or has NUL
// (EINVAL); an element longer than fs.MaxNameLen (ENAMETOOLONG); a name
// given twice, or a name that is already a directory because an earlier
// module lies below it (EEXIST); a name below an earlier module's file
// ("etc" then "etc/hosts": ENOTDIR).
//
// # Attributes
//
// Files are mode 0444 and directories 0555, owned by root, with every time
// the Unix epoch (boot modules carry no times, and a fixed value keeps a
// kernel's view reproducible). Inode numbers are 1 for the root and then
// follow the modules' order. Every change fails with EROFS.
//
// # Execution environment
//
// The tree is built by New and never changes, so everything is safe for
// concurrent use and nothing blocks. Files are views of the modules' Data,
// not copies: the caller must not change that memory afterwards (boot
// information is never changed by the kit).
package bmodfs

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/fs"
)

// Magic is the file system type StatFS reports: Linux's ROMFS_MAGIC, the
// nearest host kind (a read-only image of files).
const Magic = 0x7275

const blockSize = 4096

// FS is a read-only file system of boot modules.
type FS struct {
	root  *dir
	nodes uint64
	bytes int64
}

// NameError is New's error for a module it cannot place. It unwraps to the
// errno (errors.Is(err, syscall.EINVAL)).
type NameError struct {
	Index  int    // the module's position in the list
	Name   string // the module's name
	Reason string
	Err    syscall.Errno
}

func (e *NameError) Error() string {
	return fmt.Sprintf("bmodfs: module %d %q: %s", e.Index, e.Name, e.Reason)
}

func (e *NameError) Unwrap() error { return e.Err }

var (
	_ fs.FileSystem = (*FS)(nil)
	_ fs.Dir        = (*dir)(nil)
	_ fs.File       = (*file)(nil)
)

var epoch = time.Unix(0, 0)

type dir struct {
	ino     uint64
	nlink   uint32
	names   []string // sorted, once New is done
	entries map[string]fs.Node
}

type file struct {
	ino  uint64
	data []byte
}

// New builds the file system from mods, in order. See the package
// documentation for the names it accepts.
func New(mods []boot.Module) (*FS, error) {
	f := &FS{}
	f.root = f.newDir()
	var dirs []*dir
	dirs = append(dirs, f.root)
	for i, m := range mods {
		fail := func(errno syscall.Errno, format string, args ...any) error {
			return &NameError{Index: i, Name: m.Name, Reason: fmt.Sprintf(format, args...), Err: errno}
		}
		switch {
		case m.Name == "":
			return nil, fail(syscall.EINVAL, "empty name")
		case m.Name[0] == '/':
			return nil, fail(syscall.EINVAL, "absolute name")
		}
		parts := strings.Split(m.Name, "/")
		for _, p := range parts {
			if err := fs.ValidName(p); err != nil {
				return nil, fail(err.(syscall.Errno), "bad element %q", trunc(p))
			}
		}
		d := f.root
		for k, p := range parts[:len(parts)-1] {
			switch e := d.entries[p].(type) {
			case nil:
				nd := f.newDir()
				dirs = append(dirs, nd)
				d.add(p, nd)
				d.nlink++
				d = nd
			case *dir:
				d = e
			default:
				return nil, fail(syscall.ENOTDIR, "%q is a file", strings.Join(parts[:k+1], "/"))
			}
		}
		last := parts[len(parts)-1]
		switch d.entries[last].(type) {
		case nil:
		case *dir:
			return nil, fail(syscall.EEXIST, "already a directory of other modules")
		default:
			return nil, fail(syscall.EEXIST, "duplicate name")
		}
		f.nodes++
		d.add(last, &file{ino: f.nodes, data: m.Data})
		f.bytes += int64(len(m.Data))
	}
	for _, d := range dirs {
		slices.Sort(d.names)
	}
	return f, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (f *FS) newDir() *dir {
	f.nodes++
	return &dir{ino: f.nodes, nlink: 2, entries: make(map[string]fs.Node)}
}

func (d *dir) add(name string, n fs.Node) {
	d.names = append(d.names, name)
	d.entries[name] = n
}

// Root returns the root directory.
func (f *FS) Root() (fs.Dir, error) { return f.root, nil }

// StatFS reports the modules' total size in 4 KiB blocks, none free.
func (f *FS) StatFS() (fs.StatFS, error) {
	return fs.StatFS{
		Type:      Magic,
		BlockSize: blockSize,
		Blocks:    uint64((f.bytes + blockSize - 1) / blockSize),
		Files:     f.nodes,
		NameLen:   fs.MaxNameLen,
	}, nil
}

// Sync does nothing: there is nothing to write.
func (f *FS) Sync() error { return nil }

// Close does nothing: the file system holds only memory.
func (f *FS) Close() error { return nil }

func rofs(op, name string) error {
	return fmt.Errorf("bmodfs: %s %q: %w", op, name, syscall.EROFS)
}

// named checks name, then refuses the change op.
func named(op, name string) error {
	if err := fs.ValidName(name); err != nil {
		return fmt.Errorf("bmodfs: %s %q: %w", op, trunc(name), err)
	}
	return rofs(op, name)
}

func (d *dir) Stat() (fs.Attr, error) {
	return fs.Attr{
		Ino: d.ino, Mode: fs.ModeDir | 0o555, Nlink: d.nlink,
		BlkSize: blockSize, Atime: epoch, Mtime: epoch, Ctime: epoch,
	}, nil
}

func (d *dir) SetAttr(a fs.SetAttr) error { return rofs("setattr", "") }

// Lookup returns the entry called name.
func (d *dir) Lookup(name string) (fs.Node, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, fmt.Errorf("bmodfs: lookup %q: %w", trunc(name), err)
	}
	n, ok := d.entries[name]
	if !ok {
		return nil, fmt.Errorf("bmodfs: lookup %q: %w", name, syscall.ENOENT)
	}
	return n, nil
}

func (d *dir) Create(name string, perm fs.Mode, owner fs.Owner) (fs.File, error) {
	return nil, named("create", name)
}

func (d *dir) Mkdir(name string, perm fs.Mode, owner fs.Owner) (fs.Dir, error) {
	return nil, named("mkdir", name)
}

func (d *dir) Symlink(name, target string, owner fs.Owner) (fs.Symlink, error) {
	return nil, named("symlink", name)
}

func (d *dir) Link(name string, node fs.Node) error { return named("link", name) }
func (d *dir) Unlink(name string) error             { return named("unlink", name) }
func (d *dir) Rmdir(name string) error              { return named("rmdir", name) }

func (d *dir) Rename(oldName string, newDir fs.Dir, newName string) error {
	if err := fs.ValidName(newName); err != nil {
		return fmt.Errorf("bmodfs: rename %q: %w", trunc(newName), err)
	}
	return named("rename", oldName)
}

// ReadDir lists entries in name order; the cookie is the index of the next
// entry.
func (d *dir) ReadDir(cookie uint64, n int) ([]fs.DirEntry, error) {
	if cookie >= uint64(len(d.names)) {
		return nil, nil
	}
	names := d.names[cookie:]
	if n > 0 && n < len(names) {
		names = names[:n]
	}
	out := make([]fs.DirEntry, len(names))
	for i, name := range names {
		e := fs.DirEntry{Name: name, Next: cookie + uint64(i) + 1}
		switch n := d.entries[name].(type) {
		case *dir:
			e.Ino, e.Type = n.ino, fs.ModeDir
		case *file:
			e.Ino, e.Type = n.ino, fs.ModeRegular
		}
		out[i] = e
	}
	return out, nil
}

func (f *file) Stat() (fs.Attr, error) {
	size := int64(len(f.data))
	return fs.Attr{
		Ino: f.ino, Mode: fs.ModeRegular | 0o444, Nlink: 1, Size: size,
		Blocks: (size + 511) / 512, BlkSize: blockSize,
		Atime: epoch, Mtime: epoch, Ctime: epoch,
	}, nil
}

func (f *file) SetAttr(a fs.SetAttr) error { return rofs("setattr", "") }

// ReadAt reads the module's data.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("bmodfs: read at %d: %w", off, syscall.EINVAL)
	}
	if off >= int64(len(f.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) WriteAt(p []byte, off int64) (int, error) { return 0, rofs("write", "") }
func (f *file) Truncate(size int64) error                { return rofs("truncate", "") }

// Sync does nothing.
func (f *file) Sync() error { return nil }
