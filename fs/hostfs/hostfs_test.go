package hostfs_test

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"golang.org/x/sys/unix"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/internal/testenv"
)

// newHost returns a hostfs on a fresh temporary directory, closed at the
// end of the test, and the directory's path.
func newHost(t *testing.T, opts ...hostfs.Option) (*hostfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	h, err := hostfs.New(dir, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h, dir
}

func TestBehaviour(t *testing.T) {
	testenv.NeedRoot(t) // owners other than the test's own
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		h, _ := newHost(t)
		return h
	}, fsbehave.Options{SharedStatFS: true})
}

func TestBehaviourReadOnly(t *testing.T) {
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		dir := t.TempDir()
		os.WriteFile(dir+"/a", []byte("hello"), 0o644)
		os.Mkdir(dir+"/d", 0o755)
		os.Symlink("../../etc/passwd", dir+"/l")
		h, err := hostfs.New(dir, hostfs.ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}, fsbehave.Options{ReadOnly: true, SharedStatFS: true})
}

func TestFSTest(t *testing.T) {
	h, dir := newHost(t)
	for p, data := range map[string]string{
		"hello.txt":        "hello, world\n",
		"empty":            "",
		"sub/a.txt":        "a",
		"sub/deeper/b.bin": "\x00\x01\x02",
		"sub/deeper/c.txt": strings.Repeat("c", 70000),
		"other/readme.md":  "# readme",
		"setuid-file":      "s",
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unix.Chmod(filepath.Join(dir, "setuid-file"), 0o4755)
	os.Mkdir(filepath.Join(dir, "emptydir"), 0o700)
	os.Symlink("sub/a.txt", filepath.Join(dir, "link-in"))
	os.Symlink("../hello.txt", filepath.Join(dir, "sub", "link-up"))
	if err := fstest.TestFS(fs.IOFS(h), "hello.txt", "empty", "sub/a.txt", "sub/deeper/b.bin",
		"sub/deeper/c.txt", "other/readme.md", "setuid-file", "emptydir", "link-in", "sub/link-up"); err != nil {
		t.Fatal(err)
	}
	// The io/fs view and the host agree on modes, set-uid included.
	info, err := iofs.Stat(fs.IOFS(h), "setuid-file")
	if err != nil || info.Mode() != iofs.ModeSetuid|0o755 {
		t.Errorf("setuid-file: %v, %v", info.Mode(), err)
	}
}

// TestFDs checks the descriptor accounting: nodes dropped are closed by
// the runtime's cleanups, Close closes the rest, and nodes used after
// Close give EBADF.
func TestFDs(t *testing.T) {
	h, dir := newHost(t)
	os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	r, _ := h.Root()
	base := h.OpenFDs()
	const n = 500
	for range n {
		f, err := r.Lookup("f")
		if err != nil {
			t.Fatal(err)
		}
		f.(fs.File).ReadAt(make([]byte, 4), 0) // a second descriptor
		d, _ := r.Lookup("d")
		d.(fs.Dir).ReadDir(0, 0) // and another
	}
	// One live node per inode: the lookups shared a node.
	if got := h.OpenFDs(); got > base+4 {
		t.Errorf("%d descriptors held after %d lookups of two names", got-base, n)
	}
	// Cleanups run after a collection; give the runtime a bounded number
	// of collections to run them (not a timed wait).
	for i := 0; i < 100 && h.OpenFDs() > base; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if got := h.OpenFDs(); got > base {
		t.Errorf("%d descriptors still held after dropping every node (base %d)", got, base)
	}

	// Release closes a node's descriptors at once.
	os.WriteFile(filepath.Join(dir, "g"), []byte("data"), 0o644)
	os.Mkdir(filepath.Join(dir, "e"), 0o755)
	for _, name := range []string{"g", "e"} {
		before := h.OpenFDs()
		n, _ := r.Lookup(name)
		if f, ok := n.(fs.File); ok {
			f.ReadAt(make([]byte, 1), 0)
		} else {
			n.(fs.Dir).ReadDir(0, 0)
		}
		if got := h.OpenFDs(); got != before+2 {
			t.Errorf("%s: %d descriptors for a used node, want 2", name, got-before)
		}
		n.(interface{ Release() }).Release()
		if got := h.OpenFDs(); got != before {
			t.Errorf("%s: %d descriptors after Release, want %d", name, got, before)
		}
		if _, err := n.Stat(); !errors.Is(err, syscall.EBADF) {
			t.Errorf("%s: Stat after Release: %v", name, err)
		}
	}
	r.(interface{ Release() }).Release() // the root is not released
	if _, err := r.Stat(); err != nil {
		t.Errorf("root after Release: %v", err)
	}

	keep, _ := r.Lookup("f")
	keepDir, _ := r.Lookup("d")
	before := countFDs(t)
	held := h.OpenFDs()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if h.OpenFDs() != 0 {
		t.Errorf("%d descriptors after Close", h.OpenFDs())
	}
	if after := countFDs(t); before-after < held {
		t.Errorf("process descriptors %d -> %d after Close, want %d fewer", before, after, held)
	}
	if _, err := keep.Stat(); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Stat after Close: %v", err)
	}
	if _, err := keep.(fs.File).ReadAt(make([]byte, 1), 0); !errors.Is(err, syscall.EBADF) {
		t.Errorf("ReadAt after Close: %v", err)
	}
	if _, err := keepDir.(fs.Dir).Lookup("x"); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Lookup after Close: %v", err)
	}
	if _, err := h.Root(); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Root after Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644)
	h, err := hostfs.New(dir, hostfs.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r, _ := h.Root()
	n, _ := r.Lookup("f")
	f := n.(fs.File)
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteAt: %v", err)
	}
	if err := f.(fs.Allocater).Allocate(0, 10, false); !errors.Is(err, syscall.EROFS) {
		t.Errorf("Allocate: %v", err)
	}
	if err := f.(fs.Xattrer).SetXattr("user.a", nil, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("SetXattr: %v", err)
	}
	if _, err := r.(fs.Mknoder).Mknod("p", fs.ModeFIFO|0o644, 0, fs.Owner{}); !errors.Is(err, syscall.EROFS) {
		t.Errorf("Mknod: %v", err)
	}
	p := make([]byte, 4)
	if n, err := f.ReadAt(p, 0); n != 4 || string(p) != "data" {
		t.Errorf("ReadAt: %d, %v", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "data" {
		t.Errorf("host file changed: %q", b)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	for _, tt := range []struct {
		path  string
		errno syscall.Errno
	}{
		{filepath.Join(dir, "missing"), syscall.ENOENT},
		{filepath.Join(dir, "file"), syscall.ENOTDIR},
	} {
		if _, err := hostfs.New(tt.path); !errors.Is(err, tt.errno) {
			t.Errorf("New(%q): %v, want %v", tt.path, err, tt.errno)
		}
	}
}

// TestNoCrossMounts mounts a tmpfs below the root: it is reachable by
// default and refused with EXDEV under NoCrossMounts.
func TestNoCrossMounts(t *testing.T) {
	testenv.NeedRoot(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		testenv.Unavailable(t, "mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	for _, tt := range []struct {
		opts []hostfs.Option
		want error
	}{
		{nil, nil},
		{[]hostfs.Option{hostfs.NoCrossMounts()}, syscall.EXDEV},
	} {
		h, err := hostfs.New(dir, tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := h.Root()
		_, err = r.Lookup("mnt")
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("opts %d: Lookup mnt: %v, want %v", len(tt.opts), err, tt.want)
		}
		h.Close()
	}
}

func TestBehaviourVerifyBeneath(t *testing.T) {
	testenv.NeedRoot(t)
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		h, _ := newHost(t, hostfs.VerifyBeneath())
		return h
	}, fsbehave.Options{SharedStatFS: true})
}

// TestOneNodePerInode: lookups of one inode, by one name or by its hard
// links, give one node, which counts its references; a node whose every
// reference was released is replaced by a fresh one.
func TestOneNodePerInode(t *testing.T) {
	h, dir := newHost(t)
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	r, _ := h.Root()
	a1, _ := r.Lookup("a")
	a2, _ := r.Lookup("a")
	b, _ := r.Lookup("b")
	if a1 != a2 || a1 != b {
		t.Errorf("lookups of one inode gave different nodes: %p %p %p", a1, a2, b)
	}
	// Three references were handed out: the node works until the third
	// is given back.
	for i := range 3 {
		if _, err := a1.Stat(); err != nil {
			t.Fatalf("after %d of 3 releases: %v", i, err)
		}
		a1.(interface{ Release() }).Release()
	}
	if _, err := a1.Stat(); !errors.Is(err, syscall.EBADF) {
		t.Errorf("after the last release: %v, want EBADF", err)
	}
	a3, err := r.Lookup("a")
	if err != nil || a3 == a1 {
		t.Fatalf("Lookup after Release: %p, %v (released %p)", a3, err, a1)
	}
	if _, err := a3.Stat(); err != nil {
		t.Errorf("the fresh node: %v", err)
	}
	// A name that now holds another inode gives that inode's node.
	os.Remove(filepath.Join(dir, "b"))
	os.WriteFile(filepath.Join(dir, "b"), []byte("new"), 0o644)
	b2, _ := r.Lookup("b")
	if b2 == a3 {
		t.Error("a replaced name gave the old inode's node")
	}
	p := make([]byte, 3)
	if n, _ := b2.(fs.File).ReadAt(p, 0); string(p[:n]) != "new" {
		t.Errorf("read %q", p[:n])
	}
}
