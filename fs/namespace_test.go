package fs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/fs/memfs"
)

// nsTree builds, in a fresh memfs, the tree the resolution tests walk, and
// returns the file system and the inode numbers of its nodes by path.
//
//	/a/b/file        "hello"
//	/a/b/sub/        (empty)
//	/a/rel -> b      /a/abs -> /a/b     /a/up -> ../..
//	/file
//	/dangling -> /nowhere
//	/loop1 -> loop2  /loop2 -> loop1
//	/self -> self
//	/tofile -> file  /todir -> a/
//	/chainN -> chainN-1 ... /chain0 -> file
func nsTree(t testing.TB) (*memfs.FS, map[string]uint64) {
	t.Helper()
	m := memfs.New()
	root, _ := m.Root()
	inos := map[string]uint64{}
	ino := func(path string, n fs.Node) {
		a, err := n.Stat()
		if err != nil {
			t.Fatal(err)
		}
		inos[path] = a.Ino
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ino("/", root)
	a, err := root.Mkdir("a", 0o755, fs.Owner{})
	must(err)
	ino("/a", a)
	b, err := a.Mkdir("b", 0o755, fs.Owner{})
	must(err)
	ino("/a/b", b)
	sub, err := b.Mkdir("sub", 0o755, fs.Owner{})
	must(err)
	ino("/a/b/sub", sub)
	f, err := b.Create("file", 0o644, fs.Owner{})
	must(err)
	_, err = f.WriteAt([]byte("hello"), 0)
	must(err)
	ino("/a/b/file", f)
	f2, err := root.Create("file", 0o644, fs.Owner{})
	must(err)
	ino("/file", f2)
	for _, l := range [][3]string{
		{"/a", "rel", "b"}, {"/a", "abs", "/a/b"}, {"/a", "up", "../.."},
		{"/", "dangling", "/nowhere"}, {"/", "loop1", "loop2"}, {"/", "loop2", "loop1"},
		{"/", "self", "self"}, {"/", "tofile", "file"}, {"/", "todir", "a/"},
		{"/", "chain0", "file"},
	} {
		d := root
		if l[0] == "/a" {
			d = a
		}
		_, err := d.Symlink(l[1], l[2], fs.Owner{})
		must(err)
	}
	for i := 1; i <= 40; i++ {
		_, err := root.Symlink(fmt.Sprintf("chain%d", i), fmt.Sprintf("chain%d", i-1), fs.Owner{})
		must(err)
	}
	return m, inos
}

func nsNew(t testing.TB) (*fs.Namespace, map[string]uint64) {
	m, inos := nsTree(t)
	ns, err := fs.NewNamespace(m)
	if err != nil {
		t.Fatal(err)
	}
	return ns, inos
}

func nsIno(t testing.TB, n fs.Node) uint64 {
	t.Helper()
	a, err := n.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return a.Ino
}

func TestNamespaceResolve(t *testing.T) {
	ns, inos := nsNew(t)
	long := "/" + strings.Repeat("x/", fs.PathMax/2)
	tests := []struct {
		path  string
		flags fs.ResolveFlags
		err   error
		node  string // path in tree() of the node expected; "" for none
		name  string // expected Name, if not ""
		slash bool
	}{
		{path: "", err: syscall.ENOENT},
		{path: "/", node: "/", name: "/", slash: true},
		{path: "///", node: "/", name: "/", slash: true},
		{path: ".", node: "/", name: "."},
		{path: "..", node: "/", name: ".."},
		{path: "/../../..", node: "/", name: ".."},
		{path: "/../a/./b//file", node: "/a/b/file", name: "file"},
		{path: "a/b/file", node: "/a/b/file"},
		{path: "/a/b/sub/../file", node: "/a/b/file"},
		{path: "/a/rel/file", node: "/a/b/file"},
		{path: "/a/abs/file", node: "/a/b/file"},
		{path: "/a/rel/../b/file", node: "/a/b/file"},
		{path: "/a/up/a/b/file", node: "/a/b/file"}, // ../.. from /a stops at /
		{path: "/a/up/../../../a", node: "/a"},
		{path: "/a/rel", flags: fs.Follow, node: "/a/b", name: "b"},
		{path: "/a/rel", name: "rel"}, // the link itself: checked below
		{path: "/a/rel/", node: "/a/b", slash: true},
		{path: "/a/rel/", flags: fs.Entry, name: "rel", slash: true},
		{path: "/tofile/", err: syscall.ENOTDIR},
		{path: "/file/", err: syscall.ENOTDIR},
		{path: "/file/", flags: fs.Entry, node: "/file", slash: true},
		{path: "/file/x", err: syscall.ENOTDIR},
		{path: "/file/..", err: syscall.ENOTDIR},
		{path: "/todir/b", node: "/a/b"},
		{path: "/missing", name: "missing"},
		{path: "/missing/", name: "missing", slash: true},
		{path: "/missing/x", err: syscall.ENOENT},
		{path: "/dangling", flags: fs.Follow, name: "nowhere"},
		{path: "/dangling/x", err: syscall.ENOENT},
		{path: "/loop1", flags: fs.Follow, err: syscall.ELOOP},
		{path: "/loop1/x", err: syscall.ELOOP},
		{path: "/self", flags: fs.Follow, err: syscall.ELOOP},
		{path: "/chain39", flags: fs.Follow, node: "/file"}, // 40 links
		{path: "/chain40", flags: fs.Follow, err: syscall.ELOOP},
		{path: "/chain40", name: "chain40"},
		{path: "/" + strings.Repeat("n", 256), err: syscall.ENAMETOOLONG},
		{path: "/" + strings.Repeat("n", 255), name: strings.Repeat("n", 255)},
		{path: long[:fs.PathMax], err: syscall.ENAMETOOLONG},
		{path: long[:fs.PathMax-1], err: syscall.ENOENT},
	}
	for _, tc := range tests {
		name := tc.path
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		t.Run(name, func(t *testing.T) {
			l, err := ns.Resolve(tc.path, tc.flags)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name != "" && l.Name != tc.name {
				t.Errorf("Name %q, want %q", l.Name, tc.name)
			}
			if l.Slash != tc.slash {
				t.Errorf("Slash %v, want %v", l.Slash, tc.slash)
			}
			switch {
			case tc.node != "":
				if l.Node == nil {
					t.Fatalf("no node, want %s", tc.node)
				}
				if got := nsIno(t, l.Node); got != inos[tc.node] {
					t.Errorf("node ino %d, want %s's %d", got, tc.node, inos[tc.node])
				}
			case l.Node != nil:
				if _, ok := l.Node.(fs.Symlink); !ok {
					t.Errorf("got node %T, want none or the symlink", l.Node)
				}
			}
			if l.Node != nil && l.Parent == nil && l.Name != "/" && l.Name != "." && l.Name != ".." {
				t.Errorf("entry %q without Parent", l.Name)
			}
		})
	}
}

func TestNamespaceChdir(t *testing.T) {
	ns, inos := nsNew(t)
	steps := []struct {
		chdir string
		err   error
		wd    string
	}{
		{"/a/b", nil, "/a/b"},
		{"sub", nil, "/a/b/sub"},
		{"../../..", nil, "/"},
		{"a/rel", nil, "/a/b"}, // physical, as Linux's getcwd
		{"../../../..", nil, "/"},
		{"/file", syscall.ENOTDIR, "/"},
		{"/tofile", syscall.ENOTDIR, "/"},
		{"/missing", syscall.ENOENT, "/"},
		{"/dangling", syscall.ENOENT, "/"},
		{"", syscall.ENOENT, "/"},
		{"/a/abs/sub", nil, "/a/b/sub"},
	}
	for _, s := range steps {
		err := ns.Chdir(s.chdir)
		if !errors.Is(err, s.err) || (s.err == nil && err != nil) {
			t.Errorf("Chdir(%q) = %v, want %v", s.chdir, err, s.err)
		}
		if wd := ns.Getwd(); wd != s.wd {
			t.Errorf("after Chdir(%q): Getwd %q, want %q", s.chdir, wd, s.wd)
		}
	}
	// Relative paths start at the working directory (/a/b/sub); ".."
	// walks up the directories that led there.
	for path, want := range map[string]string{
		"..":          "/a/b",
		"../file":     "/a/b/file",
		"../../..":    "/",
		"../../../..": "/",
		"../../rel":   "/a/b",
		"/a":          "/a",
	} {
		l, err := ns.Resolve(path, fs.Follow)
		if err != nil || l.Node == nil {
			t.Errorf("Resolve(%q) = %+v, %v", path, l, err)
			continue
		}
		if got := nsIno(t, l.Node); got != inos[want] {
			t.Errorf("Resolve(%q): ino %d, want %s's %d", path, got, want, inos[want])
		}
	}
}

func TestNamespaceLocate(t *testing.T) {
	ns, inos := nsNew(t)
	loc, err := ns.Locate(nil, "/a/rel/sub")
	if err != nil {
		t.Fatal(err)
	}
	if loc.Path() != "/a/b/sub" || nsIno(t, loc.Dir()) != inos["/a/b/sub"] {
		t.Errorf("Locate: %q, ino %d", loc.Path(), nsIno(t, loc.Dir()))
	}
	for path, want := range map[string]string{"..": "/a/b", "../file": "/a/b/file", "../../../..": "/", "/a": "/a"} {
		l, err := ns.ResolveAt(loc, path, 0)
		if err != nil || l.Node == nil || nsIno(t, l.Node) != inos[want] {
			t.Errorf("ResolveAt(%q) = %+v, %v; want %s", path, l, err, want)
		}
	}
	for path, want := range map[string]error{"/file": syscall.ENOTDIR, "/tofile": syscall.ENOTDIR, "/missing": syscall.ENOENT, "": syscall.ENOENT, "/loop1": syscall.ELOOP} {
		if _, err := ns.Locate(nil, path); !errors.Is(err, want) {
			t.Errorf("Locate(%q) = %v, want %v", path, err, want)
		}
	}
	up, err := ns.Locate(loc, "..")
	if err != nil || up.Path() != "/a/b" {
		t.Errorf("Locate(loc, ..) = %v, %v", up, err)
	}
	if err := ns.ChdirTo(loc); err != nil {
		t.Fatal(err)
	}
	if ns.Getwd() != "/a/b/sub" || ns.Cwd().Path() != "/a/b/sub" {
		t.Errorf("after ChdirTo: %q", ns.Getwd())
	}
	if err := ns.ChdirTo(nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ChdirTo(nil) = %v", err)
	}
	if _, err := ns.ResolveAt(nil, strings.Repeat("/", fs.PathMax), 0); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("ResolveAt of a long path = %v", err)
	}
}

