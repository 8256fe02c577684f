// Package fsbehave provides the behaviour suite every goskit file system
// runs: one set of operations, checked for the results and the errno values
// Linux gives, so memfs, hostfs, ext2 and the 9P client agree.
//
// An implementation's test calls [Run] with a constructor for a fresh, empty
// file system and [Options] naming what the implementation lacks. A feature
// is skipped only when the options declare it absent; an optional interface
// (fs.Mknoder, fs.Xattrer, fs.Allocater) that is not declared absent must
// be implemented, or the test fails.
//
// # Execution environment
//
// For tests only. Run uses t.Run for each group; groups do not run in
// parallel with each other (a file system under test may be a host
// directory or a network server), but the concurrency group starts its own
// goroutines. Every wait is bounded.
package fsbehave

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
)

// Options says what the file system under test cannot do. The zero value
// claims everything.
type Options struct {
	// ReadOnly: every change fails with EROFS. Only lookups, reads, ReadDir
	// paging of the root and the EROFS answers are checked; newFS may
	// return a populated tree.
	ReadOnly bool
	// NoHardLinks: Dir.Link fails (the Link group is skipped).
	NoHardLinks bool
	// NoSymlinks: Dir.Symlink fails (the Symlink group is skipped).
	NoSymlinks bool
	// NoSetOwner: owners given to Create/Mkdir/SetAttr are not stored as
	// given (a host directory run without root, a 9P server squashing ids).
	NoSetOwner bool
	// NoSetModeSpecial: the set-uid, set-gid and sticky bits are not stored.
	NoSetModeSpecial bool
	// NoMknod: the root is not an fs.Mknoder.
	NoMknod bool
	// NoXattr: nodes are not fs.Xattrers.
	NoXattr bool
	// NoAllocate: files are not fs.Allocaters.
	NoAllocate bool
	// NoSparse: holes take space (Blocks is not checked against Size).
	NoSparse bool
	// NoDirNlink: directories do not count their subdirectories in Nlink
	// (btrfs-like, or a server that reports 1).
	NoDirNlink bool
	// NoUnlinkedAccess: a file's node is unusable once its last name is
	// removed (POSIX keeps it readable and writable while open).
	NoUnlinkedAccess bool
	// NoStableCookiesUnderChange: ReadDir cookies are stable only while
	// the directory is not changed.
	NoStableCookiesUnderChange bool
	// NoTimes: timestamps are not maintained (the Times group is skipped).
	NoTimes bool
	// TimesGranularity is the resolution of stored timestamps (0: 1µs is
	// assumed). The suite sleeps somewhat longer than this between
	// operations whose timestamps it compares, and compares set times
	// after truncating to it.
	TimesGranularity time.Duration
	// SharedStatFS: the file system's usage counts change under the test
	// (a host file system other processes write to), so StatFS is checked
	// for consistency but not for how a create moves the counts.
	SharedStatFS bool
	// MaxFileSize is the largest size a file can reach (0: 1 TiB plus a
	// page is assumed possible). The large-offset checks write just below
	// min(MaxFileSize, 1 TiB).
	MaxFileSize int64
}

// Run runs the suite. newFS returns a fresh file system for one subtest
// (empty unless opts.ReadOnly); it registers its own cleanup with t.Cleanup
// (Run never closes it, so it can also check what Close leaves behind).
func Run(t *testing.T, newFS func(t *testing.T) fs.FileSystem, opts Options) {
	s := &suite{newFS: newFS, opts: opts}
	if opts.ReadOnly {
		t.Run("ReadOnly", s.readOnly)
		return
	}
	groups := []struct {
		name string
		fn   func(*testing.T)
		skip bool
	}{
		{"Root", s.root, false},
		{"Names", s.names, false},
		{"Create", s.create, false},
		{"Mkdir", s.mkdir, false},
		{"Lookup", s.lookup, false},
		{"Unlink", s.unlink, false},
		{"Rmdir", s.rmdir, false},
		{"RemovedDir", s.removedDir, false},
		{"Link", s.link, opts.NoHardLinks},
		{"Symlink", s.symlink, opts.NoSymlinks},
		{"Rename", s.rename, false},
		{"RenameDirs", s.renameDirs, false},
		{"RenameLinks", s.renameLinks, opts.NoHardLinks},
		{"CrossFS", s.crossFS, false},
		{"ReadWrite", s.readWrite, false},
		{"Truncate", s.truncate, false},
		{"Sparse", s.sparse, false},
		{"LargeOffset", s.largeOffset, false},
		{"UnlinkedFile", s.unlinkedFile, opts.NoUnlinkedAccess},
		{"ReadDir", s.readDir, false},
		{"ReadDirPaging", s.readDirPaging, false},
		{"ReadDirUnderChange", s.readDirUnderChange, opts.NoStableCookiesUnderChange},
		{"SetAttr", s.setAttr, false},
		{"Owners", s.owners, opts.NoSetOwner},
		{"Times", s.times, opts.NoTimes},
		{"Mknod", s.mknod, opts.NoMknod},
		{"Xattr", s.xattr, opts.NoXattr},
		{"Allocate", s.allocate, opts.NoAllocate},
		{"StatFS", s.statFS, false},
		{"Sync", s.sync, false},
		{"Concurrency", s.concurrency, false},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			if g.skip {
				t.Skipf("declared absent in fsbehave.Options")
			}
			g.fn(t)
		})
	}
}

type suite struct {
	newFS func(t *testing.T) fs.FileSystem
	opts  Options
}

// root returns the root of a fresh file system.
func (s *suite) rootOf(t *testing.T) (fs.FileSystem, fs.Dir) {
	t.Helper()
	fsys := s.newFS(t)
	r, err := fsys.Root()
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	return fsys, r
}

func (s *suite) fresh(t *testing.T) fs.Dir {
	t.Helper()
	_, r := s.rootOf(t)
	return r
}

// wantErr fails unless err is errno.
func wantErr(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: got error %v, want %v (%s)", what, err, errno, errName(errno))
	}
}

func errName(e syscall.Errno) string {
	names := map[syscall.Errno]string{
		syscall.ENOENT: "ENOENT", syscall.EEXIST: "EEXIST", syscall.ENOTDIR: "ENOTDIR",
		syscall.EISDIR: "EISDIR", syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EINVAL: "EINVAL",
		syscall.ENAMETOOLONG: "ENAMETOOLONG", syscall.EXDEV: "EXDEV", syscall.EPERM: "EPERM",
		syscall.EROFS: "EROFS", syscall.ENODATA: "ENODATA",
	}
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var own = fs.Owner{UID: 1234, GID: 5678}

func mkfile(t *testing.T, d fs.Dir, name string, data string) fs.File {
	t.Helper()
	f, err := d.Create(name, 0o644, own)
	must(t, "Create "+name, err)
	if data != "" {
		n, err := f.WriteAt([]byte(data), 0)
		if err != nil || n != len(data) {
			t.Fatalf("WriteAt %s: %d, %v", name, n, err)
		}
	}
	return f
}

func mkdir(t *testing.T, d fs.Dir, name string) fs.Dir {
	t.Helper()
	sub, err := d.Mkdir(name, 0o755, own)
	must(t, "Mkdir "+name, err)
	return sub
}

func stat(t *testing.T, n fs.Node) fs.Attr {
	t.Helper()
	a, err := n.Stat()
	must(t, "Stat", err)
	return a
}

func statName(t *testing.T, d fs.Dir, name string) fs.Attr {
	t.Helper()
	n, err := d.Lookup(name)
	must(t, "Lookup "+name, err)
	return stat(t, n)
}

func readAll(t *testing.T, f fs.File) string {
	t.Helper()
	a := stat(t, f)
	buf := make([]byte, a.Size)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("ReadAt: %v", err)
	}
	if n != len(buf) {
		t.Fatalf("ReadAt of %d bytes returned %d", len(buf), n)
	}
	return string(buf)
}

func content(t *testing.T, d fs.Dir, name string) string {
	t.Helper()
	n, err := d.Lookup(name)
	must(t, "Lookup "+name, err)
	f, ok := n.(fs.File)
	if !ok {
		t.Fatalf("Lookup %s: %T is not an fs.File", name, n)
	}
	return readAll(t, f)
}

// names lists a directory's entries with one ReadDir call.
func names(t *testing.T, d fs.Dir) []string {
	t.Helper()
	ents, err := d.ReadDir(0, 0)
	must(t, "ReadDir", err)
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name)
	}
	slices.Sort(ns)
	return ns
}

