package hostfs_test

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
	"golang.org/x/sys/unix"
)

const secret = "SECRET outside the root"

// jail makes base/root (the hostfs) and base/outside/secret (the sentinel
// nothing may read, change or create beside), and returns the hostfs, its
// root directory node, the root's host path and the outside's.
func jail(t *testing.T) (*hostfs.FS, fs.Dir, string, string) {
	t.Helper()
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := hostfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r, err := h.Root()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkOutside(t, outside) })
	return h, r, root, outside
}

// checkOutside fails if anything beside the sentinel appeared outside, or
// the sentinel changed.
func checkOutside(t *testing.T, outside string, allowed ...string) {
	t.Helper()
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "secret" && !slices.Contains(allowed, e.Name()) {
			t.Errorf("escape: %q appeared outside the root", e.Name())
		}
	}
	st, err := os.Lstat(filepath.Join(outside, "secret"))
	if err != nil || st.Mode() != 0o600 {
		t.Errorf("escape: the sentinel changed: %v, %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != secret {
		t.Errorf("escape: the sentinel now holds %q", b)
	}
}

// TestNamesRefused tries path-like names in every operation that takes
// one: each is refused with EINVAL before the host is asked.
func TestNamesRefused(t *testing.T) {
	h, r, root, outside := jail(t)
	rel, _ := filepath.Rel(root, filepath.Join(outside, "secret"))
	names := []string{"..", ".", "", "../outside", rel, "../../../../../../etc/passwd",
		"/etc/passwd", filepath.Join(outside, "secret"), "a/../..", "..\x00", "x/", "/"}
	f, err := r.Create("file", 0o644, fs.Owner{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	if err != nil {
		t.Fatal(err)
	}
	me := fs.Owner{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	for _, name := range names {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			ops := map[string]error{}
			_, ops["Lookup"] = r.Lookup(name)
			_, ops["Create"] = r.Create(name, 0o644, me)
			_, ops["Mkdir"] = r.Mkdir(name, 0o755, me)
			_, ops["Symlink"] = r.Symlink(name, "/etc/passwd", me)
			_, ops["Mknod"] = r.(fs.Mknoder).Mknod(name, fs.ModeFIFO|0o644, 0, me)
			ops["Link"] = r.Link(name, f)
			ops["Unlink"] = r.Unlink(name)
			ops["Rmdir"] = r.Rmdir(name)
			ops["Rename from"] = r.Rename(name, r, "x")
			ops["Rename to"] = r.Rename("file", r, name)
			for op, err := range ops {
				if !errors.Is(err, syscall.EINVAL) {
					t.Errorf("%s(%q): %v, want EINVAL", op, name, err)
				}
			}
		})
	}
	_ = h
	if _, err := os.Stat(filepath.Join(root, "file")); err != nil {
		t.Errorf("the file renamed nowhere is gone: %v", err)
	}
}

// TestSymlinksOut puts symlinks pointing out of the root inside it:
// Lookup returns each as a Symlink with its raw target, nothing reads
// through them, and the io/fs adapter resolves them inside the root.
func TestSymlinksOut(t *testing.T) {
	h, r, root, outside := jail(t)
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs":        filepath.Join(outside, "secret"),
		"absdir":     outside,
		"etc":        "/etc",
		"rel":        "../outside/secret",
		"reldir":     "../outside",
		"sub/up":     "../../outside/secret",
		"sub/dotdot": "..",
		"chain":      "sub/up",
		"proc":       "/proc/self/root" + outside,
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		t.Run(name, func(t *testing.T) {
			d := r
			base := name
			if dir, b, ok := cut(name); ok {
				n, err := r.Lookup(dir)
				if err != nil {
					t.Fatal(err)
				}
				d, base = n.(fs.Dir), b
			}
			n, err := d.Lookup(base)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			s, ok := n.(fs.Symlink)
			if !ok {
				t.Fatalf("Lookup gave %T, not a Symlink", n)
			}
			if _, isDir := n.(fs.Dir); isDir {
				t.Fatal("a symlink out is a Dir")
			}
			if _, isFile := n.(fs.File); isFile {
				t.Fatal("a symlink out is a File")
			}
			if got, err := s.Readlink(); got != target || err != nil {
				t.Errorf("Readlink = %q, %v; want %q", got, err, target)
			}
			if a, err := s.Stat(); err != nil || !(a.Mode.Type() == fs.ModeSymlink) {
				t.Errorf("Stat = %o, %v", a.Mode, err)
			}
			// The io/fs adapter interprets links with the root as "/":
			// nothing resolves to the sentinel.
			iof := fs.IOFS(h)
			for _, p := range []string{name, name + "/secret"} {
				if b, err := iofs.ReadFile(iof, p); err == nil || string(b) == secret {
					t.Errorf("io/fs ReadFile(%q) = %q, %v", p, b, err)
				}
			}
		})
	}
	// Changing a symlink's attributes acts on the link, never the target.
	n, _ := r.Lookup("abs")
	_ = n.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o777})
	if err := n.SetAttr(fs.SetAttr{Valid: fs.SetUID | fs.SetGID, Owner: fs.Owner{UID: 4242, GID: 4242}}); err != nil && os.Geteuid() == 0 {
		t.Errorf("chown of a symlink: %v", err)
	}
	if x, ok := n.(fs.Xattrer); ok {
		x.SetXattr("user.x", []byte("y"), 0) // Linux refuses user.* on links
	}
	if st, _ := os.Stat(filepath.Join(outside, "secret")); st.Sys().(*syscall.Stat_t).Uid == 4242 {
		t.Error("escape: chown reached the target")
	}
	if _, err := unix.Lgetxattr(filepath.Join(outside, "secret"), "user.x", nil); err == nil {
		t.Error("escape: setxattr reached the target")
	}
	// Creating over a dangling link out fails with EEXIST, never creates
	// the target.
	if err := os.Symlink(filepath.Join(outside, "new"), filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create("dangling", 0o644, fs.Owner{}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("Create over a dangling link: %v, want EEXIST", err)
	}
	if _, err := r.Mkdir("dangling", 0o755, fs.Owner{}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("Mkdir over a dangling link: %v, want EEXIST", err)
	}
}

