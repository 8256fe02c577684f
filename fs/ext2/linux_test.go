package ext2_test

import (
	"bytes"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/internal/testenv"
	"golang.org/x/sys/unix"
)

var wide = flag.Bool("ext2.wide", false, "run the wider ext2 sweeps: every byte of the over-4-GiB files, more random sequences and crash cut points")

// region is data at an offset of a file; the rest of the file is a hole.
type region struct {
	off  int64
	data []byte
}

// spec is a file system tree as a writer made it.
type entry struct {
	path    string
	mode    fs.Mode // type bits
	size    int64
	regions []region
	target  string
	xattrs  map[string][]byte
	nlink   uint32
	mtime   time.Time // checked when not zero
}

func gen(seed string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(seed))
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(h.Sum64()))).Read(b)
	return b
}

// tree returns the test tree: a file reaching triple-indirect blocks (1 KiB
// blocks), a sparse file over 4 GiB, a directory over several blocks, fast
// and slow symlinks, hard links, extended attributes (small, and large
// enough to need a block, and a pair Linux may share), set times.
func tree() []*entry {
	var es []*entry
	add := func(e *entry) *entry { es = append(es, e); return e }
	add(&entry{path: "small", mode: fs.ModeRegular, size: 13, regions: []region{{0, []byte("hello, ext2!\n")}}})
	add(&entry{path: "empty", mode: fs.ModeRegular})
	add(&entry{path: "dir", mode: fs.ModeDir})
	add(&entry{path: "dir/sub", mode: fs.ModeDir})
	add(&entry{path: "dir/sub/medium", mode: fs.ModeRegular, size: 100000, regions: []region{{0, gen("medium", 100000)}}})
	// Direct, indirect, double and (1 KiB blocks) triple indirect.
	var tri []region
	for _, off := range []int64{0, 5000, 20 << 10, 300 << 10, 1 << 20, 66 << 20, 70<<20 + 777} {
		tri = append(tri, region{off, gen(fmt.Sprint("tri", off), 3000)})
	}
	add(&entry{path: "triple", mode: fs.ModeRegular, size: 70<<20 + 777 + 3000, regions: tri})
	add(&entry{path: "huge", mode: fs.ModeRegular, size: 5<<30 + 7, regions: []region{
		{0, gen("huge0", 5000)}, {4<<30 + 123, gen("huge4", 9000)}, {5<<30 + 7 - 100, gen("hugeend", 100)},
	}})
	add(&entry{path: "bigdir", mode: fs.ModeDir})
	for i := 0; i < 300; i++ {
		n := fmt.Sprintf("bigdir/an-entry-with-a-rather-long-name-%03d", i)
		add(&entry{path: n, mode: fs.ModeRegular, size: int64(i), regions: []region{{0, gen(n, i)}}})
	}
	add(&entry{path: "fastlink", mode: fs.ModeSymlink, target: "dir/sub/medium"})
	add(&entry{path: "slowlink", mode: fs.ModeSymlink, target: strings.Repeat("long/", 40) + "target"})
	add(&entry{path: "dir/link59", mode: fs.ModeSymlink, target: strings.Repeat("y", 59)})
	add(&entry{path: "dir/link60", mode: fs.ModeSymlink, target: strings.Repeat("z", 60)})
	add(&entry{path: "hard1", mode: fs.ModeRegular, size: 5, regions: []region{{0, []byte("hard\n")}}, nlink: 2})
	add(&entry{path: "dir/hard2", mode: fs.ModeRegular, size: 5, regions: []region{{0, []byte("hard\n")}}, nlink: 2, target: "hard1"})
	add(&entry{path: "attrs", mode: fs.ModeRegular, size: 1, regions: []region{{0, []byte("a")}}, xattrs: map[string][]byte{
		"user.small": []byte("v1"), "user.medium": gen("xm", 100), "trusted.t": []byte("trusted value"),
	}})
	big := map[string][]byte{"user.big": gen("xbig", 600), "user.other": []byte("x")}
	add(&entry{path: "xa1", mode: fs.ModeRegular, xattrs: big})
	add(&entry{path: "xa2", mode: fs.ModeRegular, xattrs: big})
	add(&entry{path: "dir/xattrdir", mode: fs.ModeDir, xattrs: map[string][]byte{"user.onadir": []byte("yes")}})
	add(&entry{path: "timed", mode: fs.ModeRegular, mtime: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)})
	return es
}

