package libc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/libc"
	"golang.org/x/sys/unix"
)

// fsOp is one file call of the table run against both Linux and libc.
type fsOp struct {
	Op    string
	A, B  string
	Flags int
}

const (
	AT_SYMLINK_NOFOLLOW = libc.AT_SYMLINK_NOFOLLOW
	AT_EMPTY_PATH       = libc.AT_EMPTY_PATH
	AT_REMOVEDIR        = libc.AT_REMOVEDIR

	rd  = syscall.O_RDONLY
	wr  = syscall.O_WRONLY
	cr  = syscall.O_CREAT | syscall.O_WRONLY
	crx = syscall.O_CREAT | syscall.O_EXCL | syscall.O_WRONLY
)

// fsOps is the table: it first builds a tree, then tries the edge cases
// of path resolution and of each call. Every op runs in order on both
// sides, so a call that changes the tree changes both.
func fsOps() []fsOp {
	long := strings.Repeat("n", 256)
	dots := func(n int) string { return "/" + strings.Repeat("./", n) + "f" }
	return []fsOp{
		// The tree.
		{Op: "mkdir", A: "/d"}, {Op: "mkdir", A: "/d/sub"}, {Op: "mkdir", A: "/e"},
		{Op: "mkdir", A: "/e2"},
		{Op: "open", A: "/d/f", Flags: cr}, {Op: "open", A: "/f", Flags: cr},
		{Op: "symlink", A: "d", B: "/ld"}, {Op: "symlink", A: "/d/f", B: "/lf"},
		{Op: "symlink", A: "/nowhere", B: "/dangle"}, {Op: "symlink", A: "/nowhere2", B: "/dangle2"},
		{Op: "symlink", A: "loop2", B: "/loop1"}, {Op: "symlink", A: "loop1", B: "/loop2"},
		{Op: "symlink", A: "../../..", B: "/d/up"}, {Op: "symlink", A: "f", B: "/d/lrel"},
		{Op: "symlink", A: "/d/", B: "/ldslash"}, {Op: "symlink", A: "/f/", B: "/lfslash"},
		{Op: "symlink", A: "/", B: "/lroot"},

		// open
		{Op: "open", A: "", Flags: rd},
		{Op: "open", A: "/missing", Flags: rd},
		{Op: "open", A: "/missing/x", Flags: rd},
		{Op: "open", A: "/missing/x", Flags: cr},
		{Op: "open", A: "/f/x", Flags: rd},
		{Op: "open", A: "/f/x", Flags: cr},
		{Op: "open", A: "/loop1", Flags: rd},
		{Op: "open", A: "/loop1/x", Flags: rd},
		{Op: "open", A: "/loop1", Flags: cr},
		{Op: "open", A: "/lf", Flags: rd | syscall.O_NOFOLLOW},
		{Op: "open", A: "/lf", Flags: cr | syscall.O_NOFOLLOW},
		{Op: "open", A: "/lf", Flags: rd | syscall.O_NOFOLLOW | syscall.O_DIRECTORY},
		{Op: "open", A: "/ld", Flags: rd | syscall.O_NOFOLLOW},
		{Op: "open", A: "/ld", Flags: rd | syscall.O_NOFOLLOW | syscall.O_DIRECTORY},
		{Op: "open", A: "/ld/", Flags: rd | syscall.O_NOFOLLOW},
		{Op: "open", A: "/ld/f", Flags: rd | syscall.O_NOFOLLOW},
		{Op: "open", A: "/f", Flags: rd | syscall.O_DIRECTORY},
		{Op: "open", A: "/lf", Flags: rd | syscall.O_DIRECTORY},
		{Op: "open", A: "/f/", Flags: rd},
		{Op: "open", A: "/lf/", Flags: rd},
		{Op: "open", A: "/lfslash", Flags: rd},
		{Op: "open", A: "/ldslash", Flags: rd},
		{Op: "open", A: "/f/", Flags: cr},
		{Op: "open", A: "/newslash/", Flags: cr},
		{Op: "open", A: "/lf/", Flags: cr},
		{Op: "open", A: "/ld/", Flags: cr},
		{Op: "open", A: "/dangle2/", Flags: cr},
		{Op: "open", A: "/f/.", Flags: cr},
		{Op: "open", A: "/d/..", Flags: cr},
		{Op: "open", A: "/", Flags: cr},
		{Op: "open", A: "/d/", Flags: cr},
		{Op: "open", A: "/d", Flags: cr},
		{Op: "open", A: "/d", Flags: wr},
		{Op: "open", A: "/d", Flags: syscall.O_RDWR},
		{Op: "open", A: "/d", Flags: rd | syscall.O_TRUNC},
		{Op: "open", A: "/d", Flags: rd | syscall.O_CREAT | syscall.O_DIRECTORY},
		{Op: "open", A: "/d/.", Flags: cr},
		{Op: "open", A: "/d", Flags: rd},
		{Op: "open", A: "/", Flags: rd | syscall.O_DIRECTORY},
		{Op: "open", A: "/f", Flags: crx},
		{Op: "open", A: "/lf", Flags: crx},
		{Op: "open", A: "/ld", Flags: crx},
		{Op: "open", A: "/dangle", Flags: crx},
		{Op: "open", A: "/dangle", Flags: rd},
		{Op: "open", A: "/dangle", Flags: cr}, // creates /nowhere
		{Op: "stat", A: "/nowhere"},
		{Op: "open", A: "/f", Flags: rd | syscall.O_TRUNC},
		{Op: "open", A: "/f", Flags: syscall.O_RDWR | syscall.O_APPEND},
		{Op: "open", A: "/d/up/d/f", Flags: rd},
		{Op: "open", A: "/../../d/f", Flags: rd},
		{Op: "open", A: "/d/../../../d/./sub/../f", Flags: rd},
		{Op: "open", A: "/lroot/d/f", Flags: rd},
		{Op: "open", A: "/" + long, Flags: rd},
		{Op: "open", A: "/" + long, Flags: cr},
		{Op: "open", A: "/" + long[:255], Flags: cr},
		{Op: "unlink", A: "/" + long[:255]},
		{Op: "open", A: dots(2047), Flags: rd}, // 4096 bytes
		{Op: "open", A: dots(2046), Flags: rd}, // 4094
		{Op: "open", A: "/d/lrel", Flags: rd},
		{Op: "open", A: "/ld/lrel", Flags: rd},

		// stat and lstat
		{Op: "stat", A: "/lf/"},
		{Op: "lstat", A: "/lf/"},
		{Op: "lstat", A: "/lf"},
		{Op: "lstat", A: "/ld/"},
		{Op: "stat", A: "/dangle2"},
		{Op: "lstat", A: "/dangle2"},
		{Op: "stat", A: "/dangle2/"},
		{Op: "lstat", A: "/dangle2/"},
		{Op: "stat", A: "/d/sub/.."},
		{Op: "stat", A: "/d/sub/../.."},
		{Op: "stat", A: "/f/.."},
		{Op: "stat", A: "/loop2"},
		{Op: "lstat", A: "/loop2"},
		{Op: "lstat", A: "/loop2/"},
		{Op: "stat", A: "//d//sub//"},

		// mkdir
		{Op: "mkdir", A: "/d"},
		{Op: "mkdir", A: "/ld"},
		{Op: "mkdir", A: "/dangle2"},
		{Op: "mkdir", A: "/dangle2/"},
		{Op: "mkdir", A: "/missing/x"},
		{Op: "mkdir", A: "/f/x"},
		{Op: "mkdir", A: "/f/"},
		{Op: "mkdir", A: "/"},
		{Op: "mkdir", A: "."},
		{Op: "mkdir", A: ".."},
		{Op: "mkdir", A: "/d/sub/."},
		{Op: "mkdir", A: "/newdir/"},
		{Op: "mkdir", A: "/newdir//sub2//"},
		{Op: "mkdir", A: "/" + long},

		// rmdir
		{Op: "rmdir", A: "."},
		{Op: "rmdir", A: "/d/."},
		{Op: "rmdir", A: ".."},
		{Op: "rmdir", A: "/d/sub/.."},
		{Op: "rmdir", A: "/"},
		{Op: "rmdir", A: "/f"},
		{Op: "rmdir", A: "/f/"},
		{Op: "rmdir", A: "/ld"},
		{Op: "rmdir", A: "/ld/"},
		{Op: "rmdir", A: "/d"},
		{Op: "rmdir", A: "/missing"},
		{Op: "rmdir", A: "/newdir/sub2/"},

		// unlink
		{Op: "unlink", A: "/d"},
		{Op: "unlink", A: "/d/"},
		{Op: "unlink", A: "/f/"},
		{Op: "unlink", A: "/ld/"},
		{Op: "unlink", A: "/lf/"},
		{Op: "unlink", A: "/missing"},
		{Op: "unlink", A: "/missing/"},
		{Op: "unlink", A: "/"},
		{Op: "unlink", A: "."},
		{Op: "unlink", A: "/d/.."},

		// rename
		{Op: "rename", A: "/d", B: "/d/sub/x"},
		{Op: "rename", A: "/d", B: "/d/sub"},
		{Op: "rename", A: "/d", B: "/ld/sub/x"},
		{Op: "rename", A: "/d", B: "/d"},
		{Op: "rename", A: "/f", B: "/f"},
		{Op: "rename", A: "/f", B: "/d"},
		{Op: "rename", A: "/d/sub", B: "/d/f"},
		{Op: "rename", A: "/f/", B: "/g"},
		{Op: "rename", A: "/f", B: "/g/"},
		{Op: "rename", A: "/lf/", B: "/g"},
		{Op: "rename", A: ".", B: "/x"},
		{Op: "rename", A: "/e", B: ".."},
		{Op: "rename", A: "/", B: "/x"},
		{Op: "rename", A: "/missing", B: "/y"},
		{Op: "rename", A: "/missing", B: "/missing/y"},
		{Op: "rename", A: "/f", B: "/missing/y"},
		{Op: "rename", A: "/e", B: "/d"},
		{Op: "rename", A: "/d", B: "/e"},
		{Op: "rename", A: "/e", B: "/e2/"},
		{Op: "rename", A: "/e2/", B: "/e3/"},
		{Op: "rename", A: "/lf", B: "/lf2"},
		{Op: "rename", A: "/lf2", B: "/lf"},

		// symlink, readlink, link
		{Op: "symlink", A: "x", B: "/f"},
		{Op: "symlink", A: "x", B: "/dangle2"},
		{Op: "symlink", A: "", B: "/s"},
		{Op: "symlink", A: "x", B: "/news/"},
		{Op: "symlink", A: "x", B: "/missing/y"},
		{Op: "symlink", A: "x", B: "/"},
		{Op: "readlink", A: "/f"},
		{Op: "readlink", A: "/lf"},
		{Op: "readlink", A: "/lf/"},
		{Op: "readlink", A: "/ld/"},
		{Op: "readlink", A: "/missing"},
		{Op: "readlink", A: "/loop1"},
		{Op: "link", A: "/d", B: "/dl"},
		{Op: "link", A: "/f", B: "/ld"},
		{Op: "link", A: "/f", B: "/newl/"},
		{Op: "link", A: "/f/", B: "/newl"},
		{Op: "link", A: "/missing", B: "/newl"},
		{Op: "link", A: "/lf", B: "/hl"},
		{Op: "lstat", A: "/hl"},
		{Op: "link", A: "/f", B: "/hf"},

		// truncate
		{Op: "truncate", A: "/d"},
		{Op: "truncate", A: "/ld/"},
		{Op: "truncate", A: "/lf"},
		{Op: "truncate", A: "/f/"},
		{Op: "truncate", A: "/missing"},

		// the working directory
		{Op: "chdir", A: "/f"},
		{Op: "chdir", A: "/missing"},
		{Op: "chdir", A: "/lf"},
		{Op: "chdir", A: "/ld/sub"},
		{Op: "open", A: "../f", Flags: rd},
		{Op: "open", A: "../../../../f", Flags: rd},
		{Op: "stat", A: "../up/d"},
		{Op: "mkdir", A: "here"},
		{Op: "stat", A: "/d/sub/here"},
		{Op: "chdir", A: ".."},
		{Op: "open", A: "f", Flags: rd},
		{Op: "chdir", A: "../../../.."},
		{Op: "open", A: "f", Flags: rd},

		// *at calls: A is opened (O_RDONLY) as dirfd, "" is AT_FDCWD.
		{Op: "mkdir", A: "/w"}, {Op: "mkdir", A: "/w/sub"}, {Op: "open", A: "/w/f", Flags: cr},
		{Op: "symlink", A: "f", B: "/w/lrel"}, {Op: "symlink", A: "w", B: "/lw"},
		{Op: "symlink", A: "../..", B: "/w/up"},
		{Op: "openat", A: "/w", B: "f", Flags: rd},
		{Op: "openat", A: "/w", B: "../f", Flags: rd},
		{Op: "openat", A: "/w", B: "up/w/sub", Flags: rd},
		{Op: "openat", A: "/w", B: "/f", Flags: rd},
		{Op: "openat", A: "/f", B: "x", Flags: rd},
		{Op: "openat", A: "/f", B: "/f", Flags: rd},
		{Op: "openat", A: "/w", B: "", Flags: rd},
		{Op: "openat", A: "/lw", B: "newat", Flags: cr},
		{Op: "openat", A: "", B: "w/newat", Flags: crx},
		{Op: "fstatat", A: "/w", B: "lrel"},
		{Op: "fstatat", A: "/w", B: "lrel", Flags: AT_SYMLINK_NOFOLLOW},
		{Op: "fstatat", A: "/w", B: "", Flags: AT_EMPTY_PATH},
		{Op: "fstatat", A: "/f", B: "", Flags: AT_EMPTY_PATH},
		{Op: "fstatat", A: "", B: "", Flags: AT_EMPTY_PATH},
		{Op: "fstatat", A: "/w", B: ""},
		{Op: "fstatat", A: "/w", B: "f", Flags: 0x8000000},
		{Op: "mkdirat", A: "/w", B: "atdir"},
		{Op: "mkdirat", A: "/w", B: "atdir"},
		{Op: "unlinkat", A: "/w", B: "atdir"},
		{Op: "unlinkat", A: "/w", B: "atdir", Flags: AT_REMOVEDIR},
		{Op: "unlinkat", A: "/w", B: "newat", Flags: AT_REMOVEDIR},
		{Op: "unlinkat", A: "/w", B: "newat", Flags: 0x1},
		{Op: "unlinkat", A: "/w", B: ".", Flags: AT_REMOVEDIR},
		{Op: "unlinkat", A: "/w", B: "newat"},
	}
}