func (s *suite) nlinkDir(t *testing.T, d fs.Dir, want uint32) {
	t.Helper()
	if s.opts.NoDirNlink {
		return
	}
	if a := stat(t, d); a.Nlink != want {
		t.Errorf("directory Nlink = %d, want %d", a.Nlink, want)
	}
}

func (s *suite) root(t *testing.T) {
	fsys, r := s.rootOf(t)
	a := stat(t, r)
	if !a.Mode.IsDir() {
		t.Errorf("root mode %o is not a directory", a.Mode)
	}
	if a.Ino == 0 {
		t.Errorf("root Ino is 0")
	}
	s.nlinkDir(t, r, 2)
	if ns := names(t, r); len(ns) != 0 {
		t.Errorf("fresh root has entries %q", ns)
	}
	r2, err := fsys.Root()
	must(t, "Root again", err)
	if b := stat(t, r2); b.Ino != a.Ino {
		t.Errorf("Root twice: Ino %d then %d", a.Ino, b.Ino)
	}
}

var badNames = []struct {
	name  string
	errno syscall.Errno
}{
	{"", syscall.EINVAL},
	{".", syscall.EINVAL},
	{"..", syscall.EINVAL},
	{"a/b", syscall.EINVAL},
	{"/", syscall.EINVAL},
	{"a\x00b", syscall.EINVAL},
	{strings.Repeat("n", fs.MaxNameLen+1), syscall.ENAMETOOLONG},
}

func (s *suite) names(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "file", "x")
	mkdir(t, r, "dir")
	for _, bn := range badNames {
		t.Run(fmt.Sprintf("%q", trunc(bn.name)), func(t *testing.T) {
			_, err := r.Lookup(bn.name)
			wantErr(t, "Lookup", err, bn.errno)
			_, err = r.Create(bn.name, 0o644, own)
			wantErr(t, "Create", err, bn.errno)
			_, err = r.Mkdir(bn.name, 0o755, own)
			wantErr(t, "Mkdir", err, bn.errno)
			if !s.opts.NoSymlinks {
				_, err = r.Symlink(bn.name, "target", own)
				wantErr(t, "Symlink", err, bn.errno)
			}
			if !s.opts.NoHardLinks {
				wantErr(t, "Link", r.Link(bn.name, f), bn.errno)
			}
			wantErr(t, "Unlink", r.Unlink(bn.name), bn.errno)
			wantErr(t, "Rmdir", r.Rmdir(bn.name), bn.errno)
			wantErr(t, "Rename from", r.Rename(bn.name, r, "new"), bn.errno)
			wantErr(t, "Rename to", r.Rename("file", r, bn.name), bn.errno)
		})
	}
	if got := names(t, r); !slices.Equal(got, []string{"dir", "file"}) {
		t.Errorf("after bad names, root has %q", got)
	}
	long := strings.Repeat("l", fs.MaxNameLen)
	mkfile(t, r, long, "long")
	if got := content(t, r, long); got != "long" {
		t.Errorf("255-byte name: content %q", got)
	}
	odd := "sp ace\ttab\u00e9\xff-:*?"
	mkfile(t, r, odd, "odd")
	if got := content(t, r, odd); got != "odd" {
		t.Errorf("odd name: content %q", got)
	}
}