func TestNamespaceMount(t *testing.T) {
	ns, inos := nsNew(t)
	m2 := memfs.New()
	r2, _ := m2.Root()
	if _, err := r2.Create("inside", 0o644, fs.Owner{}); err != nil {
		t.Fatal(err)
	}
	d2, _ := r2.Mkdir("d", 0o755, fs.Owner{})
	if _, err := d2.Symlink("abs", "/a/b", fs.Owner{}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Mount("/a/rel/sub", m2); err != nil { // through a link
		t.Fatal(err)
	}
	check := func(path string, flags fs.ResolveFlags, want fs.Node, wantIno uint64) {
		t.Helper()
		l, err := ns.Resolve(path, flags)
		if err != nil || l.Node == nil {
			t.Fatalf("Resolve(%q) = %+v, %v", path, l, err)
		}
		if want != nil {
			wantIno = nsIno(t, want)
		}
		if got := nsIno(t, l.Node); got != wantIno {
			t.Errorf("Resolve(%q): ino %d, want %d", path, got, wantIno)
		}
	}
	check("/a/b/sub/inside", 0, nil, 2) // memfs numbers from 1: root, then inside
	check("/a/b/sub", fs.Follow, r2, 0)
	check("/a/b/sub/..", 0, nil, inos["/a/b"])
	check("/a/b/sub/d/../../file", 0, nil, inos["/a/b/file"])
	check("/a/b/sub/d/abs/file", fs.Follow, nil, inos["/a/b/file"]) // absolute target: the namespace's root
	l, _ := ns.Resolve("/a/b/sub", 0)
	if !l.MountRoot || l.Name != "sub" || l.Parent == nil || l.FileSystem() != fs.FileSystem(m2) {
		t.Errorf("mount point lookup %+v", l)
	}
	lf, _ := ns.Resolve("/a/b/file", 0)
	if l.Dev() == lf.Dev() {
		t.Errorf("mounts share dev %d", l.Dev())
	}
	li, _ := ns.Resolve("/a/b/sub/inside", 0)
	if li.SameMount(&lf) || !li.SameMount(&li) {
		t.Error("SameMount wrong")
	}

	// Working directory inside the mount.
	if err := ns.Chdir("/a/b/sub/d"); err != nil {
		t.Fatal(err)
	}
	if wd := ns.Getwd(); wd != "/a/b/sub/d" {
		t.Errorf("Getwd %q", wd)
	}
	check("../../file", 0, nil, inos["/a/b/file"])
	if err := ns.Chdir("/"); err != nil {
		t.Fatal(err)
	}

	// Stacked mounts: the last hides the first until unmounted.
	m3 := memfs.New()
	if err := ns.Mount("/a/b/sub", m3); err != nil {
		t.Fatal(err)
	}
	if l, _ := ns.Resolve("/a/b/sub/inside", 0); l.Node != nil {
		t.Error("lower mount visible through the upper one")
	}
	if err := ns.Unmount("/a/b/sub/d"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Unmount of a hidden dir = %v, want ENOENT", err)
	}
	if err := ns.Unmount("/a/b"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Unmount of a plain dir = %v, want EINVAL", err)
	}
	if err := ns.Unmount("/"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Unmount of the root = %v, want EINVAL", err)
	}
	if err := ns.Unmount("/a/b/sub"); err != nil {
		t.Fatal(err)
	}
	check("/a/b/sub/inside", 0, nil, 2)
	// Busy: something mounted inside.
	if err := ns.Mount("/a/b/sub/d", memfs.New()); err != nil {
		t.Fatal(err)
	}
	if err := ns.Unmount("/a/b/sub"); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Unmount with a mount inside = %v, want EBUSY", err)
	}
	if err := ns.Unmount("/a/b/sub/d"); err != nil {
		t.Fatal(err)
	}
	if err := ns.Unmount("/a/b/sub"); err != nil {
		t.Fatal(err)
	}
	check("/a/b/sub", 0, nil, inos["/a/b/sub"])

	for _, tc := range []struct {
		path string
		err  error
	}{{"/file", syscall.ENOTDIR}, {"/missing", syscall.ENOENT}, {"/loop1", syscall.ELOOP}} {
		if err := ns.Mount(tc.path, memfs.New()); !errors.Is(err, tc.err) {
			t.Errorf("Mount(%q) = %v, want %v", tc.path, err, tc.err)
		}
	}
	if err := ns.Mount("/", nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Mount(nil) = %v", err)
	}
}

