package p9

import (
	"bytes"
	"errors"
	"github.com/goskit/goskit/internal/testenv"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/bmodfs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/fs/memfs"
)

// pipeFS serves fsys on one end of a net.Pipe and returns the client on
// the other; both end at cleanup.
func pipeFS(t testing.TB, fsys fs.FileSystem, opts *Options) fs.FileSystem {
	t.Helper()
	a, b := net.Pipe()
	srv := NewServer(fsys, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(a)
	}()
	c, err := Dial(b, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		<-done
		if n := srv.panics.Load(); n != 0 {
			t.Errorf("%d handler panics (answered with EFAULT)", n)
		}
	})
	return c
}

func TestBasic(t *testing.T) {
	c := pipeFS(t, memfs.New(), nil)
	root, err := c.Root()
	if err != nil {
		t.Fatal(err)
	}
	f, err := root.Create("a", 0o644, fs.Owner{UID: 0, GID: 0})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 30000) // several messages
	if n, err := f.WriteAt(data, 0); err != nil || n != len(data) {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	n, err := root.Lookup("a")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+10)
	k, err := n.(fs.File).ReadAt(got, 0)
	if k != len(data) || err != io.EOF || !bytes.Equal(got[:k], data) {
		t.Fatalf("ReadAt = %d, %v", k, err)
	}
	if _, err := root.Create("a", 0o644, fs.Owner{}); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("Create again: %v, want EEXIST", err)
	}
	if _, err := root.Lookup("zz"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Lookup missing: %v", err)
	}
	if _, err := root.Mkdir("d", 0o755, fs.Owner{}); err != nil {
		t.Fatal(err)
	}
	ents, err := root.ReadDir(0, 0)
	if err != nil || len(ents) != 2 {
		t.Fatalf("ReadDir = %v, %v", ents, err)
	}
	if err := root.Unlink("d"); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("Unlink dir: %v", err)
	}
	if err := root.Rmdir("d"); err != nil {
		t.Fatal(err)
	}
	if err := root.Unlink("a"); err != nil {
		t.Fatal(err)
	}
}

// TestFSBehave runs the behaviour suite on the client over memfs served by
// the kit's server, with p9's extension and with plain 9P2000.L.
func TestFSBehave(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "Extended", true: "Plain"}[plain], func(t *testing.T) {
			fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
				c := pipeFS(t, memfs.New(), &Options{Plain: plain})
				if got := c.(*client).walkGetAttr; got == plain {
					t.Fatalf("Plain %v: extension in use = %v", plain, got)
				}
				return c
			}, fsbehave.Options{NoSetModeSpecial: true, NoXattr: true, NoAllocate: true})
		})
	}
}

// TestFSBehaveHostfs runs the behaviour suite on the client over a host
// directory served by the kit's server.
func TestFSBehaveHostfs(t *testing.T) {
	// Owners and device nodes on a host directory need root, as for
	// hostfs's own run of the suite.
	testenv.NeedRoot(t)
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		h, err := hostfs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return pipeFS(t, noInodeCount{h}, nil)
	}, fsbehave.Options{NoSetModeSpecial: true, NoXattr: true, NoAllocate: true})
}

// noInodeCount hides the host file system's inode counts: other processes
// on the machine create and remove files, so the suite's check that a
// create does not raise FilesFree would fail at random.
type noInodeCount struct{ fs.FileSystem }

func (n noInodeCount) StatFS() (fs.StatFS, error) {
	st, err := n.FileSystem.StatFS()
	st.Files, st.FilesFree = 0, 0
	return st, err
}

// TestFSTest runs testing/fstest.TestFS on the client over each file
// system the kit has.
func TestFSTest(t *testing.T) {
	files := map[string]string{"dir/x": "hello x", "dir/y": "hello y", "top": "top", "dir/sub/z": "z"}
	expected := []string{"dir/x", "dir/y", "top", "dir/sub/z"}
	fill := func(t *testing.T, root fs.Dir) {
		for name, data := range files {
			d := root
			parts := strings.Split(name, "/")
			for _, p := range parts[:len(parts)-1] {
				n, err := d.Lookup(p)
				if err != nil {
					n, err = d.Mkdir(p, 0o755, fs.Owner{})
				}
				if err != nil {
					t.Fatal(err)
				}
				d = n.(fs.Dir)
			}
			f, err := d.Create(parts[len(parts)-1], 0o644, fs.Owner{})
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte(data), 0)
		}
	}
	tests := []struct {
		name string
		make func(t *testing.T) fs.FileSystem
	}{
		{"memfs", func(t *testing.T) fs.FileSystem {
			m := memfs.New()
			root, _ := m.Root()
			fill(t, root)
			return m
		}},
		{"hostfs", func(t *testing.T) fs.FileSystem {
			h, err := hostfs.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			root, _ := h.Root()
			fill(t, root)
			return h
		}},
		{"bmodfs", func(t *testing.T) fs.FileSystem {
			var mods []boot.Module
			for name, data := range files {
				mods = append(mods, boot.Module{Name: name, Data: []byte(data)})
			}
			b, err := bmodfs.New(mods)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeFS(t, tt.make(t), nil)
			if err := fstest.TestFS(fs.IOFS(c), expected...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSetuidBits pins what p9 v0.4.1 does with the set-uid and set-gid
// bits: Tgetattr reports them, but Tsetattr and Tlcreate lose them (p9
// masks modes to 01777 when it encodes and decodes), while the sticky bit
// passes.
func TestSetuidBits(t *testing.T) {
	m := memfs.New()
	mroot, _ := m.Root()
	f, _ := mroot.Create("suid", 0o644, fs.Owner{})
	if err := f.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o4755}); err != nil {
		t.Fatal(err)
	}
	c := pipeFS(t, m, nil)
	root, _ := c.Root()
	n, err := root.Lookup("suid")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := n.Stat(); a.Mode&fs.ModePerm != 0o4755 {
		t.Errorf("Stat reports %o, want 4755", a.Mode&fs.ModePerm)
	}
	if err := n.SetAttr(fs.SetAttr{Valid: fs.SetMode, Mode: 0o6755}); err != nil {
		t.Fatal(err)
	}
	if a, _ := n.Stat(); a.Mode&fs.ModePerm != 0o755 {
		t.Errorf("after chmod 6755 through 9P: %o; p9 v0.4.1 is expected to mask it to 755", a.Mode&fs.ModePerm)
	}
	d, err := root.Mkdir("sticky", 0o1777, fs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := d.Stat(); a.Mode&fs.ModePerm != 0o1777 {
		t.Errorf("sticky directory: %o, want 1777", a.Mode&fs.ModePerm)
	}
}