func trunc(s string) string {
	if len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

func (s *suite) create(t *testing.T) {
	r := s.fresh(t)
	f, err := r.Create("f", 0o640, own)
	must(t, "Create", err)
	a := stat(t, f)
	if a.Mode != fs.ModeRegular|0o640 {
		t.Errorf("Mode = %o, want %o", a.Mode, fs.ModeRegular|0o640)
	}
	if a.Nlink != 1 || a.Size != 0 || a.Ino == 0 {
		t.Errorf("new file: Nlink %d Size %d Ino %d, want 1, 0, nonzero", a.Nlink, a.Size, a.Ino)
	}
	if !s.opts.NoSetOwner && a.Owner != own {
		t.Errorf("Owner = %v, want %v", a.Owner, own)
	}
	_, err = r.Create("f", 0o644, own)
	wantErr(t, "Create over a file", err, syscall.EEXIST)
	mkdir(t, r, "d")
	_, err = r.Create("d", 0o644, own)
	wantErr(t, "Create over a directory", err, syscall.EEXIST)
	if !s.opts.NoSymlinks {
		_, err = r.Symlink("l", "nowhere", own)
		must(t, "Symlink", err)
		_, err = r.Create("l", 0o644, own)
		wantErr(t, "Create over a dangling symlink", err, syscall.EEXIST)
	}
	g := mkfile(t, r, "g", "")
	if stat(t, g).Ino == a.Ino {
		t.Errorf("two files share Ino %d", a.Ino)
	}
	// The special bits are stored as given.
	if !s.opts.NoSetModeSpecial {
		h, err := r.Create("h", 0o7755, own)
		must(t, "Create 07755", err)
		if m := stat(t, h).Mode; m != fs.ModeRegular|0o7755 {
			t.Errorf("Create 07755: Mode %o", m)
		}
	}
}

func (s *suite) mkdir(t *testing.T) {
	r := s.fresh(t)
	d, err := r.Mkdir("d", 0o750, own)
	must(t, "Mkdir", err)
	a := stat(t, d)
	if a.Mode != fs.ModeDir|0o750 {
		t.Errorf("Mode = %o, want %o", a.Mode, fs.ModeDir|0o750)
	}
	if !s.opts.NoSetOwner && a.Owner != own {
		t.Errorf("Owner = %v, want %v", a.Owner, own)
	}
	s.nlinkDir(t, d, 2)
	s.nlinkDir(t, r, 3)
	_, err = r.Mkdir("d", 0o755, own)
	wantErr(t, "Mkdir over a directory", err, syscall.EEXIST)
	mkfile(t, r, "f", "")
	_, err = r.Mkdir("f", 0o755, own)
	wantErr(t, "Mkdir over a file", err, syscall.EEXIST)
	mkdir(t, d, "e")
	mkdir(t, d, "e2")
	mkfile(t, d, "file", "")
	s.nlinkDir(t, d, 4)
	s.nlinkDir(t, r, 3)
	if !s.opts.NoSetModeSpecial {
		st, err := r.Mkdir("sticky", 0o1777|0o2000, own)
		must(t, "Mkdir 03777", err)
		if m := stat(t, st).Mode; m != fs.ModeDir|0o3777 {
			t.Errorf("Mkdir 03777: Mode %o", m)
		}
	}
}

func (s *suite) lookup(t *testing.T) {
	r := s.fresh(t)
	_, err := r.Lookup("missing")
	wantErr(t, "Lookup missing", err, syscall.ENOENT)
	f := mkfile(t, r, "f", "hello")
	d := mkdir(t, r, "d")
	n, err := r.Lookup("f")
	must(t, "Lookup f", err)
	if _, ok := n.(fs.File); !ok {
		t.Errorf("Lookup of a file: %T is not an fs.File", n)
	}
	if stat(t, n).Ino != stat(t, f).Ino {
		t.Errorf("Lookup f: different Ino than Create's node")
	}
	n, err = r.Lookup("d")
	must(t, "Lookup d", err)
	if _, ok := n.(fs.Dir); !ok {
		t.Errorf("Lookup of a directory: %T is not an fs.Dir", n)
	}
	if stat(t, n).Ino != stat(t, d).Ino {
		t.Errorf("Lookup d: different Ino than Mkdir's node")
	}
	mkfile(t, d, "inner", "in")
	if got := content(t, d, "inner"); got != "in" {
		t.Errorf("d/inner = %q", got)
	}
	_, err = r.Lookup("inner")
	wantErr(t, "Lookup of a name in another directory", err, syscall.ENOENT)
	// Names are case-sensitive.
	_, err = r.Lookup("F")
	wantErr(t, "Lookup F", err, syscall.ENOENT)
}

func (s *suite) unlink(t *testing.T) {
	r := s.fresh(t)
	wantErr(t, "Unlink missing", r.Unlink("missing"), syscall.ENOENT)
	mkfile(t, r, "f", "x")
	d := mkdir(t, r, "d")
	wantErr(t, "Unlink a directory", r.Unlink("d"), syscall.EISDIR)
	must(t, "Unlink f", r.Unlink("f"))
	_, err := r.Lookup("f")
	wantErr(t, "Lookup after Unlink", err, syscall.ENOENT)
	wantErr(t, "Unlink twice", r.Unlink("f"), syscall.ENOENT)
	mkfile(t, d, "g", "")
	must(t, "Unlink d/g", d.Unlink("g"))
	if ns := names(t, d); len(ns) != 0 {
		t.Errorf("after Unlink, d has %q", ns)
	}
	if !s.opts.NoSymlinks {
		mkfile(t, r, "target", "t")
		_, err := r.Symlink("l", "target", own)
		must(t, "Symlink", err)
		must(t, "Unlink symlink", r.Unlink("l"))
		if got := content(t, r, "target"); got != "t" {
			t.Errorf("Unlink of a symlink touched its target: %q", got)
		}
		_, err = r.Symlink("dl", "d", own)
		must(t, "Symlink to a directory", err)
		must(t, "Unlink symlink to a directory", r.Unlink("dl"))
	}
	if got := names(t, r); !slices.Equal(got, nonEmpty([]string{"d"}, !s.opts.NoSymlinks, "target")) {
		t.Errorf("root has %q", got)
	}
}

func nonEmpty(base []string, cond bool, extra ...string) []string {
	if cond {
		base = append(base, extra...)
	}
	slices.Sort(base)
	return base
}

func (s *suite) rmdir(t *testing.T) {
	r := s.fresh(t)
	wantErr(t, "Rmdir missing", r.Rmdir("missing"), syscall.ENOENT)
	mkfile(t, r, "f", "")
	wantErr(t, "Rmdir a file", r.Rmdir("f"), syscall.ENOTDIR)
	if !s.opts.NoSymlinks {
		mkdir(t, r, "target")
		_, err := r.Symlink("l", "target", own)
		must(t, "Symlink", err)
		wantErr(t, "Rmdir a symlink to a directory", r.Rmdir("l"), syscall.ENOTDIR)
		must(t, "Rmdir target", r.Rmdir("target"))
	}
	d := mkdir(t, r, "d")
	mkfile(t, d, "x", "")
	wantErr(t, "Rmdir non-empty", r.Rmdir("d"), syscall.ENOTEMPTY)
	mkdir(t, r, "d2")
	mkdir(t, d, "sub")
	s.nlinkDir(t, r, 4)
	s.nlinkDir(t, d, 3)
	must(t, "Unlink d/x", d.Unlink("x"))
	wantErr(t, "Rmdir with a subdirectory", r.Rmdir("d"), syscall.ENOTEMPTY)
	must(t, "Rmdir d/sub", d.Rmdir("sub"))
	s.nlinkDir(t, d, 2)
	must(t, "Rmdir d", r.Rmdir("d"))
	s.nlinkDir(t, r, 3)
	_, err := r.Lookup("d")
	wantErr(t, "Lookup after Rmdir", err, syscall.ENOENT)
	must(t, "Rmdir d2", r.Rmdir("d2"))
	s.nlinkDir(t, r, 2)
}

// removedDir: a directory node kept after its removal accepts no new entries.
func (s *suite) removedDir(t *testing.T) {
	r := s.fresh(t)
	d := mkdir(t, r, "d")
	must(t, "Rmdir", r.Rmdir("d"))
	_, err := d.Create("f", 0o644, own)
	wantErr(t, "Create in a removed directory", err, syscall.ENOENT)
	_, err = d.Mkdir("e", 0o755, own)
	wantErr(t, "Mkdir in a removed directory", err, syscall.ENOENT)
	_, err = d.Lookup("f")
	wantErr(t, "Lookup in a removed directory", err, syscall.ENOENT)
	ents, err := d.ReadDir(0, 0)
	if err == nil && len(ents) != 0 {
		t.Errorf("ReadDir of a removed directory: %v", ents)
	}
	if !s.opts.NoDirNlink {
		if a := stat(t, d); a.Nlink != 0 {
			t.Errorf("removed directory Nlink = %d, want 0", a.Nlink)
		}
	}
}

func (s *suite) link(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "shared")
	d := mkdir(t, r, "d")
	must(t, "Link", d.Link("g", f))
	a, b := stat(t, f), statName(t, d, "g")
	if a.Ino != b.Ino || a.Nlink != 2 || b.Nlink != 2 {
		t.Errorf("after Link: Ino %d/%d Nlink %d/%d, want equal and 2", a.Ino, b.Ino, a.Nlink, b.Nlink)
	}
	if got := content(t, d, "g"); got != "shared" {
		t.Errorf("link content %q", got)
	}
	_, err := f.WriteAt([]byte("SHARED"), 0)
	must(t, "WriteAt", err)
	if got := content(t, d, "g"); got != "SHARED" {
		t.Errorf("write through one name, other reads %q", got)
	}
	must(t, "Link 3", r.Link("h", f))
	if a := stat(t, f); a.Nlink != 3 {
		t.Errorf("Nlink = %d, want 3", a.Nlink)
	}
	wantErr(t, "Link over an existing name", r.Link("h", f), syscall.EEXIST)
	wantErr(t, "Link over a directory", r.Link("d", f), syscall.EEXIST)
	wantErr(t, "Link of a directory", r.Link("dlink", d), syscall.EPERM)
	must(t, "Unlink f", r.Unlink("f"))
	if a := stat(t, f); a.Nlink != 2 {
		t.Errorf("after Unlink, Nlink = %d, want 2", a.Nlink)
	}
	must(t, "Unlink h", r.Unlink("h"))
	if got := content(t, d, "g"); got != "SHARED" {
		t.Errorf("last link content %q", got)
	}
	if a := statName(t, d, "g"); a.Nlink != 1 {
		t.Errorf("Nlink = %d, want 1", a.Nlink)
	}
	if !s.opts.NoSymlinks {
		l, err := r.Symlink("sl", "target", own)
		must(t, "Symlink", err)
		must(t, "Link of a symlink", r.Link("sl2", l))
		n, err := r.Lookup("sl2")
		must(t, "Lookup sl2", err)
		sl, ok := n.(fs.Symlink)
		if !ok {
			t.Fatalf("hard link to a symlink is %T", n)
		}
		if tg, err := sl.Readlink(); err != nil || tg != "target" {
			t.Errorf("Readlink of the link's link: %q, %v", tg, err)
		}
		if a := stat(t, l); a.Nlink != 2 {
			t.Errorf("symlink Nlink = %d, want 2", a.Nlink)
		}
	}
}

func (s *suite) symlink(t *testing.T) {
	r := s.fresh(t)
	targets := []string{
		"plain", "../up/../and/down", "/absolute/path", "trailing/", "a//b", "dangling-nowhere",
		".", "..", strings.Repeat("x/", 1000) + "end", "sp ace\nnewline",
	}
	for i, tg := range targets {
		name := fmt.Sprintf("l%d", i)
		l, err := r.Symlink(name, tg, own)
		must(t, "Symlink "+trunc(tg), err)
		n, err := r.Lookup(name)
		must(t, "Lookup", err)
		sl, ok := n.(fs.Symlink)
		if !ok {
			t.Fatalf("Lookup of a symlink: %T is not an fs.Symlink", n)
		}
		got, err := sl.Readlink()
		must(t, "Readlink", err)
		if got != tg {
			t.Errorf("Readlink = %q, want %q", trunc(got), trunc(tg))
		}
		a := stat(t, l)
		if a.Mode.Type() != fs.ModeSymlink {
			t.Errorf("symlink Mode %o", a.Mode)
		}
		if a.Size != int64(len(tg)) {
			t.Errorf("symlink Size = %d, want %d", a.Size, len(tg))
		}
		if !s.opts.NoSetOwner && a.Owner != own {
			t.Errorf("symlink Owner = %v", a.Owner)
		}
	}
	// Lookup does not follow: a link to a file or a directory is a link.
	mkfile(t, r, "file", "f")
	mkdir(t, r, "dir")
	for _, tg := range []string{"file", "dir"} {
		_, err := r.Symlink("to"+tg, tg, own)
		must(t, "Symlink", err)
		n, err := r.Lookup("to" + tg)
		must(t, "Lookup", err)
		if _, ok := n.(fs.Symlink); !ok {
			t.Errorf("Lookup of a symlink to a %s followed it: %T", tg, n)
		}
		if _, ok := n.(fs.Dir); ok {
			t.Errorf("symlink to a directory is an fs.Dir")
		}
	}
	_, err := r.Symlink("file", "x", own)
	wantErr(t, "Symlink over a file", err, syscall.EEXIST)
	_, err = r.Symlink("l0", "x", own)
	wantErr(t, "Symlink over a symlink", err, syscall.EEXIST)
	_, err = r.Symlink("empty", "", own)
	wantErr(t, "Symlink to an empty target", err, syscall.ENOENT)
}

