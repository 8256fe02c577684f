package p9

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
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

func TestFSTest(t *testing.T) {
	m := memfs.New()
	root, _ := m.Root()
	d, _ := root.Mkdir("dir", 0o755, fs.Owner{})
	for _, name := range []string{"x", "y"} {
		f, _ := d.Create(name, 0o644, fs.Owner{})
		f.WriteAt([]byte("hello "+name), 0)
	}
	f, _ := root.Create("top", 0o600, fs.Owner{})
	f.WriteAt([]byte("top"), 0)
	c := pipeFS(t, m, nil)
	if err := fstest.TestFS(fs.IOFS(c), "dir/x", "dir/y", "top"); err != nil {
		t.Fatal(err)
	}
}
