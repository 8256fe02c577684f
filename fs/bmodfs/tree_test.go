package bmodfs_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/bmodfs"
)

// walk lists every file (path to contents) and directory below d,
// checking on the way that ReadDir agrees with Lookup and Stat.
func walk(t *testing.T, d fs.Dir, prefix string, files map[string]string, dirs map[string]bool) {
	t.Helper()
	ents, err := d.ReadDir(0, 0)
	if err != nil {
		t.Fatalf("ReadDir %q: %v", prefix, err)
	}
	if !slices.IsSortedFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("ReadDir %q: not sorted", prefix)
	}
	for i, e := range ents {
		if i+1 < len(ents) {
			rest, err := d.ReadDir(e.Next, 1)
			if err != nil || len(rest) != 1 || rest[0].Name != ents[i+1].Name {
				t.Errorf("ReadDir %q from cookie %d: %v, %v; want %q", prefix, e.Next, rest, err, ents[i+1].Name)
			}
		}
		p := prefix + e.Name
		n, err := d.Lookup(e.Name)
		if err != nil {
			t.Fatalf("Lookup %q: %v", p, err)
		}
		a, err := n.Stat()
		if err != nil || a.Ino != e.Ino || a.Mode.Type() != e.Type {
			t.Errorf("%q: Stat %+v, %v; ReadDir said ino %d type %o", p, a, err, e.Ino, e.Type)
		}
		switch n := n.(type) {
		case fs.Dir:
			dirs[p] = true
			walk(t, n, p+"/", files, dirs)
		case fs.File:
			data, err := io.ReadAll(io.NewSectionReader(n, 0, a.Size+1))
			if err != nil {
				t.Errorf("read %q: %v", p, err)
			}
			files[p] = string(data)
		default:
			t.Errorf("%q: unexpected node %T", p, n)
		}
	}
}

func TestTree(t *testing.T) {
	ms := []boot.Module{
		{Name: "etc/hosts", Data: []byte("127.0.0.1 localhost\n")},
		{Name: "etc/ssl/cert.pem", Data: []byte("PEM")},
		{Name: "disk.img", Data: make([]byte, 10000)},
		{Name: "empty"},
	}
	f, err := bmodfs.New(ms)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.Root()
	files, dirs := map[string]string{}, map[string]bool{}
	walk(t, root, "", files, dirs)
	for _, m := range ms {
		if got, ok := files[m.Name]; !ok || got != string(m.Data) {
			t.Errorf("%q: got %q (present %v)", m.Name, trunc(got), ok)
		}
	}
	if len(files) != len(ms) {
		t.Errorf("files %d, want %d", len(files), len(ms))
	}
	if want := map[string]bool{"etc": true, "etc/ssl": true}; !equalSets(dirs, want) {
		t.Errorf("dirs %v, want %v", dirs, want)
	}
	etc, _ := root.Lookup("etc")
	if a, _ := etc.Stat(); a.Nlink != 3 || a.Mode != fs.ModeDir|0o555 {
		t.Errorf("etc: nlink %d mode %o", a.Nlink, a.Mode)
	}
	st, err := f.StatFS()
	if err != nil || st.Type != bmodfs.Magic || st.Files != 7 || st.Blocks != 3 {
		t.Errorf("StatFS %+v, %v", st, err)
	}
	// ReadAt edges.
	hosts, _ := etc.(fs.Dir).Lookup("hosts")
	hf := hosts.(fs.File)
	p := make([]byte, 4)
	if n, err := hf.ReadAt(p, 16); n != 4 || err != nil || string(p) != "ost\n" {
		t.Errorf("ReadAt 16: %d %v %q", n, err, p)
	}
	if n, err := hf.ReadAt(p, 18); n != 2 || err != io.EOF {
		t.Errorf("ReadAt 18: %d %v", n, err)
	}
	if _, err := hf.ReadAt(p, -1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ReadAt -1: %v", err)
	}
	if err := hf.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if err := hf.SetAttr(fs.SetAttr{Valid: fs.SetSize}); !errors.Is(err, syscall.EROFS) {
		t.Errorf("SetAttr: %v", err)
	}
	if _, err := root.Lookup("etc/hosts"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Lookup of a path: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}

func TestEmpty(t *testing.T) {
	f, err := bmodfs.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.Root()
	if ents, err := root.ReadDir(0, 0); len(ents) != 0 || err != nil {
		t.Errorf("ReadDir: %v, %v", ents, err)
	}
}

func trunc(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// model is the reference New is checked against: the index of the first
// module that cannot be placed and its errno, or -1.
func model(names []string) (int, syscall.Errno) {
	files, dirs := map[string]bool{}, map[string]bool{}
	for i, name := range names {
		if name == "" || strings.HasPrefix(name, "/") {
			return i, syscall.EINVAL
		}
		parts := strings.Split(name, "/")
		for _, p := range parts {
			if err := fs.ValidName(p); err != nil {
				return i, err.(syscall.Errno)
			}
		}
		for k := 1; k < len(parts); k++ {
			if files[strings.Join(parts[:k], "/")] {
				return i, syscall.ENOTDIR
			}
		}
		if files[name] || dirs[name] {
			return i, syscall.EEXIST
		}
		files[name] = true
		for k := 1; k < len(parts); k++ {
			dirs[strings.Join(parts[:k], "/")] = true
		}
	}
	return -1, 0
}

// FuzzNew feeds New arbitrary names (one per line): it never panics, it
// fails exactly where the model says, and otherwise the tree holds exactly
// the names, each with its data, and the directories their prefixes make.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		"etc/hosts\netc/passwd\nbin/sh",
		"a\na/b", "a/b\na", "/abs", "a//b", "../x", "a/./b", "x\nx", "",
		"d/e/f/g/h\nd/e/x\nd/y", "a\x00b", "é/ü\n\xff/\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		names := strings.Split(in, "\n")
		if len(names) > 64 {
			names = names[:64]
		}
		var ms []boot.Module
		for _, n := range names {
			ms = append(ms, boot.Module{Name: n, Data: []byte("<" + n + ">")})
		}
		fsys, err := bmodfs.New(ms)
		idx, errno := model(names)
		if idx >= 0 {
			var ne *bmodfs.NameError
			if !errors.As(err, &ne) || ne.Index != idx || ne.Err != errno || !errors.Is(err, errno) {
				t.Fatalf("New(%q) = %v; model says module %d, %v", names, err, idx, errno)
			}
			return
		}
		if err != nil {
			t.Fatalf("New(%q): %v; model accepts", names, err)
		}
		root, _ := fsys.Root()
		files, dirs := map[string]string{}, map[string]bool{}
		walk(t, root, "", files, dirs)
		wantDirs := map[string]bool{}
		for _, n := range names {
			if files[n] != "<"+n+">" {
				t.Errorf("%q: got %q", n, files[n])
			}
			parts := strings.Split(n, "/")
			for k := 1; k < len(parts); k++ {
				wantDirs[strings.Join(parts[:k], "/")] = true
			}
		}
		if len(files) != len(names) || !equalSets(dirs, wantDirs) {
			t.Errorf("tree has %d files, dirs %v; want %d files, dirs %v", len(files), dirs, len(names), wantDirs)
		}
	})
}