func (s *suite) rename(t *testing.T) {
	r := s.fresh(t)
	wantErr(t, "Rename missing", r.Rename("missing", r, "x"), syscall.ENOENT)
	f := mkfile(t, r, "a", "A")
	ino := stat(t, f).Ino
	must(t, "Rename a b", r.Rename("a", r, "b"))
	_, err := r.Lookup("a")
	wantErr(t, "old name after Rename", err, syscall.ENOENT)
	if a := statName(t, r, "b"); a.Ino != ino {
		t.Errorf("renamed file Ino %d, want %d", a.Ino, ino)
	}
	// The node obtained before the rename still works.
	_, err = f.WriteAt([]byte("B"), 0)
	must(t, "WriteAt after Rename", err)
	if got := content(t, r, "b"); got != "B" {
		t.Errorf("content %q", got)
	}
	// Onto itself: nothing happens.
	must(t, "Rename onto itself", r.Rename("b", r, "b"))
	if got := content(t, r, "b"); got != "B" {
		t.Errorf("after Rename onto itself: %q", got)
	}
	// Replacing a file: the old target is gone, the source takes its name.
	old := mkfile(t, r, "c", "C")
	must(t, "Rename b c", r.Rename("b", r, "c"))
	if got := content(t, r, "c"); got != "B" {
		t.Errorf("replaced file reads %q, want B", got)
	}
	if got := names(t, r); !slices.Equal(got, []string{"c"}) {
		t.Errorf("root has %q", got)
	}
	if a := stat(t, old); a.Nlink != 0 {
		t.Errorf("replaced file Nlink = %d, want 0", a.Nlink)
	}
	// Across directories.
	d := mkdir(t, r, "d")
	must(t, "Rename into d", r.Rename("c", d, "c2"))
	if got := content(t, d, "c2"); got != "B" {
		t.Errorf("d/c2 = %q", got)
	}
	// File onto a directory, and onto a missing directory's name.
	mkfile(t, r, "f", "")
	mkdir(t, r, "e")
	wantErr(t, "Rename file onto a directory", r.Rename("f", r, "e"), syscall.EISDIR)
	// Directory onto a file.
	wantErr(t, "Rename directory onto a file", r.Rename("e", r, "f"), syscall.ENOTDIR)
	if !s.opts.NoSymlinks {
		_, err := r.Symlink("s", "f", own)
		must(t, "Symlink", err)
		must(t, "Rename symlink", r.Rename("s", d, "s2"))
		n, err := d.Lookup("s2")
		must(t, "Lookup s2", err)
		if sl, ok := n.(fs.Symlink); !ok {
			t.Errorf("renamed symlink is %T", n)
		} else if tg, _ := sl.Readlink(); tg != "f" {
			t.Errorf("renamed symlink target %q", tg)
		}
		// A symlink replaces a file, and a file replaces a symlink.
		must(t, "Rename symlink onto a file", d.Rename("s2", r, "f"))
		n, _ = r.Lookup("f")
		if _, ok := n.(fs.Symlink); !ok {
			t.Errorf("after replacing a file with a symlink: %T", n)
		}
	}
}

func (s *suite) renameDirs(t *testing.T) {
	r := s.fresh(t)
	a := mkdir(t, r, "a")
	b := mkdir(t, a, "b")
	c := mkdir(t, b, "c")
	mkfile(t, c, "f", "deep")
	// Into its own subdirectory: EINVAL, whatever the target name.
	wantErr(t, "Rename a into a/b", r.Rename("a", b, "x"), syscall.EINVAL)
	wantErr(t, "Rename a into a/b/c", r.Rename("a", c, "x"), syscall.EINVAL)
	wantErr(t, "Rename a into a", r.Rename("a", a, "x"), syscall.EINVAL)
	wantErr(t, "Rename a/b into a/b/c", a.Rename("b", c, "b"), syscall.EINVAL)
	// Onto itself: nothing happens.
	must(t, "Rename directory onto itself", r.Rename("a", r, "a"))
	// Onto a non-empty directory.
	x := mkdir(t, r, "x")
	mkfile(t, x, "keep", "")
	wantErr(t, "Rename onto a non-empty directory", a.Rename("b", r, "x"), syscall.ENOTEMPTY)
	// Onto an ancestor of the source: ENOTEMPTY before any type check, so a
	// file moved onto its own parent's parent gets it too (Linux's order).
	wantErr(t, "Rename a/b/c/f onto a", c.Rename("f", r, "a"), syscall.ENOTEMPTY)
	wantErr(t, "Rename a/b/c/f onto a/b/c", c.Rename("f", b, "c"), syscall.ENOTEMPTY)
	wantErr(t, "Rename a/b/c onto a", b.Rename("c", r, "a"), syscall.ENOTEMPTY)
	// Onto an empty directory: replaced, link counts follow.
	mkdir(t, r, "empty")
	s.nlinkDir(t, r, 5) // a, x, empty
	s.nlinkDir(t, a, 3)
	emptyNode, err := r.Lookup("empty")
	must(t, "Lookup empty", err)
	must(t, "Rename a/b onto empty", a.Rename("b", r, "empty"))
	s.nlinkDir(t, r, 5) // a, x, empty(=b)
	s.nlinkDir(t, a, 2)
	if !s.opts.NoDirNlink {
		if st := stat(t, emptyNode); st.Nlink != 0 {
			t.Errorf("replaced directory Nlink = %d, want 0", st.Nlink)
		}
	}
	if got := content(t, c, "f"); got != "deep" {
		t.Errorf("moved tree: %q", got)
	}
	n, err := r.Lookup("empty")
	must(t, "Lookup empty", err)
	if stat(t, n).Ino != stat(t, b).Ino {
		t.Errorf("empty is not the moved b")
	}
	// Moving a directory between parents updates both parents' counts.
	must(t, "Rename empty into x", r.Rename("empty", x, "b"))
	s.nlinkDir(t, r, 4)
	s.nlinkDir(t, x, 3)
	// The moved directory's subtree is reachable by its new path, and a
	// directory moved below it may again not hold its ancestor.
	n, err = x.Lookup("b")
	must(t, "Lookup x/b", err)
	wantErr(t, "Rename x into x/b/c", r.Rename("x", c, "x"), syscall.EINVAL)
	if stat(t, n).Ino != stat(t, b).Ino {
		t.Errorf("x/b is not b")
	}
	// Sibling whose name shares a prefix is not a descendant.
	mkdir(t, r, "ab")
	must(t, "Rename a into ab", r.Rename("a", mustDir(t, r, "ab"), "a"))
}

func mustDir(t *testing.T, d fs.Dir, name string) fs.Dir {
	t.Helper()
	n, err := d.Lookup(name)
	must(t, "Lookup "+name, err)
	sub, ok := n.(fs.Dir)
	if !ok {
		t.Fatalf("%s is %T, not a directory", name, n)
	}
	return sub
}

// renameLinks: renaming one hard link onto another of the same file does
// nothing (rename(2): both names stay).
func (s *suite) renameLinks(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "a", "x")
	must(t, "Link", r.Link("b", f))
	must(t, "Rename a onto its other link b", r.Rename("a", r, "b"))
	if got := names(t, r); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after Rename between links of one file: %q, want both", got)
	}
	if a := stat(t, f); a.Nlink != 2 {
		t.Errorf("Nlink = %d, want 2", a.Nlink)
	}
	// Replacing a file that has another link keeps it alive.
	g := mkfile(t, r, "g", "G")
	must(t, "Link g2", r.Link("g2", g))
	must(t, "Rename a onto g", r.Rename("a", r, "g"))
	if a := stat(t, g); a.Nlink != 1 {
		t.Errorf("replaced linked file Nlink = %d, want 1", a.Nlink)
	}
	if got := content(t, r, "g2"); got != "G" {
		t.Errorf("g2 = %q", got)
	}
}

// crossFS: links and renames between two file systems fail with EXDEV.
func (s *suite) crossFS(t *testing.T) {
	r1 := s.fresh(t)
	r2 := s.fresh(t)
	f := mkfile(t, r1, "f", "x")
	wantErr(t, "Rename across file systems", r1.Rename("f", r2, "f"), syscall.EXDEV)
	if !s.opts.NoHardLinks {
		wantErr(t, "Link across file systems", r2.Link("f", f), syscall.EXDEV)
	}
	if got := names(t, r2); len(got) != 0 {
		t.Errorf("second file system has %q", got)
	}
	if got := content(t, r1, "f"); got != "x" {
		t.Errorf("f = %q", got)
	}
}