// hostFile writes e's contents to a sparse host file.
func hostFile(t testing.TB, p string, e *entry) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(e.size); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.regions {
		if _, err := f.WriteAt(r.data, r.off); err != nil {
			t.Fatal(err)
		}
	}
}

// fillDebugfs writes the tree into the image with debugfs -w.
func fillDebugfs(t *testing.T, img string, es []*entry) {
	tmp := t.TempDir()
	var reqs []string
	for i, e := range es {
		switch {
		case e.mode.IsDir():
			reqs = append(reqs, "mkdir "+e.path)
		case e.mode.Type() == fs.ModeSymlink:
			reqs = append(reqs, fmt.Sprintf("symlink %s %s", e.path, e.target))
		case e.target != "": // a hard link
			reqs = append(reqs, fmt.Sprintf("ln %s %s", e.target, e.path), fmt.Sprintf("sif %s links_count %d", e.target, e.nlink))
		default:
			h := filepath.Join(tmp, fmt.Sprint(i))
			hostFile(t, h, e)
			reqs = append(reqs, fmt.Sprintf("write %s %s", h, e.path))
		}
		names := make([]string, 0, len(e.xattrs))
		for k := range e.xattrs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			h := filepath.Join(tmp, fmt.Sprintf("x%d-%s", i, k))
			os.WriteFile(h, e.xattrs[k], 0o644)
			reqs = append(reqs, fmt.Sprintf("ea_set -f %s %s %s", h, e.path, k))
		}
		if !e.mtime.IsZero() {
			reqs = append(reqs, fmt.Sprintf("sif %s mtime %s", e.path, e.mtime.UTC().Format("20060102150405")))
		}
	}
	out := debugfs(t, img, true, reqs...)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "rror") || strings.Contains(l, "not found") {
			t.Fatalf("debugfs: %s\n(full output %d bytes)", l, len(out))
		}
	}
}

// loopMount mounts the image with Linux's driver and returns the mount
// point; unmounting happens in the returned function.
func loopMount(t *testing.T, img string) (string, func()) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "mount")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "ext2", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "loop mount: %v: %s", err, out)
	}
	done := false
	umount := func() {
		if done {
			return
		}
		done = true
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	}
	t.Cleanup(umount)
	return dir, umount
}