func TestNamespaceMountRoot(t *testing.T) {
	ns, inos := nsNew(t)
	m2 := memfs.New()
	r2, _ := m2.Root()
	r2.Mkdir("top", 0o755, fs.Owner{})
	if err := ns.Mount("/", m2); err != nil {
		t.Fatal(err)
	}
	// The working directory stays in the hidden file system (as a
	// process's on Linux) until Chdir.
	if l, _ := ns.Resolve("a", 0); l.Node == nil {
		t.Error("working directory moved by the mount")
	}
	if err := ns.Chdir("/"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/top", "/../top", "top/../../top"} {
		if l, err := ns.Resolve(p, 0); err != nil || l.Node == nil {
			t.Errorf("Resolve(%q) = %+v, %v", p, l, err)
		}
	}
	if l, _ := ns.Resolve("/a", 0); l.Node != nil {
		t.Error("hidden root file system visible")
	}
	if err := ns.Unmount("/"); err != nil {
		t.Fatal(err)
	}
	l, err := ns.Resolve("/a", 0)
	if err != nil || l.Node == nil || nsIno(t, l.Node) != inos["/a"] {
		t.Errorf("after unmount: %+v, %v", l, err)
	}
}

// TestNamespaceConcurrent resolves paths while others mount, unmount and change
// directory (run it with -race).
func TestNamespaceConcurrent(t *testing.T) {
	ns, _ := nsNew(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ns.Resolve("/a/rel/file", fs.Follow); err != nil {
					t.Error(err)
					return
				}
				ns.Resolve("/a/b/sub/x", 0)
				ns.Resolve("..", 0)
				ns.Getwd()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if err := ns.Mount("/a/b/sub", memfs.New()); err != nil {
			t.Fatal(err)
		}
		if err := ns.Chdir("/a/b/sub"); err != nil {
			t.Fatal(err)
		}
		if err := ns.Unmount("/a/b/sub"); err != nil {
			t.Fatal(err)
		}
		if err := ns.Chdir("/"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestNamespaceNewErrors(t *testing.T) {
	if _, err := fs.NewNamespace(nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("NewNamespace(nil) = %v", err)
	}
	m := memfs.New()
	m.Close()
	if _, err := fs.NewNamespace(m); err == nil {
		t.Error("NewNamespace of a closed memfs worked")
	}
}

func BenchmarkNamespaceResolve(b *testing.B) {
	ns, _ := nsNew(b)
	for _, p := range []string{"/a/b/file", "/a/rel/file", "a/b/sub/../file"} {
		b.Run(strings.ReplaceAll(p, "/", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ns.Resolve(p, fs.Follow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A namespace over a memfs root, with a second memfs mounted at /mnt and
// a symlink that leads into it.
func ExampleNamespace() {
	root := memfs.New()
	ns, err := fs.NewNamespace(root)
	if err != nil {
		panic(err)
	}
	r, _ := root.Root()
	r.Mkdir("mnt", 0o755, fs.Owner{})
	r.Symlink("data", "/mnt/hello", fs.Owner{})

	disk := memfs.New()
	d, _ := disk.Root()
	f, _ := d.Create("hello", 0o644, fs.Owner{})
	f.WriteAt([]byte("hi from the mounted fs\n"), 0)
	if err := ns.Mount("/mnt", disk); err != nil {
		panic(err)
	}

	l, err := ns.Resolve("/data", fs.Follow) // follows the link into the mount
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 64)
	n, _ := l.Node.(fs.File).ReadAt(buf, 0)
	fmt.Printf("%s %q", l.Name, buf[:n])
	// Output: hello "hi from the mounted fs\n"
}

// FuzzNamespaceResolve resolves arbitrary paths in the test tree, with a
// file system mounted inside it and the working directory in the mount:
// resolution must end (links are bounded), fail only with an Errno, and
// return a consistent Lookup.
func FuzzNamespaceResolve(f *testing.F) {
	for _, s := range []string{"/", "a/b/file", "../../..", "/a/up/../a/rel/", "/loop1/x", "/chain40",
		"/mnt/x/../../a", "//a//./b/", "/a/b/sub/..", strings.Repeat("../", 50) + "file", "/dangling/"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(fs.Follow))
	}
	ns, _ := nsNew(f)
	m2 := memfs.New()
	r2, _ := m2.Root()
	r2.Mkdir("x", 0o755, fs.Owner{})
	r2.Symlink("out", "../../../../a", fs.Owner{})
	r2.Symlink("abs", "/mnt", fs.Owner{})
	root, _ := func() (fs.Dir, error) { l, err := ns.Resolve("/", 0); return l.Node.(fs.Dir), err }()
	root.Mkdir("mnt", 0o755, fs.Owner{})
	if err := ns.Mount("/mnt", m2); err != nil {
		f.Fatal(err)
	}
	if err := ns.Chdir("/mnt/x"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string, flags uint8) {
		l, err := ns.Resolve(path, fs.ResolveFlags(flags)&(fs.Follow|fs.Entry))
		if err != nil {
			var e syscall.Errno
			if !errors.As(err, &e) {
				t.Fatalf("Resolve(%q): error %v is not an Errno", path, err)
			}
			return
		}
		switch {
		case l.Name == "/" || l.Name == "." || l.Name == "..":
			if l.Parent != nil || l.Node == nil {
				t.Fatalf("Resolve(%q) = %+v", path, l)
			}
		case l.Name == "" || strings.Contains(l.Name, "/") || l.Parent == nil:
			t.Fatalf("Resolve(%q) = %+v", path, l)
		}
		if l.Node != nil {
			if _, err := l.Node.Stat(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestNamespaceHostfs mounts a hostfs (whose nodes are objects per
// lookup, known by inode number) inside memfs, and a memfs inside that.
func TestNamespaceHostfs(t *testing.T) {
	ns, inos := nsNew(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "h/mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "h/file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/a/b/file", filepath.Join(dir, "h/abs")); err != nil {
		t.Fatal(err)
	}
	h, err := hostfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := ns.Mount("/a/b/sub", h); err != nil {
		t.Fatal(err)
	}
	inner := memfs.New()
	ir, _ := inner.Root()
	ir.Create("deep", 0o644, fs.Owner{})
	if err := ns.Mount("/a/b/sub/h/mnt", inner); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/a/b/sub/h/mnt/../../..":               "/a/b",
		"/a/b/sub/h/mnt/../../../file":          "/a/b/file",
		"/a/b/sub/h/abs":                        "/a/b/file", // absolute link inside hostfs: the namespace's root
		"/a/b/sub/h/mnt/../abs":                 "/a/b/file",
		"/a/b/sub/../../../a/b/sub/h/mnt/../..": "/a/b/sub", // the hostfs root: inos differ, checked below
	} {
		l, err := ns.Resolve(path, fs.Follow)
		if err != nil || l.Node == nil {
			t.Errorf("Resolve(%q) = %+v, %v", path, l, err)
			continue
		}
		if want == "/a/b/sub" {
			if !l.MountRoot || l.FileSystem() != fs.FileSystem(h) {
				t.Errorf("Resolve(%q) is not hostfs's root: %+v", path, l)
			}
			continue
		}
		if got := nsIno(t, l.Node); got != inos[want] {
			t.Errorf("Resolve(%q): ino %d, want %s's %d", path, got, want, inos[want])
		}
	}
	l, err := ns.Resolve("/a/b/sub/h/mnt/deep", 0)
	if err != nil || l.Node == nil || l.FileSystem() != fs.FileSystem(inner) {
		t.Errorf("memfs inside hostfs: %+v, %v", l, err)
	}
	if err := ns.Unmount("/a/b/sub"); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Unmount of hostfs with a mount inside = %v", err)
	}
}
