package p9

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/internal/testenv"
)

// startDiod runs diod in the foreground as the test's child, without
// authentication, exporting only dir, on 127.0.0.1, and returns its
// address. It is killed by pid at cleanup.
func startDiod(t testing.TB, dir string) string {
	t.Helper()
	testenv.NeedRoot(t) // diod switches to the attaching uid
	diod := testenv.NeedTool(t, "diod")
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var logb bytes.Buffer
		cmd := exec.Command(diod, "-f", "-n", "-c", "/dev/null", "-e", dir, "-l", addr, "-L", "stderr")
		cmd.Stderr = &logb
		if err := cmd.Start(); err != nil {
			t.Fatalf("diod: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		// Wait (bounded) until it listens.
		for i := 0; i < 100; i++ {
			select {
			case <-exited:
				i = 100
				continue
			default:
			}
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						t.Logf("diod log:\n%s", logb.String())
					}
				})
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		t.Logf("diod on %s did not start (%s); retrying", addr, logb.String())
	}
	t.Fatal("diod did not start")
	return ""
}

func dialDiod(t testing.TB, addr, dir string) fs.FileSystem {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(conn, &Options{Aname: dir})
	if err != nil {
		t.Fatalf("Dial diod: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClientDiod: the kit's client against diod exporting a temporary
// directory.
func TestClientDiod(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello"), []byte("hello, diod\n"), 0o644)
	addr := startDiod(t, dir)
	c := dialDiod(t, addr, dir)
	if c.(*client).walkGetAttr {
		t.Fatal("diod accepted p9's extension?")
	}
	root, _ := c.Root()

	t.Run("Read", func(t *testing.T) {
		n, err := root.Lookup("hello")
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 100)
		k, err := n.(fs.File).ReadAt(b, 0)
		if string(b[:k]) != "hello, diod\n" || err != io.EOF {
			t.Fatalf("ReadAt = %q, %v", b[:k], err)
		}
	})
	t.Run("WriteLarge", func(t *testing.T) {
		// More than diod's 64 KiB msize in one call: the glue must chunk.
		f, err := root.Create("big", 0o644, fs.Owner{})
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("abcdefgh"), 100000)
		if n, err := f.WriteAt(data, 0); n != len(data) || err != nil {
			t.Fatalf("WriteAt = %d, %v", n, err)
		}
		host, err := os.ReadFile(filepath.Join(dir, "big"))
		if err != nil || !bytes.Equal(host, data) {
			t.Fatalf("host sees %d bytes, %v", len(host), err)
		}
		got := make([]byte, len(data))
		if n, err := f.ReadAt(got, 0); n != len(data) || (err != nil && err != io.EOF) || !bytes.Equal(got, data) {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
	})
	t.Run("CreateRemove", func(t *testing.T) {
		d, err := root.Mkdir("sub", 0o755, fs.Owner{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Create("f", 0o600, fs.Owner{}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Symlink("l", "f", fs.Owner{}); err != nil {
			t.Fatal(err)
		}
		if tgt, err := os.Readlink(filepath.Join(dir, "sub", "l")); tgt != "f" || err != nil {
			t.Fatalf("host readlink = %q, %v", tgt, err)
		}
		if err := root.Rmdir("sub"); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("Rmdir non-empty: %v", err)
		}
		if err := d.Unlink("f"); err != nil {
			t.Fatalf("Unlink: %v", err)
		}
		if err := d.Unlink("l"); err != nil {
			t.Fatalf("Unlink symlink: %v", err)
		}
		if err := root.Unlink("sub"); !errors.Is(err, syscall.EISDIR) {
			t.Fatalf("Unlink dir: %v, want EISDIR", err)
		}
		if err := root.Rmdir("sub"); err != nil {
			t.Fatalf("Rmdir: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
			t.Fatalf("sub still on the host: %v", err)
		}
		if err := root.Unlink("nothere"); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("Unlink missing: %v", err)
		}
	})
	t.Run("ReadDir", func(t *testing.T) {
		for i := 0; i < 300; i++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("many-%03d-%s", i, strings.Repeat("x", 40))), nil, 0o644)
		}
		ents, err := root.ReadDir(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		host, _ := os.ReadDir(dir)
		if len(ents) != len(host) {
			t.Fatalf("ReadDir: %d entries, host has %d", len(ents), len(host))
		}
		for _, e := range ents {
			if e.Name == "." || e.Name == ".." {
				t.Fatalf("entry %q", e.Name)
			}
		}
		// Paging by cookie.
		var paged int
		cookie := uint64(0)
		for i := 0; i < 1000; i++ {
			page, err := root.ReadDir(cookie, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			paged += len(page)
			cookie = page[len(page)-1].Next
		}
		if paged != len(host) {
			t.Fatalf("paged ReadDir: %d entries, host has %d", paged, len(host))
		}
	})
	t.Run("Rename", func(t *testing.T) {
		if _, err := root.Create("old", 0o644, fs.Owner{}); err != nil {
			t.Fatal(err)
		}
		if err := root.Rename("old", root, "new"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "new")); err != nil {
			t.Fatal(err)
		}
	})
}

// serveTCP serves fsys on 127.0.0.1 and returns the address.
func serveTCP(t testing.TB, fsys fs.FileSystem) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(fsys, nil)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

// TestDiodToolsAgainstServer: diodls and diodcat against the kit's server.
func TestDiodToolsAgainstServer(t *testing.T) {
	diodls := testenv.NeedTool(t, "diodls")
	diodcat := testenv.NeedTool(t, "diodcat")
	m := memfs.New()
	root, _ := m.Root()
	f, _ := root.Create("greeting", 0o644, fs.Owner{})
	f.WriteAt([]byte("hello from the kit\n"), 0)
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // several Treads
	g, _ := root.Create("big", 0o644, fs.Owner{})
	g.WriteAt(big, 0)
	root.Mkdir("subdir", 0o755, fs.Owner{})
	addr := serveTCP(t, m)

	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		defer timer.Stop()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
		}
		return out.String()
	}
	out := run(diodls, "-s", addr, "-a", "/", "-t", "20", "/")
	for _, want := range []string{"greeting", "big", "subdir"} {
		if !strings.Contains(out, want) {
			t.Errorf("diodls output lacks %q:\n%s", want, out)
		}
	}
	if got := run(diodcat, "-s", addr, "-a", "/", "-t", "20", "greeting"); got != "hello from the kit\n" {
		t.Errorf("diodcat greeting = %q", got)
	}
	if got := run(diodcat, "-s", addr, "-a", "/", "-t", "20", "big"); got != string(big) {
		t.Errorf("diodcat big: %d bytes, want %d", len(got), len(big))
	}
}