func (s *suite) readWrite(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "")
	buf := make([]byte, 10)
	n, err := f.ReadAt(buf, 0)
	if n != 0 || err != io.EOF {
		t.Errorf("ReadAt of an empty file: %d, %v; want 0, io.EOF", n, err)
	}
	data := []byte("0123456789abcdef")
	n, err = f.WriteAt(data, 0)
	if n != len(data) || err != nil {
		t.Fatalf("WriteAt: %d, %v", n, err)
	}
	if a := stat(t, f); a.Size != int64(len(data)) {
		t.Errorf("Size = %d", a.Size)
	}
	cases := []struct {
		off   int64
		n     int
		want  string
		isEOF bool
	}{
		{0, 16, "0123456789abcdef", false},
		{0, 4, "0123", false},
		{10, 6, "abcdef", false},
		{10, 10, "abcdef", true},
		{16, 4, "", true},
		{100, 4, "", true},
	}
	for _, c := range cases {
		p := make([]byte, c.n)
		n, err := f.ReadAt(p, c.off)
		if string(p[:n]) != c.want || (err == io.EOF) != c.isEOF || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt(%d bytes, off %d) = %q, %v; want %q, EOF %v", c.n, c.off, p[:n], err, c.want, c.isEOF)
		}
	}
	// Overwrite in the middle, extend at the end.
	_, err = f.WriteAt([]byte("XY"), 4)
	must(t, "WriteAt", err)
	_, err = f.WriteAt([]byte("END"), 16)
	must(t, "WriteAt", err)
	if got := readAll(t, f); got != "0123XY6789abcdefEND" {
		t.Errorf("content %q", got)
	}
	// Zero-length write past the end does not extend.
	n, err = f.WriteAt(nil, 1000)
	if n != 0 || err != nil {
		t.Errorf("empty WriteAt: %d, %v", n, err)
	}
	if a := stat(t, f); a.Size != 19 {
		t.Errorf("after empty write, Size = %d, want 19", a.Size)
	}
	_, err = f.ReadAt(buf, -1)
	wantErr(t, "ReadAt negative offset", err, syscall.EINVAL)
	_, err = f.WriteAt(buf, -1)
	wantErr(t, "WriteAt negative offset", err, syscall.EINVAL)
	// A write crossing many internal pages, unaligned.
	big := make([]byte, 3*65536+123)
	for i := range big {
		big[i] = byte(i*7 + i>>9)
	}
	_, err = f.WriteAt(big, 4095)
	must(t, "WriteAt big", err)
	got := make([]byte, len(big))
	n, err = f.ReadAt(got, 4095)
	if n != len(big) || (err != nil && err != io.EOF) || !bytes.Equal(got, big) {
		t.Errorf("big unaligned round trip: %d bytes, %v, equal %v", n, err, bytes.Equal(got, big))
	}
}

func (s *suite) truncate(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "hello world")
	must(t, "Truncate shrink", f.Truncate(5))
	if got := readAll(t, f); got != "hello" {
		t.Errorf("after shrink: %q", got)
	}
	must(t, "Truncate grow", f.Truncate(8))
	if got := readAll(t, f); got != "hello\x00\x00\x00" {
		t.Errorf("after grow: %q (old bytes must not come back)", got)
	}
	must(t, "Truncate 0", f.Truncate(0))
	if a := stat(t, f); a.Size != 0 {
		t.Errorf("Size = %d", a.Size)
	}
	wantErr(t, "Truncate negative", f.Truncate(-1), syscall.EINVAL)
	// Shrink inside a page then grow past it: the tail reads zeros.
	data := bytes.Repeat([]byte{0xaa}, 10000)
	_, err := f.WriteAt(data, 0)
	must(t, "WriteAt", err)
	must(t, "Truncate 3000", f.Truncate(3000))
	must(t, "Truncate 10000", f.Truncate(10000))
	got := make([]byte, 10000)
	n, err := f.ReadAt(got, 0)
	if n != 10000 || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	if !bytes.Equal(got[:3000], data[:3000]) || !bytes.Equal(got[3000:], make([]byte, 7000)) {
		t.Errorf("shrink then grow: data beyond 3000 is not zero")
	}
	// SetAttr with SetSize truncates too.
	must(t, "SetAttr size", f.SetAttr(fs.SetAttr{Valid: fs.SetSize, Size: 7}))
	if a := stat(t, f); a.Size != 7 {
		t.Errorf("SetAttr size: Size = %d", a.Size)
	}
	d := mkdir(t, r, "d")
	wantErr(t, "SetAttr size of a directory", d.SetAttr(fs.SetAttr{Valid: fs.SetSize, Size: 0}), syscall.EISDIR)
}

func (s *suite) sparse(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "")
	const off = 64 << 20
	_, err := f.WriteAt([]byte("tail"), off)
	must(t, "WriteAt at 64 MiB", err)
	a := stat(t, f)
	if a.Size != off+4 {
		t.Errorf("Size = %d, want %d", a.Size, off+4)
	}
	if !s.opts.NoSparse && a.Blocks*512 >= a.Size/2 {
		t.Errorf("Blocks = %d (%d bytes) for a file of %d bytes with a 64 MiB hole", a.Blocks, a.Blocks*512, a.Size)
	}
	for _, o := range []int64{0, 4096, 1 << 20, off - 100} {
		p := make([]byte, 100)
		for i := range p {
			p[i] = 0xff
		}
		n, err := f.ReadAt(p, o)
		if n != 100 || err != nil {
			t.Errorf("ReadAt hole at %d: %d, %v", o, n, err)
		}
		if !bytes.Equal(p, make([]byte, 100)) {
			t.Errorf("hole at %d does not read as zeros", o)
		}
	}
	p := make([]byte, 8)
	n, err := f.ReadAt(p, off-4)
	if n != 8 || string(p) != "\x00\x00\x00\x00tail" || (err != nil && err != io.EOF) {
		t.Errorf("read across hole end: %q, %v", p[:n], err)
	}
	// Truncate growing adds a hole too.
	g := mkfile(t, r, "g", "x")
	must(t, "Truncate", g.Truncate(1<<30))
	if a := stat(t, g); !s.opts.NoSparse && a.Blocks*512 > 1<<20 {
		t.Errorf("1 GiB truncated file: %d blocks", a.Blocks)
	}
}

func (s *suite) largeOffset(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "")
	off := int64(1 << 40)
	if s.opts.MaxFileSize > 0 && s.opts.MaxFileSize < off+8 {
		off = s.opts.MaxFileSize - 8
	}
	_, err := f.WriteAt([]byte("far away"), off)
	must(t, fmt.Sprintf("WriteAt at %d", off), err)
	if a := stat(t, f); a.Size != off+8 {
		t.Errorf("Size = %d, want %d", a.Size, off+8)
	}
	p := make([]byte, 16)
	n, err := f.ReadAt(p, off-8)
	if n != 16 || string(p) != "\x00\x00\x00\x00\x00\x00\x00\x00far away" || (err != nil && err != io.EOF) {
		t.Errorf("ReadAt near %d: %q, %v", off, p[:n], err)
	}
	must(t, "Truncate", f.Truncate(off/2))
	if a := stat(t, f); a.Size != off/2 {
		t.Errorf("Size = %d", a.Size)
	}
	if !s.opts.NoSparse {
		if a := stat(t, f); a.Blocks > 8 {
			t.Errorf("after truncating away the only data, Blocks = %d", a.Blocks)
		}
	}
}

func (s *suite) unlinkedFile(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "still here")
	must(t, "Unlink", r.Unlink("f"))
	if got := readAll(t, f); got != "still here" {
		t.Errorf("unlinked file reads %q", got)
	}
	_, err := f.WriteAt([]byte("!"), 10)
	must(t, "WriteAt on an unlinked file", err)
	if a := stat(t, f); a.Nlink != 0 || a.Size != 11 {
		t.Errorf("unlinked file: Nlink %d Size %d, want 0, 11", a.Nlink, a.Size)
	}
}

func (s *suite) readDir(t *testing.T) {
	r := s.fresh(t)
	ents, err := r.ReadDir(0, 0)
	must(t, "ReadDir empty", err)
	if len(ents) != 0 {
		t.Errorf("empty directory: %v", ents)
	}
	f := mkfile(t, r, "file", "")
	d := mkdir(t, r, "dir")
	want := map[string]struct {
		typ fs.Mode
		ino uint64
	}{
		"file": {fs.ModeRegular, stat(t, f).Ino},
		"dir":  {fs.ModeDir, stat(t, d).Ino},
	}
	if !s.opts.NoSymlinks {
		l, err := r.Symlink("link", "file", own)
		must(t, "Symlink", err)
		want["link"] = struct {
			typ fs.Mode
			ino uint64
		}{fs.ModeSymlink, stat(t, l).Ino}
	}
	ents, err = r.ReadDir(0, -1)
	must(t, "ReadDir", err)
	if len(ents) != len(want) {
		t.Errorf("ReadDir: %d entries, want %d: %v", len(ents), len(want), ents)
	}
	for _, e := range ents {
		w, ok := want[e.Name]
		if !ok {
			t.Errorf("unexpected entry %q", e.Name)
			continue
		}
		if e.Type != w.typ || e.Ino != w.ino {
			t.Errorf("entry %q: Type %o Ino %d, want %o %d", e.Name, e.Type, e.Ino, w.typ, w.ino)
		}
		delete(want, e.Name)
	}
	// Past the last entry: nothing.
	if len(ents) > 0 {
		more, err := r.ReadDir(ents[len(ents)-1].Next, 0)
		must(t, "ReadDir at end", err)
		if len(more) != 0 {
			t.Errorf("ReadDir after the last cookie: %v", more)
		}
	}
}

