package ext2_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/internal/testenv"
	"golang.org/x/sys/unix"
)

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.Errno(1 << 20) // not an errno: always a mismatch
}

// resolve walks p (no symlinks followed) from root; "" is the root.
func resolve(root fs.Dir, p string) (fs.Node, error) {
	var n fs.Node = root
	if p == "" {
		return n, nil
	}
	for _, el := range strings.Split(p, "/") {
		d, ok := n.(fs.Dir)
		if !ok {
			return nil, syscall.ENOTDIR
		}
		var err error
		if n, err = d.Lookup(el); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func resolveDir(root fs.Dir, p string) (fs.Dir, error) {
	n, err := resolve(root, p)
	if err != nil {
		return nil, err
	}
	d, ok := n.(fs.Dir)
	if !ok {
		return nil, syscall.ENOTDIR
	}
	return d, nil
}

func resolveFile(root fs.Dir, p string) (fs.File, error) {
	n, err := resolve(root, p)
	if err != nil {
		return nil, err
	}
	f, ok := n.(fs.File)
	if !ok {
		if _, isDir := n.(fs.Dir); isDir {
			return nil, syscall.EISDIR
		}
		return nil, syscall.EINVAL
	}
	return f, nil
}

// op is one random operation, applied to a file system's root.
type op struct {
	desc string
	do   func(root fs.Dir) (string, error)
}

// randomOp returns an operation on a small pool of names, so operations
// collide (existing names, non-empty directories, renames onto things).
func randomOp(rng *rand.Rand, bs int) op {
	dirs := []string{"", "a", "b", "a/c", "a/c/d", "big"}
	names := []string{"f1", "f2", "f3", "f4", "l1", "c", "d"}
	pick := func() string {
		d := dirs[rng.Intn(len(dirs))]
		n := names[rng.Intn(len(names))]
		if d == "" {
			return n
		}
		return d + "/" + n
	}
	split := func(p string) (string, string) {
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			return p[:i], p[i+1:]
		}
		return "", p
	}
	randOff := func() int64 {
		switch rng.Intn(10) {
		case 0:
			return rng.Int63n(80 << 20) // indirect, double (and triple with 1 KiB blocks)
		case 1:
			return rng.Int63n(2 << 20)
		default:
			return rng.Int63n(int64(20 * bs))
		}
	}
	own := fs.Owner{UID: uint32(rng.Intn(3)), GID: uint32(rng.Intn(3))}
	switch k := rng.Intn(17); k {
	case 0, 1:
		p := pick()
		return op{"create " + p, func(r fs.Dir) (string, error) {
			d, n := split(p)
			dd, err := resolveDir(r, d)
			if err != nil {
				return "", err
			}
			_, err = dd.Create(n, 0o640, own)
			return "", err
		}}
	case 2, 3, 4:
		p := pick()
		off := randOff()
		data := make([]byte, rng.Intn(3*bs)+1)
		rng.Read(data)
		return op{fmt.Sprintf("write %s %d+%d", p, off, len(data)), func(r fs.Dir) (string, error) {
			f, err := resolveFile(r, p)
			if err != nil {
				return "", err
			}
			n, err := f.WriteAt(data, off)
			return fmt.Sprint(n), err
		}}
	case 5:
		p := pick()
		size := randOff()
		if rng.Intn(2) == 0 {
			size = rng.Int63n(int64(bs * 3))
		}
		return op{fmt.Sprintf("truncate %s %d", p, size), func(r fs.Dir) (string, error) {
			f, err := resolveFile(r, p)
			if err != nil {
				return "", err
			}
			return "", f.Truncate(size)
		}}
	case 6:
		p, q := pick(), pick()
		return op{"link " + p + " " + q, func(r fs.Dir) (string, error) {
			n, err := resolve(r, p)
			if err != nil {
				return "", err
			}
			d, name := split(q)
			dd, err := resolveDir(r, d)
			if err != nil {
				return "", err
			}
			return "", dd.Link(name, n)
		}}
	case 7:
		p := pick()
		target := strings.Repeat("t", rng.Intn(2)*rng.Intn(bs-80)+1+rng.Intn(70)) // under the block size: ext2's limit, as Linux's
		return op{"symlink " + p, func(r fs.Dir) (string, error) {
			d, n := split(p)
			dd, err := resolveDir(r, d)
			if err != nil {
				return "", err
			}
			_, err = dd.Symlink(n, target, own)
			return "", err
		}}
	case 8, 9:
		p, q := pick(), pick()
		return op{"rename " + p + " " + q, func(r fs.Dir) (string, error) {
			d1, n1 := split(p)
			d2, n2 := split(q)
			a, err := resolveDir(r, d1)
			if err != nil {
				return "", err
			}
			b, err := resolveDir(r, d2)
			if err != nil {
				return "", err
			}
			return "", a.Rename(n1, b, n2)
		}}
	case 10:
		p := pick()
		return op{"unlink " + p, func(r fs.Dir) (string, error) {
			d, n := split(p)
			dd, err := resolveDir(r, d)
			if err != nil {
				return "", err
			}
			return "", dd.Unlink(n)
		}}
	case 11, 12:
		p := dirs[1+rng.Intn(len(dirs)-1)]
		if rng.Intn(2) == 0 {
			p = pick()
		}
		return op{"mkdir " + p, func(r fs.Dir) (string, error) {
			d, n := split(p)
			dd, err := resolveDir(r, d)
			if err != nil {
				return "", err
			}
			_, err = dd.Mkdir(n, 0o750, own)
			return "", err
		}}
	case 13:
		p := pick()
		return op{"rmdir " + p, func(r fs.Dir) (string, error) {
			d, n := split(p)
			dd, err := resolveDir(r, d)
			if err != nil {
				return "", err
			}
			return "", dd.Rmdir(n)
		}}
	case 14:
		// Directory growth: many entries in "big".
		count := rng.Intn(60) + 1
		base := rng.Intn(1000)
		return op{fmt.Sprintf("grow big %d from %d", count, base), func(r fs.Dir) (string, error) {
			dd, err := resolveDir(r, "big")
			if err != nil {
				return "", err
			}
			created := 0
			for i := 0; i < count; i++ {
				name := fmt.Sprintf("entry-%04d-with-some-length", base+i)
				if _, err := dd.Create(name, 0o644, own); err == nil {
					created++
				} else if errnoOf(err) != syscall.EEXIST {
					return "", err
				}
				if i%3 == 0 {
					dd.Unlink(fmt.Sprintf("entry-%04d-with-some-length", base+i/2))
				}
			}
			return fmt.Sprint(created), nil
		}}
	case 15:
		p := pick()
		name := []string{"user.a", "user.b", "trusted.c"}[rng.Intn(3)]
		val := make([]byte, rng.Intn(300))
		rng.Read(val)
		remove := rng.Intn(3) == 0
		return op{"xattr " + p + " " + name, func(r fs.Dir) (string, error) {
			n, err := resolve(r, p)
			if err != nil {
				return "", err
			}
			switch n.(type) {
			case fs.File, fs.Dir:
			default:
				return "", syscall.EPERM // as Linux for user.* on symlinks
			}
			x := n.(fs.Xattrer)
			if remove {
				return "", x.RemoveXattr(name)
			}
			return "", x.SetXattr(name, val, 0)
		}}
	default:
		p := pick()
		frac := rng.Float64()
		return op{"read " + p, func(r fs.Dir) (string, error) {
			f, err := resolveFile(r, p)
			if err != nil {
				return "", err
			}
			a, err := f.Stat()
			if err != nil {
				return "", err
			}
			off := int64(0)
			if a.Size > 0 {
				off = int64(frac * float64(a.Size))
			}
			b := make([]byte, 3*bs)
			n, err := f.ReadAt(b, off)
			if err == io.EOF {
				err = nil
			}
			return fmt.Sprintf("%d %x", n, b[:n]), err
		}}
	}
}

// compareTrees checks that two file systems hold the same tree: names,
// types, sizes, bytes, link targets, link counts, modes, owners, xattrs.
func compareTrees(t *testing.T, got, want fs.Dir, p string) {
	t.Helper()
	list := func(d fs.Dir) map[string]fs.DirEntry {
		m := map[string]fs.DirEntry{}
		ents, err := d.ReadDir(0, 0)
		if err != nil {
			t.Fatalf("%s: ReadDir: %v", p, err)
		}
		for _, e := range ents {
			m[e.Name] = e
		}
		return m
	}
	g, w := list(got), list(want)
	var gn, wn []string
	for k := range g {
		gn = append(gn, k)
	}
	for k := range w {
		wn = append(wn, k)
	}
	slices.Sort(gn)
	slices.Sort(wn)
	if !slices.Equal(gn, wn) {
		t.Fatalf("%s/: entries %q, model has %q", p, gn, wn)
	}
	for _, name := range gn {
		sub := p + "/" + name
		gnode, err1 := got.Lookup(name)
		wnode, err2 := want.Lookup(name)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: Lookup: %v, %v", sub, err1, err2)
		}
		ga, _ := gnode.Stat()
		wa, _ := wnode.Stat()
		if ga.Mode != wa.Mode || ga.Nlink != wa.Nlink || ga.Size != wa.Size && !wa.Mode.IsDir() || ga.Owner != wa.Owner {
			t.Fatalf("%s: mode %o nlink %d size %d owner %v; model %o %d %d %v", sub, ga.Mode, ga.Nlink, ga.Size, ga.Owner, wa.Mode, wa.Nlink, wa.Size, wa.Owner)
		}
		if g[name].Type != w[name].Type {
			t.Fatalf("%s: ReadDir type %o, model %o", sub, g[name].Type, w[name].Type)
		}
		switch wn := wnode.(type) {
		case fs.File:
			a, b := readAll(t, gnode.(fs.File), ga.Size), readAll(t, wn, wa.Size)
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: contents differ from the model", sub)
			}
		case fs.Symlink:
			a, _ := gnode.(fs.Symlink).Readlink()
			b, _ := wn.Readlink()
			if a != b {
				t.Fatalf("%s: target %q, model %q", sub, a, b)
			}
		case fs.Dir:
			compareTrees(t, gnode.(fs.Dir), wn, sub)
		}
		if wx, ok := wnode.(fs.Xattrer); ok {
			if _, isLink := wnode.(fs.Symlink); !isLink {
				gx := gnode.(fs.Xattrer)
				a, _ := gx.ListXattr()
				b, _ := wx.ListXattr()
				slices.Sort(a)
				slices.Sort(b)
				if !slices.Equal(a, b) {
					t.Fatalf("%s: xattrs %q, model %q", sub, a, b)
				}
				for _, k := range a {
					va, _ := gx.GetXattr(k)
					vb, _ := wx.GetXattr(k)
					if !bytes.Equal(va, vb) {
						t.Fatalf("%s: xattr %s differs", sub, k)
					}
				}
			}
		}
	}
}