func errnoOf(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return int(e)
	}
	return -1
}

// runLinux runs ops as Linux system calls in the working directory's
// root (the caller has chrooted).
func runLinux(ops []fsOp) []int {
	res := make([]int, len(ops))
	buf := make([]byte, 256)
	for i, o := range ops {
		var err error
		switch o.Op {
		case "open":
			var fd int
			fd, err = unix.Open(o.A, o.Flags|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
		case "stat":
			var st unix.Stat_t
			err = unix.Stat(o.A, &st)
		case "lstat":
			var st unix.Stat_t
			err = unix.Lstat(o.A, &st)
		case "mkdir":
			err = unix.Mkdir(o.A, 0o755)
		case "rmdir":
			err = unix.Rmdir(o.A)
		case "unlink":
			err = unix.Unlink(o.A)
		case "rename":
			err = unix.Rename(o.A, o.B)
		case "symlink":
			err = unix.Symlink(o.A, o.B)
		case "readlink":
			_, err = unix.Readlink(o.A, buf)
		case "link":
			err = unix.Link(o.A, o.B)
		case "truncate":
			err = unix.Truncate(o.A, 0)
		case "chdir":
			err = unix.Chdir(o.A)
		case "openat", "fstatat", "mkdirat", "unlinkat":
			dirfd := unix.AT_FDCWD
			if o.A != "" {
				dirfd, err = unix.Open(o.A, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					res[i] = -1000 - errnoOf(err) // the table is wrong: shown by the parent
					continue
				}
			}
			switch o.Op {
			case "openat":
				var fd int
				fd, err = unix.Openat(dirfd, o.B, o.Flags|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(fd)
				}
			case "fstatat":
				var st unix.Stat_t
				err = unix.Fstatat(dirfd, o.B, &st, o.Flags)
			case "mkdirat":
				err = unix.Mkdirat(dirfd, o.B, 0o755)
			case "unlinkat":
				err = unix.Unlinkat(dirfd, o.B, o.Flags)
			}
			if dirfd >= 0 {
				unix.Close(dirfd)
			}
		default:
			panic(o.Op)
		}
		res[i] = errnoOf(err)
	}
	return res
}

// runKit runs ops through libc on a namespace over root.
func runKit(t *testing.T, ops []fsOp, root fs.FileSystem) []int {
	ns, err := fs.NewNamespace(root)
	if err != nil {
		t.Fatal(err)
	}
	s := libc.New(nil, libc.FS(ns))
	res := make([]int, len(ops))
	buf := make([]byte, 256)
	for i, o := range ops {
		var err error
		switch o.Op {
		case "open":
			var fd int
			fd, err = s.Open(o.A, o.Flags|syscall.O_CLOEXEC, 0o644)
			if err == nil {
				s.Close(fd)
			}
		case "stat":
			var st syscall.Stat_t
			err = s.Stat(o.A, &st)
		case "lstat":
			var st syscall.Stat_t
			err = s.Lstat(o.A, &st)
		case "mkdir":
			err = s.Mkdir(o.A, 0o755)
		case "rmdir":
			err = s.Rmdir(o.A)
		case "unlink":
			err = s.Unlink(o.A)
		case "rename":
			err = s.Rename(o.A, o.B)
		case "symlink":
			err = s.Symlink(o.A, o.B)
		case "readlink":
			_, err = s.Readlink(o.A, buf)
		case "link":
			err = s.Link(o.A, o.B)
		case "truncate":
			err = s.Truncate(o.A, 0)
		case "chdir":
			err = s.Chdir(o.A)
		case "openat", "fstatat", "mkdirat", "unlinkat":
			dirfd := libc.AT_FDCWD
			if o.A != "" {
				dirfd, err = s.Open(o.A, syscall.O_RDONLY, 0)
				if err != nil {
					t.Fatalf("dirfd %s: %v", o.A, err)
				}
			}
			switch o.Op {
			case "openat":
				var fd int
				fd, err = s.Openat(dirfd, o.B, o.Flags|syscall.O_CLOEXEC, 0o644)
				if err == nil {
					s.Close(fd)
				}
			case "fstatat":
				var st syscall.Stat_t
				err = s.Fstatat(dirfd, o.B, &st, o.Flags)
			case "mkdirat":
				err = s.Mkdirat(dirfd, o.B, 0o755)
			case "unlinkat":
				err = s.Unlinkat(dirfd, o.B, o.Flags)
			}
			if dirfd >= 0 {
				s.Close(dirfd)
			}
		default:
			t.Fatalf("op %q", o.Op)
		}
		res[i] = errnoOf(err)
	}
	return res
}

const linuxChildEnv = "GOSKIT_LIBC_FILES_CHROOT"

// TestLinuxErrnoChild is the child of TestFilesErrnoLikeLinux: it chroots
// into the directory it is given, so absolute symlinks and ".." at the
// root behave there as in the namespace, runs the table and prints the
// results. Run directly it does nothing.
func TestLinuxErrnoChild(t *testing.T) {
	dir := os.Getenv(linuxChildEnv)
	if dir == "" {
		t.Skip("helper for TestFilesErrnoLikeLinux")
	}
	if err := unix.Chroot(dir); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chdir("/"); err != nil {
		t.Fatal(err)
	}
	res := runLinux(fsOps())
	b, _ := json.Marshal(res)
	fmt.Printf("RESULTS %s\n", b)
}

// TestFilesErrnoLikeLinux runs one table of file calls on Linux (in a
// chroot of a fresh temporary directory, so the root is the table's) and
// on libc over a namespace whose root is a memfs, then a hostfs of another
// fresh temporary directory, and requires the same errno from each call.
func TestFilesErrnoLikeLinux(t *testing.T) {
	testenv.NeedRoot(t) // chroot
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLinuxErrnoChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), linuxChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, js, ok := bytes.Cut(out, []byte("RESULTS "))
	if !ok {
		t.Fatalf("child printed no results:\n%s", out)
	}
	js, _, _ = bytes.Cut(js, []byte("\n"))
	var linux []int
	if err := json.Unmarshal(js, &linux); err != nil {
		t.Fatal(err)
	}
	ops := fsOps()
	if len(linux) != len(ops) {
		t.Fatalf("child ran %d ops of %d", len(linux), len(ops))
	}
	roots := []struct {
		name string
		mk   func(t *testing.T) fs.FileSystem
	}{
		{"memfs", func(t *testing.T) fs.FileSystem { return memfs.New() }},
		{"hostfs", func(t *testing.T) fs.FileSystem {
			h, err := hostfs.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.Close() })
			return h
		}},
	}
	for _, r := range roots {
		t.Run(r.name, func(t *testing.T) {
			kit := runKit(t, ops, r.mk(t))
			for i, o := range ops {
				if linux[i] != kit[i] {
					a := o.A
					if len(a) > 40 {
						a = a[:40] + "..."
					}
					t.Errorf("#%d %s(%q, %q, %#o): libc %v, Linux %v", i, o.Op, a, o.B, o.Flags,
						syscall.Errno(kit[i]), syscall.Errno(linux[i]))
				}
			}
		})
	}
}