func (s *suite) readDirPaging(t *testing.T) {
	r := s.fresh(t)
	const N = 300
	for i := range N {
		if i%10 == 0 {
			mkdir(t, r, fmt.Sprintf("d%03d", i))
		} else {
			mkfile(t, r, fmt.Sprintf("f%03d", i), "")
		}
	}
	for _, n := range []int{1, 2, 7, 64, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			seen := pageAll(t, r, n, nil)
			if len(seen) != N {
				t.Errorf("paging by %d saw %d names, want %d", n, len(seen), N)
			}
			for name, c := range seen {
				if c != 1 {
					t.Errorf("paging by %d saw %q %d times", n, name, c)
				}
			}
		})
	}
	// A cookie can be reused: reading from the same place twice gives the same entries.
	first, err := r.ReadDir(0, 10)
	must(t, "ReadDir", err)
	if len(first) != 10 {
		t.Fatalf("ReadDir(0, 10): %d entries", len(first))
	}
	a, err := r.ReadDir(first[4].Next, 3)
	must(t, "ReadDir", err)
	b, err := r.ReadDir(first[4].Next, 3)
	must(t, "ReadDir", err)
	if !slices.EqualFunc(a, b, func(x, y fs.DirEntry) bool { return x.Name == y.Name }) || len(a) != 3 {
		t.Errorf("same cookie twice: %v then %v", a, b)
	}
	if a[0].Name != first[5].Name {
		t.Errorf("cookie of entry 4 continues at %q, want %q", a[0].Name, first[5].Name)
	}
}

// pageAll reads the whole directory n entries at a time, calling between
// (if not nil) after each page; it returns how often each name was seen.
func pageAll(t *testing.T, d fs.Dir, n int, between func(page []fs.DirEntry)) map[string]int {
	t.Helper()
	seen := map[string]int{}
	var cookie uint64
	for calls := 0; ; calls++ {
		if calls > 100000 {
			t.Fatalf("ReadDir paging by %d does not end", n)
		}
		page, err := d.ReadDir(cookie, n)
		must(t, "ReadDir", err)
		if len(page) == 0 {
			return seen
		}
		if len(page) > n {
			t.Fatalf("ReadDir(n=%d) returned %d entries", n, len(page))
		}
		for _, e := range page {
			seen[e.Name]++
		}
		cookie = page[len(page)-1].Next
		if between != nil {
			between(page)
		}
	}
}

// readDirUnderChange: entries neither added nor removed while paging are
// each seen exactly once, and removed ones that were not yet seen are not seen.
func (s *suite) readDirUnderChange(t *testing.T) {
	r := s.fresh(t)
	const N = 200
	for i := range N {
		mkfile(t, r, fmt.Sprintf("f%03d", i), "")
	}
	removed := map[string]bool{}
	added := 0
	seen := pageAll(t, r, 3, func(page []fs.DirEntry) {
		// Remove what was just seen and one entry not yet seen (if any
		// remain by our numbering), and add a new one.
		for _, e := range page {
			if strings.HasPrefix(e.Name, "f") && !removed[e.Name] {
				must(t, "Unlink seen", r.Unlink(e.Name))
				removed[e.Name] = true
			}
		}
		for i := N - 1; i >= 0; i-- {
			name := fmt.Sprintf("f%03d", i)
			if !removed[name] {
				must(t, "Unlink unseen", r.Unlink(name))
				removed[name] = true
				removed["unseen:"+name] = true
				break
			}
		}
		if added < 50 {
			mkfile(t, r, fmt.Sprintf("new%03d", added), "")
			added++
		}
	})
	for i := range N {
		name := fmt.Sprintf("f%03d", i)
		c := seen[name]
		switch {
		case removed["unseen:"+name] && c != 0:
			t.Errorf("%s was removed before it was reached but was seen %d times", name, c)
		case !removed["unseen:"+name] && c != 1:
			t.Errorf("%s seen %d times, want once", name, c)
		}
	}
	for name, c := range seen {
		if c > 1 {
			t.Errorf("%s seen %d times", name, c)
		}
	}
}

func (s *suite) setAttr(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "data")
	d := mkdir(t, r, "d")
	modes := []fs.Mode{0, 0o600, 0o777, 0o4755, 0o2755, 0o1777, 0o7777, 0o7000}
	for _, n := range []struct {
		name string
		node fs.Node
		typ  fs.Mode
	}{{"file", f, fs.ModeRegular}, {"dir", d, fs.ModeDir}} {
		for _, m := range modes {
			if s.opts.NoSetModeSpecial && m&0o7000 != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%04o", n.name, m), func(t *testing.T) {
				// The type bits in SetAttr.Mode are ignored: the type never changes.
				must(t, "SetAttr mode", n.node.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: m | fs.ModeSymlink&^n.typ}))
				if got := stat(t, n.node).Mode; got != n.typ|m {
					t.Errorf("Mode = %o, want %o", got, n.typ|m)
				}
			})
		}
	}
	must(t, "SetAttr mode back", d.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o755}))
	if got := content(t, r, "f"); got != "data" {
		t.Errorf("SetAttr mode changed content: %q", got)
	}
	if !s.opts.NoSymlinks {
		l, err := r.Symlink("l", "f", own)
		must(t, "Symlink", err)
		// Changing a symlink's own times works (lutimes); its mode is not checked.
		mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		if err := l.SetAttr(fs.SetAttr{Valid: fs.SetMtime, Mtime: mt}); err != nil {
			t.Errorf("SetAttr mtime of a symlink: %v", err)
		} else if got := stat(t, l).Mtime; !got.Equal(mt) {
			t.Errorf("symlink Mtime = %v, want %v", got, mt)
		}
		if got := statName(t, r, "f").Mtime; got.Equal(mt) {
			t.Errorf("SetAttr on a symlink changed its target")
		}
	}
}

func (s *suite) owners(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "")
	d := mkdir(t, r, "d")
	nodes := []fs.Node{f, d}
	if !s.opts.NoSymlinks {
		l, err := r.Symlink("l", "f", own)
		must(t, "Symlink", err)
		nodes = append(nodes, l)
	}
	for i, n := range nodes {
		must(t, "SetAttr uid", n.SetAttr(fs.SetAttr{Valid: fs.SetUID, Owner: fs.Owner{UID: 42, GID: 999}}))
		if o := stat(t, n).Owner; o != (fs.Owner{UID: 42, GID: own.GID}) {
			t.Errorf("node %d: after SetUID only: %v", i, o)
		}
		must(t, "SetAttr gid", n.SetAttr(fs.SetAttr{Valid: fs.SetGID, Owner: fs.Owner{UID: 999, GID: 43}}))
		if o := stat(t, n).Owner; o != (fs.Owner{UID: 42, GID: 43}) {
			t.Errorf("node %d: after SetGID only: %v", i, o)
		}
		must(t, "SetAttr both", n.SetAttr(fs.SetAttr{Valid: fs.SetUID | fs.SetGID, Owner: fs.Owner{UID: 0, GID: 65534}}))
		if o := stat(t, n).Owner; o != (fs.Owner{UID: 0, GID: 65534}) {
			t.Errorf("node %d: after both: %v", i, o)
		}
	}
	// Owner changes keep the special mode bits as stored (no credential logic here).
	if !s.opts.NoSetModeSpecial {
		must(t, "SetAttr mode", f.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o6755}))
		must(t, "SetAttr owner", f.SetAttr(fs.SetAttr{Valid: fs.SetUID | fs.SetGID, Owner: own}))
		if m := stat(t, f).Mode; m != fs.ModeRegular|0o6755 {
			t.Logf("note: chown changed mode %o to %o (Linux clears set-uid on chown)", 0o6755, m)
		}
	}
}

// pause sleeps long enough that a later timestamp differs from an earlier one.
func (s *suite) pause() {
	g := s.opts.TimesGranularity
	if g < time.Microsecond {
		g = time.Microsecond
	}
	time.Sleep(2*g + time.Millisecond)
}

