package fsbehave_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/memfs"
)

func newMemfs(t *testing.T) fs.FileSystem {
	m := memfs.New()
	t.Cleanup(func() { m.Close() })
	return m
}

// TestMemfs runs the suite against memfs, which claims every feature.
func TestMemfs(t *testing.T) {
	fsbehave.Run(t, newMemfs, fsbehave.Options{})
}

// The suite must catch what it claims to check. Each case runs the suite,
// in a child process, against memfs with one defect, and expects the
// child to fail naming the defect.
func TestCatchesDefects(t *testing.T) {
	if os.Getenv("FSBEHAVE_DEFECT") != "" {
		t.Skip("in the child")
	}
	tests := []struct {
		defect string
		want   string // in the child's output
	}{
		{"rmdir-errno", "Rmdir non-empty: got error file exists, want directory not empty (ENOTEMPTY)"},
		{"readdir-cookie", "seen 2 times"},
		{"dir-nlink", "directory Nlink = 2, want 3"},
		{"no-mtime", "write changes file mtime, ctime: mtime"},
		{"follow-lookup", "Lookup of a symlink to a file followed it"},
		{"drop-setuid", "Mode = 100755, want 104755"},
		{"short-read", "ReadAt(10 bytes, off 10)"},
	}
	for _, tc := range tests {
		t.Run(tc.defect, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDefectChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "FSBEHAVE_DEFECT="+tc.defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a memfs with defect %s:\n%s", tc.defect, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("defect %s: output lacks %q:\n%s", tc.defect, tc.want, tail(string(out), 3000))
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestDefectChild is the child of TestCatchesDefects.
func TestDefectChild(t *testing.T) {
	defect := os.Getenv("FSBEHAVE_DEFECT")
	if defect == "" {
		t.Skip("run by TestCatchesDefects")
	}
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		return &brokenFS{FileSystem: newMemfs(t), defect: defect}
	}, fsbehave.Options{})
}

// brokenFS wraps memfs and breaks one behaviour.
type brokenFS struct {
	fs.FileSystem
	defect string
}

func (b *brokenFS) Root() (fs.Dir, error) {
	r, err := b.FileSystem.Root()
	if err != nil {
		return nil, err
	}
	return &brokenDir{Dir: r, b: b}, nil
}

func (b *brokenFS) wrap(n fs.Node) fs.Node {
	switch n := n.(type) {
	case fs.Dir:
		return &brokenDir{Dir: n, b: b}
	case fs.File:
		return &brokenFile{File: n, b: b}
	}
	return n
}

type brokenDir struct {
	fs.Dir
	b *brokenFS
}

func unwrap(n fs.Node) fs.Node {
	switch n := n.(type) {
	case *brokenDir:
		return n.Dir
	case *brokenFile:
		return n.File
	}
	return n
}

func (d *brokenDir) Lookup(name string) (fs.Node, error) {
	n, err := d.Dir.Lookup(name)
	if err != nil {
		return nil, err
	}
	if d.b.defect == "follow-lookup" {
		if l, ok := n.(fs.Symlink); ok {
			if t, _ := l.Readlink(); t != "" {
				if target, err := d.Dir.Lookup(t); err == nil {
					n = target
				}
			}
		}
	}
	return d.b.wrap(n), nil
}

func (d *brokenDir) Create(name string, perm fs.Mode, o fs.Owner) (fs.File, error) {
	f, err := d.Dir.Create(name, perm, o)
	if err != nil {
		return nil, err
	}
	return &brokenFile{File: f, b: d.b}, nil
}

func (d *brokenDir) Mkdir(name string, perm fs.Mode, o fs.Owner) (fs.Dir, error) {
	n, err := d.Dir.Mkdir(name, perm, o)
	if err != nil {
		return nil, err
	}
	return &brokenDir{Dir: n, b: d.b}, nil
}

func (d *brokenDir) Link(name string, n fs.Node) error { return d.Dir.Link(name, unwrap(n)) }

func (d *brokenDir) Rename(o string, nd fs.Dir, n string) error {
	return d.Dir.Rename(o, unwrap(nd).(fs.Dir), n)
}

func (d *brokenDir) Rmdir(name string) error {
	err := d.Dir.Rmdir(name)
	if d.b.defect == "rmdir-errno" && err == syscall.ENOTEMPTY {
		return syscall.EEXIST
	}
	return err
}

func (d *brokenDir) ReadDir(cookie uint64, n int) ([]fs.DirEntry, error) {
	ents, err := d.Dir.ReadDir(cookie, n)
	if d.b.defect == "readdir-cookie" && len(ents) > 1 {
		// A cookie one entry short: the last entry comes again.
		ents[len(ents)-1].Next = ents[len(ents)-2].Next
	}
	return ents, err
}

func (d *brokenDir) Stat() (fs.Attr, error) {
	a, err := d.Dir.Stat()
	if d.b.defect == "dir-nlink" && a.Nlink > 2 {
		a.Nlink = 2
	}
	return a, err
}

func (d *brokenDir) SetAttr(a fs.SetAttr) error {
	if d.b.defect == "drop-setuid" {
		a.Mode &^= 0o7000
	}
	return d.Dir.SetAttr(a)
}

func (d *brokenDir) Mknod(name string, mode fs.Mode, rdev uint64, o fs.Owner) (fs.Node, error) {
	return d.Dir.(fs.Mknoder).Mknod(name, mode, rdev, o)
}

func (d *brokenDir) GetXattr(name string) ([]byte, error) { return d.Dir.(fs.Xattrer).GetXattr(name) }
func (d *brokenDir) SetXattr(name string, v []byte, fl int) error {
	return d.Dir.(fs.Xattrer).SetXattr(name, v, fl)
}
func (d *brokenDir) ListXattr() ([]string, error)  { return d.Dir.(fs.Xattrer).ListXattr() }
func (d *brokenDir) RemoveXattr(name string) error { return d.Dir.(fs.Xattrer).RemoveXattr(name) }

type brokenFile struct {
	fs.File
	b *brokenFS
}

func (f *brokenFile) Stat() (fs.Attr, error) {
	a, err := f.File.Stat()
	if f.b.defect == "no-mtime" {
		a.Mtime = a.Atime
	}
	return a, err
}

func (f *brokenFile) SetAttr(a fs.SetAttr) error {
	if f.b.defect == "drop-setuid" {
		a.Mode &^= 0o7000
	}
	return f.File.SetAttr(a)
}

func (f *brokenFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if f.b.defect == "short-read" && err != nil && n > 0 {
		err = nil // a short read without io.EOF
	}
	return n, err
}

func (f *brokenFile) Allocate(off, length int64, punch bool) error {
	return f.File.(fs.Allocater).Allocate(off, length, punch)
}
func (f *brokenFile) GetXattr(name string) ([]byte, error) { return f.File.(fs.Xattrer).GetXattr(name) }
func (f *brokenFile) SetXattr(name string, v []byte, fl int) error {
	return f.File.(fs.Xattrer).SetXattr(name, v, fl)
}
func (f *brokenFile) ListXattr() ([]string, error)  { return f.File.(fs.Xattrer).ListXattr() }
func (f *brokenFile) RemoveXattr(name string) error { return f.File.(fs.Xattrer).RemoveXattr(name) }