// fillLinux writes the tree through Linux's own driver.
func fillLinux(t *testing.T, img string, es []*entry) {
	dir, umount := loopMount(t, img)
	for _, e := range es {
		p := filepath.Join(dir, e.path)
		var err error
		switch {
		case e.mode.IsDir():
			err = os.Mkdir(p, 0o755)
		case e.mode.Type() == fs.ModeSymlink:
			err = os.Symlink(e.target, p)
		case e.target != "":
			err = os.Link(filepath.Join(dir, e.target), p)
		default:
			hostFile(t, p, e)
		}
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range e.xattrs {
			if err := unix.Lsetxattr(p, k, v, 0); err != nil {
				t.Fatalf("setxattr %s %s: %v", p, k, err)
			}
		}
		if !e.mtime.IsZero() {
			if err := os.Chtimes(p, e.mtime, e.mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	umount()
}

// walk resolves a path in the goskit file system without following the
// last element.
func walk(t testing.TB, f fs.FileSystem, p string) (fs.Node, error) {
	t.Helper()
	root, err := f.Root()
	if err != nil {
		return nil, err
	}
	var n fs.Node = root
	for _, el := range strings.Split(p, "/") {
		d, ok := n.(fs.Dir)
		if !ok {
			return nil, syscall.ENOTDIR
		}
		if n, err = d.Lookup(el); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// checkFile compares a goskit file with its regions: every byte unless
// sampled, in which case the regions, their edges and some hole samples.
func checkFile(t *testing.T, file fs.File, e *entry, sampled bool) {
	t.Helper()
	want := func(off int64, n int) []byte {
		b := make([]byte, n)
		for _, r := range e.regions {
			lo, hi := max(off, r.off), min(off+int64(n), r.off+int64(len(r.data)))
			if lo < hi {
				copy(b[lo-off:hi-off], r.data[lo-r.off:hi-r.off])
			}
		}
		return b
	}
	check := func(off int64, n int) {
		got := make([]byte, n)
		m, err := file.ReadAt(got, off)
		if off+int64(n) >= e.size && err == io.EOF {
			err = nil
		}
		if err != nil || m != n {
			t.Fatalf("%s: ReadAt(%d, %d) = %d, %v", e.path, off, n, m, err)
		}
		if w := want(off, n); !bytes.Equal(got, w) {
			t.Fatalf("%s: bytes at %d (+%d) differ", e.path, off, n)
		}
	}
	if !sampled || e.size <= 256<<20 {
		const chunk = 1 << 20
		for off := int64(0); off < e.size; off += chunk {
			check(off, int(min(chunk, e.size-off)))
		}
	} else {
		for _, r := range e.regions {
			lo := max(0, r.off-4096)
			hi := min(e.size, r.off+int64(len(r.data))+4096)
			check(lo, int(hi-lo))
		}
		rng := rand.New(rand.NewSource(1))
		for i := 0; i < 64; i++ {
			off := rng.Int63n(e.size - 8192)
			check(off, 8192)
		}
	}
	// Past the end.
	if n, err := file.ReadAt(make([]byte, 10), e.size); n != 0 || err != io.EOF {
		t.Errorf("%s: read at the end = %d, %v", e.path, n, err)
	}
}

// checkTree checks that the goskit file system holds the tree.
func checkTree(t *testing.T, f fs.FileSystem, es []*entry) {
	t.Helper()
	inos := map[string]uint64{}
	for _, e := range es {
		n, err := walk(t, f, e.path)
		if err != nil {
			t.Fatalf("%s: %v", e.path, err)
		}
		a, err := n.Stat()
		if err != nil {
			t.Fatalf("%s: Stat: %v", e.path, err)
		}
		if a.Mode.Type() != e.mode.Type() {
			t.Fatalf("%s: mode %o, want type %o", e.path, a.Mode, e.mode)
		}
		if e.nlink != 0 && a.Nlink != e.nlink {
			t.Errorf("%s: Nlink %d, want %d", e.path, a.Nlink, e.nlink)
		}
		if !e.mtime.IsZero() && !a.Mtime.Equal(e.mtime) {
			t.Errorf("%s: Mtime %v, want %v", e.path, a.Mtime, e.mtime)
		}
		inos[e.path] = a.Ino
		switch e.mode.Type() {
		case fs.ModeRegular:
			if e.target != "" && inos[e.target] != a.Ino {
				t.Errorf("%s: inode %d, its link %s has %d", e.path, a.Ino, e.target, inos[e.target])
			}
			if a.Size != e.size {
				t.Fatalf("%s: size %d, want %d", e.path, a.Size, e.size)
			}
			checkFile(t, n.(fs.File), e, !*wide)
		case fs.ModeSymlink:
			got, err := n.(fs.Symlink).Readlink()
			if err != nil || got != e.target {
				t.Errorf("%s: Readlink = %q, %v; want %q", e.path, got, err, e.target)
			}
		}
		if e.xattrs != nil {
			x := n.(fs.Xattrer)
			names, err := x.ListXattr()
			if err != nil {
				t.Fatalf("%s: ListXattr: %v", e.path, err)
			}
			var want []string
			for k := range e.xattrs {
				want = append(want, k)
			}
			slices.Sort(names)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("%s: xattrs %q, want %q", e.path, names, want)
			}
			for k, v := range e.xattrs {
				got, err := x.GetXattr(k)
				if err != nil || !bytes.Equal(got, v) {
					t.Errorf("%s: xattr %s = %q, %v", e.path, k, trunc(got), err)
				}
			}
		}
	}
	// The big directory lists exactly its entries, through paging.
	n, _ := walk(t, f, "bigdir")
	var got []string
	cookie := uint64(0)
	for i := 0; i < 1000; i++ {
		ents, err := n.(fs.Dir).ReadDir(cookie, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			got = append(got, "bigdir/"+e.Name)
		}
		cookie = ents[len(ents)-1].Next
	}
	var want []string
	for _, e := range es {
		if path.Dir(e.path) == "bigdir" {
			want = append(want, e.path)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bigdir lists %d entries, want %d", len(got), len(want))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 20 {
		return b[:20]
	}
	return b
}

func TestDebugfsImages(t *testing.T) {
	for _, bs := range []int{1024, 2048, 4096} {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			img := mkfs(t, 128<<20, bs)
			es := tree()
			fillDebugfs(t, img, es)
			fsck(t, img)
			f := mountImage(t, img, ext2.Options{ReadOnly: true})
			checkTree(t, f, es)
			f.Close()
		})
	}
}

func TestLinuxImages(t *testing.T) {
	for _, bs := range []int{1024, 2048, 4096} {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			img := mkfs(t, 128<<20, bs)
			es := tree()
			fillLinux(t, img, es)
			fsck(t, img)
			// Linux shares identical attribute blocks: xa1 and xa2's
			// block then has two references, which modify changes.
			acl := func(p string) string {
				out := debugfs(t, img, false, "stat "+p)
				if i := strings.Index(out, "File ACL: "); i >= 0 {
					return strings.Fields(out[i+10:])[0]
				}
				return ""
			}
			a1, a2 := acl("xa1"), acl("xa2")
			t.Logf("attribute blocks: xa1 %s, xa2 %s", a1, a2)
			if a1 == "0" || a1 != a2 {
				t.Logf("Linux did not share the attribute block; refcount sharing untested here")
			}
			f := mountImage(t, img, ext2.Options{})
			checkTree(t, f, es)
			// Change it: grow and shrink the (now indexed) big
			// directory, rewrite attributes of the pair that shares an
			// attribute block, remove one of them, rename across
			// directories; then Linux and e2fsck must agree.
			es = modify(t, f, es)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
			readBackLinux(t, img, es)
		})
	}
}

// modify changes the tree through goskit and returns the new expectation.
func modify(t *testing.T, f fs.FileSystem, es []*entry) []*entry {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := walk(t, f, "bigdir")
	must(err)
	big := n.(fs.Dir)
	var out []*entry
	for _, e := range es {
		if strings.HasPrefix(e.path, "bigdir/") && strings.HasSuffix(e.path, "7") {
			must(big.Unlink(path.Base(e.path)))
			continue
		}
		if e.path == "xa2" {
			continue
		}
		out = append(out, e)
	}
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("added-by-goskit-%03d", i)
		file, err := big.Create(name, 0o644, fs.Owner{UID: 1, GID: 2})
		must(err)
		data := gen(name, i*37)
		_, err = file.WriteAt(data, 0)
		must(err)
		out = append(out, &entry{path: "bigdir/" + name, mode: fs.ModeRegular, size: int64(len(data)), regions: []region{{0, data}}})
	}
	// xa1 first: its shared block is copied (the old one keeps xa2's
	// reference); then xa2's unlink frees the old block.
	root, _ := f.Root()
	x1, err := walk(t, f, "xa1")
	must(err)
	must(x1.(fs.Xattrer).SetXattr("user.added", []byte("new"), 0))
	must(root.Unlink("xa2"))
	for _, e := range out {
		if e.path == "xa1" {
			m := map[string][]byte{"user.added": []byte("new")}
			for k, v := range e.xattrs {
				m[k] = v
			}
			e.xattrs = m
		}
	}
	dn, err := walk(t, f, "dir")
	must(err)
	must(dn.(fs.Dir).Rename("sub", root, "moved"))
	for _, e := range out {
		if strings.HasPrefix(e.path, "dir/sub") {
			e.path = "moved" + strings.TrimPrefix(e.path, "dir/sub")
		}
	}
	// Change the attributes Linux keeps inside the inode: they all move
	// to a block, as Linux's ext2 keeps them.
	an, err := walk(t, f, "attrs")
	must(err)
	must(an.(fs.Xattrer).RemoveXattr("user.small"))
	must(an.(fs.Xattrer).SetXattr("user.medium", []byte("changed"), 0))
	for _, e := range out {
		if e.path == "attrs" {
			e.xattrs = map[string][]byte{"user.medium": []byte("changed"), "trusted.t": []byte("trusted value")}
		}
	}
	// Write past 6 GiB in the huge file.
	hn, err := walk(t, f, "huge")
	must(err)
	far := region{6<<30 + 11, gen("far", 5000)}
	_, err = hn.(fs.File).WriteAt(far.data, far.off)
	must(err)
	for _, e := range out {
		if e.path == "huge" {
			e.regions = append(e.regions, far)
			e.size = far.off + int64(len(far.data))
		}
	}
	// Shrink the triple-indirect file into its double-indirect range.
	tn, err := walk(t, f, "triple")
	must(err)
	must(tn.(fs.File).Truncate(1<<20 + 1500))
	for _, e := range out {
		if e.path == "triple" {
			e.size = 1<<20 + 1500
			var rs []region
			for _, r := range e.regions {
				if r.off < e.size {
					if r.off+int64(len(r.data)) > e.size {
						r.data = r.data[:e.size-r.off]
					}
					rs = append(rs, r)
				}
			}
			e.regions = rs
		}
	}
	return out
}