func (s *suite) times(t *testing.T) {
	r := s.fresh(t)
	before := time.Now().Add(-s.opts.TimesGranularity - time.Second)
	f := mkfile(t, r, "f", "")
	a := stat(t, f)
	for _, ts := range []time.Time{a.Atime, a.Mtime, a.Ctime} {
		if ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("new file's times %v %v %v are not now", a.Atime, a.Mtime, a.Ctime)
			break
		}
	}
	type step struct {
		name        string
		do          func()
		node        func() fs.Node
		mtime, ctim bool // must change
	}
	rootNode := func() fs.Node { return r }
	fileNode := func() fs.Node { return f }
	var d fs.Dir
	steps := []step{
		{"write changes file mtime, ctime", func() { _, err := f.WriteAt([]byte("x"), 0); must(t, "WriteAt", err) }, fileNode, true, true},
		{"truncate changes file mtime, ctime", func() { must(t, "Truncate", f.Truncate(100)) }, fileNode, true, true},
		{"chmod changes ctime only", func() { must(t, "SetAttr", f.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o600})) }, fileNode, false, true},
		{"create changes dir mtime, ctime", func() { mkfile(t, r, "g", "") }, rootNode, true, true},
		{"mkdir changes dir mtime, ctime", func() { d = mkdir(t, r, "d") }, rootNode, true, true},
		{"unlink changes dir mtime, ctime", func() { must(t, "Unlink", r.Unlink("g")) }, rootNode, true, true},
		{"rename changes dir mtime, ctime", func() { must(t, "Rename", r.Rename("f", r, "f2")) }, rootNode, true, true},
		{"rmdir changes dir mtime, ctime", func() { must(t, "Rmdir", r.Rmdir("d")) }, rootNode, true, true},
		{"read changes no mtime, ctime", func() { f.ReadAt(make([]byte, 10), 0) }, fileNode, false, false},
	}
	if !s.opts.NoHardLinks {
		steps = append(steps,
			step{"link changes file ctime", func() { must(t, "Link", r.Link("f3", f)) }, fileNode, false, true},
			step{"unlink of a link changes file ctime", func() { must(t, "Unlink", r.Unlink("f3")) }, fileNode, false, true},
		)
	}
	for _, st := range steps {
		s.pause()
		old := stat(t, st.node())
		st.do()
		now := stat(t, st.node())
		if st.mtime != now.Mtime.After(old.Mtime) {
			t.Errorf("%s: mtime %v -> %v", st.name, old.Mtime, now.Mtime)
		}
		if st.ctim != now.Ctime.After(old.Ctime) {
			t.Errorf("%s: ctime %v -> %v", st.name, old.Ctime, now.Ctime)
		}
		if !st.mtime && !now.Mtime.Equal(old.Mtime) {
			t.Errorf("%s: mtime changed %v -> %v", st.name, old.Mtime, now.Mtime)
		}
	}
	_ = d
	// Set times are stored as given (to the granularity), and setting them changes ctime.
	g := s.opts.TimesGranularity
	if g <= 0 {
		g = time.Microsecond
	}
	at := time.Date(1999, 12, 31, 23, 59, 58, 123456789, time.UTC)
	mt := time.Date(2038, 1, 19, 3, 14, 8, 987654321, time.UTC)
	s.pause()
	old := stat(t, f)
	must(t, "SetAttr times", f.SetAttr(fs.SetAttr{Valid: fs.SetAtime | fs.SetMtime, Atime: at, Mtime: mt}))
	now := stat(t, f)
	if !now.Atime.Truncate(g).Equal(at.Truncate(g)) || !now.Mtime.Truncate(g).Equal(mt.Truncate(g)) {
		t.Errorf("SetAttr times: atime %v mtime %v, want %v %v", now.Atime, now.Mtime, at, mt)
	}
	if !now.Ctime.After(old.Ctime) {
		t.Errorf("SetAttr times did not change ctime")
	}
	must(t, "SetAttr mtime only", f.SetAttr(fs.SetAttr{Valid: fs.SetMtime, Mtime: at}))
	if now := stat(t, f); !now.Atime.Truncate(g).Equal(at.Truncate(g)) {
		t.Errorf("SetAttr mtime only changed atime to %v", now.Atime)
	}
}

func (s *suite) mknod(t *testing.T) {
	r := s.fresh(t)
	m, ok := r.(fs.Mknoder)
	if !ok {
		t.Fatalf("root %T is not an fs.Mknoder (declare NoMknod)", r)
	}
	cases := []struct {
		name string
		mode fs.Mode
		rdev uint64
	}{
		{"fifo", fs.ModeFIFO | 0o644, 0},
		{"chr", fs.ModeChar | 0o600, 0x0103}, // /dev/null's 1,3
		{"blk", fs.ModeBlock | 0o660, 0x0801},
		{"sock", fs.ModeSocket | 0o755, 0},
	}
	for _, c := range cases {
		n, err := m.Mknod(c.name, c.mode, c.rdev, own)
		must(t, "Mknod "+c.name, err)
		for _, node := range []fs.Node{n, lookupNode(t, r, c.name)} {
			a := stat(t, node)
			if a.Mode != c.mode {
				t.Errorf("%s: Mode %o, want %o", c.name, a.Mode, c.mode)
			}
			if c.mode.Type() == fs.ModeChar || c.mode.Type() == fs.ModeBlock {
				if a.Rdev != c.rdev {
					t.Errorf("%s: Rdev %#x, want %#x", c.name, a.Rdev, c.rdev)
				}
			}
			if _, isFile := node.(fs.File); isFile {
				t.Errorf("%s: special node is an fs.File", c.name)
			}
			if _, isDir := node.(fs.Dir); isDir {
				t.Errorf("%s: special node is an fs.Dir", c.name)
			}
		}
		_, err = m.Mknod(c.name, c.mode, c.rdev, own)
		wantErr(t, "Mknod existing", err, syscall.EEXIST)
	}
	ents, err := r.ReadDir(0, 0)
	must(t, "ReadDir", err)
	for _, e := range ents {
		for _, c := range cases {
			if e.Name == c.name && e.Type != c.mode.Type() {
				t.Errorf("ReadDir %s: Type %o", e.Name, e.Type)
			}
		}
	}
	must(t, "Unlink fifo", r.Unlink("fifo"))
	_, err = m.Mknod("bad", 0o644|fs.ModeDir, 0, own)
	if err == nil {
		t.Errorf("Mknod of a directory succeeded")
	}
	_, err = m.Mknod("", fs.ModeFIFO|0o644, 0, own)
	wantErr(t, "Mknod empty name", err, syscall.EINVAL)
}

func lookupNode(t *testing.T, d fs.Dir, name string) fs.Node {
	t.Helper()
	n, err := d.Lookup(name)
	must(t, "Lookup "+name, err)
	return n
}

const (
	xattrCreate  = 1 // XATTR_CREATE
	xattrReplace = 2 // XATTR_REPLACE
)

func (s *suite) xattr(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "")
	d := mkdir(t, r, "d")
	for _, n := range []fs.Node{f, d} {
		x, ok := n.(fs.Xattrer)
		if !ok {
			t.Fatalf("%T is not an fs.Xattrer (declare NoXattr)", n)
		}
		_, err := x.GetXattr("user.missing")
		wantErr(t, "GetXattr missing", err, syscall.ENODATA)
		wantErr(t, "RemoveXattr missing", x.RemoveXattr("user.missing"), syscall.ENODATA)
		must(t, "SetXattr", x.SetXattr("user.a", []byte("alpha"), 0))
		must(t, "SetXattr empty value", x.SetXattr("user.empty", nil, 0))
		v, err := x.GetXattr("user.a")
		if err != nil || string(v) != "alpha" {
			t.Errorf("GetXattr: %q, %v", v, err)
		}
		v, err = x.GetXattr("user.empty")
		if err != nil || len(v) != 0 {
			t.Errorf("GetXattr empty: %q, %v", v, err)
		}
		wantErr(t, "SetXattr XATTR_CREATE existing", x.SetXattr("user.a", []byte("x"), xattrCreate), syscall.EEXIST)
		wantErr(t, "SetXattr XATTR_REPLACE missing", x.SetXattr("user.b", []byte("x"), xattrReplace), syscall.ENODATA)
		must(t, "SetXattr XATTR_REPLACE", x.SetXattr("user.a", []byte("beta"), xattrReplace))
		v, _ = x.GetXattr("user.a")
		if string(v) != "beta" {
			t.Errorf("after replace: %q", v)
		}
		list, err := x.ListXattr()
		must(t, "ListXattr", err)
		slices.Sort(list)
		if !slices.Equal(list, []string{"user.a", "user.empty"}) {
			t.Errorf("ListXattr = %q", list)
		}
		must(t, "RemoveXattr", x.RemoveXattr("user.a"))
		_, err = x.GetXattr("user.a")
		wantErr(t, "GetXattr removed", err, syscall.ENODATA)
		// Binary values round-trip.
		bin := []byte{0, 1, 2, 0xff, 0}
		must(t, "SetXattr binary", x.SetXattr("user.bin", bin, 0))
		if v, _ := x.GetXattr("user.bin"); !bytes.Equal(v, bin) {
			t.Errorf("binary xattr %x", v)
		}
	}
}

