package memfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/memfs"
)

var own = fs.Owner{UID: 1, GID: 2}

func TestBehaviour(t *testing.T) {
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		f := memfs.New()
		t.Cleanup(func() { f.Close() })
		return f
	}, fsbehave.Options{})
}

func root(t testing.TB, f *memfs.FS) fs.Dir {
	t.Helper()
	r, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFSTest(t *testing.T) {
	m := memfs.New()
	r := root(t, m)
	d, _ := r.Mkdir("d", 0o755, own)
	for i := range 20 {
		f, _ := d.Create(fmt.Sprintf("f%d", i), 0o644, own)
		f.WriteAt(bytes.Repeat([]byte{byte(i)}, i*1000), 0)
	}
	r.Symlink("l", "d/f3", own)
	r.Mkdir("empty", 0o700, own)
	if err := fstest.TestFS(fs.IOFS(m), "d/f0", "d/f19", "l", "empty"); err != nil {
		t.Fatal(err)
	}
}

// fakeClock advances one second per reading.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func TestClock(t *testing.T) {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &fakeClock{t: start}
	m := memfs.New(memfs.WithClock(c.now))
	r := root(t, m)
	a, _ := r.Stat()
	if !a.Mtime.Equal(start.Add(time.Second)) {
		t.Errorf("root Mtime %v", a.Mtime)
	}
	f, _ := r.Create("f", 0o644, own)
	fa, _ := f.Stat()
	ra, _ := r.Stat()
	// One reading stamps the new file and its directory alike.
	if !fa.Mtime.Equal(start.Add(2*time.Second)) || !ra.Mtime.Equal(fa.Mtime) {
		t.Errorf("file Mtime %v, dir Mtime %v", fa.Mtime, ra.Mtime)
	}
	f.WriteAt([]byte("x"), 0)
	fa, _ = f.Stat()
	if !fa.Mtime.Equal(start.Add(3*time.Second)) || !fa.Ctime.Equal(fa.Mtime) || !fa.Atime.Equal(start.Add(2*time.Second)) {
		t.Errorf("after write: %v %v %v", fa.Atime, fa.Mtime, fa.Ctime)
	}
}

func TestRootOwner(t *testing.T) {
	m := memfs.New(memfs.WithRootOwner(fs.Owner{UID: 7, GID: 8}, fs.ModeSymlink|0o1777))
	a, _ := root(t, m).Stat()
	if a.Owner != (fs.Owner{UID: 7, GID: 8}) || a.Mode != fs.ModeDir|0o1777 || a.Ino == 0 {
		t.Errorf("root: %+v", a)
	}
}

func TestSizeLimit(t *testing.T) {
	m := memfs.New(memfs.WithSizeLimit(10 * 4096))
	r := root(t, m)
	f, _ := r.Create("f", 0o644, own)
	n, err := f.WriteAt(make([]byte, 12*4096), 0)
	if !errors.Is(err, syscall.ENOSPC) || n != 10*4096 {
		t.Errorf("write past the limit: %d, %v; want %d, ENOSPC", n, err, 10*4096)
	}
	st, _ := m.StatFS()
	if st.Blocks != 10 || st.BlocksFree != 0 {
		t.Errorf("StatFS: %+v", st)
	}
	// Overwriting allocated pages still works; holes need no space.
	if _, err := f.WriteAt([]byte("x"), 5); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Errorf("sparse grow: %v", err)
	}
	if err := f.(fs.Allocater).Allocate(1<<40, 4096, false); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Allocate past the limit: %v", err)
	}
	// Punching and unlinking give space back.
	if err := f.(fs.Allocater).Allocate(0, 4*4096, true); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.StatFS(); st.BlocksFree != 4 {
		t.Errorf("after punch: %d free", st.BlocksFree)
	}
	g, _ := r.Create("g", 0o644, own)
	if _, err := g.WriteAt(make([]byte, 4*4096), 0); err != nil {
		t.Errorf("write into freed space: %v", err)
	}
	r.Unlink("f")
	if st, _ := m.StatFS(); st.BlocksFree != 6 {
		t.Errorf("after unlink: %d free", st.BlocksFree)
	}
	if _, err := g.WriteAt(make([]byte, 4096), 4*4096); err != nil {
		t.Errorf("write after unlink freed space: %v", err)
	}
}