// readBackLinux checks the tree through Linux's driver (root), else
// through debugfs's dump.
func readBackLinux(t *testing.T, img string, es []*entry) {
	t.Helper()
	dir, _ := loopMount(t, img)
	for _, e := range es {
		p := filepath.Join(dir, e.path)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatalf("Linux: %s: %v", e.path, err)
		}
		if fs.Mode(st.Mode).Type() != e.mode.Type() {
			t.Fatalf("Linux: %s: mode %o", e.path, st.Mode)
		}
		switch e.mode.Type() {
		case fs.ModeRegular:
			if st.Size != e.size {
				t.Fatalf("Linux: %s: size %d, want %d", e.path, st.Size, e.size)
			}
			if e.size >= 256<<20 {
				// Sparse and large: its regions, with some hole around.
				hf, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range e.regions {
					lo := max(0, r.off-100)
					hi := min(e.size, r.off+int64(len(r.data))+100)
					got := make([]byte, hi-lo)
					if _, err := hf.ReadAt(got, lo); err != nil && err != io.EOF {
						t.Fatal(err)
					}
					want := make([]byte, hi-lo)
					for _, r2 := range e.regions {
						if a, b := max(lo, r2.off), min(hi, r2.off+int64(len(r2.data))); a < b {
							copy(want[a-lo:], r2.data[a-r2.off:b-r2.off])
						}
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("Linux: %s: bytes around %d differ", e.path, r.off)
					}
				}
				hf.Close()
			} else {
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]byte, e.size)
				for _, r := range e.regions {
					copy(want[r.off:], r.data)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("Linux: %s: contents differ", e.path)
				}
			}
		case fs.ModeSymlink:
			if got, err := os.Readlink(p); err != nil || got != e.target {
				t.Errorf("Linux: %s: readlink %q, %v", e.path, got, err)
			}
		}
		if e.mode.Type() != fs.ModeSymlink {
			lb := make([]byte, 4096)
			n, err := unix.Llistxattr(p, lb)
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, k := range strings.Split(string(lb[:n]), "\x00") {
				if k != "" && !strings.HasPrefix(k, "security.") {
					got = append(got, k)
				}
			}
			for k := range e.xattrs {
				want = append(want, k)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Linux: %s: xattrs %q, want %q", e.path, got, want)
			}
		}
		for k, v := range e.xattrs {
			buf := make([]byte, 4096)
			n, err := unix.Lgetxattr(p, k, buf)
			if err != nil || !bytes.Equal(buf[:n], v) {
				t.Errorf("Linux: %s: xattr %s: %v", e.path, k, err)
			}
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "bigdir"))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range es {
		if path.Dir(e.path) == "bigdir" {
			want++
		}
	}
	if len(ents) != want {
		t.Errorf("Linux: bigdir has %d entries, want %d", len(ents), want)
	}
}
