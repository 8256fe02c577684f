package bmodfs_test

import (
	"errors"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/bmodfs"
	"github.com/goskit/goskit/fs/fsbehave"
)

func mods(names ...string) []boot.Module {
	var ms []boot.Module
	for _, n := range names {
		ms = append(ms, boot.Module{Name: n, Data: []byte("data of " + n)})
	}
	return ms
}

func TestBehaviour(t *testing.T) {
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		f, err := bmodfs.New(mods("etc/hosts", "etc/passwd", "bin/sh", "README", "empty", "a/b/c/d"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}, fsbehave.Options{ReadOnly: true, NoMknod: true, NoXattr: true, NoAllocate: true})
}

func TestNewErrors(t *testing.T) {
	long := make([]byte, fs.MaxNameLen+1)
	for i := range long {
		long[i] = 'n'
	}
	tests := []struct {
		name  string
		names []string
		errno syscall.Errno
	}{
		{"empty", []string{""}, syscall.EINVAL},
		{"absolute", []string{"/etc/hosts"}, syscall.EINVAL},
		{"dotdot", []string{"../etc"}, syscall.EINVAL},
		{"inner dotdot", []string{"a/../b"}, syscall.EINVAL},
		{"dot", []string{"./a"}, syscall.EINVAL},
		{"double slash", []string{"a//b"}, syscall.EINVAL},
		{"trailing slash", []string{"a/"}, syscall.EINVAL},
		{"nul", []string{"a\x00b"}, syscall.EINVAL},
		{"too long", []string{"d/" + string(long)}, syscall.ENAMETOOLONG},
		{"duplicate", []string{"x", "y", "x"}, syscall.EEXIST},
		{"file then below it", []string{"etc", "etc/hosts"}, syscall.ENOTDIR},
		{"below then file", []string{"etc/hosts", "etc"}, syscall.EEXIST},
		{"deep file prefix", []string{"a/b", "a/b/c/d"}, syscall.ENOTDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := bmodfs.New(mods(tt.names...))
			if !errors.Is(err, tt.errno) {
				t.Fatalf("New(%q) = %v, %v; want %v", tt.names, f, err, tt.errno)
			}
			var ne *bmodfs.NameError
			if !errors.As(err, &ne) || ne.Index != len(tt.names)-1 || ne.Name != tt.names[len(tt.names)-1] {
				t.Errorf("error %v does not name the last module", err)
			}
		})
	}
}

func TestFSTest(t *testing.T) {
	f, err := bmodfs.New(mods("etc/hosts", "etc/ssl/certs/ca.pem", "bin/sh", "README", "empty"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fs.IOFS(f), "etc/hosts", "etc/ssl/certs/ca.pem", "bin/sh", "README", "empty"); err != nil {
		t.Fatal(err)
	}
}