func (s *suite) allocate(t *testing.T) {
	r := s.fresh(t)
	f := mkfile(t, r, "f", "")
	al, ok := f.(fs.Allocater)
	if !ok {
		t.Fatalf("%T is not an fs.Allocater (declare NoAllocate)", f)
	}
	data := bytes.Repeat([]byte{0x5a}, 5*4096)
	_, err := f.WriteAt(data, 0)
	must(t, "WriteAt", err)
	blocksBefore := stat(t, f).Blocks
	must(t, "punch hole", al.Allocate(100, 3*4096, true))
	a := stat(t, f)
	if a.Size != int64(len(data)) {
		t.Errorf("punch hole changed Size to %d", a.Size)
	}
	if !s.opts.NoSparse && a.Blocks >= blocksBefore {
		t.Errorf("punch hole of 3 pages: Blocks %d -> %d", blocksBefore, a.Blocks)
	}
	got := make([]byte, len(data))
	_, err = f.ReadAt(got, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("ReadAt: %v", err)
	}
	want := bytes.Clone(data)
	clear(want[100 : 100+3*4096])
	if !bytes.Equal(got, want) {
		t.Errorf("after punching [100, %d): content wrong", 100+3*4096)
	}
	// Allocate past the end extends the size, reading zeros.
	must(t, "Allocate", al.Allocate(int64(len(data)), 8192, false))
	if a := stat(t, f); a.Size != int64(len(data))+8192 {
		t.Errorf("Allocate past end: Size %d", a.Size)
	}
	p := make([]byte, 8192)
	_, err = f.ReadAt(p, int64(len(data)))
	if (err != nil && err != io.EOF) || !bytes.Equal(p, make([]byte, 8192)) {
		t.Errorf("allocated range does not read zeros: %v", err)
	}
	// Punching past the end keeps the size.
	must(t, "punch past end", al.Allocate(int64(len(data)), 1<<20, true))
	if a := stat(t, f); a.Size != int64(len(data))+8192 {
		t.Errorf("punch past end changed Size to %d", a.Size)
	}
	wantErr(t, "Allocate negative offset", al.Allocate(-1, 10, false), syscall.EINVAL)
	wantErr(t, "Allocate zero length", al.Allocate(0, 0, false), syscall.EINVAL)
}

func (s *suite) statFS(t *testing.T) {
	fsys, r := s.rootOf(t)
	st, err := fsys.StatFS()
	must(t, "StatFS", err)
	if st.BlockSize <= 0 {
		t.Errorf("BlockSize = %d", st.BlockSize)
	}
	if st.BlocksFree > st.Blocks || st.BlocksAvail > st.Blocks {
		t.Errorf("free %d / avail %d exceed total %d", st.BlocksFree, st.BlocksAvail, st.Blocks)
	}
	if st.NameLen <= 0 || st.NameLen > fs.MaxNameLen {
		t.Errorf("NameLen = %d", st.NameLen)
	}
	mkfile(t, r, "f", strings.Repeat("x", 1<<20))
	st2, err := fsys.StatFS()
	must(t, "StatFS", err)
	if st.Files != 0 && st2.FilesFree > st.FilesFree && !s.opts.SharedStatFS {
		t.Errorf("FilesFree grew after a create: %d -> %d", st.FilesFree, st2.FilesFree)
	}
}

func (s *suite) sync(t *testing.T) {
	fsys, r := s.rootOf(t)
	f := mkfile(t, r, "f", "data")
	must(t, "File.Sync", f.Sync())
	must(t, "FileSystem.Sync", fsys.Sync())
	if got := content(t, r, "f"); got != "data" {
		t.Errorf("after Sync: %q", got)
	}
}

// concurrency: writers to different files in parallel, and creators of
// different names in one directory, all land.
func (s *suite) concurrency(t *testing.T) {
	r := s.fresh(t)
	const workers, chunks, chunk = 8, 32, 1000
	var wg sync.WaitGroup
	errs := make(chan error, workers*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := r.Create(fmt.Sprintf("w%d", w), 0o644, own)
			if err != nil {
				errs <- err
				return
			}
			buf := bytes.Repeat([]byte{byte('a' + w)}, chunk)
			for c := range chunks {
				if _, err := f.WriteAt(buf, int64(c*chunk)); err != nil {
					errs <- err
					return
				}
				if _, err := r.Lookup(fmt.Sprintf("w%d", (w+1)%workers)); err != nil && !errors.Is(err, syscall.ENOENT) {
					errs <- err
					return
				}
			}
			for c := range 20 {
				if _, err := r.Create(fmt.Sprintf("c%d-%d", w, c), 0o644, own); err != nil {
					errs <- err
					return
				}
				if _, err := r.ReadDir(0, 5); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("concurrent writers did not finish in 2 minutes")
	}
	close(errs)
	for err := range errs {
		t.Errorf("concurrent operation: %v", err)
	}
	for w := range workers {
		got := content(t, r, fmt.Sprintf("w%d", w))
		if want := strings.Repeat(string(rune('a'+w)), chunks*chunk); got != want {
			t.Errorf("w%d: %d bytes, content correct %v", w, len(got), got == want)
		}
	}
	if n := len(names(t, r)); n != workers+workers*20 {
		t.Errorf("root has %d entries, want %d", n, workers+workers*20)
	}
}

// readOnly checks a read-only file system: reads work, every change is EROFS.
func (s *suite) readOnly(t *testing.T) {
	fsys, r := s.rootOf(t)
	if a := stat(t, r); !a.Mode.IsDir() {
		t.Errorf("root mode %o", a.Mode)
	}
	_, err := r.Lookup("surely-missing-name")
	wantErr(t, "Lookup missing", err, syscall.ENOENT)
	for _, bn := range badNames {
		_, err := r.Lookup(bn.name)
		wantErr(t, fmt.Sprintf("Lookup %q", trunc(bn.name)), err, bn.errno)
	}
	_, err = r.Create("new", 0o644, own)
	wantErr(t, "Create", err, syscall.EROFS)
	_, err = r.Mkdir("new", 0o755, own)
	wantErr(t, "Mkdir", err, syscall.EROFS)
	_, err = r.Symlink("new", "x", own)
	wantErr(t, "Symlink", err, syscall.EROFS)
	all, err := r.ReadDir(0, 0)
	must(t, "ReadDir", err)
	seen := pageAll(t, r, 1, nil)
	if len(seen) != len(all) {
		t.Errorf("paging by 1 saw %d names, one call %d", len(seen), len(all))
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("%q seen %d times", name, c)
		}
	}
	for _, e := range all {
		n, err := r.Lookup(e.Name)
		must(t, "Lookup "+e.Name, err)
		a := stat(t, n)
		if a.Ino != e.Ino || a.Mode.Type() != e.Type {
			t.Errorf("%s: ReadDir says Ino %d Type %o, Stat %d %o", e.Name, e.Ino, e.Type, a.Ino, a.Mode.Type())
		}
		wantErr(t, "SetAttr "+e.Name, n.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o777}), syscall.EROFS)
		wantErr(t, "Unlink "+e.Name, r.Unlink(e.Name), syscall.EROFS)
		wantErr(t, "Rename "+e.Name, r.Rename(e.Name, r, "renamed"), syscall.EROFS)
		if f, ok := n.(fs.File); ok {
			readAll(t, f)
			p := make([]byte, 4)
			if n, err := f.ReadAt(p, a.Size+10); n != 0 || err != io.EOF {
				t.Errorf("%s: ReadAt past end: %d, %v", e.Name, n, err)
			}
			_, err := f.WriteAt([]byte("x"), 0)
			wantErr(t, "WriteAt "+e.Name, err, syscall.EROFS)
			wantErr(t, "Truncate "+e.Name, f.Truncate(0), syscall.EROFS)
			if !s.opts.NoHardLinks {
				wantErr(t, "Link "+e.Name, r.Link("link", f), syscall.EROFS)
			}
		}
	}
	if _, err := fsys.StatFS(); err != nil {
		t.Errorf("StatFS: %v", err)
	}
}