func TestInodeLimit(t *testing.T) {
	m := memfs.New(memfs.WithInodeLimit(3)) // the root and two more
	r := root(t, m)
	if _, err := r.Create("a", 0o644, own); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Mkdir("b", 0o755, own); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Symlink("c", "a", own); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("third node: %v, want ENOSPC", err)
	}
	if err := r.Rmdir("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Symlink("c", "a", own); err != nil {
		t.Errorf("after freeing one: %v", err)
	}
	st, _ := m.StatFS()
	if st.Files != 3 || st.FilesFree != 0 {
		t.Errorf("StatFS files: %d, %d free", st.Files, st.FilesFree)
	}
}

func TestLinkUnlinked(t *testing.T) {
	r := root(t, memfs.New())
	f, _ := r.Create("f", 0o644, own)
	r.Unlink("f")
	if err := r.Link("g", f); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Link of an unlinked file: %v, want ENOENT", err)
	}
}

func TestClosed(t *testing.T) {
	m := memfs.New()
	m.Close()
	if _, err := m.Root(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Root after Close: %v", err)
	}
}

func TestXattrErrors(t *testing.T) {
	r := root(t, memfs.New())
	x := r.(fs.Xattrer)
	tests := []struct {
		name  string
		value []byte
		flags int
		errno syscall.Errno
	}{
		{"nonamespace", nil, 0, syscall.EOPNOTSUPP},
		{"user.", nil, 0, syscall.EOPNOTSUPP},
		{"", nil, 0, syscall.ERANGE},
		{"user." + string(bytes.Repeat([]byte("x"), 300)), nil, 0, syscall.ERANGE},
		{"user.big", make([]byte, 65537), 0, syscall.E2BIG},
		{"user.flags", nil, 4, syscall.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name[:min(len(tc.name), 12)], func(t *testing.T) {
			if err := x.SetXattr(tc.name, tc.value, tc.flags); !errors.Is(err, tc.errno) {
				t.Errorf("SetXattr: %v, want %v", err, tc.errno)
			}
		})
	}
	// The returned value is a copy.
	x.SetXattr("trusted.v", []byte("abc"), 0)
	v, _ := x.GetXattr("trusted.v")
	v[0] = 'X'
	if w, _ := x.GetXattr("trusted.v"); string(w) != "abc" {
		t.Errorf("GetXattr returned the stored slice")
	}
}

// TestDataModel compares random writes, truncates and hole punches with
// a plain byte slice, across page boundaries.
func TestDataModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			r := root(t, memfs.New())
			f, _ := r.Create("f", 0o644, own)
			al := f.(fs.Allocater)
			var model []byte
			const span = 5 * 4096
			for op := range 300 {
				off := rng.Int64N(span)
				n := rng.Int64N(3*4096) + 1
				switch rng.IntN(4) {
				case 0, 1:
					p := make([]byte, n)
					for i := range p {
						p[i] = byte(rng.IntN(255) + 1)
					}
					if _, err := f.WriteAt(p, off); err != nil {
						t.Fatal(err)
					}
					if end := off + n; end > int64(len(model)) {
						model = append(model, make([]byte, end-int64(len(model)))...)
					}
					copy(model[off:], p)
				case 2:
					if err := f.Truncate(off); err != nil {
						t.Fatal(err)
					}
					if off < int64(len(model)) {
						model = model[:off]
					} else {
						model = append(model, make([]byte, off-int64(len(model)))...)
					}
				case 3:
					if err := al.Allocate(off, n, true); err != nil {
						t.Fatal(err)
					}
					for i := off; i < off+n && i < int64(len(model)); i++ {
						model[i] = 0
					}
				}
				got := make([]byte, len(model)+10)
				k, err := f.ReadAt(got, 0)
				if err != io.EOF || k != len(model) || !bytes.Equal(got[:k], model) {
					t.Fatalf("after op %d: read %d bytes (%v), model %d, equal %v", op, k, err, len(model), bytes.Equal(got[:k], model))
				}
				a, _ := f.Stat()
				if a.Size != int64(len(model)) || a.Blocks*512 > (a.Size+4095)/4096*4096 {
					t.Fatalf("after op %d: Size %d Blocks %d, model %d", op, a.Size, a.Blocks, len(model))
				}
			}
		})
	}
}

func TestTiBSparse(t *testing.T) {
	r := root(t, memfs.New())
	f, _ := r.Create("f", 0o644, own)
	if err := f.Truncate(1 << 40); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("z"), 1<<40-1); err != nil {
		t.Fatal(err)
	}
	// Punching the whole range visits the map, not 2^28 pages.
	if err := f.(fs.Allocater).Allocate(0, 1<<40, true); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.Stat(); a.Size != 1<<40 || a.Blocks != 0 {
		t.Errorf("after punch: %+v", a)
	}
	if _, err := f.WriteAt([]byte("x"), 1<<63-2); err != nil {
		t.Errorf("write at 2^63-2: %v", err)
	}
	if _, err := f.WriteAt([]byte("xy"), 1<<63-1); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("write past 2^63-1: %v, want EFBIG", err)
	}
}

