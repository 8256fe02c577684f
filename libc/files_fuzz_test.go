package libc_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/libc"
)

// fuzzNames are the path components fuzz paths are made of: few, so that
// operations meet each other's results.
var fuzzNames = []string{"a", "b", "l", "..", ".", "a", "b", "m"}

// fuzzTargets are the symlink targets.
var fuzzTargets = []string{"a", "/a", "../a", "b", "a/b", "/", "l", "m/..", "/b/a/"}

// fuzzPath decodes a path from d: a leading slash or not, 1 to 3
// components, a trailing slash or not.
func fuzzPath(d *fuzzData) string {
	b := d.byte()
	p := ""
	if b&1 != 0 {
		p = "/"
	}
	n := 1 + int(b>>1&3)%3
	for i := 0; i < n; i++ {
		if i > 0 {
			p += "/"
		}
		p += fuzzNames[d.byte()%byte(len(fuzzNames))]
	}
	if b&8 != 0 {
		p += "/"
	}
	return p
}

type fuzzData struct {
	b []byte
}

func (d *fuzzData) byte() byte {
	if len(d.b) == 0 {
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// fuzzOp runs one decoded operation on s and returns its errno and a
// description.
func fuzzOp(s *libc.System, op byte, p1, p2, target string) (string, syscall.Errno) {
	var err error
	var what string
	var st syscall.Stat_t
	switch op % 14 {
	case 0:
		what = "open O_CREAT " + p1
		var fd int
		if fd, err = s.Open(p1, syscall.O_CREAT|syscall.O_WRONLY, 0o644); err == nil {
			s.Write(fd, []byte("data"))
			s.Close(fd)
		}
	case 1:
		what = "open O_CREAT|O_EXCL " + p1
		var fd int
		if fd, err = s.Open(p1, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o644); err == nil {
			s.Close(fd)
		}
	case 2:
		what = "open O_RDONLY " + p1
		var fd int
		if fd, err = s.Open(p1, syscall.O_RDONLY, 0); err == nil {
			s.Close(fd)
		}
	case 3:
		what = "open O_NOFOLLOW|O_DIRECTORY " + p1
		var fd int
		if fd, err = s.Open(p1, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0); err == nil {
			s.Close(fd)
		}
	case 4:
		what = "mkdir " + p1
		err = s.Mkdir(p1, 0o755)
	case 5:
		what = "rmdir " + p1
		err = s.Rmdir(p1)
	case 6:
		what = "unlink " + p1
		err = s.Unlink(p1)
	case 7:
		what = "rename " + p1 + " " + p2
		err = s.Rename(p1, p2)
	case 8:
		what = "symlink " + target + " " + p1
		err = s.Symlink(target, p1)
	case 9:
		what = "link " + p1 + " " + p2
		err = s.Link(p1, p2)
	case 10:
		what = "stat " + p1
		err = s.Stat(p1, &st)
	case 11:
		what = "lstat " + p1
		err = s.Lstat(p1, &st)
	case 12:
		what = "readlink " + p1
		_, err = s.Readlink(p1, make([]byte, 64))
	case 13:
		what = "truncate " + p1
		err = s.Truncate(p1, 2)
	}
	if err == nil {
		return what, 0
	}
	e, ok := err.(syscall.Errno)
	if !ok {
		return what, 9999
	}
	return what, e
}

// FuzzFilesMemfsHostfs runs one decoded sequence of file calls through
// libc on a memfs root and on a hostfs root (Linux's own file system
// underneath, the namespace interpreting symlinks above both) and
// requires the same errno from every call: a differential test of memfs,
// hostfs and the namespace against each other.
func FuzzFilesMemfsHostfs(f *testing.F) {
	f.Add([]byte{4, 0, 0, 0, 2, 0, 8, 1, 2, 2, 0, 2, 7, 0, 0, 1, 1, 5, 0, 0})
	f.Add([]byte{4, 1, 0, 8, 2, 0, 1, 0, 3, 3, 0, 5, 9, 1, 0, 1, 1, 7, 1, 0, 0, 1})
	f.Add([]byte{8, 0, 2, 4, 4, 0, 2, 10, 0, 2, 11, 8, 2, 12, 0, 2, 5, 0, 0, 13, 0, 0})
	// mkdir a; symlink /a a/a; rename a/a a: Linux says ENOTEMPTY (the
	// target is the source's parent) before it compares the types.
	f.Add([]byte{4, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0, 0, 1, 7, 2, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 200 {
			return
		}
		mns, err := fs.NewNamespace(memfs.New())
		if err != nil {
			t.Fatal(err)
		}
		h, err := hostfs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		hns, err := fs.NewNamespace(h)
		if err != nil {
			t.Fatal(err)
		}
		ms := libc.New(nil, libc.FS(mns))
		hs := libc.New(nil, libc.FS(hns))
		d := &fuzzData{data}
		var log []string
		for i := 0; len(d.b) > 0 && i < 40; i++ {
			op := d.byte()
			p1, p2 := fuzzPath(d), fuzzPath(d)
			target := fuzzTargets[d.byte()%byte(len(fuzzTargets))]
			what, me := fuzzOp(ms, op, p1, p2, target)
			_, he := fuzzOp(hs, op, p1, p2, target)
			log = append(log, fmt.Sprintf("%s: %v", what, me))
			if me != he {
				t.Fatalf("%s: memfs %v (%d), hostfs %v (%d); calls so far:\n%v", what, me, me, he, he, log)
			}
		}
	})
}