func cut(p string) (string, string, bool) {
	if i := len(filepath.Dir(p)); filepath.Dir(p) != "." {
		return p[:i], p[i+1:], true
	}
	return "", p, false
}

// TestSymlinkSwapRace swaps a directory and a symlink out of the root
// (renameat2 RENAME_EXCHANGE) while walkers look the name up and create,
// read and list beneath it: nothing is ever created, read or listed
// outside. Iterations are bounded; the result does not depend on timing.
func TestSymlinkSwapRace(t *testing.T) {
	h, r, root, _ := jail(t)
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(root, "swap")); err != nil {
		t.Fatal(err)
	}
	const swaps, walks = 1000, 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range swaps {
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "d"), unix.AT_FDCWD, filepath.Join(root, "swap"), unix.RENAME_EXCHANGE)
		}
	}()
	iof := fs.IOFS(h)
	errs := make(chan error, 4)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range walks {
				if b, err := iofs.ReadFile(iof, "d/secret"); err == nil || string(b) == secret {
					errs <- fmt.Errorf("io/fs read d/secret through the swap: %q, %v", b, err)
					return
				}
				n, err := r.Lookup("d")
				if err != nil {
					continue
				}
				d, ok := n.(fs.Dir)
				if !ok {
					continue // the symlink: fine, it is only data
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				if f, err := d.Create(name, 0o644, fs.Owner{}); err == nil {
					f.WriteAt([]byte("x"), 0)
				}
				d.Mkdir(name+"dir", 0o755, fs.Owner{})
				d.Symlink(name+"link", "x", fs.Owner{})
				if s, err := d.Lookup("secret"); err == nil {
					errs <- fmt.Errorf("looked up the sentinel through the swap: %v", s)
					return
				}
				ents, _ := d.ReadDir(0, 0)
				for _, e := range ents {
					if e.Name == "secret" {
						errs <- errors.New("listed the outside through the swap")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Everything made is beneath the root, wherever "d" ended.
	made := 0
	filepath.WalkDir(root, func(p string, e iofs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && filepath.Base(p) != "swap" && filepath.Base(p) != "d" {
			made++
		}
		return nil
	})
	if made == 0 {
		t.Error("the walkers made nothing: the test did not exercise the race")
	}
	t.Logf("%d nodes made beneath the root, none outside", made)
}

// TestDirMovedOut holds a directory node while another host process moves
// the directory outside the root. By default the held node keeps its
// identity (a descriptor follows renames), so operations on it act inside
// the moved directory; nothing resolves above it: its new parent, the
// sentinel beside it, stay unreachable, and the root no longer finds it.
// Under VerifyBeneath, operations on it fail with ESTALE instead.
func TestDirMovedOut(t *testing.T) {
	t.Run("default", func(t *testing.T) { dirMovedOut(t, false) })
	t.Run("VerifyBeneath", func(t *testing.T) { dirMovedOut(t, true) })
}

func dirMovedOut(t *testing.T, verify bool) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	must(t, os.Mkdir(root, 0o755))
	must(t, os.Mkdir(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600))
	must(t, os.Mkdir(filepath.Join(root, "held"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "held", "inner"), []byte("inner"), 0o644))
	must(t, os.Symlink("../secret", filepath.Join(root, "held", "up")))
	must(t, os.WriteFile(filepath.Join(root, "mine"), []byte("mine"), 0o644))
	var opts []hostfs.Option
	if verify {
		opts = append(opts, hostfs.VerifyBeneath())
	}
	h, err := hostfs.New(root, opts...)
	must(t, err)
	defer h.Close()
	r, _ := h.Root()
	n, err := r.Lookup("held")
	must(t, err)
	held := n.(fs.Dir)

	// A rename inside the root changes nothing for the held node.
	must(t, os.Rename(filepath.Join(root, "held"), filepath.Join(root, "held2")))
	if _, err := held.Lookup("inner"); err != nil {
		t.Errorf("after a rename inside the root: %v", err)
	}
	moved := filepath.Join(outside, "moved")
	must(t, os.Rename(filepath.Join(root, "held2"), moved))

	if _, err := r.Lookup("held2"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("root still finds the moved dir: %v", err)
	}
	for _, name := range []string{"..", "../secret", "secret"} {
		if n, err := held.Lookup(name); err == nil {
			t.Errorf("Lookup(%q) in the moved dir reached %v", name, n)
		}
	}
	_, lookupErr := held.Lookup("up")
	_, createErr := held.Create("made-after-move", 0o644, fs.Owner{})
	_, readDirErr := held.ReadDir(0, 0)
	renameInErr := r.Rename("mine", held, "mine")
	if verify {
		for what, err := range map[string]error{"Lookup": lookupErr, "Create": createErr, "ReadDir": readDirErr, "Rename into": renameInErr} {
			if !errors.Is(err, syscall.ESTALE) {
				t.Errorf("%s in the moved dir: %v, want ESTALE", what, err)
			}
		}
		if _, err := os.Stat(filepath.Join(root, "mine")); err != nil {
			t.Errorf("mine left the root: %v", err)
		}
	} else {
		// What the held node can still do, it does inside the moved
		// directory, and only there.
		if lookupErr != nil || createErr != nil || readDirErr != nil || renameInErr != nil {
			t.Errorf("held dir: Lookup %v, Create %v, ReadDir %v, Rename %v", lookupErr, createErr, readDirErr, renameInErr)
		}
		if _, err := os.Stat(filepath.Join(moved, "made-after-move")); err != nil {
			t.Errorf("the create went elsewhere: %v", err)
		}
		ents, _ := held.ReadDir(0, 0)
		for _, e := range ents {
			if e.Name == "secret" || e.Name == "moved" {
				t.Errorf("ReadDir of the moved dir lists its new parent's %q", e.Name)
			}
		}
	}
	checkOutside(t, outside, "moved")
	if _, err := os.Stat(filepath.Join(outside, "made-after-move")); err == nil {
		t.Error("escape: a node appeared beside the sentinel")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzName gives every naming operation arbitrary names: each either
// fails or makes exactly that one entry directly in the root, and nothing
// appears outside.
func FuzzName(f *testing.F) {
	for _, s := range []string{"a", "..", "../x", "/etc/passwd", "a/b", "", ".", "x\x00y", "...", "\xff\xfe", " ", strings.Repeat("n", 256)} {
		f.Add(s)
	}
	base := f.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.Mkdir(root, 0o755)
	os.Mkdir(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600)
	h, err := hostfs.New(root)
	if err != nil {
		f.Fatal(err)
	}
	r, _ := h.Root()
	me := fs.Owner{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	f.Fuzz(func(t *testing.T, name string) {
		ops := []func() error{
			func() error { _, err := r.Create(name, 0o644, me); return err },
			func() error { _, err := r.Mkdir(name, 0o755, me); return err },
			func() error { _, err := r.Symlink(name, "../outside/secret", me); return err },
			func() error { _, err := r.(fs.Mknoder).Mknod(name, fs.ModeFIFO|0o600, 0, me); return err },
		}
		for i, op := range ops {
			err := op()
			ents, _ := os.ReadDir(root)
			switch {
			case err != nil && len(ents) != 0:
				t.Fatalf("op %d on %q failed (%v) but made %v", i, name, err, ents)
			case err == nil && (len(ents) != 1 || ents[0].Name() != name):
				t.Fatalf("op %d on %q made %v", i, name, ents)
			}
			if err == nil {
				if _, err := r.Lookup(name); err != nil {
					t.Fatalf("Lookup %q after op %d: %v", name, i, err)
				}
				os.RemoveAll(filepath.Join(root, name))
			}
			checkOutside(t, outside)
		}
	})
}

// TestNamespaceEscapes resolves hostile paths through a Namespace rooted
// at a hostfs: the namespace interprets the links hostfs reports, and no
// path reaches the sentinel outside.
func TestNamespaceEscapes(t *testing.T) {
	h, _, root, outside := jail(t)
	must(t, os.Mkdir(filepath.Join(root, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "sub", "inside"), []byte("inside"), 0o644))
	for name, target := range map[string]string{
		"abs":    filepath.Join(outside, "secret"),
		"rel":    "../outside/secret",
		"sub/up": "../../../../outside/secret",
		"loop":   "loop",
		"in":     "sub/inside",
	} {
		must(t, os.Symlink(target, filepath.Join(root, name)))
	}
	var sentinel unix.Stat_t
	must(t, unix.Stat(filepath.Join(outside, "secret"), &sentinel))
	ns, err := fs.NewNamespace(h)
	must(t, err)
	for _, p := range []string{
		"/../outside/secret", "../outside/secret", "/../../../../outside/secret",
		"abs", "rel", "sub/up", "sub/../../outside/secret", "/sub/../../outside",
		filepath.Join(outside, "secret"), "loop", "in",
	} {
		l, err := ns.Resolve(p, fs.Follow)
		if err != nil || l.Node == nil {
			continue
		}
		a, err := l.Node.Stat()
		if err == nil && a.Ino == sentinel.Ino {
			t.Errorf("Resolve(%q) reached the sentinel outside", p)
		}
		if f, ok := l.Node.(fs.File); ok {
			b := make([]byte, len(secret))
			if n, _ := f.ReadAt(b, 0); string(b[:n]) == secret {
				t.Errorf("Resolve(%q) reads the sentinel", p)
			}
		}
	}
	// The link inside the root does resolve.
	if l, err := ns.Resolve("in", fs.Follow); err != nil || l.Node == nil {
		t.Errorf("Resolve(in): %+v, %v", l, err)
	}
}

// TestDirRenameRace moves a directory out of the root and back while
// walkers look it up and create beneath it. What a walker makes lands
// inside that directory, wherever it is at the moment (held nodes follow
// it; see TestDirMovedOut), and never beside the sentinel or anywhere else.
func TestDirRenameRace(t *testing.T) {
	h, r, root, outside := jail(t)
	in, out := filepath.Join(root, "m"), filepath.Join(outside, "m")
	must(t, os.Mkdir(in, 0o755))
	// The mover runs until the walkers are done (at most maxMoves moves).
	const maxMoves, walks = 20000, 200
	var done atomic.Bool
	var wg, movers sync.WaitGroup
	movers.Add(1)
	go func() {
		defer movers.Done()
		for i := 0; i < maxMoves && !done.Load(); i++ {
			if i%2 == 0 {
				os.Rename(in, out)
			} else {
				os.Rename(out, in)
			}
		}
		os.Rename(out, in) // end inside
	}()
	iof := fs.IOFS(h)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range walks {
				iofs.ReadFile(iof, "m/../../outside/secret")
				n, err := r.Lookup("m")
				if err != nil {
					continue
				}
				d := n.(fs.Dir)
				d.Create(fmt.Sprintf("f%d-%d", w, i), 0o644, fs.Owner{})
				if _, err := d.Lookup(".."); err == nil {
					t.Error("Lookup .. succeeded")
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	movers.Wait()
	// Everything made is in m; nothing beside the sentinel.
	ents, err := os.ReadDir(in)
	must(t, err)
	t.Logf("%d files made in the moving directory", len(ents))
	checkOutside(t, outside)
}