func Example() {
	m := memfs.New()
	root, _ := m.Root()
	f, _ := root.Create("greeting", 0o644, fs.Owner{UID: 1000, GID: 1000})
	f.WriteAt([]byte("hello, kit\n"), 0)
	f.WriteAt([]byte("far"), 1<<30) // a 1 GiB hole costs nothing

	n, _ := root.Lookup("greeting")
	buf := make([]byte, 11)
	n.(fs.File).ReadAt(buf, 0)
	a, _ := n.Stat()
	fmt.Printf("%q size=%d blocks=%d mode=%v\n", buf, a.Size, a.Blocks, a.Mode.FileMode())
	// Output:
	// "hello, kit\n" size=1073741827 blocks=16 mode=-rw-r--r--
}

// An unlinked file that nothing holds is garbage at once, even while the
// directory keeps the removed entry's slot for its cookies.
func TestUnlinkFreesMemory(t *testing.T) {
	r := root(t, memfs.New())
	for i := range 100 {
		r.Create(fmt.Sprintf("keep%d", i), 0o644, own)
	}
	freed := make(chan struct{})
	func() {
		f, _ := r.Create("big", 0o644, own)
		f.WriteAt(make([]byte, 1<<20), 0)
		runtime.SetFinalizer(f, func(any) { close(freed) })
	}()
	if err := r.Unlink("big"); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("an unlinked, unreferenced file was not collected after 100 GCs")
}

// Pages of collected and truncated files are reused; a reused page must
// read as zeros wherever the new file did not write.
func TestRecycledPagesAreClean(t *testing.T) {
	r := root(t, memfs.New())
	dirty := bytes.Repeat([]byte{0xee}, 1<<20)
	for round := range 5 {
		func() {
			f, _ := r.Create("old", 0o644, own)
			f.WriteAt(dirty, 0)
			r.Unlink("old")
		}()
		runtime.GC()
		runtime.GC()
		keep, _ := r.Create(fmt.Sprint("trunc", round), 0o644, own)
		keep.WriteAt(dirty, 0)
		keep.Truncate(0) // straight to the pool
		f, _ := r.Create(fmt.Sprint("new", round), 0o644, own)
		for off := int64(0); off < 2<<20; off += 4096 {
			if _, err := f.WriteAt([]byte{1}, off+100); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]byte, 2<<20)
		f.ReadAt(got, 0)
		for i, b := range got {
			want := byte(0)
			if i%4096 == 100 {
				want = 1
			}
			if b != want {
				t.Fatalf("round %d: byte %d = %#x, want %#x", round, i, b, want)
			}
		}
		r.Unlink(fmt.Sprint("new", round))
	}
}

// Readers, a writer, a truncater and namespace churn on shared nodes at
// once: under the race detector this checks the locking the package doc
// describes.
func TestConcurrentShared(t *testing.T) {
	r := root(t, memfs.New())
	f, _ := r.Create("shared", 0o644, own)
	d, _ := r.Mkdir("d", 0o755, own)
	var wg sync.WaitGroup
	const rounds = 300
	run := func(fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				fn(i)
			}
		}()
	}
	run(func(i int) { f.WriteAt(bytes.Repeat([]byte{byte(i)}, 5000), int64(i%7)*3000) })
	run(func(i int) { f.Truncate(int64(i%5) * 4000) })
	run(func(i int) {
		p := make([]byte, 9000)
		if n, err := f.ReadAt(p, int64(i%3)*1000); err != nil && err != io.EOF || n > len(p) {
			t.Errorf("ReadAt: %d, %v", n, err)
		}
	})
	run(func(i int) { f.Stat(); r.Stat(); d.ReadDir(0, 3) })
	run(func(i int) {
		name := fmt.Sprint("n", i%10)
		d.Create(name, 0o644, own)
		d.Rename(name, r, name)
		r.Link("l"+name, f)
		r.Unlink("l" + name)
		r.Rename(name, d, name)
		d.Unlink(name)
	})
	run(func(i int) {
		sub, err := d.Mkdir("sub", 0o755, own)
		if err == nil {
			sub.Create("x", 0o644, own)
			r.Rename("d", r, "d2")
			r.Rename("d2", r, "d")
			sub.Unlink("x")
			d.Rmdir("sub")
		}
		f.(fs.Xattrer).SetXattr("user.i", []byte{byte(i)}, 0)
		f.(fs.Xattrer).ListXattr()
	})
	wg.Wait()
	check(t, r)
}