func readAll(t *testing.T, f fs.File, size int64) []byte {
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF || int64(n) != size {
		t.Fatalf("ReadAt whole file: %d, %v", n, err)
	}
	return b
}

// compareHost checks the model against a directory Linux mounted.
func compareHost(t *testing.T, host string, want fs.Dir, p string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(host, p))
	if err != nil {
		t.Fatal(err)
	}
	wents, _ := want.ReadDir(0, 0)
	var gn, wn []string
	for _, e := range ents {
		gn = append(gn, e.Name())
	}
	for _, e := range wents {
		wn = append(wn, e.Name)
	}
	slices.Sort(gn)
	slices.Sort(wn)
	if !slices.Equal(gn, wn) {
		t.Fatalf("Linux: %s/: entries %q, model %q", p, gn, wn)
	}
	for _, name := range wn {
		sub := filepath.Join(p, name)
		hp := filepath.Join(host, sub)
		wnode, _ := want.Lookup(name)
		wa, _ := wnode.Stat()
		var st unix.Stat_t
		if err := unix.Lstat(hp, &st); err != nil {
			t.Fatal(err)
		}
		if fs.Mode(st.Mode) != wa.Mode || uint32(st.Nlink) != wa.Nlink || st.Uid != wa.Owner.UID || st.Gid != wa.Owner.GID {
			t.Fatalf("Linux: %s: mode %o nlink %d uid %d gid %d; model %o %d %v", sub, st.Mode, st.Nlink, st.Uid, st.Gid, wa.Mode, wa.Nlink, wa.Owner)
		}
		switch wn := wnode.(type) {
		case fs.File:
			got, err := os.ReadFile(hp)
			if err != nil || !bytes.Equal(got, readAll(t, wn, wa.Size)) {
				t.Fatalf("Linux: %s: contents differ from the model (%v)", sub, err)
			}
		case fs.Symlink:
			a, _ := os.Readlink(hp)
			b, _ := wn.Readlink()
			if a != b {
				t.Fatalf("Linux: %s: target %q, model %q", sub, a, b)
			}
		case fs.Dir:
			compareHost(t, host, wn, sub)
		}
	}
}

