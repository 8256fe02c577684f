package fs_test

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
)

var owner = fs.Owner{UID: 1000, GID: 1000}

// tree builds a memfs from a description: "dir/" makes a directory,
// "name -> target" a symlink, anything else a file whose content is
// "content of NAME".
func tree(t testing.TB, entries ...string) *memfs.FS {
	t.Helper()
	m := memfs.New()
	root, err := m.Root()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name, target, isLink := strings.Cut(e, " -> ")
		dir := root
		elems := strings.Split(strings.TrimSuffix(name, "/"), "/")
		for _, el := range elems[:len(elems)-1] {
			n, err := dir.Lookup(el)
			if err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			dir = n.(fs.Dir)
		}
		base := elems[len(elems)-1]
		switch {
		case isLink:
			_, err = dir.Symlink(base, target, owner)
		case strings.HasSuffix(name, "/"):
			_, err = dir.Mkdir(base, 0o755, owner)
		default:
			var f fs.File
			f, err = dir.Create(base, 0o644, owner)
			if err == nil {
				_, err = f.WriteAt([]byte("content of "+name), 0)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
	}
	return m
}

func testTree(t testing.TB) *memfs.FS {
	return tree(t,
		"a.txt",
		"dir/",
		"dir/b.txt",
		"dir/sub/",
		"dir/sub/c.txt",
		"empty/",
		"link -> a.txt",
		"dirlink -> dir",
		"dir/up -> ../a.txt",
		"dir/abs -> /dir/sub/c.txt",
		"dir/escape -> ../../../../a.txt",
	)
}

// badTree adds links that cannot be followed (which fstest.TestFS, like
// os.DirFS, reports as errors when it opens them).
func badTree(t testing.TB) *memfs.FS {
	m := testTree(t)
	root, _ := m.Root()
	for _, l := range [][2]string{{"dangling", "nowhere"}, {"loop1", "loop2"}, {"loop2", "loop1"}, {"self", "self"}} {
		if _, err := root.Symlink(l[0], l[1], owner); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestIOFSFSTest(t *testing.T) {
	fsys := fs.IOFS(testTree(t))
	// Symlinks to files and directories are checked through Open (followed)
	// and Lstat (not followed).
	if err := fstest.TestFS(fsys, "a.txt", "dir/b.txt", "dir/sub/c.txt", "empty", "link", "dirlink"); err != nil {
		t.Fatal(err)
	}
}

func TestIOFSFSTestPlain(t *testing.T) {
	// A tree without symlinks, with a large sparse file and many entries.
	m := tree(t, "d/", "d/x", "top")
	root, _ := m.Root()
	d, _ := root.Lookup("d")
	for i := range 100 {
		if _, err := d.(fs.Dir).Create(fmt.Sprintf("f%03d", i), 0o600, owner); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := root.Create("sparse", 0o644, owner)
	if _, err := f.WriteAt([]byte("end"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fs.IOFS(m), "d/x", "top", "sparse", "d/f099"); err != nil {
		t.Fatal(err)
	}
}

func TestIOFSWalkDir(t *testing.T) {
	fsys := fs.IOFS(badTree(t))
	var got []string
	err := iofs.WalkDir(fsys, ".", func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprintf("%s %v", p, d.Type()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		". d---------", "a.txt ----------", "dangling L---------", "dir d---------",
		"dir/abs L---------", "dir/b.txt ----------", "dir/escape L---------", "dir/sub d---------",
		"dir/sub/c.txt ----------", "dir/up L---------", "dirlink L---------", "empty d---------",
		"link L---------", "loop1 L---------", "loop2 L---------", "self L---------",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("WalkDir:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIOFSResolve(t *testing.T) {
	fsys := fs.IOFS(badTree(t)).(interface {
		iofs.ReadFileFS
		iofs.ReadLinkFS
		iofs.StatFS
	})
	tests := []struct {
		name    string
		want    string        // content, if no error
		errno   syscall.Errno // expected error
		invalid bool          // fs.ErrInvalid
	}{
		{name: "a.txt", want: "content of a.txt"},
		{name: "link", want: "content of a.txt"},
		{name: "dirlink/b.txt", want: "content of dir/b.txt"},
		{name: "dirlink/sub/c.txt", want: "content of dir/sub/c.txt"},
		{name: "dir/up", want: "content of a.txt"},
		{name: "dirlink/up", want: "content of a.txt"},
		{name: "dir/abs", want: "content of dir/sub/c.txt"},
		{name: "dir/escape", want: "content of a.txt"}, // ".." stops at the root
		{name: "missing", errno: syscall.ENOENT},
		{name: "dir/missing", errno: syscall.ENOENT},
		{name: "dangling", errno: syscall.ENOENT},
		{name: "a.txt/x", errno: syscall.ENOTDIR},
		{name: "link/x", errno: syscall.ENOTDIR},
		{name: "loop1", errno: syscall.ELOOP},
		{name: "self", errno: syscall.ELOOP},
		{name: "loop1/x", errno: syscall.ELOOP},
		{name: "dir", errno: syscall.EISDIR},
		{name: "/a.txt", invalid: true},
		{name: "dir/../a.txt", invalid: true},
		{name: "./a.txt", invalid: true},
		{name: "dir/", invalid: true},
		{name: "", invalid: true},
		{name: "dir//b.txt", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fsys.ReadFile(tc.name)
			switch {
			case tc.invalid:
				if !errors.Is(err, iofs.ErrInvalid) {
					t.Errorf("ReadFile: %v, want fs.ErrInvalid", err)
				}
				if _, err := fsys.Open(tc.name); !errors.Is(err, iofs.ErrInvalid) {
					t.Errorf("Open: %v, want fs.ErrInvalid", err)
				}
			case tc.errno != 0:
				if !errors.Is(err, tc.errno) {
					t.Errorf("ReadFile: %v, want %v", err, tc.errno)
				}
				var pe *iofs.PathError
				if !errors.As(err, &pe) || pe.Path != tc.name {
					t.Errorf("error %v is not a PathError for %q", err, tc.name)
				}
				if tc.errno == syscall.ENOENT && !errors.Is(err, iofs.ErrNotExist) {
					t.Errorf("ENOENT is not fs.ErrNotExist: %v", err)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Errorf("ReadFile = %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
	// Lstat and ReadLink do not follow the last link; Stat does.
	li, err := fsys.Lstat("loop1")
	if err != nil || li.Mode().Type() != iofs.ModeSymlink || li.Size() != 5 {
		t.Errorf("Lstat loop1: %v, %v", li, err)
	}
	if target, err := fsys.ReadLink("dir/escape"); err != nil || target != "../../../../a.txt" {
		t.Errorf("ReadLink: %q, %v", target, err)
	}
	if _, err := fsys.ReadLink("a.txt"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ReadLink of a file: %v, want EINVAL", err)
	}
	si, err := fsys.Stat("dirlink")
	if err != nil || !si.IsDir() || si.Name() != "dirlink" {
		t.Errorf("Stat dirlink: %v, %v", si, err)
	}
	if _, err := fsys.Stat("self"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Stat self: %v", err)
	}
}

// A chain of exactly MaxSymlinks links resolves; one more fails.
func TestIOFSLinkDepth(t *testing.T) {
	var entries []string
	entries = append(entries, "target")
	for i := 1; i <= fs.MaxSymlinks+1; i++ {
		prev := fmt.Sprintf("l%d", i-1)
		if i == 1 {
			prev = "target"
		}
		entries = append(entries, fmt.Sprintf("l%d -> %s", i, prev))
	}
	fsys := fs.IOFS(tree(t, entries...))
	if b, err := iofs.ReadFile(fsys, fmt.Sprintf("l%d", fs.MaxSymlinks)); err != nil || string(b) != "content of target" {
		t.Errorf("%d links: %q, %v", fs.MaxSymlinks, b, err)
	}
	if _, err := iofs.ReadFile(fsys, fmt.Sprintf("l%d", fs.MaxSymlinks+1)); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("%d links: %v, want ELOOP", fs.MaxSymlinks+1, err)
	}
}

func TestIOFSFile(t *testing.T) {
	fsys := fs.IOFS(tree(t, "f"))
	f, err := fsys.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	rs := f.(io.ReadSeeker)
	ra := f.(io.ReaderAt)
	b := make([]byte, 7)
	if n, err := ra.ReadAt(b, 3); n != 7 || err != nil || string(b) != "tent of" {
		t.Errorf("ReadAt: %q, %v", b[:n], err)
	}
	if pos, err := rs.Seek(-1, io.SeekEnd); err != nil || pos != 11 {
		t.Errorf("Seek end: %d, %v", pos, err)
	}
	if all, err := io.ReadAll(rs); err != nil || string(all) != "f" {
		t.Errorf("read after seek: %q, %v", all, err)
	}
	if _, err := rs.Seek(-100, io.SeekCurrent); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Seek before start: %v", err)
	}
	if _, err := rs.Seek(0, 7); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Seek bad whence: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(b); !errors.Is(err, iofs.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := f.Close(); !errors.Is(err, iofs.ErrClosed) {
		t.Errorf("Close twice: %v", err)
	}
	d, err := fsys.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(b); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Read of a directory: %v", err)
	}
}

func TestIOFSSpecial(t *testing.T) {
	m := memfs.New()
	root, _ := m.Root()
	if _, err := root.(fs.Mknoder).Mknod("null", fs.ModeChar|0o666, 0x0103, owner); err != nil {
		t.Fatal(err)
	}
	if _, err := root.(fs.Mknoder).Mknod("fifo", fs.ModeFIFO|0o600, 0, owner); err != nil {
		t.Fatal(err)
	}
	fsys := fs.IOFS(m)
	for name, want := range map[string]iofs.FileMode{
		"null": iofs.ModeDevice | iofs.ModeCharDevice | 0o666,
		"fifo": iofs.ModeNamedPipe | 0o600,
	} {
		fi, err := iofs.Stat(fsys, name)
		if err != nil || fi.Mode() != want {
			t.Errorf("Stat %s: %v, %v; want mode %v", name, fi, err, want)
		}
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatalf("Open %s: %v", name, err)
		}
		if _, err := f.Read(make([]byte, 1)); err == nil {
			t.Errorf("Read of %s succeeded", name)
		}
		f.Close()
	}
}

func TestModeFileMode(t *testing.T) {
	tests := []struct {
		m    fs.Mode
		want iofs.FileMode
	}{
		{fs.ModeRegular | 0o644, 0o644},
		{fs.ModeDir | 0o755, iofs.ModeDir | 0o755},
		{fs.ModeSymlink | 0o777, iofs.ModeSymlink | 0o777},
		{fs.ModeRegular | 0o4755, iofs.ModeSetuid | 0o755},
		{fs.ModeRegular | 0o2755, iofs.ModeSetgid | 0o755},
		{fs.ModeDir | 0o1777, iofs.ModeDir | iofs.ModeSticky | 0o777},
		{fs.ModeChar | 0o600, iofs.ModeDevice | iofs.ModeCharDevice | 0o600},
		{fs.ModeBlock | 0o660, iofs.ModeDevice | 0o660},
		{fs.ModeFIFO | 0o600, iofs.ModeNamedPipe | 0o600},
		{fs.ModeSocket | 0o755, iofs.ModeSocket | 0o755},
		{0o644, iofs.ModeIrregular | 0o644},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%o", tc.m), func(t *testing.T) {
			if got := tc.m.FileMode(); got != tc.want {
				t.Errorf("FileMode() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIOFSHTTPRange(t *testing.T) {
	m := memfs.New()
	root, _ := m.Root()
	f, _ := root.Create("data.bin", 0o644, owner)
	data := make([]byte, 100000)
	for i := range data {
		data[i] = byte(i % 251)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServerFS(fs.IOFS(m)))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/data.bin", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %s, want 206", resp.Status)
	}
	if got := resp.Header.Get("Content-Range"); got != "bytes 1000-1999/100000" {
		t.Errorf("Content-Range %q", got)
	}
	if string(body) != string(data[1000:2000]) {
		t.Errorf("range body differs (%d bytes)", len(body))
	}
	// The whole file, and a directory listing.
	resp2, err := srv.Client().Get(srv.URL + "/data.bin")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 200 || string(all) != string(data) {
		t.Errorf("whole file: %s, %d bytes", resp2.Status, len(all))
	}
	resp3, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp3.Body)
	resp3.Body.Close()
	if !strings.Contains(string(list), "data.bin") {
		t.Errorf("listing lacks data.bin: %s", list)
	}
}

// FuzzIOFSPath resolves arbitrary names in a tree with links of every
// kind: no panic, no hang, and every error is a PathError.
func FuzzIOFSPath(f *testing.F) {
	for _, s := range []string{"a.txt", "dirlink/sub/c.txt", "loop1/x", "dir/escape", "self", "", ".", "a/../b", "dir/abs/x"} {
		f.Add(s)
	}
	fsys := fs.IOFS(badTree(f)).(interface {
		iofs.ReadFileFS
		iofs.ReadLinkFS
		iofs.ReadDirFS
	})
	f.Fuzz(func(t *testing.T, name string) {
		for _, op := range []func(string) error{
			func(n string) error { _, err := fsys.ReadFile(n); return err },
			func(n string) error { _, err := fsys.Lstat(n); return err },
			func(n string) error { _, err := fsys.ReadLink(n); return err },
			func(n string) error { _, err := fsys.ReadDir(n); return err },
			func(n string) error {
				f, err := fsys.Open(n)
				if err == nil {
					f.Close()
				}
				return err
			},
		} {
			if err := op(name); err != nil {
				var pe *iofs.PathError
				if !errors.As(err, &pe) {
					t.Errorf("%q: error %v is not a PathError", name, err)
				}
			}
		}
	})
}

// ExampleIOFS prints a memfs tree with fs.WalkDir.
func ExampleIOFS() {
	m := memfs.New()
	root, _ := m.Root()
	etc, _ := root.Mkdir("etc", 0o755, fs.Owner{})
	f, _ := etc.Create("hostname", 0o644, fs.Owner{})
	f.WriteAt([]byte("kit\n"), 0)
	root.Symlink("hostname", "etc/hostname", fs.Owner{})

	fsys := fs.IOFS(m)
	iofs.WalkDir(fsys, ".", func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		fmt.Printf("%-14s %v %d\n", p, info.Mode(), info.Size())
		return nil
	})
	b, _ := iofs.ReadFile(fsys, "hostname") // follows the link
	fmt.Printf("hostname: %s", b)
	// Output:
	// .              drwxr-xr-x 80
	// etc            drwxr-xr-x 60
	// etc/hostname   -rw-r--r-- 4
	// hostname       Lrwxrwxrwx 12
	// hostname: kit
}