func TestModel(t *testing.T) {
	seqs, steps := 20, 150
	if *wide {
		seqs, steps = 200, 400
	}
	root := os.Geteuid() == 0
	for s := 0; s < seqs; s++ {
		bs := []int{1024, 2048, 4096}[s%3]
		t.Run(fmt.Sprintf("seq%d-bs%d", s, bs), func(t *testing.T) {
			var img string
			if s%2 == 0 {
				img = mkfs(t, 64<<20, bs)
			} else {
				img = newImage(t, 64<<20)
				d, err := filedisk.Open(img, filedisk.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := ext2.Format(d, ext2.FormatOptions{BlockSize: bs}); err != nil {
					t.Fatal(err)
				}
				d.Close()
			}
			d, err := filedisk.Open(img, filedisk.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			efs, err := ext2.Mount(d, ext2.Options{})
			if err != nil {
				t.Fatal(err)
			}
			model := memfs.New()
			mroot, _ := model.Root()
			mroot.Mkdir("lost+found", 0o700, fs.Owner{})
			eroot, _ := efs.Root()
			rng := rand.New(rand.NewSource(int64(s)))
			for _, p := range []string{"a", "b", "a/c", "a/c/d", "big"} {
				for _, r := range []fs.Dir{eroot, mroot} {
					i := strings.LastIndexByte(p, '/')
					parent, _ := resolveDir(r, p[:max(i, 0)])
					if _, err := parent.Mkdir(p[i+1:], 0o755, fs.Owner{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			var log []string
			for i := 0; i < steps; i++ {
				o := randomOp(rng, bs)
				r1, e1 := o.do(eroot)
				r2, e2 := o.do(mroot)
				log = append(log, fmt.Sprintf("%s -> %v / model %v", o.desc, e1, e2))
				if errnoOf(e1) != errnoOf(e2) || r1 != r2 {
					if len(log) > 15 {
						log = log[len(log)-15:]
					}
					t.Fatalf("step %d: %s: ext2 %q, %v; model %q, %v\nlast steps:\n%s", i, o.desc, trunc([]byte(r1)), e1, trunc([]byte(r2)), e2, strings.Join(log, "\n"))
				}
			}
			ok := 0
			for _, l := range log {
				if strings.Contains(l, "-> <nil>") {
					ok++
				}
			}
			t.Logf("%d of %d operations succeeded", ok, len(log))
			compareTrees(t, eroot, mroot, "")
			if err := efs.Close(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
			if root {
				dir, umount := loopMount(t, img)
				compareHost(t, dir, mroot, "")
				umount()
			} else {
				testenv.Unavailable(t, "Linux read-back needs root for the loop mount")
			}
			// And goskit reads the image back after a fresh mount.
			efs2 := mountImage(t, img, ext2.Options{ReadOnly: true})
			r2, _ := efs2.Root()
			compareTrees(t, r2, mroot, "")
		})
	}
}
